import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateLatest } from '../../../src/db/migrate.ts';
import { onPostgres } from '../../support/app.ts';
import { cliEnv, runCli } from '../../support/cli.ts';
import { freshDatabase } from '../../postgres/support/pg.ts';

/** src/db/migrate.ts: what several instances starting at once can leave behind. */
let db: Knex | undefined;
afterEach(async () => {
  await db?.destroy();
  db = undefined;
});

async function emptyDatabase(): Promise<Knex> {
  if (onPostgres) return knexFactory({ client: 'pg', connection: await freshDatabase('mesa_lock') });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-lock-'));
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename: path.join(dir, 'mesa.sqlite') },
    useNullAsDefault: true,
  });
}

describe('migrations', () => {
  it('migrates a database whose lock table got two rows from instances that started together', async () => {
    db = await emptyDatabase();
    // What knex's read-then-insert leaves when two instances create the lock table's row at the same moment.
    await db.schema.createTable('knex_migrations', (t) => {
      t.increments();
      t.string('name');
      t.integer('batch');
      t.timestamp('migration_time');
    });
    await db.schema.createTable('knex_migrations_lock', (t) => {
      t.increments('index').primary();
      t.integer('is_locked');
    });
    await db('knex_migrations_lock').insert([{ is_locked: 0 }, { is_locked: 0 }]);

    const applied = await migrateLatest(db);
    const files = fs
      .readdirSync(path.resolve(import.meta.dirname, '../../../migrations'))
      .filter((f) => /^\d+_.+\.ts$/.test(f));
    expect(applied).toHaveLength(files.length);
    expect(await db.schema.hasTable('tickets')).toBe(true);
    expect((await db('knex_migrations_lock').select('is_locked')).map((r) => Number(r.is_locked))).toEqual([0]);
  });

  it('migrates from the build (`mesa migrate`), recording each migration under the name of its .ts file', async () => {
    // The build holds each migration compiled (dist/migrations/<name>.js); knex records names, not files, so a
    // database migrated from the sources (tsx, vitest) and one migrated by `mesa` see the same list.
    const names = fs
      .readdirSync(path.resolve(import.meta.dirname, '../../../migrations'))
      .filter((f) => /^\d+_.+\.ts$/.test(f))
      .sort()
      .map((f) => f.replace(/\.ts$/, ''));
    const { config, env } = await cliEnv();
    const result = await runCli(['migrate'], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Migraciones aplicadas: ${names.join(', ')}\n`);
    db = knexFactory(
      config.database.client === 'pg'
        ? { client: 'pg', connection: config.database.url }
        : { client: 'better-sqlite3', connection: { filename: config.database.filename! }, useNullAsDefault: true },
    );
    expect((await db('knex_migrations').orderBy('id').select('name')).map((r) => r.name)).toEqual(names);
    // And the sources, run afterwards on the same database, find nothing new to run.
    expect(await migrateLatest(db)).toEqual([]);
  });
});

describe('migrations already applied', () => {
  it("are seen with one read: no transaction, no write, nothing of knex's migrator", async () => {
    db = await emptyDatabase();
    await migrateLatest(db);
    const sql: string[] = [];
    db.on('query', (q: { sql: string }) => sql.push(q.sql));
    expect(await migrateLatest(db)).toEqual([]);
    expect(sql.map((q) => q.replace(/[`"]/g, ''))).toEqual(['select name from knex_migrations']);
  });

  it('a database a newer Mesa migrated (a migration this one lacks) still goes to knex, which refuses it by name', async () => {
    db = await emptyDatabase();
    await migrateLatest(db);
    await db('knex_migrations').insert({
      name: '20990101000000_de_una_version_nueva',
      batch: 2,
      migration_time: new Date(),
    });
    await expect(migrateLatest(db)).rejects.toThrow(/20990101000000_de_una_version_nueva/);
  });
});
