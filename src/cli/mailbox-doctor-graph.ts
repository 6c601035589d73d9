import type { App } from '../app.ts';
import type { MailboxConfig } from '../config.ts';
import { isMesaError } from '../errors.ts';
import { MAILBOX_ARGUMENT } from '../mailboxes/explain.ts';
import { GraphClient, GraphError } from '../mailboxes/graph-client.ts';

/**
 * `mesa mailbox doctor` for a mailbox on Microsoft Graph: a token, the Graph permissions in it, and one read of the
 * folder. Each failing line says in Spanish what to fix in Entra ID or in .env. Nothing is read or sent but the
 * folder's name and count; tokens are never printed.
 */
export async function doctorGraph(
  app: App,
  mb: MailboxConfig,
  say: (ok: boolean, text: string) => void,
): Promise<void> {
  const name = mb.name;
  const graph = mb.graph!;
  const login = `mesa mailbox login ${MAILBOX_ARGUMENT[name]}`;
  process.stdout.write(`Buzón de ${MAILBOX_ARGUMENT[name]} (${graph.user}), Microsoft Graph en ${graph.baseUrl}\n`);
  let token: string;
  try {
    token = (await app.tokens.accessToken(name)).token;
    say(true, 'hay un token de acceso válido');
  } catch (err) {
    say(false, `sin token de acceso: ${isMesaError(err) ? err.message : String(err)}. Ejecute: ${login}`);
    return;
  }
  // Graph's permissions: in the token itself when it is a JWT (`scp` delegated, `roles` app-only), else as granted.
  const stored = (await app.tokens.states()).find((s) => s.mailbox === name)?.scope;
  const granted = permissionsIn(token) ?? stored?.split(' ').filter(Boolean);
  const sends = name === 'support' && !app.config.outbound.smtp;
  const needed = [mb.processedFolder ? 'Mail.ReadWrite' : 'Mail.Read', ...(sends ? ['Mail.Send'] : [])];
  if (granted) {
    const have = new Set(granted.map((s) => s.split('/').pop()!.toLowerCase()));
    const missing = needed.filter(
      (p) => !have.has(p.toLowerCase()) && !(p === 'Mail.Read' && have.has('mail.readwrite')),
    );
    say(
      missing.length === 0,
      missing.length
        ? `el token no trae los permisos de Microsoft Graph: ${missing.join(', ')}. ` +
            'En Entra ID, Permisos de API → Microsoft Graph, agréguelos (delegados, o de aplicación con acceso de ' +
            `aplicación), conceda el consentimiento de administrador y ejecute: ${login}`
        : `el token trae los permisos de Microsoft Graph (${needed.join(', ')})`,
    );
  }
  const client = new GraphClient({
    settings: graph,
    mailbox: name,
    tokens: app.tokens,
    log: app.logger,
    throttleWaits: 1,
  });
  try {
    const folder = await client.json<{ displayName?: string; totalItemCount?: number }>(
      client.userUrl(`/mailFolders/${encodeURIComponent(graph.folder)}?$select=id,displayName,totalItemCount`),
    );
    say(
      true,
      `Microsoft Graph lee la carpeta ${folder.displayName ?? graph.folder} (${folder.totalItemCount ?? '?'} correos)`,
    );
  } catch (err) {
    say(false, explainRead(err, mb));
  }
}

function explainRead(err: unknown, mb: MailboxConfig): string {
  const g = mb.graph!;
  if (!(err instanceof GraphError)) {
    return isMesaError(err)
      ? err.message
      : `no se pudo conectar a ${g.baseUrl}: ${(err as Error)?.message ?? String(err)}. ` +
          'Revise GRAPH_BASE_URL y la red hacia Microsoft';
  }
  const what = `(${err.status} ${err.graphCode})`;
  if (err.status === 401)
    return (
      `Microsoft Graph rechaza el token ${what}: la aplicación debe pedir permisos de Microsoft Graph ` +
      `(no de Exchange Online). Revise OAUTH_SCOPES y ejecute: mesa mailbox login ${MAILBOX_ARGUMENT[mb.name]}`
    );
  if (err.status === 403)
    return (
      `Microsoft Graph niega el acceso al buzón ${g.user} ${what}: conceda Mail.ReadWrite y Mail.Send con ` +
      'consentimiento de administrador; con acceso de aplicación, revise que la directiva de acceso de aplicación ' +
      '(New-ApplicationAccessPolicy) incluya este buzón'
    );
  if (err.status === 404)
    return (
      `Microsoft Graph no encuentra el buzón o la carpeta ${what}: ` +
      `revise ${mb.name === 'support' ? '' : 'FALLBACK_'}GRAPH_USER (${g.user}) ` +
      `y ${mb.name === 'support' ? '' : 'FALLBACK_'}GRAPH_FOLDER (${g.folder})`
    );
  if (err.status === 429 || err.status >= 500)
    return `Microsoft Graph no está disponible ahora ${what}: vuelva a intentarlo en unos minutos`;
  return `Microsoft Graph rechazó la lectura de la carpeta ${what}: ${err.detail ?? err.message}`;
}

/** The permissions a JWT access token carries; undefined for an opaque token (nothing to read in it). */
function permissionsIn(token: string): string[] | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as {
      scp?: string;
      roles?: string[];
    };
    if (typeof claims.scp === 'string') return claims.scp.split(' ').filter(Boolean);
    return Array.isArray(claims.roles) ? claims.roles : undefined;
  } catch {
    return undefined;
  }
}
