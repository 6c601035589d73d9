import fs from 'node:fs';
import path from 'node:path';
import type { Queryable } from '../../src/db/sql.ts';
import { insertTicket, nextTicketNumber } from '../../src/db/repos/tickets.ts';
import type { Ticket } from '../../src/tickets/types.ts';

/** The solved cases written for the search tests (tests/fixtures/search/solved-cases.json), by theme. */
export interface SolvedCaseTheme {
  key: string;
  product: string | null;
  cases: Array<[string, string]>;
  queries: string[];
}

export function solvedCaseThemes(): SolvedCaseTheme[] {
  const file = path.join(import.meta.dirname, '../fixtures/search/solved-cases.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { themes: SolvedCaseTheme[] }).themes;
}

/** A closed case of a customer's, as the search indexes solved ones: its subject, and its product if any. */
export async function insertSolvedCase(
  db: Queryable,
  subject: string,
  opts: { product?: string; now?: number } = {},
): Promise<Ticket> {
  return insertTicket(db, {
    number: await nextTicketNumber(db),
    subject,
    requester: 'cliente@empresa.com',
    organization: 'empresa.com',
    priority: 'media',
    stage: 'cerrado',
    waitingOn: 'soporte',
    openedProven: true,
    product: opts.product,
    now: opts.now ?? Date.now(),
  });
}
