// Speed and memory against context length, from each result's perf columns (the engine and the HTTP backend
// fill them). Medians for times (robust to a slow first request), maxima for memory (the peak is what must fit).
import { BIN_EDGES, BIN_LABELS } from '../tasks/mrcr/bins.js';
import type { ReportData, ReportResult } from './load.js';
import { lengthLabel } from './curves.js';
import { median } from './stats.js';

export interface EfficiencyPoint {
  series: string;
  x: number;
  x_label: string;
  tpot_ms: number | null;
  prefill_ms: number | null;
  prefill_tok_per_s: number | null;
  peak_memory_gib: number | null;
  kv_state_mib: number | null;
  /** Results at this length that carried a TPOT / prefill / memory measurement. */
  n_tpot: number;
  n_prefill: number;
  n_memory: number;
  n: number;
}

/**
 * The nominal context length of a result: its target length, else its MRCR bin's upper edge. MMLU-Pro has none:
 * its local format's target_length is the model window its few-shot prompt is trimmed to (a budget, ~1–2k tokens
 * used of 4096), and placing it there would mix short prompts into the RULER point of that length.
 */
function contextOf(r: ReportResult): number | null {
  const s = r.scored.sample;
  if (s.task === 'mmlu-pro') return null;
  if (s.target_length !== null) return s.target_length;
  const k = BIN_LABELS.indexOf(s.meta.bin as (typeof BIN_LABELS)[number]);
  return k >= 0 ? BIN_EDGES[k + 1] : null;
}

/** Prefill time: measured time to first token, else derived from prompt tokens and prefill throughput. */
function prefillMs(r: ReportResult): number | null {
  if (r.perf.ttftMs !== null && Number.isFinite(r.perf.ttftMs)) return r.perf.ttftMs;
  // An infinite rate (a 0 ms measurement) would make a 0 ms prefill out of nothing.
  const rate = r.perf.prefillTokPerS;
  if (rate !== null && Number.isFinite(rate) && rate > 0 && r.perf.promptTokens) return (r.perf.promptTokens / rate) * 1000;
  return null;
}

const present = (values: (number | null)[]) => values.filter((v): v is number => v !== null && Number.isFinite(v));

export function efficiencyPoints(data: ReportData): EfficiencyPoint[] {
  const groups = new Map<string, { series: string; x: number; results: ReportResult[] }>();
  for (const bySeries of data.byTask.values()) {
    for (const [series, results] of bySeries) {
      for (const r of results) {
        const x = contextOf(r);
        if (x === null) continue;
        const key = `${series}\u0000${x}`;
        const g = groups.get(key) ?? { series, x, results: [] };
        g.results.push(r);
        groups.set(key, g);
      }
    }
  }
  const out: EfficiencyPoint[] = [];
  for (const { series, x, results } of groups.values()) {
    const tpot = present(results.map((r) => r.perf.tpotMs));
    const prefill = present(results.map(prefillMs));
    const tokPerS = present(results.map((r) => r.perf.prefillTokPerS));
    const peak = present(results.map((r) => r.perf.peakMemoryBytes));
    const kv = present(results.map((r) => r.perf.kvStateBytes));
    if (!tpot.length && !prefill.length && !peak.length && !kv.length) continue;
    out.push({
      series, x, x_label: lengthLabel(x),
      tpot_ms: median(tpot), prefill_ms: median(prefill), prefill_tok_per_s: median(tokPerS),
      peak_memory_gib: peak.length ? Math.max(...peak) / 2 ** 30 : null,
      kv_state_mib: kv.length ? Math.max(...kv) / 2 ** 20 : null,
      n_tpot: tpot.length, n_prefill: prefill.length, n_memory: peak.length, n: results.length,
    });
  }
  return out.sort((a, b) => a.series.localeCompare(b.series) || a.x - b.x);
}
