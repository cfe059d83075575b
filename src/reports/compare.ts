// Run-vs-run regression check: per cell (task, subtask, length bin) the score difference on the SAME sample ids,
// with a seeded paired bootstrap interval, and paired TPOT / prefill-time ratios. A cell fails when its drop or
// slowdown is past the threshold AND the interval excludes no-change, or when more samples than allowed that the
// baseline scored now end in an error (a kernel change that crashes is a regression, not a smaller sample).
import type Database from 'better-sqlite3';
import { getRun, resultsWithSamples, type ResultWithSampleRow } from '../store/queries.js';
import { ReportInputError } from './load.js';
import { BOOTSTRAP_RESAMPLES, DEFAULT_BOOTSTRAP_SEED, mean, quantileSorted, seedFromKey } from './stats.js';
import { mulberry32 } from '../random/seeded.js';
import { mdEscape } from './table-formats.js';

export interface CompareOptions {
  /** Largest tolerated mean score drop, in percentage points. */
  maxDropPoints: number;
  /** Largest tolerated slowdown as a fraction (0.1 = 10% slower). */
  maxSlowdown: number;
  /** Largest tolerated count of new errors per cell (baseline scored, candidate errored; too-long skips aside). Default 0. */
  maxNewErrors?: number;
  seed?: number;
  resamples?: number;
}

export interface Ratio {
  /** Geometric mean of per-sample candidate/baseline ratios (>1 = slower). */
  ratio: number;
  low: number;
  high: number;
  n: number;
}

export interface CompareCell {
  cell: string;
  pairs: number;
  baseline_mean: number | null;
  candidate_mean: number | null;
  /** Mean paired difference, candidate − baseline, in percentage points. */
  diff: number | null;
  diff_low: number | null;
  diff_high: number | null;
  tpot: Ratio | null;
  prefill: Ratio | null;
  /** Samples scored in the baseline that errored in the candidate, and the reverse. */
  new_errors: number;
  fixed_errors: number;
  unpaired: number;
  failures: string[];
}

export interface CompareResult {
  baseline: string;
  candidate: string;
  cells: CompareCell[];
  failed: boolean;
}

function cellOf(row: ResultWithSampleRow): string {
  const length = row.task === 'mmlu-pro' ? '' : ` @ ${row.bin ?? row.target_length ?? '-'}`;
  return `${row.task} ${row.subtask}${length}`;
}

function pairKey(row: ResultWithSampleRow): string {
  return `${row.task}|${row.subtask}|${row.target_length ?? '-'}|${row.sample_id}`;
}

function resultsByKey(db: Database.Database, run: string): Map<string, ResultWithSampleRow> {
  if (!getRun(db, run)) throw new ReportInputError(`no run named "${run}" in the result store`);
  const out = new Map<string, ResultWithSampleRow>();
  for (const row of resultsWithSamples(db, { run })) {
    const key = pairKey(row);
    if (out.has(key)) throw new ReportInputError(`run "${run}" has several models (${row.model} and ${out.get(key)!.model}); compare runs of one model each`);
    out.set(key, row);
  }
  if (out.size === 0) throw new ReportInputError(`run "${run}" has no results`);
  return out;
}

/** Percentile interval of the mean of `values` under paired resampling (the values are per-pair statistics). */
function bootstrapInterval(values: number[], seed: number, resamples: number): { low: number; high: number } | null {
  if (values.length < 2) return null;
  const uniform = mulberry32(seed);
  const stats: number[] = new Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[Math.floor(uniform() * values.length)];
    stats[b] = sum / values.length;
  }
  stats.sort((a, b) => a - b);
  return { low: quantileSorted(stats, 0.025), high: quantileSorted(stats, 0.975) };
}

/** Paired ratio on the log scale, so 2× slower and 2× faster weigh alike. */
function pairedRatio(pairs: [number, number][], seed: number, resamples: number): Ratio | null {
  const logs = pairs.filter(([b, c]) => b > 0 && c > 0).map(([b, c]) => Math.log(c / b));
  const m = mean(logs);
  if (m === null) return null;
  const ci = bootstrapInterval(logs, seed, resamples);
  return { ratio: Math.exp(m), low: Math.exp(ci?.low ?? m), high: Math.exp(ci?.high ?? m), n: logs.length };
}

const prefillMs = (r: ResultWithSampleRow) => r.ttft_ms ?? (r.prefill_tok_per_s && r.prompt_tokens ? (r.prompt_tokens / r.prefill_tok_per_s) * 1000 : null);

export function compareRuns(db: Database.Database, baseline: string, candidate: string, options: CompareOptions): CompareResult {
  const seed = options.seed ?? DEFAULT_BOOTSTRAP_SEED;
  const resamples = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const base = resultsByKey(db, baseline);
  const cand = resultsByKey(db, candidate);
  const cells = new Map<string, { diffs: number[]; b: number[]; c: number[]; tpot: [number, number][]; prefill: [number, number][]; newErrors: number; fixed: number; unpaired: number }>();
  const cellFor = (name: string) => {
    let entry = cells.get(name);
    if (!entry) cells.set(name, (entry = { diffs: [], b: [], c: [], tpot: [], prefill: [], newErrors: 0, fixed: 0, unpaired: 0 }));
    return entry;
  };
  for (const [key, b] of base) {
    const entry = cellFor(cellOf(b));
    const c = cand.get(key);
    if (!c) { entry.unpaired++; continue; }
    const bOk = b.error_kind === null && b.score !== null;
    const cOk = c.error_kind === null && c.score !== null;
    if (bOk && !cOk && c.error_kind !== 'too_long') entry.newErrors++;
    if (!bOk && cOk) entry.fixed++;
    if (!bOk || !cOk) continue;
    entry.diffs.push(((c.score as number) - (b.score as number)) * 100);
    entry.b.push((b.score as number) * 100);
    entry.c.push((c.score as number) * 100);
    if (b.tpot_ms !== null && c.tpot_ms !== null) entry.tpot.push([b.tpot_ms, c.tpot_ms]);
    const bp = prefillMs(b), cp = prefillMs(c);
    if (bp !== null && cp !== null) entry.prefill.push([bp, cp]);
  }
  for (const [key, c] of cand) if (!base.has(key)) cellFor(cellOf(c)).unpaired++;

  const out: CompareCell[] = [];
  for (const [name, e] of [...cells].sort((x, y) => x[0].localeCompare(y[0], 'en', { numeric: true }))) {
    const diff = mean(e.diffs);
    const ci = bootstrapInterval(e.diffs, seedFromKey(`diff|${name}`, seed), resamples);
    const tpot = pairedRatio(e.tpot, seedFromKey(`tpot|${name}`, seed), resamples);
    const prefill = pairedRatio(e.prefill, seedFromKey(`prefill|${name}`, seed), resamples);
    const failures: string[] = [];
    // Significant: the whole interval lies on the bad side of no-change.
    if (diff !== null && -diff > options.maxDropPoints && ci !== null && ci.high < 0) {
      failures.push(`score −${(-diff).toFixed(2)} pts (CI ${ci.low.toFixed(2)}…${ci.high.toFixed(2)}) > ${options.maxDropPoints}`);
    }
    const maxNewErrors = options.maxNewErrors ?? 0;
    if (e.newErrors > maxNewErrors) failures.push(`${e.newErrors} new errors > ${maxNewErrors}`);
    for (const [label, r] of [['TPOT', tpot], ['prefill', prefill]] as const) {
      if (r && r.ratio - 1 > options.maxSlowdown && r.n >= 2 && r.low > 1) {
        failures.push(`${label} ×${r.ratio.toFixed(3)} (CI ${r.low.toFixed(3)}…${r.high.toFixed(3)}) > ×${(1 + options.maxSlowdown).toFixed(3)}`);
      }
    }
    out.push({
      cell: name, pairs: e.diffs.length, baseline_mean: mean(e.b), candidate_mean: mean(e.c), diff,
      diff_low: ci?.low ?? null, diff_high: ci?.high ?? null, tpot, prefill,
      new_errors: e.newErrors, fixed_errors: e.fixed, unpaired: e.unpaired, failures,
    });
  }
  return { baseline, candidate, cells: out, failed: out.some((c) => c.failures.length > 0) };
}

const f2 = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2));
const ratioText = (r: Ratio | null) => (r === null ? 'n/a' : `×${r.ratio.toFixed(3)} [${r.low.toFixed(3)}, ${r.high.toFixed(3)}]`);

/** The summary CI logs show: one row per cell, failing cells marked, and the verdict last. */
export function compareMarkdown(result: CompareResult, options: CompareOptions): string {
  const lines = [
    `## ctxbench compare: ${mdEscape(result.baseline)} → ${mdEscape(result.candidate)}`, '',
    `Paired on sample ids; Δ = candidate − baseline in points, 95% paired bootstrap CI (${options.resamples ?? BOOTSTRAP_RESAMPLES} resamples, `
      + `seed ${options.seed ?? DEFAULT_BOOTSTRAP_SEED}); TPOT / prefill: geometric-mean ratio, >1 is slower. Fails when a drop exceeds `
      + `${options.maxDropPoints} pts or a slowdown exceeds ${(options.maxSlowdown * 100).toFixed(0)}% and the CI excludes no change.`, '',
    '| cell | pairs | baseline | candidate | Δ [95% CI] | TPOT ratio | prefill ratio | new errors | unpaired | verdict |',
    '|---|---:|---:|---:|---|---|---|---:|---:|---|',
  ];
  for (const c of result.cells) {
    const delta = c.diff === null ? 'n/a' : `${c.diff >= 0 ? '+' : ''}${c.diff.toFixed(2)} [${f2(c.diff_low)}, ${f2(c.diff_high)}]`;
    lines.push(`| ${mdEscape(c.cell)} | ${c.pairs} | ${f2(c.baseline_mean)} | ${f2(c.candidate_mean)} | ${delta} | ${ratioText(c.tpot)} | ${ratioText(c.prefill)} | `
      + `${c.new_errors} | ${c.unpaired} | ${c.failures.length ? `**FAIL**: ${c.failures.join('; ')}` : 'ok'} |`);
  }
  const failing = result.cells.filter((c) => c.failures.length > 0).length;
  const newErrors = result.cells.reduce((a, c) => a + c.new_errors, 0);
  lines.push('', failing ? `**Regression: ${failing} of ${result.cells.length} cells failed.**` : `No significant regression in ${result.cells.length} cells.`);
  if (newErrors) lines.push(`Note: ${newErrors} samples scored in the baseline errored in the candidate (not in Δ; a cell fails past --max-new-errors ${options.maxNewErrors ?? 0}).`);
  return `${lines.join('\n')}\n`;
}
