import fs from 'node:fs';

/** Summarises a V8 .cpuprofile (from BENCH_CPU_PROF): self time by function and by package/file, top first. */
const file = process.argv[2];
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map<number, any>(prof.nodes.map((n: any) => [n.id, n]));
const self = new Map<number, number>();
const dt: number[] = prof.timeDeltas;
prof.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fnTotals = new Map<string, number>();
const fileTotals = new Map<string, number>();
for (const [id, us] of self) {
  const cf = byId.get(id).callFrame;
  const url = String(cf.url || '(native)').replace(/^file:\/\//, '').replace(/.*node_modules\//, 'nm:');
  const key = `${cf.functionName || '(anon)'} ${url.split('/').slice(-2).join('/')}:${cf.lineNumber}`;
  fnTotals.set(key, (fnTotals.get(key) ?? 0) + us);
  const pkg = url.startsWith('nm:') ? url.split('/').slice(0, url.startsWith('nm:@') ? 2 : 1).join('/') : url.split('/').slice(-2).join('/');
  fileTotals.set(pkg, (fileTotals.get(pkg) ?? 0) + us);
}
const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`).join('\n');
console.log(`total ${(total / 1000).toFixed(0)} ms\n-- by file/package --\n${top(fileTotals, 25)}\n-- by function --\n${top(fnTotals, 30)}`);
