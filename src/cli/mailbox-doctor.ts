import nodemailer from 'nodemailer';
import type { Config } from '../config.ts';
import { folderKey } from '../config-mailboxes.ts';
import { createImapClient, describeImapError } from '../inbound/index.ts';
import { isMesaError } from '../errors.ts';
import { MAILBOX_ARGUMENT, mailboxFromArgument } from '../mailboxes/explain.ts';
import { withApp } from './commands.ts';
import { doctorGraph } from './mailbox-doctor-graph.ts';
import { EXIT } from './env.ts';

/**
 * `mesa mailbox doctor <soporte|respaldo>`: in one go, whether the mailbox has a token, whether the provider granted
 * the scopes asked for, whether IMAP accepts it and has the folder to read, and (for the support mailbox with
 * SMTP_AUTH=oauth2) whether SMTP does. Each line says in Spanish what to fix. Nothing is read or sent; tokens are
 * never printed. A mailbox on Microsoft Graph is checked by ./mailbox-doctor-graph.ts.
 */
export async function doctorCommand(config: Config, arg: string): Promise<number> {
  const name = mailboxFromArgument(arg);
  const mb = name && config.mailboxes.find((m) => m.name === name);
  if (!name || !mb) {
    process.stderr.write(`mesa: "${arg}" no es un buzón configurado (use soporte o respaldo)\n`);
    return EXIT.USAGE;
  }
  const login = `mesa mailbox login ${MAILBOX_ARGUMENT[name]}`;
  return withApp(config, async (app) => {
    let failed = 0;
    const say = (ok: boolean, text: string) => {
      if (!ok) failed++;
      process.stdout.write(`${ok ? '✔' : '✘'} ${text}\n`);
    };
    if (mb.transport === 'graph') {
      await doctorGraph(app, mb, say);
      process.stdout.write(failed ? `${failed} problema(s) por resolver.\n` : 'Todo en orden.\n');
      return failed ? EXIT.TEMPFAIL : EXIT.OK;
    }
    process.stdout.write(`Buzón de ${MAILBOX_ARGUMENT[name]} (${mb.user}), ${mb.host}:${mb.port}\n`);
    let token: string | undefined;
    if (mb.credential.kind === 'oauth2') {
      try {
        token = (await app.tokens.accessToken(name)).token;
        say(true, 'hay un token de acceso válido');
      } catch (err) {
        say(false, `sin token de acceso: ${isMesaError(err) ? err.message : String(err)}. Ejecute: ${login}`);
      }
      const granted = (await app.tokens.states()).find((s) => s.mailbox === name)?.scope?.split(' ');
      // Providers may leave `scope` out of the token response (RFC 6749 §5.1: when it equals the request).
      const missing = granted
        ? mb.credential.scopes.filter((s) => !granted.includes(s) && s !== 'offline_access' && s !== 'openid')
        : [];
      if (granted)
        say(
          missing.length === 0,
          missing.length
            ? `el proveedor no concedió: ${missing.join(', ')}. ` +
                `Agregue esos permisos a la aplicación, dé el consentimiento y ejecute: ${login}`
            : 'el proveedor concedió los permisos pedidos',
        );
    }
    if (mb.credential.kind !== 'oauth2' || token) {
      const client = createImapClient(mb, app.logger, token);
      client.on('error', () => undefined);
      try {
        await client.connect();
        say(true, 'el servidor IMAP acepta la credencial');
        // STATUS reads no mail: only whether the folder Mesa is to read is there (false: the server did not say).
        const box = await client.status(mb.mailbox, { messages: true }).catch((err: Error) => err);
        const there = box !== false && !(box instanceof Error);
        say(
          there,
          there
            ? `la carpeta «${mb.mailbox}» existe (${box.messages ?? 0} correos)`
            : `no se puede abrir la carpeta «${mb.mailbox}»${box ? ` (${box.message})` : ''}: revise ${folderKey(mb)}`,
        );
        await client.logout();
      } catch (err) {
        const e = describeImapError(err);
        client.close();
        say(
          false,
          e.code === 'IMAP_AUTH_FAILED'
            ? `el servidor IMAP rechaza la credencial (${e.detail ?? e.code}). ` +
                `Revise que IMAP esté activado para ${mb.user} y los permisos de la aplicación ` +
                '(IMAP.AccessAsUser.All o https://mail.google.com/)'
            : `no se pudo conectar a ${mb.host}:${mb.port}: ${e.detail ?? e.message}`,
        );
      }
    }
    const smtp = config.outbound.smtp;
    if (name === 'support' && smtp?.auth === 'oauth2' && token) {
      const transporter = nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        auth: { type: 'OAuth2', user: smtp.user!, accessToken: token },
        connectionTimeout: 15_000,
        greetingTimeout: 15_000,
      });
      try {
        await transporter.verify();
        say(true, 'el servidor SMTP acepta el token');
      } catch (err) {
        const e = err as { response?: string; message?: string };
        say(
          false,
          `el servidor SMTP rechaza el token (${e.response ?? e.message}). ` +
            `En Microsoft 365 active «SMTP autenticado» para ${smtp.user}; revise el permiso SMTP.Send`,
        );
      } finally {
        transporter.close();
      }
    }
    process.stdout.write(failed ? `${failed} problema(s) por resolver.\n` : 'Todo en orden.\n');
    return failed ? EXIT.TEMPFAIL : EXIT.OK;
  });
}
