import os from 'node:os';
import { loadConfig, type Config } from '../../../../src/config.ts';
import type { Facts, FilterContext } from '../../../../src/inbound/filters/types.ts';
import type { InboundMail, MailSource } from '../../../../src/inbound/mail.ts';
import { parseMail } from '../../../../src/inbound/parse.ts';
import { organizationOf } from '../../../../src/tickets/organization.ts';
import type { TicketView } from '../../../../src/tickets/types.ts';
import { testEnv } from '../../../support/app.ts';

/** Filters are pure: they get a real parsed mail (raw text through parseMail) and a hand-built context. */
export const config: Config = loadConfig(testEnv(os.tmpdir(), { REOPEN_WINDOW_DAYS: '30' }));

export async function mailOf(
  headers: Record<string, string | string[]>,
  body = 'Hola, tengo un problema.',
  contentType = 'text/plain; charset=utf-8',
): Promise<InboundMail> {
  const lines: string[] = [];
  const all = {
    From: 'Juan Pérez <juan@cliente.co>',
    To: 'soporte@mesa.test',
    Subject: 'Consulta',
    'Message-ID': '<m1@cliente.co>',
    ...headers,
  };
  for (const [k, v] of Object.entries(all)) {
    for (const value of Array.isArray(v) ? v : [v]) if (value !== '') lines.push(`${k}: ${value}`);
  }
  if (!/^content-type$/im.test(Object.keys(all).join('\n')))
    lines.push('MIME-Version: 1.0', `Content-Type: ${contentType}`);
  return parseMail(Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'utf8'));
}

export function ctxOf(over: Partial<FilterContext> = {}): FilterContext {
  return {
    config,
    now: Date.UTC(2026, 10, 22, 12),
    source: { kind: 'stdin' } as MailSource,
    previous: [],
    referencedTickets: [],
    embeddedTickets: [],
    returnedMail: [],
    ...over,
  };
}

export function ticket(over: Partial<TicketView> = {}): TicketView {
  const requester = over.requester ?? 'juan@cliente.co';
  return {
    id: 10,
    number: 7,
    subject: 'Factura mal cargada',
    requester,
    organization: organizationOf(requester),
    priority: 'media',
    stage: 'analisis',
    waitingOn: 'soporte',
    createdAt: Date.UTC(2026, 10, 1),
    updatedAt: Date.UTC(2026, 10, 2),
    participants: [{ address: requester, role: 'requester' }],
    ...over,
  };
}

export function customer(address: string): Facts['sender'] {
  return { address, name: '', role: 'customer', organization: organizationOf(address) };
}
