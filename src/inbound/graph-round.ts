import type { Knex } from 'knex';
import { Readable } from 'node:stream';
import type { MailboxConfig } from '../config.ts';
import { clearDeltaLink, getDeltaLink, saveDeltaLink } from '../db/repos/graph-delta.ts';
import { findLedgers } from '../db/repos/ledger.ts';
import { getMailboxState, saveMailboxState, stateKey } from '../db/repos/mailbox-state.ts';
import type { Logger } from '../logger.ts';
import { GraphError, isStaleDelta, type GraphClient } from '../mailboxes/graph-client.ts';
import type { FetchedSource, IngestResult } from './ingest-types.ts';
import { backlogBefore, graphBacklogFilter } from './mailbox-backlog.ts';
import type { MailSource } from './mail.ts';
import { parseableAhead, recordMailboxError, type RoundIngest, type RoundResult } from './mailbox-round.ts';
import { sourceKeyOf } from './source-key.ts';

/**
 * One pass over a mailbox read through Microsoft Graph: the delta query on its folder (GET
 * /users/{user}/mailFolders/{folder}/messages/delta), page by page along @odata.nextLink until the @odata.deltaLink
 * that the next pass starts from. Each page's new messages are fetched (GET /messages/{id}/$value, the MIME source;
 * one over MAX_MESSAGE_BYTES into the store, not memory) and go through the same ingest as IMAP's, keyed in the
 * ledger by Graph's immutable id.
 *
 * Guarantees, as for IMAP (mailbox-round.ts):
 * - The link to resume from is stored only after the page before it was committed: a crash re-reads at most that page,
 *   whose mails the ledger then recognises (looked up before their sources are even fetched).
 * - A mail is moved to the processed folder (GRAPH_PROCESSED_FOLDER) only after its effect committed; nothing is ever
 *   marked read, because people read the support mailbox too.
 * - A delta token Graph no longer knows (410 Gone, syncStateNotFound) starts the delta afresh: every message in the
 *   folder (since the first read's cut, mailbox-backlog.ts) comes again, is found in the ledger, and nothing doubles.
 */

export interface GraphRoundContext {
  db: Knex;
  ingest: RoundIngest;
  mailbox: MailboxConfig;
  log: Logger;
  client: GraphClient;
  halted(): boolean;
  /** Messages asked per delta page (Prefer: odata.maxpagesize), and so per ingest batch. */
  pageSize: number;
  /** The processed folder's id, found or created once by the reader (undefined: mail stays where it is). */
  processedFolderId?: string;
}

interface DeltaPage {
  value?: Array<{ id: string; '@removed'?: unknown }>;
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

/** Sources fetched at once while a page is read (Graph throttles a mailbox's concurrent requests at four). */
const PARALLEL_FETCHES = 4;

export async function readGraphRound(ctx: GraphRoundContext): Promise<RoundResult> {
  const name = stateKey(ctx.mailbox);
  const now = Date.now();
  const before = await getMailboxState(ctx.db, name);
  await saveMailboxState(ctx.db, name, { lastPollAt: now });
  const first = ctx.client.userUrl(`/mailFolders/${encodeURIComponent(ctx.mailbox.mailbox)}/messages/delta?$select=id`);
  const stored = (await getDeltaLink(ctx.db, name))?.link;
  // The first read (no pass ever finished, none under way) leaves out the mail that arrived before the cut
  // (mailbox-backlog.ts), and so does every delta started afresh after it: Graph keeps the filter in its links.
  let cut = before?.backlogBefore;
  if (cut === undefined && !stored && !before?.lastSuccessAt) {
    cut = backlogBefore(ctx.mailbox.backlogDays, now);
    if (cut !== undefined) await saveMailboxState(ctx.db, name, { backlogBefore: cut });
  }
  const fromScratch = cut === undefined ? first : `${first}&$filter=${encodeURIComponent(graphBacklogFilter(cut))}`;
  let url = stored ?? fromScratch;
  for (;;) {
    if (ctx.halted()) return 'stopped';
    let page: DeltaPage;
    try {
      page = await ctx.client.json<DeltaPage>(url, { headers: { prefer: `odata.maxpagesize=${ctx.pageSize}` } });
    } catch (err) {
      // A query from scratch cannot be stale: that is an error of its own.
      if (!isStaleDelta(err) || url === fromScratch) throw err;
      ctx.log.warn(
        { graphCode: (err as GraphError).graphCode },
        'Microsoft Graph ya no reconoce el punto de la consulta delta: ' +
          'se relee la carpeta (el registro evita duplicados)',
      );
      await clearDeltaLink(ctx.db, name);
      url = fromScratch;
      continue;
    }
    const ids = (page.value ?? []).filter((m) => m && typeof m.id === 'string' && !m['@removed']).map((m) => m.id);
    const result = await ingestPage(ctx, ids);
    if (result !== 'done') return result;
    const next = page['@odata.nextLink'];
    const delta = page['@odata.deltaLink'];
    if (next) {
      await saveDeltaLink(ctx.db, name, { link: next, kind: 'next' }, Date.now());
      url = next;
      continue;
    }
    if (delta) await saveDeltaLink(ctx.db, name, { link: delta, kind: 'delta' }, Date.now());
    break;
  }
  await saveMailboxState(ctx.db, name, { lastSuccessAt: Date.now(), lastError: undefined, errorCount: 0 });
  return 'done';
}

/** One delta page: new messages fetched and ingested in one group commit, then moved; known ones only moved. */
async function ingestPage(ctx: GraphRoundContext, ids: string[]): Promise<RoundResult> {
  if (ids.length === 0) return 'done';
  const sourceOf = (id: string): MailSource => ({
    kind: 'graph',
    account: ctx.mailbox.name,
    folder: ctx.mailbox.mailbox,
    id,
  });
  const known = await findLedgers(
    ctx.db,
    ids.map((id) => sourceKeyOf(sourceOf(id), '')),
  );
  const fresh = ids.filter((id) => !known.has(sourceKeyOf(sourceOf(id), '')));
  // Recorded before but still in the folder (a stop between the commit and the move): only the move is owed.
  await moveAll(
    ctx,
    ids.filter((id) => !fresh.includes(id)),
  );
  if (fresh.length === 0) return 'done';
  const sources = new Map<string, FetchedSource>();
  for (let i = 0; i < fresh.length; i += PARALLEL_FETCHES) {
    if (ctx.halted()) return 'stopped';
    await Promise.all(
      fresh.slice(i, i + PARALLEL_FETCHES).map(async (id) => {
        const fetched = await mimeOf(ctx, id);
        if (fetched) sources.set(id, fetched);
      }),
    );
  }
  // Deleted by someone between the delta and the fetch: no source, nothing to ingest.
  const present = fresh.filter((id) => sources.has(id));
  ctx.ingest.parseAhead?.(parseableAhead(sources));
  const results: IngestResult[] = present.length
    ? await ctx.ingest.ingestMany(present.map((id) => ({ ...sources.get(id)!, source: sourceOf(id) })))
    : [];
  sources.clear();
  // The effects and their ledger rows are committed: only now may those mails leave the folder.
  await moveAll(ctx, present.slice(0, results.filter((r) => r.outcome !== 'tempfail').length));
  const failed = results.find((r) => r.outcome === 'tempfail');
  if (failed) {
    await recordMailboxError(
      ctx,
      `correo ${present[results.indexOf(failed)]} pendiente: ${failed.detail ?? failed.reason ?? 'tempfail'}`,
    );
    return 'tempfail';
  }
  return 'done';
}

/**
 * The message's MIME source as it arrives: Graph says no size before the body, so it is read as a stream, whole up
 * to MAX_MESSAGE_BYTES and into the store past that (IngestService.readSource). Undefined when it is gone (404).
 */
async function mimeOf(ctx: GraphRoundContext, id: string): Promise<FetchedSource | undefined> {
  let res: Response;
  try {
    res = await ctx.client.request(ctx.client.userUrl(`/messages/${encodeURIComponent(id)}/$value`));
  } catch (err) {
    if (err instanceof GraphError && err.status === 404) return undefined;
    throw err;
  }
  if (!res.body) return { raw: Buffer.alloc(0) };
  return ctx.ingest.readSource(Readable.fromWeb(res.body as never));
}

/** POST /messages/{id}/move to the processed folder; an id already gone from the folder is left alone. */
async function moveAll(ctx: GraphRoundContext, ids: string[]): Promise<void> {
  if (!ctx.processedFolderId) return;
  for (const id of ids) {
    try {
      await ctx.client.request(ctx.client.userUrl(`/messages/${encodeURIComponent(id)}/move`), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ destinationId: ctx.processedFolderId }),
      });
    } catch (err) {
      if (!(err instanceof GraphError && err.status === 404)) throw err;
    }
  }
}

/** The processed folder's id under the mailbox's root: found by its display name, created when missing. */
export async function processedFolderId(client: GraphClient, displayName: string, log: Logger): Promise<string> {
  const filter = encodeURIComponent(`displayName eq '${displayName.replace(/'/g, "''")}'`);
  const found = await client.json<{ value?: Array<{ id: string }> }>(
    client.userUrl(`/mailFolders?$filter=${filter}&$select=id,displayName`),
  );
  if (found.value?.[0]?.id) return found.value[0].id;
  const made = await client.json<{ id: string }>(client.userUrl('/mailFolders'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ displayName }),
  });
  log.info({ folder: displayName }, 'carpeta de procesados creada');
  return made.id;
}
