// Wrapper for kda-recurrent.wgsl: the decode step (T = 1) of the KDA delta rule, sharing kdaChunkPrefill's
// state layout [H, dk, dv] f32 (dv contiguous), so prefill and decode hand the same buffer to each other.
import { f32, type DispatchSpec, type GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { requireF32Elements, requirePositiveInts, resolveRows, type RowView } from './row-view.js';
import { isLowRankProjection, NO_LOW_RANK, resolveLowRank } from './kda-low-rank-fold.js';
import type { KdaPrepareArgs } from './kda-prepare.js';

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
  const { P, CB } = recurrentTiles(ctx, 'kdaRecurrentStep', a.dk, 1);
  return ctx.dispatch({
    kernel,
    defines: { DK: a.dk, P, CB, ...NO_LOW_RANK },
    params: [a.T, a.H, a.dv, v.offset, v.rowStride],
    bindings: [a.q, a.k, a.g, a.beta, v.tensor, a.state, a.out],
    workgroups: [Math.ceil(a.dv / CB), a.H],
  });
}

/** Threads per column (P, dividing dk) and columns per workgroup (CB) that fit the device; `partials` arrays of WG. */
function recurrentTiles(ctx: GpuContext, name: string, dk: number, partials: number, extraFloats = 0): { P: number; CB: number } {
  let P = 8;
  while (dk % P !== 0) P /= 2;
  let CB = 32;
  while (CB * P > ctx.caps.maxInvocationsPerWorkgroup && CB > 1) CB /= 2;
  if ((3 * dk + partials * CB * P + extraFloats) * 4 > ctx.caps.maxWorkgroupStorageBytes) throw new Error(`${name}: dk ${dk} too large for workgroup memory`);
  return { P, CB };
}

/** One decode token's kdaPrepare inputs (T = 1), then the delta rule: what kdaPreparedRecurrentStep reads. */
export type KdaPreparedDeltaArgs = Omit<KdaPrepareArgs, 'qOut' | 'kOut' | 'gOut' | 'betaOut' | 'T'> & {
  v: GpuTensor | RowView;
  state: GpuTensor;
  out: GpuTensor;
  dv: number;
};

/**
 * kdaPrepare and kdaRecurrentStep for one decode token in one dispatch (kda-recurrent.wgsl PREPARE): each
 * workgroup prepares its head by kdaPrepare's formulas, so the numbers match the two to f32 rounding.
 */
export function kdaPreparedRecurrentStep(ctx: GpuContext, a: KdaPreparedDeltaArgs): DispatchSpec {
  const name = 'kdaPreparedRecurrentStep';
  requirePositiveInts(name, { H: a.H, dk: a.dk, dv: a.dv });
  const P = a.H * a.dk;
  const q = resolveRows(name, 'q', a.q, 1, P);
  const k = resolveRows(name, 'k', a.k, 1, P);
  const b = resolveRows(name, 'b', a.b, 1, a.H);
  const v = resolveRows(name, 'v', a.v, 1, a.H * a.dv);
  requireF32Elements(name, 'aLog', a.aLog, a.H);
  requireF32Elements(name, 'dtBias', a.dtBias, P);
  requireF32Elements(name, 'state', a.state, a.H * a.dk * a.dv);
  requireF32Elements(name, 'out', a.out, a.H * a.dv);
  if (a.state.buffer === a.out.buffer) throw new Error(`${name}: state and out must be different buffers`);
  const lowRankK = isLowRankProjection(a.f) ? a.f.weight.shape[1] : 0;
  const tiles = recurrentTiles(ctx, name, a.dk, 3, lowRankK); // partial + the head-math part's sumA, sumB
  const WG = tiles.CB * tiles.P;
  const folded = isLowRankProjection(a.f) ? resolveLowRank(name, 'f', a.f, 1, P, 10, WG) : undefined;
  const f = folded ? folded.input : resolveRows(name, 'f', a.f as GpuTensor | RowView, 1, P);
  return ctx.dispatch({
    kernel,
    defines: { DK: a.dk, P: tiles.P, CB: tiles.CB, PREPARE: true, ...(folded?.defines ?? { ...NO_LOW_RANK, WG }) },
    params: [1, a.H, a.dv, v.offset, v.rowStride, q.offset, k.offset, f.offset, b.offset, f32(1 / Math.sqrt(a.dk))],
    bindings: [q.tensor, k.tensor, f.tensor, b.tensor, a.aLog, a.dtBias, v.tensor, a.state, a.out, ...(folded ? [folded.weight] : [])],
    workgroups: [Math.ceil(a.dv / tiles.CB), a.H],
  });
}
