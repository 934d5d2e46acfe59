import type { Analyses, CalibrationAnalysis, CalibrationSummary } from '../engine/analyses/types';
import { ENSEMBLE, SOUP } from '../engine/analyses/runAnalyses';
import { printable } from '../engine/safeText';
import { formatDecimal, formatPercent } from '../shared/format';
import { renderTable } from './table';

/** The datasets every analysis section shows: held-out, test, and the shift average. */
const COLUMNS: [label: string, key: string][] = [
  ['held-out', 'heldout'],
  ['test', 'test'],
  ['shift avg', 'shiftAvg'],
];

/**
 * The short section per analysis printed after a cook's results table: calibration, WiSE-FT,
 * angles and the learned soup, then the analyses that were skipped and why. Empty without analyses.
 */
export function renderAnalyses(a: Analyses | undefined): string[] {
  if (!a) return [];
  const out: string[] = [];
  if (a.calibration) out.push('', ...calibrationSection(a.calibration));
  if (a.wiseFt) {
    out.push('', `WiSE-FT (1−α)·θ0 + α·θ, α = 0 … 1 (${a.wiseFt.cost.weightMixes} mixes, ${a.wiseFt.cost.forwardPasses} passes):`);
    out.push(
      renderTable(
        ['endpoint', 'best α held-out', 'held-out', 'best α shift avg', 'shift avg'],
        a.wiseFt.curves.map((c) => {
          const h = c.bestAlpha.heldout;
          const s = c.bestAlpha.shiftAvg;
          return [c.endpoint === SOUP ? 'soup' : `best individual (${c.endpoint})`, formatDecimal(h?.alpha, 1), formatPercent(h?.value, 2), formatDecimal(s?.alpha, 1), formatPercent(s?.value, 2)];
        }),
      ),
    );
  }
  if (a.angles) {
    const g = a.angles;
    const angles = g.pairs.map((p) => p.angleDeg);
    out.push('', `Angles between fine-tuning directions θi − θ0: ${formatDecimal(Math.min(...angles), 1)}° to ${formatDecimal(Math.max(...angles), 1)}° over ${g.pairsTotal} pairs; 2-soups evaluated: ${g.pairsEvaluated} of ${g.pairsTotal} pairs`);
    const rows = COLUMNS.flatMap(([label, key]) => {
      const c = g.correlation[key];
      return c ? [[label, formatDecimal(c.pearson, 3), formatDecimal(c.spearman, 3), String(c.n)]] : [];
    });
    if (rows.length > 0) out.push(renderTable(['angle vs 2-soup gain', 'Pearson', 'Spearman', 'pairs'], rows));
    else out.push('  (fewer than 3 pairs evaluated: no correlation)');
  }
  if (a.learned) {
    const l = a.learned;
    const top = Object.entries(l.weights).sort((x, y) => y[1] - x[1]).filter(([, w]) => w > 0).slice(0, 5);
    out.push('', `Learned soup (${l.evaluationsUsed} of ${l.settings.budget} held-out evaluations): held-out ${l.heldoutCorrect} correct, NLL ${formatDecimal(l.heldoutNll)}`);
    out.push(`  top weights: ${top.map(([id, w]) => `${printable(id)} ${formatDecimal(w, 3)}`).join(', ')}`);
    out.push(`  note: ${l.note}`);
  }
  if (a.skipped.length > 0) out.push('', 'Analyses skipped:', ...a.skipped.map((s) => `  ${s.id}: ${printable(s.reason)}`));
  return out;
}

function calibrationSection(cal: CalibrationAnalysis): string[] {
  const models: [label: string, name: string | undefined][] = [
    ['soup', SOUP],
    [`best individual (${cal.bestIndividual ?? '—'})`, cal.bestIndividual],
    ['logit ensemble', ENSEMBLE],
  ];
  const summary = (name: string | undefined, key: string): CalibrationSummary | undefined => {
    const m = name === undefined ? undefined : cal.models[name];
    return key === 'shiftAvg' ? m?.shiftAvg : m?.datasets[key];
  };
  const rows = models
    .filter(([, name]) => name !== undefined && cal.models[name])
    .flatMap(([label, name]) =>
      COLUMNS.map(([dataset, key]) => {
        const s = summary(name, key);
        return [label, dataset, formatDecimal(s?.ece), formatDecimal(s?.nll), formatDecimal(s?.brier)];
      }),
    );
  const out = [`Calibration (ECE with ${cal.settings.bins} equal-width bins; ${cal.cost.forwardPasses} extra passes):`, renderTable(['model', 'dataset', 'ECE', 'NLL', 'Brier'], rows)];
  for (const t of cal.temperature) {
    const h = t.datasets.heldout;
    const te = t.datasets.test;
    out.push(
      `  temperature of the ${t.model === SOUP ? 'soup' : t.model}: T = ${formatDecimal(t.T, 3)} (fitted on held-out NLL); ECE/NLL before → after: held-out ${formatDecimal(h?.eceBefore)}/${formatDecimal(h?.nllBefore)} → ${formatDecimal(h?.eceAfter)}/${formatDecimal(h?.nllAfter)}` +
        (te ? `, test ${formatDecimal(te.eceBefore)}/${formatDecimal(te.nllBefore)} → ${formatDecimal(te.eceAfter)}/${formatDecimal(te.nllAfter)}` : '') +
        (t.shiftAvg ? `, shift avg ${formatDecimal(t.shiftAvg.eceBefore)}/${formatDecimal(t.shiftAvg.nllBefore)} → ${formatDecimal(t.shiftAvg.eceAfter)}/${formatDecimal(t.shiftAvg.nllAfter)}` : ''),
    );
  }
  return out;
}
