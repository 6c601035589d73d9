import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { createApp } from '../../../src/app.ts';
import { silentLogger } from '../../../src/logger.ts';
import { mail } from '../../support/mail.ts';
import { cliEnv, runCli } from '../../support/cli.ts';

/** `mesa participants N` and `--remove`, from the real executable, on a case filed with `mesa ingest`. */
it('lists who is on a case and how each was added; --remove takes a Cc off the case and revokes their links', async () => {
  const { config, env } = await cliEnv({ TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' });
  const dir = path.join(env.DATA_DIR!, 'entrada');
  fs.mkdirSync(dir);
  fs.writeFileSync(
    path.join(dir, '1.eml'),
    mail(
      {
        From: 'Juan <juan@cliente.co>',
        To: 'soporte@mesa.test',
        Cc: 'marta@cliente.co',
        Subject: 'Error al exportar',
        'Message-ID': '<p-1@cliente.co>',
      },
      'El reporte sale vacío.',
    ),
  );
  // A consultant's answer (vouched for by the receiving server) mails, and so links, both customers.
  fs.writeFileSync(
    path.join(dir, '2.eml'),
    mail(
      {
        From: 'ana@mesa.test',
        To: 'soporte@mesa.test',
        Subject: 'RE: [Caso #1] Error al exportar',
        'Message-ID': '<p-2@mesa.test>',
        'Authentication-Results': 'mx.mesa.test; dmarc=pass header.from=mesa.test',
      },
      'Ya lo revisamos.',
    ),
  );
  expect((await runCli(['ingest', dir], { env })).code).toBe(0);

  const listed = await runCli(['participants', '1', '--json'], { env });
  expect(listed.code, listed.stderr).toBe(0);
  expect(JSON.parse(listed.stdout).map((p: any) => [p.address, p.role, p.addedBy])).toEqual([
    ['juan@cliente.co', 'requester', 'requester'],
    ['marta@cliente.co', 'cc', 'opening'],
  ]);
  const human = await runCli(['participants', '#1'], { env });
  expect(human.stdout).toMatch(/marta@cliente\.co\s+en copia\s+.*en el correo que abrió el caso/);
  expect(human.stdout).toMatch(/juan@cliente\.co\s+solicitante\s+.*abrió el caso/);

  const refused = await runCli(['participants', '1', '--remove', 'juan@cliente.co'], { env });
  expect(refused.code).toBe(65);
  expect(refused.stderr).toContain('juan@cliente.co es quien abrió el caso #1');
  expect((await runCli(['participants', '1', '--remove', 'nadie@cliente.co'], { env })).stderr).toContain(
    'nadie@cliente.co no está en el caso #1',
  );
  const missing = await runCli(['participants', '9', '--remove', 'marta@cliente.co'], { env });
  expect(missing.code, missing.stderr).toBe(66);

  const removed = await runCli(['participants', '1', '--remove', 'Marta@Cliente.co'], { env });
  expect(removed.code).toBe(0);
  expect(removed.stdout).toContain('marta@cliente.co ya no está en el caso #1; sus enlaces quedaron revocados.');
  const after = await runCli(['participants', '1', '--json'], { env });
  expect(after.code, after.stderr).toBe(0);
  expect(JSON.parse(after.stdout).map((p: any) => p.address)).toEqual(['juan@cliente.co']);

  const app = await createApp(config, silentLogger);
  try {
    const links = await app.db('links').whereLike('recipient', '%@cliente.co').orderBy('recipient');
    expect(links.map((l) => [l.recipient, l.revoked_at !== null, l.revoked_reason ?? null])).toEqual([
      ['juan@cliente.co', false, null],
      ['marta@cliente.co', true, 'quitado del caso'],
    ]);
    expect(await app.db('events').where({ type: 'participant_removed' }).first()).toMatchObject({
      to_value: 'marta@cliente.co',
    });
  } finally {
    await app.close();
  }
}, 120_000); // several real CLI processes, each paying its start-up

it("refuses a consultant's /cc of an address no one reads, and tells the consultant why", async () => {
  const { config, env } = await cliEnv({ TRUSTED_AUTHSERV_IDS: 'mx.mesa.test' });
  const dir = path.join(env.DATA_DIR!, 'entrada');
  fs.mkdirSync(dir);
  const opening = { From: 'Juan <juan@cliente.co>', To: 'soporte@mesa.test', Subject: 'No llega la factura' };
  fs.writeFileSync(path.join(dir, '1.eml'), mail({ ...opening, 'Message-ID': '<q-1@cliente.co>' }, 'No llega.'));
  // Copied from the bank's automatic notice: its bounces would come back to the case, and no one would read it.
  fs.writeFileSync(
    path.join(dir, '2.eml'),
    mail(
      {
        From: 'ana@mesa.test',
        To: 'soporte@mesa.test',
        Subject: 'RE: [Caso #1] No llega la factura',
        'Message-ID': '<q-2@mesa.test>',
        'Authentication-Results': 'mx.mesa.test; dmarc=pass header.from=mesa.test',
      },
      '/cc +MAILER-DAEMON@banco.com.co +noreply@banco.com.co\n\nLe pedimos al banco el reenvío.',
    ),
  );
  const ingested = await runCli(['ingest', dir], { env });
  expect(ingested.code, ingested.stderr).toBe(0);

  const listed = await runCli(['participants', '1', '--json'], { env });
  expect(JSON.parse(listed.stdout).map((p: any) => p.address)).toEqual(['juan@cliente.co']);
  const app = await createApp(config, silentLogger);
  try {
    const toAna = await app.db('outbox').where({ recipient: 'ana@mesa.test' }).select('mail_json');
    const told = toAna.map((r: any) => String(r.mail_json)).join('\n');
    expect(told).toContain('mailer-daemon@banco.com.co es una dirección automática que nadie lee');
    expect(told).toContain('noreply@banco.com.co es una dirección automática que nadie lee');
    // The reply went no further than the case file: the customer was not written to with it.
    const toJuan = await app.db('outbox').where({ recipient: 'juan@cliente.co' }).select('kind');
    expect(toJuan.map((r: any) => r.kind)).toEqual(['confirmation']);
  } finally {
    await app.close();
  }
});
