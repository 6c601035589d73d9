/**
 * The one error catalogue (after nodemailer's lib/errors.js). Every failure Mesa reports carries a stable
 * `code`, whether it is worth retrying (`retryable`, the "temporary vs permanent" split that RT's mailgate
 * expresses with exit 75), and the underlying `cause`. A test pins this table: changing a code is a
 * deliberate, visible act.
 */
export const ERRORS = {
  CONFIG_INVALID: { retryable: false, message: 'Configuración inválida' },
  DB_UNAVAILABLE: { retryable: true, message: 'La base de datos no responde' },
  DB_BUSY: { retryable: true, message: 'Otro proceso tuvo ocupada la base de datos más de SQLITE_LOCK_WAIT_SECONDS' },
  DB_CONFLICT: {
    retryable: true,
    message: 'La base de datos deshizo la transacción por un conflicto con otra (bloqueo mutuo)',
  },
  STORAGE_FAILED: { retryable: true, message: 'No se pudo guardar en DATA_DIR' },
  MAIL_TOO_LARGE: { retryable: false, message: 'El mensaje supera MAX_MESSAGE_BYTES' },
  MAIL_UNPARSEABLE: { retryable: false, message: 'El mensaje no se pudo interpretar como MIME' },
  MAIL_PARSE_TIMEOUT: { retryable: false, message: 'El análisis del mensaje tardó demasiado' },
  PARSER_UNAVAILABLE: { retryable: true, message: 'El analizador de correo no está disponible' },
  MAIL_NO_SENDER: { retryable: false, message: 'El mensaje no tiene remitente (From) utilizable' },
  MAIL_EMPTY: { retryable: false, message: 'El mensaje está vacío' },
  ATTACHMENT_TOO_LARGE: { retryable: false, message: 'Un adjunto supera MAX_ATTACHMENT_BYTES' },
  DATA_DIR_UNUSABLE: { retryable: true, message: 'No se puede usar DATA_DIR' },
  TEXT_TOO_LONG: { retryable: false, message: 'El texto supera el máximo de caracteres de la página' },
  IMAP_AUTH_FAILED: { retryable: true, message: 'El servidor IMAP rechazó las credenciales' },
  IMAP_UNAVAILABLE: { retryable: true, message: 'El servidor IMAP no está disponible' },
  IMAP_FOLDER_MISSING: { retryable: true, message: 'La carpeta que Mesa debe leer no existe en el servidor IMAP' },
  MAILBOX_SIGN_IN_REQUIRED: { retryable: true, message: 'El buzón necesita iniciar sesión (mesa mailbox login)' },
  OAUTH_PROVIDER_UNAVAILABLE: { retryable: true, message: 'El proveedor de identidad no respondió' },
  OAUTH_LOGIN_FAILED: { retryable: false, message: 'No se completó el inicio de sesión' },
  GRAPH_AUTH_FAILED: { retryable: true, message: 'Microsoft Graph rechazó el token del buzón' },
  GRAPH_UNAVAILABLE: { retryable: true, message: 'Microsoft Graph no respondió o pidió esperar' },
  GRAPH_REFUSED: { retryable: false, message: 'Microsoft Graph rechazó la solicitud' },
  SMTP_TEMPORARY: { retryable: true, message: 'Fallo temporal del servidor SMTP' },
  SMTP_PERMANENT: { retryable: false, message: 'El servidor SMTP rechazó el mensaje' },
  TICKET_NOT_FOUND: { retryable: false, message: 'El caso no existe' },
  TRANSITION_REFUSED: { retryable: false, message: 'Cambio de etapa no permitido' },
  QUARANTINE_NOT_FOUND: { retryable: false, message: 'No hay un mensaje en cuarentena con ese ID' },
  ORIGINAL_MISSING: { retryable: false, message: 'No se encuentra el original del mensaje' },
  INPUT_NOT_FOUND: { retryable: false, message: 'No se encontró el archivo o carpeta' },
  LINK_INVALID: { retryable: false, message: 'Enlace inválido' },
  LINK_EXPIRED: { retryable: false, message: 'Enlace vencido o revocado' },
  COMMAND_INVALID: { retryable: false, message: 'Comando no reconocido' },
  PARTICIPANT_REFUSED: { retryable: false, message: 'No se puede quitar a esa persona del caso' },
  RATE_LIMITED: { retryable: true, message: 'Demasiadas solicitudes' },
} as const satisfies Record<string, { retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class MesaError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly detail?: string;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message, options);
    this.name = 'MesaError';
    this.code = code;
    this.retryable = ERRORS[code].retryable;
    this.detail = detail;
  }
}

export function isMesaError(err: unknown, code?: ErrorCode): err is MesaError {
  return err instanceof MesaError && (code === undefined || err.code === code);
}

/** Anything thrown by a driver (disk full, connection reset) is treated as temporary unless catalogued. */
export function isRetryable(err: unknown): boolean {
  return err instanceof MesaError ? err.retryable : true;
}
