import { describe, expect, it } from 'vitest';
import { ERRORS, MesaError, isRetryable } from '../../src/errors.ts';

describe('error catalogue', () => {
  it('is pinned: codes and their retryable flags change only on purpose', () => {
    const table = Object.fromEntries(Object.entries(ERRORS).map(([code, e]) => [code, e.retryable]));
    expect(table).toMatchInlineSnapshot(`
      {
        "ATTACHMENT_TOO_LARGE": false,
        "COMMAND_INVALID": false,
        "CONFIG_INVALID": false,
        "DATA_DIR_UNUSABLE": true,
        "DB_BUSY": true,
        "DB_CONFLICT": true,
        "DB_UNAVAILABLE": true,
        "GRAPH_AUTH_FAILED": true,
        "GRAPH_REFUSED": false,
        "GRAPH_UNAVAILABLE": true,
        "IMAP_AUTH_FAILED": true,
        "IMAP_FOLDER_MISSING": true,
        "IMAP_UNAVAILABLE": true,
        "INPUT_NOT_FOUND": false,
        "LINK_EXPIRED": false,
        "LINK_INVALID": false,
        "MAILBOX_SIGN_IN_REQUIRED": true,
        "MAIL_EMPTY": false,
        "MAIL_NO_SENDER": false,
        "MAIL_PARSE_TIMEOUT": false,
        "MAIL_TOO_LARGE": false,
        "MAIL_UNPARSEABLE": false,
        "OAUTH_LOGIN_FAILED": false,
        "OAUTH_PROVIDER_UNAVAILABLE": true,
        "ORIGINAL_MISSING": false,
        "PARSER_UNAVAILABLE": true,
        "PARTICIPANT_REFUSED": false,
        "QUARANTINE_NOT_FOUND": false,
        "RATE_LIMITED": true,
        "SMTP_PERMANENT": false,
        "SMTP_TEMPORARY": true,
        "STORAGE_FAILED": true,
        "TEXT_TOO_LONG": false,
        "TICKET_NOT_FOUND": false,
        "TRANSITION_REFUSED": false,
      }
    `);
  });

  it('carries code, retryable flag, detail and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new MesaError('IMAP_UNAVAILABLE', 'imap.example.com:993', { cause });
    expect(err).toMatchObject({ code: 'IMAP_UNAVAILABLE', retryable: true, detail: 'imap.example.com:993', cause });
    expect(err.message).toBe('El servidor IMAP no está disponible: imap.example.com:993');
    expect(isRetryable(new MesaError('MAIL_UNPARSEABLE'))).toBe(false);
    expect(isRetryable(new TypeError('driver'))).toBe(true);
  });
});
