import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { isMesaError } from '../../../src/errors.ts';

const base = { SUPPORT_ADDRESS: 'soporte@acme.co', SECRET_KEY: '3f9c1e0b7a6d4c2e8f5b9a1d0c7e6f4a2b8d9c1e' };

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (isMesaError(err, 'CONFIG_INVALID')) return err.message;
    throw err;
  }
  return '';
}

describe('config', () => {
  it('applies the documented defaults and freezes the result', () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({ timezone: 'America/Bogota', locale: 'es', supportName: 'Soporte', mailboxes: [] });
    expect(c.database.client).toBe('better-sqlite3');
    expect(c.database.filename).toMatch(/data\/mesa\.sqlite$/);
    expect(Object.isFrozen(c) && Object.isFrozen(c.limits)).toBe(true);
  });

  it('refuses a processed folder that is the folder being read (each mail would be read again, without end)', () => {
    const imap = { ...base, IMAP_HOST: 'imap.acme.co', IMAP_USER: 'soporte', IMAP_PASSWORD: 'x' };
    for (const folder of ['INBOX', 'inbox', ' Inbox '])
      expect(problems({ ...imap, IMAP_PROCESSED_FOLDER: folder })).toContain(
        'IMAP_PROCESSED_FOLDER: es la carpeta que Mesa lee (IMAP_MAILBOX=INBOX): cada correo registrado volvería',
      );
    expect(problems({ ...imap, IMAP_MAILBOX: 'Soporte', IMAP_PROCESSED_FOLDER: 'soporte' })).toContain(
      'IMAP_PROCESSED_FOLDER: es la carpeta que Mesa lee (IMAP_MAILBOX=Soporte)',
    );
    const fallback = {
      ...imap,
      IMAP_MAILBOX: 'Soporte',
      FALLBACK_ADDRESS: 'acceso@acme.co',
      FALLBACK_IMAP_HOST: 'imap.acme.co',
      FALLBACK_IMAP_USER: 'acceso',
      FALLBACK_IMAP_PASSWORD: 'x',
    };
    expect(problems({ ...fallback, IMAP_PROCESSED_FOLDER: 'INBOX' })).toContain(
      'IMAP_PROCESSED_FOLDER: es la carpeta que Mesa lee (FALLBACK_IMAP_MAILBOX=INBOX)',
    );
    expect(problems({ ...fallback, IMAP_PROCESSED_FOLDER: 'INBOX/Procesados' })).toBe('');
    expect(problems({ ...imap, IMAP_PROCESSED_FOLDER: 'Procesados' })).toBe('');
  });

  it("keeps the desk's own addresses apart: support, fallback, consultants, administrator", () => {
    expect(problems({ ...base, FALLBACK_ADDRESS: 'Soporte@Acme.co' })).toContain(
      'FALLBACK_ADDRESS: es la misma que SUPPORT_ADDRESS: todo correo sería un caso de acceso urgente',
    );
    expect(problems({ ...base, CONSULTANTS: 'ana@acme.co, soporte@acme.co' })).toContain(
      'CONSULTANTS: soporte@acme.co es SUPPORT_ADDRESS: los avisos a ese consultor llegarían al buzón que Mesa lee',
    );
    expect(problems({ ...base, FALLBACK_ADDRESS: 'acceso@acme.co', CONSULTANTS: 'acceso@acme.co' })).toContain(
      'CONSULTANTS: acceso@acme.co es FALLBACK_ADDRESS',
    );
    expect(problems({ ...base, ADMIN_ADDRESS: 'soporte@acme.co' })).toContain('ADMIN_ADDRESS: es SUPPORT_ADDRESS');
    // An administrator who is also a consultant is a person with one address: fine.
    expect(
      problems({
        ...base,
        FALLBACK_ADDRESS: 'acceso@acme.co',
        CONSULTANTS: 'ana@acme.co',
        ADMIN_ADDRESS: 'ana@acme.co',
      }),
    ).toBe('');
  });

  it('names every bad or missing key in one message', () => {
    const msg = problems({
      IMAP_PORT: 'abc',
      TIMEZONE: 'Mars/Olympus',
      CONSULTANTS: 'ana@acme.co,no-es-correo',
      IMAP_SECURE: 'quizas',
    });
    for (const key of ['SUPPORT_ADDRESS', 'SECRET_KEY', 'IMAP_PORT', 'TIMEZONE', 'CONSULTANTS', 'IMAP_SECURE'])
      expect(msg).toContain(key);
    // A new .env lacks these two: the message says what to put there.
    expect(msg).toContain('SECRET_KEY: falta (obligatoria): genere una con openssl rand -hex 32');
    expect(msg).toContain('SUPPORT_ADDRESS: falta (obligatoria): la dirección a la que escriben los clientes');
  });

  it("says what is wrong in Spanish, zod's own checks too, and names a bad consultant address", () => {
    const msg = problems({
      ...base,
      IMAP_PORT: 'abc',
      LOCALE: 'fr',
      LINK_TTL_DAYS: '-1',
      HTTP_PORT: '99999',
      WEB_POSTS_PER_IP: '2.5',
      PUBLIC_URL: 'soporte',
      CONSULTANTS: 'ana@acme.co,ana@',
    });
    expect(msg).toContain('IMAP_PORT: debe ser un número entero de 1 a 65535');
    expect(msg).toContain('LOCALE: debe ser "es" o "en"');
    expect(msg).toContain('LINK_TTL_DAYS: debe ser un número entero igual o mayor que 1');
    expect(msg).toContain('HTTP_PORT: debe ser un número entero de 0 a 65535');
    expect(msg).toContain('WEB_POSTS_PER_IP: debe ser un número entero igual o mayor que 1');
    expect(msg).toContain('PUBLIC_URL: debe ser una dirección web completa, p. ej. https://soporte.suempresa.com');
    expect(msg).toContain('CONSULTANTS: «ana@» no es una dirección de correo válida');
    expect(msg).not.toMatch(/Invalid|expected|Too small|NaN|>=/);
  });

  it('refuses a SECRET_KEY that is short or predictable, naming SECRET_KEY, and takes a random one', () => {
    const weak = {
      short: 'a1b2c3d4e5f6',
      oneLetter: 'x'.repeat(40),
      twoLetters: 'ab'.repeat(20),
      fewDistinct: 'password'.repeat(4) + 'passwor',
      repeatedHex: '0123456789abcdef0123456789abcdef',
      alphabet: 'abcdefghijklmnopqrstuvwxyz0123456789',
      keyboard: 'qwertyuiopqwertyuiopqwertyuiopqw',
    };
    for (const [name, key] of Object.entries(weak)) {
      const msg = problems({ ...base, SECRET_KEY: key });
      expect(msg, name).toMatch(/SECRET_KEY: (debe tener al menos 32 caracteres|es demasiado predecible)/);
      expect(msg, name).toContain('openssl rand -hex 32');
    }
    expect(problems({ ...base, SECRET_KEY: 'x'.repeat(40) })).toContain('solo 1 caracteres distintos');
    // What the docs say to use, at both lengths, and a long passphrase.
    for (const bytes of [16, 32]) {
      for (let i = 0; i < 200; i++)
        expect(problems({ ...base, SECRET_KEY: crypto.randomBytes(bytes).toString('hex') })).toBe('');
    }
    expect(problems({ ...base, SECRET_KEY: crypto.randomBytes(32).toString('base64') })).toBe('');
    // A real `openssl rand -hex 16` output with only 8 distinct digits (about 1 key in 10,000 is like it) was refused.
    expect(problems({ ...base, SECRET_KEY: '6ed2ab2b92eedd60669ede9bade0eb0d' })).toBe('');
    expect(problems({ ...base, SECRET_KEY: 'correct horse battery staple mesa' })).toBe('');
  });

  it('requires credentials when a mailbox is configured, and accepts an OAuth2 token instead of a password', () => {
    expect(problems({ ...base, IMAP_HOST: 'imap.gmail.com' })).toMatch(/IMAP_USER.*\n.*IMAP_PASSWORD/s);
    const c = loadConfig({
      ...base,
      IMAP_HOST: 'imap.gmail.com',
      IMAP_USER: 'soporte@acme.co',
      IMAP_ACCESS_TOKEN: 'ya29.x',
      FALLBACK_IMAP_HOST: 'imap.gmail.com',
      FALLBACK_IMAP_USER: 'acceso@acme.co',
      FALLBACK_IMAP_PASSWORD: 'p',
      FALLBACK_ADDRESS: 'acceso@acme.co',
    });
    expect(c.mailboxes.map((m) => [m.name, m.port, m.secure, Boolean(m.accessToken)])).toEqual([
      ['support', 993, true, true],
      ['fallback', 993, true, false],
    ]);
  });

  it('reads TRUST_PROXY as off, every hop, a hop count or a list of addresses and ranges, and names a bad entry', () => {
    const trust = (v?: string) =>
      loadConfig({ ...base, ...(v === undefined ? {} : { TRUST_PROXY: v }) }).web.trustProxy;
    expect([trust(), trust('false'), trust('true'), trust('2')]).toEqual([false, false, true, 2]);
    expect(trust(' 10.0.0.1, 10.1.0.0/16,loopback,fd00::/8 ')).toEqual([
      '10.0.0.1',
      '10.1.0.0/16',
      'loopback',
      'fd00::/8',
    ]);
    expect(problems({ ...base, TRUST_PROXY: '10.0.0.1,balanceador' })).toMatch(/TRUST_PROXY: .*balanceador/);
    expect(problems({ ...base, TRUST_PROXY: '10.0.0.0/33' })).toContain('TRUST_PROXY');
  });

  it('reads MAILBOX_BACKLOG_DAYS (default 14) as days or "all", for every mailbox, and names a bad value', () => {
    const imap = { ...base, IMAP_HOST: 'imap.gmail.com', IMAP_USER: 'soporte@acme.co', IMAP_PASSWORD: 'p' };
    const days = (v?: string) =>
      loadConfig({ ...imap, ...(v === undefined ? {} : { MAILBOX_BACKLOG_DAYS: v }) }).mailboxes[0].backlogDays;
    expect([days(), days('0'), days(' 30 '), days('all'), days('ALL')]).toEqual([14, 0, 30, 'all', 'all']);
    for (const bad of ['-1', '1.5', 'todo', '1e3'])
      expect(problems({ ...imap, MAILBOX_BACKLOG_DAYS: bad })).toContain(
        'MAILBOX_BACKLOG_DAYS: debe ser un número entero de días (0 o más) o "all"',
      );
  });

  it('takes a MONITORING_TOKEN of 16 characters or more, and names a short one', () => {
    expect(loadConfig(base).web.monitoringToken).toBeUndefined();
    expect(loadConfig({ ...base, MONITORING_TOKEN: ' vigilancia-0123456789 ' }).web.monitoringToken).toBe(
      'vigilancia-0123456789',
    );
    expect(problems({ ...base, MONITORING_TOKEN: 'corto' })).toContain(
      'MONITORING_TOKEN: debe tener al menos 16 caracteres',
    );
  });

  it("reads SQLITE_LOCK_WAIT_SECONDS (default 30) as SQLite's lock wait in ms, and names a bad value", () => {
    expect(loadConfig(base).database).toMatchObject({ client: 'better-sqlite3', lockWaitMs: 30_000 });
    expect(loadConfig({ ...base, SQLITE_LOCK_WAIT_SECONDS: '5' }).database).toMatchObject({ lockWaitMs: 5_000 });
    expect(problems({ ...base, SQLITE_LOCK_WAIT_SECONDS: '0' })).toContain('SQLITE_LOCK_WAIT_SECONDS');
  });

  it('selects PostgreSQL from a postgres:// DATABASE_URL', () => {
    expect(loadConfig({ ...base, DATABASE_URL: 'postgres://u@db/mesa' }).database).toEqual({
      client: 'pg',
      url: 'postgres://u@db/mesa',
    });
  });
});
