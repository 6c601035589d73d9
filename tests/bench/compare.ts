/**
 * `npm run bench -- --compare OLD.json`: the new table beside an earlier run's, figure by figure, for comparing
 * versions. A figure measured against a limit (ingest, notify) is compared by its ratio, since the limits themselves
 * move with the machine; the others by their value.
 */
export interface BenchRow {
  figure: string;
  mesa: number | string;
  limit?: number | string;
  ratio?: number;
  unit: string;
}

export interface Comparison {
  figure: string;
  before: string;
  now: string;
  change: string;
}

export function compareTables(before: readonly BenchRow[], now: readonly BenchRow[]): Comparison[] {
  const old = new Map(before.map((r) => [r.figure, r]));
  return now.map((r) => {
    const b = old.get(r.figure);
    const byRatio = r.limit !== undefined && r.ratio !== undefined;
    const show = (x: BenchRow) => (byRatio && x.ratio !== undefined ? `${x.ratio.toFixed(2)}×` : `${x.mesa} ${x.unit}`);
    if (!b) return { figure: r.figure, before: '—', now: show(r), change: '' };
    const [was, is] = byRatio && b.ratio !== undefined ? [b.ratio, r.ratio!] : [Number(b.mesa), Number(r.mesa)];
    const change =
      Number.isFinite(was) && Number.isFinite(is) && was !== 0
        ? `${is >= was ? '+' : ''}${(((is - was) / was) * 100).toFixed(0)} %`
        : '';
    return { figure: r.figure, before: show(b), now: show(r), change };
  });
}
