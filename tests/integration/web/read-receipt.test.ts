import { afterEach, describe, expect, it } from 'vitest';
import { findTicketByNumber } from '../../../src/db/repos/tickets.ts';
import { caseDetail } from '../../../src/services/case-view.ts';
import { cookieHeader, fileCase, linkPath, portalHarness, type PortalHarness } from './support.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';

/**
 * The read receipt over HTTP: fetching the page (what a mail-security scanner does with every link) records no read;
 * the receipt the page posts on a person's input, or its no-script button, does, up to the newest answer it showed.
 * (In Chromium: tests/e2e/status-page.test.ts.)
 */
let h: PortalHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const customer = 'Laura Gómez <laura@cliente.test>';

async function consultantAnswer(n: number, text: string) {
  const { app } = h!;
  return inUnitOfWork(app.db, async (trx) => {
    const t = (await findTicketByNumber(trx, n))!;
    return app.cases.addMessage(trx, t, {
      message: {
        role: 'consultant',
        source: 'mail',
        fromAddress: 'ana@mesa.test',
        fromName: 'Ana Pérez',
        bodyText: text,
        internal: false,
        verified: true,
        createdAt: Date.now(),
        attachments: [],
      },
      cc: [],
      threadIds: [],
      reopen: false,
    });
  });
}

describe('read receipts', () => {
  it("records when the customer read each support answer (visible in the case file), on the page's read receipt, not on a GET", async () => {
    h = await portalHarness();
    const n = await fileCase(h.app, { from: customer, subject: 'Error al ingresar', text: 'No me deja entrar.' });
    const answer = await consultantAnswer(n, 'Prueba ahora, por favor.');
    const before = await caseDetail(h.app.db, n);
    expect(before!.messages.find((m) => m.id === answer.messageRowId)!.readAt).toBeNull();
    const path = await linkPath(h.app, n, 'laura@cliente.test');
    const opened = Date.now();
    // A fetch of the page (a link scanner's) records nothing.
    const page = await h.server.inject({ method: 'GET', url: path });
    expect(page.statusCode).toBe(200);
    expect((await caseDetail(h.app.db, n))!.messages.find((m) => m.id === answer.messageRowId)!.readAt).toBeNull();
    // An answer written after the page was shown is not covered by its receipt.
    const later = await consultantAnswer(n, 'Otra cosa más.');
    // The receipt the page sends on a person's input (or its no-script button), with the page's CSRF token.
    const receipt =
      /<noscript><form method="post" action="([^"]+)"[\s\S]*?name="_csrf" value="([^"]+)"[\s\S]*?name="hasta" value="(\d+)"/.exec(
        page.body,
      )!;
    expect(receipt[1]).toBe(`${path}/leido`);
    expect(Number(receipt[3])).toBe(answer.messageRowId);
    const sent = await h.server.inject({
      method: 'POST',
      url: receipt[1],
      headers: { cookie: cookieHeader(page) },
      payload: { _csrf: receipt[2], hasta: receipt[3] },
    });
    expect(sent.statusCode).toBe(303);
    expect(sent.headers.location).toBe(`${path}?aviso=leido`);
    const after = await caseDetail(h.app.db, n);
    expect(after!.messages.find((m) => m.id === later.messageRowId)!.readAt).toBeNull();
    const readAt = Date.parse(after!.messages.find((m) => m.id === answer.messageRowId)!.readAt!);
    expect(readAt).toBeGreaterThanOrEqual(opened - 5);
    expect(after!.events.some((e) => e.type === 'answers_read' && e.actor === 'laura@cliente.test')).toBe(true);
    // A second receipt does not move the first read time; without the CSRF token nothing is recorded.
    expect(
      (
        await h.server.inject({
          method: 'POST',
          url: receipt[1],
          headers: { cookie: cookieHeader(page) },
          payload: { _csrf: receipt[2], hasta: String(later.messageRowId) },
        })
      ).statusCode,
    ).toBe(303);
    expect(
      (
        await h.server.inject({
          method: 'POST',
          url: receipt[1],
          payload: { _csrf: 'x', hasta: String(later.messageRowId + 1) },
        })
      ).statusCode,
    ).toBe(403);
    expect((await caseDetail(h.app.db, n))!.messages.find((m) => m.id === answer.messageRowId)!.readAt).toBe(
      after!.messages.find((m) => m.id === answer.messageRowId)!.readAt,
    );
  });
});
