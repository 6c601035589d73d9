import { describe, expect, it } from 'vitest';
import { followUp } from '../../../../src/inbound/filters/follow-up.ts';
import type { Facts } from '../../../../src/inbound/filters/types.ts';
import { caseNumberFromSubject } from '../../../../src/tickets/subject.ts';
import { ctxOf, customer, mailOf, ticket } from './support.ts';

const DAY = 86_400_000;
const now = ctxOf().now;

describe('follow-up filter: finding the case', () => {
  it.each([
    'RE: [Caso #7] Factura',
    'RV: [Caso #7] Factura',
    'Fwd: [Caso #7] Factura',
    'RE: RE: [Caso #7] Factura',
    'AW: [Caso #7] Factura',
    'Fw: [Caso #7] Factura',
    're:[caso #7] Factura',
    'RE :  [ Caso  # 7 ]  Factura',
    'RV: RE: Fwd: [CASO #7] Factura',
    'Re[2]: [Caso #7] Factura',
  ])('reads the tag in "%s"', async (subject) => {
    expect(caseNumberFromSubject(subject)).toBe(7);
    const m = await mailOf({ Subject: subject });
    const t = ticket();
    const v = followUp.run(m, ctxOf({ taggedTicket: t }), { sender: customer('juan@cliente.co') });
    expect(v.facts?.target).toEqual({ ticketId: t.id, number: 7, via: 'tag', reopen: false });
  });

  it('continues a case from In-Reply-To/References when the subject has no tag', async () => {
    const m = await mailOf({ Subject: 'RE: Factura', 'In-Reply-To': '<caso7.1@mesa.test>' });
    const v = followUp.run(m, ctxOf({ referencedTickets: [ticket()] }), { sender: customer('juan@cliente.co') });
    expect(v.facts?.target).toMatchObject({ number: 7, via: 'header' });
  });

  it('opens a new case when nothing matches', async () => {
    expect(
      followUp.run(await mailOf({ Subject: 'Otra cosa' }), ctxOf(), { sender: customer('juan@cliente.co') }).facts,
    ).toBeUndefined();
  });
});

describe('follow-up filter: who may write on a case', () => {
  const t = ticket({
    participants: [
      { address: 'juan@cliente.co', role: 'requester' },
      { address: 'marta@socio.co', role: 'cc' },
    ],
  });
  it.each<[string, Facts['sender'], boolean]>([
    ['the requester', customer('juan@cliente.co'), true],
    ['someone already on the case (CC)', customer('marta@socio.co'), true],
    ['a consultant', { address: 'ana@mesa.test', name: 'Ana', role: 'consultant', organization: 'mesa.test' }, true],
    ['a stranger', customer('intruso@otra.co'), false],
    // Anyone can write an address at the customer's domain: a colleague needs a proven origin (below).
    ['an unproven colleague of the same organization', customer('pedro@cliente.co'), false],
  ])('%s', async (_n, sender, continues) => {
    const v = followUp.run(await mailOf({ Subject: 'RE: [Caso #7] Factura' }), ctxOf({ taggedTicket: t }), { sender });
    if (continues) expect(v.facts?.target?.number).toBe(7);
    else expect(v.facts).toEqual({ related: { number: 7, reason: 'stranger' } });
  });

  it('a colleague whose domain passed DMARC continues the case, with that proof', async () => {
    const v = followUp.run(await mailOf({ Subject: 'RE: [Caso #7] Factura' }), ctxOf({ taggedTicket: t }), {
      sender: customer('pedro@cliente.co'),
      customerProof: { signedCases: [], dmarc: true },
    });
    expect(v.facts?.target).toMatchObject({ number: 7, proof: 'dmarc' });
  });

  it('a signed reference proves only the case it was sent about', async () => {
    const mail = await mailOf({ Subject: 'RE: [Caso #7] Factura' });
    expect(
      followUp.run(mail, ctxOf({ taggedTicket: t }), {
        sender: customer('juan@cliente.co'),
        customerProof: { signedCases: [7], dmarc: false },
      }).facts?.target,
    ).toMatchObject({ number: 7, proof: 'signed_reply' });
    const other = followUp.run(mail, ctxOf({ taggedTicket: t }), {
      sender: customer('juan@cliente.co'),
      customerProof: { signedCases: [3], dmarc: false },
    }).facts?.target;
    expect(other?.number).toBe(7);
    expect(other?.proof).toBeUndefined();
  });

  it('never counts a public mail domain as the same organization', async () => {
    const pub = ticket({
      requester: 'pepa@gmail.com',
      participants: [{ address: 'pepa@gmail.com', role: 'requester' }],
    });
    const v = followUp.run(await mailOf({ Subject: 'RE: [Caso #7] Factura' }), ctxOf({ taggedTicket: pub }), {
      sender: customer('otro@gmail.com'),
    });
    expect(v.facts).toEqual({ related: { number: 7, reason: 'stranger' } });
  });
});

describe('follow-up filter: closed cases', () => {
  it('reopens a case closed within REOPEN_WINDOW_DAYS when the customer writes, proving it is them', async () => {
    const t = ticket({ stage: 'cerrado', closedAt: now - 5 * DAY });
    const v = followUp.run(await mailOf({ Subject: 'RE: [Caso #7] Factura' }), ctxOf({ taggedTicket: t }), {
      sender: customer('juan@cliente.co'),
      customerProof: { signedCases: [7], dmarc: false },
    });
    expect(v.facts?.target).toMatchObject({ number: 7, reopen: true, proof: 'signed_reply' });
  });

  it('never reopens a closed case for a follow-up that proves nothing (its text is still kept)', async () => {
    const t = ticket({ stage: 'cerrado', closedAt: now - 5 * DAY });
    const v = followUp.run(await mailOf({ Subject: 'RE: [Caso #7] Factura' }), ctxOf({ taggedTicket: t }), {
      sender: customer('juan@cliente.co'),
      customerProof: { signedCases: [], dmarc: false },
    });
    expect(v.facts?.target).toEqual({ ticketId: t.id, number: 7, via: 'tag', reopen: false });
  });

  it('opens a new, related case when the case closed more than REOPEN_WINDOW_DAYS ago', async () => {
    const t = ticket({ stage: 'cerrado', closedAt: now - 31 * DAY });
    const v = followUp.run(await mailOf({ Subject: 'RE: [Caso #7] Factura' }), ctxOf({ taggedTicket: t }), {
      sender: customer('juan@cliente.co'),
    });
    expect(v.facts).toEqual({ related: { number: 7, reason: 'closed_long_ago' } });
  });

  it('files automatic mail about a closed case on it without reopening', async () => {
    const t = ticket({ stage: 'cerrado', closedAt: now - 400 * DAY });
    const v = followUp.run(
      await mailOf({ Subject: 'Respuesta automática: [Caso #7] Factura' }),
      ctxOf({ taggedTicket: t }),
      { automated: { kind: 'auto_reply', why: 'x' } },
    );
    expect(v.facts?.target).toMatchObject({ number: 7, reopen: false });
  });
});
