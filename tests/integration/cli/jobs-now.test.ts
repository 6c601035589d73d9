import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { cliEnv, runCli } from '../../support/cli.ts';
import { freePort } from '../../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink.ts';

/**
 * Issue 23: `mesa jobs --now T` with T in the future decides what happens as of T (here: the consultants' morning
 * digest of that day), but the mail it causes is due at once: `mesa outbox --send` right after delivers it to the
 * real SMTP sink, instead of keeping it pending until T.
 */
let sink: SmtpSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

/** A Wednesday at 10:00 in Bogotá, two to three weeks from now. */
function futureBusinessMorning(): string {
  const d = new Date(Date.now() + 14 * 86_400_000);
  while (d.getUTCDay() !== 3) d.setUTCDate(d.getUTCDate() + 1);
  return `${d.toISOString().slice(0, 10)}T10:00:00-05:00`;
}

it('queues the mail of mesa jobs --now <future> as due at once, and mesa outbox --send delivers it', async () => {
  sink = await startSmtpSink();
  const { env } = await cliEnv({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(sink.port), SMTP_SECURE: 'false' });
  const file = path.join(env.DATA_DIR!, 'caso.eml');
  fs.writeFileSync(
    file,
    [
      'From: Juan <juan@cliente.co>',
      'To: soporte@mesa.test',
      'Subject: No carga la factura',
      'Message-ID: <jn-1@cliente.co>',
      '',
      'La factura 123 no carga.',
      '',
    ].join('\r\n'),
  );
  expect((await runCli(['ingest', file], { env })).code).toBe(0);
  const first = await runCli(['outbox', '--send'], { env });
  expect(first.code).toBe(0);
  expect(first.stdout).toContain('Procesados 3 correo(s): 3 enviado(s).\n');
  const before = sink.messages.length;
  expect(before).toBe(3); // the confirmation and a notice to each consultant

  const when = futureBusinessMorning();
  const jobs = await runCli(['jobs', '--now', when, '--json'], { env });
  expect(jobs.code).toBe(0);
  expect(JSON.parse(jobs.stdout).digests.sort()).toEqual(['ana@mesa.test', 'beto@mesa.test']);

  const send = await runCli(['outbox', '--send', '--json'], { env });
  const report = JSON.parse(send.stdout);
  expect(report.unsent).toEqual([]);
  const digests = sink.messages.slice(before);
  expect(digests.map((m) => m.to).sort()).toEqual(['ana@mesa.test', 'beto@mesa.test']);
  // The simulated time is still what the mail says it is about.
  expect(new Date(digests[0].header('date')!).getTime()).toBe(Date.parse(when));
});

it('mesa outbox --send with the SMTP server down says none left, and why, instead of «Procesados 3»', async () => {
  const { env } = await cliEnv({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(await freePort()), SMTP_SECURE: 'false' });
  const file = path.join(env.DATA_DIR!, 'caso.eml');
  fs.writeFileSync(
    file,
    'From: juan@cliente.co\r\nSubject: Sin correo\r\nMessage-ID: <jn-2@cliente.co>\r\n\r\nHola\r\n',
  );
  expect((await runCli(['ingest', file], { env })).code).toBe(0);
  const down = await runCli(['outbox', '--send'], { env });
  expect(down.code).toBe(0);
  expect(down.stdout).toContain('Procesados 3 correo(s): 0 enviado(s); 3 sin enviar, con el motivo abajo.\n');
  expect(down.stdout).toMatch(/pendiente .*\n {8}error: .*ECONNREFUSED/);
  expect(JSON.parse((await runCli(['outbox', '--json'], { env })).stdout).counts).toEqual({ pending: 3 });
});

it('names the SLA lights it changed in Spanish, as the digest does', async () => {
  const { env } = await cliEnv();
  const file = path.join(env.DATA_DIR!, 'caso.eml');
  const mail = ['From: Juan <juan@cliente.co>', 'To: soporte@mesa.test', 'Subject: No carga', '', 'Nada.', ''];
  fs.writeFileSync(file, mail.join('\r\n'));
  expect((await runCli(['ingest', file], { env })).code).toBe(0);
  const jobs = await runCli(['jobs', '--now', futureBusinessMorning()], { env });
  expect(jobs.code).toBe(0);
  expect(jobs.stdout).toMatch(/Semáforo SLA cambiado: +#1 (verde|—)→rojo\n/);
  expect(jobs.stdout).not.toMatch(/green|yellow|red\b/);
});
