import type { FastifyInstance } from 'fastify';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { App } from '../../../src/app.ts';
import { createApp } from '../../../src/app.ts';
import type { Config, Env } from '../../../src/config.ts';
import { findTicketByNumber } from '../../../src/db/repos/tickets.ts';
import { silentLogger } from '../../../src/logger.ts';
import { buildServer } from '../../../src/web/server.ts';
import type { StatusPageOptions } from '../../../src/web/status-page.ts';
import { testApp } from '../../support/app.ts';

/** A Mesa app with the real web server (the same `buildServer` that `mesa start` uses) and the status page on it. */
export interface PortalHarness {
  app: App;
  server: FastifyInstance;
  close(): Promise<void>;
}

export async function portalHarness(
  extra: Env = {},
  opts: { clock?: () => number; page?: StatusPageOptions } = {},
): Promise<PortalHarness> {
  const app = await testApp(extra, { clock: opts.clock });
  const server = buildServer(app, { statusPage: { clock: opts.clock, ...opts.page } });
  await server.ready();
  return {
    app,
    server,
    async close() {
      await server.close();
      await app.close();
    },
  };
}

export interface MailSpec {
  from: string;
  to?: string;
  subject: string;
  text?: string;
  html?: string;
  messageId?: string;
  inReplyTo?: string;
  attachments?: Array<{ filename: string; content: Buffer | string; contentType?: string; cid?: string }>;
}

/** A raw RFC 5322 message built with nodemailer's composer (no hand-made MIME). */
export async function rawMail(m: MailSpec): Promise<Buffer> {
  const composer = new MailComposer({
    from: m.from,
    to: m.to ?? 'soporte@mesa.test',
    subject: m.subject,
    text: m.text,
    html: m.html,
    messageId: m.messageId,
    inReplyTo: m.inReplyTo,
    references: m.inReplyTo,
    attachments: m.attachments,
    date: new Date(),
  });
  return composer.compile().build();
}

let fileCounter = 0;

/** Files a case through the real ingest path; returns its number. */
export async function fileCase(app: App, m: MailSpec): Promise<number> {
  const r = await app.ingest.ingest(await rawMail(m), { kind: 'file', path: `test-${++fileCounter}.eml` });
  if (r.outcome !== 'accepted' || !r.ticketNumber) throw new Error(`no se abrió el caso: ${JSON.stringify(r)}`);
  return r.ticketNumber;
}

/** The recipient's current link to the case (the same one the mails carry), as a path on this server. */
export async function linkPath(app: App, number: number, recipient: string, now = Date.now()): Promise<string> {
  const t = (await findTicketByNumber(app.db, number))!;
  const url = await app.db.transaction((trx) => app.links.issueLink(trx, { ticketId: t.id, number, recipient, now }));
  return new URL(url).pathname;
}

/** A case filed, and the recipient's link path, on the database a `mesa start` will open next (the app closed again). */
export async function linkOfCaseBeforeStart(config: Config, m: MailSpec, recipient: string): Promise<string> {
  const app = await createApp(config, silentLogger);
  try {
    return await linkPath(app, await fileCase(app, m), recipient);
  } finally {
    await app.close();
  }
}

/** Pulls the value of a hidden input out of a rendered page. */
export function hidden(page: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(page);
  if (!m) throw new Error(`no hay campo ${name}`);
  return m[1];
}

/** "Perdí mi enlace" as a browser asks it: the form (its cookie and CSRF token), then the POST for `correo`. */
export async function askLostLink(server: FastifyInstance, correo: string, headers: Record<string, string> = {}) {
  const form = await server.inject({ method: 'GET', url: '/perdi-mi-enlace', headers });
  const reply = await server.inject({
    method: 'POST',
    url: '/perdi-mi-enlace',
    headers: { ...headers, cookie: cookieHeader(form) },
    payload: { _csrf: hidden(form.body, '_csrf'), correo },
  });
  return { form, reply };
}

/** Cookies from a fastify inject response, as a Cookie header. */
export function cookieHeader(res: { cookies: Array<{ name: string; value: string }> }, prev = ''): string {
  const jar = new Map(
    prev
      .split(/;\s*/)
      .filter(Boolean)
      .map((c) => c.split('=') as [string, string]),
  );
  for (const c of res.cookies) jar.set(c.name, c.value);
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** The case page's message form: its action (the CSRF token rides in it, `?_csrf=`), the token, and the nonce. */
export function messageForm(page: string): { action: string; csrf: string; nonce: string } {
  const m = /<form method="post" action="([^"]+\/mensaje\?_csrf=[^"]+)" enctype="multipart\/form-data">/.exec(page);
  if (!m) throw new Error('no hay formulario de mensaje');
  const action = m[1].replace(/&amp;/g, '&');
  const rest = page.slice(m.index);
  return { action, csrf: decodeURIComponent(action.split('?_csrf=')[1]), nonce: hidden(rest, 'nonce') };
}

/** A multipart/form-data body as a browser sends the message form (fields first, then the files). */
export function multipartBody(
  fields: Record<string, string>,
  files: Array<{ name?: string; filename: string; type?: string; content: string | Buffer }> = [],
) {
  const boundary = `----mesa${Math.random().toString(36).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const [k, v] of Object.entries(fields))
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  for (const f of files) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${f.name ?? 'adjuntos'}"; filename="${f.filename}"\r\nContent-Type: ${f.type ?? 'text/plain'}\r\n\r\n`,
      ),
    );
    chunks.push(Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, payload: Buffer.concat(chunks) };
}
