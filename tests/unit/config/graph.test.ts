import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { isMesaError } from '../../../src/errors.ts';

const base = { SUPPORT_ADDRESS: 'soporte@acme.co', SECRET_KEY: '7c2e9a4f1b8d3e6a0c5f9b2d4e7a1c8f3b6d0e9a' };
const TENANT = '0e4b6c1a-1111-4222-8333-444455556666';
const microsoft = { OAUTH_PROVIDER: 'microsoft', OAUTH_TENANT: TENANT, OAUTH_CLIENT_ID: 'app' };

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    if (isMesaError(err, 'CONFIG_INVALID')) return err.message;
    throw err;
  }
  return '';
}

describe('Microsoft Graph as a mailbox transport in the config', () => {
  it('builds a Graph mailbox without IMAP: OAuth2 implied, Graph scopes, the default base URL and folder', () => {
    const [mb] = loadConfig({
      ...base,
      SUPPORT_MAILBOX_TRANSPORT: 'graph',
      GRAPH_USER: 'soporte@acme.co',
      ...microsoft,
    }).mailboxes;
    expect(mb).toMatchObject({
      name: 'support',
      transport: 'graph',
      user: 'soporte@acme.co',
      mailbox: 'inbox',
      host: '',
    });
    expect(mb.graph).toEqual({
      baseUrl: 'https://graph.microsoft.com/v1.0',
      user: 'soporte@acme.co',
      folder: 'inbox',
      processedFolder: undefined,
    });
    expect(mb.credential).toMatchObject({ kind: 'oauth2', flow: 'device' });
    expect(mb.credential.kind === 'oauth2' && mb.credential.scopes).toEqual([
      'https://graph.microsoft.com/Mail.ReadWrite',
      'https://graph.microsoft.com/Mail.Send',
      'offline_access',
    ]);
    const app = loadConfig({
      ...base,
      SUPPORT_MAILBOX_TRANSPORT: 'graph',
      GRAPH_USER: 'soporte@acme.co',
      ...microsoft,
      OAUTH_FLOW: 'client_credentials',
      OAUTH_CLIENT_SECRET: 's',
    }).mailboxes[0];
    expect(app.credential).toMatchObject({ scopes: ['https://graph.microsoft.com/.default'] });
  });

  it('chooses per mailbox: support on IMAP, fallback on Graph with its own user and folder', () => {
    const config = loadConfig({
      ...base,
      IMAP_HOST: 'mail.acme.co',
      IMAP_USER: 'soporte',
      IMAP_PASSWORD: 'p',
      FALLBACK_ADDRESS: 'acceso@acme.co',
      FALLBACK_MAILBOX_TRANSPORT: 'graph',
      FALLBACK_GRAPH_USER: 'acceso@acme.co',
      FALLBACK_GRAPH_FOLDER: 'AAMkAD-carpeta',
      GRAPH_BASE_URL: 'http://127.0.0.1:9999/v1.0/',
      GRAPH_PROCESSED_FOLDER: 'Procesados',
      ...Object.fromEntries(Object.entries(microsoft).map(([k, v]) => [`FALLBACK_${k}`, v])),
    });
    expect(config.mailboxes.map((m) => [m.name, m.transport ?? 'imap'])).toEqual([
      ['support', 'imap'],
      ['fallback', 'graph'],
    ]);
    expect(config.mailboxes[1].graph).toEqual({
      baseUrl: 'http://127.0.0.1:9999/v1.0',
      user: 'acceso@acme.co',
      folder: 'AAMkAD-carpeta',
      processedFolder: 'Procesados',
    });
    expect(config.mailboxes[1].credential).toMatchObject({ kind: 'oauth2', provider: 'microsoft' });
  });

  it('names every bad value by its key, in Spanish', () => {
    expect(problems({ ...base, SUPPORT_MAILBOX_TRANSPORT: 'ews' })).toContain(
      'SUPPORT_MAILBOX_TRANSPORT: debe ser imap o graph',
    );
    expect(problems({ ...base, SUPPORT_MAILBOX_TRANSPORT: 'graph', ...microsoft })).toContain(
      'GRAPH_USER: falta (obligatoria con SUPPORT_MAILBOX_TRANSPORT=graph)',
    );
    expect(
      problems({
        ...base,
        SUPPORT_MAILBOX_TRANSPORT: 'graph',
        GRAPH_USER: 'u',
        ...microsoft,
        GRAPH_BASE_URL: 'http://graph.example.com/v1.0',
      }),
    ).toContain('GRAPH_BASE_URL: debe usar https:// (http:// solo hacia esta misma máquina)');
    expect(
      problems({
        ...base,
        SUPPORT_MAILBOX_TRANSPORT: 'graph',
        GRAPH_USER: 'u',
        ...microsoft,
        GRAPH_BASE_URL: 'no es url',
      }),
    ).toContain('GRAPH_BASE_URL: debe ser una URL');
    expect(
      problems({ ...base, SUPPORT_MAILBOX_TRANSPORT: 'graph', GRAPH_USER: 'u', IMAP_AUTH: 'password', ...microsoft }),
    ).toContain('IMAP_AUTH: Microsoft Graph solo acepta OAuth2');
    expect(
      problems({
        ...base,
        SUPPORT_MAILBOX_TRANSPORT: 'graph',
        GRAPH_USER: 'u',
        IMAP_HOST: 'outlook.office365.com',
        IMAP_USER: 'u',
        ...microsoft,
      }),
    ).toContain('IMAP_HOST: sobra con SUPPORT_MAILBOX_TRANSPORT=graph');
    expect(problems({ ...base, SUPPORT_MAILBOX_TRANSPORT: 'graph', GRAPH_USER: 'u' })).toContain(
      'OAUTH_PROVIDER: falta',
    );
    expect(problems({ ...base, FALLBACK_MAILBOX_TRANSPORT: 'graph', FALLBACK_GRAPH_USER: 'u' })).toContain(
      'FALLBACK_ADDRESS: falta (obligatoria cuando FALLBACK_MAILBOX_TRANSPORT=graph)',
    );
  });

  it('refuses a processed folder that is the folder being read, by name or as the inbox of a Spanish tenant', () => {
    const graph = { ...base, SUPPORT_MAILBOX_TRANSPORT: 'graph', GRAPH_USER: 'u', ...microsoft };
    for (const folder of ['Inbox', 'Bandeja de entrada'])
      expect(problems({ ...graph, GRAPH_PROCESSED_FOLDER: folder })).toContain(
        'GRAPH_PROCESSED_FOLDER: es la carpeta que Mesa lee (GRAPH_FOLDER=inbox)',
      );
    expect(problems({ ...graph, GRAPH_FOLDER: 'Soporte', GRAPH_PROCESSED_FOLDER: 'soporte' })).toContain(
      'GRAPH_PROCESSED_FOLDER: es la carpeta que Mesa lee (GRAPH_FOLDER=Soporte)',
    );
    expect(problems({ ...graph, GRAPH_PROCESSED_FOLDER: 'Procesados' })).toBe('');
  });

  it('lets a mail sent by Graph carry at most 2 MB of files, by default and when set', () => {
    const graph = { ...base, SUPPORT_MAILBOX_TRANSPORT: 'graph', GRAPH_USER: 'soporte@acme.co', ...microsoft };
    expect(loadConfig(graph).outbound.attachMaxBytes).toBe(2 * 1024 * 1024);
    expect(loadConfig({ ...graph, MAIL_ATTACH_MAX_BYTES: '1000000' }).outbound.attachMaxBytes).toBe(1_000_000);
    expect(problems({ ...graph, MAIL_ATTACH_MAX_BYTES: '3000000' })).toContain(
      'MAIL_ATTACH_MAX_BYTES: con el correo de salida por Microsoft Graph, a lo sumo 2097152',
    );
    // Mail that leaves by SMTP is not Graph's: the SMTP default, and any value.
    const smtp = { ...graph, SMTP_HOST: 'smtp.acme.co' };
    expect(loadConfig(smtp).outbound.attachMaxBytes).toBe(10 * 1024 * 1024);
    expect(loadConfig({ ...smtp, MAIL_ATTACH_MAX_BYTES: '3000000' }).outbound.attachMaxBytes).toBe(3_000_000);
  });
});
