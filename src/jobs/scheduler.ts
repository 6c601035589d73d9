import type { Logger } from '../logger.ts';
import { runJobs, type JobDeps, type JobReport } from './run.ts';

/**
 * Runs the clock-driven jobs every JOBS_INTERVAL_SECONDS inside `mesa start`. One run at a time: a slow run is
 * never overlapped by the next tick; stop() waits for the run in progress so the database closes cleanly.
 */
export class Scheduler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<JobReport | undefined>;
  private stopped = true;
  private readonly log: Logger;

  constructor(
    private readonly deps: JobDeps,
    private readonly opts: { intervalMs?: number; clock?: () => number } = {},
  ) {
    this.log = deps.logger.child({ component: 'scheduler' });
  }

  get intervalMs(): number {
    return this.opts.intervalMs ?? this.deps.policy.settings.jobsIntervalSeconds * 1000;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.log.info({ intervalMs: this.intervalMs }, 'tareas programadas en marcha');
    void this.tick();
  }

  /** One run now (also what each tick does); resolves with its report, or undefined if it failed as a whole. */
  runOnce(): Promise<JobReport | undefined> {
    if (this.running) return this.running;
    const now = (this.opts.clock ?? Date.now)();
    this.running = runJobs(this.deps, now)
      .catch((err) => {
        this.log.error({ err }, 'las tareas programadas fallaron; se reintenta en el próximo ciclo');
        return undefined;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async tick(): Promise<void> {
    await this.runOnce();
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
