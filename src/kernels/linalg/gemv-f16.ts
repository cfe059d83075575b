// Wrapper for gemv-f16.wgsl: decode GEMV over f16 weights at memory bandwidth (subgroup reductions, 16-byte
// loads, several rows per workgroup sharing the x chunk). makeLinear picks it for one activation row and f16
// weights; devices without subgroups, or rows whose length is not a multiple of 8, keep the plain gemv there.
import { f32, type DispatchSpec, type GpuContext } from '../../engine/gpu/context.js';
import { numel, type GpuTensor } from '../../engine/gpu/arena.js';
import { f16BitsToF32, f32ToF16Bits } from '../../engine/gpu/half.js';
import { requireDtype } from '../elementwise/shapes.js';

const kernel = { name: 'linalg/gemv-f16', url: new URL('./gemv-f16.wgsl', import.meta.url) };

export interface GemvF16Plan {
  path: 'subgroup' | 'fallback';
  /** Threads per workgroup (a multiple of the largest subgroup size). */
  workgroupSize: number;
  rowsPerWorkgroup: number;
  reason?: string;
}

/**
 * 128 threads for rows shorter than 4096 (K/8 16-byte chunks: at K = 2304, 256 threads left 224 of them one chunk
 * against 32 with two), else 256. H100, 48B decode shapes (probe-gemv-shapes.mjs, session 9): 12576×2304 26.2 →
 * 23.7 µs, 6720×2304 12.3 → 10.6, lm_head 281 → 249, 4096×128 5.4 → 4.3; 2304×4096 7.1 either way; 2304×9216 11.7 (256)
 * against 13.7.
 */
export function planGemvF16(ctx: GpuContext, K: number): GemvF16Plan {
  const threads = K < 4096 ? 128 : 256;
  const workgroupSize = Math.min(threads, ctx.caps.maxInvocationsPerWorkgroup, Math.max(ctx.caps.subgroupSize * 4, 64));
  const rowsPerWorkgroup = 4;
  if (!ctx.caps.hasSubgroups) return { path: 'fallback', workgroupSize, rowsPerWorkgroup, reason: 'no subgroups feature' };
  if (K % 8 !== 0) return { path: 'fallback', workgroupSize, rowsPerWorkgroup, reason: `K=${K} is not a multiple of 8` };
  return { path: 'subgroup', workgroupSize, rowsPerWorkgroup };
}

/**
 * An RMSNorm folded into the GEMV that reads its output (decode): γ [K] f32 and the norm's eps; with `residual`,
 * the input is x + residual (the add the norm would have stored; whoever writes x next must add it).
 */
export interface FoldedNorm { weight: GpuTensor; eps: number; residual?: GpuTensor }

/** Checks a folded norm's tensors against K-long input rows (xValues in all); its defines and extra bindings. */
export function foldedNormOperands(name: string, norm: FoldedNorm | undefined, K: number, xValues = K): { defines: { NORM: boolean; RESIDUAL: boolean }; bindings: GpuTensor[] } {
  if (!norm) return { defines: { NORM: false, RESIDUAL: false }, bindings: [] };
  requireDtype(`${name} norm`, norm.weight, 'f32');
  if (numel(norm.weight.shape) !== K) throw new Error(`${name}: norm weight ${norm.weight.label} must have ${K} values`);
  if (norm.residual) {
    requireDtype(`${name} residual`, norm.residual, 'f32');
    if (numel(norm.residual.shape) !== xValues) throw new Error(`${name}: residual ${norm.residual.label} must have ${xValues} values, as x`);
  }
  return { defines: { NORM: true, RESIDUAL: Boolean(norm.residual) }, bindings: norm.residual ? [norm.weight, norm.residual] : [norm.weight] };
}

/**
 * out[colOffset + n] = W[n, :] · x for the N rows of W (one binding part of a row-split weight); x, out f32.
 * With `norm`, W[n, :] · (rmsnorm(x) ⊙ γ): x is the raw row and the norm is computed inside the dispatch.
 */
export function makeGemvF16(
  ctx: GpuContext, x: GpuTensor, w: GpuTensor, out: GpuTensor, plan = planGemvF16(ctx, w.shape[1]), colOffset = 0, norm?: FoldedNorm,
): DispatchSpec[] {
  const [N, K] = w.shape;
  requireDtype('gemv f16', w, 'f16');
  requireDtype('gemv f16', x, 'f32');
  requireDtype('gemv f16', out, 'f32');
  if (plan.path === 'fallback') throw new Error(`gemv f16: no subgroup path here (${plan.reason}); use makeLinear`);
  const xLen = x.shape.reduce((a, b) => a * b, 1);
  const outLen = out.shape.reduce((a, b) => a * b, 1);
  if (xLen !== K) throw new Error(`gemv f16: ${x.label} has ${xLen} values, ${w.label} expects ${K}`);
  if (outLen < colOffset + N) throw new Error(`gemv f16: ${out.label} has ${outLen} values, expected at least ${colOffset + N}`);
  const folded = foldedNormOperands('gemv f16', norm, K);
  return [ctx.dispatch({
    kernel,
    defines: { WG: plan.workgroupSize, ROWS: plan.rowsPerWorkgroup, MIN_SG: Math.max(1, ctx.caps.subgroupMinSize), ...folded.defines },
    params: [N, K, colOffset, f32(norm?.eps ?? 0)],
    bindings: [x, w, out, ...folded.bindings],
    workgroups: ctx.grid2d(Math.ceil(N / plan.rowsPerWorkgroup)),
  })];
}

/** Scalar reference: W rounded to f16 as stored, products summed in f64. */
export function gemvF16Reference(x: ArrayLike<number>, w: ArrayLike<number>, N: number, K: number): Float32Array {
  const out = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let acc = 0;
    for (let k = 0; k < K; k++) acc += x[k] * f16BitsToF32(f32ToF16Bits(w[n * K + k]));
    out[n] = acc;
  }
  return out;
}
