import { parseRange, WEEKDAY_KEYS, type WeekdayKey } from './calendar.ts';

/**
 * The business hours in words for mails ("Horario de atención"), from the same calendar the clocks use, so the
 * mail never promises other hours than the SLA counts: "lunes a viernes, de 8:00 a 17:00; sábado, de 9:00 a 12:00".
 * Consecutive days with the same ranges are grouped.
 */
const DAYS = {
  es: ['lunes', 'martes', 'miércoles', 'jueves', 'viernes', 'sábado', 'domingo'],
  en: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'],
} as const;

const clock = (minute: number) => `${Math.floor(minute / 60)}:${String(minute % 60).padStart(2, '0')}`;

export function describeHours(
  hours: Readonly<Partial<Record<WeekdayKey, readonly string[]>>>,
  locale: 'es' | 'en',
): string {
  const ranges = WEEKDAY_KEYS.map((k) => (hours[k] ?? []).map((r) => parseRange(r)).filter((r) => r !== undefined));
  const key = (i: number) => ranges[i].map((r) => `${r.start}-${r.end}`).join(',');
  const groups: Array<{ from: number; to: number }> = [];
  for (let i = 0; i < 7; i++) {
    if (!ranges[i].length) continue;
    const last = groups.at(-1);
    if (last && last.to === i - 1 && key(last.to) === key(i)) last.to = i;
    else groups.push({ from: i, to: i });
  }
  const days = DAYS[locale];
  const join = locale === 'es' ? ' a ' : ' to ';
  return groups
    .map((g) => {
      const span =
        g.from === g.to
          ? days[g.from]
          : g.to === g.from + 1
            ? `${days[g.from]} ${locale === 'es' ? 'y' : 'and'} ${days[g.to]}`
            : `${days[g.from]}${join}${days[g.to]}`;
      const times = ranges[g.from]
        .map((r) =>
          locale === 'es' ? `de ${clock(r.start)} a ${clock(r.end)}` : `${clock(r.start)} to ${clock(r.end)}`,
        )
        .join(locale === 'es' ? ' y ' : ' and ');
      return `${span}, ${times}`;
    })
    .join('; ');
}
