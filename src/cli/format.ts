import type { QuarantineRow } from '../db/repos/quarantine.ts';
import type { CaseDetail, CaseSummary } from '../services/case-view.ts';

/** Human-readable terminal output (Spanish). `--json` bypasses all of this. */

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 16) : '—');

export function printCaseList(list: CaseSummary[]): void {
  if (!list.length) {
    process.stdout.write('No hay casos todavía.\n');
    return;
  }
  process.stdout.write(`${'Caso'.padEnd(7)} ${'Prioridad'.padEnd(9)} ${'Etapa'.padEnd(10)} ${'Creado'.padEnd(16)} ${'Solicitante'.padEnd(28)} Asunto\n`);
  for (const c of list) {
    process.stdout.write(`#${String(c.number).padEnd(6)} ${c.priority.padEnd(9)} ${c.stage.padEnd(10)} ${when(c.createdAt).padEnd(16)} ${c.requester.slice(0, 28).padEnd(28)} ${c.subject.slice(0, 60)}\n`);
  }
}

export function printCase(c: CaseDetail): void {
  const out: string[] = [];
  out.push(`[Caso #${c.number}] ${c.subject}`);
  out.push(`  Etapa: ${c.stage} · espera a: ${c.waitingOn} · prioridad: ${c.priority}${c.category ? ` · categoría: ${c.category}` : ''}`);
  out.push(`  Solicitante: ${c.requesterName ? `${c.requesterName} <${c.requester}>` : c.requester} · organización: ${c.organization}`);
  out.push(`  Creado: ${when(c.createdAt)}${c.assignee ? ` · asignado a ${c.assignee}` : ''}${c.relatedNumber ? ` · relacionado con #${c.relatedNumber} (${c.relatedReason})` : ''}`);
  for (const m of c.messages) {
    const who = m.role === 'customer' ? 'Cliente' : m.role === 'consultant' ? 'Consultor' : 'Sistema';
    out.push('');
    out.push(`--- ${who} ${m.from ?? ''} · ${when(m.createdAt)}${m.internal ? ' · interno' : ''}${m.role === 'customer' && !m.verified ? ' · remitente sin verificar' : ''}${m.readAt ? ` · leído ${when(m.readAt)}` : ''}`);
    out.push(m.bodyText.split('\n').map((l) => `  ${l}`).join('\n'));
    for (const a of m.attachments) out.push(`  📎 ${a.filename} (${a.contentType}, ${a.size} bytes)`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

export function printQuarantine(rows: QuarantineRow[]): void {
  if (!rows.length) {
    process.stdout.write('La cuarentena está vacía.\n');
    return;
  }
  for (const q of rows) {
    process.stdout.write(`#${q.id} ${new Date(q.createdAt).toISOString().slice(0, 16)} ${q.reason} ${q.state} de ${q.fromAddress ?? '?'} «${(q.subject ?? '').slice(0, 50)}» — ${q.detail ?? ''}\n`);
  }
}
