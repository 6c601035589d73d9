import { isStalePlan } from '../db/storage.ts';

/** Error codes that blame the infrastructure, not the mail: the system's, SQLite's, and PostgreSQL's SQLSTATE
 * classes 57P (operator intervention), 08 (connection exception) and 53 (insufficient resources). */
const INFRASTRUCTURE_CODE = new RegExp(
  '^(ECONN|ETIMEDOUT|EPIPE|ENOSPC|EIO|EACCES|EROFS|EMFILE|' +
    'SQLITE_BUSY|SQLITE_LOCKED|SQLITE_IOERR|SQLITE_FULL|SQLITE_CANTOPEN|57P|08|53)',
);

/** Driver errors (connection refused, database locked, disk full, a deadlock broken) mean "try again", not "this
 * mail is bad". */
export function isInfrastructureError(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  return (
    isDbConflict(err) ||
    INFRASTRUCTURE_CODE.test(code) ||
    /Knex: Timeout acquiring a connection|Connection terminated|database is locked/i.test(
      String((err as Error)?.message),
    ) ||
    // A plan prepared before another instance migrated a table: the storage prepares afresh, the mail is fine.
    isStalePlan(err)
  );
}

/** How many times a batch whose transaction PostgreSQL rolled back for a conflict runs again at once. */
export const DB_CONFLICT_RETRIES = 3;

/** PostgreSQL gave up on the transaction to break a deadlock or a serialization conflict (40P01, 40001): e.g. two
 * instances' batches locked the same cases in opposite order. The whole batch runs again (DB_CONFLICT_RETRIES). */
export function isDbConflict(err: unknown): boolean {
  return /^(40001|40P01)$/.test(String((err as { code?: string })?.code));
}
