import { afterEach, beforeEach } from 'vitest';
import type { App } from '../../src/app.ts';
import { testApp } from './app.ts';

/**
 * What the magic-link tests start from (tests/integration/links/ says what links do, tests/perf/links/ what the
 * first one costs): an app whose links live 90 days, with case 7 open, Carla's at empresa.com.
 */

export const LINK_NOW = Date.UTC(2026, 10, 22, 12);

export interface LinkCase {
  app: App;
  ticketId: number;
  /** Case 7's link for `recipient`, issued in a transaction of its own. */
  issue(recipient?: string, now?: number): Promise<string>;
}

export async function linkCase(): Promise<LinkCase> {
  const app = await testApp({ LINK_TTL_DAYS: '90' });
  const [row] = await app
    .db('tickets')
    .insert({
      number: 7,
      subject: 'Prueba',
      requester: 'carla@empresa.com',
      organization: 'empresa.com',
      priority: 'media',
      stage: 'abierto',
      waiting_on: 'soporte',
      created_at: LINK_NOW,
      updated_at: LINK_NOW,
    })
    .returning('id');
  const ticketId = Number(typeof row === 'object' ? row.id : row);
  return {
    app,
    ticketId,
    issue: (recipient = 'carla@empresa.com', now = LINK_NOW) =>
      app.db.transaction((trx) => app.links.issueLink(trx, { ticketId, number: 7, recipient, now })),
  };
}

/** A fresh link case for every test of the file, handed to `use`; its app is closed after the test. */
export function linkCaseForEachTest(use: (c: LinkCase) => void): void {
  let c: LinkCase | undefined;
  beforeEach(async () => {
    c = await linkCase();
    use(c);
  });
  afterEach(async () => {
    await c?.app.close();
  });
}

/** The token at the end of a link's URL. */
export const tokenOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);
