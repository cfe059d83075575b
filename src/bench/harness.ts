// `ctxbench bench`: kernel timings, end-to-end runs and ingested PyTorch anchors become perf rows (store +
// printed table); kernels that name an anchor measured in the same invocation get an ours/anchor ratio.
import { readFileSync } from 'node:fs';
import { GpuContext } from '../engine/gpu/context.js';
import type { PerfInput, ResultStore } from '../store/store.js';
import { gitCommit } from '../store/git-commit.js';
import { buildKernelCases, copyCase, type KernelName, type SizeClass } from './kernel-cases.js';
import { mlaDecodeCases, moeDecodeCases } from './decode-cases.js';
import { timeBufferCopy, timeDispatches } from './gpu-timer.js';
import { runE2e } from './e2e.js';
import { q8KernelCases } from './q8-cases.js';
import { copyBandwidth, decodeAtContextRows } from './decode-at-context.js';

export interface BenchOptions {
  kernels: KernelName[];
  e2e: boolean;
  lengths: number[];
  shape: string;
  size: SizeClass;
  repeat: number;
  experts?: number;
  decodeTokens: number;
  maxSecondsPerCase: number;
  anchorsFile?: string;
  /** Context lengths for decode-at-context TPOT (random state, no prefill); empty for none. */
  decodeAt?: number[];
  /** Copy bandwidth for the roofline when neither the anchor nor a measured copy case is in this run. */
  copyGbps?: number;
  /** Matmul weights of --e2e / --decode-at models, plus q8 kernel cases (gemv, moe) when 'q8'; default f16. */
  weights?: 'f16' | 'q8';
  log: (line: string) => void;
}

export interface BenchRow extends PerfInput {
  params: Record<string, unknown>;
}

interface AnchorFile { device?: string; rows: { case: string; metric: string; value: number; unit: string; params?: Record<string, unknown> }[] }

/** Reads bench/anchors.py output; malformed files are a one-line error naming what is wrong. */
export function readAnchors(path: string): AnchorFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new BenchInputError(`cannot read anchors ${path}: ${(err as Error).message}`);
  }
  const file = raw as AnchorFile;
  if (!file || !Array.isArray(file.rows)) throw new BenchInputError(`anchors ${path}: no "rows" array`);
  file.rows.forEach((r, i) => {
    if (typeof r.case !== 'string' || typeof r.metric !== 'string' || typeof r.unit !== 'string' || !Number.isFinite(r.value)) {
      throw new BenchInputError(`anchors ${path}: row ${i} needs string case/metric/unit and a finite value`);
    }
  });
  return file;
}

export class BenchInputError extends Error {
  override name = 'UsageError';
}

export async function runBench(opts: BenchOptions): Promise<BenchRow[]> {
  const commit = gitCommit();
  const rows: BenchRow[] = [];
  if (opts.anchorsFile) {
    const anchors = readAnchors(opts.anchorsFile);
    for (const a of anchors.rows) {
      rows.push({ bench: 'anchor', caseName: a.case, metric: a.metric, value: a.value, unit: a.unit, device: anchors.device ?? null,
        gitCommit: commit, params: { ...(a.params ?? {}), source: 'bench/anchors.py' } });
    }
  }
  if (opts.kernels.length) rows.push(...await kernelRows(opts, commit));
  if (opts.e2e) {
    const results = await runE2e({ shape: opts.shape, experts: opts.experts, lengths: opts.lengths, decodeTokens: opts.decodeTokens,
      maxSecondsPerCase: opts.maxSecondsPerCase, weights: opts.weights, log: opts.log });
    const device = await deviceName();
    for (const r of results) {
      const params = { shape: r.model, length: r.length, dtype: r.weightsDtype, experts: opts.experts ?? null, decodeTokens: r.decodeTokens,
        kvCacheBytes: r.kvCacheBytes, kdaStateBytes: r.kdaStateBytes, peakArenaBytes: r.peakArenaBytes, timing: 'wall' };
      const caseName = `${r.model} ${r.length}`;
      const base = { bench: 'e2e', caseName, device, gitCommit: commit, params };
      rows.push({ ...base, metric: 'prefill_tok_s', value: r.prefillTokPerS, unit: 'tok/s' });
      rows.push({ ...base, metric: 'ttft_ms', value: r.ttftMs, unit: 'ms' });
      if (r.tpotMs !== null) rows.push({ ...base, metric: 'tpot_ms', value: r.tpotMs, unit: 'ms' });
      rows.push({ ...base, metric: 'kv_state_bytes', value: r.kvCacheBytes + r.kdaStateBytes, unit: 'B' });
    }
  }
  if (opts.decodeAt?.length) {
    // After the anchors and kernel cases: the roofline takes its copy bandwidth from them when present.
    rows.push(...await decodeAtContextRows({ shape: opts.shape, experts: opts.experts, lengths: opts.decodeAt, decodeTokens: opts.decodeTokens,
      copy: copyBandwidth(rows, opts.copyGbps), gitCommit: commit, weights: opts.weights, log: opts.log }));
  }
  return rows;
}

let cachedDevice: string | undefined;
async function deviceName(ctx?: GpuContext): Promise<string> {
  if (cachedDevice) return cachedDevice;
  if (ctx) return (cachedDevice = ctx.caps.adapterDescription);
  const tmp = await GpuContext.create();
  cachedDevice = tmp.caps.adapterDescription;
  await tmp.destroy();
  return cachedDevice;
}

async function kernelRows(opts: BenchOptions, commit: string | null): Promise<BenchRow[]> {
  const ctx = await GpuContext.create();
  const device = await deviceName(ctx);
  const rows: BenchRow[] = [];
  const common = { device, gitCommit: commit };
  opts.log(`device: ${device}; subgroup size ${ctx.caps.subgroupSize}; timestamps ${ctx.caps.hasTimestamps}; f16 ${ctx.caps.hasF16}; subgroup-matrix configs ${ctx.caps.subgroupMatrixConfigs.length}`);
  // GPU clocks ramp under load: the first case warms for 2 s, each later one for 0.3 s (idle gaps between
  // cases, such as CPU-side verification, let the clocks drop again). CPU adapters skip it.
  const ramp = ctx.caps.isFallbackAdapter ? [0, 0] : [2000, 300];
  let warmMs = ramp[0];
  try {
    for (const kernel of opts.kernels) {
      const cases = kernel === 'mla-decode' ? mlaDecodeCases(ctx, opts.size)
        : kernel === 'moe' ? moeDecodeCases(ctx, opts.size) : await buildKernelCases(ctx, kernel, opts.size);
      if (opts.weights === 'q8') cases.push(...q8KernelCases(ctx, kernel, opts.size));
      for (const c of cases) {
        try {
          const t = await timeDispatches(ctx, c.specs, { inner: 3, outer: opts.repeat, warmMs });
          warmMs = ramp[1];
          const maxRelErr = c.verify ? await c.verify() : undefined;
          if (maxRelErr !== undefined) opts.log(`${c.name}: path ${String(c.params.path)}, sampled max rel. error ${maxRelErr.toExponential(2)}`);
          const params = { ...c.params, maxRelErr, kernel, shape: opts.size, dtype: c.dtype, timing: t.method, ms: t.ms, bestMs: t.bestMs, anchor: c.anchor };
          const base = { ...common, bench: 'kernel', caseName: c.name, params };
          rows.push({ ...base, metric: 'ms', value: t.ms, unit: 'ms' });
          if (c.flops) rows.push({ ...base, metric: 'tflops', value: c.flops / (t.ms / 1000) / 1e12, unit: 'TFLOP/s' });
          if (c.bytes) rows.push({ ...base, metric: 'gbps', value: c.bytes / (t.ms / 1000) / 1e9, unit: 'GB/s' });
          if (c.tokens) rows.push({ ...base, metric: 'mtok_s', value: c.tokens / (t.ms / 1000) / 1e6, unit: 'Mtok/s' });
        } catch (err) {
          opts.log(`${c.name}: failed: ${(err as Error).message.split('\n')[0]}`);
        } finally {
          c.release();
        }
      }
      // After the kernel copy cases (the first copy row is the roofline decode-at-context takes).
      if (kernel === 'copy') {
        const c = copyCase(opts.size);
        const t = await timeBufferCopy(ctx, c.bytes, opts.repeat);
        rows.push({ ...common, bench: 'kernel', caseName: c.name, metric: 'gbps', value: (2 * c.bytes) / (t.ms / 1000) / 1e9, unit: 'GB/s',
          params: { kernel, bytes: c.bytes, timing: t.method, ms: t.ms, bestMs: t.bestMs, anchor: opts.size === '48b' ? c.anchor : undefined, path: 'copyBufferToBuffer' } });
      }
    }
  } finally {
    await ctx.destroy();
  }
  return rows;
}

export function storeRows(store: ResultStore, rows: BenchRow[]): number {
  const insert = store.db.transaction((all: BenchRow[]) => all.forEach((r) => store.insertPerf(r)));
  insert(rows);
  return rows.length;
}

/** Ours / anchor for rows naming an anchor case present among `rows` with the same metric. */
export function anchorRatio(row: BenchRow, rows: readonly BenchRow[]): number | undefined {
  const anchor = row.params.anchor;
  if (row.bench !== 'kernel' || typeof anchor !== 'string') return undefined;
  const a = rows.find((r) => r.bench === 'anchor' && r.caseName === anchor && r.metric === row.metric);
  return a && a.value > 0 ? row.value / a.value : undefined;
}

export function formatTable(rows: readonly BenchRow[]): string {
  const header = ['bench', 'case', 'metric', 'value', 'unit', 'timing', 'vs anchor'];
  const body = rows.map((r) => {
    const ratio = anchorRatio(r, rows);
    return [r.bench, r.caseName, r.metric, formatValue(r.value), r.unit, String(r.params.timing ?? ''), ratio === undefined ? '' : `${ratio.toFixed(3)}×`];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [header, ...body].map((cols) => cols.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

function formatValue(v: number): string {
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(3);
  return v.toPrecision(3);
}
