import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { linkMac, parseToken } from '../../../src/links/tokens.ts';

// The README's quick start as a new user runs it: `mesa demo`, then `mesa tickets` and `mesa show` in the same
// folder, with no .env of their own. SQLite only: the demo is the embedded default by definition.
describe('mesa demo (quick start)', () => {
  it('files the sample cases, mails the outbox to .eml files, and leaves a .env so the next commands work', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-demo-'));
    const env = { DATA_DIR: path.join(dir, 'data') };
    const demo = await runCli(['demo'], { env, cwd: dir });
    expect(demo.code).toBe(0);
    expect(demo.stdout).toContain('Se creó .env con valores de demostración');
    expect(demo.stdout).toMatch(/Consultar mi caso.*: http:\/\/localhost:8080\/caso\/\S+/);
    expect(fs.readdirSync(path.join(dir, 'data', 'outbox-eml')).length).toBeGreaterThan(0);
    const dotenv = fs.readFileSync(path.join(dir, '.env'), 'utf8');
    expect(dotenv).toMatch(/^SECRET_KEY=[0-9a-f]{64}$/m);

    const list = await runCli(['tickets', '--json'], { env, cwd: dir });
    expect(list.code).toBe(0);
    const cases = JSON.parse(list.stdout) as Array<{ number: number; priority: string; relatedNumber: number | null }>;
    expect(cases.map((c) => c.number).sort()).toEqual([1, 2, 3]);
    expect(cases.find((c) => c.number === 2)?.priority).toBe('alta'); // the mail to the locked-out fallback address
    expect(cases.find((c) => c.number === 3)?.relatedNumber).toBe(1); // a stranger's reply to case #1

    const show = await runCli(['show', '1', '--json'], { env, cwd: dir });
    expect(JSON.parse(show.stdout).messages.map((m: { role: string }) => m.role)).toEqual([
      'customer',
      'customer',
      'system',
    ]);

    // A second demo keeps the user's .env and finds the samples already processed (no duplicates).
    const again = await runCli(['demo'], { env, cwd: dir });
    expect(again.stdout).not.toContain('Se creó .env');
    expect(fs.readFileSync(path.join(dir, '.env'), 'utf8')).toBe(dotenv);
    const after = JSON.parse((await runCli(['tickets', '--json'], { env, cwd: dir })).stdout);
    expect(after).toHaveLength(3);
  });

  it('with a .env that lacks SECRET_KEY, signs with a random key of its own in its data folder, never a built-in one', async () => {
    const keys: string[] = [];
    for (let run = 0; run < 2; run++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-demo-'));
      fs.writeFileSync(path.join(dir, '.env'), '# sin clave\nSUPPORT_NAME="Soporte Demo"\n');
      const env = { DATA_DIR: path.join(dir, 'data') };
      const demo = await runCli(['demo'], { env, cwd: dir });
      expect(demo.code).toBe(0);
      const keyFile = path.join(dir, 'data', 'demo-secret-key');
      expect(demo.stdout).toContain(`la demo usa una clave aleatoria propia, guardada en ${keyFile}`);
      const key = fs.readFileSync(keyFile, 'utf8').trim();
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      expect(fs.statSync(keyFile).mode & 0o077).toBe(0);
      // The link the demo mailed is signed with that key.
      const token = /Consultar mi caso.*: http:\/\/localhost:8080\/caso\/(\S+)/.exec(demo.stdout)![1];
      const parts = parseToken(token)!;
      expect(
        linkMac(key, {
          number: parts.number,
          recipient: 'juan.perez@ferreteria-andina.co',
          generation: parts.generation,
          expiresAt: parts.expiresAt,
        }),
      ).toBe(parts.mac);
      // The .env is the user's: untouched. A second demo in the same folder keeps the key (its links still open).
      expect(fs.readFileSync(path.join(dir, '.env'), 'utf8')).not.toContain('SECRET_KEY');
      await runCli(['demo'], { env, cwd: dir });
      expect(fs.readFileSync(keyFile, 'utf8').trim()).toBe(key);
      keys.push(key);
    }
    expect(keys[0]).not.toBe(keys[1]);
  });

  it('refuses to run where a real desk is configured, and writes nothing there', async () => {
    // The folder of a working installation: its .env sends by SMTP and reads a mailbox.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-demo-'));
    const realEnv = [
      'SUPPORT_ADDRESS=soporte@empresa.invalid',
      'CONSULTANTS=ana@empresa.invalid',
      `SECRET_KEY=${'5a1e'.repeat(4)}${'c0de'.repeat(4)}${'9f3b'.repeat(4)}${'71d2'.repeat(4)}`,
      'SMTP_HOST=smtp.empresa.invalid',
      'IMAP_HOST=imap.empresa.invalid',
      'IMAP_USER=soporte',
      'IMAP_PASSWORD=clave',
      '',
    ].join('\n');
    fs.writeFileSync(path.join(dir, '.env'), realEnv);
    const env = { DATA_DIR: path.join(dir, 'data') };
    const demo = await runCli(['demo'], { env, cwd: dir });
    expect(demo.code).toBe(78);
    expect(demo.stderr).toContain('mesa demo no corre aquí');
    expect(demo.stderr).toContain('SMTP_HOST, IMAP_HOST');
    expect(demo.stderr).toMatch(/cd \/tmp\/mesa-demo && node \S+cli\.js demo/);
    expect(fs.readFileSync(path.join(dir, '.env'), 'utf8')).toBe(realEnv);
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);

    // Configured by the environment alone (a systemd unit), with no .env: the demo does not leave one behind either.
    // The second, a desk fed by its MTA (`mesa ingest -`) whose fallback mailbox is on Microsoft 365: nothing else
    // says so.
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-demo-'));
    for (const [env, named] of [
      [{ DATABASE_URL: 'postgres://mesa@db.empresa.co/mesa' }, '(DATABASE_URL)'],
      [{ FALLBACK_MAILBOX_TRANSPORT: 'graph' }, '(FALLBACK_MAILBOX_TRANSPORT=graph)'],
    ] as const) {
      const refused = await runCli(['demo'], { env: { DATA_DIR: path.join(bare, 'data'), ...env }, cwd: bare });
      expect(refused.code).toBe(78);
      expect(refused.stderr).toContain(named);
      expect(fs.readdirSync(bare)).toEqual([]);
    }
  });
});
