// Wrapper for kda-gated-norm.wgsl: the gated per-head RMSNorm between the delta rule and o_proj.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { f32 } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { requireF32Elements, requirePositiveInts, resolveRows, type RowView } from './row-view.js';
import { isLowRankProjection, NO_LOW_RANK, resolveLowRank, type LowRankProjection } from './kda-low-rank-fold.js';

const kernel = { name: 'kda/kda-gated-norm', url: new URL('./kda-gated-norm.wgsl', import.meta.url) };

export interface KdaGatedRmsNormArgs {
  /** Delta-rule output o [T, H, dv]. */
  o: GpuTensor;
  /**
   * Output-gate logits z = g_b(g_a h) [T, H·dv]; or g_b's weight [H·dv, K] with g_a(h) [T, K], and the kernel
   * computes each channel's z itself (decode: one GEMV dispatch fewer).
   */
  z: GpuTensor | RowView | LowRankProjection;
  /** o_norm.weight [dv], shared by the heads. */
  weight: GpuTensor;
  /** y [T, H·dv], the o_proj input. */
  y: GpuTensor;
  T: number;
  H: number;
  dv: number;
  /** rms_norm_eps (1e-5 in the 48B config). */
  eps: number;
}

export function kdaGatedRmsNorm(ctx: GpuContext, a: KdaGatedRmsNormArgs): DispatchSpec {
  const name = 'kdaGatedRmsNorm';
  requirePositiveInts(name, { T: a.T, H: a.H, dv: a.dv });
  if (!(a.eps > 0)) throw new Error(`${name}: eps must be > 0 (got ${a.eps})`);
  requireF32Elements(name, 'o', a.o, a.T * a.H * a.dv);
  requireF32Elements(name, 'weight', a.weight, a.dv);
  requireF32Elements(name, 'y', a.y, a.T * a.H * a.dv);
  const cap = Math.min(ctx.caps.maxInvocationsPerWorkgroup, ctx.caps.maxWorkgroupSizeX, 256);
  let wg = ctx.caps.subgroupSize;
  while (wg * 2 <= cap && wg < a.dv) wg *= 2;
  const folded = isLowRankProjection(a.z) ? resolveLowRank(name, 'z', a.z, a.T, a.H * a.dv, 5, wg) : undefined;
  const z = folded ? folded.input : resolveRows(name, 'z', a.z as GpuTensor | RowView, a.T, a.H * a.dv);
  return ctx.dispatch({
    kernel,
    defines: folded?.defines ?? { ...NO_LOW_RANK, WG: wg },
    params: [a.T, a.H, a.dv, f32(a.eps), z.offset, z.rowStride],
    bindings: [a.o, z.tensor, a.weight, a.y, ...(folded ? [folded.weight] : [])],
    workgroups: ctx.grid2d(a.T * a.H),
  });
}
