import fs from 'node:fs';
const [file, name] = [process.argv[2], process.argv[3]];
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map<number, any>(prof.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<number, number>();
prof.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const stacks = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id);
  if (n.callFrame.functionName !== name) continue;
  const chain: string[] = [];
  let p = parent.get(id);
  for (let i = 0; i < 6 && p !== undefined; i++) { const c = byId.get(p).callFrame; chain.push(`${c.functionName || '(anon)'}@${String(c.url).split('/').slice(-1)[0]}:${c.lineNumber}`); p = parent.get(p); }
  const k = chain.join(' < ');
  stacks.set(k, (stacks.get(k) ?? 0) + us);
}
for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log((v / 1000).toFixed(0), 'ms', k);
