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
