import type { Knex } from 'knex';
import { inUnitOfWork } from '../db/unit-of-work.ts';
import type { Config } from '../config.ts';
import * as life from '../db/repos/lifecycle.ts';
import { lockTicket } from '../db/repos/tickets.ts';
import type { Logger } from '../logger.ts';
import type { Policy } from '../policy/policy.ts';
import type { CaseService } from '../services/cases.ts';
import type { DigestEntry } from '../services/lifecycle-events.ts';
import { HeldAlreadyResolved, heldCase, LifecycleService } from '../services/lifecycle.ts';
import { planAutoClose } from '../tickets/auto-close.ts';
import { openCasesCounted } from '../tickets/organization.ts';
import { byUrgency, slaState, type Light, type SlaState } from '../tickets/sla.ts';
import type { Ticket } from '../tickets/types.ts';
import type { BlobStore } from '../storage/blobs.ts';
import { collectGarbageDaily, purgeSentMail } from './housekeeping.ts';

/**
 * The clock-driven work, run once as of `now`: auto-close warnings and closings, SLA light changes, release of
 * held requests (when configured), the consultants' morning digest, and housekeeping (sent mail past its retention,
 * unnamed blobs). Idempotent: the event log and the job
 * marks say what was already done, so running it twice, or from two processes, does each thing once. `mesa jobs
 * --now` calls it directly; `mesa start` calls it on a timer (scheduler.ts).
 */

export interface JobDeps {
  db: Knex;
  config: Config;
  cases: CaseService;
  policy: Policy;
  logger: Logger;
  /** The app's blob store (default: DATA_DIR/blobs). */
  blobs?: BlobStore;
}

export interface JobReport {
  now: string;
  warned: number[];
  closed: number[];
  lights: Array<{ number: number; from?: Light; to: Light }>;
  released: Array<{ held: number; number: number }>;
  digests: string[];
  /** Sent mail deleted from the outbox (retention), and unnamed blobs removed (once a day: collectGarbageDaily). */
  purgedMail: number;
  removedBlobs: number;
  errors: Array<{ job: string; number?: number; error: string }>;
}

export async function runJobs(deps: JobDeps, now: number): Promise<JobReport> {
  const log = deps.logger.child({ component: 'jobs' });
  const lifecycle = new LifecycleService({ cases: deps.cases, policy: deps.policy, logger: log });
  const report: JobReport = {
    now: new Date(now).toISOString(),
    warned: [],
    closed: [],
    lights: [],
    released: [],
    digests: [],
    purgedMail: 0,
    removedBlobs: 0,
    errors: [],
  };
  const fail = (job: string, err: unknown, number?: number) => {
    log.error({ err, job, ticket: number }, 'tarea programada falló para este caso; sigue con los demás');
    report.errors.push({ job, number, error: String((err as Error)?.message ?? err) });
  };

  await autoClose(deps, lifecycle, now, report, fail);
  await lights(deps, lifecycle, now, report, fail);
  await releaseHeld(deps, lifecycle, now, report, fail);
  await digests(deps, now, report, fail);
  await housekeeping(deps, now, report, fail);
  log.info(
    {
      warned: report.warned.length,
      closed: report.closed.length,
      lights: report.lights.length,
      released: report.released.length,
      digests: report.digests.length,
      purgedMail: report.purgedMail,
      removedBlobs: report.removedBlobs,
      errors: report.errors.length,
    },
    'tareas programadas',
  );
  return report;
}

type Fail = (job: string, err: unknown, number?: number) => void;

async function housekeeping(deps: JobDeps, now: number, report: JobReport, fail: Fail): Promise<void> {
  try {
    report.purgedMail = await purgeSentMail(deps.db, deps.config, now);
  } catch (err) {
    fail('retention', err);
  }
  try {
    report.removedBlobs = (await collectGarbageDaily(deps.db, deps.config, deps.blobs))?.removed ?? 0;
  } catch (err) {
    fail('gc', err);
  }
}

async function autoClose(
  deps: JobDeps,
  lifecycle: LifecycleService,
  now: number,
  report: JobReport,
  fail: Fail,
): Promise<void> {
  const waiting = (await life.openTickets(deps.db)).filter((t) => t.waitingOn === 'cliente');
  const events = await life.lifecycleEventsOf(
    deps.db,
    waiting.map((t) => t.id),
  );
  for (const t of waiting) {
    try {
      const cal = deps.policy.calendarFor(t.organization);
      const plan = planAutoClose(cal, deps.policy.autoClose, t, events.get(t.id) ?? [], now);
      if (plan.kind !== 'warn' && plan.kind !== 'close') continue;
      await inUnitOfWork(deps.db, async (uow) => {
        // Re-read inside the transaction, locked: a customer reply may have landed since the list was taken, or
        // another instance's jobs may have just warned or closed it.
        const fresh = await lockTicket(uow, t.id);
        if (!fresh || fresh.stage === 'cerrado' || fresh.waitingOn !== 'cliente') return;
        const freshPlan = planAutoClose(
          cal,
          deps.policy.autoClose,
          fresh,
          (await life.lifecycleEventsOf(uow, [t.id])).get(t.id) ?? [],
          now,
        );
        if (freshPlan.kind === 'warn') {
          await lifecycle.warnAutoClose(uow, fresh, freshPlan, now);
          report.warned.push(t.number);
        } else if (freshPlan.kind === 'close') {
          await lifecycle.autoClose(uow, fresh, deps.policy.autoClose.afterBusinessDays, now);
          report.closed.push(t.number);
        }
      });
    } catch (err) {
      fail('auto-close', err, t.number);
    }
  }
}

async function slaOf(deps: JobDeps, tickets: readonly Ticket[], now: number): Promise<Map<number, SlaState>> {
  const events = await life.lifecycleEventsOf(
    deps.db,
    tickets.map((t) => t.id),
  );
  const out = new Map<number, SlaState>();
  for (const t of tickets)
    out.set(t.id, slaState(deps.policy.calendarFor(t.organization), deps.policy.sla, t, events.get(t.id) ?? [], now));
  return out;
}

async function lights(
  deps: JobDeps,
  lifecycle: LifecycleService,
  now: number,
  report: JobReport,
  fail: Fail,
): Promise<void> {
  const open = await life.openTickets(deps.db);
  const states = await slaOf(deps, open, now);
  for (const t of open) {
    const s = states.get(t.id)!;
    if (s.light === t.slaLight) continue;
    try {
      const changed = await inUnitOfWork(deps.db, async (uow) => {
        // Locked and read again: another instance's jobs may have recorded this very change a moment ago.
        const fresh = await lockTicket(uow, t.id);
        if (!fresh || fresh.slaLight === s.light) return undefined;
        const from = fresh.slaLight as Light | undefined;
        const due =
          s.firstResponse.light !== 'green' && t.firstResponseAt === undefined
            ? s.firstResponse.dueAt
            : s.resolution.dueAt;
        await lifecycle.recordLight(uow, t, from, s.light, due, now);
        return { from };
      });
      if (changed) report.lights.push({ number: t.number, from: changed.from, to: s.light });
    } catch (err) {
      fail('sla', err, t.number);
    }
  }
}

async function releaseHeld(
  deps: JobDeps,
  lifecycle: LifecycleService,
  now: number,
  report: JobReport,
  fail: Fail,
): Promise<void> {
  if (!deps.policy.settings.heldAutoOpen) return;
  for (const held of await life.heldRequests(deps.db, { state: 'held', reason: 'over_limit' })) {
    try {
      const limit = deps.policy.maxOpenCases(held.organization);
      await inUnitOfWork(deps.db, async (uow) => {
        if (limit !== undefined) {
          // Counted as the open-case limit counted it when it held the request.
          const counts = await life.countOpenTicketsInTurn(uow, held.organization);
          if (openCasesCounted(counts, heldCase(held).proven) >= limit) return;
        }
        const ticket = await lifecycle.openHeld(uow, held, now);
        if (ticket) report.released.push({ held: held.id, number: ticket.number });
      });
    } catch (err) {
      if (!(err instanceof HeldAlreadyResolved)) fail('held', err);
    }
  }
}

async function digests(deps: JobDeps, now: number, report: JobReport, fail: Fail): Promise<void> {
  const cal = deps.policy.calendar;
  const local = cal.local(now);
  // Once per business morning: on a business day, from DIGEST_TIME on (a late run still sends that day's).
  if (!cal.isBusinessDay(now) || local.hour * 60 + local.minute < deps.policy.settings.digestMinute) return;
  const date = cal.localDate(now);
  const open = await life.openTickets(deps.db);
  const states = await slaOf(deps, open, now);
  for (const consultant of deps.config.consultants) {
    try {
      await inUnitOfWork(deps.db, async (uow) => {
        if (!(await life.claimMark(uow, `digest:${consultant}`, date, now))) return;
        const mine = open
          .filter((t) => t.assignee === consultant || !t.assignee)
          .map((t) => ({ ticket: t, number: t.number, sla: states.get(t.id)! }))
          .sort(byUrgency);
        const cases: DigestEntry[] = mine.map((m) => ({
          ticket: m.ticket,
          light: m.sla.light,
          assigned: m.ticket.assignee === consultant,
          dueAt: m.ticket.firstResponseAt === undefined ? m.sla.firstResponse.dueAt : m.sla.resolution.dueAt,
        }));
        // Nothing open and nothing unassigned: no mail that morning (the mark still says the day was done).
        if (!cases.length) return;
        await deps.cases.publish(uow, { type: 'digest', to: consultant, date, cases, at: now });
        report.digests.push(consultant);
      });
    } catch (err) {
      fail('digest', err);
    }
  }
}
