import fs from 'node:fs';

/** Inclusive time (self + callees) of the functions of one folder in a V8 .cpuprofile, top first:
 * `npx tsx tests/bench/inclusive.ts FILE [match=src/]`. A function that calls itself is counted once per stack. */
const [file, match = '/src/'] = process.argv.slice(2);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map<number, any>(prof.nodes.map((n: any) => [n.id, n]));
const self = new Map<number, number>();
prof.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
const incl = new Map<string, number>();
const walk = (id: number, onStack: Set<string>): number => {
  const n = byId.get(id);
  let sum = self.get(id) ?? 0;
  const cf = n.callFrame;
  const key = String(cf.url).includes(match) ? `${cf.functionName || '(anon)'} ${String(cf.url).split('/').slice(-2).join('/')}` : undefined;
  const fresh = key !== undefined && !onStack.has(key);
  if (fresh) onStack.add(key!);
  for (const c of n.children ?? []) sum += walk(c, onStack);
  if (fresh) {
    onStack.delete(key!);
    incl.set(key!, (incl.get(key!) ?? 0) + sum);
  }
  return sum;
};
walk(prof.nodes[0].id, new Set());
console.log(`total ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`);
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 45)) console.log(`${(v / 1000).toFixed(0).padStart(6)} ms ${((v / (total - idle)) * 100).toFixed(1).padStart(5)}%  ${k}`);
