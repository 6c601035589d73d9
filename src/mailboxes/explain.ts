/**
 * What a credential state or a provider's error code means, in Spanish, for `mesa mailbox status`, /healthz, the log
 * and the alert mail. Microsoft's AADSTS numbers are the ones its documentation lists for these situations.
 */

export type MailboxName = 'support' | 'fallback';

/** The mailbox as the operator names it on the command line: `mesa mailbox login soporte`. */
export const MAILBOX_ARGUMENT: Record<MailboxName, string> = { support: 'soporte', fallback: 'respaldo' };

export function mailboxFromArgument(arg: string): MailboxName | undefined {
  const a = arg.trim().toLowerCase();
  if (a === 'soporte' || a === 'support') return 'support';
  if (a === 'respaldo' || a === 'fallback') return 'fallback';
  return undefined;
}

const AADSTS: Record<string, string> = {
  AADSTS50173: 'la contraseña de la cuenta cambió o se revocaron sus sesiones',
  AADSTS700082: 'el permiso caducó por inactividad (90 días sin usarse)',
  AADSTS70043: 'el permiso caducó por una directiva de acceso condicional',
  AADSTS65001: 'el administrador no dio (o retiró) el consentimiento a la aplicación',
  AADSTS50076: 'la organización exige un segundo factor para esta cuenta',
  AADSTS7000222: 'el secreto de la aplicación (OAUTH_CLIENT_SECRET) caducó',
  AADSTS7000215: 'el secreto de la aplicación (OAUTH_CLIENT_SECRET) no es válido',
  AADSTS700016: 'la aplicación (OAUTH_CLIENT_ID) no existe en ese inquilino',
};

const CODES: Record<string, string> = {
  invalid_grant:
    'el permiso que se le dio a Mesa ya no vale (revocado, contraseña cambiada, consentimiento retirado o caducado)',
  invalid_client:
    'el proveedor no reconoce la aplicación: revise OAUTH_CLIENT_ID y OAUTH_CLIENT_SECRET (¿caducó el secreto?)',
  unauthorized_client: 'la aplicación no tiene permitido este tipo de acceso en el proveedor',
  access_denied: 'la persona rechazó el inicio de sesión o el administrador bloqueó la aplicación',
  consent_required: 'falta el consentimiento para los permisos de correo',
  interaction_required: 'el proveedor pide que la persona vuelva a iniciar sesión',
  login_required: 'el proveedor pide que la persona vuelva a iniciar sesión',
  invalid_scope: 'el proveedor no concede los permisos pedidos (OAUTH_SCOPES)',
  expired_token: 'el código de inicio de sesión caducó antes de usarse',
};

/** One sentence: what happened, and what the admin must do about it. */
export function explainReauth(mailbox: MailboxName, code: string): string {
  const aadsts = /AADSTS\d+/.exec(code)?.[0];
  const base = code.split(' ')[0];
  const what = (aadsts && AADSTS[aadsts]) ?? CODES[base] ?? `el proveedor rechazó la renovación del token (${code})`;
  const fix =
    base === 'invalid_client' || aadsts === 'AADSTS7000222' || aadsts === 'AADSTS7000215' || aadsts === 'AADSTS700016'
      ? 'Corrija la aplicación en el proveedor y el archivo .env, y luego ejecute'
      : 'Inicie sesión de nuevo con';
  return `Buzón de ${MAILBOX_ARGUMENT[mailbox]}: ${what}. ${fix}: mesa mailbox login ${MAILBOX_ARGUMENT[mailbox]}`;
}

export const STATE_TEXT: Record<string, string> = {
  ok: 'sesión iniciada',
  needs_login: 'falta iniciar sesión (mesa mailbox login)',
  needs_reauth: 'hay que iniciar sesión de nuevo',
  error: 'el proveedor no responde; se reintenta',
};
