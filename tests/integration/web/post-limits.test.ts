import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findTicketByNumber } from '../../../src/db/repos/tickets.ts';
import {
  cookieHeader,
  fileCase,
  linkPath,
  messageForm,
  multipartBody,
  portalHarness,
  type PortalHarness,
} from './support.ts';
import { inUnitOfWork } from '../../../src/db/unit-of-work.ts';

/**
 * Issue 23 on the case page: hourly limits per link and per client for messages and files (counted in the database),
 * the per-file and per-message size limits with nothing left on disk, a consultant's link acting as the consultant,
 * and only known notices shown.
 */
let h: PortalHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const customer = 'Laura Gómez <laura@cliente.test>';

/** Opens the page at `link` (as a browser: cookie and form) and posts the message form with `text` and `files`. */
async function post(
  link: string,
  text: string,
  files: Array<{ filename: string; content: string | Buffer }> = [],
  headers: Record<string, string> = {},
) {
  const page = await h!.server.inject({ method: 'GET', url: link, headers });
  const form = messageForm(page.body);
  const { contentType, payload } = multipartBody({ nonce: form.nonce, mensaje: text }, files);
  return h!.server.inject({
    method: 'POST',
    url: form.action,
    headers: { ...headers, cookie: cookieHeader(page), 'content-type': contentType },
    payload,
  });
}

async function webMessages(n: number) {
  const t = (await findTicketByNumber(h!.app.db, n))!;
  return h!.app.db('messages').where({ ticket_id: t.id, source: 'web' }).orderBy('id');
}

/** Every file under DATA_DIR/blobs (none yet, before the first blob). */
function blobFiles(): string[] {
  const dir = path.join(h!.app.config.dataDir, 'blobs');
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    : [];
}

/** Files in the blob store's temporary folder: a refused upload leaves none. */
function staged(): string[] {
  const dir = path.join(h!.app.config.dataDir, 'blobs', 'tmp');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

describe('hourly limits of the case page', () => {
  it('takes WEB_POSTS_PER_LINK messages per link per hour, then answers 429 in Spanish; another link still posts', async () => {
    h = await portalHarness({ WEB_POSTS_PER_LINK: '3', WEB_POSTS_PER_IP: '100' });
    const n = await fileCase(h.app, { from: customer, subject: 'Muchos mensajes', text: 'Hola', attachments: [] });
    const laura = await linkPath(h.app, n, 'laura@cliente.test');
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await post(laura, `mensaje ${i}`)).statusCode);
    expect(codes).toEqual([303, 303, 303, 429]);
    const refused = await post(laura, 'uno más');
    expect(refused.statusCode).toBe(429);
    expect(refused.body).toContain('Recibimos demasiados mensajes o archivos desde este enlace');
    expect((await webMessages(n)).map((m: any) => m.body_text)).toEqual(['mensaje 0', 'mensaje 1', 'mensaje 2']);
    // The limit is the link's: the consultant's link on the same case is counted apart.
    expect((await post(await linkPath(h.app, n, 'ana@mesa.test'), 'respuesta')).statusCode).toBe(303);
    // Counted in the database, as the other limits: a second instance on the same database sees the count.
    const counters = await h.app.db('rate_limits').where('key', 'like', 'web-post|link:%').select('hits');
    expect(counters.map((r: any) => Number(r.hits)).sort()).toEqual([1, 5]);
  });

  it('takes WEB_POSTS_PER_IP messages per client per hour, whatever the link, and counts refused ones too', async () => {
    h = await portalHarness({ WEB_POSTS_PER_LINK: '100', WEB_POSTS_PER_IP: '3', TRUST_PROXY: '127.0.0.1' });
    const a = await fileCase(h.app, { from: customer, subject: 'Caso A', text: 'a' });
    const b = await fileCase(h.app, { from: 'otro@cliente.test', subject: 'Caso B', text: 'b' });
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const linkA = await linkPath(h.app, a, 'laura@cliente.test');
    const linkB = await linkPath(h.app, b, 'otro@cliente.test');
    expect((await post(linkA, 'uno', [], from('203.0.113.5'))).statusCode).toBe(303);
    // A bad link counts against the client too (it is how links are guessed).
    expect(
      (
        await h.server.inject({
          method: 'POST',
          url: '/caso/1.1.abc.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/mensaje',
          headers: from('203.0.113.5'),
        })
      ).statusCode,
    ).toBe(404);
    expect((await post(linkB, 'dos', [], from('203.0.113.5'))).statusCode).toBe(303);
    expect((await post(linkB, 'tres', [], from('203.0.113.5'))).statusCode).toBe(429);
    expect((await post(linkA, 'cuatro', [], from('203.0.113.5'))).statusCode).toBe(429);
    // Another client is not affected.
    expect((await post(linkA, 'otra persona', [], from('203.0.113.6'))).statusCode).toBe(303);
    expect((await webMessages(a)).map((m: any) => m.body_text)).toEqual(['uno', 'otra persona']);
  });

  it('takes WEB_FILES_PER_LINK files per link per hour: the post that crosses it is refused whole, nothing kept', async () => {
    h = await portalHarness({ WEB_FILES_PER_LINK: '2' });
    const n = await fileCase(h.app, { from: customer, subject: 'Archivos', text: 'Hola' });
    const laura = await linkPath(h.app, n, 'laura@cliente.test');
    const three = [1, 2, 3].map((i) => ({ filename: `f${i}.txt`, content: `archivo ${i}` }));
    const r = await post(laura, 'van tres', three);
    expect(r.statusCode).toBe(429);
    expect(r.body).toContain('demasiados mensajes o archivos');
    expect(await webMessages(n)).toEqual([]);
    expect(staged()).toEqual([]);
    expect(Number((await h.app.db('attachments').count({ c: '*' }))[0].c)).toBe(0);
  });
});

describe('size limits of the case page', () => {
  it('refuses a file over MAX_ATTACHMENT_BYTES and files over WEB_UPLOAD_MAX_BYTES together with 413, keeping no blob', async () => {
    h = await portalHarness({ MAX_ATTACHMENT_BYTES: '1000', WEB_UPLOAD_MAX_BYTES: '1500', WEB_POSTS_PER_LINK: '100' });
    const n = await fileCase(h.app, { from: customer, subject: 'Tamaños', text: 'Hola' });
    const laura = await linkPath(h.app, n, 'laura@cliente.test');
    const blobsBefore = blobFiles();
    const one = await post(laura, 'uno grande', [{ filename: 'grande.bin', content: Buffer.alloc(1001, 1) }]);
    expect(one.statusCode).toBe(413);
    expect(one.body).toContain('El archivo es demasiado grande: el límite es 1000 B por archivo.');
    const two = await post(laura, 'dos medianos', [
      { filename: 'a.bin', content: Buffer.alloc(900, 2) },
      { filename: 'b.bin', content: Buffer.alloc(900, 3) },
    ]);
    expect(two.statusCode).toBe(413);
    expect(two.body).toContain('el límite es 1,5 KB entre todos los de un mensaje');
    expect(await webMessages(n)).toEqual([]);
    expect(staged()).toEqual([]);
    expect(blobFiles()).toEqual(blobsBefore);
    // Within both limits the files are kept, whole.
    const ok = await post(laura, 'dos chicos', [
      { filename: 'a.bin', content: Buffer.alloc(700, 4) },
      { filename: 'b.bin', content: Buffer.alloc(700, 5) },
    ]);
    expect(ok.statusCode).toBe(303);
    const [m] = await webMessages(n);
    const atts = await h.app.db('attachments').where({ message_id: m.id }).orderBy('id');
    expect(atts.map((a: any) => [a.filename, Number(a.size)])).toEqual([
      ['a.bin', 700],
      ['b.bin', 700],
    ]);
    expect((await h.app.blobs.get(atts[1].sha256)).equals(Buffer.alloc(700, 5))).toBe(true);
    expect(staged()).toEqual([]);
  });

  it('refuses more files than a message carries with 413 saying how many, keeping the text and no blob', async () => {
    h = await portalHarness({ WEB_POSTS_PER_LINK: '100', WEB_FILES_PER_LINK: '100', WEB_FILES_PER_IP: '100' });
    const n = await fileCase(h.app, { from: customer, subject: 'Fotos', text: 'Hola' });
    const laura = await linkPath(h.app, n, 'laura@cliente.test');
    const page = await h.server.inject({ method: 'GET', url: laura });
    expect(page.body).toContain('Opcional. Hasta 10 archivos, de 25 MB cada uno como máximo.');
    const blobsBefore = blobFiles();
    // Eleven small photos, as a phone's picker sends them: no size limit is near.
    const photos = Array.from({ length: 11 }, (_, i) => ({ filename: `foto${i + 1}.jpg`, content: `foto ${i + 1}` }));
    const refused = await post(laura, 'Van las fotos del error', photos);
    expect(refused.statusCode).toBe(413);
    expect(refused.body).toContain(
      'Son demasiados archivos: un mensaje lleva hasta 10. Envía los demás en otro mensaje.',
    );
    expect(refused.body).not.toContain('demasiado grande');
    expect(refused.body).toContain('Van las fotos del error</textarea>');
    expect(await webMessages(n)).toEqual([]);
    expect(staged()).toEqual([]);
    expect(blobFiles()).toEqual(blobsBefore);
    const ten = await post(laura, 'Las primeras diez', photos.slice(0, 10));
    expect(ten.statusCode).toBe(303);
    const [m] = await webMessages(n);
    const [{ kept }] = await h.app.db('attachments').where({ message_id: m.id }).count({ kept: '*' });
    expect(Number(kept)).toBe(10);
  });
});

describe('who acts from a link', () => {
  it("a consultant's own link posts as the consultant (the customer is mailed the answer) and neither rates nor reads", async () => {
    h = await portalHarness();
    const n = await fileCase(h.app, { from: customer, subject: 'Desde el enlace del consultor', text: 'Hola' });
    const t = (await findTicketByNumber(h.app.db, n))!;
    // An earlier answer by mail, unread by the customer.
    const earlier = await inUnitOfWork(h.app.db, async (trx) =>
      h!.app.cases.addMessage(trx, t, {
        message: {
          role: 'consultant',
          source: 'mail',
          fromAddress: 'beto@mesa.test',
          bodyText: 'Primera respuesta',
          internal: false,
          verified: true,
          createdAt: Date.now(),
          attachments: [],
        },
        cc: [],
        threadIds: [],
        reopen: false,
      }),
    );
    const ana = await linkPath(h.app, n, 'ana@mesa.test');
    const page = await h.server.inject({ method: 'GET', url: ana });
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain('id="lectura"');
    expect(page.body).not.toContain('name="visto"');
    const r = await post(ana, 'Hola Laura, ya lo revisamos.');
    expect(r.statusCode).toBe(303);
    const [m] = await webMessages(n);
    expect({ role: m.role, from: m.from_address, text: m.body_text }).toEqual({
      role: 'consultant',
      from: 'ana@mesa.test',
      text: 'Hola Laura, ya lo revisamos.',
    });
    // The customer is mailed it as an answer from support; the case now waits on the customer.
    const answers = await h.app.db('outbox').where({ ticket_id: t.id, kind: 'answer' });
    // (Beto's answer by mail, then Ana's from the page.)
    expect(answers.map((o: any) => o.recipient)).toEqual(['laura@cliente.test', 'laura@cliente.test']);
    expect((await findTicketByNumber(h.app.db, n))!.waitingOn).toBe('cliente');
    // Nothing the consultant did counts as the customer reading.
    expect((await h.app.db('messages').where({ id: earlier.messageRowId }).first()).read_at).toBeNull();
    // Rating is the customer's: the consultant's link shows no rating form and a forged one changes nothing.
    await inUnitOfWork(h.app.db, async (trx) =>
      h!.app.cases.changeStage(
        trx,
        (await findTicketByNumber(trx, n))!,
        'enviar_a_pruebas',
        'ana@mesa.test',
        undefined,
        Date.now(),
      ),
    );
    const inTesting = await h.server.inject({ method: 'GET', url: ana });
    expect(inTesting.body).not.toContain('Solución satisfactoria');
    const csrf = decodeURIComponent(messageForm(inTesting.body).action.split('?_csrf=')[1]);
    const rate = await h.server.inject({
      method: 'POST',
      url: `${ana}/calificacion`,
      headers: { cookie: cookieHeader(inTesting) },
      payload: { _csrf: csrf, nonce: 'cccccccccccccccccccccccc', veredicto: 'satisfactoria', comentario: '' },
    });
    expect(rate.statusCode).toBe(303);
    expect((await findTicketByNumber(h.app.db, n))!.stage).toBe('pruebas');
  });
});

describe('notices on the case page', () => {
  it('shows only the known notice keys: ?aviso=constructor, __proto__ and the like show nothing', async () => {
    h = await portalHarness();
    const n = await fileCase(h.app, { from: customer, subject: 'Avisos', text: 'Hola' });
    const laura = await linkPath(h.app, n, 'laura@cliente.test');
    const known = await h.server.inject({ method: 'GET', url: `${laura}?aviso=mensaje` });
    expect(known.body).toContain('<p class="notice" role="status">Tu mensaje quedó registrado');
    for (const key of [
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      'valueOf',
      '__defineGetter__',
      'otra',
    ]) {
      const res = await h.server.inject({ method: 'GET', url: `${laura}?aviso=${key}` });
      expect(res.statusCode, key).toBe(200);
      expect(res.body, key).not.toContain('class="notice"');
      expect(res.body, key).not.toMatch(/function|native code|\[object/);
    }
    // Twice in the query (an array): nothing either.
    expect((await h.server.inject({ method: 'GET', url: `${laura}?aviso=mensaje&aviso=vobo` })).body).not.toContain(
      'class="notice"',
    );
  });
});
