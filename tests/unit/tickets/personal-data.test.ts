import { describe, expect, it } from 'vitest';
import { withoutPersonalData } from '../../../src/tickets/personal-data.ts';

describe('personal data out of a published answer', () => {
  const who = { requester: 'carla.rios@empresa.com', requesterName: 'Carla Ríos' };

  it("removes the requester's name, mail addresses, phones and street addresses", () => {
    const text =
      'Hola Carla: ya quedó. Si sigue, escriba a carla.rios@empresa.com o a soporte@mesa.test, llame al +57 310 555 1234 o al (601) 555-1234. Enviamos el técnico a la Calle 45 # 12-30. Saludos, señora RÍOS.';
    const out = withoutPersonalData(text, who);
    for (const gone of [
      'Carla',
      'RÍOS',
      'carla.rios@empresa.com',
      'soporte@mesa.test',
      '310 555 1234',
      '555-1234',
      'Calle 45 # 12-30',
    ])
      expect(out).not.toContain(gone);
    expect(out).toContain('Hola [cliente]: ya quedó.');
    expect(out).toContain('[teléfono]');
    expect(out).toContain('[dirección]');
  });

  it('keeps what is not personal: versions, short numbers, error codes, the product', () => {
    const text =
      'En la versión 4.2, el error E-42 del paso 3 se corrige en Parámetros > Numeración (resolución 18764).';
    expect(withoutPersonalData(text, who)).toBe(text);
  });
});

describe('street addresses and mail addresses, every way they are written', () => {
  const who = { requester: 'carla.rios@empresa.com' };

  it.each([
    ['Calle 45 # 12-30', true],
    ['Calle 45#12-30', true],
    ['Cra. 7 No. 32-16', true],
    ['Cl 80 N° 10-43', true],
    ['Carrera 15a 93b - 12', true],
    ['Calle 4512-30', true],
    ['Calle 45 y 12', false],
  ])('«%s» is an address: %s', (street, gone) => {
    const out = withoutPersonalData(`Vamos a ${street} mañana.`, who);
    expect(out.includes('[dirección]')).toBe(gone);
  });

  it('takes a long run of digits after «calle», and of word characters before an «@», as they are', () => {
    const digits = `Calle ${'1'.repeat(100_000)}x`;
    expect(withoutPersonalData(digits, who)).toBe(digits);
    const word = `${'a'.repeat(100_000)}! y ana.perez@cliente.co`;
    expect(withoutPersonalData(word, who)).toBe(`${'a'.repeat(100_000)}! y [correo]`);
  });
});
