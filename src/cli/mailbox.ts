import http from 'node:http';
import type { AddressInfo } from 'node:net';
import readline from 'node:readline';
import type { Config, MailboxConfig } from '../config.ts';
import { appOnly } from '../config-credentials.ts';
import { holderProcess } from '../db/holders.ts';
import { isMesaError } from '../errors.ts';
import { MAILBOX_ARGUMENT, mailboxFromArgument, STATE_TEXT, type MailboxName } from '../mailboxes/explain.ts';
import { lastReads, mailboxReaders, mailboxStatuses, type MailboxStatus } from '../mailboxes/status.ts';
import { withApp } from './commands.ts';
import { EXIT } from './env.ts';

/**
 * `mesa mailbox login <soporte|respaldo>`: the device authorization grant (RFC 8628). Prints where to go and the
 * code, waits while the person signs in (openid-client polls at the server's interval and slows down when told),
 * and stores the tokens. A running `mesa start` picks them up by itself. Tokens are never printed.
 */
export async function loginCommand(config: Config, arg: string): Promise<number> {
  const name = mailboxFromArgument(arg);
  const mb = name && config.mailboxes.find((m) => m.name === name);
  if (!name || !mb) {
    process.stderr.write(`mesa: "${arg}" no es un buzón configurado (use soporte o respaldo)\n`);
    return EXIT.USAGE;
  }
  if (mb.credential.kind !== 'oauth2') {
    process.stderr.write(
      `mesa: el buzón de ${MAILBOX_ARGUMENT[name]} usa ${kindText(mb)}; ` +
        `para OAuth2 ponga ${name === 'support' ? '' : 'FALLBACK_'}IMAP_AUTH=oauth2 en .env\n`,
    );
    return EXIT.CONFIG;
  }
  if (appOnly(mb.credential.flow)) {
    // Nobody signs in: the command asks for a token now (after a new client secret, that brings the mailbox back).
    return withApp(config, async (app) => {
      try {
        const t = await app.tokens.renewAppToken(name);
        process.stdout.write(
          `Listo: el buzón de ${MAILBOX_ARGUMENT[name]} usa acceso de aplicación y el proveedor entregó un token ` +
            `(vence el ${when(t.expiresAt)}; Mesa lo renueva sola).\n`,
        );
        return EXIT.OK;
      } catch (err) {
        process.stderr.write(
          `mesa: el proveedor no entregó un token para el buzón de ${MAILBOX_ARGUMENT[name]}: ` +
            `${isMesaError(err) ? err.message : String(err)}\n`,
        );
        return EXIT.TEMPFAIL;
      }
    });
  }
  if (mb.credential.flow === 'browser') return browserLoginCommand(config, name, mb);
  return withApp(config, async (app) => {
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    try {
      const login = await app.tokens.startLogin(name);
      const minutes = Math.round(login.expiresInSeconds / 60);
      process.stdout.write(
        [
          `Para conectar el buzón de ${MAILBOX_ARGUMENT[name]} (${mb.user}):`,
          `  1. Abra en el navegador: ${login.verificationUri}`,
          `  2. Escriba este código: ${login.userCode}`,
          `  3. Inicie sesión con la cuenta ${mb.user} y acepte los permisos que pide la aplicación.`,
          `Esperando a que termine (el código vence en ${minutes} minutos; Ctrl+C para cancelar)…`,
          '',
        ].join('\n'),
      );
      const tokens = await login.complete(stop.signal);
      process.stdout.write(
        `Listo: el buzón de ${MAILBOX_ARGUMENT[name]} quedó conectado. ` +
          `Su acceso vence el ${when(tokens.expiresAt)} y Mesa lo renueva solo antes de esa hora.\n`,
      );
      return EXIT.OK;
    } catch (err) {
      const reason = stop.signal.aborted
        ? 'cancelado'
        : isMesaError(err)
          ? err.message
          : String((err as Error)?.message ?? err);
      process.stderr.write(`mesa: no se conectó el buzón de ${MAILBOX_ARGUMENT[name]}: ${reason}\n`);
      return isMesaError(err) && err.retryable ? EXIT.TEMPFAIL : EXIT.SOFTWARE;
    } finally {
      process.removeListener('SIGINT', onSignal);
    }
  });
}

/**
 * OAUTH_FLOW=browser (Google): authorization code with PKCE and a loopback redirect (RFC 8252). Mesa listens on
 * 127.0.0.1 for the browser's return; when the browser runs on another machine (Mesa on a server), the person copies
 * the address the browser ended on (it will not load there) and pastes it here. Whichever comes first is used.
 */
async function browserLoginCommand(config: Config, name: MailboxName, mb: MailboxConfig): Promise<number> {
  return withApp(config, async (app) => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const input = readline.createInterface({ input: process.stdin, terminal: false });
    try {
      const login = await app.tokens.startBrowserLogin(name, redirectUri);
      process.stdout.write(
        [
          `Para conectar el buzón de ${MAILBOX_ARGUMENT[name]} (${mb.user}):`,
          '  1. Abra esta dirección en el navegador e inicie sesión con esa cuenta:',
          `     ${login.url}`,
          '  2. Acepte los permisos. Si el navegador está en esta misma máquina, Mesa termina sola.',
          `     Si está en otra, el navegador no podrá abrir la página final (${redirectUri}…): ` +
            'copie esa dirección completa,',
          '     péguela aquí y pulse Enter.',
          '',
        ].join('\n'),
      );
      const callback = await new Promise<URL>((resolve) => {
        server.on('request', (req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('Listo: puede cerrar esta ventana y volver a la terminal.\n');
          resolve(new URL(req.url ?? '/', redirectUri));
        });
        input.on('line', (line) => {
          if (line.trim().startsWith(redirectUri)) resolve(new URL(line.trim()));
          else if (line.trim())
            process.stdout.write(
              `Esa dirección no empieza por ${redirectUri}; cópiela completa de la barra del navegador.\n`,
            );
        });
      });
      const tokens = await login.complete(callback);
      process.stdout.write(
        `Listo: el buzón de ${MAILBOX_ARGUMENT[name]} quedó conectado. ` +
          `Su acceso vence el ${when(tokens.expiresAt)} y Mesa lo renueva solo antes de esa hora.\n`,
      );
      return EXIT.OK;
    } catch (err) {
      process.stderr.write(
        `mesa: no se conectó el buzón de ${MAILBOX_ARGUMENT[name]}: ` +
          `${isMesaError(err) ? err.message : String((err as Error)?.message ?? err)}\n`,
      );
      return isMesaError(err) && err.retryable ? EXIT.TEMPFAIL : EXIT.SOFTWARE;
    } finally {
      input.close();
      server.closeAllConnections();
      server.close();
    }
  });
}

/** `mesa mailbox status`: every configured mailbox's credential kind, state, expiry and last error. */
export async function statusCommand(config: Config, opts: { json?: boolean }): Promise<number> {
  if (config.mailboxes.length === 0) {
    process.stdout.write('No hay buzones configurados (IMAP_HOST o SUPPORT_MAILBOX_TRANSPORT=graph).\n');
    return EXIT.OK;
  }
  return withApp(config, async (app) => {
    const credentials = await mailboxStatuses(app);
    // What the readers of `mesa start` last recorded: a password says nothing until the server takes it.
    const reads = await lastReads(app);
    const readers = await mailboxReaders(app);
    const list = credentials.map((c) => {
      const r = reads.get(c.mailbox);
      const reader = readers.get(c.mailbox);
      return {
        ...c,
        // host:pid of the `mesa start` that holds the mailbox's lease, and until when it holds it without renewing.
        readBy: reader && {
          holder: reader.holder,
          renewedAt: new Date(reader.renewedAt).toISOString(),
          expiresAt: new Date(reader.expiresAt).toISOString(),
        },
        lastReadAt: r?.lastSuccessAt ? new Date(r.lastSuccessAt).toISOString() : undefined,
        lastReadError: r?.lastError,
        backlogBefore: r?.backlogBefore ? new Date(r.backlogBefore).toISOString() : undefined,
      };
    });
    if (opts.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
    else for (const s of list) process.stdout.write(describe(s) + '\n');
    return list.some((s) => s.state === 'needs_reauth' || s.state === 'needs_login') ? EXIT.TEMPFAIL : EXIT.OK;
  });
}

type Described = MailboxStatus & {
  lastReadAt?: string;
  lastReadError?: string;
  backlogBefore?: string;
  readBy?: { holder: string; renewedAt: string; expiresAt: string };
};

function describe(s: Described): string {
  // Only an OAuth2 credential has a state of its own (tokens held, refused, missing); a password or a fixed token is
  // proven by the server's answer, below as the last read.
  const state = s.kind.startsWith('oauth2') ? ` — ${STATE_TEXT[s.state] ?? s.state}` : '';
  const lines = [`${MAILBOX_ARGUMENT[s.mailbox as MailboxName]} (${s.user}): ${s.kind}${state}`];
  lines.push(`  transporte: ${s.transport === 'graph' ? 'Microsoft Graph' : 'IMAP/SMTP'}`);
  // Never read and no error either: nothing has tried (mesa start is not running, or has not got to it yet).
  const never = s.lastReadError ? 'ninguna todavía' : 'ninguna todavía (¿corre mesa start?)';
  lines.push(`  última lectura correcta: ${s.lastReadAt ? when(Date.parse(s.lastReadAt)) : never}`);
  if (s.lastReadError) lines.push(`  error al leer: ${s.lastReadError}`);
  if (s.readBy) {
    const holder = holderProcess(s.readBy.holder).text;
    const since = when(Date.parse(s.readBy.renewedAt));
    lines.push(
      Date.parse(s.readBy.expiresAt) > Date.now()
        ? `  lo lee: ${holder} (mesa start)`
        : `  lo leía: ${holder}, sin renovar desde ${since}: otra instancia puede tomarlo`,
    );
  }
  if (s.backlogBefore)
    lines.push(
      `  primera lectura: lo llegado antes de ${when(Date.parse(s.backlogBefore))} quedó en el buzón sin casos ` +
        '(MAILBOX_BACKLOG_DAYS)',
    );
  if (s.expiresAt) lines.push(`  acceso vence: ${when(Date.parse(s.expiresAt))}`);
  if (s.clientSecretExpiresAt) lines.push(`  secreto de la aplicación vence: ${s.clientSecretExpiresAt.slice(0, 10)}`);
  if (s.lastErrorCode || s.lastError)
    lines.push(`  último error: ${[s.lastErrorCode, s.lastError].filter(Boolean).join(' — ')}`);
  return lines.join('\n');
}

function kindText(mb: MailboxConfig): string {
  return mb.credential.kind === 'password' ? 'contraseña' : 'un token fijo (IMAP_ACCESS_TOKEN)';
}

function when(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}
