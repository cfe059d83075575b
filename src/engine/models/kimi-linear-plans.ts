// Load-time choices of the Kimi Linear graph (kimi-linear.ts): the MoE prefill tile height, the q8 weights the
// prefill dequant scratch is sized for, and the latent cache dtype.
import type { KimiConfig } from '../checkpoint.js';
import type { GpuContext } from '../gpu/context.js';
import type { KimiGpuWeights } from './kimi-linear-weights.js';
import { gemmTiles } from '../../kernels/linalg/matmul.js';
import { tensorCoreChoice } from '../../kernels/linalg/gemm-subgroup-matrix.js';
import { isQ8, type Q8Weight } from '../../kernels/linalg/q8-format.js';

/**
 * Expert tile height of the MoE prefill plan: 256 rows (the dense tensor-core tiles, 126–140 against 88–90 TFLOP/s
 * for 128 on the H100) where a full piece gives experts ≥ 1024 rows on average (padding each expert to 256 then
 * costs ≤ 1/8) and every expert matrix is f16 with whole 128-column tiles; else the scalar GEMM's TM (its tiles
 * and the 128-row tensor-core tiles). CTXBENCH_MOE_TILE_ROWS=128 keeps the smaller tiles (before/after runs).
 */
export function moeTileRows(ctx: GpuContext, c: KimiConfig, w: KimiGpuWeights, pieceTokens: number): number {
  const { TM } = gemmTiles(ctx);
  const dense = tensorCoreChoice(ctx)?.denseTiles;
  if (!dense || !c.mlpKinds.includes('moe') || process.env.CTXBENCH_MOE_TILE_ROWS === String(TM)) return TM;
  if (pieceTokens * c.moe.topK / c.moe.numExperts < 1024) return TM;
  const ok = w.layers.every((l) => l.mlp.kind !== 'moe' || [l.mlp.w1, l.mlp.w2, l.mlp.w3].every((m) =>
    m.dtype === 'f16' && m.shape[m.shape.length - 2] % dense.TILE_N === 0));
  return ok ? dense.TILE_M : TM;
}

/** Every q8 matmul weight of the model (the prefill dequant scratch is sized for the largest). */
export function q8WeightsOf(w: KimiGpuWeights): Q8Weight[] {
  const all: unknown[] = [w.lmHead];
  for (const l of w.layers) all.push(...Object.values(l.mixer), ...Object.values(l.mlp), ...(l.mlp.kind === 'moe' && l.mlp.shared ? Object.values(l.mlp.shared) : []));
  return all.filter((x): x is Q8Weight => typeof x === 'object' && x !== null && 'dtype' in x && isQ8(x as Q8Weight));
}

/**
 * f16 latent cache where the matmul weights are f16: half the decode step's dominant traffic at long context
 * and memory (a 1M-token f32 layer cache exceeds one binding). f32 weights keep the exact f32 cache (golden
 * parity). CTXBENCH_LATENT_CACHE=f32 or f16 forces one (before/after runs).
 */
export function latentCacheDtype(f16Weights: boolean): 'f32' | 'f16' {
  const forced = process.env.CTXBENCH_LATENT_CACHE;
  if (forced === 'f32' || forced === 'f16') return forced;
  if (forced) throw new Error(`CTXBENCH_LATENT_CACHE must be f32 or f16 (got ${forced})`);
  return f16Weights ? 'f16' : 'f32';
}

