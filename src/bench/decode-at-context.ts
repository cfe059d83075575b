// Decode speed at long contexts without the prefill (`ctxbench bench --decode-at 256k,512k,1m`): for a shape and
// its all-MLA twin, Engine.decodeAtContext fills the latent caches and KDA states with seeded random values at
// position N and times the normal recorded decode step. A step's cost depends on the cache lengths, not on
// their values, so TPOT and memory are those at N; rows say "random state, no prefill" and are never prefill
// results. Each length is set against the memory roofline: the bytes one decode step must read at copy speed.
import type { KimiConfig } from '../engine/checkpoint.js';
import { Engine } from '../engine/engine.js';
import { DTYPE_BYTES, type GpuDtype } from '../engine/gpu/arena.js';
import { Q8_BYTES_PER_WEIGHT } from '../kernels/linalg/q8-format.js';
import { shapeAndTwin, twinShapeName } from './e2e.js';
import type { BenchRow } from './harness.js';

export const DECODE_AT_CONTEXT_BENCH = 'decode-at-context';
const STATE_NOTE = 'random state, no prefill';

/** Storage bytes per element of what a decode step reads. */
export interface DecodeDtypeBytes {
  /** Projection, expert and lm_head weights (the engine's matmul dtype; q8: 1 byte + an f16 scale per 32). */
  matmul: number;
  /** The embedding row (default `matmul`; q8 models keep an f16 table). */
  embed?: number;
  /** kv_b_proj (read whole by the absorbed decode; f32 today). */
  kvb: number;
  /** MLA latent cache rows. */
  latent: number;
}

export interface DecodeReadBytes { weights: number; latentCache: number; kdaState: number; total: number }

/**
 * Bytes one decode step at N tokens of context must move (a lower bound: activations and scratch left out):
 *   weights = e·H (one embedding row) + w·V·H (lm_head) + 4·H (final norm)
 *     + Σ layers 4·2H (two RMSNorms)
 *     + KDA layer: w·(3·P·H + 2·Dk·H + 2·P·Dk + Hk·H + H·P) + 4·(3·P·K + Hk + P + Dk)   (q k v, f_a g_a, f_b g_b, b, o; conv taps, A_log, dt_bias, o_norm)
 *     + MLA layer: w·(Hm·(Dn+Dr)·H + (R+Dr)·H + H·Hm·Dv) + 4·R + kvb·Hm·(Dn+Dv)·R          (q, kv_a, o; kv_a norm; kv_b)
 *     + dense MLP: w·3·F·H;  MoE: 4·(E·H + E) + w·3·I·H·(topK + shared)                    (router + bias; top-k routed and shared experts)
 *   latentCache = (MLA layers)·N·(R+Dr)·latent            (every cached row read once)
 *   kdaState = 2·(KDA layers)·4·(Hk·Dk·Dk + 3·(K−1)·P)     (recurrent state and conv caches, read and written)
 * with w = matmul bytes, e = embedding bytes, P = Hk·Dk, Hm MLA heads, E routed experts of width I, F the dense width.
 */
export function decodeReadBytes(c: KimiConfig, bytes: DecodeDtypeBytes, N: number): DecodeReadBytes {
  const H = c.hiddenSize, w = bytes.matmul;
  const { numHeads: Hk, headDim: Dk, convKernelSize: K } = c.kda;
  const P = Hk * Dk;
  const { numHeads: Hm, qkNopeHeadDim: Dn, qkRopeHeadDim: Dr, vHeadDim: Dv, kvLoraRank: R } = c.mla;
  const { numExperts: E, topK, numSharedExperts, intermediateSize: I } = c.moe;
  let weights = (bytes.embed ?? w) * H + w * c.vocabSize * H + 4 * H;
  let mlaLayers = 0, kdaLayers = 0;
  for (let i = 0; i < c.numLayers; i++) {
    weights += 4 * 2 * H;
    if (c.layerKinds[i] === 'kda') {
      kdaLayers++;
      weights += w * (3 * P * H + 2 * Dk * H + 2 * P * Dk + Hk * H + H * P) + 4 * (3 * P * K + Hk + P + Dk);
    } else {
      mlaLayers++;
      weights += w * (Hm * (Dn + Dr) * H + (R + Dr) * H + H * Hm * Dv) + 4 * R + bytes.kvb * Hm * (Dn + Dv) * R;
    }
    weights += c.mlpKinds[i] === 'dense' ? w * 3 * c.denseIntermediateSize * H : 4 * (E * H + E) + w * 3 * I * H * (topK + numSharedExperts);
  }
  const latentCache = mlaLayers * N * (R + Dr) * bytes.latent;
  const kdaState = 2 * kdaLayers * 4 * (Hk * Dk * Dk + 3 * (K - 1) * P);
  return { weights, latentCache, kdaState, total: weights + latentCache + kdaState };
}

export interface CopyBandwidth { gbps: number; source: string }

/** The device-copy anchor if ingested, else this run's measured copy case, else the --copy-gbps value. */
export function copyBandwidth(rows: readonly BenchRow[], flagGbps?: number): CopyBandwidth | undefined {
  const anchor = rows.find((r) => r.bench === 'anchor' && r.caseName.startsWith('device-copy') && r.metric === 'gbps' && r.value > 0);
  if (anchor) return { gbps: anchor.value, source: `anchor ${anchor.caseName}` };
  const measured = rows.find((r) => r.bench === 'kernel' && r.params.kernel === 'copy' && r.metric === 'gbps' && r.value > 0);
  if (measured) return { gbps: measured.value, source: `measured ${measured.caseName}` };
  return flagGbps !== undefined ? { gbps: flagGbps, source: '--copy-gbps' } : undefined;
}

export interface DecodeAtContextBenchOptions {
  shape: string;
  experts?: number;
  lengths: number[];
  decodeTokens: number;
  copy?: CopyBandwidth;
  gitCommit: string | null;
  seed?: number;
  /** Matmul weight storage of the random model (default f16). */
  weights?: 'f16' | 'q8';
  log: (line: string) => void;
}

/** Perf rows for the shape and its twin at every length; a length that cannot run is a `skipped` row with the reason. */
export async function decodeAtContextRows(opts: DecodeAtContextBenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const lengths = [...opts.lengths].sort((a, b) => a - b);
  let device: string | null = null;
  for (const { name, config } of shapeAndTwin(opts.shape, opts.experts)) {
    const base = (length: number) => ({ bench: DECODE_AT_CONTEXT_BENCH, caseName: `${name} ${length}`, gitCommit: opts.gitCommit });
    const common = (length: number) => ({ mode: DECODE_AT_CONTEXT_BENCH, state: STATE_NOTE, shape: name, length, dtype: opts.weights ?? 'f16', experts: opts.experts ?? null, decodeTokens: opts.decodeTokens, timing: 'wall' });
    const skip = (length: number, reason: string) => {
      opts.log(`${DECODE_AT_CONTEXT_BENCH} ${name} ${length}: skipped: ${reason}`);
      rows.push({ ...base(length), device, metric: 'skipped', value: 0, unit: '', params: { ...common(length), skipped: reason } });
    };
    let engine: Engine;
    try {
      engine = await Engine.load({ randomConfig: config, seed: 7 }, { matmulDtype: opts.weights ?? 'f16' });
    } catch (err) {
      for (const length of lengths) skip(length, `model did not load: ${firstLine(err)}`);
      continue;
    }
    device = engine.device;
    try {
      const mlaMixer = engine.weights.layers.find((l) => l.mixer.kind === 'mla')?.mixer;
      for (const length of lengths) {
        try {
          const r = await engine.decodeAtContext({ contextTokens: length, decodeTokens: opts.decodeTokens, seed: opts.seed ?? 1 });
          const s = r.stats;
          const dtypes: DecodeDtypeBytes = {
            matmul: engine.weights.lmHead.dtype === 'q8' ? Q8_BYTES_PER_WEIGHT : DTYPE_BYTES[engine.weights.lmHead.dtype],
            embed: DTYPE_BYTES[engine.weights.embed.dtype],
            kvb: mlaMixer?.kind === 'mla' ? DTYPE_BYTES[mlaMixer.kvb.dtype] : 4,
            latent: DTYPE_BYTES[(s.latentDtype ?? 'f32') as GpuDtype],
          };
          const reads = decodeReadBytes(config, dtypes, length);
          const rooflineMs = opts.copy ? reads.total / (opts.copy.gbps * 1e9) * 1000 : undefined;
          const params = {
            ...common(length), latentDtype: s.latentDtype, kvCacheBytes: s.kvCacheBytes, kdaStateBytes: s.kdaStateBytes,
            peakArenaBytes: s.peakArenaBytes, weightBytes: engine.weights.bytes, fillMs: s.fillMs, tpotMeanMs: s.tpotMeanMs, tpotP90Ms: s.tpotP90Ms, reads, dtypeBytes: dtypes,
            copyGbps: opts.copy?.gbps ?? null, copySource: opts.copy?.source ?? null, rooflineMs: rooflineMs ?? null,
          };
          const row = (metric: string, value: number | null | undefined, unit: string) => {
            if (value !== null && value !== undefined && Number.isFinite(value)) rows.push({ ...base(length), device, metric, value, unit, params });
          };
          row('tpot_ms', s.tpotMeanMs, 'ms');
          row('tpot_p50_ms', s.tpotP50Ms, 'ms');
          row('tpot_p90_ms', s.tpotP90Ms, 'ms');
          row('decode_read_bytes', reads.total, 'B');
          row('kv_state_bytes', s.kvCacheBytes + s.kdaStateBytes, 'B');
          row('peak_arena_bytes', s.peakArenaBytes, 'B');
          row('weight_bytes', engine.weights.bytes, 'B');
          if (rooflineMs !== undefined && s.tpotP50Ms !== null) {
            row('roofline_ms', rooflineMs, 'ms');
            row('tpot_vs_roofline', s.tpotP50Ms / rooflineMs, '×');
          }
          opts.log(`${DECODE_AT_CONTEXT_BENCH} ${name} ${length} (${STATE_NOTE}): TPOT p50 ${s.tpotP50Ms?.toFixed(2)} ms, mean ${s.tpotMeanMs?.toFixed(2)} ms`
            + (rooflineMs !== undefined ? `, roofline ${rooflineMs.toFixed(2)} ms` : '') + `, KV+state ${gb(s.kvCacheBytes + s.kdaStateBytes)} GB, weights ${gb(engine.weights.bytes)} GB (${opts.weights ?? 'f16'}), peak ${gb(s.peakArenaBytes)} GB`);
        } catch (err) {
          skip(length, firstLine(err));
        }
      }
    } finally {
      await engine.close();
    }
  }
  rows.push(...speedupRows(rows, opts.shape));
  return rows;
}

/** Per length measured for both: MLA twin TPOT p50 ÷ hybrid TPOT p50 (the hybrid's decode speedup). */
function speedupRows(rows: readonly BenchRow[], shape: string): BenchRow[] {
  const p50 = rows.filter((r) => r.bench === DECODE_AT_CONTEXT_BENCH && r.metric === 'tpot_p50_ms');
  const out: BenchRow[] = [];
  const [hybridName, mlaName] = shape.endsWith('-mla') ? [twinShapeName(shape), shape] : [shape, twinShapeName(shape)];
  for (const h of p50.filter((r) => r.params.shape === hybridName)) {
    const m = p50.find((r) => r.params.shape === mlaName && r.params.length === h.params.length);
    if (!m) continue;
    out.push({ bench: DECODE_AT_CONTEXT_BENCH, caseName: `${mlaName} / ${hybridName} ${String(h.params.length)}`, metric: 'tpot_ratio_mla_over_hybrid',
      value: m.value / h.value, unit: '×', device: h.device, gitCommit: h.gitCommit,
      params: { mode: DECODE_AT_CONTEXT_BENCH, state: STATE_NOTE, length: h.params.length, hybrid: hybridName, mla: mlaName, hybridP50Ms: h.value, mlaP50Ms: m.value, timing: 'wall' } });
  }
  return out;
}

/** The printed table: one line per shape and length (skips with their reason), then the MLA/hybrid ratios. */
export function formatDecodeAtContext(rows: readonly BenchRow[]): string {
  const mine = rows.filter((r) => r.bench === DECODE_AT_CONTEXT_BENCH);
  if (!mine.length) return '';
  const cases = [...new Set(mine.filter((r) => r.metric !== 'tpot_ratio_mla_over_hybrid').map((r) => r.caseName))];
  const value = (c: string, metric: string) => mine.find((r) => r.caseName === c && r.metric === metric);
  const header = ['model', 'context', 'TPOT p50 ms', 'mean ms', 'p90 ms', 'roofline ms', 'TPOT/roofline', 'read GB', 'weights GB', 'KV+state GB', 'peak GB', 'note', 'weights'];
  const body = cases.map((c) => {
    const any = mine.find((r) => r.caseName === c)!;
    const skipped = value(c, 'skipped');
    const num = (metric: string, digits = 2) => { const r = value(c, metric); return r ? r.value.toFixed(digits) : ''; };
    const gbOf = (metric: string) => { const r = value(c, metric); return r ? gb(r.value) : ''; };
    return [String(any.params.shape), String(any.params.length), num('tpot_p50_ms'), num('tpot_ms'), num('tpot_p90_ms'), num('roofline_ms'),
      num('tpot_vs_roofline'), gbOf('decode_read_bytes'), gbOf('weight_bytes'), gbOf('kv_state_bytes'), gbOf('peak_arena_bytes'),
      skipped ? `skipped: ${String(skipped.params.skipped)}` : STATE_NOTE, String(any.params.dtype)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const table = [header, ...body].map((cols) => cols.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  const copy = mine.find((r) => r.params.copySource);
  table.push(copy ? `roofline: decode-step bytes / ${Number(copy.params.copyGbps).toFixed(0)} GB/s (${String(copy.params.copySource)})`
    : 'roofline: no copy bandwidth (ingest the device-copy anchor, add --kernels copy, or pass --copy-gbps)');
  for (const r of mine.filter((x) => x.metric === 'tpot_ratio_mla_over_hybrid')) {
    table.push(`${String(r.params.length)}: MLA/hybrid TPOT ${r.value.toFixed(2)}× (p50 ${Number(r.params.mlaP50Ms).toFixed(2)} / ${Number(r.params.hybridP50Ms).toFixed(2)} ms)`);
  }
  return table.join('\n');
}

function gb(bytes: number): string {
  return (bytes / 1e9).toFixed(2);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
