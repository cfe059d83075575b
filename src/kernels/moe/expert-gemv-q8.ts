// Wrapper for expert-gemv-q8.wgsl: the decode MoE projections (and the fused gate|up|SwiGLU pass) over q8
// experts [E, N, K] (linalg/q8-format.ts), reading only the chosen experts' int8 rows and scales. makeExpertGemv
// and makeExpertGemvSwiGlu hand q8 weights here.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { q8RowLayout, type Q8Weight } from '../linalg/q8-format.js';
import type { Q8Convert } from '../linalg/gemv-q8.js';
import { EXPERT_GEMV_TILES } from './expert-gemv.js';

const kernel = { name: 'moe/expert-gemv-q8', url: new URL('./expert-gemv-q8.wgsl', import.meta.url) };

export interface ExpertGemvQ8Plan {
  /** 'subgroup': lanes of a fixed-size subgroup share each row; 'thread': one thread per row (any device). */
  path: 'subgroup' | 'thread';
  rowsPerSubgroup: number;
  subgroupsPerWorkgroup: number;
  /** int8 → f32 in the dot products (linalg/gemv-q8.ts); 'unpack' by default. */
  convert: Q8Convert;
  reason?: string;
}

/** The f16 kernel's tiling (2 rows per subgroup, 4 subgroups): a q8 row is half the bytes, so twice the rows in flight would be the first thing to bench. */
export function planExpertGemvQ8(
  ctx: GpuContext, tiles: Partial<Pick<ExpertGemvQ8Plan, 'rowsPerSubgroup' | 'subgroupsPerWorkgroup' | 'convert'>> = {}, force?: ExpertGemvQ8Plan['path'],
): ExpertGemvQ8Plan {
  const { convert = 'unpack', ...rest } = tiles;
  const t = { ...EXPERT_GEMV_TILES, ...rest };
  if (!Number.isInteger(t.rowsPerSubgroup) || t.rowsPerSubgroup < 1 || !Number.isInteger(t.subgroupsPerWorkgroup) || t.subgroupsPerWorkgroup < 1) {
    throw new Error(`expert gemv q8: rows per subgroup and subgroups per workgroup must be positive integers (got ${t.rowsPerSubgroup}, ${t.subgroupsPerWorkgroup})`);
  }
  const thread = (reason: string): ExpertGemvQ8Plan => ({ path: 'thread', rowsPerSubgroup: t.rowsPerSubgroup, subgroupsPerWorkgroup: 64, convert, reason });
  if (force === 'thread') return thread('forced');
  if (!ctx.caps.hasSubgroups) return thread('no subgroups feature');
  if (ctx.caps.subgroupMinSize !== ctx.caps.subgroupSize) return thread(`subgroup size varies (${ctx.caps.subgroupMinSize}–${ctx.caps.subgroupSize})`);
  if (t.subgroupsPerWorkgroup * ctx.caps.subgroupSize > ctx.caps.maxInvocationsPerWorkgroup) {
    return thread(`${t.subgroupsPerWorkgroup} subgroups exceed the workgroup size limit`);
  }
  return { path: 'subgroup', ...t, convert };
}

/**
 * out[s, N] = x[src(s), K] · W[ids[s]][N, K]ᵀ (one weight), or silu(x·Wg) · (x·Wu) (gate and up, SwiGLU), for
 * s < slots; src(s) = s / topK with `gather`, else s. Operands are checked by the expert-gemv.ts callers.
 */
export function expertGemvQ8Dispatches(
  ctx: GpuContext, x: GpuTensor, weights: Q8Weight[], ids: GpuTensor, out: GpuTensor,
  slots: number, topK: number, gather: boolean, plan = planExpertGemvQ8(ctx),
): DispatchSpec[] {
  const [, N, K] = weights[0].shape;
  if (weights.some((w) => w.dtype !== 'q8' || w.shape.length !== 3 || w.shape.join() !== weights[0].shape.join())) {
    throw new Error(`expert gemv q8: weights ${weights.map((w) => `${w.label} [${w.shape.join(', ')}] ${w.dtype}`).join(' and ')} must be q8 stacks of one shape`);
  }
  const blocks = weights.map((w) => w.blocks);
  if (blocks.some((bs) => bs.length !== blocks[0].length || bs.some((b, i) => b.start !== blocks[0][i].start || b.count !== blocks[0][i].count))) {
    throw new Error(`expert gemv q8: ${weights.map((w) => w.label).join(' and ')} are split over bindings differently`);
  }
  const { paddedK, scaleStride } = q8RowLayout(K);
  const SG = plan.path === 'subgroup' ? ctx.caps.subgroupSize : 1;
  const CHUNKS = paddedK / 16;
  const rowsPerWorkgroup = plan.rowsPerSubgroup * plan.subgroupsPerWorkgroup;
  return blocks[0].map((b, i) => ctx.dispatch({
    kernel,
    defines: {
      SG, SUBGROUPS: plan.path === 'subgroup', SUBGROUPS_PER_WG: plan.subgroupsPerWorkgroup, ROWS: plan.rowsPerSubgroup,
      CHUNKS, LOADS: Math.ceil(CHUNKS / SG), X_VEC4: K % 4 === 0, GATHER: gather, SWIGLU: weights.length === 2,
      Q8_MAGIC: plan.convert === 'magic',
    },
    params: [N, K, topK, b.start, b.start + b.count, b.entryOffset, scaleStride, 0],
    bindings: [x, ...blocks.flatMap((bs) => [bs[i].values, bs[i].scales]), ids, out],
    workgroups: [Math.ceil(N / rowsPerWorkgroup), slots],
  }));
}
