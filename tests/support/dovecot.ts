import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { freePort } from './ports.ts';

/**
 * A real Dovecot for one test file: its own config in a temporary folder, listening on 127.0.0.1 on a free port,
 * plain-text LOGIN allowed without TLS (loopback only), users in a passwd-file, mail in Maildir under the temp dir.
 *
 * Running as root (CI), Dovecot refuses to give mail processes uid 0, so mail is owned by the unprivileged `mail`
 * user and `first_valid_uid` is set to its uid. Running as an ordinary user, everything runs as that user.
 */
export interface DovecotUser {
  user: string;
  password: string;
}

export interface Dovecot {
  host: string;
  port: number;
  users: Record<string, DovecotUser>;
  dir: string;
  /** APPENDs a raw message (to INBOX unless told; arrived now unless `internalDate`) and returns its UID. */
  append(user: string, raw: Buffer | string, mailbox?: string, internalDate?: Date): Promise<number>;
  /** Opens an authenticated imapflow client for direct inspection; the caller logs out. */
  client(user: string): Promise<ImapFlow>;
  stop(): Promise<void>;
  /** Stops the server (every connection drops), runs `whileDown`, starts it again on the same port and data. */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  /** Ends every IMAP session of `user` (`doveadm kick`), as a server does when it revokes a session. */
  kick(user: string): Promise<void>;
  /** The tail of Dovecot's log, for failure messages. */
  log(): string;
}

const DOVECOT = process.env.DOVECOT_BIN ?? '/usr/sbin/dovecot';
const DOVEADM = process.env.DOVEADM_BIN ?? '/usr/bin/doveadm';
const DEFAULT_USERS = ['support', 'fallback', 'other'];

/**
 * `oauth2`: besides passwords, XOAUTH2 and OAUTHBEARER logins whose token Dovecot's oauth2 passdb checks at
 * `introspectionUrl` (RFC 7662, `introspection_mode = post`): the token must be active and name the user.
 */
export async function startDovecot(
  opts: { users?: string[]; oauth2?: { introspectionUrl: string } } = {},
): Promise<Dovecot> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mesa-dovecot-'));
  // Dovecot's unprivileged processes (dovenull, the mail user) must be able to traverse to their sockets and mail.
  fs.chmodSync(dir, 0o755);
  const users: Record<string, DovecotUser> = {};
  for (const name of opts.users ?? DEFAULT_USERS) users[name] = { user: name, password: `clave-${name}` };

  const isRoot = process.getuid?.() === 0;
  const me = os.userInfo();
  const mailUid = isRoot ? (uidOf('mail') ?? 8) : me.uid;
  const mailGid = isRoot ? (gidOf('mail') ?? 8) : me.gid;
  const mailDir = path.join(dir, 'mail');
  fs.mkdirSync(mailDir, { recursive: true });
  if (isRoot) fs.chownSync(mailDir, mailUid, mailGid);

  fs.writeFileSync(
    path.join(dir, 'users'),
    Object.values(users)
      .map((u) => `${u.user}:{PLAIN}${u.password}:${mailUid}:${mailGid}::${path.join(mailDir, u.user)}`)
      .join('\n') + '\n',
  );
  const port = await freePort();
  const oauthConf = path.join(dir, 'dovecot-oauth2.conf.ext');
  if (opts.oauth2) {
    fs.writeFileSync(
      oauthConf,
      [
        `introspection_url = ${opts.oauth2.introspectionUrl}`,
        'introspection_mode = post',
        'force_introspection = yes',
        'username_attribute = username',
        'active_attribute = active',
        'active_value = true',
        '',
      ].join('\n'),
    );
  }
  const conf = [
    `base_dir = ${path.join(dir, 'run')}`,
    `state_dir = ${path.join(dir, 'state')}`,
    `log_path = ${path.join(dir, 'dovecot.log')}`,
    'protocols = imap',
    'listen = 127.0.0.1',
    'ssl = no',
    // Loopback test server: LOGIN without TLS is what the tests speak (2.3 name; 2.4 calls it auth_allow_cleartext).
    'disable_plaintext_auth = no',
    `auth_mechanisms = plain login${opts.oauth2 ? ' xoauth2 oauthbearer' : ''}`,
    'auth_failure_delay = 0',
    // Trusted networks skip the auth penalty (up to 15 s per failure from one IP): the bad-password tests would
    // otherwise measure Dovecot's anti-brute-force delay instead of Mesa's backoff.
    'login_trusted_networks = 127.0.0.0/8',
    `mail_location = maildir:~/Maildir`,
    `first_valid_uid = ${mailUid}`,
    `first_valid_gid = ${mailGid}`,
    `mail_uid = ${mailUid}`,
    `mail_gid = ${mailGid}`,
    ...(isRoot ? [] : [`default_login_user = ${me.username}`, `default_internal_user = ${me.username}`]),
    'mail_fsync = never',
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${path.join(dir, 'users')}`,
    ...(opts.oauth2 ? ['  mechanisms = plain login'] : []),
    '}',
    ...(opts.oauth2
      ? ['passdb {', '  driver = oauth2', '  mechanisms = xoauth2 oauthbearer', `  args = ${oauthConf}`, '}']
      : []),
    'userdb {',
    '  driver = passwd-file',
    `  args = username_format=%u ${path.join(dir, 'users')}`,
    '}',
    'service imap-login {',
    '  inet_listener imap {',
    `    address = 127.0.0.1`,
    `    port = ${port}`,
    '  }',
    '  inet_listener imaps {',
    '    port = 0',
    '  }',
    '}',
    'service anvil {',
    '  chroot =',
    '}',
    'service imap-login {',
    '  chroot =',
    '}',
    'namespace inbox {',
    '  inbox = yes',
    '  separator = /',
    '}',
  ].join('\n');
  const confPath = path.join(dir, 'dovecot.conf');
  fs.writeFileSync(confPath, conf + '\n');

  let child: ChildProcess | undefined;
  const logFile = path.join(dir, 'dovecot.log');
  const readLog = () =>
    fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n') : '';

  const launch = async () => {
    let stderr = '';
    // -F: stay in the foreground, so the process is ours to stop and dies with the test run.
    // detached: its own process group, so stop() can signal the imap/log/auth children together (signalled via
    // the master alone, an orphaned imap process keeps its client connected for ~10 s more).
    if (!fs.existsSync(DOVECOT))
      throw new Error(
        `no está Dovecot (${DOVECOT}): instálalo con \`apt-get install dovecot-imapd\` (lo hace .ci/run)`,
      );
    child = spawn(DOVECOT, ['-F', '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('error', (err) => (stderr += String(err)));
    const exited = new Promise<never>((_, reject) =>
      child!.once('exit', (code) => reject(new Error(`dovecot salió (${code}): ${stderr}\n${readLog()}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([waitForImapGreeting('127.0.0.1', port, 15_000), exited]);
  };

  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    signalGroup(c, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(c, 'SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
    // Whatever of the group outlived the master (it does not wait for every child) goes now.
    signalGroup(c, 'SIGKILL');
    // Dovecot's master exits before every child has closed its socket; wait until nothing answers any more.
    await waitUntilClosed('127.0.0.1', port, 5000);
  };

  const killOnExit = () => child && signalGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);

  await launch();

  const client = async (user: string) => {
    const u = users[user];
    if (!u) throw new Error(`usuario de prueba desconocido: ${user}`);
    const c = new ImapFlow({
      host: '127.0.0.1',
      port,
      secure: false,
      auth: { user: u.user, pass: u.password },
      logger: false,
      disableAutoIdle: true,
    });
    await c.connect();
    return c;
  };

  return {
    host: '127.0.0.1',
    port,
    users,
    dir,
    client,
    async append(user, raw, mailbox = 'INBOX', internalDate) {
      const c = await client(user);
      try {
        if (mailbox !== 'INBOX') await c.mailboxCreate(mailbox).catch(() => undefined);
        const res = await c.append(mailbox, typeof raw === 'string' ? Buffer.from(raw) : raw, [], internalDate);
        if (!res || !res.uid) throw new Error(`APPEND a ${mailbox} no devolvió UID`);
        return res.uid;
      } finally {
        await c.logout().catch(() => c.close());
      }
    },
    async stop() {
      await stop();
      process.removeListener('exit', killOnExit);
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async restart(whileDown) {
      await stop();
      // Up again even if the check while down fails: the tests after it share this server.
      try {
        await whileDown?.();
      } finally {
        await launch();
      }
    },
    async kick(user) {
      const r = spawnSync(DOVEADM, ['-c', confPath, 'kick', user], { encoding: 'utf8', timeout: 10_000 });
      if (r.status !== 0) throw new Error(`doveadm kick falló (${r.status}): ${r.stderr}`);
    },
    log: readLog,
  };
}

function signalGroup(c: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-c.pid!, signal);
  } catch {
    // the group is already gone
  }
}

function uidOf(name: string): number | undefined {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  return line ? Number(line.split(':')[2]) : undefined;
}

function gidOf(name: string): number | undefined {
  const line = fs
    .readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  return line ? Number(line.split(':')[2]) : undefined;
}

/** Connects until the server sends its "* OK" greeting (the port being open is not enough: imap-login may lag). */
async function waitForImapGreeting(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, host);
      let buf = '';
      const done = (v: boolean) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(1000, () => done(false));
      sock.on('data', (d) => {
        buf += d;
        if (buf.includes('\n')) done(buf.startsWith('* OK'));
      });
      sock.on('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`dovecot no respondió en ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitUntilClosed(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, host);
      sock.on('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.on('error', () => resolve(false));
    });
    if (!open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
