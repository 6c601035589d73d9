import cliProgress from 'cli-progress';
import { createApp, type App } from '../app.ts';
import type { Config } from '../config.ts';
import { isMesaError } from '../errors.ts';
import { getQuarantine, listQuarantine, markReplayed } from '../db/repos/quarantine.ts';
import type { IngestResult } from '../inbound/index.ts';
import { caseDetail, listCases } from '../services/case-view.ts';
import { cliLogger, EXIT, idArgument } from './env.ts';
import { expandInputs } from './sources.ts';
import { readOriginal } from '../storage/originals.ts';
import {
  HELD_REASON,
  IGNORED_REASON,
  jsonForTerminal,
  oneLine,
  printCase,
  printCaseList,
  printQuarantine,
} from './format.ts';

export async function withApp<T>(config: Config, fn: (app: App) => Promise<T>): Promise<T> {
  const app = await createApp(config, cliLogger(config));
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

/** `mesa ingest`: exit 0 stored (or already there), 75 try again later, 65 refused (with a one-line reason). */
export async function ingestCommand(config: Config, inputs: string[], opts: { progress?: boolean }): Promise<number> {
  // With no input named, the mail comes on standard input (an MTA pipe). A person at a terminal who typed just
  // `mesa ingest` would otherwise wait on a prompt that never says what it waits for.
  if (!inputs.length && process.stdin.isTTY) {
    process.stderr.write(
      'mesa ingest: falta qué procesar: archivos .eml, carpetas, mbox o Maildir, ' +
        'o "-" para leer un correo de la entrada estándar\n',
    );
    return EXIT.USAGE;
  }
  const items = await expandInputs(inputs.length ? inputs : ['-']).catch((err) => {
    process.stderr.write(`mesa: ${isMesaError(err) ? err.message : String(err)}\n`);
    return undefined;
  });
  if (!items) return EXIT.NOINPUT;
  return withApp(config, async (app) => {
    const bar =
      opts.progress !== false && process.stderr.isTTY && items.length > 20
        ? new cliProgress.SingleBar(
            {
              format: 'Importando |{bar}| {value}/{total} correos · {eta_formatted} restantes',
              stream: process.stderr,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
    bar?.start(items.length, 0);
    const counts: Record<string, number> = {};
    let last: IngestResult | undefined;
    for (const item of items) {
      const fetched = await item.read(app.ingest);
      const source =
        item.label === 'stdin'
          ? ({ kind: 'stdin' } as const)
          : ({ kind: 'file', path: item.path!, index: item.index } as const);
      [last] = await app.ingest.ingestMany([{ ...fetched, source }]);
      // Run again over the same folder (after a crash, by hand): what the ledger already had changed nothing now.
      const counted = last.alreadyProcessed ? 'again' : last.outcome;
      counts[counted] = (counts[counted] ?? 0) + 1;
      bar?.increment();
      if (items.length === 1 || !bar) process.stdout.write(oneLine(describe(item.label, last)) + '\n');
    }
    bar?.stop();
    if (items.length > 1)
      process.stdout.write(
        `${items.length} correos: ${Object.entries(counts)
          .map(([k, v]) => `${v} ${OUTCOME_WORDS[k as keyof typeof OUTCOME_WORDS][v === 1 ? 0 : 1]}`)
          .join(', ')}\n`,
      );
    if (counts.tempfail) return EXIT.TEMPFAIL;
    if (items.length === 1 && last?.outcome === 'rejected') return EXIT.DATAERR;
    return EXIT.OK;
  });
}

/** The batch's summary line, in the words of the lines above it. */
const OUTCOME_WORDS: Record<IngestResult['outcome'] | 'again', [one: string, many: string]> = {
  accepted: ['aceptado', 'aceptados'],
  again: ['ya procesado antes (sin cambios)', 'ya procesados antes (sin cambios)'],
  ignored: ['ignorado', 'ignorados'],
  rejected: ['rechazado (en cuarentena)', 'rechazados (en cuarentena)'],
  tempfail: ['pendiente (reintente)', 'pendientes (reintente)'],
};

const quarantined = (id?: number) => (id ? ` (cuarentena #${id})` : '');

function describe(label: string, r: IngestResult): string {
  return `${label}: ${whatHappened(r)}${r.alreadyProcessed ? ' [ya procesado antes]' : ''}`;
}

function whatHappened(r: IngestResult): string {
  if (r.outcome === 'ignored') {
    const why = IGNORED_REASON[r.reason ?? ''];
    if (!why) return `ignorado: ${r.reason}`;
    return `ignorado: ${why} (${r.reason}${r.detail ? ` — ${r.detail}` : ''})`;
  }
  if (r.outcome === 'rejected')
    return `rechazado: ${r.reason}${r.detail ? ` — ${r.detail}` : ''}${quarantined(r.quarantineId)}`;
  if (r.outcome === 'tempfail') return `pendiente, reintente más tarde: ${r.detail ?? r.reason}`;
  if (r.effect === 'held')
    return `retenido sin caso (mesa held): ${r.detail ?? HELD_REASON[r.reason ?? ''] ?? r.reason}`;
  if (r.effect === 'new_case') return `caso nuevo #${r.ticketNumber}`;
  if (r.effect === 'follow_up') return `seguimiento del caso #${r.ticketNumber}`;
  return `nota en el caso #${r.ticketNumber}`;
}

export async function ticketsCommand(config: Config, opts: { json?: boolean; open?: boolean }): Promise<number> {
  return withApp(config, async (app) => {
    const list = await listCases(app.db, { openOnly: opts.open });
    if (opts.json) process.stdout.write(jsonForTerminal(list) + '\n');
    else printCaseList(list);
    return EXIT.OK;
  });
}

export async function showCommand(config: Config, numberArg: string, opts: { json?: boolean }): Promise<number> {
  const number = idArgument(numberArg, 'un número de caso');
  if (number === undefined) return EXIT.USAGE;
  return withApp(config, async (app) => {
    const detail = await caseDetail(app.db, number);
    if (!detail) {
      process.stderr.write(`mesa: el caso #${number} no existe\n`);
      return EXIT.NOINPUT;
    }
    if (opts.json) process.stdout.write(jsonForTerminal(detail) + '\n');
    else printCase(detail);
    return EXIT.OK;
  });
}

export async function quarantineCommand(config: Config, opts: { json?: boolean; all?: boolean }): Promise<number> {
  return withApp(config, async (app) => {
    const rows = await listQuarantine(app.db, { all: opts.all });
    if (opts.json) process.stdout.write(jsonForTerminal(rows) + '\n');
    else printQuarantine(rows);
    return EXIT.OK;
  });
}

/** `mesa replay [ID]`: runs quarantined mail through the inbound path again (all held ones without an ID). */
export async function replayCommand(config: Config, idArg: string | undefined): Promise<number> {
  const id = idArg === undefined ? undefined : idArgument(idArg, 'un ID de cuarentena (vea mesa quarantine)');
  if (idArg !== undefined && id === undefined) return EXIT.USAGE;
  return withApp(config, async (app) => {
    const ids = id !== undefined ? [id] : (await listQuarantine(app.db)).map((q) => q.id);
    let code: number = EXIT.OK;
    for (const id of ids) {
      const q = await getQuarantine(app.db, id);
      if (!q) {
        process.stderr.write(`mesa: no hay un mensaje en cuarentena con ID ${idArg}\n`);
        return EXIT.NOINPUT;
      }
      if (q.state === 'replayed') {
        process.stdout.write(`#${id}: ya fue reprocesado (${q.replayResult})\n`);
        continue;
      }
      const raw = await readOriginal(app.db, app.blobs, q.rawSha256).catch((err: unknown) => {
        if (!isMesaError(err, 'ORIGINAL_MISSING')) throw err;
        process.stderr.write(`mesa: #${id}: ${err.message}; sigue en cuarentena\n`);
        return undefined;
      });
      if (!raw) {
        code = EXIT.NOINPUT;
        continue;
      }
      const r = await app.ingest.ingest(raw, { kind: 'replay', quarantineId: id });
      if (r.outcome === 'accepted' || r.outcome === 'ignored') {
        const result = r.outcome === 'accepted' ? `${r.effect} #${r.ticketNumber}` : `ignorado: ${r.reason}`;
        await markReplayed(app.db, id, result, Date.now());
        process.stdout.write(`#${id}: ${oneLine(result)}\n`);
      } else {
        process.stdout.write(
          `#${id}: sigue en cuarentena — ${oneLine(`${r.reason}${r.detail ? `: ${r.detail}` : ''}`)}\n`,
        );
        code = r.outcome === 'tempfail' ? EXIT.TEMPFAIL : EXIT.DATAERR;
      }
    }
    return code;
  });
}
