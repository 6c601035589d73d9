import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { Policy } from '../../../src/policy/policy.ts';
import { testEnv } from '../../support/app.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-policy-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};
const config = (extra: Record<string, string>) => loadConfig(testEnv(dir, extra));
const problems = (extra: Record<string, string>) => {
  try {
    config(extra);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
};

describe('lifecycle settings (env + MESA_CONFIG_FILE)', () => {
  it('defaults to the guides: Mon–Fri 08–17, Sat 09–12, alta 2h/1d, 75%, auto-close 2 business days, no limit, anyone entitled', () => {
    const c = config({});
    expect(c.lifecycle).toMatchObject({
      calendar: { timezone: 'America/Bogota', hours: { mon: ['08:00-17:00'], sat: ['09:00-12:00'], sun: [] } },
      sla: {
        warnShare: 0.75,
        targets: { alta: { firstResponse: { unit: 'hours', amount: 2 }, resolution: { unit: 'days', amount: 1 } } },
      },
      autoClose: { afterBusinessDays: 2, warnBeforeBusinessDays: 1 },
      maxOpenCasesPerOrg: undefined,
      heldAutoOpen: false,
      digestMinute: 480,
    });
    const policy = new Policy(c.lifecycle);
    expect(policy.isEntitled('cualquiera.co')).toBe(true);
    expect(policy.maxOpenCases('cualquiera.co')).toBeUndefined();
  });

  it('reads the calendar, targets and organizations from a YAML file, with per-organization limit, calendar and consultants', () => {
    const c = config({
      MAX_OPEN_CASES_PER_ORG: '3',
      HOLIDAYS: '2026-12-24',
      MESA_CONFIG_FILE: file(
        'ok.yaml',
        [
          'calendar:',
          '  hours: { mon: ["08:00-12:00", "13:00-17:00"] }',
          '  holidayCountry: CO',
          '  holidays: ["2026-12-31"]',
          'sla:',
          '  warnShare: 0.8',
          '  targets:',
          '    alta: { firstResponse: 1h, resolution: 4h }',
          'organizations:',
          '  - domain: cliente.co',
          '    maxOpenCases: 5',
          '    notify: [gerente@mesa.test]',
          '  - domain: chile.cl',
          '    calendar: { timezone: America/Santiago }',
        ].join('\n'),
      ),
    });
    const policy = new Policy(c.lifecycle);
    expect(c.lifecycle.calendar.holidays).toEqual(['2026-12-24', '2026-12-31']);
    expect(c.lifecycle.sla.targets.alta.resolution).toEqual({ unit: 'hours', amount: 4 });
    expect(c.lifecycle.sla.targets.media.firstResponse).toEqual({ unit: 'hours', amount: 8 });
    expect(policy.sla.warnShare).toBe(0.8);
    expect(policy.isEntitled('cliente.co')).toBe(true);
    expect(policy.isEntitled('otra.co')).toBe(false);
    expect(policy.maxOpenCases('cliente.co')).toBe(5);
    expect(policy.maxOpenCases('chile.cl')).toBe(3);
    expect(policy.extraConsultants('cliente.co')).toEqual(['gerente@mesa.test']);
    expect(policy.calendarFor('chile.cl').timezone).toBe('America/Santiago');
    expect(policy.calendarFor('cliente.co').timezone).toBe('America/Bogota');
    expect(policy.calendar.isHoliday('2026-12-08')).toBe(true); // from CO
    expect(policy.calendar.isHoliday('2026-12-24')).toBe(true); // from HOLIDAYS
  });

  it('takes the example of docs/operations.md as it is written there', () => {
    const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../../../docs/operations.md'), 'utf8');
    const example = /### El archivo `MESA_CONFIG_FILE`[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)![1];
    const c = config({ MESA_CONFIG_FILE: file('doc.yaml', example) });
    expect(c.lifecycle.calendar.hours.mon).toEqual(['8:00-12:00', '14:00-18:00']);
    expect(c.lifecycle.calendar.hours.sat).toEqual([]);
    expect(c.lifecycle.organizations?.[0]).toMatchObject({ domain: 'cliente.co', maxOpenCases: 5 });
  });

  it('takes the days by their Spanish names, hours without a leading zero and a zone written with its accent', () => {
    const c = config({
      TIMEZONE: 'America/Bogotá',
      MESA_CONFIG_FILE: file(
        'es.yaml',
        [
          'calendar:',
          '  timezone: America/Bogotá',
          '  hours:',
          '    lunes: ["8:00-12:00", "14:00-18:00"]',
          '    Miércoles: ["9:30-13:00"]',
          '    sabado: []',
        ].join('\n'),
      ),
    });
    expect(c.timezone).toBe('America/Bogota');
    expect(c.lifecycle.calendar.timezone).toBe('America/Bogota');
    expect(c.lifecycle.calendar.hours).toMatchObject({
      mon: ['8:00-12:00', '14:00-18:00'],
      tue: ['08:00-17:00'],
      wed: ['9:30-13:00'],
      sat: [],
    });
    const policy = new Policy(c.lifecycle);
    // Monday 2026-12-07 13:00 in Bogotá is the lunch break of «lunes».
    expect(policy.calendar.isBusinessTime(Date.parse('2026-12-07T18:00:00Z'))).toBe(false);
    expect(policy.calendar.isBusinessTime(Date.parse('2026-12-07T13:30:00Z'))).toBe(true);
    expect(problems({ MESA_CONFIG_FILE: file('typo.yaml', 'calendar:\n  hours:\n    lunez: []') })).toContain(
      'MESA_CONFIG_FILE calendar.hours: clave desconocida: "lunez"',
    );
  });

  it('reports every bad key by name, in the environment and in the file', () => {
    const msg = problems({
      SLA_WARN_SHARE: '75',
      MAX_OPEN_CASES_PER_ORG: '-1',
      DIGEST_TIME: '8am',
      HOLIDAYS: '24/12/2026',
      HOLIDAYS_COUNTRY: 'XX',
    });
    for (const key of ['SLA_WARN_SHARE', 'MAX_OPEN_CASES_PER_ORG', 'DIGEST_TIME', 'HOLIDAYS:', 'HOLIDAYS_COUNTRY'])
      expect(msg).toContain(key);

    const bad = problems({
      MESA_CONFIG_FILE: file(
        'bad.json',
        JSON.stringify({
          calendar: { hours: { mon: ['17:00-08:00'] }, timezone: 'Mars/Olympus' },
          sla: { targets: { alta: { firstResponse: 'pronto', resolution: '1d' } } },
          organizations: [{ domain: 'cliente.co', maxOpenCases: 0, notify: ['no-es-correo'] }],
          extra: true,
        }),
      ),
    });
    expect(bad).toContain('MESA_CONFIG_FILE calendar.hours.mon.0');
    expect(bad).toContain('MESA_CONFIG_FILE calendar.timezone');
    expect(bad).toContain('MESA_CONFIG_FILE sla.targets.alta.firstResponse: duración inválida "pronto"');
    expect(bad).toContain('MESA_CONFIG_FILE organizations.0.maxOpenCases');
    expect(bad).toContain(
      'MESA_CONFIG_FILE organizations.0.notify.0: «no-es-correo» no es una dirección de correo válida',
    );
    expect(bad).toContain('MESA_CONFIG_FILE (raíz): clave desconocida: "extra"');
    expect(bad).toContain('MESA_CONFIG_FILE organizations.0.maxOpenCases: debe ser mayor que 0');

    // What zod would say as a translation («Llave desconocida», «se esperaba número, recibido texto»), said plainly.
    const slips = problems({
      HOLIDAYS: '2026-02-30',
      MESA_CONFIG_FILE: file(
        'slips.yaml',
        [
          'calendar:',
          '  holidays: [2026-13-01]',
          'sla:',
          '  warnShare: "0,5"',
          '  targets:',
          '    alta: { firstResponse: 2h }',
          'organizations:',
          '  - { domain: cliente.co, maxOpenCases: 2.5, color: azul, logo: x }',
        ].join('\n'),
      ),
    });
    expect(slips).toContain('HOLIDAYS: "2026-02-30" no es una fecha AAAA-MM-DD que exista');
    expect(slips).toContain('MESA_CONFIG_FILE calendar.holidays.0: "2026-13-01" no es una fecha AAAA-MM-DD que exista');
    expect(slips).toContain(
      'MESA_CONFIG_FILE sla.warnShare: debe ser un número sin comillas, con punto decimal (p. ej. 0.8), no "0,5"',
    );
    expect(slips).toContain('MESA_CONFIG_FILE sla.targets.alta.resolution: falta (obligatoria)');
    expect(slips).toContain('MESA_CONFIG_FILE organizations.0.maxOpenCases: debe ser un número entero');
    expect(slips).toContain('MESA_CONFIG_FILE organizations.0: claves desconocidas: "color", "logo"');

    expect(problems({ MESA_CONFIG_FILE: path.join(dir, 'missing.yaml') })).toMatch(
      /MESA_CONFIG_FILE: no se pudo leer .*ENOENT/,
    );
    expect(problems({ MESA_CONFIG_FILE: file('broken.yaml', 'calendar: [') })).toMatch(
      /MESA_CONFIG_FILE: .* no es YAML válido/,
    );
  });
});
