// MRCR aggregation as Context Arena reports it (spec §1.6–1.7): per needle count (never pooled), per-bin
// pointwise means, and linear-axis trapezoid AUCs from the 8k point. Errors are counted apart and shown
// two ways: strict (an error scores 0) and valid_only (errors left out). Samples skipped as too long for
// the model are not attempted, as on the leaderboard, so their bin reads null (N/A).
import type { AggregateRow, ScoredSample, TaskAggregate } from '../types.js';
import { BIN_EDGES, BIN_LABELS, type BinLabel } from './bins.js';

/** Bin upper edges in K tokens: the x axis of Context Arena's curves. */
const X_K = BIN_EDGES.slice(1).map((edge) => edge / 1024);

/**
 * Trapezoid area under y (percent per bin, 8k…1M) from 8k up to bin index `last`, divided by the span.
 * Segments with a missing end add no area, as Context Arena's AUC@1M does for shorter-context models.
 * Null when no point up to `last` exists. With last = 0 the "area" is the single 8k point.
 */
export function aucTrapezoid(y: Array<number | null>, last: number): number | null {
  if (!y.slice(0, last + 1).some((v) => v !== null)) return null;
  if (last === 0) return y[0];
  let area = 0;
  for (let k = 0; k < last; k++) {
    const left = y[k];
    const right = y[k + 1];
    if (left !== null && right !== null) area += ((X_K[k + 1] - X_K[k]) * (left + right)) / 2;
  }
  return area / (X_K[last] - X_K[0]);
}

export interface CurveMetrics {
  /** Mean score per bin, in percent; null where nothing was attempted. */
  pointwise: Record<BinLabel, number | null>;
  auc_128k: number | null;
  auc_1m: number | null;
  /** AUC up to the largest bin with a value (the model's own span). */
  model_auc: number | null;
}

export function curveMetrics(pointwise: Record<BinLabel, number | null>): CurveMetrics {
  const y = BIN_LABELS.map((label) => pointwise[label]);
  let largest = -1;
  y.forEach((v, k) => { if (v !== null) largest = k; });
  return {
    pointwise,
    auc_128k: aucTrapezoid(y, BIN_LABELS.indexOf('128k')),
    auc_1m: aucTrapezoid(y, BIN_LABELS.length - 1),
    model_auc: largest >= 0 ? aucTrapezoid(y, largest) : null,
  };
}

export interface BinCell {
  /** Strict mean in [0, 1]: errors score 0; too-long skips are not attempted. */
  mean: number | null;
  mean_valid_only: number | null;
  n: number;
  attempted: number;
  scored: number;
  skipped_too_long: number;
  errors: number;
}

export interface NeedleSummary extends CurveMetrics {
  n_needles: number;
  bins: Record<BinLabel, BinCell>;
  /** Samples outside 4096..1048576 tokens: reported, never folded into an edge bin. */
  unbinned: BinCell;
  valid_only: CurveMetrics;
}

export interface MrcrAggregate extends TaskAggregate {
  by_needles: Record<string, NeedleSummary>;
}

interface Tally { sum: number; n: number; scored: number; tooLong: number; errors: number; metricSums: Record<string, number> }

const newTally = (): Tally => ({ sum: 0, n: 0, scored: 0, tooLong: 0, errors: 0, metricSums: {} });

const DIAGNOSTICS = ['normalized', 'prefix_missing', 'exact', 'picked_right_needle'] as const;

function add(tally: Tally, s: ScoredSample): void {
  tally.n++;
  if (s.error_kind === 'too_long') tally.tooLong++;
  else if (s.error_kind !== null || s.score === null) tally.errors++;
  else {
    tally.scored++;
    tally.sum += s.score;
    for (const name of DIAGNOSTICS) {
      const v = s.metrics[name];
      if (typeof v === 'number' || typeof v === 'boolean') tally.metricSums[name] = (tally.metricSums[name] ?? 0) + Number(v);
    }
  }
}

function cell(t: Tally): BinCell {
  const attempted = t.n - t.tooLong;
  return {
    mean: attempted > 0 ? t.sum / attempted : null,
    mean_valid_only: t.scored > 0 ? t.sum / t.scored : null,
    n: t.n, attempted, scored: t.scored, skipped_too_long: t.tooLong, errors: t.errors,
  };
}

function row(group: Record<string, string | number>, t: Tally, extra: Record<string, number | null> = {}): AggregateRow {
  const c = cell(t);
  const metrics: Record<string, number | null> = {
    mean_strict: c.mean, attempted: c.attempted, scored: c.scored, skipped_too_long: c.skipped_too_long, errors: c.errors,
  };
  for (const name of DIAGNOSTICS) {
    metrics[name] = t.scored > 0 && t.metricSums[name] !== undefined ? t.metricSums[name] / t.scored : null;
  }
  return { group, n: t.n, n_errors: t.errors + t.tooLong, score: c.mean_valid_only, metrics: { ...metrics, ...extra } };
}

const percent = (v: number | null) => (v === null ? null : v * 100);

function needlesOf(s: ScoredSample): string {
  const v = s.sample.meta?.n_needles ?? (s.sample as unknown as Record<string, unknown>).n_needles;
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : 'unknown';
}

export function aggregateMrcr(scored: ScoredSample[]): MrcrAggregate {
  const overall = newTally();
  const byNeedles = new Map<string, { bins: Map<string, Tally>; all: Tally }>();
  for (const s of scored) {
    add(overall, s);
    const key = needlesOf(s);
    let entry = byNeedles.get(key);
    if (!entry) byNeedles.set(key, (entry = { bins: new Map(), all: newTally() }));
    add(entry.all, s);
    const bin = typeof s.sample.meta?.bin === 'string' && (BIN_LABELS as readonly string[]).includes(s.sample.meta.bin)
      ? s.sample.meta.bin : 'unbinned';
    let t = entry.bins.get(bin);
    if (!t) entry.bins.set(bin, (t = newTally()));
    add(t, s);
  }

  const rows: AggregateRow[] = [];
  const summaries: Record<string, NeedleSummary> = {};
  const keys = [...byNeedles.keys()].sort((a, b) => Number(a) - Number(b));
  for (const key of keys) {
    const entry = byNeedles.get(key)!;
    const bins = {} as Record<BinLabel, BinCell>;
    const strictY = {} as Record<BinLabel, number | null>;
    const validY = {} as Record<BinLabel, number | null>;
    for (const label of BIN_LABELS) {
      const c = cell(entry.bins.get(label) ?? newTally());
      bins[label] = c;
      strictY[label] = percent(c.mean);
      validY[label] = percent(c.mean_valid_only);
    }
    const strict = curveMetrics(strictY);
    const validOnly = curveMetrics(validY);
    const nNeedles = Number(key);
    summaries[key] = {
      n_needles: nNeedles, bins, unbinned: cell(entry.bins.get('unbinned') ?? newTally()), ...strict, valid_only: validOnly,
    };
    const group = { n_needles: Number.isNaN(nNeedles) ? key : nNeedles };
    rows.push(row(group, entry.all, {
      auc_128k: strict.auc_128k, auc_1m: strict.auc_1m, model_auc: strict.model_auc,
      auc_128k_valid_only: validOnly.auc_128k, auc_1m_valid_only: validOnly.auc_1m, model_auc_valid_only: validOnly.model_auc,
    }));
    for (const label of [...BIN_LABELS, 'unbinned']) {
      const t = entry.bins.get(label);
      if (t) rows.push(row({ ...group, bin: label }, t));
    }
  }
  return { task: 'mrcr', primary_metric: 'strict', overall: overallRow(overall, keys.length), rows, by_needles: summaries };
}

/**
 * Spec §1.6: never mix 2, 4 and 8 needles silently. With one needle count the overall row is that count's
 * mean; with several, `score` is null and the pooled mean (evalscope's "overall") sits under a name saying so.
 */
function overallRow(t: Tally, needleCounts: number): AggregateRow {
  const r = row({}, t, { needle_counts: needleCounts });
  if (needleCounts <= 1) return r;
  return { ...r, score: null, metrics: { ...r.metrics, mean_strict: null, mean_pooled_needles: r.score, mean_strict_pooled_needles: r.metrics.mean_strict } };
}
