import { describe, expect, it } from 'vitest';
import { commands, parseCommandLines } from '../../../../src/inbound/filters/commands.ts';
import { customerProof } from '../../../../src/inbound/filters/customer-proof.ts';
import { makeMessageId } from '../../../../src/mail/message-id.ts';
import { config, ctxOf, customer, mailOf, ticket } from './support.ts';

/** `/cc +persona@… -otra@…` and its Spanish and English aliases (commands.ts), checked against the case. */
const ana = { address: 'ana@mesa.test', name: 'Ana', role: 'consultant' as const, organization: 'mesa.test' };
const onCase = ticket({
  participants: [
    { address: 'juan@cliente.co', role: 'requester' },
    { address: 'marta@cliente.co', role: 'cc' },
  ],
});

async function run(text: string, t = onCase) {
  const v = commands.run(await mailOf({}), ctxOf({ taggedTicket: t }), {
    sender: ana,
    target: { ticketId: t.id, number: t.number, via: 'tag', reopen: false },
    visibleText: text,
  });
  return v.facts?.commands;
}

describe('participant commands', () => {
  it.each([
    ['cc +pedro@cliente.co -marta@cliente.co', ['pedro@cliente.co'], ['marta@cliente.co']],
    ['/cc +Pedro@Cliente.co, -marta@cliente.co', ['pedro@cliente.co'], ['marta@cliente.co']],
    ['/agregar pedro@cliente.co, <luis@socio.co>', ['pedro@cliente.co', 'luis@socio.co'], []],
    ['/add pedro@cliente.co', ['pedro@cliente.co'], []],
    ['/quitar marta@cliente.co', [], ['marta@cliente.co']],
    ['/remove marta@cliente.co', [], ['marta@cliente.co']],
  ])('«%s»', async (line, add, remove) => {
    const c = await run(`${line}\nGracias.`);
    expect(c).toEqual({ commands: [{ kind: 'participants', add, remove, line }], errors: [], internal: false });
  });

  it('reads a command line that holds a pasted line separator (U+2028)', () => {
    expect(parseCommandLines('/nota hola\u2028mundo\nTexto.').lines).toEqual([
      { name: 'nota', arg: 'hola\u2028mundo', line: '/nota hola\u2028mundo' },
    ]);
  });

  it('is parsed only at the top of the reply, and a bare "cc" line only in its exact shape', () => {
    expect(parseCommandLines('cc +pedro@cliente.co\nHola').lines).toEqual([
      { name: 'cc', arg: '+pedro@cliente.co', line: 'cc +pedro@cliente.co' },
    ]);
    expect(parseCommandLines('cc: a todos los interesados\nHola').lines).toEqual([]);
    expect(parseCommandLines('Hola\ncc +pedro@cliente.co').lines).toEqual([]);
  });

  it.each([
    ['/quitar juan@cliente.co', 'juan@cliente.co es quien abrió el caso: no se puede quitar'],
    ['/cc -nadie@cliente.co', 'nadie@cliente.co no está en el caso'],
    ['/cc +beto@mesa.test', 'beto@mesa.test es del equipo de soporte'],
    ['/cc +soporte@mesa.test', 'soporte@mesa.test es del equipo de soporte'],
    ['/cc +MAILER-DAEMON@gmail.com', 'mailer-daemon@gmail.com es una dirección automática que nadie lee'],
    ['/agregar noreply@banco.com.co', 'noreply@banco.com.co es una dirección automática que nadie lee'],
    ['/cc +postmaster@cliente.co', 'postmaster@cliente.co es una dirección automática que nadie lee'],
    ['/agregar no-es-correo', '«no-es-correo» no es una dirección de correo'],
    ['/agregar pedro@cliente..co', '«pedro@cliente..co» no es una dirección de correo'],
    [`/agregar a@${'.'.repeat(50_000)}@`, 'no es una dirección de correo'],
    ['/cc', 'falta la dirección'],
  ])('refuses «%s», and nothing of the reply acts', async (line, why) => {
    const c = await run(`/cerrar\n${line}\nTexto.`);
    expect(c?.commands).toEqual([]);
    expect(c?.internal).toBe(true);
    expect(c?.errors.join(' ')).toContain(why);
  });

  it('refuses to add beyond MAX_PARTICIPANTS_PER_CASE', async () => {
    const full = ticket({
      participants: Array.from({ length: config.participants.perCase }, (_, i) => ({
        address: i ? `p${i}@cliente.co` : 'juan@cliente.co',
        role: i ? ('cc' as const) : ('requester' as const),
      })),
    });
    const c = await run('/cc -p1@cliente.co +nuevo@cliente.co +otro@cliente.co', full);
    expect(c?.errors).toEqual([
      `«/cc -p1@cliente.co +nuevo@cliente.co +otro@cliente.co»: el caso ya tiene ${config.participants.perCase} personas (límite MAX_PARTICIPANTS_PER_CASE = ${config.participants.perCase}): no se agrega otro@cliente.co`,
    ]);
  });
});

describe('customer proof', () => {
  const juan = customer('juan@cliente.co');
  it('counts our signed Message-ID only when it was sent to the From address', async () => {
    const toJuan = makeMessageId(config.secretKey, 'mesa.test', 7, 'juan@cliente.co');
    const toMarta = makeMessageId(config.secretKey, 'mesa.test', 7, 'marta@cliente.co');
    const forged = `mesa.7.${'a'.repeat(12)}.abcdef.${'0'.repeat(20)}@mesa.test`;
    const proofOf = async (h: Record<string, string>) =>
      customerProof.run(await mailOf(h), ctxOf(), { sender: juan }).facts?.customerProof;
    expect(await proofOf({ 'In-Reply-To': `<${toJuan}>` })).toEqual({ signedCases: [7], dmarc: false });
    expect(await proofOf({ References: `<x@cliente.co> <${toJuan}>` })).toEqual({ signedCases: [7], dmarc: false });
    expect(await proofOf({ 'In-Reply-To': `<${toMarta}>` })).toEqual({ signedCases: [], dmarc: false });
    expect(await proofOf({ 'In-Reply-To': `<${forged}>` })).toEqual({ signedCases: [], dmarc: false });
  });

  it('takes DMARC pass from a trusted authserv-id only, and not DKIM or SPF alone', async () => {
    const ctx = ctxOf({
      config: { ...config, outbound: { ...config.outbound, trustedAuthservIds: ['mx.mesa.test'] } },
    });
    const proofOf = async (ar: string) =>
      customerProof.run(await mailOf({ 'Authentication-Results': ar }), ctx, { sender: juan }).facts?.customerProof
        ?.dmarc;
    expect(await proofOf('mx.mesa.test; dmarc=pass header.from=cliente.co')).toBe(true);
    expect(await proofOf('mx.evil.example; dmarc=pass header.from=cliente.co')).toBe(false);
    expect(await proofOf('mx.mesa.test; dmarc=pass header.from=otra.co')).toBe(false);
    expect(await proofOf('mx.mesa.test; dkim=pass header.d=cliente.co; dmarc=none header.from=cliente.co')).toBe(false);
  });
});
