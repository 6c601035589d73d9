import { NO_SUBJECT } from '../tickets/subject.ts';
import type { QuarantineRow } from '../db/repos/quarantine.ts';
import type { CaseDetail, CaseSummary } from '../services/case-view.ts';

/** Human-readable terminal output (Spanish). `--json` goes through jsonForTerminal(). */

/**
 * What mail says reaches an administrator's terminal: a subject, a name, a body, a file name, all written by anyone.
 * A terminal obeys control characters in what it prints: ESC starts a sequence (ESC[2J clears the screen, OSC 52
 * writes the clipboard, others retitle the window or make a link), a bare CR returns to the start of the line and
 * lets a mail overwrite what was printed (a fake line), and the bidirectional overrides and isolates of Unicode
 * reorder the text that is shown (a file name "gpj.exe" that reads "exe.jpg"). So every C0 control but the line
 * break (and the tab, as a space), DEL, every C1 control (8-bit CSI and OSC among them) and the bidi controls are
 * shown as visible escapes (`\x1b`, `\u202e`) instead of being sent to the terminal. A one-line field (a subject,
 * an address, a reason) also shows its line breaks as `\n`: a value never starts a line of its own.
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_OR_BREAK = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r' };

function visible(c: string): string {
  const code = c.charCodeAt(0);
  return (
    NAMED[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`)
  );
}

/** Text for one line of the terminal. */
export function oneLine(text: string | null | undefined): string {
  return String(text ?? '')
    .replace(/\t/g, ' ')
    .replace(UNSAFE_OR_BREAK, visible);
}

/** Text of several lines (a message's body): its line breaks kept, CRLF read as one. */
export function manyLines(text: string | null | undefined): string {
  return String(text ?? '')
    .replace(/\r\n/g, '\n')
    .replace(/\t/g, '    ')
    .replace(UNSAFE, visible);
}

/**
 * JSON for the terminal: JSON.stringify already writes C0 controls as \u escapes inside strings; the C1 controls and
 * the bidi controls it leaves raw are escaped the same way (still the same JSON for a program that reads it).
 */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
export function jsonForTerminal(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 16) : '—');

export function printCaseList(list: CaseSummary[]): void {
  if (!list.length) {
    process.stdout.write('No hay casos todavía.\n');
    return;
  }
  process.stdout.write(
    `${'Caso'.padEnd(7)} ${'Prioridad'.padEnd(9)} ${'Etapa'.padEnd(10)} ` +
      `${'Creado'.padEnd(16)} ${'Solicitante'.padEnd(28)} Asunto\n`,
  );
  for (const c of list) {
    process.stdout.write(
      `#${String(c.number).padEnd(6)} ${c.priority.padEnd(9)} ${c.stage.padEnd(10)} ${when(c.createdAt).padEnd(16)} ` +
        `${oneLine(c.requester).slice(0, 28).padEnd(28)} ${oneLine(c.subject || NO_SUBJECT).slice(0, 60)}\n`,
    );
  }
}

export function printCase(c: CaseDetail): void {
  const out: string[] = [];
  out.push(`[Caso #${c.number}] ${oneLine(c.subject || NO_SUBJECT)}`);
  out.push(
    `  Etapa: ${c.stage} · espera a: ${c.waitingOn} · prioridad: ${c.priority}` +
      (c.category ? ` · categoría: ${oneLine(c.category)}` : ''),
  );
  out.push(
    '  Solicitante: ' +
      (c.requesterName ? `${oneLine(c.requesterName)} <${oneLine(c.requester)}>` : oneLine(c.requester)) +
      ` · organización: ${oneLine(c.organization)}`,
  );
  out.push(
    `  Creado: ${when(c.createdAt)}` +
      (c.assignee ? ` · asignado a ${oneLine(c.assignee)}` : '') +
      (c.relatedNumber ? ` · relacionado con #${c.relatedNumber} (${oneLine(c.relatedReason)})` : ''),
  );
  for (const m of c.messages) {
    const who = m.role === 'customer' ? 'Cliente' : m.role === 'consultant' ? 'Consultor' : 'Sistema';
    out.push('');
    out.push(
      `--- ${who} ${oneLine(m.from)} · ${when(m.createdAt)}` +
        (m.internal ? ' · interno' : '') +
        // A consultant's mail Mesa could not prove came from them is kept as an internal note, never sent on.
        (m.role !== 'system' && !m.verified ? ' · remitente sin verificar' : '') +
        (m.readAt ? ` · leído ${when(m.readAt)}` : ''),
    );
    out.push(
      manyLines(m.bodyText)
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
    for (const a of m.attachments) out.push(`  📎 ${oneLine(a.filename)} (${oneLine(a.contentType)}, ${a.size} bytes)`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

export function printQuarantine(rows: QuarantineRow[]): void {
  if (!rows.length) {
    process.stdout.write('La cuarentena está vacía.\n');
    return;
  }
  for (const q of rows) {
    process.stdout.write(
      `#${q.id} ${new Date(q.createdAt).toISOString().slice(0, 16)} ${q.reason} ` +
        `${q.state === 'replayed' ? 'reprocesado' : 'retenido'} ` +
        `de ${oneLine(q.fromAddress ?? '?')} «${oneLine(q.subject).slice(0, 50)}» — ${oneLine(q.detail)}\n`,
    );
  }
}

/** Why a mail made no case (ingest's ignored reasons), in the desk's words; the code follows in parentheses. */
export const IGNORED_REASON: Readonly<Record<string, string>> = {
  duplicate: 'el mismo correo ya se había procesado',
  bounce: 'aviso de no entrega',
  auto_reply: 'respuesta automática',
  mailing_list: 'correo de una lista de distribución',
  own_loop: 'correo de la propia mesa',
};

/** Why a request was held (held_requests.reason), as `mesa held` and `mesa ingest` say it. */
export const HELD_REASON: Readonly<Record<string, string>> = {
  over_limit: 'límite de casos abiertos de la organización',
  not_entitled: 'organización no habilitada',
};

/** Where a held request stands (held_requests.state). */
export const HELD_STATE: Readonly<Record<string, string>> = {
  held: 'retenida',
  opened: 'abierta',
  dismissed: 'descartada',
};
