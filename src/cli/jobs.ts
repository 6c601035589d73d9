import type { Config } from '../config.ts';
import { runJobs, type JobReport } from '../jobs/run.ts';
import { LIGHT_LABEL } from '../tickets/sla.ts';
import { withApp } from './commands.ts';
import { EXIT } from './env.ts';
import { HELD_REASON, HELD_STATE, jsonForTerminal, oneLine } from './format.ts';

/**
 * `mesa jobs [--now ISO-8601]`: the clock-driven work, once, as of the given time (default: now). For cron and
 * for tests: `mesa jobs --now 2026-11-25T10:00:00-05:00` does what `mesa start` would have done at that moment.
 * Exit 0 when everything ran, 70 when some case failed (the others were still done), 64 for a bad --now.
 */
export async function jobsCommand(config: Config, opts: { now?: string; json?: boolean }): Promise<number> {
  const now = opts.now === undefined ? Date.now() : parseNow(opts.now);
  if (now === undefined) {
    process.stderr.write(
      'mesa jobs: --now debe ser una fecha ISO 8601 con zona, p. ej. 2026-11-25T10:00:00-05:00 ' +
        `(recibido "${opts.now}")\n`,
    );
    return EXIT.USAGE;
  }
  return withApp(config, async (app) => {
    const report = await runJobs(
      { db: app.db, config: app.config, cases: app.cases, policy: app.policy, logger: app.logger, blobs: app.blobs },
      now,
    );
    process.stdout.write(opts.json ? `${jsonForTerminal(report)}\n` : describe(report, app.policy.calendar.timezone));
    return report.errors.length ? EXIT.SOFTWARE : EXIT.OK;
  });
}

/** ISO 8601 with a zone or Z; a bare local time is read in no zone at all, so it is refused rather than guessed. */
export function parseNow(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text.trim())) return undefined;
  const ms = Date.parse(text.trim());
  return Number.isFinite(ms) ? ms : undefined;
}

function describe(r: JobReport, timezone: string): string {
  const list = (ns: number[]) => (ns.length ? ns.map((n) => `#${n}`).join(', ') : '—');
  const local = new Date(r.now).toLocaleString('es-CO', { timeZone: timezone });
  return [
    `Tareas programadas a las ${local} (${timezone})`,
    `  Avisos de cierre automático: ${list(r.warned)}`,
    `  Cerrados automáticamente:    ${list(r.closed)}`,
    '  Semáforo SLA cambiado:       ' +
      (r.lights.length
        ? r.lights.map((l) => `#${l.number} ${l.from ? LIGHT_LABEL[l.from] : '—'}→${LIGHT_LABEL[l.to]}`).join(', ')
        : '—'),
    '  Solicitudes retenidas abiertas: ' +
      (r.released.length ? r.released.map((x) => `#${x.number} (solicitud retenida #${x.held})`).join(', ') : '—'),
    `  Resúmenes enviados:          ${r.digests.length ? r.digests.join(', ') : '—'}`,
    `  Correos enviados borrados de la bandeja (retención): ${r.purgedMail}`,
    `  Archivos sin uso borrados (blobs): ${r.removedBlobs}`,
    ...(r.errors.length
      ? [
          '  Errores: ' +
            r.errors.map((e) => `${e.job}${e.number ? ` #${e.number}` : ''}: ${oneLine(e.error)}`).join('; '),
        ]
      : []),
    '',
  ].join('\n');
}

/** `mesa held`: requests kept back by the open-case limit or entitlement (nothing is dropped; this is the list). */
export async function heldCommand(config: Config, opts: { json?: boolean; all?: boolean }): Promise<number> {
  const { heldRequests } = await import('../db/repos/lifecycle.ts');
  return withApp(config, async (app) => {
    const rows = await heldRequests(app.db, opts.all ? {} : { state: 'held' });
    const { findTicketById } = await import('../db/repos/tickets.ts');
    const view = [];
    for (const h of rows) {
      view.push({
        id: h.id,
        createdAt: new Date(h.createdAt).toISOString(),
        organization: h.organization,
        requester: h.requester,
        reason: h.reason,
        subject: h.subject,
        state: h.state,
        caseNumber: h.ticketId ? ((await findTicketById(app.db, h.ticketId))?.number ?? null) : null,
      });
    }
    if (opts.json) {
      process.stdout.write(`${jsonForTerminal(view)}\n`);
      return EXIT.OK;
    }
    if (!view.length) {
      process.stdout.write('No hay solicitudes retenidas.\n');
      return EXIT.OK;
    }
    for (const h of view) {
      process.stdout.write(
        `${String(h.id).padStart(5)}  ${h.createdAt.slice(0, 16).replace('T', ' ')}  ` +
          `${(HELD_STATE[h.state] ?? h.state).padEnd(10)} ${HELD_REASON[h.reason] ?? h.reason}  ` +
          `${oneLine(h.requester)}  «${oneLine(h.subject)}»` +
          `${h.caseNumber ? `  → caso #${h.caseNumber}` : ''}\n`,
      );
    }
    return EXIT.OK;
  });
}
