// Wrapper for mla-flash-prefill.wgsl: expanded NoPE MLA attention for prefill (causal, online softmax).
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { f32 } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { requireF32Elements, requirePositiveInts } from '../kda/row-view.js';
import { resolveHeads, type HeadView } from './head-view.js';

const kernel = { name: 'mla/mla-flash-prefill', url: new URL('./mla-flash-prefill.wgsl', import.meta.url) };

export interface MlaFlashPlan {
  queryRows: number;
  keyRows: number;
  /** Register tile per thread: query rows × keys; threads = (queryRows / rowsPerThread) × (keyRows / keysPerThread). */
  rowsPerThread: number;
  keysPerThread: number;
  workgroupSize: number;
}

/** f32 workgroup memory of one plan: Q and K tiles (vec4 rows plus one pad vec4), V tile, scores, row stats. */
export function mlaFlashWorkgroupBytes(Dq: number, Dv: number, queryRows: number, keyRows: number): number {
  const row = 4 * (Math.ceil(Dq / 4) + 1);
  return 4 * (queryRows * row + keyRows * row + keyRows * Dv + queryRows * keyRows + 3 * queryRows);
}

/**
 * The largest Q×K tile pair that fits the device's workgroup memory, then a register tile (2 keys per thread,
 * rows per thread doubled until the workgroup is at most 128 threads and still covers every query row).
 */
export function planMlaFlash(ctx: GpuContext, Dq: number, Dv: number): MlaFlashPlan {
  const mem = ctx.caps.maxWorkgroupStorageBytes;
  const maxThreads = Math.min(128, ctx.caps.maxInvocationsPerWorkgroup, ctx.caps.maxWorkgroupSizeX);
  const tiles: [number, number][] = [[32, 32], [32, 16], [16, 16], [16, 8], [8, 8], [8, 4], [4, 4], [2, 2], [1, 1]];
  const fit = tiles.find(([bq, bk]) => mlaFlashWorkgroupBytes(Dq, Dv, bq, bk) <= mem);
  if (!fit) throw new Error(`mlaFlashPrefill: head dims ${Dq}/${Dv} do not fit ${mem} B of workgroup memory`);
  const [queryRows, keyRows] = fit;
  const keysPerThread = keyRows >= 2 ? 2 : 1;
  let rowsPerThread = 1;
  const threads = () => (queryRows / rowsPerThread) * (keyRows / keysPerThread);
  while (threads() > maxThreads && rowsPerThread < queryRows && threads() / 2 >= queryRows) rowsPerThread *= 2;
  if (threads() > maxThreads) throw new Error(`mlaFlashPrefill: no register tiling fits ${maxThreads} threads`);
  return { queryRows, keyRows, rowsPerThread, keysPerThread, workgroupSize: threads() };
}

/** What both MLA prefill kernels (this exact one and the tensor-core mla-flash-prefill-f16) are told. */
export interface MlaPrefillShape {
  /** Output [Tq, H, Dv], dense (the o_proj input). */
  out: GpuTensor;
  Tq: number;
  /** Keys available: all earlier tokens plus these Tq (Tk = qPos0 + Tq). */
  Tk: number;
  H: number;
  Dn: number;
  Dr: number;
  Dv: number;
  /** Softmax scale; default 1/sqrt(Dn + Dr) as the model uses. */
  scale?: number;
}

export interface MlaFlashPrefillArgs extends MlaPrefillShape {
  /** Queries [Tq, H, Dn+Dr] (q_proj output: per head [nope | rope-slot]). */
  q: GpuTensor | HeadView;
  /** Per-head keys' nope part [Tk, H, Dn], e.g. a view into kv_b_proj's output. */
  kNope: GpuTensor | HeadView;
  /** Shared rope-slot key [Tk, Dr] (headStride ignored), e.g. a view into the latent cache; absent when Dr = 0. */
  kRope?: GpuTensor | HeadView;
  /** Values [Tk, H, Dv]. */
  v: GpuTensor | HeadView;
  /**
   * Only keys [start, start + length) this call (the k/v views then hold just those keys, starting at
   * `start`): run blocks in ascending order with `first` on the first and `last` on the last; between them
   * `carry` [Tq, H, Dv + 2] f32 holds each row's unnormalised output, running max and sum.
   */
  keyBlock?: MlaKeyBlock;
}

export interface MlaKeyBlock {
  start: number;
  length: number;
  carry: GpuTensor;
  first: boolean;
  last: boolean;
}

export function mlaFlashPrefill(ctx: GpuContext, a: MlaFlashPrefillArgs, plan = planMlaFlash(ctx, a.Dn + a.Dr, a.Dv)): DispatchSpec {
  const name = 'mlaFlashPrefill';
  requirePositiveInts(name, { Tq: a.Tq, Tk: a.Tk, H: a.H, Dn: a.Dn, Dv: a.Dv });
  if (!Number.isInteger(a.Dr) || a.Dr < 0) throw new Error(`${name}: Dr must be a whole number ≥ 0 (got ${a.Dr})`);
  if (a.Tk < a.Tq) throw new Error(`${name}: ${a.Tk} keys cannot serve ${a.Tq} causal queries`);
  const { block, carrying } = checkedKeyBlock(name, a);
  const Dq = a.Dn + a.Dr;
  const q = resolveHeads(name, 'q', a.q, a.Tq, a.H, Dq);
  const kn = resolveHeads(name, 'kNope', a.kNope, block.length, a.H, a.Dn);
  const v = resolveHeads(name, 'v', a.v, block.length, a.H, a.Dv);
  if (a.Dr > 0 && !a.kRope) throw new Error(`${name}: Dr = ${a.Dr} needs kRope`);
  const kr = a.Dr > 0 && a.kRope ? resolveHeads(name, 'kRope', a.kRope, block.length, 1, a.Dr) : undefined;
  if (block.last) requireF32Elements(name, 'out', a.out, a.Tq * a.H * a.Dv);
  const qTiles = Math.ceil(a.Tq / plan.queryRows);
  if (qTiles > ctx.caps.maxWorkgroupsPerDimension) throw new Error(`${name}: ${a.Tq} queries exceed one dispatch; split the prefill`);
  const scale = a.scale ?? 1 / Math.sqrt(Dq);
  // Storage bindings are numbered in order: q, kNope, [kRope], v, [out unless storing a carry], [carry].
  const bindings = [q.tensor, kn.tensor, ...(kr ? [kr.tensor] : []), v.tensor];
  const vBinding = bindings.length;
  const outBinding = bindings.length + 1;
  if (block.last) bindings.push(a.out);
  const carryBinding = bindings.length + 1;
  if (carrying) bindings.push(block.carry!);
  return ctx.dispatch({
    kernel,
    defines: {
      DN: a.Dn, DR: a.Dr, DV: a.Dv, BQ: plan.queryRows, BK: plan.keyRows, RQ: plan.rowsPerThread, RK: plan.keysPerThread,
      CARRY: carrying, CARRY_IN: !block.first, CARRY_OUT: !block.last,
      V_BINDING: vBinding, OUT_BINDING: outBinding, CARRY_BINDING: carryBinding,
    },
    params: [a.Tq, a.Tk, a.H, a.Tk - a.Tq, f32(scale), block.start, block.start + block.length,
      q.offset, q.tokenStride, q.headStride, kn.offset, kn.tokenStride, kn.headStride, kr?.offset ?? 0, kr?.tokenStride ?? 0,
      v.offset, v.tokenStride, v.headStride, Math.ceil(Dq / 4)],
    bindings,
    workgroups: [qTiles, a.H],
  });
}

/** The call's key block (the whole of 0..Tk when none is given), checked; `carrying` when it is a partial one. */
export function checkedKeyBlock(name: string, a: { keyBlock?: MlaKeyBlock; Tk: number; Tq: number; H: number; Dv: number }) {
  const block = a.keyBlock ?? { start: 0, length: a.Tk, first: true, last: true, carry: undefined };
  if (!Number.isInteger(block.start) || block.start < 0 || !Number.isInteger(block.length) || block.length < 1 || block.start + block.length > a.Tk) {
    throw new Error(`${name}: key block ${block.start}+${block.length} is not inside 0..${a.Tk}`);
  }
  const carrying = !block.first || !block.last;
  if (carrying) {
    if (!block.carry) throw new Error(`${name}: a partial key block needs a carry tensor`);
    requireF32Elements(name, 'carry', block.carry, a.Tq * a.H * (a.Dv + 2));
  }
  return { block, carrying };
}
