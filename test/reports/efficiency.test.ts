// Efficiency points: where a result lands on the context axis, and what each point aggregates (medians for times,
// maxima for memory). MMLU-Pro's local format carries target_length = its model window (a budget), so it must stay
// off the axis rather than join the RULER point of that length.
import { describe, expect, it } from 'vitest';
import { efficiencyPoints } from '../../src/reports/efficiency.js';
import type { ReportData, ReportResult, ResultPerf } from '../../src/reports/load.js';

function result(task: string, targetLength: number | null, perf: Partial<ResultPerf>, bin?: string): ReportResult {
  return {
    run: 'r', model: 'm', series: 'm',
    scored: {
      sample: { id: `${task}-${Math.random()}`, task, subtask: 's', seed: 0, target_length: targetLength, n_tokens: null, tokenizer: null,
        prompt: 'p', gold: null, meta: bin ? { bin } : {} },
      response: 'x', error_kind: null, score: 1, metrics: {},
    },
    perf: { promptTokens: null, ttftMs: null, prefillTokPerS: null, tpotMs: null, peakMemoryBytes: null, kvStateBytes: null, ...perf },
  };
}

function data(results: ReportResult[]): ReportData {
  const byTask = new Map<string, Map<string, ReportResult[]>>();
  for (const r of results) {
    const task = byTask.get(r.scored.sample.task) ?? new Map<string, ReportResult[]>();
    task.set(r.series, [...(task.get(r.series) ?? []), r]);
    byTask.set(r.scored.sample.task, task);
  }
  return { dbPath: ':memory:', runs: [], byTask };
}

describe('efficiency points', () => {
  it('places RULER by target length and MRCR by bin edge, and leaves MMLU-Pro (a window budget) off the axis', () => {
    const points = efficiencyPoints(data([
      result('ruler', 4096, { tpotMs: 10, ttftMs: 100, peakMemoryBytes: 2 ** 30 }),
      result('ruler', 4096, { tpotMs: 30, ttftMs: 300, peakMemoryBytes: 3 * 2 ** 30 }),
      result('ruler', 4096, { tpotMs: 20, ttftMs: 200, peakMemoryBytes: 2 ** 30 }),
      result('mmlu-pro', 4096, { tpotMs: 1, ttftMs: 5, peakMemoryBytes: 8 * 2 ** 30 }),
      result('mrcr', null, { tpotMs: 50, promptTokens: 6000, prefillTokPerS: 3000 }, '8k'),
    ]));
    const at = (x: number) => points.find((p) => p.x === x)!;
    expect(points.map((p) => p.x).sort((a, b) => a - b)).toEqual([4096, 8192]);
    expect(at(4096)).toMatchObject({ n: 3, tpot_ms: 20, prefill_ms: 200, peak_memory_gib: 3, n_tpot: 3 });
    expect(at(8192)).toMatchObject({ n: 1, tpot_ms: 50, prefill_ms: 2000 });
  });
});
