// Leaderboard tables built from the tasks' own aggregates: MRCR in Context Arena's columns, RULER as its README
// reports it, MMLU-Pro's strict / official / none rate, efficiency, slopes, and per-point coverage.
import type { MrcrAggregate } from '../tasks/mrcr/aggregate.js';
import { BIN_LABELS } from '../tasks/mrcr/bins.js';
import type { TaskAggregate } from '../tasks/types.js';
import { findRow, lengthLabel, type CurvePanel, type DegradationSlope } from './curves.js';
import type { EfficiencyPoint } from './efficiency.js';
import type { CategoryPoint } from './mmlu-pro-view.js';

export type Cell = string | number | null;

export interface Column {
  key: string;
  label: string;
  /** Decimals shown in Markdown/HTML (CSV and JSON keep full precision). */
  digits?: number;
}

export interface Table {
  id: string;
  title: string;
  note: string;
  columns: Column[];
  rows: Record<string, Cell>[];
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? null : v * 100);

export function mrcrLeaderboard(aggregates: Map<string, MrcrAggregate>): Table | null {
  if (aggregates.size === 0) return null;
  const rows: Record<string, Cell>[] = [];
  for (const [series, aggregate] of aggregates) {
    for (const [needles, summary] of Object.entries(aggregate.by_needles)) {
      const cells = Object.values(summary.bins);
      const n = cells.reduce((a, c) => a + c.n, 0) + summary.unbinned.n;
      const scored = cells.reduce((a, c) => a + c.scored, 0) + summary.unbinned.scored;
      const row: Record<string, Cell> = { model: series, needles: Number(needles) || needles };
      for (const label of BIN_LABELS) row[label] = summary.pointwise[label];
      Object.assign(row, {
        auc_128k: summary.auc_128k, auc_1m: summary.auc_1m, model_auc: summary.model_auc,
        model_auc_valid_only: summary.valid_only.model_auc,
        runs: cells.reduce((a, c) => a + c.attempted, 0), coverage: `${scored}/${n}`,
        errors: cells.reduce((a, c) => a + c.errors, 0), skipped_too_long: cells.reduce((a, c) => a + c.skipped_too_long, 0),
        unbinned: summary.unbinned.n,
      });
      rows.push(row);
    }
  }
  return {
    id: 'leaderboard-mrcr', title: 'MRCR leaderboard (Context Arena columns)',
    note: 'Pointwise = strict mean per bin in % (an error scores 0; too-long samples are not attempted, so their bin is empty). '
      + 'AUC = linear-axis trapezoid from 8k, ÷ span; Model AUC stops at the largest bin with a value. '
      + 'Runs = attempted samples. Needle counts are never pooled.',
    columns: [
      { key: 'model', label: 'Model' }, { key: 'needles', label: 'Needles' },
      ...BIN_LABELS.map((label) => ({ key: label, label: `${label} (%)`, digits: 1 })),
      { key: 'auc_128k', label: 'AUC @128k (%)', digits: 1 }, { key: 'auc_1m', label: 'AUC @1M (%)', digits: 1 },
      { key: 'model_auc', label: 'Model AUC (%)', digits: 1 }, { key: 'model_auc_valid_only', label: 'Model AUC, scored only (%)', digits: 1 },
      { key: 'runs', label: 'Runs' }, { key: 'coverage', label: 'Scored/n' }, { key: 'errors', label: 'Errors' },
      { key: 'skipped_too_long', label: 'Too long' }, { key: 'unbinned', label: 'Outside bins' },
    ],
    rows,
  };
}

export function rulerLeaderboard(aggregates: Map<string, TaskAggregate>): Table[] {
  if (aggregates.size === 0) return [];
  // Lengths from the per-task rows too: aggregateRuler writes a per-length row only when some task scored there, so a
  // length where every sample errored would otherwise lose its column and its errors from the per-task Scored/n.
  const lengths = [...new Set([...aggregates.values()].flatMap((a) => a.rows
    .filter((r) => 'length' in r.group).map((r) => Number(r.group.length))))].sort((a, b) => a - b);
  const headline: Record<string, Cell>[] = [];
  const perTask: Record<string, Cell>[] = [];
  for (const [series, aggregate] of aggregates) {
    const m = aggregate.overall.metrics;
    const row: Record<string, Cell> = { model: series };
    for (const length of lengths) row[`l${length}`] = findRow(aggregate.rows, { length })?.score ?? null;
    Object.assign(row, {
      avg: m.avg ?? null, wavg_inc: m.wavg_inc ?? null, wavg_dec: m.wavg_dec ?? null,
      effective_length: m.effective_length === null || m.effective_length === undefined ? null : lengthLabel(m.effective_length),
      coverage: `${aggregate.overall.n - aggregate.overall.n_errors}/${aggregate.overall.n}`,
    });
    headline.push(row);
    const subtasks = [...new Set(aggregate.rows.filter((r) => 'subtask' in r.group).map((r) => String(r.group.subtask)))];
    for (const subtask of subtasks) {
      const t: Record<string, Cell> = { model: series, task: subtask };
      let n = 0, errors = 0;
      for (const length of lengths) {
        const r = findRow(aggregate.rows, { subtask, length });
        t[`l${length}`] = r?.score ?? null;
        n += r?.n ?? 0;
        errors += r?.n_errors ?? 0;
      }
      t.coverage = `${n - errors}/${n}`;
      perTask.push(t);
    }
  }
  const lengthColumns = lengths.map((l) => ({ key: `l${l}`, label: lengthLabel(l), digits: 2 }));
  return [
    {
      id: 'leaderboard-ruler', title: 'RULER leaderboard',
      note: 'Per length: plain mean of the task scores (each mean ×100 over scored samples, rounded to 2). Avg and wAvg '
        + '(linear weights k/21) need all of 4k…128k. Effective length: longest length scoring above 85.6.',
      columns: [
        { key: 'model', label: 'Model' }, ...lengthColumns, { key: 'avg', label: 'Avg', digits: 2 },
        { key: 'wavg_inc', label: 'wAvg (inc)', digits: 2 }, { key: 'wavg_dec', label: 'wAvg (dec)', digits: 2 },
        { key: 'effective_length', label: 'Effective length' }, { key: 'coverage', label: 'Scored/n' },
      ],
      rows: headline,
    },
    {
      id: 'ruler-tasks', title: 'RULER per task',
      note: 'Task score per length (mean ×100 over scored samples, rounded to 2); errors shown in Scored/n.',
      columns: [{ key: 'model', label: 'Model' }, { key: 'task', label: 'Task' }, ...lengthColumns, { key: 'coverage', label: 'Scored/n' }],
      rows: perTask,
    },
  ];
}

export function mmluProLeaderboard(aggregates: Map<string, TaskAggregate>, points: CategoryPoint[]): Table[] {
  if (aggregates.size === 0) return [];
  const overall = [...aggregates].map(([series, a]) => ({
    model: series, acc_strict: pct(a.overall.metrics.acc_strict), acc_official: pct(a.overall.metrics.acc_official),
    none_rate: pct(a.overall.metrics.none_rate), n: a.overall.n, scored: Number(a.overall.metrics.n_scored ?? 0), errors: a.overall.n_errors,
  }));
  return [
    {
      id: 'leaderboard-mmlu-pro', title: 'MMLU-Pro leaderboard',
      note: 'Micro-average over questions. Strict: no extracted answer is wrong. Official: the reference\'s seeded random '
        + 'guess for no answer. None rate: share with no extracted answer. Errors are not answers and count apart.',
      columns: [
        { key: 'model', label: 'Model' }, { key: 'acc_strict', label: 'Strict (%)', digits: 2 },
        { key: 'acc_official', label: 'Official (%)', digits: 2 }, { key: 'none_rate', label: 'None rate (%)', digits: 2 },
        { key: 'n', label: 'n' }, { key: 'scored', label: 'Scored' }, { key: 'errors', label: 'Errors' },
      ],
      rows: overall,
    },
    {
      id: 'mmlu-pro-categories', title: 'MMLU-Pro per category',
      note: 'Strict accuracy with a Wilson 95% interval over scored questions.',
      columns: [
        { key: 'series', label: 'Model' }, { key: 'category', label: 'Category' }, { key: 'acc_strict', label: 'Strict (%)', digits: 1 },
        { key: 'ci_low', label: 'CI low', digits: 1 }, { key: 'ci_high', label: 'CI high', digits: 1 },
        { key: 'acc_official', label: 'Official (%)', digits: 1 }, { key: 'none_rate', label: 'None rate (%)', digits: 1 },
        { key: 'n', label: 'n' }, { key: 'errors', label: 'Errors' },
      ],
      rows: points.map((p) => ({ ...p })),
    },
  ];
}

export function efficiencyTable(points: EfficiencyPoint[]): Table | null {
  if (points.length === 0) return null;
  return {
    id: 'leaderboard-efficiency', title: 'Efficiency by context length',
    note: 'Medians of per-request TPOT and prefill; maxima of peak memory and KV/state bytes. n = results at that length.',
    columns: [
      { key: 'series', label: 'Model' }, { key: 'x_label', label: 'Context' }, { key: 'tpot_ms', label: 'TPOT (ms)', digits: 2 },
      { key: 'prefill_ms', label: 'Prefill (ms)', digits: 1 }, { key: 'prefill_tok_per_s', label: 'Prefill (tok/s)', digits: 0 },
      { key: 'peak_memory_gib', label: 'Peak memory (GiB)', digits: 2 }, { key: 'kv_state_mib', label: 'KV/state (MiB)', digits: 1 },
      { key: 'n', label: 'n' },
    ],
    rows: points.map((p) => ({ ...p })),
  };
}

export function slopeTable(slopes: DegradationSlope[]): Table | null {
  if (slopes.length === 0) return null;
  return {
    id: 'degradation-slope', title: 'Degradation slope',
    note: 'Least-squares slope of score (%) on log2(context length), over the lengths with a scored mean.',
    columns: [
      { key: 'panel', label: 'Curve' }, { key: 'series', label: 'Model' },
      { key: 'points_per_doubling', label: 'Points per doubling', digits: 2 }, { key: 'from', label: 'From' },
      { key: 'to', label: 'To' }, { key: 'lengths', label: 'Lengths' },
    ],
    rows: slopes.map((s) => ({ ...s })),
  };
}

export function coverageTable(panels: CurvePanel[]): Table | null {
  const rows = panels.flatMap((panel) => panel.points.map((p) => ({
    curve: panel.id, model: p.series, context: p.x_label, score: p.score, n: p.n, scored: p.scored, errors: p.errors,
    skipped_too_long: p.skipped_too_long, coverage: p.coverage, error_kinds: p.error_kinds,
  })));
  if (rows.length === 0) return null;
  return {
    id: 'coverage', title: 'Coverage per point',
    note: 'Every curve point: how many samples it stands on, and which errored or were skipped as too long.',
    columns: [
      { key: 'curve', label: 'Curve' }, { key: 'model', label: 'Model' }, { key: 'context', label: 'Context' },
      { key: 'score', label: 'Score (%)', digits: 2 }, { key: 'n', label: 'n' }, { key: 'scored', label: 'Scored' },
      { key: 'errors', label: 'Errors' }, { key: 'skipped_too_long', label: 'Too long' },
      { key: 'coverage', label: 'Coverage', digits: 2 }, { key: 'error_kinds', label: 'Error kinds' },
    ],
    rows,
  };
}
