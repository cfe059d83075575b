// Wrapper for gemv-q8.wgsl: decode GEMV over q8 weights (linalg/q8-format.ts) at memory bandwidth. makeLinear
// picks it for one activation row and a q8 weight; devices without subgroups get the workgroup-tree variant.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { requireDtype } from '../elementwise/shapes.js';
import { q8RowLayout, type Q8Weight } from './q8-format.js';

const kernel = { name: 'linalg/gemv-q8', url: new URL('./gemv-q8.wgsl', import.meta.url) };

export interface GemvQ8Plan {
  /** Threads per workgroup (a power of two, a multiple of the largest subgroup size). */
  workgroupSize: number;
  rowsPerWorkgroup: number;
  subgroups: boolean;
  /** int8 → f32: 'unpack' (unpack4xI8 and conversions; the default) or 'magic' (bits into 2^23's mantissa, q8.part.wgsl). */
  convert: Q8Convert;
}

export type Q8Convert = 'unpack' | 'magic';

/** Same shape as the f16 GEMV (4 rows sharing each x chunk); `subgroups: false` pins the tree reduction. */
export function planGemvQ8(ctx: GpuContext, opts: { rowsPerWorkgroup?: number; subgroups?: boolean; convert?: Q8Convert } = {}): GemvQ8Plan {
  let workgroupSize = 1;
  const cap = Math.min(256, ctx.caps.maxInvocationsPerWorkgroup, Math.max(ctx.caps.subgroupSize * 4, 64));
  while (workgroupSize * 2 <= cap) workgroupSize *= 2;
  // 2 rows per workgroup: 2411 GB/s on the H100 against 2137 for 8 and 721 for 4 (2026-11-24).
  const rowsPerWorkgroup = opts.rowsPerWorkgroup ?? 2;
  if (!Number.isInteger(rowsPerWorkgroup) || rowsPerWorkgroup < 1 || rowsPerWorkgroup > 16) {
    throw new Error(`gemv q8: rows per workgroup must be an integer in 1..16 (got ${rowsPerWorkgroup})`);
  }
  return { workgroupSize, rowsPerWorkgroup, subgroups: (opts.subgroups ?? true) && ctx.caps.hasSubgroups, convert: opts.convert ?? 'unpack' };
}

/** out[colOffset + n] = (q · s)[n, :] · x for every row of a q8 matrix [N, K]; x, out f32. */
export function makeGemvQ8(ctx: GpuContext, x: GpuTensor, w: Q8Weight, out: GpuTensor, plan = planGemvQ8(ctx), colOffset = 0): DispatchSpec[] {
  if (w.shape.length !== 2) throw new Error(`gemv q8: ${w.label} must be a matrix [N, K] (got [${w.shape.join(', ')}])`);
  const [N, K] = w.shape;
  requireDtype('gemv q8', x, 'f32');
  requireDtype('gemv q8', out, 'f32');
  const xLen = x.shape.reduce((a, b) => a * b, 1);
  const outLen = out.shape.reduce((a, b) => a * b, 1);
  if (xLen !== K) throw new Error(`gemv q8: ${x.label} has ${xLen} values, ${w.label} expects ${K}`);
  if (outLen < colOffset + N) throw new Error(`gemv q8: ${out.label} has ${outLen} values, expected at least ${colOffset + N}`);
  const { paddedK, scaleStride } = q8RowLayout(K);
  return w.blocks.map((b) => ctx.dispatch({
    kernel,
    defines: {
      WG: plan.workgroupSize, ROWS: plan.rowsPerWorkgroup, SUBGROUPS: plan.subgroups, X_VEC4: K % 4 === 0,
      MIN_SG: Math.max(1, ctx.caps.subgroupMinSize), Q8_MAGIC: plan.convert === 'magic',
    },
    params: [b.count, K, colOffset + b.start, b.entryOffset, paddedK / 16, scaleStride, 0, 0],
    bindings: [x, b.values, b.scales, out],
    workgroups: ctx.grid2d(Math.ceil(b.count / plan.rowsPerWorkgroup)),
  }));
}
