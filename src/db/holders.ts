import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

/**
 * Who holds a lease or a claim: `host:pid:namespace.tag`, written by each `mesa` process into the rows it holds (a
 * mailbox's `leases` row, the outbox rows its dispatcher is sending, a mailbox's token refresh). The tag tells apart
 * two holders in one process. A holder whose process on this machine has ended need not wait for its row to expire.
 */
export function defaultHolder(): string {
  return `${os.hostname()}:${process.pid}:${PID_NAMESPACE}.${crypto.randomBytes(3).toString('hex')}`;
}

/**
 * This process's PID namespace (Linux: the inode /proc/self/ns/pid names), or '' where there is none to read. Two
 * containers on one machine can share a hostname (Docker gives a container on the host's network the host's name)
 * while each sees only its own processes: a pid is only looked up in the namespace that wrote it.
 */
const PID_NAMESPACE = ((): string => {
  try {
    return /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))?.[1] ?? '';
  } catch {
    return '';
  }
})();

/** host:pid of a holder, as an operator looks for it in `ps` (without the tag); and the PID namespace it names. */
export function holderProcess(holder: string): { host: string; pid: number; namespace: string; text: string } {
  const [host = '', pidText = '', tag = ''] = holder.split(':');
  const namespace = tag.includes('.') ? tag.slice(0, tag.indexOf('.')) : '';
  return { host, pid: Number(pidText), namespace, text: `${host}:${pidText}` };
}

/**
 * A holder (defaultHolder) whose process on this machine, in this PID namespace, has ended: SIGKILLed, crashed, or
 * the machine restarted. Its rows need not expire before another process takes them. A holder on another machine or
 * in another namespace (another container), one written without its namespace, or a pid that is alive (perhaps
 * reused by another program), is left to expire.
 */
export function holderIsGone(holder: string): boolean {
  const { host, pid, namespace } = holderProcess(holder);
  if (host !== os.hostname() || !PID_NAMESPACE || namespace !== PID_NAMESPACE) return false;
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
