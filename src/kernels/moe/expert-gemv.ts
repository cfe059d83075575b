// Wrapper for expert-gemv.wgsl: the decode-time MoE projections, one slot (token × chosen expert) per grid row,
// reading only the chosen experts' weights. Prefill keeps the grouped GEMM (makeGroupedLinear).
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { weightParts, type GpuWeight } from '../linalg/matmul.js';
import { requireDtype } from '../elementwise/shapes.js';
import { reductionWorkgroup } from '../norm/rmsnorm.js';

const kernel = { name: 'moe/expert-gemv', url: new URL('./expert-gemv.wgsl', import.meta.url) };

/** Token counts up to this use the per-slot path; above it the grouped GEMM reads each expert once for all. */
export const EXPERT_GEMV_MAX_TOKENS = 4;

const ROWS = 4;

/**
 * out[s, N] = x[src(s), K] · W[ids[s]][N, K]ᵀ for s < slots, where src(s) = s / topK with `gather` (x holds
 * tokens) and s otherwise (x holds one row per slot).
 */
export function makeExpertGemv(
  ctx: GpuContext, x: GpuTensor, weight: GpuWeight, ids: GpuTensor, out: GpuTensor,
  slots: number, topK: number, gather: boolean,
): DispatchSpec[] {
  const [, N, K] = weight.shape;
  requireDtype('expert gemv', x, 'f32');
  requireDtype('expert gemv', out, 'f32');
  requireDtype('expert gemv', ids, 'u32');
  const xRows = gather ? Math.ceil(slots / topK) : slots;
  if (x.shape[x.shape.length - 1] !== K) throw new Error(`expert gemv: ${x.label} has ${x.shape.at(-1)} columns, ${weight.label} expects ${K}`);
  if ((x.shape.length === 1 ? 1 : x.shape[0]) < xRows) throw new Error(`expert gemv: ${x.label} has fewer than ${xRows} rows`);
  if (out.shape[0] < slots || out.shape[out.shape.length - 1] !== N) {
    throw new Error(`expert gemv: ${out.label} is [${out.shape.join(', ')}], expected at least [${slots}, ${N}]`);
  }
  if (ids.shape[0] < slots) throw new Error(`expert gemv: ${ids.label} holds fewer than ${slots} expert ids`);
  const f16 = weight.dtype === 'f16';
  if (!f16 && weight.dtype !== 'f32') throw new Error(`expert gemv: weight ${weight.label} must be f32 or f16`);
  // 16-byte chunks when rows divide evenly (the common case); single elements otherwise (odd test shapes).
  const f16Vec = f16 && K % 8 === 0;
  const f32Vec = !f16 && K % 4 === 0;
  const CH = f16Vec ? 8 : f32Vec ? 4 : 1;
  const subgroups = ctx.caps.hasSubgroups;
  // A power of two (the tree fallback halves it), a few subgroups wide.
  const WG = reductionWorkgroup(ctx, Math.max(64, 4 * ctx.caps.subgroupSize));
  return weightParts(weight).map(({ part, rowStart }) => ctx.dispatch({
    kernel,
    defines: {
      WG, ROWS, CH, F16_VEC: f16Vec, F32_VEC: f32Vec, W_F16: f16, GATHER: gather,
      SUBGROUPS: subgroups, MIN_SG: Math.max(1, ctx.caps.subgroupMinSize),
    },
    params: [N, K, topK, rowStart, rowStart + part.shape[0], 0, 0, 0],
    bindings: [x, part, ids, out],
    workgroups: [Math.ceil(N / ROWS), slots],
  }));
}
