// `ctxbench report` on awkward stores: hostile run and model names, a run named twice, lengths where every sample
// errored, zero and infinite perf values, many series, lengths under 1k, a subtask that looks like a path. Each
// store is a real SQLite file written through the store API, with real RULER samples and real scores.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultReportDir } from '../../src/cli/report.js';
import { loadReportData, openStoreReadOnly } from '../../src/reports/load.js';
import { writeReport, type ReportOutput } from '../../src/reports/report.js';
import { openStore, sampleKey, type StoredPerf } from '../../src/store/store.js';
import { rulerTask } from '../../src/tasks/ruler/index.js';
import type { ErrorKind, Sample } from '../../src/tasks/types.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('ctxbench-report-edge-');
const EVIL = `<script>alert(1)</script> "q" & 'a', b\r\nc | d *e*`;
let samples: Sample[];

interface RunSpec {
  name: string;
  model: string;
  samples?: Sample[];
  error?: (s: Sample) => ErrorKind | null;
  perf?: (s: Sample) => StoredPerf;
}

function buildStore(file: string, runs: RunSpec[]): string {
  const path = join(dir, file);
  const store = openStore(path);
  try {
    for (const spec of runs) {
      const list = spec.samples ?? samples;
      const { run } = store.openRun({ name: spec.name, config: { edge: true }, gitCommit: null, model: spec.model, backend: 'openai', host: 'test' });
      const ids = store.putSamples(run.id, list);
      for (const s of list) {
        const errorKind = spec.error?.(s) ?? null;
        const response = errorKind ? null : `${(s.gold as string[]).join(', ')}.`;
        const graded = response === null ? null : rulerTask.score(s, response);
        store.writeResult({
          runId: run.id, sampleRowId: ids.get(sampleKey(s))!, model: spec.model, backend: 'openai', response,
          finishReason: errorKind ? null : 'stop', errorKind, errorMessage: errorKind ? 'injected' : null,
          score: graded?.score ?? null, metrics: graded?.metrics ?? {}, perf: errorKind ? {} : (spec.perf?.(s) ?? {}), attempts: 1,
        });
      }
    }
  } finally {
    store.close();
  }
  return path;
}

async function report(dbPath: string, runs: string[] = [], out = `${dbPath}.report`): Promise<ReportOutput> {
  const db = openStoreReadOnly(dbPath);
  try {
    return await writeReport(loadReportData(db, dbPath, { runs }), out);
  } finally {
    db.close();
  }
}

const read = (out: ReportOutput, rel: string) => readFileSync(join(out.dir, rel), 'utf8');

beforeAll(async () => {
  samples = [];
  for (const length of [4096, 8192]) {
    samples.push(...await rulerTask.generate({ subtask: 'niah_single_1', length, seed: 3, count: 2, options: { cache_dir: null } }));
  }
}, 120_000);

describe('ctxbench report on awkward stores', () => {
  it('escapes hostile names in index.html, SVG and Markdown, and quotes them per RFC 4180 in CSV', async () => {
    const out = await report(buildStore('evil.db', [{ name: EVIL, model: EVIL, perf: () => ({ ttftMs: 50, tpotMs: 9 }) }]));
    for (const chart of out.charts) {
      expect(chart.warnings, chart.id).toEqual([]);
      expect(readFileSync(chart.svgPath, 'utf8'), chart.id).not.toContain('<script');
    }
    expect(readFileSync(out.indexPath, 'utf8').match(/<script/g)).toHaveLength(1); // the report's own mark probe
    const md = read(out, 'leaderboards.md');
    expect(md).not.toContain('\r');
    expect(md).not.toContain('<script>');
    const row = read(out, 'tables/coverage.md').split('\n').find((l) => l.startsWith('| ruler-all-tasks') && l.includes('| 4k |'))!;
    expect(row).toBe(String.raw`| ruler-all-tasks | \<script\>alert(1)\</script\> "q" & 'a', b c \| d \*e\* | 4k | 100.00 | 2 | 2 | 0 | 0 | 1.00 |  |`);
    // CSV: the name comes back whole, CRLF and quotes included, and every record has every column.
    const csv = read(out, 'tables/coverage.csv');
    expect(csv).toContain(`"${EVIL.replace(/"/g, '""')}"`);
  }, 120_000);

  it('counts a run named twice once', async () => {
    const path = buildStore('twice.db', [{ name: 'a', model: 'm' }]);
    const out = await report(path, ['a', 'a']);
    const cov = out.tables.find((t) => t.id === 'coverage')!;
    expect(cov.rows.map((r) => r.n)).toEqual([2, 2, 2, 2]);
  }, 120_000);

  it('keeps a length where every sample errored in the RULER tables, errors counted', async () => {
    const out = await report(buildStore('errors.db', [{ name: 'e', model: 'm', error: (s) => (s.target_length === 8192 ? 'api_error' : null) }]));
    const tasks = out.tables.find((t) => t.id === 'ruler-tasks')!;
    expect(tasks.columns.map((c) => c.key)).toEqual(['model', 'task', 'l4096', 'l8192', 'coverage']);
    expect(tasks.rows).toEqual([{ model: 'm', task: 'niah_single_1', l4096: 100, l8192: null, coverage: '2/4' }]);
    const headline = out.tables.find((t) => t.id === 'leaderboard-ruler')!;
    expect(headline.rows[0]).toMatchObject({ l4096: 100, l8192: null, coverage: '2/4' });
  }, 120_000);

  it('draws zero and infinite perf values without compiler warnings or a made-up 0 ms prefill', async () => {
    const out = await report(buildStore('perf.db', [{
      name: 'p', model: 'm',
      // 4k: a 0 ms TTFT and a 0-byte state; 8k: no TTFT and an infinite prefill rate.
      perf: (s) => (s.target_length === 4096
        ? { ttftMs: 0, tpotMs: 5, kvStateBytes: 0, promptTokens: 4000 }
        : { prefillTokPerS: Infinity, promptTokens: 8000, tpotMs: 6, kvStateBytes: 2 ** 20 }),
    }]));
    for (const chart of out.charts) expect(chart.warnings, chart.id).toEqual([]);
    const eff = out.tables.find((t) => t.id === 'leaderboard-efficiency')!;
    expect(eff.rows.map((r) => [r.x_label, r.prefill_ms, r.kv_state_mib])).toEqual([['4k', 0, 0], ['8k', null, 1]]);
    const spec = JSON.parse(read(out, 'charts/efficiency-prefill-ms.vl.json'));
    expect(spec.encoding.y.scale).toEqual({ zero: true });
    for (const table of out.tables) expect(read(out, `tables/${table.id}.md`), table.id).not.toMatch(/NaN|Infinity/);
  }, 120_000);

  it('names every one of many series in the legend', async () => {
    const few = samples.filter((s) => s.target_length === 4096).slice(0, 1);
    const runs = Array.from({ length: 34 }, (_, i) => ({ name: `run-${i}`, model: `model-${String(i).padStart(2, '0')}`, samples: few }));
    const out = await report(buildStore('many.db', runs));
    for (const chart of out.charts) expect(chart.warnings, chart.id).toEqual([]);
    const svg = readFileSync(out.charts.find((c) => c.id === 'ruler-all-tasks')!.svgPath, 'utf8');
    expect(svg).toContain('model-33 · AUC 100.0');
  }, 120_000);

  it('labels a sub-1k length by its own number', async () => {
    const short = await rulerTask.generate({ subtask: 'niah_single_1', length: 512, seed: 3, count: 1, options: { cache_dir: null } });
    const out = await report(buildStore('short.db', [{ name: 's', model: 'm', samples: [...short, ...samples.slice(0, 1)] }]));
    const svg = readFileSync(out.charts.find((c) => c.id === 'ruler-niah_single_1')!.svgPath, 'utf8');
    // The x axis ticks are 512 … 4k, one label each (before, 512 also read "1k").
    const labels = [...svg.matchAll(/>(\d+k?)<\/text>/g)].map((m) => m[1]).filter((l) => !/^(0|20|40|60|80|100)$/.test(l));
    expect(labels.slice(0, 4)).toEqual(['512', '1k', '2k', '4k']);
  }, 120_000);

  it('keeps chart files inside charts/ when a stored subtask looks like a path', async () => {
    const odd = samples.slice(0, 1).map((s) => ({ ...s, subtask: '../../../escaped' }));
    const outDir = join(dir, 'nested', 'a', 'b');
    const out = await report(buildStore('path.db', [{ name: 't', model: 'm', samples: odd }]), [], outDir);
    for (const chart of out.charts) {
      expect(dirname(chart.svgPath)).toBe(join(resolve(outDir), 'charts'));
      expect(existsSync(chart.svgPath)).toBe(true);
    }
    expect(readdirSync(join(dir, 'nested'))).toEqual(['a']);
    expect(readdirSync(join(dir, 'nested', 'a'))).toEqual(['b']);
    expect(readFileSync(out.indexPath, 'utf8')).toContain('href="charts/ruler-.._.._.._escaped.svg"');
  }, 120_000);

  it('puts the default folder of a run named ".." under reports/', () => {
    for (const name of ['..', '.', '...']) {
      const rel = relative(resolve('reports'), resolve(defaultReportDir([name])));
      expect(rel, name).not.toBe('');
      expect(rel.startsWith('..'), name).toBe(false);
    }
  });

  it('names an unknown run in one stderr line even when the store holds a run name with a newline', async () => {
    const path = buildStore('names.db', [{ name: 'two\nlines', model: 'm', samples: samples.slice(0, 1) }]);
    const res = await runCli(['report', '--db', path, '--run', 'nope', '--out', join(dir, 'unused')]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toEqual([`ctxbench: no run named "nope" in ${path} (runs: "two\\nlines")`]);
  }, 60_000);
});
