import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.ts';
import { listOutbox } from '../../../src/db/repos/outbox.ts';
import { onStatements } from '../../../src/db/storage.ts';
import { revokeRecipientLinks } from '../../../src/links/links.ts';
import { testApp } from '../../support/app.ts';
import { imapSource } from '../../support/ingest-batches.ts';
import { mail } from '../../support/mail.ts';

/**
 * A notice on an existing case reads its recipient's link generations and its thread in one statement
 * (readWithLink, src/outbound/outbox-thread.ts), and in the ingest's batch the first notice reads for every consultant
 * of the case: the link and the threading must be those of two separate reads, a revoked link included, and the links
 * no longer read on their own.
 */
let app: App;
afterEach(async () => app?.close());

const links = async (recipient: string) =>
  (await app.db('links').where({ recipient }).orderBy('generation').select('generation', 'revoked_at')).map((r) => [
    Number(r.generation),
    r.revoked_at !== null,
  ]);

describe('a notice read with its link', () => {
  it('gets a new generation for a revoked link, keeps a live one, and threads after the earlier notice', async () => {
    app = await testApp();
    const opened = await app.ingest.ingest(
      mail(
        { From: 'carla@empresa.com', To: 'soporte@mesa.test', Subject: 'Factura', 'Message-ID': '<f1@empresa.com>' },
        'No carga la factura.',
      ),
      imapSource(1),
    );
    expect(opened.effect).toBe('new_case');
    const firstNotice = (await listOutbox(app.db)).find((r) => r.recipient === 'ana@mesa.test')!;
    await revokeRecipientLinks(app.db, firstNotice.ticketId!, 'ana@mesa.test', Date.now());
    const linkReads: string[] = [];
    const stop = onStatements(app.db, ({ sql }) => {
      if (/from "links" where/.test(sql)) linkReads.push(sql);
    });
    const follow = await app.ingest.ingest(
      mail(
        {
          From: 'carla@empresa.com',
          To: 'soporte@mesa.test',
          Subject: 'RE: [Caso #1] Factura',
          'Message-ID': '<f2@empresa.com>',
          'In-Reply-To': '<f1@empresa.com>',
        },
        'Sigue sin cargar.',
      ),
      imapSource(2),
    );
    stop();
    expect(follow.effect).toBe('follow_up');
    // One read for both consultants (the first notice's, src/db/repos/notice-thread-read.ts), with the thread: never
    // the links alone.
    expect(linkReads).toHaveLength(1);
    expect(linkReads.every((s) => /from "messages"/.test(s))).toBe(true);
    expect(await links('ana@mesa.test')).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(await links('beto@mesa.test')).toEqual([[1, false]]);
    const notice = (await listOutbox(app.db)).find(
      (r) => r.recipient === 'ana@mesa.test' && r.kind === 'consultant_follow_up',
    )!;
    expect(notice.mail.inReplyTo).toBe(`<${firstNotice.messageId}>`);
    expect(notice.mail.references).toEqual(['<f1@empresa.com>', `<${firstNotice.messageId}>`]);
  });
});
