import { describe, expect, it } from 'vitest';
import { aggregateMrcr, aucTrapezoid, curveMetrics } from '../../src/tasks/mrcr/aggregate.js';
import { BIN_LABELS, officialBin } from '../../src/tasks/mrcr/bins.js';
import type { ErrorKind, ScoredSample } from '../../src/tasks/types.js';

describe('official bins', () => {
  it('closes the first bin at both ends and the others on the right only', () => {
    expect(officialBin(4095)).toBeNull();
    expect(officialBin(4096)).toBe('8k');
    expect(officialBin(8192)).toBe('8k');
    expect(officialBin(8193)).toBe('16k');
    expect(officialBin(16384)).toBe('16k');
    expect(officialBin(65536)).toBe('64k');
    expect(officialBin(65537)).toBe('128k');
    expect(officialBin(131072)).toBe('128k');
    expect(officialBin(524289)).toBe('1M');
    expect(officialBin(1048576)).toBe('1M');
    expect(officialBin(1048577)).toBeNull();
  });
});

const pointwise = (ys: Array<number | null>) => Object.fromEntries(BIN_LABELS.map((l, k) => [l, ys[k]])) as Record<string, number | null>;

describe('Context Arena AUC', () => {
  it('reproduces the published AUCs of gemini-2.5-pro-preview-03-25', () => {
    const y = [98.7, 94.3, 89.0, 88.9, 84.1, 81.1, 72.7, 60.1];
    const m = curveMetrics(pointwise(y) as never);
    // By hand: (8·96.5 + 16·91.65 + 32·88.95 + 64·86.5) / 120 and 74876.8 / 1016.
    expect(m.auc_128k).toBeCloseTo(10620.8 / 120, 10);
    expect(m.auc_1m).toBeCloseTo(74876.8 / 1016, 10);
    expect(m.auc_128k!.toFixed(1)).toBe('88.5');
    expect(m.auc_1m!.toFixed(1)).toBe('73.7');
    expect(m.model_auc).toBe(m.auc_1m);
  });

  it('lets missing bins add no area and takes Model AUC over the supported span', () => {
    const y = [100, 80, 60, 40, 20, null, null, null];
    const m = curveMetrics(pointwise(y) as never);
    // Segments 8→16, 16→32, 32→64, 64→128: 8·90 + 16·70 + 32·50 + 64·30 = 5360.
    expect(m.auc_128k).toBeCloseTo(5360 / 120, 12);
    expect(m.model_auc).toBeCloseTo(5360 / 120, 12);
    expect(m.auc_1m).toBeCloseTo(5360 / 1016, 12);
    expect(aucTrapezoid([50, null, null, null, null, null, null, null], 0)).toBe(50);
    expect(curveMetrics(pointwise(Array(8).fill(null)) as never)).toMatchObject({ auc_128k: null, auc_1m: null, model_auc: null });
  });
});

function scored(n: number, bin: string | undefined, score: number | null, error: ErrorKind | null = null): ScoredSample {
  return {
    sample: { id: `${n}-${bin}-${score}`, task: 'mrcr', subtask: `${n}needle`, seed: 0, target_length: null, n_tokens: null, tokenizer: 'o200k_base', gold: '', meta: { n_needles: n, bin } },
    response: error ? null : 'x',
    error_kind: error,
    score: error ? null : score,
    metrics: error ? {} : { exact: score === 1, prefix_missing: score === 0, picked_right_needle: score! > 0.5, normalized: score },
  };
}

describe('aggregateMrcr', () => {
  const data = [
    scored(2, '8k', 1), scored(2, '8k', 0.5), scored(2, '8k', null, 'api_error'), scored(2, '8k', null, 'too_long'),
    scored(2, '16k', 0.25), scored(2, '16k', 0.75),
    scored(2, '1M', null, 'too_long'),
    scored(2, undefined, 0.9),
    scored(8, '8k', 0.2),
  ];
  const agg = aggregateMrcr(data);

  it('counts errors and too-long skips apart from wrong answers, per bin', () => {
    expect(agg.by_needles['2'].bins['8k']).toEqual({
      mean: 1.5 / 3, mean_valid_only: 0.75, n: 4, attempted: 3, scored: 2, skipped_too_long: 1, errors: 1,
    });
    expect(agg.by_needles['2'].bins['1M']).toMatchObject({ mean: null, n: 1, attempted: 0, skipped_too_long: 1 });
    expect(agg.by_needles['2'].unbinned).toMatchObject({ n: 1, scored: 1, mean: 0.9 });
  });

  it('never pools needle counts and reports strict and valid-only curves side by side', () => {
    expect(Object.keys(agg.by_needles)).toEqual(['2', '8']);
    const two = agg.by_needles['2'];
    expect(two.pointwise['8k']).toBeCloseTo(50, 12);
    expect(two.valid_only.pointwise['8k']).toBeCloseTo(75, 12);
    expect(two.pointwise['16k']).toBeCloseTo(50, 12);
    expect(two.pointwise['1M']).toBeNull();
    // Only 8k and 16k present: 8·(50+50)/2 = 400 over 120; valid-only 8·(75+50)/2 = 500 over 120.
    expect(two.auc_128k).toBeCloseTo(400 / 120, 12);
    expect(two.valid_only.auc_128k).toBeCloseTo(500 / 120, 12);
    expect(two.model_auc).toBeCloseTo(400 / 8, 12);
    expect(agg.by_needles['8'].pointwise['8k']).toBeCloseTo(20, 12);
  });

  it('fills the TaskAggregate rows with n, errors and diagnostics', () => {
    expect(agg.overall).toMatchObject({ n: 9, n_errors: 3 });
    // Spec §1.6: 2 and 8 needles are never mixed silently, so the overall score is null here and the
    // pooled mean (evalscope's "overall") is kept only under a name that says it pools needle counts.
    expect(agg.overall.score).toBeNull();
    expect(agg.overall.metrics).toMatchObject({ needle_counts: 2, mean_strict: null });
    expect(agg.overall.metrics.mean_pooled_needles).toBeCloseTo((1 + 0.5 + 0.25 + 0.75 + 0.9 + 0.2) / 6, 12);
    const row8k = agg.rows.find((r) => r.group.n_needles === 2 && r.group.bin === '8k')!;
    expect(row8k.metrics).toMatchObject({ exact: 0.5, errors: 1, skipped_too_long: 1 });
    const needleRow = agg.rows.find((r) => r.group.n_needles === 2 && r.group.bin === undefined)!;
    expect(needleRow.metrics.auc_128k).toBeCloseTo(400 / 120, 12);
  });
});

describe('aggregateMrcr overall row (spec §1.6)', () => {
  it('is the needle count\'s own mean when only one needle count was run', () => {
    const agg = aggregateMrcr([scored(4, '8k', 1), scored(4, '16k', 0.5), scored(4, '16k', null, 'timeout')]);
    expect(agg.overall.score).toBeCloseTo(0.75, 12);
    expect(agg.overall.metrics).toMatchObject({ needle_counts: 1, mean_strict: 0.5 });
    const needleRow = agg.rows.find((r) => r.group.n_needles === 4 && r.group.bin === undefined)!;
    expect(agg.overall.score).toBe(needleRow.score);
  });
});
