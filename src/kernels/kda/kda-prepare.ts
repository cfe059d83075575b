// Wrapper for kda-prepare.wgsl: turns conv outputs and gate projections into the delta rule's inputs.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { f32 } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { requireF32Elements, requirePositiveInts, resolveRows, type RowView } from './row-view.js';
import { isLowRankProjection, NO_LOW_RANK, resolveLowRank, type LowRankProjection } from './kda-low-rank-fold.js';

const kernel = { name: 'kda/kda-prepare', url: new URL('./kda-prepare.wgsl', import.meta.url) };

export interface KdaPrepareArgs {
  /** Post-conv q and k [T, H·dk] (head-major channels). */
  q: GpuTensor | RowView;
  k: GpuTensor | RowView;
  /**
   * Gate low-rank output f_b(f_a(h)) [T, H·dk], before dt_bias; or f_b's weight [H·dk, K] with f_a(h) [T, K],
   * and the kernel computes each channel's f itself (decode: one GEMV dispatch fewer).
   */
  f: GpuTensor | RowView | LowRankProjection;
  /** b_proj output [T, H], before the sigmoid. */
  b: GpuTensor | RowView;
  /** A_log [1, 1, H, 1] and dt_bias [H·dk]. */
  aLog: GpuTensor;
  dtBias: GpuTensor;
  /** Outputs, dense: q̃ and k̂ [T, H, dk], log-decay g [T, H, dk], β [T, H]. */
  qOut: GpuTensor;
  kOut: GpuTensor;
  gOut: GpuTensor;
  betaOut: GpuTensor;
  T: number;
  H: number;
  dk: number;
}

/** Power of two for the tree reduction, at most the head dim rounded up and what the device allows. */
function reductionWorkgroup(ctx: GpuContext, dk: number): number {
  const cap = Math.min(ctx.caps.maxInvocationsPerWorkgroup, ctx.caps.maxWorkgroupSizeX, 256);
  let wg = Math.max(ctx.caps.subgroupSize, 1);
  while (wg * 2 <= cap && wg < dk) wg *= 2;
  return Math.min(wg, cap);
}

/** q/k L2 norm (+ q scale dk^-1/2), per-channel gate, β: one dispatch, one workgroup per (token, head). */
export function kdaPrepare(ctx: GpuContext, a: KdaPrepareArgs): DispatchSpec {
  const name = 'kdaPrepare';
  requirePositiveInts(name, { T: a.T, H: a.H, dk: a.dk });
  const P = a.H * a.dk;
  const q = resolveRows(name, 'q', a.q, a.T, P);
  const k = resolveRows(name, 'k', a.k, a.T, P);
  const wg = reductionWorkgroup(ctx, a.dk);
  const folded = isLowRankProjection(a.f) ? resolveLowRank(name, 'f', a.f, a.T, P, 11, wg) : undefined;
  const f = folded ? folded.input : resolveRows(name, 'f', a.f as GpuTensor | RowView, a.T, P);
  const b = resolveRows(name, 'b', a.b, a.T, a.H);
  requireF32Elements(name, 'aLog', a.aLog, a.H);
  requireF32Elements(name, 'dtBias', a.dtBias, P);
  for (const [n, t] of [['qOut', a.qOut], ['kOut', a.kOut], ['gOut', a.gOut]] as const) requireF32Elements(name, n, t, a.T * P);
  requireF32Elements(name, 'betaOut', a.betaOut, a.T * a.H);
  return ctx.dispatch({
    kernel,
    defines: folded?.defines ?? { ...NO_LOW_RANK, WG: wg },
    params: [a.T, a.H, a.dk, f32(1 / Math.sqrt(a.dk)), q.offset, q.rowStride, k.offset, k.rowStride,
      f.offset, f.rowStride, b.offset, b.rowStride],
    bindings: [q.tensor, k.tensor, f.tensor, b.tensor, a.aLog, a.dtBias, a.qOut, a.kOut, a.gOut, a.betaOut, ...(folded ? [folded.weight] : [])],
    workgroups: ctx.grid2d(a.T * a.H),
  });
}
