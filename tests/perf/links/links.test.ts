import { describe, expect, it } from 'vitest';
import { onStatements } from '../../../src/db/storage.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';
import type { App } from '../../../src/app.ts';
import { parseToken } from '../../../src/links/tokens.ts';
import { linkCaseForEachTest, LINK_NOW, tokenOf, type LinkCase } from '../../support/link-case.ts';

/** How many statements a case's first link costs (tests/integration/links/links.test.ts has what links do). */
const DAY = 86_400_000;
const NOW = LINK_NOW;
let app: App;
let ticketId: number;
let issue: LinkCase['issue'];

linkCaseForEachTest((c) => ({ app, ticketId, issue } = c));

describe('magic links: statements', () => {
  it('gives a case opened in the transaction its first link with one INSERT of generation 1, which later mail reuses', async () => {
    const fresh = (trx: any, recipient: string) =>
      app.links.issueLink(trx, { ticketId, number: 7, recipient, now: NOW, fresh: true });
    const sql: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/\blinks\b/.test(q.sql)) sql.push(q.sql);
    };
    const stopListening = onStatements(app.db, onQuery);
    const url = await inUnitOfWork(app.db, async (trx) => {
      const first = await fresh(trx, 'Carla@empresa.com');
      expect(sql).toHaveLength(1);
      expect(sql[0]).toMatch(/^insert into ["`]links["`]/i);
      // The same recipient again in this transaction (a requester who is also a consultant): looked up, the same link.
      expect(await fresh(trx, 'carla@empresa.com')).toBe(first);
      // So is one issued inside a savepoint, for the transaction around it.
      await trx.savepoint(async (sp) => fresh(sp, 'jefe@empresa.com'));
      expect(await fresh(trx, 'jefe@empresa.com')).not.toBe(first);
      return first;
    });
    stopListening();
    const token = tokenOf(url);
    expect(parseToken(token)!.generation).toBe(1);
    expect(await app.links.verifyToken(app.db, token, NOW + DAY)).toMatchObject({
      ok: true,
      ticketId,
      number: 7,
      recipient: 'carla@empresa.com',
    });
    // A later transaction (the next mail on the case) finds and reuses it.
    expect(await issue()).toBe(url);
    expect(Number((await app.db('links').where({ ticket_id: ticketId }).count({ c: '*' }).first())!.c)).toBe(2);
    // `fresh` is a promise that no link exists: broken, it fails on the unique index instead of adding a second one.
    await expect(inUnitOfWork(app.db, (trx) => fresh(trx, 'carla@empresa.com'))).rejects.toThrow();
    expect(
      Number(
        (await app
          .db('links')
          .where({ ticket_id: ticketId, recipient: 'carla@empresa.com' })
          .count({ c: '*' })
          .first())!.c,
      ),
    ).toBe(1);
  });
});
