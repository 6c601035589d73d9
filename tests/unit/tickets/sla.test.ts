import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { BusinessCalendar, DEFAULT_HOURS, hoursFromKeys } from '../../../src/tickets/calendar.ts';
import {
  DEFAULT_TARGETS,
  parseDuration,
  runningIntervals,
  slaState,
  type ClockEvent,
} from '../../../src/tickets/sla.ts';
import type { Priority } from '../../../src/tickets/types.ts';

const cal = new BusinessCalendar({
  timezone: 'America/Bogota',
  hours: hoursFromKeys(DEFAULT_HOURS),
  holidayCountry: 'CO',
});
const policy = { targets: DEFAULT_TARGETS, warnShare: 0.75 };
const at = (local: string) => DateTime.fromISO(local, { zone: 'America/Bogota' }).toMillis();
const show = (ms?: number) =>
  ms === undefined ? undefined : DateTime.fromMillis(ms, { zone: 'America/Bogota' }).toFormat('ccc yyyy-MM-dd HH:mm');
const waiting = (to: string, local: string): ClockEvent => ({ type: 'waiting_changed', to, at: at(local) });

const open = (priority: Priority, created: string, firstResponse?: string) => ({
  priority,
  createdAt: at(created),
  firstResponseAt: firstResponse ? at(firstResponse) : undefined,
  stage: 'analisis' as const,
});

describe('SLA light', () => {
  // media: first answer within 8 business hours; yellow past 75% (6 h), red at 8 h.
  it.each([
    ['2026-11-23T13:59', 'green'],
    ['2026-11-23T14:00', 'yellow'],
    ['2026-11-23T15:59', 'yellow'],
    ['2026-11-23T16:00', 'red'],
  ])('media filed Monday 08:00, unanswered, as of %s → %s', (now, light) => {
    const s = slaState(cal, policy, open('media', '2026-11-23T08:00'), [], at(now));
    expect(s.light).toBe(light);
    expect(show(s.firstResponse.yellowAt)).toBe('Mon 2026-11-23 14:00');
    expect(show(s.firstResponse.dueAt)).toBe('Mon 2026-11-23 16:00');
  });

  it('pauses while the case waits on a third party', () => {
    const events = [waiting('tercero', '2026-11-23T10:00'), waiting('soporte', '2026-11-23T12:00')];
    const s = slaState(cal, policy, open('media', '2026-11-23T08:00'), events, at('2026-11-23T16:00'));
    expect(s.firstResponse.elapsedMs / 3_600_000).toBe(6);
    expect(s.light).toBe('yellow');
    expect(show(s.firstResponse.yellowAt)).toBe('Mon 2026-11-23 16:00');
    // 2 h left at 16:00: one today, one from Tuesday's opening.
    expect(show(s.firstResponse.dueAt)).toBe('Tue 2026-11-24 09:00');
  });

  it('keeps no due time while paused on the customer, and stays green however long the customer takes', () => {
    const events = [waiting('cliente', '2026-11-23T09:00')];
    const s = slaState(
      cal,
      policy,
      open('media', '2026-11-23T08:00', '2026-11-23T09:00'),
      events,
      at('2026-12-10T12:00'),
    );
    expect(s.light).toBe('green');
    expect(s.resolution.running).toBe(false);
    expect(s.resolution.elapsedMs / 3_600_000).toBe(1);
    expect(s.resolution.dueAt).toBeUndefined();
  });

  it('alta filed on Saturday 11:00: first answer due Monday 09:00 (1 h Saturday + 1 h Monday)', () => {
    const s = slaState(cal, policy, open('alta', '2026-11-21T11:00'), [], at('2026-11-21T11:30'));
    expect(show(s.firstResponse.dueAt)).toBe('Mon 2026-11-23 09:00');
    expect(show(s.firstResponse.yellowAt)).toBe('Mon 2026-11-23 08:30');
  });

  it('an answered case is judged on resolution: media, 3 business days from Monday 08:00 is Thursday 08:00', () => {
    const c = open('media', '2026-11-23T08:00', '2026-11-23T09:00');
    const events = [waiting('cliente', '2026-11-23T09:00'), waiting('soporte', '2026-11-23T10:00')];
    const s = slaState(cal, policy, c, events, at('2026-11-23T11:00'));
    expect(s.firstResponse.light).toBe('green');
    // 27 business hours (9 + 9 + 9) minus the hour paused on the customer: due an hour later.
    expect(s.resolution.budgetMs / 3_600_000).toBe(27);
    expect(show(s.resolution.dueAt)).toBe('Thu 2026-11-26 09:00');
    expect(s.light).toBe('green');
    expect(slaState(cal, policy, c, events, at('2026-11-26T09:00')).light).toBe('red');
  });

  it('stops the clocks when the case closes', () => {
    const c = { ...open('alta', '2026-11-23T08:00'), stage: 'cerrado' as const };
    const s = slaState(
      cal,
      policy,
      c,
      [{ type: 'stage_changed', to: 'cerrado', at: at('2026-11-23T09:00') }],
      at('2026-11-30T09:00'),
    );
    expect(s.firstResponse.elapsedMs / 3_600_000).toBe(1);
    expect(s.light).toBe('green');
  });

  it('derives running intervals from the event log', () => {
    const ivs = runningIntervals(
      at('2026-11-23T08:00'),
      [
        waiting('cliente', '2026-11-23T09:00'),
        waiting('soporte', '2026-11-23T11:00'),
        { type: 'stage_changed', to: 'cerrado', at: at('2026-11-23T12:00') },
        { type: 'stage_changed', to: 'reabierto', at: at('2026-11-23T13:00') },
      ],
      at('2026-11-23T14:00'),
    );
    expect(ivs.map((i) => `${show(i.start)}–${show(i.end)!.slice(-5)}`)).toEqual([
      'Mon 2026-11-23 08:00–09:00',
      'Mon 2026-11-23 11:00–12:00',
      'Mon 2026-11-23 13:00–14:00',
    ]);
  });

  it.each([
    ['2h', { unit: 'hours', amount: 2 }],
    ['1d', { unit: 'days', amount: 1 }],
    ['3 días', { unit: 'days', amount: 3 }],
    ['8 horas', { unit: 'hours', amount: 8 }],
    ['x', undefined],
    ['0h', undefined],
  ])('parses the duration %j', (text, expected) => {
    expect(parseDuration(text)).toEqual(expected);
  });
});
