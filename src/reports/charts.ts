// vega-lite specs for every chart the report draws. Context lengths sit on a log2 axis labelled 4k…1M; each
// score point has a 95% interval and, under the curve, a strip giving its n (or scored/n when some errored).
import type { TopLevelSpec } from 'vega-lite';
import type { CurvePanel, DegradationSlope } from './curves.js';
import type { EfficiencyPoint } from './efficiency.js';
import type { CategoryPoint } from './mmlu-pro-view.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 560;
const HEIGHT = 300;
// Below 1k the tick is its own number (512 would otherwise read "1k", 256 "0k").
const LENGTH_LABEL = "datum.value >= 1048576 ? format(datum.value / 1048576, 'd') + 'M' : datum.value >= 1024 ? "
  + "format(datum.value / 1024, 'd') + 'k' : format(datum.value, 'd')";
// vega drops symbol legend entries past 30 (with a warning); a report of many runs must still name every line.
const ALL_ENTRIES = { symbolLimit: 0 };

export interface ChartSpec {
  id: string;
  title: string;
  spec: TopLevelSpec;
}

/** Powers of two from the smallest to the largest x, so the axis shows 4k, 8k, … and nothing in between. */
function log2Ticks(xs: number[]): number[] {
  const lo = Math.floor(Math.log2(Math.min(...xs)));
  const hi = Math.ceil(Math.log2(Math.max(...xs)));
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) ticks.push(2 ** e);
  return ticks;
}

function lengthAxis(xs: number[], title = 'context length (tokens, log2 scale)') {
  const ticks = log2Ticks(xs);
  return {
    field: 'x', type: 'quantitative' as const, title,
    scale: { type: 'log' as const, base: 2, domain: [ticks[0] / 1.25, ticks[ticks.length - 1] * 1.25], nice: false },
    axis: { values: ticks, labelExpr: LENGTH_LABEL, grid: true },
  };
}

/** Score (percent) vs context per series, with 95% bootstrap intervals and an n strip below zero. */
export function scoreCurveSpec(panel: CurvePanel): ChartSpec {
  const legends = [...new Set(panel.points.map((p) => p.legend))].sort();
  const rows = panel.points.map((p) => ({
    ...p,
    // One strip row per series under the zero line, so the n labels of different models never overlap.
    n_y: -7 - 7 * legends.indexOf(p.legend),
    n_text: p.scored === p.n ? `n=${p.n}` : `${p.scored}/${p.n}`,
  }));
  const x = lengthAxis(rows.map((r) => r.x));
  const bottom = -7 * legends.length - 4;
  const y = { type: 'quantitative' as const, scale: { domain: [bottom, 100] }, axis: { values: [0, 20, 40, 60, 80, 100] } };
  const color = { field: 'legend', type: 'nominal' as const, title: panel.area_label, scale: { domain: legends }, legend: { orient: 'bottom' as const, direction: 'vertical' as const, labelLimit: 400, titleLimit: 400, ...ALL_ENTRIES } };
  const tooltip = [
    { field: 'series', type: 'nominal' as const }, { field: 'x_label', type: 'nominal' as const, title: 'context' },
    { field: 'score', type: 'quantitative' as const, format: '.2f' }, { field: 'ci_low', type: 'quantitative' as const, format: '.2f' },
    { field: 'ci_high', type: 'quantitative' as const, format: '.2f' }, { field: 'n', type: 'quantitative' as const },
    { field: 'scored', type: 'quantitative' as const }, { field: 'errors', type: 'quantitative' as const },
    { field: 'skipped_too_long', type: 'quantitative' as const }, { field: 'error_kinds', type: 'nominal' as const },
  ];
  const spec: TopLevelSpec = {
    $schema: SCHEMA,
    title: { text: panel.title, subtitle: 'mean over scored samples · bars: 95% bootstrap CI · strip: n per point (scored/n when some failed)' },
    width: WIDTH, height: HEIGHT,
    data: { values: rows },
    layer: [
      {
        transform: [{ filter: 'datum.score != null' }],
        mark: { type: 'line', point: { filled: true, size: 50 } },
        encoding: { x, y: { ...y, field: 'score', title: 'score (%)' }, color, tooltip },
      },
      {
        transform: [{ filter: 'datum.ci_low != null' }],
        mark: { type: 'errorbar', ticks: true },
        encoding: { x, y: { ...y, field: 'ci_low', title: 'score (%)' }, y2: { field: 'ci_high' }, color },
      },
      {
        mark: { type: 'text', fontSize: 9 },
        encoding: { x, y: { ...y, field: 'n_y', title: 'score (%)' }, text: { field: 'n_text', type: 'nominal' }, color },
      },
    ],
  };
  return { id: panel.id, title: panel.title, spec };
}

type EfficiencyField = 'tpot_ms' | 'prefill_ms' | 'peak_memory_gib' | 'kv_state_mib';

const EFFICIENCY_CHARTS: Record<EfficiencyField, { title: string; axis: string }> = {
  tpot_ms: { title: 'Decode: time per output token vs context', axis: 'TPOT (ms, median)' },
  prefill_ms: { title: 'Prefill time vs context', axis: 'prefill / time to first token (ms, median, log scale)' },
  peak_memory_gib: { title: 'Peak memory vs context', axis: 'peak memory (GiB, max)' },
  kv_state_mib: { title: 'KV cache + recurrent state vs context', axis: 'KV/state (MiB, max, log scale)' },
};

/** One line per series (e.g. the hybrid model and its all-MLA twin) for one perf metric. */
export function efficiencySpec(points: EfficiencyPoint[], field: EfficiencyField): ChartSpec | null {
  const rows = points.filter((p) => p[field] !== null);
  if (rows.length === 0) return null;
  const meta = EFFICIENCY_CHARTS[field];
  // A log axis cannot place 0 (a 0 ms TTFT, a 0-byte state): then the axis is linear rather than the point lost.
  const logY = (field === 'prefill_ms' || field === 'kv_state_mib') && rows.every((r) => (r[field] as number) > 0);
  const axisTitle = logY ? meta.axis : meta.axis.replace(', log scale', '');
  const spec: TopLevelSpec = {
    $schema: SCHEMA,
    title: { text: meta.title, subtitle: 'one line per model (hybrid KDA+MLA vs its all-MLA twin when both ran)' },
    width: WIDTH, height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', point: { filled: true, size: 50 } },
    encoding: {
      x: lengthAxis(rows.map((r) => r.x)),
      y: { field, type: 'quantitative', title: axisTitle, scale: logY ? { type: 'log' } : { zero: true } },
      color: { field: 'series', type: 'nominal', title: 'model', legend: { orient: 'bottom', labelLimit: 400, ...ALL_ENTRIES } },
      tooltip: [
        { field: 'series', type: 'nominal' }, { field: 'x_label', type: 'nominal', title: 'context' },
        { field, type: 'quantitative', format: '.3~f' }, { field: 'n', type: 'quantitative' },
      ],
    },
  };
  return { id: `efficiency-${field.replace(/_/g, '-')}`, title: meta.title, spec };
}

export const EFFICIENCY_FIELDS = Object.keys(EFFICIENCY_CHARTS) as EfficiencyField[];

/** Least-squares slope of score on log2(context) per panel and series: points gained or lost per doubling. */
export function slopeSpec(slopes: DegradationSlope[]): ChartSpec | null {
  const rows = slopes.filter((s) => s.points_per_doubling !== null && s.lengths >= 2);
  if (rows.length === 0) return null;
  const panels = [...new Set(rows.map((r) => r.panel))];
  const spec: TopLevelSpec = {
    $schema: SCHEMA,
    title: { text: 'Degradation slope', subtitle: 'least-squares fit of score (%) on log2(context): points per doubling' },
    width: WIDTH, height: Math.max(60, panels.length * 28),
    data: { values: rows },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'panel', type: 'nominal', title: null, sort: panels },
          yOffset: { field: 'series', type: 'nominal' },
          x: { field: 'points_per_doubling', type: 'quantitative', title: 'score change per doubling (points)' },
          color: { field: 'series', type: 'nominal', title: 'model', legend: { orient: 'bottom', labelLimit: 400, ...ALL_ENTRIES } },
          tooltip: [
            { field: 'series', type: 'nominal' }, { field: 'panel', type: 'nominal' },
            { field: 'points_per_doubling', type: 'quantitative', format: '.2f' }, { field: 'from', type: 'nominal' },
            { field: 'to', type: 'nominal' }, { field: 'lengths', type: 'quantitative' },
          ],
        },
      },
      { mark: { type: 'rule', color: '#333' }, encoding: { x: { datum: 0, type: 'quantitative' } } },
    ],
  };
  return { id: 'degradation-slope', title: 'Degradation slope', spec };
}

/** MMLU-Pro strict accuracy per category, one bar per model, with a Wilson 95% interval. */
export function mmluProSpec(points: CategoryPoint[]): ChartSpec | null {
  const rows = points.filter((p) => p.acc_strict !== null);
  if (rows.length === 0) return null;
  const categories = [...new Set(rows.map((r) => r.category))].sort();
  const series = [...new Set(rows.map((r) => r.series))];
  const y = { field: 'category', type: 'nominal' as const, title: null, sort: categories };
  const yOffset = { field: 'series', type: 'nominal' as const };
  const spec: TopLevelSpec = {
    $schema: SCHEMA,
    title: { text: 'MMLU-Pro accuracy per category', subtitle: 'strict accuracy (no answer = wrong) · bars: Wilson 95% CI' },
    width: WIDTH, height: Math.max(80, categories.length * series.length * 12),
    data: { values: rows },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          y, yOffset,
          x: { field: 'acc_strict', type: 'quantitative', title: 'strict accuracy (%)', scale: { domain: [0, 100] } },
          color: { field: 'series', type: 'nominal', title: 'model', legend: { orient: 'bottom', labelLimit: 400, ...ALL_ENTRIES } },
          tooltip: [
            { field: 'series', type: 'nominal' }, { field: 'category', type: 'nominal' },
            { field: 'acc_strict', type: 'quantitative', format: '.1f' }, { field: 'acc_official', type: 'quantitative', format: '.1f' },
            { field: 'none_rate', type: 'quantitative', format: '.1f' }, { field: 'scored', type: 'quantitative' },
            { field: 'errors', type: 'quantitative' },
          ],
        },
      },
      {
        transform: [{ filter: 'datum.ci_low != null' }],
        mark: { type: 'rule', color: '#222' },
        encoding: { y, yOffset, x: { field: 'ci_low', type: 'quantitative' }, x2: { field: 'ci_high' } },
      },
    ],
  };
  return { id: 'mmlu-pro-categories', title: 'MMLU-Pro accuracy per category', spec };
}

export interface CoverageCell {
  row: string;
  x: number;
  x_label: string;
  coverage: number;
  label: string;
  detail: string;
}

/** Every curve point's coverage: the share of its samples that scored, with errors and skips spelled out. */
export function coverageSpec(panels: CurvePanel[]): ChartSpec | null {
  const cells: CoverageCell[] = panels.flatMap((panel) => panel.points.map((p) => ({
    row: `${panel.id} · ${p.series}`, x: p.x, x_label: p.x_label, coverage: p.coverage, label: `${p.scored}/${p.n}`,
    detail: [p.errors ? `${p.errors} errors (${p.error_kinds})` : '', p.skipped_too_long ? `${p.skipped_too_long} too long` : ''].filter(Boolean).join('; ') || 'all scored',
  })));
  if (cells.length === 0) return null;
  const rowsOrder = [...new Set(cells.map((c) => c.row))];
  const xOrder = [...new Set(cells.map((c) => c.x))].sort((a, b) => a - b).map((x) => cells.find((c) => c.x === x)!.x_label);
  const spec: TopLevelSpec = {
    $schema: SCHEMA,
    title: { text: 'Coverage per point', subtitle: 'scored / all samples of the point (too-long skips included); errors and skips are not in the curves' },
    width: Math.max(200, xOrder.length * 60), height: rowsOrder.length * 18,
    data: { values: cells },
    encoding: {
      x: { field: 'x_label', type: 'ordinal', sort: xOrder, title: 'context length', axis: { labelAngle: 0 } },
      y: { field: 'row', type: 'nominal', sort: rowsOrder, title: null, axis: { labelLimit: 320 } },
    },
    layer: [
      {
        mark: { type: 'rect' },
        encoding: {
          color: { field: 'coverage', type: 'quantitative', title: 'coverage', scale: { domain: [0, 1], scheme: 'redyellowgreen' } },
          tooltip: [{ field: 'row', type: 'nominal' }, { field: 'x_label', type: 'nominal' }, { field: 'label', type: 'nominal' }, { field: 'detail', type: 'nominal' }],
        },
      },
      { mark: { type: 'text', fontSize: 9 }, encoding: { text: { field: 'label', type: 'nominal' } } },
    ],
  };
  return { id: 'coverage', title: 'Coverage per point', spec };
}
