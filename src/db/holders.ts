import crypto from 'node:crypto';
import os from 'node:os';

/**
 * Who holds a lease or a claim: `host:pid:tag`, written by each `mesa` process into the rows it holds (a mailbox's
 * `leases` row, the outbox rows its dispatcher is sending, a mailbox's token refresh). The tag tells apart two holders
 * in one process. A holder whose process on this machine has ended need not wait for its row to expire.
 */
export function defaultHolder(): string {
  return `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
}

/** host:pid of a holder, as an operator looks for it in `ps` (without the tag). */
export function holderProcess(holder: string): { host: string; pid: number; text: string } {
  const [host = '', pidText = ''] = holder.split(':');
  return { host, pid: Number(pidText), text: `${host}:${pidText}` };
}

/**
 * A holder (defaultHolder) whose process on this machine has ended: SIGKILLed, crashed, or the machine restarted.
 * Its rows need not expire before another process takes them. A holder on another machine, or a pid that is alive
 * (perhaps reused by another program), is left to expire.
 */
export function holderIsGone(holder: string): boolean {
  const { host, pid } = holderProcess(holder);
  if (host !== os.hostname() || !Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
