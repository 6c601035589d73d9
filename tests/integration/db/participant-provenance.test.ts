import { afterEach, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { insertTicket } from '../../../src/db/repos/tickets.ts';
import { openCasesOf } from '../../../src/db/repos/status-page.ts';
import * as provenance from '../../../migrations/20261205000100_participant_provenance.ts';
import { testApp } from '../../support/app.ts';

/**
 * migrations/20261205000100: participants from before `added_by` existed are classified by what the rows still
 * tell (role, and whether a Cc came in with the opening mail); any other Cc came from a follow-up nobody checked,
 * and "Perdí mi enlace" no longer mails it. Run down and up again on a migrated database, on SQLite and PostgreSQL.
 */
let app: App | undefined;
afterEach(async () => app?.close());

it('classifies the participants of a database migrated before, and lost-link stops reaching the unproven ones', async () => {
  app = await testApp();
  const db = app.db;
  await provenance.down(db);
  const opened = 1_700_000_000_000;
  const t = await insertTicket(db, {
    number: 1,
    subject: 'Caso viejo',
    requester: 'juan@cliente.co',
    organization: 'cliente.co',
    priority: 'media',
    stage: 'abierto',
    waitingOn: 'soporte',
    openedProven: true,
    now: opened,
  });
  await db('participants').insert([
    { ticket_id: t.id, address: 'juan@cliente.co', role: 'requester', added_at: opened },
    { ticket_id: t.id, address: 'marta@cliente.co', role: 'cc', added_at: opened },
    { ticket_id: t.id, address: 'intruso@evil.example', role: 'cc', added_at: opened + 60_000 },
    { ticket_id: t.id, address: 'ana@mesa.test', role: 'consultant', added_at: opened + 120_000 },
  ]);
  await provenance.up(db);
  const rows = await db('participants').where({ ticket_id: t.id }).orderBy('address');
  expect(Object.fromEntries(rows.map((r) => [r.address, r.added_by]))).toEqual({
    'ana@mesa.test': 'assigned',
    'intruso@evil.example': 'unproven',
    'juan@cliente.co': 'requester',
    'marta@cliente.co': 'opening',
  });
  expect((await openCasesOf(db, 'marta@cliente.co')).map((c) => c.number)).toEqual([1]);
  expect(await openCasesOf(db, 'intruso@evil.example')).toEqual([]);
  expect((await openCasesOf(db, 'juan@cliente.co')).map((c) => c.number)).toEqual([1]);
});
