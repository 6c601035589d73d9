import type { Knex } from 'knex';
import type { Logger } from '../logger.ts';
import { isPostgres } from './knex.ts';

/**
 * The tables an ingest batch reads (the ledger, thread ids, cases, their people, messages, links, the outbox) are
 * planned by PostgreSQL from their statistics, and only ANALYZE writes those. autovacuum runs it after 50 rows + 10 %
 * of a table changed, looking once a minute (and never when it is off). Until then a table that grew from empty is
 * still planned as the empty table it was: its reads become sequential scans that cost more with every row (figures in
 * docs/performance.md). That is the first mailbox of an installation, or a backlog imported with `mesa ingest`.
 *
 * So the ingest analyzes them itself each time what this process wrote since its last ANALYZE reaches what the
 * tables held then: at 500 mails, then whenever they double. A few times during a bulk load, about never on a large
 * database, where autovacuum's pace is enough. A short process (an MTA's `mesa ingest -`) writes too little to ask
 * anything. SQLite plans without statistics of this kind: nothing to do there.
 */
const TABLES = ['ingest_ledger', 'thread_ids', 'tickets', 'participants', 'messages', 'links', 'outbox'];
const FIRST = 500;

export class PlannerStatistics {
  private written = 0;
  /** Mails to write before the next ANALYZE; unknown until the first FIRST were written. */
  private due?: number;
  private disabled = false;

  constructor(
    private readonly db: Knex,
    private readonly log: Logger,
  ) {}

  /** `mails` more mails committed by this process (called after each batch's commit, outside any transaction). */
  async wrote(mails: number): Promise<void> {
    if (this.disabled || mails <= 0 || !isPostgres(this.db)) return;
    this.written += mails;
    if (this.written < FIRST) return;
    try {
      this.due ??= Math.max(FIRST, await this.ledgerRows());
      if (this.written < this.due) return;
      await this.db.raw(`analyze ${TABLES.map((t) => `"${t}"`).join(', ')}`);
      this.written = 0;
      this.due = Math.max(FIRST, await this.ledgerRows());
    } catch (err) {
      // Not the tables' owner (a role granted only what Mesa needs): leave it to autovacuum, and say so once.
      this.disabled = true;
      this.log.warn({ err: String((err as Error).message) }, 'no se pudieron actualizar las estadísticas de la base');
    }
  }

  /** The ledger's rows as the statistics last counted them (0 for a table never analyzed). */
  private async ledgerRows(): Promise<number> {
    const r = await this.db.raw(
      `select greatest(reltuples, 0) as n from pg_class where oid = 'ingest_ledger'::regclass`,
    );
    return Number(r.rows?.[0]?.n ?? 0);
  }
}
