// Wrapper for kda-recurrent.wgsl: the decode step (T = 1) of the KDA delta rule, sharing kdaChunkPrefill's
// state layout [H, dk, dv] f32 (dv contiguous), so prefill and decode hand the same buffer to each other.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { requireF32Elements, requirePositiveInts, resolveRows, type RowView } from './row-view.js';

const kernel = { name: 'kda/kda-recurrent', url: new URL('./kda-recurrent.wgsl', import.meta.url) };

/** Inputs of the delta rule as kdaPrepare writes them, plus v and the state. */
export interface KdaDeltaArgs {
  /** q̃ (normalised, scaled), k̂ (normalised), g (log-decay) [T, H, dk]; β [T, H]. Dense. */
  q: GpuTensor;
  k: GpuTensor;
  g: GpuTensor;
  beta: GpuTensor;
  /** Post-conv v [T, H·dv]. */
  v: GpuTensor | RowView;
  /** Recurrent state [H, dk, dv] f32, read and updated in place (zeros for a fresh sequence). */
  state: GpuTensor;
  /** Attention output o [T, H, dv], dense. */
  out: GpuTensor;
  T: number;
  H: number;
  dk: number;
  dv: number;
}

export function checkDeltaArgs(name: string, a: KdaDeltaArgs): ReturnType<typeof resolveRows> {
  requirePositiveInts(name, { T: a.T, H: a.H, dk: a.dk, dv: a.dv });
  for (const [n, t] of [['q', a.q], ['k', a.k], ['g', a.g]] as const) requireF32Elements(name, n, t, a.T * a.H * a.dk);
  requireF32Elements(name, 'beta', a.beta, a.T * a.H);
  requireF32Elements(name, 'state', a.state, a.H * a.dk * a.dv);
  requireF32Elements(name, 'out', a.out, a.T * a.H * a.dv);
  const v = resolveRows(name, 'v', a.v, a.T, a.H * a.dv);
  if (a.state.buffer === a.out.buffer) throw new Error(`${name}: state and out must be different buffers`);
  return v;
}

/**
 * Runs T tokens through the recurrence (T = 1 for decode; any T works and is the reference path the chunked
 * prefill is tested against). Grid: value-column blocks × heads; each column's dk rows are split over P
 * threads (P the largest power of two ≤ 8 dividing dk).
 */
export function kdaRecurrentStep(ctx: GpuContext, a: KdaDeltaArgs): DispatchSpec {
  const v = checkDeltaArgs('kdaRecurrentStep', a);
  let P = 8;
  while (a.dk % P !== 0) P /= 2;
  let CB = 32;
  while (CB * P > ctx.caps.maxInvocationsPerWorkgroup && CB > 1) CB /= 2;
  if ((3 * a.dk + CB * P) * 4 > ctx.caps.maxWorkgroupStorageBytes) throw new Error(`kdaRecurrentStep: dk ${a.dk} too large for workgroup memory`);
  return ctx.dispatch({
    kernel,
    defines: { DK: a.dk, P, CB },
    params: [a.T, a.H, a.dv, v.offset, v.rowStride],
    bindings: [a.q, a.k, a.g, a.beta, v.tensor, a.state, a.out],
    workgroups: [Math.ceil(a.dv / CB), a.H],
  });
}
