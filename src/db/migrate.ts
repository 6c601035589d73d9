import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import { MIGRATIONS_DIR, MODULE_EXT } from '../paths.ts';
import { isPostgres } from './knex.ts';

/**
 * Migrations are modules in `migrations/`: TypeScript when running the sources (tsx, vitest), built to JavaScript in
 * dist/migrations/ when running the build (src/paths.ts finds the right folder and extension). knex records each by
 * its file name without the extension, so a database migrated from the sources sees nothing new from the build.
 */
class DirectorySource implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    return fs
      .readdirSync(MIGRATIONS_DIR)
      .filter((f) => /^\d+_/.test(f) && f.endsWith(MODULE_EXT))
      .sort();
  }
  getMigrationName(file: string): string {
    return file.slice(0, -MODULE_EXT.length);
  }
  async getMigration(file: string): Promise<Knex.Migration> {
    return import(pathToFileURL(path.join(MIGRATIONS_DIR, file)).href);
  }
}

/**
 * Brings the schema up to date; every `mesa` command does it first. On SQLite it all runs in one transaction, so
 * under the file's write lock (src/db/knex.ts begins transactions IMMEDIATE): processes that start together on a new
 * file (an MTA's parallel `mesa ingest -` beside `mesa start`) take turns, and each later one finds knex's tables
 * made and the migrations recorded, instead of racing to create them. On PostgreSQL knex's lock table serialises
 * the migrations, and its tables are made outside it: the loser of that race waits and tries again.
 */
export async function migrateLatest(db: Knex): Promise<string[]> {
  if (await upToDate(db)) return [];
  const latest = async (k: Knex) => {
    const [, applied] = await k.migrate.latest({
      migrationSource: new DirectorySource(),
      tableName: 'knex_migrations',
    });
    return applied as string[];
  };
  for (let attempt = 0; ; attempt++) {
    try {
      return isPostgres(db) ? await latest(db) : await db.transaction((trx) => latest(trx));
    } catch (err) {
      // Another instance holds the migration lock (or created the lock table first): wait and try again.
      const msg = String((err as Error).message);
      const contended = /locked|already exists|duplicate key|UNIQUE constraint/i.test(msg);
      if (!contended || attempt >= 30) throw err;
      if (/already locked/i.test(msg)) await dropDuplicateLockRows(db);
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
    }
  }
}

/**
 * Whether the database has recorded exactly the migrations of migrations/: then there is nothing to do, and a command
 * (each of an MTA's parallel `mesa ingest -`) neither takes the write lock nor runs knex's migrator, whose checks
 * (its tables, its lock, a transaction) cost each process tens of milliseconds. One read; any doubt (no table yet, a
 * database migrated by a newer Mesa) goes to knex, which says what is wrong.
 */
async function upToDate(db: Knex): Promise<boolean> {
  const source = new DirectorySource();
  const names = (await source.getMigrations()).map((f) => source.getMigrationName(f));
  let recorded: string[];
  try {
    recorded = (await db('knex_migrations').select('name')).map((r: { name: string }) => r.name);
  } catch {
    return false;
  }
  const mine = new Set(names);
  return recorded.length === names.length && recorded.every((n) => mine.has(n));
}

/**
 * knex creates its lock table's one row by reading and then inserting, so instances that migrate an empty database at
 * the same moment can each insert one. With two rows knex's lock (UPDATE … SET is_locked = 1 WHERE is_locked = 0,
 * expecting one row changed) can never be taken: every instance gives up with "Migration table is already locked"
 * (seen in CI, three `mesa migrate` at once on PostgreSQL). Nobody can hold the lock while there are two rows, and no
 * second row appears once one exists, so deleting all but the first is safe at any time.
 */
async function dropDuplicateLockRows(db: Knex): Promise<void> {
  await db('knex_migrations_lock')
    .whereNot('index', db('knex_migrations_lock').min('index'))
    .del()
    .catch(() => undefined);
}
