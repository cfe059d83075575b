// Decode's low-rank gate projections (f = f_b · f_a h before kdaPrepare, z = g_b · g_a h before the gated norm)
// folded into the kernel that reads them: saves one tiny GEMV dispatch each (launch + latency, ~4 µs on an
// H100 for a 1 MB weight). The kernels include kda-low-rank-fold.part.wgsl under #if LOWRANK.
import type { GpuTensor } from '../../engine/gpu/arena.js';
import type { Defines } from '../../engine/gpu/pipelines.js';
import { resolveRows, type ResolvedRows, type RowView } from './row-view.js';
import { singleBinding, type LinearWeight } from '../linalg/matmul.js';
import { isQ8 } from '../linalg/q8-format.js';

/** value[t, n] = Σ_k weight[n, k] · input[t, k]: the projection a kernel computes instead of reading it. */
export interface LowRankProjection {
  /** [N, K] f16 (K a multiple of 8) or f32, one binding (PyTorch linear layout). */
  weight: GpuTensor;
  /** [T, K] f32, e.g. f_a h or g_a h (may be a view into a fused projection output). */
  input: GpuTensor | RowView;
}

export function isLowRankProjection(x: GpuTensor | RowView | LowRankProjection): x is LowRankProjection {
  return 'weight' in x;
}

/** Why a weight cannot be folded (undefined when it can): kernels and the engine share this test. */
export function lowRankFoldReason(weight: LinearWeight): string | undefined {
  if (isQ8(weight)) return `${weight.label} is q8 (f16 or f32 only)`;
  const w = singleBinding(weight);
  if (!w) return 'weight spans several bindings';
  if (w.dtype !== 'f16' && w.dtype !== 'f32') return `${w.label} is ${w.dtype} (f16 or f32 only)`;
  if (w.shape.length !== 2) return `${w.label} is not a matrix`;
  if (w.dtype === 'f16' && w.shape[1] % 8 !== 0) return `${w.label}: f16 rows need K % 8 = 0 (K = ${w.shape[1]})`;
  return undefined;
}

/** The weight's one foldable binding, or undefined (q8, split over bindings, f16 with K % 8 ≠ 0). */
export function foldableLowRankWeight(weight: LinearWeight): GpuTensor | undefined {
  return lowRankFoldReason(weight) || isQ8(weight) ? undefined : singleBinding(weight);
}

/** Checks a folded projection of N outputs per row and returns the input view and the kernel's defines. */
export function resolveLowRank(kernel: string, name: string, p: LowRankProjection, T: number, N: number, binding: number, wg: number):
  { input: ResolvedRows; weight: GpuTensor; defines: Defines } {
  const why = lowRankFoldReason(p.weight);
  if (why) throw new Error(`${kernel}: ${name} cannot be folded: ${why}`);
  const [rows, K] = p.weight.shape;
  if (rows !== N) throw new Error(`${kernel}: ${name} weight ${p.weight.label} has ${rows} rows, expected ${N}`);
  const f16 = p.weight.dtype === 'f16';
  return {
    input: resolveRows(kernel, `${name} input`, p.input, T, K),
    weight: p.weight,
    defines: { LOWRANK: true, LOWRANK_F16: f16, LOWRANK_K: K, LOWRANK_CHUNKS: f16 ? K / 8 : 0, LOWRANK_BINDING: binding, WG: wg },
  };
}

/** Defines of a kernel without the fold (#unroll counts must be defined even in inactive blocks). */
export const NO_LOW_RANK: Defines = { LOWRANK: false, LOWRANK_CHUNKS: 0 };
