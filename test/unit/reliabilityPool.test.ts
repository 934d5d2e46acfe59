import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ReliabilityBin } from '../../src/engine/analyses/types';
import { poolBins } from '../../webview/reliability';
import { ANALYSES_FILE } from './helpers/paths';

// The reference's per-dataset reliability tables (PyTorch, snake_case) in the report's shape.
interface RefDataset {
  n: number;
  acc: number;
  mean_confidence: number;
  reliability: { bin: number; lo: number; hi: number; count: number; correct: number; conf_sum: number; mean_conf: number | null; acc: number | null }[];
}
const ref = JSON.parse(readFileSync(ANALYSES_FILE, 'utf8')) as { shift_names: string[]; calibration: { models: Record<string, Record<string, RefDataset>> } };
const asReport = (d: RefDataset): { n: number; reliability: ReliabilityBin[] } => ({
  n: d.n,
  reliability: d.reliability.map((b) => ({ bin: b.bin, lo: b.lo, hi: b.hi, count: b.count, correct: b.correct, confSum: b.conf_sum, meanConf: b.mean_conf, acc: b.acc })),
});

describe('the reliability diagram\'s shift average: the shift sets pooled bin by bin, each weighted equally', () => {
  const soup = ref.calibration.models.greedy_soup;
  const shifts = ref.shift_names.map((s) => asReport(soup[s]));

  it('one dataset pools to its own bins', () => {
    const one = poolBins([shifts[0]]);
    assert.equal(one.length, 15);
    one.forEach((b, i) => {
      const r = shifts[0].reliability[i];
      assert.equal(b.count, r.count);
      if (r.count === 0) assert.equal(b.acc, null);
      else {
        assert.ok(Math.abs((b.acc as number) - (r.acc as number)) < 1e-12);
        assert.ok(Math.abs((b.meanConf as number) - (r.meanConf as number)) < 1e-12);
      }
    });
  });

  it('the pooled bins average back to the shift-average accuracy and confidence, and count every example', () => {
    assert.equal(shifts.length, 5);
    const pooled = poolBins(shifts);
    // A bin's weight is the mean over the shifts of its share of examples.
    const weight = (i: number) => shifts.reduce((a, d) => a + d.reliability[i].count / d.n, 0) / shifts.length;
    const acc = pooled.reduce((a, b, i) => a + (b.acc ?? 0) * weight(i), 0);
    const conf = pooled.reduce((a, b, i) => a + (b.meanConf ?? 0) * weight(i), 0);
    const meanOf = (f: (d: RefDataset) => number) => ref.shift_names.reduce((a, s) => a + f(soup[s]), 0) / ref.shift_names.length;
    assert.ok(Math.abs(acc - meanOf((d) => d.acc)) < 1e-12, `${acc} vs ${meanOf((d) => d.acc)}`);
    assert.ok(Math.abs(conf - meanOf((d) => d.mean_confidence)) < 1e-12);
    assert.equal(pooled.reduce((a, b) => a + b.count, 0), shifts.reduce((a, d) => a + d.n, 0));
  });
});
