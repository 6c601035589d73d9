import { describe, expect, it } from 'vitest';
import { parseCommandLines } from '../../../src/inbound/filters/commands.ts';
import { authResultsPass } from '../../../src/inbound/filters/consultant-auth.ts';
import { makeMessageId, parseOurMessageId, recipientTag, sentTo } from '../../../src/mail/message-id.ts';
import { threadIndex } from '../../../src/outbound/headers.ts';
import { failedRecipients } from '../../../src/mail/bounces.ts';

/** The pure parts behind consultants by mail: signed Message-IDs, Authentication-Results, command lines. */
const SECRET = 'test-secret-key-0123456789abcdef0123456789';
/** A mail whose header starts with these fields, in this order, then what the sender wrote. */
const headers = (ar: string[], below: string[] = []) => ({
  raw: Buffer.from(
    [...ar.map((v) => `Authentication-Results: ${v}`), ...below, 'From: ana@mesa.test', 'Subject: x', '', 'Hola'].join(
      '\r\n',
    ),
  ),
});

describe('signed Message-IDs', () => {
  it('encode the case and the recipient, and only verify with our key', () => {
    const id = makeMessageId(SECRET, 'mesa.test', 42, 'Ana@Mesa.test');
    const parsed = parseOurMessageId(SECRET, `<${id}>`)!;
    expect(parsed.number).toBe(42);
    expect(sentTo(SECRET, parsed, 'ana@mesa.test')).toBe(true);
    expect(sentTo(SECRET, parsed, 'beto@mesa.test')).toBe(false);
    expect(id).not.toContain('ana');
    expect(parseOurMessageId('otra-clave-0123456789abcdef0123456789', id)).toBeUndefined();
    // Another case number or another recipient tag with the same signature: refused.
    expect(parseOurMessageId(SECRET, id.replace('mesa.42.', 'mesa.43.'))).toBeUndefined();
    expect(
      parseOurMessageId(
        SECRET,
        id.replace(recipientTag(SECRET, 'ana@mesa.test'), recipientTag(SECRET, 'beto@mesa.test')),
      ),
    ).toBeUndefined();
    expect(parseOurMessageId(SECRET, 'CAF=abc@mail.gmail.com')).toBeUndefined();
  });

  it('share the Outlook conversation header per case', () => {
    const a = Buffer.from(threadIndex(SECRET, 7, 1_700_000_000_000, 1_700_000_100_000), 'base64');
    const b = Buffer.from(threadIndex(SECRET, 7, 1_700_000_000_000, 1_700_900_000_000), 'base64');
    const c = Buffer.from(threadIndex(SECRET, 8, 1_700_000_000_000, 1_700_000_100_000), 'base64');
    expect(a.length).toBe(27);
    expect(a.subarray(0, 22)).toEqual(b.subarray(0, 22));
    expect(a.subarray(6, 22)).not.toEqual(c.subarray(6, 22));
  });
});

describe('Authentication-Results (RFC 8601)', () => {
  const trusted = ['mx.mesa.test'];
  it.each([
    [['mx.mesa.test; dmarc=pass (p=reject) header.from=mesa.test'], 'dmarc'],
    [['mx.mesa.test; dkim=pass header.d=mesa.test header.s=s1; spf=fail smtp.mailfrom=x@otro.example'], 'dkim'],
    [['mx.mesa.test; dkim=pass header.i=@correo.mesa.test'], 'dkim'],
    [['mx.mesa.test; spf=pass smtp.mailfrom=ana@mesa.test'], 'spf'],
    [['mx.mesa.test; dkim=pass header.d=otro.example; dmarc=fail header.from=mesa.test'], undefined],
    [['mx.atacante.example; dmarc=pass header.from=mesa.test'], undefined],
    [['MX.MESA.TEST; dmarc=pass header.from=mesa.test'], 'dmarc'],
    [['mx.mesa.test; dmarc=pass header.from=otro.example'], undefined],
    [['mx.mesa.test; none'], undefined],
  ])('%j → %s', (ar, expected) => {
    expect(authResultsPass(headers(ar), trusted, 'ana@mesa.test')).toBe(expected);
  });
  it('believes only the results above the first Received (or above as many as AUTH_RESULTS_RECEIVED_HOPS says are ours)', () => {
    const received =
      'Received: from mx.atacante.example by mx.mesa.test (Postfix) with ESMTPS id 1;\r\n Mon, 1 Dec 2026 10:00:00 +0000';
    const forged = 'Authentication-Results: mx.mesa.test; dmarc=pass header.from=mesa.test';
    expect(authResultsPass(headers([], [received, forged]), trusted, 'ana@mesa.test')).toBeUndefined();
    expect(
      authResultsPass(headers(['mx.mesa.test; dmarc=fail header.from=mesa.test'], [forged]), trusted, 'ana@mesa.test'),
    ).toBeUndefined();
    expect(
      authResultsPass(headers(['mx.mesa.test; spf=none'], [received, forged]), trusted, 'ana@mesa.test'),
    ).toBeUndefined();
    // Dovecot's LMTP on top: one Received of ours above the real results; the forged ones stay below the border's.
    const lmtp = 'Received: from mx.mesa.test by imap.mesa.test with LMTP id 2';
    const ours = {
      raw: Buffer.from(
        [
          lmtp,
          'Authentication-Results: mx.mesa.test; dmarc=pass header.from=mesa.test',
          received,
          'From: ana@mesa.test',
          '',
          'x',
        ].join('\r\n'),
      ),
    };
    expect(authResultsPass(ours, trusted, 'ana@mesa.test')).toBeUndefined();
    expect(authResultsPass(ours, trusted, 'ana@mesa.test', 1)).toBe('dmarc');
    const spoof = {
      raw: Buffer.from(
        [
          lmtp,
          'Authentication-Results: mx.mesa.test; dmarc=fail header.from=mesa.test',
          received,
          forged,
          'From: ana@mesa.test',
          '',
          'x',
        ].join('\r\n'),
      ),
    };
    expect(authResultsPass(spoof, trusted, 'ana@mesa.test', 1)).toBeUndefined();
    expect(authResultsPass(spoof, trusted, 'ana@mesa.test', 5)).toBeUndefined();
    // Gmail's layout: its results below its own Received fields; a sender talking straight to its MX can put a
    // forged field right under the real one. Only the topmost counts there.
    const gmail = (real: string) => ({
      raw: Buffer.from(
        [
          lmtp,
          received,
          'Received-SPF: softfail',
          `Authentication-Results: ${real}`,
          forged,
          'Authentication-Results: mx.mesa.test; dkim=pass header.d=mesa.test',
          'From: ana@mesa.test',
          '',
          'x',
        ].join('\r\n'),
      ),
    });
    expect(
      authResultsPass(gmail('mx.mesa.test; spf=softfail smtp.mailfrom=mesa.test'), trusted, 'ana@mesa.test', 2),
    ).toBeUndefined();
    expect(
      authResultsPass(
        gmail('mx.mesa.test; spf=pass smtp.mailfrom=mesa.test; dmarc=pass header.from=mesa.test'),
        trusted,
        'ana@mesa.test',
        2,
      ),
    ).toBe('dmarc');
    // Above the first Received, every trusted field is the server's (one milter's DKIM, another's DMARC).
    const milters = {
      raw: Buffer.from(
        [
          'Authentication-Results: mx.mesa.test; spf=none',
          'Authentication-Results: mx.mesa.test; dkim=pass header.d=mesa.test',
          received,
          'From: ana@mesa.test',
          '',
          'x',
        ].join('\r\n'),
      ),
    };
    expect(authResultsPass(milters, trusted, 'ana@mesa.test')).toBe('dkim');
  });
  it('trusts nothing when TRUSTED_AUTHSERV_IDS is empty', () => {
    expect(
      authResultsPass(headers(['mx.mesa.test; dmarc=pass header.from=mesa.test']), [], 'ana@mesa.test'),
    ).toBeUndefined();
  });
});

describe('command lines', () => {
  it('splits leading commands (Spanish, English, accents, blank lines) from the text', () => {
    const p = parseCommandLines(
      '\n/Prioridad ALTA\n\n/etapa análisis\n/assign beto@mesa.test\nHola, texto.\n/cerrar no es comando aquí',
    );
    expect(p.lines).toEqual([
      { name: 'prioridad', arg: 'ALTA', line: '/Prioridad ALTA' },
      { name: 'etapa', arg: 'análisis', line: '/etapa análisis' },
      { name: 'asignar', arg: 'beto@mesa.test', line: '/assign beto@mesa.test' },
    ]);
    expect(p.rest).toBe('Hola, texto.\n/cerrar no es comando aquí');
    expect(parseCommandLines('/volar alto\nx').lines).toEqual([
      { error: '«/volar alto»: comando desconocido', line: '/volar alto' },
    ]);
    expect(parseCommandLines('Sin comandos').lines).toEqual([]);
  });
});

describe('bounced addresses', () => {
  it('come from Final-Recipient, X-Failed-Recipients or the returned To', () => {
    expect(
      failedRecipients({
        headers: new Map(),
        embeddedHeaders: 'Final-Recipient: rfc822; Nadie@Empresa.com\nStatus: 5.1.1',
      }),
    ).toEqual(['nadie@empresa.com']);
    expect(
      failedRecipients({ headers: new Map([['x-failed-recipients', ['a@x.com, b@y.com']]]), embeddedHeaders: '' }),
    ).toEqual(['a@x.com', 'b@y.com']);
    expect(
      failedRecipients({ headers: new Map(), embeddedHeaders: 'Subject: x\nTo: "Carla" <carla@empresa.com>' }),
    ).toEqual(['carla@empresa.com']);
  });
});
