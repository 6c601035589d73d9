import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SourceMapConsumer } from 'source-map-js';

/**
 * Summarises a V8 .cpuprofile (from BENCH_CPU_PROF):
 *   npx tsx tests/bench/profile-summary.ts FILE                   self time by function and by package/file, top first
 *   npx tsx tests/bench/profile-summary.ts FILE --callers NAME    the call stacks under which NAME spent its self time
 *   npx tsx tests/bench/profile-summary.ts FILE --inclusive [SUB] time of the functions whose file path contains SUB
 *                                                                 (default /src/), callees included, as a share of
 *                                                                 the busy time; a recursive function counts once
 * PROFILE_LAST=S keeps only the samples of the profile's last S seconds.
 * A position in a file with a source map beside it (the build's `.js.map`: keep the bench's build with BENCH_KEEP=1)
 * is told as the source's file and line, so that two builds' profiles can be compared by `src/` file and function.
 */
const [file, mode, arg] = process.argv.slice(2);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map<number, any>(prof.nodes.map((n: any) => [n.id, n]));
const self = new Map<number, number>();
const dt: number[] = prof.timeDeltas;
// PROFILE_LAST=S: only the last S seconds of the profile, where a phase times its work (the notify phase first
// ingests the mail whose confirmations it then times).
const from = process.env.PROFILE_LAST ? prof.endTime - Number(process.env.PROFILE_LAST) * 1e6 : -Infinity;
let at = prof.startTime;
prof.samples.forEach((id: number, i: number) => {
  at += dt[i] ?? 0;
  if (at >= from) self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
const maps = new Map<string, SourceMapConsumer | undefined>();
const mapOf = (url: string): SourceMapConsumer | undefined => {
  if (!maps.has(url)) {
    const map = url.startsWith('file://') ? `${fileURLToPath(url)}.map` : '';
    maps.set(
      url,
      map && fs.existsSync(map) ? new SourceMapConsumer(JSON.parse(fs.readFileSync(map, 'utf8'))) : undefined,
    );
  }
  return maps.get(url);
};
const frames = new Map<number, any>();
/** A node's call frame, at its source's file and line when a source map says where that is. */
const frame = (id: number) => {
  let cf = frames.get(id);
  if (!cf) {
    cf = byId.get(id).callFrame;
    const at = mapOf(String(cf.url))?.originalPositionFor({ line: cf.lineNumber + 1, column: cf.columnNumber });
    if (at?.source) {
      const source = pathToFileURL(path.resolve(path.dirname(fileURLToPath(cf.url)), at.source)).href;
      cf = { ...cf, url: source, lineNumber: at.line - 1, functionName: cf.functionName || at.name || '' };
    }
    frames.set(id, cf);
  }
  return cf;
};
const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(6)} ms`;
const ranked = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);

if (mode === '--callers') {
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stacks = new Map<string, number>();
  for (const [id, us] of self) {
    if (frame(id).functionName !== arg) continue;
    const chain: string[] = [];
    for (let p = parent.get(id), i = 0; p !== undefined && i < 6; p = parent.get(p), i++) {
      const cf = frame(p);
      chain.push(`${cf.functionName || '(anon)'}@${String(cf.url).split('/').pop()}:${cf.lineNumber}`);
    }
    const key = chain.join(' < ');
    stacks.set(key, (stacks.get(key) ?? 0) + us);
  }
  for (const [k, v] of ranked(stacks, 8)) console.log(`${ms(v)} ${k}`);
} else if (mode === '--inclusive') {
  const match = arg ?? '/src/';
  const idle = [...self].filter(([id]) => frame(id).functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
  const incl = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): number => {
    const cf = frame(id);
    const key = String(cf.url).includes(match)
      ? `${cf.functionName || '(anon)'} ${String(cf.url).split('/').slice(-2).join('/')}`
      : undefined;
    const fresh = key !== undefined && !onStack.has(key);
    if (fresh) onStack.add(key!);
    let sum = self.get(id) ?? 0;
    for (const c of byId.get(id).children ?? []) sum += walk(c, onStack);
    if (fresh) {
      onStack.delete(key!);
      incl.set(key!, (incl.get(key!) ?? 0) + sum);
    }
    return sum;
  };
  walk(prof.nodes[0].id, new Set());
  console.log(`total ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`);
  for (const [k, v] of ranked(incl, 45))
    console.log(`${ms(v)} ${((v / (total - idle)) * 100).toFixed(1).padStart(5)}%  ${k}`);
} else {
  const fnTotals = new Map<string, number>();
  const fileTotals = new Map<string, number>();
  for (const [id, us] of self) {
    const cf = frame(id);
    const url = String(cf.url || '(native)')
      .replace(/^file:\/\//, '')
      .replace(/.*node_modules\//, 'nm:');
    const key = `${cf.functionName || '(anon)'} ${url.split('/').slice(-2).join('/')}:${cf.lineNumber}`;
    fnTotals.set(key, (fnTotals.get(key) ?? 0) + us);
    const pkg = url.startsWith('nm:')
      ? url
          .split('/')
          .slice(0, url.startsWith('nm:@') ? 2 : 1)
          .join('/')
      : url.split('/').slice(-2).join('/');
    fileTotals.set(pkg, (fileTotals.get(pkg) ?? 0) + us);
  }
  const top = (m: Map<string, number>, n: number) =>
    ranked(m, n)
      .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  console.log(
    `total ${(total / 1000).toFixed(0)} ms\n-- by file/package --\n${top(fileTotals, 25)}\n-- by function --\n${top(fnTotals, 30)}`,
  );
}
