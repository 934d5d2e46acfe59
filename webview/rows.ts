import { formatPercent } from '../src/shared/format';
import type { Metrics, SoupMethodView, SoupReport } from '../src/shared/webviewProtocol';

/** What a row of the comparison stands for. */
export type RowKind = 'soup' | 'uniform' | 'ensemble' | 'best' | 'ingredient';

/** One model of the comparison table (and of the charts). */
export interface ModelRow {
  label: string;
  kind: RowKind;
  /** Text of the "Kind" column. */
  kindText: string;
  metrics?: Metrics;
  /** Inference cost relative to one model: 1 for any soup, K for a K-model ensemble. */
  cost: number;
  /** Why an ingredient has no metrics. */
  note?: string;
  inSoup?: boolean;
}

/** The soup, the baselines and every ingredient, in that order. */
export function modelRows(report: SoupReport, method: SoupMethodView): ModelRow[] {
  const b = report.baselines;
  const members = new Set(report.soup.members);
  const rows: ModelRow[] = [{ label: method.label, kind: 'soup', kindText: `soup of ${report.soup.members.length}`, metrics: report.soup.metrics, cost: 1 }];
  // A uniform soup is its own uniform baseline; showing it twice would only add noise.
  if (!method.produces.uniformSoup) rows.push({ label: 'Uniform soup', kind: 'uniform', kindText: `soup of ${b.uniform.members.length}`, metrics: b.uniform.metrics, cost: 1 });
  rows.push({ label: 'Logit ensemble', kind: 'ensemble', kindText: `ensemble of ${b.ensemble.members.length}`, metrics: b.ensemble.metrics, cost: Math.max(1, b.ensemble.members.length) });
  rows.push({ label: `Best individual (${b.bestIndividual.members[0] ?? '?'})`, kind: 'best', kindText: 'best ingredient', metrics: b.bestIndividual.metrics, cost: 1 });
  const ingredients = [...report.ingredients].sort((x, y) => (y.metrics?.heldout ?? y.heldout ?? -1) - (x.metrics?.heldout ?? x.heldout ?? -1) || x.id.localeCompare(y.id));
  for (const ing of ingredients) {
    rows.push({
      label: ing.id,
      kind: 'ingredient',
      kindText: members.has(ing.id) ? 'in soup' : ing.status === 'ok' ? 'ingredient' : `ingredient · ${ing.status}`,
      metrics: ing.metrics,
      cost: 1,
      note: ing.metrics ? undefined : ing.reason ?? `not evaluated (${ing.status})`,
      inSoup: members.has(ing.id),
    });
  }
  return rows;
}

/** A column of the comparison: a dataset, the shift average, or the cost. */
export interface Column {
  key: string;
  title: string;
  value(row: ModelRow): number | undefined;
  /** Higher is better (accuracy) or lower is better (cost). */
  better: 'higher' | 'lower';
  format(v: number): string;
}

export function metricColumns(report: SoupReport): Column[] {
  const cols: Column[] = [
    { key: 'heldout', title: 'Held-out', value: (r) => r.metrics?.heldout, better: 'higher', format: (v) => formatPercent(v) },
    { key: 'test', title: 'Test', value: (r) => r.metrics?.test, better: 'higher', format: (v) => formatPercent(v) },
  ];
  for (const s of report.shiftNames) cols.push({ key: `shift:${s}`, title: s.replace(/_/g, ' '), value: (r) => r.metrics?.shifts[s], better: 'higher', format: (v) => formatPercent(v) });
  cols.push({ key: 'shiftAvg', title: 'Shift avg', value: (r) => r.metrics?.shiftAvg, better: 'higher', format: (v) => formatPercent(v) });
  cols.push({ key: 'cost', title: 'Inference cost', value: (r) => r.cost, better: 'lower', format: (v) => `${v}×` });
  return cols;
}

/** The best value of a column over the rows (ties all count as best). */
export function bestOf(col: Column, rows: ModelRow[]): number | undefined {
  const values = rows.map((r) => col.value(r)).filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (values.length === 0) return undefined;
  return col.better === 'higher' ? Math.max(...values) : Math.min(...values);
}
