import type { CalibrationSummary } from '../engine/analyses/types';
import type { DatasetInfo, Metrics, SoupReport } from '../engine/report';

// Two cooked soups side by side (issue 11, point 6). Pure: the compare panel's webview builds
// its table from this, and the unit tests check it against the two reports' own numbers.

/** Where a dataset row comes from: a configured set, or the unweighted mean over the shift sets. */
export type ComparedDatasetKind = 'heldout' | 'test' | 'shift' | 'shiftAvg';

/** One dataset row: both soups' accuracy on it and B − A. */
export interface DatasetComparison {
  /** `heldout`, `test`, a shift name, or `shiftAvg`. */
  key: string;
  kind: ComparedDatasetKind;
  /** Accuracies, fractions in [0, 1]; undefined when that soup's report has no such dataset. */
  a?: number;
  b?: number;
  /** (b − a) in percentage points; undefined unless both soups have the dataset. */
  diffPp?: number;
  /** Correct predictions and dataset size per soup (none for the shift average). */
  correctA?: number;
  correctB?: number;
  nA?: number;
  nB?: number;
  /** Set when only one of the reports has this dataset. */
  onlyIn?: 'a' | 'b';
  /**
   * False when both have the dataset but it is not the same data (another file, size, kind or
   * class subset; for the shift average, other shift sets): B − A then compares apples with pears.
   */
  sameData: boolean;
}

/** The soups' calibration on one dataset (or the shift average), when both reports have it. */
export interface CalibrationComparison {
  key: string;
  kind: ComparedDatasetKind;
  eceA?: number;
  eceB?: number;
  nllA?: number;
  nllB?: number;
}

/** What one side of the comparison is. */
export interface ComparedSoup {
  name: string;
  method: string;
  createdAt: string;
  /** Soup members in the order they were added. */
  members: string[];
  /** Ingredients the cook could choose from (the ensemble's members: the checked, usable runs). */
  candidates: number;
  /** Runs the cook found, usable or not. */
  ingredientsFound: number;
}

/** The comparison of soup B with soup A; every difference is B − A. */
export interface SoupComparison {
  a: ComparedSoup;
  b: ComparedSoup;
  members: { common: string[]; onlyA: string[]; onlyB: string[] };
  /** Held-out, test, each shift set (A's order, then B's extra ones), then the shift average. */
  datasets: DatasetComparison[];
  /** Present only when both reports hold `analyses.calibration` of their soup. */
  calibration?: CalibrationComparison[];
  /** Why some differences cannot be read at face value (other data, datasets in one soup only). */
  warnings: string[];
}

/** The soup's entry in `analyses.calibration.models`. */
const SOUP_MODEL = 'soup';

/**
 * Compares soup `b` with soup `a` dataset by dataset. A dataset that only one report has is kept
 * (with `onlyIn`), never dropped; datasets that differ between the two cooks are flagged and warned
 * about, because their accuracies are then not comparable.
 */
export function compareSoups(a: SoupReport, b: SoupReport): SoupComparison {
  const datasets = datasetRows(a, b);
  const warnings: string[] = [];
  const differing = datasets.filter((d) => !d.sameData && d.kind !== 'shiftAvg').map((d) => `${datasetLabel(d.key, d.kind)} (${dataDifference(a.datasets?.[d.key], b.datasets?.[d.key])})`);
  if (differing.length > 0) warnings.push(`The soups were evaluated on different data: ${differing.join('; ')}. Differences on ${differing.length === 1 ? 'it are' : 'them are'} not comparable.`);
  const onlyA = datasets.filter((d) => d.onlyIn === 'a').map((d) => datasetLabel(d.key, d.kind));
  const onlyB = datasets.filter((d) => d.onlyIn === 'b').map((d) => datasetLabel(d.key, d.kind));
  if (onlyA.length > 0) warnings.push(`Only soup A (${a.name}) was evaluated on ${onlyA.join(', ')}.`);
  if (onlyB.length > 0) warnings.push(`Only soup B (${b.name}) was evaluated on ${onlyB.join(', ')}.`);
  const avg = datasets.find((d) => d.kind === 'shiftAvg');
  if (avg && avg.diffPp !== undefined && !avg.sameData) warnings.push('The shift averages are over different shift sets, so their difference is not comparable.');
  const inA = new Set(a.soup.members);
  const inB = new Set(b.soup.members);
  return {
    a: side(a),
    b: side(b),
    members: { common: a.soup.members.filter((m) => inB.has(m)), onlyA: a.soup.members.filter((m) => !inB.has(m)), onlyB: b.soup.members.filter((m) => !inA.has(m)) },
    datasets,
    ...calibrationRows(a, b, datasets),
    warnings,
  };
}

/** How a dataset row is named to a reader: "held-out", "test", "shift: gaussian_noise", "shift average". */
export function datasetLabel(key: string, kind: ComparedDatasetKind): string {
  if (kind === 'heldout') return 'held-out';
  if (kind === 'test') return 'test';
  if (kind === 'shiftAvg') return 'shift average';
  return `shift: ${key}`;
}

function side(r: SoupReport): ComparedSoup {
  return { name: r.name, method: r.method, createdAt: r.createdAt, members: [...r.soup.members], candidates: r.baselines.ensemble.members.length, ingredientsFound: r.ingredients.length };
}

function datasetRows(a: SoupReport, b: SoupReport): DatasetComparison[] {
  const ma = a.soup.metrics;
  const mb = b.soup.metrics;
  const rows: DatasetComparison[] = [];
  for (const kind of ['heldout', 'test'] as const) {
    if (ma[kind] !== undefined || mb[kind] !== undefined) rows.push(row(kind, kind, ma[kind], mb[kind], a, b));
  }
  const shifts = [...a.shiftNames, ...b.shiftNames.filter((s) => !a.shiftNames.includes(s))];
  for (const s of shifts) rows.push(row(s, 'shift', ma.shifts[s], mb.shifts[s], a, b));
  if (ma.shiftAvg !== undefined || mb.shiftAvg !== undefined) {
    const sameSets = a.shiftNames.length === b.shiftNames.length && a.shiftNames.every((s) => b.shiftNames.includes(s));
    const shiftRows = rows.filter((r) => r.kind === 'shift');
    const sameData = sameSets && shiftRows.every((r) => r.sameData);
    rows.push({ key: 'shiftAvg', kind: 'shiftAvg', ...values(ma.shiftAvg, mb.shiftAvg), sameData });
  }
  return rows;
}

function row(key: string, kind: ComparedDatasetKind, accA: number | undefined, accB: number | undefined, a: SoupReport, b: SoupReport): DatasetComparison {
  const da = a.datasets?.[key];
  const db = b.datasets?.[key];
  const onlyIn = accA === undefined ? 'b' : accB === undefined ? 'a' : undefined;
  return {
    key,
    kind,
    ...values(accA, accB),
    ...counts(a.soup.metrics, 'correctA', key),
    ...counts(b.soup.metrics, 'correctB', key),
    ...(da && accA !== undefined ? { nA: da.n } : {}),
    ...(db && accB !== undefined ? { nB: db.n } : {}),
    ...(onlyIn ? { onlyIn } : {}),
    sameData: onlyIn === undefined && dataDifference(da, db) === undefined,
  };
}

function values(accA: number | undefined, accB: number | undefined): Pick<DatasetComparison, 'a' | 'b' | 'diffPp'> {
  return {
    ...(accA !== undefined ? { a: accA } : {}),
    ...(accB !== undefined ? { b: accB } : {}),
    ...(accA !== undefined && accB !== undefined ? { diffPp: (accB - accA) * 100 } : {}),
  };
}

function counts(m: Metrics, field: 'correctA' | 'correctB', key: string): Partial<DatasetComparison> {
  const c = m.correct?.[key];
  return c === undefined ? {} : { [field]: c };
}

/**
 * What differs between the two cooks' copies of a dataset, in words, or undefined when they are
 * the same as far as the reports can tell (same workspace-relative path, size, kind and classes).
 */
function dataDifference(da: DatasetInfo | undefined, db: DatasetInfo | undefined): string | undefined {
  if (!da || !db) return da === db ? undefined : 'described in one report only';
  const parts: string[] = [];
  if (da.path !== db.path) parts.push(`${da.path} vs ${db.path}`);
  if (da.n !== db.n) parts.push(`${da.n} vs ${db.n} examples`);
  if (da.kind !== undefined && db.kind !== undefined && da.kind !== db.kind) parts.push(`${da.kind} vs ${db.kind}`);
  if (JSON.stringify(da.subset ?? null) !== JSON.stringify(db.subset ?? null)) parts.push('other class subsets');
  return parts.length > 0 ? parts.join(', ') : undefined;
}

function calibrationRows(a: SoupReport, b: SoupReport, datasets: readonly DatasetComparison[]): { calibration?: CalibrationComparison[] } {
  const ca = a.analyses?.calibration?.models[SOUP_MODEL];
  const cb = b.analyses?.calibration?.models[SOUP_MODEL];
  if (!ca || !cb) return {};
  const pickA = (s?: CalibrationSummary) => (s ? { eceA: s.ece, nllA: s.nll } : {});
  const pickB = (s?: CalibrationSummary) => (s ? { eceB: s.ece, nllB: s.nll } : {});
  const rows = datasets
    .map((d): CalibrationComparison => {
      const sa = d.kind === 'shiftAvg' ? ca.shiftAvg : ca.datasets[d.key];
      const sb = d.kind === 'shiftAvg' ? cb.shiftAvg : cb.datasets[d.key];
      return { key: d.key, kind: d.kind, ...pickA(sa), ...pickB(sb) };
    })
    .filter((r) => r.eceA !== undefined || r.eceB !== undefined);
  return { calibration: rows };
}
