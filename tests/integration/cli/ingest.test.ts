import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/db/knex.ts';
import { cliEnv, runCli } from '../../support/cli.ts';

// The real `mesa` executable, spawned as an MTA or an operator would run it, on a temp DATA_DIR.

const eml = (o: { from: string; subject: string; id: string; body: string; extra?: string[] }) =>
  [
    `From: ${o.from}`,
    'To: soporte@mesa.test',
    `Subject: ${o.subject}`,
    `Message-ID: <${o.id}>`,
    'Date: Mon, 23 Nov 2026 10:00:00 -0500',
    ...(o.extra ?? []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    o.body,
    '',
  ].join('\n');

const tickets = async (env: Record<string, string | undefined>) => {
  const r = await runCli(['tickets', '--json'], { env });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Array<{ number: number; subject: string; requester: string }>;
};

describe('mesa ingest', { timeout: 120_000 }, () => {
  it('stores a mail piped on stdin (exit 0), and the same mail again is recognised, not doubled', async () => {
    const { env } = await cliEnv();
    const raw = eml({
      from: 'Juan <juan@cliente.co>',
      subject: 'No puedo facturar',
      id: 'pipe-1@cliente.co',
      body: 'La factura 88 no sale.',
    });
    const first = await runCli(['ingest', '-'], { env, stdin: raw });
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toBe('stdin: caso nuevo #1');
    const again = await runCli(['ingest'], { env, stdin: raw }); // no argument = stdin, as an MTA pipe calls it
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/ya procesado antes|duplicate/);
    expect((await tickets(env)).map((t) => [t.number, t.subject, t.requester])).toEqual([
      [1, 'No puedo facturar', 'juan@cliente.co'],
    ]);
  });

  it('says in Spanish why a mail made no case, with the code and what showed it, and exits 0', async () => {
    const { env } = await cliEnv();
    const vacation = eml({
      from: 'marta@cliente.co',
      subject: 'Respuesta automática: fuera de la oficina',
      id: 'vacation-1@cliente.co',
      body: 'Estaré fuera hasta el lunes.',
      extra: ['Auto-Submitted: auto-replied'],
    });
    const r = await runCli(['ingest', '-'], { env, stdin: vacation });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('stdin: ignorado: respuesta automática (auto_reply — Auto-Submitted: auto-replied)');
    expect(await tickets(env)).toEqual([]);
  });

  it('refuses an oversized mail with exit 65 and a one-line reason; quarantine lists it and replay stores it', async () => {
    const { env } = await cliEnv({ MAX_MESSAGE_BYTES: '600' });
    const file = path.join(env.DATA_DIR!, 'grande.eml');
    fs.writeFileSync(
      file,
      eml({ from: 'grande@cliente.co', subject: 'Adjunto pesado', id: 'big@cliente.co', body: 'x'.repeat(2000) }),
    );
    const r = await runCli(['ingest', file], { env });
    expect(r.code).toBe(65);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/rechazado: too_large .*MAX_MESSAGE_BYTES.*\(cuarentena #1\)/);
    // The same file again (an MTA retrying): the ledger's answer names the same quarantine row.
    const again = await runCli(['ingest', file], { env });
    expect(again.code).toBe(65);
    expect(again.stdout.trim()).toBe(`${file}: rechazado: too_large (cuarentena #1) [ya procesado antes]`);

    const q = await runCli(['quarantine', '--json'], { env });
    expect(q.code).toBe(0);
    expect(JSON.parse(q.stdout)).toMatchObject([
      { id: 1, reason: 'too_large', fromAddress: 'grande@cliente.co', subject: 'Adjunto pesado' },
    ]);
    const listed = await runCli(['quarantine'], { env });
    expect(listed.stdout).toMatch(/grande@cliente\.co/);

    // Still too large: stays held, exit 65.
    expect((await runCli(['replay', '1'], { env })).code).toBe(65);
    const replay = await runCli(['replay', '1'], { env: { ...env, MAX_MESSAGE_BYTES: '100000' } });
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/#1: new_case #1/);
    expect((await tickets(env)).map((t) => t.subject)).toEqual(['Adjunto pesado']);
    expect(JSON.parse((await runCli(['quarantine', '--json'], { env })).stdout)).toEqual([]);
  });

  it('refuses a piped mail over the limit and past a megabyte kept on disk, not in memory; replay takes it back', async () => {
    const { env, config } = await cliEnv({ MAX_MESSAGE_BYTES: '200000' });
    // A pasted log of ~2 MB on standard input, as an MTA pipes it: streamed into DATA_DIR/blobs once past the limit.
    const log = Array.from({ length: 30_000 }, (_, i) => `10:00:${i} ERROR lote ${i} sin conciliar`).join('\n');
    const raw = eml({ from: 'pedro@cliente.co', subject: 'Log pegado', id: 'log@cliente.co', body: log });
    expect(raw.length).toBeGreaterThan(1024 * 1024);
    const r = await runCli(['ingest', '-'], { env, stdin: raw });
    expect(r.code).toBe(65);
    expect(r.stdout.trim()).toBe(
      `stdin: rechazado: too_large — ${raw.length} bytes > MAX_MESSAGE_BYTES 200000 (cuarentena #1)`,
    );
    expect(JSON.parse((await runCli(['quarantine', '--json'], { env })).stdout)).toMatchObject([
      { id: 1, reason: 'too_large', size: raw.length, fromAddress: 'pedro@cliente.co', subject: 'Log pegado' },
    ]);
    // Kept whole as a file of the store, under the hash of the bytes piped in.
    const sha = crypto.createHash('sha256').update(raw).digest('hex');
    expect(fs.readFileSync(path.join(config.dataDir, 'blobs', sha.slice(0, 2), sha.slice(2)), 'utf8')).toBe(raw);
    const replay = await runCli(['replay', '1'], { env: { ...env, MAX_MESSAGE_BYTES: String(4 * 1024 * 1024) } });
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/#1: new_case #1/);
    expect((await tickets(env)).map((t) => t.subject)).toEqual(['Log pegado']);
  });

  it('replay of something that is not a quarantine ID is a usage error (64), on either database', async () => {
    const { env } = await cliEnv();
    // PostgreSQL refused the NaN this became ("invalid input syntax for type integer"), reported as a temporary
    // failure (75): a caller would have retried a typo forever.
    for (const arg of ['abc', '0', '1.5']) {
      const r = await runCli(['replay', arg], { env });
      expect(r.code, arg).toBe(64);
      expect(r.stderr, arg).toBe(`mesa: "${arg}" no es un ID de cuarentena (vea mesa quarantine)\n`);
    }
    const missing = await runCli(['replay', '#7'], { env });
    expect(missing.code).toBe(66);
    expect(missing.stderr).toContain('no hay un mensaje en cuarentena con ID #7');
  });

  it('replay of a mail whose original is gone says so (exit 66) and leaves it in quarantine', async () => {
    const { env, config } = await cliEnv({ MAX_MESSAGE_BYTES: '600' });
    const file = path.join(env.DATA_DIR!, 'grande.eml');
    fs.writeFileSync(
      file,
      eml({ from: 'grande@cliente.co', subject: 'Adjunto pesado', id: 'gone@cliente.co', body: 'x'.repeat(2000) }),
    );
    expect((await runCli(['ingest', file], { env })).code).toBe(65);
    const db = openDatabase(config.database);
    try {
      expect(await db('raw_sources').del()).toBe(1);
    } finally {
      await db.destroy();
    }
    const replay = await runCli(['replay', '1'], { env: { ...env, MAX_MESSAGE_BYTES: '100000' } });
    expect(replay.code).toBe(66);
    expect(replay.stderr).toMatch(/#1: No se encuentra el original del mensaje: [0-9a-f]{12}; sigue en cuarentena/);
    expect(JSON.parse((await runCli(['quarantine', '--json'], { env })).stdout)).toMatchObject([
      { id: 1, reason: 'too_large' },
    ]);
  });

  it('exits 75 (EX_TEMPFAIL) with a one-line reason when the database is not there, so the MTA retries', async () => {
    const { env } = await cliEnv();
    // A PostgreSQL URL on a port where nothing listens: a real connection refusal, the retryable path.
    const r = await runCli(['ingest', '-'], {
      env: { ...env, DATABASE_URL: 'postgres://mesa@127.0.0.1:9/mesa' },
      stdin: eml({ from: 'a@cliente.co', subject: 'Hola', id: 'down@cliente.co', body: 'hola' }),
    });
    expect(r.code).toBe(75);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^mesa: fallo temporal, reintente más tarde: .*ECONNREFUSED/);
    expect(r.stdout).toBe(''); // knex's own connection warnings go to stderr, never into an MTA's answer
    // ...one line each, without the stack knex appends to them.
    expect(r.stderr.split('\n').filter((l) => /^\s+at /.test(l))).toEqual([]);
  });

  it('says to check DATABASE_URL when the server refuses the database, still with 75 so the MTA keeps the mail', async () => {
    const { env } = await cliEnv();
    // The local PostgreSQL answers, and has no such database: a setting to correct, not an outage.
    const url = (process.env.MESA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test').replace(
      /\/[^/]*$/,
      '/mesa_no_existe',
    );
    const r = await runCli(['ingest', '-'], {
      env: { ...env, DATABASE_URL: url },
      stdin: eml({ from: 'a@cliente.co', subject: 'Hola', id: 'nodb@cliente.co', body: 'hola' }),
    });
    expect(r.code).toBe(75);
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toBe(
      'mesa: no se pudo conectar a la base de datos (revise DATABASE_URL): database "mesa_no_existe" does not exist',
    );
    // knex's warning about it, once.
    expect(lines.filter((l) => l.startsWith('knex: ')).length).toBe(1);
  });

  it('says which DATA_DIR cannot be a folder, with 75, instead of hanging or «fallo temporal»', async () => {
    const { env, config } = await cliEnv();
    const file = path.join(config.dataDir, 'soy-un-archivo');
    fs.writeFileSync(file, 'x');
    const stdin = eml({ from: 'a@cliente.co', subject: 'Hola', id: 'datadir@cliente.co', body: 'hola' });
    // Under a file; and under /proc, where Node's recursive mkdir looped for ever (the test would time out).
    for (const [dataDir, why] of [
      [path.join(file, 'datos'), 'una parte de la ruta es un archivo, no una carpeta (ENOTDIR)'],
      ['/proc/mesa-datos', 'no se pueden crear carpetas ahí (ENOENT)'],
    ]) {
      const r = await runCli(['ingest', '-'], { env: { ...env, DATA_DIR: dataDir }, stdin, cwd: config.dataDir });
      expect(r.code).toBe(75);
      expect(r.stderr.trim().split('\n')).toEqual([
        `mesa: No se puede usar DATA_DIR: «${dataDir}»: ${why}`,
        'Revise DATA_DIR (.env).',
      ]);
    }
  });

  it('reads a message of an mbox over the limit as a stream, unquoted, and keeps it whole; replay takes it back', async () => {
    const { env, config } = await cliEnv({ MAX_MESSAGE_BYTES: '200000' });
    // A log of ~1.5 MB with mboxrd-quoted lines: the kept original is the message as sent, ">From " unquoted.
    const log = Array.from({ length: 40_000 }, (_, i) =>
      i % 1000 ? `10:00:${i} ERROR lote ${i} sin conciliar` : `>From lote ${i}`,
    );
    const big = eml({
      from: 'pedro@cliente.co',
      subject: 'Log en el buzón',
      id: 'mbig@cliente.co',
      body: log.join('\n'),
    });
    const small = eml({ from: 'ana@cliente.co', subject: 'Pequeño', id: 'msmall@cliente.co', body: 'Hola.' });
    const file = path.join(env.DATA_DIR!, 'export.mbox');
    fs.writeFileSync(
      file,
      [
        'From pedro@cliente.co Mon Dec  7 10:00:00 2026',
        big,
        'From ana@cliente.co Mon Dec  7 10:01:00 2026',
        small,
      ].join('\n'),
    );
    const sent = Buffer.from(big.replace(/^>From /gm, 'From '), 'utf8');
    expect(sent.length).toBeGreaterThan(1024 * 1024);
    const r = await runCli(['ingest', file], { env });
    expect(r.stdout).toMatch(/2 correos: 1 rechazado \(en cuarentena\), 1 aceptado\n/);
    const [q] = JSON.parse((await runCli(['quarantine', '--json'], { env })).stdout);
    expect(q).toMatchObject({ reason: 'too_large', size: sent.length, subject: 'Log en el buzón' });
    const sha = crypto.createHash('sha256').update(sent).digest('hex');
    expect(fs.readFileSync(path.join(config.dataDir, 'blobs', sha.slice(0, 2), sha.slice(2))).equals(sent)).toBe(true);
    const replay = await runCli(['replay', String(q.id)], {
      env: { ...env, MAX_MESSAGE_BYTES: String(4 * 1024 * 1024) },
    });
    expect(replay.code, replay.stderr).toBe(0);
    expect((await tickets(env)).map((t) => t.subject).sort()).toEqual(['Log en el buzón', 'Pequeño']);
  });

  it('reads every message of an mbox, undoing ">From " quoting', async () => {
    const { env } = await cliEnv();
    const mbox = [
      'From juan@cliente.co Mon Nov 23 10:00:00 2026',
      eml({
        from: 'juan@cliente.co',
        subject: 'Primero',
        id: 'mb1@cliente.co',
        body: 'Texto uno.\n>From the start it failed.\nFin.',
      }),
      'From maria@otra.co Mon Nov 23 10:05:00 2026',
      eml({ from: 'maria@otra.co', subject: 'Segundo', id: 'mb2@otra.co', body: 'Texto dos.' }),
      'From pedro@tercera.co Mon Nov 23 10:07:00 2026',
      eml({ from: 'pedro@tercera.co', subject: 'Tercero', id: 'mb3@tercera.co', body: 'Texto tres.' }),
    ].join('\n');
    const file = path.join(env.DATA_DIR!, 'buzon.mbox');
    fs.writeFileSync(file, mbox);
    const r = await runCli(['ingest', file], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/3 correos: 3 aceptados\n/);
    // Run again (after a crash, by hand): the summary says nothing new happened.
    const again = await runCli(['ingest', file], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/3 correos: 3 ya procesados antes \(sin cambios\)\n/);
    expect((await tickets(env)).map((t) => t.subject).sort()).toEqual(['Primero', 'Segundo', 'Tercero']);
    const first = (await tickets(env)).find((t) => t.subject === 'Primero')!;
    const show = JSON.parse((await runCli(['show', String(first.number), '--json'], { env })).stdout);
    expect(show.messages[0].bodyText).toBe('Texto uno.\nFrom the start it failed.\nFin.');
  });

  it('says a request held by the open-case limit is held, without a case, and mesa held lists it in Spanish', async () => {
    const { env } = await cliEnv({ MAX_OPEN_CASES_PER_ORG: '1' });
    const mail = (n: number) =>
      eml({ from: 'Juan <juan@cliente.co>', subject: `Problema ${n}`, id: `lim-${n}@cliente.co`, body: 'Falla.' });
    expect((await runCli(['ingest', '-'], { env, stdin: mail(1) })).stdout).toBe('stdin: caso nuevo #1\n');
    const held = await runCli(['ingest', '-'], { env, stdin: mail(2) });
    expect(held.code).toBe(0);
    expect(held.stdout).toBe(
      'stdin: retenido sin caso (mesa held): cliente.co tiene 1 caso abierto (límite 1) (solicitud retenida #1)\n',
    );
    const again = await runCli(['ingest', '-'], { env, stdin: mail(2) });
    expect(again.stdout).toBe(
      'stdin: retenido sin caso (mesa held): límite de casos abiertos de la organización [ya procesado antes]\n',
    );
    const list = await runCli(['held'], { env });
    expect(list.stdout).toMatch(/^ +1 {2}\S+ \S+ {2}retenida {3}límite de casos abiertos de la organización {2}/);
    expect(list.stdout).toContain('juan@cliente.co  «Problema 2»');
    expect(list.stdout).not.toMatch(/\bheld\b|undefined/);
  });

  it("mail with a forged From cannot fill an organization's limit for its customers who prove who they are", async () => {
    // Our receiving server writes Authentication-Results as mx.mesa.test; Gmail, Outlook and corporate mail pass DMARC.
    const { env } = await cliEnv({ MAX_OPEN_CASES_PER_ORG: '2', TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' });
    const forged = (n: number) =>
      eml({ from: `Gerencia <gerencia@acme.com.co>`, subject: `Urgente ${n}`, id: `forja-${n}@x.invalid`, body: 'x' });
    const proven = (n: number) =>
      eml({
        from: 'Laura Gómez <laura@acme.com.co>',
        subject: `No puedo facturar ${n}`,
        id: `laura-${n}@acme.com.co`,
        body: 'Desde ayer la factura sale rechazada.',
        extra: ['Authentication-Results: mx.mesa.test; dmarc=pass (p=reject) header.from=acme.com.co'],
      });
    const ingest = async (raw: string) => (await runCli(['ingest', '-'], { env, stdin: raw })).stdout;
    // The forger fills the limit: a third forged mail is held, as any mail over the limit.
    expect(await ingest(forged(1))).toBe('stdin: caso nuevo #1\n');
    expect(await ingest(forged(2))).toBe('stdin: caso nuevo #2\n');
    expect(await ingest(forged(3))).toMatch(
      /^stdin: retenido sin caso .*acme\.com\.co tiene 2 casos abiertos \(límite 2\)/,
    );
    // A customer whose mail proves its sender is counted only against cases opened the same way: none yet.
    expect(await ingest(proven(1))).toBe('stdin: caso nuevo #3\n');
    expect(await ingest(proven(2))).toBe('stdin: caso nuevo #4\n');
    // ...and the limit holds for them as well.
    expect(await ingest(proven(3))).toMatch(
      /^stdin: retenido sin caso .*acme\.com\.co tiene 2 casos abiertos \(límite 2\)/,
    );
    // A Authentication-Results the sender wrote itself (another authserv-id) proves nothing.
    const selfVouched = eml({
      from: 'Laura Gómez <laura@acme.com.co>',
      subject: 'Otra',
      id: 'laura-propia@x.invalid',
      body: 'x',
      extra: ['Authentication-Results: mx.acme.com.co; dmarc=pass header.from=acme.com.co'],
    });
    expect(await ingest(selfVouched)).toMatch(/^stdin: retenido sin caso .*tiene 4 casos abiertos \(límite 2\)/);
  });

  it('reads a Maildir (new/ and cur/, not tmp/) and a folder of .eml files', async () => {
    const { env } = await cliEnv();
    const md = path.join(env.DATA_DIR!, 'Maildir');
    for (const d of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(md, d), { recursive: true });
    fs.writeFileSync(
      path.join(md, 'new', '1700000000.M1P1.host'),
      eml({ from: 'a@uno.co', subject: 'Nuevo en new', id: 'md1@uno.co', body: 'uno' }),
    );
    fs.writeFileSync(
      path.join(md, 'cur', '1700000001.M2P1.host:2,S'),
      eml({ from: 'b@dos.co', subject: 'Leído en cur', id: 'md2@dos.co', body: 'dos' }),
    );
    fs.writeFileSync(
      path.join(md, 'tmp', '1700000002.M3P1.host'),
      eml({ from: 'c@tres.co', subject: 'A medio escribir', id: 'md3@tres.co', body: 'tres' }),
    );
    const r = await runCli(['ingest', md], { env });
    expect(r.code).toBe(0);
    expect((await tickets(env)).map((t) => t.subject).sort()).toEqual(['Leído en cur', 'Nuevo en new']);

    const dir = path.join(env.DATA_DIR!, 'correos');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'a.eml'),
      eml({ from: 'd@cuatro.co', subject: 'Desde carpeta', id: 'dir1@cuatro.co', body: 'cuatro' }),
    );
    fs.writeFileSync(path.join(dir, 'notas.pdf'), 'no es correo');
    expect((await runCli(['ingest', dir], { env })).code).toBe(0);
    expect((await tickets(env)).length).toBe(3);
  });

  it('reports a missing input file and exits 66', async () => {
    const { env } = await cliEnv();
    const r = await runCli(['ingest', path.join(env.DATA_DIR!, 'no-existe.eml')], { env });
    expect(r.code).toBe(66);
    expect(r.stderr).toMatch(/no-existe\.eml/);
  });
});

describe('configuration errors', { timeout: 120_000 }, () => {
  it('names every bad or missing key and exits 78', async () => {
    const { env } = await cliEnv();
    const r = await runCli(['tickets'], {
      env: { ...env, SUPPORT_ADDRESS: '', SECRET_KEY: 'corta', IMAP_PORT: 'abc', TIMEZONE: 'Marte/Olympus' },
    });
    expect(r.code).toBe(78);
    for (const key of ['SUPPORT_ADDRESS', 'SECRET_KEY', 'IMAP_PORT', 'TIMEZONE']) expect(r.stderr).toContain(`${key}:`);
    expect(r.stdout).toBe('');
  });
});
