import type { Knex } from 'knex';
import { isPostgres } from '../../src/db/knex.ts';

/**
 * Fills an empty, migrated database with `count` closed and open cases — each with its requester, first message,
 * thread id, event and ledger rows — in one INSERT … SELECT per table, so 100,000 cases take seconds. The rows
 * look like mail-made cases so that every look-up the ingest path does (thread ids, ledger by hash and
 * Message-ID, tag by number, participants) runs against tables of realistic size.
 */
export async function seedCases(db: Knex, count: number): Promise<void> {
  if (count <= 0) return;
  const pg = isPostgres(db);
  // generate_series on PostgreSQL; a recursive CTE on SQLite (no depth limit for recursive CTEs there).
  const series = pg
    ? `WITH s(i) AS (SELECT generate_series(1, ${count}))`
    : `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${count})`;
  const t0 = 1_700_000_000_000;
  await db.transaction(async (trx) => {
    await trx.raw(`${series} INSERT INTO tickets (id, number, subject, requester, requester_name, organization, priority, stage, waiting_on, mailbox, created_at, updated_at, closed_at)
      SELECT i, i, 'Caso sembrado ' || i, 'sembrado' || i || '@org' || (i % 500) || '.co', 'Persona ' || i, 'org' || (i % 500) || '.co',
        'media', CASE WHEN i % 10 = 0 THEN 'abierto' ELSE 'cerrado' END, CASE WHEN i % 10 = 0 THEN 'soporte' ELSE 'cliente' END,
        'support', ${t0} + i * 1000, ${t0} + i * 1000, CASE WHEN i % 10 = 0 THEN NULL ELSE ${t0} + i * 1000 END FROM s`);
    await trx.raw(`${series} INSERT INTO participants (ticket_id, address, role, added_at)
      SELECT i, 'sembrado' || i || '@org' || (i % 500) || '.co', 'requester', ${t0} + i * 1000 FROM s`);
    await trx.raw(`${series} INSERT INTO messages (ticket_id, role, source, from_address, message_id, subject, body_text, full_text, internal, verified, created_at)
      SELECT i, 'customer', 'mail', 'sembrado' || i || '@org' || (i % 500) || '.co', 'seed-' || i || '@org' || (i % 500) || '.co',
        'Caso sembrado ' || i, 'Texto del caso sembrado ' || i, 'Texto del caso sembrado ' || i, FALSE, TRUE, ${t0} + i * 1000 FROM s`);
    await trx.raw(
      `${series} INSERT INTO thread_ids (message_id, ticket_id) SELECT 'seed-' || i || '@org' || (i % 500) || '.co', i FROM s`,
    );
    await trx.raw(`${series} INSERT INTO events (ticket_id, type, actor, to_value, created_at)
      SELECT i, 'case_opened', 'sembrado' || i || '@org' || (i % 500) || '.co', 'abierto', ${t0} + i * 1000 FROM s`);
    await trx.raw(`${series} INSERT INTO ingest_ledger (source_key, mailbox, uidvalidity, uid, message_id, content_hash, outcome, effect, ticket_id, created_at)
      SELECT 'imap:support:seed:1:' || i, 'support:seed', 1, i, 'seed-' || i || '@org' || (i % 500) || '.co', 'seedhash' || i, 'accepted', 'new_case', i, ${t0} + i * 1000 FROM s`);
    await trx.raw(
      `${series} INSERT INTO ingest_effects (content_hash, source_key) SELECT 'seedhash' || i, 'imap:support:seed:1:' || i FROM s`,
    );
    await trx('counters').where({ name: 'ticket_number' }).update({ value: count });
    if (pg) await trx.raw(`SELECT setval(pg_get_serial_sequence('tickets', 'id'), ${count})`);
  });
  // Statistics as a database that grew over months under Mesa has them. PostgreSQL's autovacuum gathers them by
  // itself. Mesa never runs ANALYZE on SQLite, and better-sqlite3 is built with SQLITE_ENABLE_STAT4, so with
  // sqlite_stat4 present every indexed lookup with a bound value is planned again at each run: the ledger's
  // duplicate check went from 11 to 35 µs at 100,000 cases (docs/performance.md). Seeding those statistics gave
  // the growth runs a slowdown that no Mesa database has.
  if (pg) await db.raw('ANALYZE');
  // The seeding is one 100 MB transaction: on SQLite, leave no part of it in the WAL for the measured run's first
  // commit to copy into the database, as a database in use for months has none.
  else await db.raw('PRAGMA wal_checkpoint(TRUNCATE)');
}
