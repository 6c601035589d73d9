/**
 * Corpus run: every mail of the public corpus (tests/support/corpus.ts) through the REAL ingest path (parse → filters → SQLite), with a
 * per-mail timeout guard, reported as figures. Run with `npm run corpus` (table on stdout, JSON under
 * tests/.artifacts/). tests/corpus/corpus.test.ts reuses collectCorpus/runCorpus on a sample.
 *
 * What counts as a mail is decided by content, not by file name: a header block at the top ("Name: value"
 * lines with at least one of the usual mail headers), or an mbox ("From " separator lines, split as
 * `mesa ingest` splits them). The reply corpora whose cases are bodies without headers (discourse, talon's HTML
 * replies) are wrapped in a minimal mail so their expected visible text can be compared.
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { App } from '../../src/app.ts';
import { splitMbox } from '../../src/cli/mbox.ts';
import { classifyBounce } from '../../src/inbound/filters/bounce.ts';
import type { IngestResult } from '../../src/inbound/ingest-types.ts';
import { parseMail } from '../../src/inbound/parse.ts';
import { caseDetail } from '../../src/services/case-view.ts';
import { testApp } from '../support/app.ts';
import { CORPUS_DIR } from '../support/corpus.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');

export function corpusRoot(): string | undefined {
  const dir = CORPUS_DIR;
  return fs.existsSync(path.join(dir, 'README.md')) || fs.existsSync(path.join(dir, 'reply')) ? dir : undefined;
}

export interface CorpusItem {
  /** Path relative to the corpus root, with `#n` for the n-th message of an mbox. */
  id: string;
  /** Mails of one group share one app (one database); copies in other groups are not hidden as duplicates. */
  group: string;
  raw: Buffer;
  wrapped?: 'text' | 'html';
  expectedVisible?: { text: string; compare: 'exact' | 'whitespace' };
  sisimai?: Array<{ hard: boolean; reason: string; status: string }>;
}

const MAIL_HEADERS =
  /^(from|to|subject|date|message-id|received|content-type|mime-version|return-path|delivered-to|x-[a-z0-9-]+|sender|reply-to|cc|references|in-reply-to|dkim-signature|arc-[a-z-]+|authentication-results|x-original-to)$/i;

/** A message has at least one of these; a bare MIME part (Content-Type and friends only) is not a mail. */
const MESSAGE_HEADERS = /^(from|to|subject|date|message-id|received|return-path|delivered-to|sender|reply-to)$/i;

/** Does this look like a mail? A block of header lines at the very top: two known headers, one of them a message's. */
export function looksLikeMail(buf: Buffer): boolean {
  const head = buf
    .subarray(0, 16 * 1024)
    .toString('latin1')
    .replace(/^\uFEFF/, '');
  const lines = head.split(/\r\n|\r|\n/);
  let known = 0;
  let message = 0;
  let i = 0;
  for (; i < lines.length && i < 400; i++) {
    const line = lines[i];
    if (line === '') break;
    if (/^[ \t]/.test(line) && i > 0) continue;
    const m = /^([!-9;-~]+):/.exec(line);
    if (!m) return false;
    if (MAIL_HEADERS.test(m[1])) known++;
    if (MESSAGE_HEADERS.test(m[1])) message++;
  }
  return known >= 2 && message >= 1;
}

function isMbox(buf: Buffer): boolean {
  return /^From [^\r\n]*\r?\n[!-9;-~]+:/.test(buf.subarray(0, 4096).toString('latin1'));
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function wrap(body: string, kind: 'text' | 'html', n: number): Buffer {
  const head = [
    `From: Corpus ${n} <corpus${n}@cliente${n}.example>`,
    'To: soporte@mesa.test',
    `Subject: Consulta ${n}`,
    `Message-ID: <corpus-wrapped-${n}@cliente.example>`,
    'Date: Mon, 02 Nov 2026 10:00:00 -0500',
    'MIME-Version: 1.0',
    `Content-Type: text/${kind === 'html' ? 'html' : 'plain'}; charset=utf-8`,
    'Content-Transfer-Encoding: 8bit',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head + '\r\n\r\n', 'utf8'), Buffer.from(body, 'utf8')]);
}

/** Every mail of the corpus, with whatever expected result the corpus gives for it. */
export function collectCorpus(root: string): CorpusItem[] {
  const items: CorpusItem[] = [];
  const talonFile = path.join(root, 'reply/talon/EXPECTED.talon.json');
  const talon: Record<string, { visible_reply_text: string; compare: string }> = fs.existsSync(talonFile)
    ? JSON.parse(fs.readFileSync(talonFile, 'utf8')).cases
    : {};
  const sisimaiFile = path.join(root, 'bounce/sisimai-set-of-emails/EXPECTED.sisimai.json');
  const sisimai: Record<string, Array<{ hard_bounce: boolean; reason: string; status: string }>> = fs.existsSync(
    sisimaiFile,
  )
    ? JSON.parse(fs.readFileSync(sisimaiFile, 'utf8')).files
    : {};
  const discourse = path.join(root, 'reply/discourse-email_reply_trimmer/test');
  let wrappedN = 0;

  for (const file of walk(root)) {
    const rel = path.relative(root, file).split(path.sep).join('/');
    const group = path.dirname(rel);
    const buf = fs.readFileSync(file);
    if (buf.length === 0) continue;
    const talonKey = rel.replace(/^reply\/talon\//, '');
    const talonCase = rel.startsWith('reply/talon/') ? talon[talonKey] : undefined;
    const expectedVisible = talonCase
      ? {
          text: talonCase.visible_reply_text,
          compare: talonCase.compare.startsWith('exact') ? ('exact' as const) : ('whitespace' as const),
        }
      : undefined;

    if (rel.startsWith('reply/discourse-email_reply_trimmer/test/emails/')) {
      const trimmed = path.join(discourse, 'trimmed', path.basename(file));
      items.push({
        id: rel,
        group,
        raw: wrap(buf.toString('utf8'), 'text', ++wrappedN),
        wrapped: 'text',
        expectedVisible: fs.existsSync(trimmed)
          ? { text: fs.readFileSync(trimmed, 'utf8'), compare: 'exact' }
          : undefined,
      });
      continue;
    }
    if (talonCase && rel.endsWith('.html')) {
      items.push({
        id: rel,
        group,
        raw: wrap(buf.toString('utf8'), 'html', ++wrappedN),
        wrapped: 'html',
        expectedVisible,
      });
      continue;
    }
    if (isMbox(buf)) {
      splitMbox(buf).forEach((raw, i) => items.push({ id: `${rel}#${i + 1}`, group, raw }));
      continue;
    }
    if (!looksLikeMail(buf)) continue;
    const exp = rel.startsWith('bounce/sisimai-set-of-emails/maildir/bsd/') ? sisimai[path.basename(file)] : undefined;
    items.push({
      id: rel,
      group,
      raw: buf,
      expectedVisible,
      sisimai: exp?.map((r) => ({ hard: r.hard_bounce, reason: r.reason, status: r.status })),
    });
  }
  return items;
}

export type OutcomeLabel = string; // accepted:new_case | ignored:bounce | rejected:unparseable | tempfail:X | crash | hang

export interface ItemResult {
  id: string;
  label: OutcomeLabel;
  ms: number;
  ledgerRows: number;
  visible?: string;
  visibleExact?: boolean;
  visibleLoose?: boolean;
  bounce?: {
    recognised: boolean;
    automated: boolean;
    ourHard?: boolean;
    expectedHard: boolean;
    hardAgrees?: boolean;
    classAgrees?: boolean;
  };
  error?: string;
}

export interface CorpusReport {
  mailsRead: number;
  byOutcome: Record<string, number>;
  crashes: number;
  hangs: number;
  notExactlyOneOutcome: string[];
  visible: {
    compared: number;
    exact: number;
    loose: number;
    exactPct: number;
    loosePct: number;
    misses: Array<{ id: string; expected: string; got: string }>;
  };
  bounces: {
    expected: number;
    recognised: number;
    recognisedPct: number;
    automated: number;
    hardCompared: number;
    hardAgree: number;
    hardAgreePct: number;
    classCompared: number;
    classAgree: number;
    classAgreePct: number;
    notRecognised: string[];
  };
  slowest: Array<{ id: string; ms: number }>;
  items: ItemResult[];
}

const norm = (s: string) => s.replace(/\r\n?/g, '\n').replace(/\s+/g, ' ').trim();
const pct = (a: number, b: number) => (b === 0 ? 0 : Math.round((1000 * a) / b) / 10);

function labelOf(r: IngestResult): string {
  if (r.outcome === 'accepted') return `accepted:${r.effect}`;
  return `${r.outcome}:${r.reason ?? '?'}`;
}

/** Runs items through ingest, one app per group (created lazily, closed when the group ends). */
export async function runCorpus(
  items: CorpusItem[],
  opts: { timeoutMs?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<CorpusReport> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const results: ItemResult[] = [];
  let app: App | undefined;
  let appGroup = '';
  let uid = 0;
  try {
    for (const [i, item] of items.entries()) {
      if (!app || appGroup !== item.group) {
        await app?.close();
        app = await testApp();
        appGroup = item.group;
      }
      results.push(await runOne(app, item, ++uid, timeoutMs));
      opts.onProgress?.(i + 1, items.length);
    }
  } finally {
    await app?.close();
  }
  return summarise(items, results);
}

async function runOne(app: App, item: CorpusItem, uid: number, timeoutMs: number): Promise<ItemResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const source = { kind: 'imap' as const, account: 'support' as const, folder: 'corpus', uidvalidity: 1, uid };
  let r: IngestResult | 'hang';
  try {
    r = await Promise.race([
      app.ingest.ingest(item.raw, source),
      new Promise<'hang'>((resolve) => {
        timer = setTimeout(() => resolve('hang'), timeoutMs);
      }),
    ]);
  } catch (err) {
    return {
      id: item.id,
      label: 'crash',
      ms: performance.now() - started,
      ledgerRows: 0,
      error: String((err as Error)?.stack ?? err).slice(0, 500),
    };
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - started;
  if (r === 'hang') return { id: item.id, label: 'hang', ms, ledgerRows: 0 };
  // A mail that blocks the event loop past the guard is a hang too, even if it finished in the end.
  const label = ms > timeoutMs ? 'hang' : labelOf(r);
  const ledgerRows = Number((await app.db('ingest_ledger').where({ source_key: r.sourceKey }).count({ n: '*' }))[0].n);
  const out: ItemResult = { id: item.id, label, ms, ledgerRows };
  if (r.outcome === 'tempfail') out.error = r.detail;

  if (item.expectedVisible) {
    let got = '';
    if (r.outcome === 'accepted' && r.effect === 'new_case' && r.ticketNumber) {
      got = (await caseDetail(app.db, r.ticketNumber))?.messages[0]?.bodyText ?? '';
    }
    out.visible = got;
    const exp = item.expectedVisible.text;
    out.visibleExact = item.expectedVisible.compare === 'exact' ? got.trim() === exp.trim() : norm(got) === norm(exp);
    out.visibleLoose = norm(got) === norm(exp) || norm(got).toLowerCase() === norm(exp).toLowerCase();
  }
  if (item.sisimai?.length) {
    // sisimai's hard_bounce means "this address is dead" (user/host unknown), which is our `addressGone`;
    // its status class (5 = permanent, 4 = transient, RFC 3463) is compared with our `hard`.
    const expectedHard = item.sisimai.some((s) => s.hard);
    const expectedClass = item.sisimai.map((s) => s.status[0]).find((c) => c === '4' || c === '5');
    let b: ReturnType<typeof classifyBounce>;
    try {
      b = classifyBounce(await parseMail(item.raw));
    } catch {
      /* unparseable: counted by the outcome */
    }
    const isBounce = b?.kind === 'bounce';
    // A copy of an earlier corpus mail is ignored as a duplicate; what it would have been is what the original got.
    const recognised =
      label === 'ignored:bounce' || (isBounce && (label === 'accepted:system_note' || label === 'ignored:duplicate'));
    const automated =
      recognised ||
      /^ignored:(auto_reply|mailing_list)$/.test(label) ||
      (label === 'ignored:duplicate' && b !== undefined);
    out.bounce = {
      recognised,
      automated,
      expectedHard,
      ourHard: isBounce ? b!.addressGone : undefined,
      hardAgrees: recognised && isBounce ? Boolean(b!.addressGone) === expectedHard : undefined,
      classAgrees: recognised && isBounce && expectedClass ? (b!.hard ? '5' : '4') === expectedClass : undefined,
    };
  }
  return out;
}

/**
 * The same run in a child process watched from outside: a mail that blocks the event loop (a runaway regex)
 * cannot be stopped by a timer inside the process, so the parent kills the child when one mail takes longer than
 * the guard, records that mail as a hang (or as a crash when the child dies), and starts a new child at the next
 * mail.
 */
export async function runCorpusIsolated(
  items: CorpusItem[],
  opts: { timeoutMs: number; onProgress?: (done: number, total: number) => void },
): Promise<CorpusReport> {
  const results: ItemResult[] = [];
  let from = 0;
  while (from < items.length) {
    from = await new Promise<number>((resolve) => {
      const child = fork(fileURLToPath(import.meta.url), ['--child', String(from), String(opts.timeoutMs)], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let current = from;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (nextFrom: number) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve(nextFrom);
        }
      };
      child.on('message', (m: { type: string; i: number; result?: ItemResult }) => {
        if (m.type === 'start') {
          current = m.i;
          clearTimeout(timer);
          timer = setTimeout(() => {
            results.push({ id: items[current].id, label: 'hang', ms: opts.timeoutMs, ledgerRows: 0 });
            child.kill('SIGKILL');
            finish(current + 1);
          }, opts.timeoutMs * 1.5);
        } else if (m.type === 'done' && m.result) {
          clearTimeout(timer);
          results.push(m.result);
          opts.onProgress?.(results.length, items.length);
        } else if (m.type === 'end') {
          finish(items.length);
        }
      });
      child.on('exit', () => {
        if (settled) return;
        // The child died in the middle of a mail: that mail crashed the process.
        results.push({ id: items[current].id, label: 'crash', ms: 0, ledgerRows: 0, error: 'proceso terminado' });
        finish(current + 1);
      });
    });
  }
  return summarise(items, results);
}

async function childMain(from: number, timeoutMs: number): Promise<void> {
  const root = corpusRoot()!;
  const items = collectCorpus(root);
  let app: App | undefined;
  let appGroup = '';
  for (let i = from; i < items.length; i++) {
    if (!app || appGroup !== items[i].group) {
      await app?.close();
      app = await testApp();
      appGroup = items[i].group;
    }
    process.send!({ type: 'start', i });
    const result = await runOne(app, items[i], i + 1, timeoutMs);
    process.send!({ type: 'done', i, result });
  }
  await app?.close();
  process.send!({ type: 'end', i: items.length });
}

function summarise(items: CorpusItem[], results: ItemResult[]): CorpusReport {
  const byOutcome: Record<string, number> = {};
  for (const r of results) byOutcome[r.label] = (byOutcome[r.label] ?? 0) + 1;
  const vis = results.filter((r) => r.visibleExact !== undefined);
  const expById = new Map(items.map((i) => [i.id, i]));
  // Bounce figures: sisimai's cases that are delivery failures (not its "feedback", "vacation" or "delivered").
  const bounceRows = results.filter(
    (r) =>
      r.bounce &&
      expById.get(r.id)!.sisimai!.some((s) => !['feedback', 'vacation', 'delivered', 'undefined'].includes(s.reason)),
  );
  const hardCompared = bounceRows.filter((r) => r.bounce!.hardAgrees !== undefined);
  const classCompared = bounceRows.filter((r) => r.bounce!.classAgrees !== undefined);
  return {
    mailsRead: results.length,
    byOutcome: Object.fromEntries(Object.entries(byOutcome).sort((a, b) => b[1] - a[1])),
    crashes: results.filter((r) => r.label === 'crash').length,
    hangs: results.filter((r) => r.label === 'hang').length,
    notExactlyOneOutcome: results
      .filter((r) => r.label !== 'crash' && r.label !== 'hang' && !r.label.startsWith('tempfail') && r.ledgerRows !== 1)
      .map((r) => r.id),
    visible: {
      compared: vis.length,
      exact: vis.filter((r) => r.visibleExact).length,
      loose: vis.filter((r) => r.visibleLoose).length,
      exactPct: pct(vis.filter((r) => r.visibleExact).length, vis.length),
      loosePct: pct(vis.filter((r) => r.visibleLoose).length, vis.length),
      misses: vis
        .filter((r) => !r.visibleLoose)
        .map((r) => ({
          id: r.id,
          expected: expById.get(r.id)!.expectedVisible!.text.slice(0, 300),
          got: (r.visible ?? '').slice(0, 300),
        })),
    },
    bounces: {
      expected: bounceRows.length,
      recognised: bounceRows.filter((r) => r.bounce!.recognised).length,
      recognisedPct: pct(bounceRows.filter((r) => r.bounce!.recognised).length, bounceRows.length),
      automated: bounceRows.filter((r) => r.bounce!.automated).length,
      hardCompared: hardCompared.length,
      hardAgree: hardCompared.filter((r) => r.bounce!.hardAgrees).length,
      hardAgreePct: pct(hardCompared.filter((r) => r.bounce!.hardAgrees).length, hardCompared.length),
      classCompared: classCompared.length,
      classAgree: classCompared.filter((r) => r.bounce!.classAgrees).length,
      classAgreePct: pct(classCompared.filter((r) => r.bounce!.classAgrees).length, classCompared.length),
      notRecognised: bounceRows.filter((r) => !r.bounce!.recognised).map((r) => `${r.id} → ${r.label}`),
    },
    slowest: [...results]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5)
      .map((r) => ({ id: r.id, ms: Math.round(r.ms) })),
    items: results,
  };
}

export function formatReport(rep: CorpusReport): string {
  const rows: Array<[string, string]> = [
    ['mails read', String(rep.mailsRead)],
    ['crashes', String(rep.crashes)],
    ['hangs (timeout guard)', String(rep.hangs)],
    ['mails without exactly one ledger row', String(rep.notExactlyOneOutcome.length)],
    ...Object.entries(rep.byOutcome).map(([k, v]): [string, string] => [`  ${k}`, String(v)]),
    ['visible text compared', String(rep.visible.compared)],
    ['  exact match', `${rep.visible.exact} (${rep.visible.exactPct} %)`],
    ['  normalized-whitespace match', `${rep.visible.loose} (${rep.visible.loosePct} %)`],
    ['sisimai delivery failures', String(rep.bounces.expected)],
    ['  recognised as bounce', `${rep.bounces.recognised} (${rep.bounces.recognisedPct} %)`],
    ['  kept out of cases (bounce/auto/list)', String(rep.bounces.automated)],
    [
      '  hard (address gone) vs sisimai hard_bounce',
      `${rep.bounces.hardAgree}/${rep.bounces.hardCompared} (${rep.bounces.hardAgreePct} %)`,
    ],
    [
      '  permanent/transient (5.x.x/4.x.x) vs status',
      `${rep.bounces.classAgree}/${rep.bounces.classCompared} (${rep.bounces.classAgreePct} %)`,
    ],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

async function main(): Promise<void> {
  const root = corpusRoot();
  if (!root) {
    console.log(`corpus: no está en ${CORPUS_DIR}; nada que medir (MESA_CORPUS_DIR lo ubica).`);
    return;
  }
  const items = collectCorpus(root);
  const tty = process.stderr.isTTY;
  const rep = await runCorpusIsolated(items, {
    timeoutMs: Number(process.env.CORPUS_TIMEOUT_MS ?? 20_000),
    onProgress: (d, t) => {
      if (tty && (d % 25 === 0 || d === t)) process.stderr.write(`\r${d}/${t}`);
    },
  });
  if (tty) process.stderr.write('\n');
  console.log(formatReport(rep));
  const outDir = path.join(REPO_ROOT, 'tests', '.artifacts');
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, 'corpus-report.json');
  fs.writeFileSync(out, JSON.stringify(rep, null, 2));
  console.log(`\nslowest: ${rep.slowest.map((s) => `${s.id} ${s.ms} ms`).join(', ')}`);
  console.log(`JSON: ${path.relative(process.cwd(), out)}`);
  if (rep.crashes || rep.hangs || rep.notExactlyOneOutcome.length) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const child = process.argv.indexOf('--child');
  (child > 0 ? childMain(Number(process.argv[child + 1]), Number(process.argv[child + 2])) : main()).then(
    () => process.exit(),
    (err) => {
      console.error(err);
      process.exit(2);
    },
  );
}
