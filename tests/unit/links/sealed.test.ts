import { describe, expect, it } from 'vitest';
import { noteIssuedLink, openLinks, sealLinks } from '../../../src/links/sealed.ts';
import { makeToken } from '../../../src/links/tokens.ts';

/** The outbox's sealing of links (src/links/sealed.ts), on its own: what is sealed, what is left alone. */
const keys = { secretKey: '9d1c3b7e5a2f4c8d0e6b1a9f3c7d5e2b', publicUrl: 'https://mesa.example/' };
const link = (recipient: string, number = 7) =>
  `https://mesa.example/caso/${makeToken(keys.secretKey, { number, recipient, generation: 2, expiresAt: 1_900_000_000_000 })}`;

describe('sealed links', () => {
  it('seals every link to the recipient, fragment included, and opens them to the very same URLs', () => {
    const data = {
      caseUrl: link('carla@empresa.com'),
      rateUrl: `${link('carla@empresa.com')}#calificar`,
      cases: [{ number: 7, url: link('carla@empresa.com', 8) }],
    };
    const sealed = sealLinks(data, keys, 'Carla@Empresa.com');
    const stored = JSON.stringify(sealed);
    expect(stored).not.toContain('/caso/');
    expect(sealed.rateUrl).toEqual({
      $link: { number: 7, generation: 2, expiresAt: 1_900_000_000_000, fragment: 'calificar' },
    });
    expect(openLinks(JSON.parse(stored), keys, 'carla@empresa.com')).toEqual(data);
  });

  it("leaves alone what is not our link for this recipient: another recipient's, a forged one, words a person wrote", () => {
    const data = {
      other: link('beto@empresa.com'),
      forged: 'https://mesa.example/caso/7.2.abc.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      lines: ['Mi enlace es https://mesa.example/caso/ pero no abre', 'https://otro.example/caso/x'],
      nested: { n: 3, ok: true, none: null },
    };
    expect(sealLinks(data, keys, 'carla@empresa.com')).toEqual(data);
  });

  it('opens a link with the key of the moment: another key gives another (non-working) token, never the stored one', () => {
    const sealed = sealLinks({ caseUrl: link('carla@empresa.com') }, keys, 'carla@empresa.com');
    const reopened = openLinks(sealed, { ...keys, secretKey: '0f8e2d6c4b1a9e7d5c3b2a1f0e9d8c7b' }, 'carla@empresa.com');
    expect(reopened.caseUrl).not.toBe(link('carla@empresa.com'));
  });
});

it("copies only what holds a link: the caller's data is never changed", () => {
  const lines = ['uno', 'dos'];
  const data = { caseUrl: link('carla@empresa.com'), lines, nested: { a: 'b' } };
  const sealed = sealLinks(data, keys, 'carla@empresa.com');
  expect(data.caseUrl).toBe(link('carla@empresa.com'));
  expect(sealed.lines).toBe(lines);
  expect(sealed.nested).toBe(data.nested);
});

it('seals a link just issued without its MAC, and still only for its own recipient', () => {
  const url = link('dora@empresa.com', 9);
  noteIssuedLink(url, { recipient: 'Dora@Empresa.com', number: 9, generation: 2, expiresAt: 1_900_000_000_000 });
  expect(sealLinks({ u: url }, keys, 'dora@empresa.com')).toEqual({
    u: { $link: { number: 9, generation: 2, expiresAt: 1_900_000_000_000 } },
  });
  expect(sealLinks({ u: url }, keys, 'carla@empresa.com')).toEqual({ u: url });
});
