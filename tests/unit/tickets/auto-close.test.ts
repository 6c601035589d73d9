import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { planAutoClose, type AutoCloseEvent } from '../../../src/tickets/auto-close.ts';
import { BusinessCalendar, DEFAULT_HOURS, hoursFromKeys } from '../../../src/tickets/calendar.ts';

const cal = new BusinessCalendar({
  timezone: 'America/Bogota',
  hours: hoursFromKeys(DEFAULT_HOURS),
  holidayCountry: 'CO',
});
const policy = { afterBusinessDays: 2, warnBeforeBusinessDays: 1 };
const at = (local: string) => DateTime.fromISO(local, { zone: 'America/Bogota' }).toMillis();
const waitingCase = { stage: 'solucion' as const, waitingOn: 'cliente' as const, updatedAt: at('2026-11-23T10:00') };
const answered: AutoCloseEvent[] = [{ type: 'waiting_changed', to: 'cliente', at: at('2026-11-23T10:00') }];
const warnedTue: AutoCloseEvent[] = [...answered, { type: 'autoclose_warning', at: at('2026-11-24T10:00') }];

describe('auto-close plan (answered Monday 2026-11-23 10:00, waiting on the customer)', () => {
  it.each([
    ['Tuesday 09:59: nothing yet', answered, '2026-11-24T09:59', 'wait'],
    ['Tuesday 10:00: one business day left, warn', answered, '2026-11-24T10:00', 'warn'],
    ['warned; Wednesday 09:59: wait', warnedTue, '2026-11-25T09:59', 'wait'],
    ['warned; Wednesday 10:00: close', warnedTue, '2026-11-25T10:00', 'close'],
    [
      'customer replied Tuesday 15:00: cancelled',
      [...warnedTue, { type: 'waiting_changed', to: 'soporte', at: at('2026-11-24T15:00') }],
      '2026-11-26T10:00',
      'none',
    ],
    [
      'support answered again Tuesday 11:00: the wait restarts',
      [...warnedTue, { type: 'consultant_message', at: at('2026-11-24T11:00') }],
      '2026-11-25T10:00',
      'wait',
    ],
    [
      'an internal note does not restart it',
      [...warnedTue, { type: 'consultant_message', internal: true, at: at('2026-11-24T11:00') }],
      '2026-11-25T10:00',
      'close',
    ],
  ] as const)('%s', (_name, events, now, kind) => {
    const c = kind === 'none' ? { ...waitingCase, waitingOn: 'soporte' as const } : waitingCase;
    expect(planAutoClose(cal, policy, c, events, at(now)).kind).toBe(kind);
  });

  it('never closes without a full day of notice, even when the jobs ran late', () => {
    const plan = planAutoClose(cal, policy, waitingCase, answered, at('2026-11-27T10:00'));
    expect(plan).toMatchObject({ kind: 'warn', closeAt: at('2026-11-28T10:00') });
    const late = [...answered, { type: 'autoclose_warning', at: at('2026-11-27T10:00') }];
    expect(planAutoClose(cal, policy, waitingCase, late, at('2026-11-28T09:59')).kind).toBe('wait');
    expect(planAutoClose(cal, policy, waitingCase, late, at('2026-11-28T10:00')).kind).toBe('close');
  });

  it('a Friday answer closes on Tuesday (Saturday counts as a business day, Sunday does not)', () => {
    const fri = [{ type: 'waiting_changed', to: 'cliente', at: at('2026-11-20T11:00') }];
    expect(planAutoClose(cal, policy, waitingCase, fri, at('2026-11-21T11:00')).kind).toBe('warn');
    const warned = [...fri, { type: 'autoclose_warning', at: at('2026-11-21T11:00') }];
    expect(planAutoClose(cal, policy, waitingCase, warned, at('2026-11-23T10:59')).kind).toBe('wait');
    expect(planAutoClose(cal, policy, waitingCase, warned, at('2026-11-23T11:00')).kind).toBe('close');
  });

  it('is off with AUTO_CLOSE_BUSINESS_DAYS=0, and never touches closed cases', () => {
    expect(
      planAutoClose(cal, { ...policy, afterBusinessDays: 0 }, waitingCase, answered, at('2027-01-01T10:00')).kind,
    ).toBe('none');
    expect(
      planAutoClose(cal, policy, { ...waitingCase, stage: 'cerrado' }, answered, at('2027-01-01T10:00')).kind,
    ).toBe('none');
  });
});
