// Wrapper for the decode-time MoE projections, one slot (token × chosen expert) per grid row, reading only the
// chosen experts' weights. Two kernels: expert-gemv-subgroup.wgsl (one subgroup per few rows, no barrier: the
// bandwidth path) and expert-gemv.wgsl (a workgroup per rows with a reduction through workgroup memory: the
// fallback for devices without a fixed subgroup size and for rows that do not split into 16-byte chunks, and
// the 'workgroup' path benches keep for before/after ratios). Prefill keeps the grouped GEMM (makeGroupedLinear).
import { f32, type DispatchSpec, type GpuContext } from '../../engine/gpu/context.js';
import { numel, type GpuTensor } from '../../engine/gpu/arena.js';
import { f16BitsToF32, f32ToF16Bits } from '../../engine/gpu/half.js';
import { singleBinding, weightParts, type GpuWeight, type LinearWeight } from '../linalg/matmul.js';
import { isQ8 } from '../linalg/q8-format.js';
import { foldedNormOperands, type FoldedNorm } from '../linalg/gemv-f16.js';
import { expertGemvQ8Dispatches } from './expert-gemv-q8.js';
import { requireDtype } from '../elementwise/shapes.js';
import { reductionWorkgroup } from '../norm/rmsnorm.js';

const workgroupKernel = { name: 'moe/expert-gemv', url: new URL('./expert-gemv.wgsl', import.meta.url) };
const subgroupKernel = { name: 'moe/expert-gemv-subgroup', url: new URL('./expert-gemv-subgroup.wgsl', import.meta.url) };

/** Token counts up to this use the per-slot path; above it the grouped GEMM reads each expert once for all. */
export const EXPERT_GEMV_MAX_TOKENS = 4;

/** Rows per workgroup of the workgroup-reduce kernel. */
const WORKGROUP_ROWS = 4;

export interface ExpertGemvPlan {
  path: 'subgroup' | 'workgroup';
  /** Subgroup path: rows one subgroup owns, and subgroups per workgroup. */
  rowsPerSubgroup: number;
  subgroupsPerWorkgroup: number;
  reason?: string;
}

/**
 * 2 rows per subgroup, 4 subgroups per workgroup: at the 48B shapes (K 2304 → 9 chunks per lane, K 1024 → 4) a
 * lane keeps 8–18 weight chunks in flight and the grid of 1024–2304 subgroups per slot set asks for every byte
 * of the ~38 MB at once, far past the ~3–6 MB Little's law needs at 3 TB/s (see docs/perf-history-5-8.md, session 5).
 */
export const EXPERT_GEMV_TILES = { rowsPerSubgroup: 2, subgroupsPerWorkgroup: 4 };

export function planExpertGemv(
  ctx: GpuContext, K: number, weightDtype: string, tiles: Partial<Pick<ExpertGemvPlan, 'rowsPerSubgroup' | 'subgroupsPerWorkgroup'>> = {},
  force?: ExpertGemvPlan['path'],
): ExpertGemvPlan {
  const t = { ...EXPERT_GEMV_TILES, ...tiles };
  if (!Number.isInteger(t.rowsPerSubgroup) || t.rowsPerSubgroup < 1 || !Number.isInteger(t.subgroupsPerWorkgroup) || t.subgroupsPerWorkgroup < 1) {
    throw new Error(`expert gemv: rows per subgroup and subgroups per workgroup must be positive integers (got ${t.rowsPerSubgroup}, ${t.subgroupsPerWorkgroup})`);
  }
  const fallback = (reason: string): ExpertGemvPlan => ({ path: 'workgroup', ...t, reason });
  // CTXBENCH_EXPERT_GEMV=workgroup runs the engine on the old kernel (unfused) for before/after TPOT runs.
  if (force === 'workgroup' || (force === undefined && process.env.CTXBENCH_EXPERT_GEMV === 'workgroup')) return fallback('forced');
  const chunk = weightDtype === 'f16' ? 8 : 4;
  if (!ctx.caps.hasSubgroups) return fallback('no subgroups feature');
  if (ctx.caps.subgroupMinSize !== ctx.caps.subgroupSize) {
    return fallback(`subgroup size varies (${ctx.caps.subgroupMinSize}–${ctx.caps.subgroupSize})`);
  }
  if (K % chunk !== 0) return fallback(`K=${K} is not a multiple of ${chunk}`);
  if (t.subgroupsPerWorkgroup * ctx.caps.subgroupSize > ctx.caps.maxInvocationsPerWorkgroup) {
    return fallback(`${t.subgroupsPerWorkgroup} subgroups exceed the workgroup size limit`);
  }
  return { path: 'subgroup', ...t };
}

function checkOperands(
  x: GpuTensor, weight: LinearWeight, ids: GpuTensor, out: GpuTensor, slots: number, topK: number, gather: boolean, withShared = false,
): void {
  const [, N, K] = weight.shape;
  requireDtype('expert gemv', x, 'f32');
  requireDtype('expert gemv', out, 'f32');
  requireDtype('expert gemv', ids, 'u32');
  if (weight.dtype !== 'f16' && weight.dtype !== 'f32' && weight.dtype !== 'q8') throw new Error(`expert gemv: weight ${weight.label} must be f32, f16 or q8`);
  if (!Number.isInteger(slots) || slots < 1 || !Number.isInteger(topK) || topK < 1) {
    throw new Error(`expert gemv: slots and topK must be positive integers (got ${slots}, ${topK})`);
  }
  if (withShared && slots % topK !== 0) throw new Error(`expert gemv: with the shared expert, slots (${slots}) must be whole tokens of ${topK}`);
  const rows = withShared ? (slots / topK) * (topK + 1) : slots;
  const xRows = gather ? Math.ceil(slots / topK) : rows;
  if (x.shape[x.shape.length - 1] !== K) throw new Error(`expert gemv: ${x.label} has ${x.shape.at(-1)} columns, ${weight.label} expects ${K}`);
  if ((x.shape.length === 1 ? 1 : x.shape[0]) < xRows) throw new Error(`expert gemv: ${x.label} has fewer than ${xRows} rows`);
  if (out.shape[0] < rows || out.shape[out.shape.length - 1] !== N) {
    throw new Error(`expert gemv: ${out.label} is [${out.shape.join(', ')}], expected at least [${rows}, ${N}]`);
  }
  if (ids.shape[0] < slots) throw new Error(`expert gemv: ${ids.label} holds fewer than ${slots} expert ids`);
}

/**
 * out[s, N] = x[src(s), K] · W[ids[s]][N, K]ᵀ for s < slots, where src(s) = s / topK with `gather` (x holds
 * tokens) and s otherwise (x holds one row per slot).
 * sharedWeight ([N, K], one binding, the routed dtype; subgroup path only, see sharedExpertFoldReason): each
 * token gets topK + 1 output rows, the last from the shared expert, and x without `gather` holds rows alike.
 */
export function makeExpertGemv(
  ctx: GpuContext, x: GpuTensor, weight: LinearWeight, ids: GpuTensor, out: GpuTensor,
  slots: number, topK: number, gather: boolean, plan = planExpertGemv(ctx, weight.shape[2], weight.dtype),
  sharedWeight?: GpuTensor,
): DispatchSpec[] {
  checkOperands(x, weight, ids, out, slots, topK, gather, Boolean(sharedWeight));
  if (sharedWeight) {
    const why = isQ8(weight) ? 'q8 experts' : plan.path !== 'subgroup' ? `the ${plan.path} path` : sharedShapeMismatch(weight, sharedWeight);
    if (why) throw new Error(`expert gemv: the shared expert slot cannot run with ${why}`);
  }
  // q8 experts have their own kernel and plan (expert-gemv-q8.ts).
  if (isQ8(weight)) return expertGemvQ8Dispatches(ctx, x, [weight], ids, out, slots, topK, gather);
  if (plan.path === 'subgroup') return subgroupDispatches(ctx, x, [weight], ids, out, slots, topK, gather, plan, sharedWeight && [sharedWeight]);
  const [, N, K] = weight.shape;
  const f16 = weight.dtype === 'f16';
  // 16-byte chunks when rows divide evenly (the common case); single elements otherwise (odd test shapes).
  const f16Vec = f16 && K % 8 === 0;
  const f32Vec = !f16 && K % 4 === 0;
  const CH = f16Vec ? 8 : f32Vec ? 4 : 1;
  // A power of two (the tree fallback halves it), a few subgroups wide.
  const WG = reductionWorkgroup(ctx, Math.max(64, 4 * ctx.caps.subgroupSize));
  return weightParts(weight).map(({ part, rowStart }) => ctx.dispatch({
    kernel: workgroupKernel,
    defines: {
      WG, ROWS: WORKGROUP_ROWS, CH, F16_VEC: f16Vec, F32_VEC: f32Vec, W_F16: f16, GATHER: gather,
      SUBGROUPS: ctx.caps.hasSubgroups, MIN_SG: Math.max(1, ctx.caps.subgroupMinSize),
    },
    params: [N, K, topK, rowStart, rowStart + part.shape[0], 0, 0, 0],
    bindings: [x, part, ids, out],
    workgroups: [Math.ceil(N / WORKGROUP_ROWS), slots],
  }));
}

/**
 * The expert FFN's first half in one pass: out[s, n] = silu(x·Wg[ids[s]][n]) · (x·Wu[ids[s]][n]), x gathered
 * per token. Needs the subgroup path and gate/up split over bindings alike (they are, having one shape); the
 * caller keeps two makeExpertGemv + makeSwiGlu otherwise (expertSwiGluFusable says which).
 */
export function makeExpertGemvSwiGlu(
  ctx: GpuContext, x: GpuTensor, gate: LinearWeight, up: LinearWeight, ids: GpuTensor, out: GpuTensor,
  slots: number, topK: number, plan = planExpertGemv(ctx, gate.shape[2], gate.dtype),
  shared?: { gate: GpuTensor; up: GpuTensor }, norm?: FoldedNorm,
): DispatchSpec[] {
  checkOperands(x, gate, ids, out, slots, topK, true, Boolean(shared));
  if (norm && (isQ8(gate) || isQ8(up) || plan.path !== 'subgroup')) throw new Error('expert gemv swiglu: a folded RMSNorm needs the f16/f32 subgroup path');
  if (isQ8(gate) || isQ8(up)) {
    if (!isQ8(gate) || !isQ8(up)) throw new Error(`expert gemv swiglu: ${gate.label} is ${gate.dtype}, ${up.label} is ${up.dtype}`);
    if (shared) throw new Error('expert gemv swiglu: the shared expert slot cannot run with q8 experts');
    return expertGemvQ8Dispatches(ctx, x, [gate, up], ids, out, slots, topK, true);
  }
  const why = swiGluUnfusableReason(gate, up, plan) ?? (shared && (sharedShapeMismatch(gate, shared.gate) ?? sharedShapeMismatch(up, shared.up)));
  if (why) throw new Error(`expert gemv swiglu: ${why}`);
  return subgroupDispatches(ctx, x, [gate, up], ids, out, slots, topK, true, plan, shared && [shared.gate, shared.up], norm);
}

export function expertSwiGluFusable(ctx: GpuContext, gate: LinearWeight, up: LinearWeight): boolean {
  // The q8 kernel fuses on every device (its one-thread path included) when both stacks share one block split.
  if (isQ8(gate) || isQ8(up)) {
    return isQ8(gate) && isQ8(up) && gate.shape.join() === up.shape.join()
      && gate.blocks.length === up.blocks.length && gate.blocks.every((b, i) => b.start === up.blocks[i].start && b.count === up.blocks[i].count);
  }
  return swiGluUnfusableReason(gate, up, planExpertGemv(ctx, gate.shape[2], gate.dtype)) === undefined;
}

function swiGluUnfusableReason(gate: GpuWeight, up: GpuWeight, plan: ExpertGemvPlan): string | undefined {
  if (plan.path !== 'subgroup') return `needs the subgroup path (${plan.reason})`;
  if (gate.dtype !== up.dtype || gate.shape.join() !== up.shape.join()) {
    return `${gate.label} [${gate.shape.join(', ')}] ${gate.dtype} and ${up.label} [${up.shape.join(', ')}] ${up.dtype} differ`;
  }
  const a = weightParts(gate), b = weightParts(up);
  if (a.length !== b.length || a.some((p, i) => p.rowStart !== b[i].rowStart || p.part.shape[0] !== b[i].part.shape[0])) {
    return `${gate.label} and ${up.label} are split over bindings differently`;
  }
  return undefined;
}

/**
 * Where the decode MoE can fold its shared expert into the routed dispatches (one more slot per token in the
 * fused gate|up|SwiGLU pass and in the down pass): undefined when it can, else why not. Needs both passes on
 * the subgroup kernel (not q8, not the workgroup fallback), the shared expert one binding per matrix and shaped
 * as one routed expert (numSharedExperts · I = I, so its middle row has the routed width). Otherwise the
 * caller keeps its separate shared GEMVs. CTXBENCH_SHARED_EXPERT=separate keeps them too (before/after runs).
 */
export function sharedExpertFoldReason(
  ctx: GpuContext, routed: { gate: LinearWeight; up: LinearWeight; down: LinearWeight },
  shared: { gate: LinearWeight; up: LinearWeight; down: LinearWeight },
): string | undefined {
  if (process.env.CTXBENCH_SHARED_EXPERT === 'separate') return 'forced separate';
  if ([routed.gate, routed.up, routed.down, shared.gate, shared.up, shared.down].some(isQ8)) return 'q8 weights';
  if (!expertSwiGluFusable(ctx, routed.gate, routed.up)) return 'gate|up|SwiGLU is not fused';
  const down = planExpertGemv(ctx, routed.down.shape[2], routed.down.dtype);
  if (down.path !== 'subgroup') return `down needs the subgroup path (${down.reason})`;
  for (const [r, s] of [[routed.gate, shared.gate], [routed.up, shared.up], [routed.down, shared.down]] as const) {
    const why = singleBinding(s as GpuWeight) ? sharedShapeMismatch(r as GpuWeight, singleBinding(s as GpuWeight)!) : `${s.label} spans several bindings`;
    if (why) return why;
  }
  return undefined;
}

function sharedShapeMismatch(routed: GpuWeight, shared: GpuTensor): string | undefined {
  if (shared.dtype !== routed.dtype || shared.shape.join() !== routed.shape.slice(1).join()) {
    return `shared ${shared.label} [${shared.shape.join(', ')}] ${shared.dtype} is not one expert of ${routed.label} [${routed.shape.join(', ')}] ${routed.dtype}`;
  }
  return undefined;
}

function subgroupDispatches(
  ctx: GpuContext, x: GpuTensor, weights: GpuWeight[], ids: GpuTensor, out: GpuTensor,
  slots: number, topK: number, gather: boolean, plan: ExpertGemvPlan, shared?: GpuTensor[], norm?: FoldedNorm,
): DispatchSpec[] {
  const [, N, K] = weights[0].shape;
  const folded = foldedNormOperands('expert gemv', norm, K, numel(x.shape));
  const f16 = weights[0].dtype === 'f16';
  if (K % (f16 ? 8 : 4) !== 0) throw new Error(`expert gemv: the subgroup path needs K a multiple of ${f16 ? 8 : 4} (${weights[0].label} has ${K}); plan for this K`);
  const SG = ctx.caps.subgroupSize;
  const CHUNKS = K / (f16 ? 8 : 4);
  const rowsPerWorkgroup = plan.rowsPerSubgroup * plan.subgroupsPerWorkgroup;
  const parts = weights.map(weightParts);
  // Binding numbers: x 1, then routed (gate, up), shared (gate, up) where present, ids, out.
  const swiGlu = weights.length === 2;
  const sources = shared ? 2 : 1;
  const perSource = swiGlu ? 2 : 1;
  const bindingOf = (source: number, member: number) => 2 + source * perSource + member;
  const numbers = {
    B_W0: bindingOf(0, 0), B_W0_UP: bindingOf(0, 1), B_W1: bindingOf(1, 0), B_W1_UP: bindingOf(1, 1), B_IDS: 2 + sources * perSource, B_OUT: 3 + sources * perSource,
    B_GAMMA: 4 + sources * perSource, B_RESIDUAL: 5 + sources * perSource,
  };
  // The shared slot is computed once, by the first binding part's dispatch.
  const rows = shared ? (slots / topK) * (topK + 1) : slots;
  return parts[0].map(({ part, rowStart }, i) => ctx.dispatch({
    kernel: subgroupKernel,
    defines: {
      SG, SUBGROUPS: plan.subgroupsPerWorkgroup, ROWS: plan.rowsPerSubgroup, CHUNKS, LOADS: Math.ceil(CHUNKS / SG),
      W_F16: f16, GATHER: gather, SWIGLU: swiGlu, SHARED: Boolean(shared), SOURCES: sources, ...numbers, ...folded.defines,
    },
    params: [N, K, topK, rowStart, rowStart + part.shape[0], i === 0 ? 1 : 0, f32(norm?.eps ?? 0), 0],
    bindings: [x, ...parts.map((p) => p[i].part), ...(shared ?? []), ids, out, ...folded.bindings],
    workgroups: [Math.ceil(N / rowsPerWorkgroup), rows],
  }));
}

/**
 * Scalar reference: rows of W (stacked [E, N, K], rounded to f16 as stored when `f16`) times each slot's x row,
 * summed in f64; src(s) as in makeExpertGemv.
 */
export function expertGemvReference(
  x: ArrayLike<number>, w: ArrayLike<number>, ids: ArrayLike<number>, slots: number, topK: number, gather: boolean,
  N: number, K: number, f16 = false,
): Float32Array {
  const weight = (i: number) => (f16 ? f16BitsToF32(f32ToF16Bits(w[i])) : w[i]);
  const out = new Float32Array(slots * N);
  for (let s = 0; s < slots; s++) {
    const src = gather ? Math.floor(s / topK) : s;
    for (let n = 0; n < N; n++) {
      const row = (ids[s] * N + n) * K;
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[src * K + k] * weight(row + k);
      out[s * N + n] = acc;
    }
  }
  return out;
}
