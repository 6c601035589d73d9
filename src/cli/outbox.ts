import { createApp } from '../app.ts';
import type { Config } from '../config.ts';
import { countByState, listOutbox, retryDead } from '../db/repos/outbox.ts';
import { cliLogger, EXIT } from './env.ts';
import { jsonForTerminal, oneLine } from './format.ts';

/** The outbox's states as the operator reads them (`--json` keeps the stored codes). */
const STATE_WORDS: Record<string, [one: string, many: string]> = {
  pending: ['pendiente', 'pendientes'],
  sending: ['enviando', 'enviando'],
  sent: ['enviado', 'enviados'],
  dead: ['muerto', 'muertos'],
  held: ['retenido', 'retenidos'],
};

/**
 * `mesa outbox`: the outbound queue by state, and the mail that is not sent (pending, dead, held) with why.
 * `--retry` puts dead mail back in the queue (after fixing what refused it). `--send` sends what is due now and
 * returns (for one-shot setups and the demo; `mesa start` sends continuously).
 */
export async function outboxCommand(
  config: Config,
  opts: { retry?: boolean; json?: boolean; send?: boolean; out?: NodeJS.WritableStream },
): Promise<number> {
  const out = opts.out ?? process.stdout;
  const app = await createApp(config, cliLogger(config));
  try {
    const retried = opts.retry ? await retryDead(app.db, Date.now()) : 0;
    // What drain() handled includes mail that failed and waits for its retry: say how much of it left.
    const sent = opts.send ? await app.outbound.dispatcher.drain() : 0;
    const delivered = app.outbound.dispatcher.delivered;
    const counts = await countByState(app.db);
    const rows = await listOutbox(app.db, { states: ['pending', 'sending', 'dead', 'held'], limit: 50 });
    const list = rows.map((r) => ({
      id: r.id,
      state: r.state,
      kind: r.kind,
      to: r.recipient,
      subject: r.subject,
      attempts: r.attempts,
      nextAttemptAt: r.state === 'pending' ? new Date(r.nextAttemptAt).toISOString() : null,
      error: r.lastError ?? null,
      heldReason: r.heldReason ?? null,
      createdAt: new Date(r.createdAt).toISOString(),
    }));
    const transport = app.outbound.dispatcher.transport.kind;
    if (opts.json) {
      out.write(`${jsonForTerminal({ counts, retried, sent, delivered, transport, unsent: list })}\n`);
      return EXIT.OK;
    }
    const states = Object.entries(STATE_WORDS)
      .map(([state, [, many]]) => `${many}: ${counts[state] ?? 0}`)
      .join('  ');
    const where =
      transport === 'smtp'
        ? 'SMTP'
        : transport === 'graph'
          ? 'Microsoft Graph'
          : `archivos .eml en ${config.dataDir}/outbox-eml`;
    out.write(`Bandeja de salida (${where}) — ${states}\n`);
    if (opts.retry) out.write(`Reintentando ${retried} correo(s) muertos.\n`);
    if (opts.send)
      out.write(
        `Procesados ${sent} correo(s): ${delivered} enviado(s)` +
          (sent > delivered ? `; ${sent - delivered} sin enviar, con el motivo abajo.\n` : '.\n'),
      );
    for (const r of list) {
      const why =
        r.state === 'held'
          ? `retenido: ${oneLine(r.heldReason)}`
          : r.error
            ? `error: ${oneLine(r.error.split('\n')[0]).slice(0, 120)}`
            : '';
      const state = (STATE_WORDS[r.state]?.[0] ?? r.state).padEnd(9);
      out.write(
        `#${r.id}  ${state} ${r.kind.padEnd(22)} ${oneLine(r.to).padEnd(30)} intentos ${r.attempts}  ` +
          `${oneLine(r.subject).slice(0, 50)}${why ? `\n        ${why}` : ''}\n`,
      );
    }
    if (!list.length) out.write('No hay correo pendiente, muerto ni retenido.\n');
    return EXIT.OK;
  } finally {
    await app.close();
  }
}
