// Wrapper for expert-ffn-fused.wgsl: the decode MoE expert FFN (gate|up|SwiGLU and down) in one dispatch,
// writing per-slice partial rows that makeMoeCombine(..., slices) sums. Opt-in (CTXBENCH_EXPERT_FFN=fused in
// the engine); callers keep makeExpertGemvSwiGlu + makeExpertGemv where expertFfnFusedReason says why not.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { singleBinding, type GpuWeight, type LinearWeight } from '../linalg/matmul.js';
import { isQ8 } from '../linalg/q8-format.js';
import { requireDtype } from '../elementwise/shapes.js';

const kernel = { name: 'moe/expert-ffn-fused', url: new URL('./expert-ffn-fused.wgsl', import.meta.url) };

export interface ExpertFfnFusedPlan {
  /** Intermediate rows one subgroup computes in phase 1, and subgroups per workgroup: BI = their product. */
  rowsPerSubgroup: number;
  subgroupsPerWorkgroup: number;
}

/**
 * BI = 32 intermediate rows per workgroup (2 rows × 16 subgroups, 512 lanes on the H100): at the 48B decode
 * (9 slots with the shared expert, I = 1024) that is 32 slices × 9 = 288 workgroups, ~2.2 per SM of 132, so every
 * SM has a second workgroup streaming while one sits at its barrier; a phase-1 subgroup does what the tuned
 * gate|up kernel's does (2 rows, 9 chunks per lane per matrix). Smaller BI writes more partials (slices × D
 * floats per slot: 2.6 MB at BI 32, ~2 % of the 127 MB of weights) and makes the combine sum more of them.
 */
export const EXPERT_FFN_FUSED_TILES: ExpertFfnFusedPlan = { rowsPerSubgroup: 2, subgroupsPerWorkgroup: 16 };

type Ffn = { gate: LinearWeight; up: LinearWeight; down: LinearWeight };

export function expertFfnSlices(I: number, plan: ExpertFfnFusedPlan = EXPERT_FFN_FUSED_TILES): number {
  return Math.ceil(I / (plan.rowsPerSubgroup * plan.subgroupsPerWorkgroup));
}

/** undefined where the fused FFN can run these weights on this device, else why not (callers keep the pair). */
export function expertFfnFusedReason(
  ctx: GpuContext, routed: Ffn, shared?: { gate: GpuTensor; up: GpuTensor; down: GpuTensor }, plan: ExpertFfnFusedPlan = EXPERT_FFN_FUSED_TILES,
): string | undefined {
  const all = [routed.gate, routed.up, routed.down, ...(shared ? [shared.gate, shared.up, shared.down] : [])];
  if (all.some(isQ8)) return 'q8 weights';
  const dtype = routed.gate.dtype;
  if (dtype !== 'f16' && dtype !== 'f32') return `${dtype} weights`;
  if (all.some((w) => w.dtype !== dtype)) return 'mixed weight dtypes';
  const split = all.find((w) => !singleBinding(w as GpuWeight));
  if (split) return `${split.label} spans several bindings`;
  const [E, I, D] = routed.gate.shape;
  if (routed.up.shape.join() !== routed.gate.shape.join() || routed.down.shape.join() !== [E, D, I].join()) return 'gate, up and down shapes disagree';
  if (shared && (shared.gate.shape.join() !== [I, D].join() || shared.up.shape.join() !== [I, D].join() || shared.down.shape.join() !== [D, I].join())) {
    return 'the shared expert is not shaped as one routed expert';
  }
  if (!ctx.caps.hasSubgroups) return 'no subgroups feature';
  const SG = ctx.caps.subgroupSize;
  if (ctx.caps.subgroupMinSize !== SG) return `subgroup size varies (${ctx.caps.subgroupMinSize}–${SG})`;
  const chunk = dtype === 'f16' ? 8 : 4;
  if (D % chunk !== 0 || I % chunk !== 0) return `D=${D} and I=${I} must be multiples of ${chunk}`;
  const { rowsPerSubgroup: r, subgroupsPerWorkgroup: s } = plan;
  if (!Number.isInteger(r) || r < 1 || !Number.isInteger(s) || s < 1) return `bad tiling ${r}×${s}`;
  const C = (r * s) / chunk;
  // The slice's chunks are one power-of-two lane group inside a subgroup (the xor shuffles stay within it).
  if (!Number.isInteger(C) || C > SG || (C & (C - 1)) !== 0) return `BI=${r * s} is not a power-of-two number of ${chunk}-value chunks ≤ the subgroup size ${SG}`;
  if (s * SG > ctx.caps.maxInvocationsPerWorkgroup) return `${s} subgroups exceed the workgroup size limit`;
  return undefined;
}

/**
 * partials[(row · slices + slice), n] for row < rows (slots, or tokens × (topK + 1) with the shared expert as
 * each token's last row), x gathered per token ([tokens, D]), ids [slots]. Sum with makeMoeCombine(..., slices).
 */
export function makeExpertFfnFused(
  ctx: GpuContext, x: GpuTensor, routed: Ffn, ids: GpuTensor, partials: GpuTensor, slots: number, topK: number,
  shared?: { gate: GpuTensor; up: GpuTensor; down: GpuTensor }, plan: ExpertFfnFusedPlan = EXPERT_FFN_FUSED_TILES,
): DispatchSpec {
  const why = expertFfnFusedReason(ctx, routed, shared, plan);
  if (why) throw new Error(`expert ffn fused: ${why}`);
  const [E, I, D] = routed.gate.shape;
  requireDtype('expert ffn fused', x, 'f32');
  requireDtype('expert ffn fused', partials, 'f32');
  requireDtype('expert ffn fused', ids, 'u32');
  if (!Number.isInteger(slots) || slots < 1 || !Number.isInteger(topK) || topK < 1 || slots % topK !== 0) {
    throw new Error(`expert ffn fused: slots (${slots}) must be whole tokens of topK (${topK})`);
  }
  const tokens = slots / topK;
  const rows = shared ? tokens * (topK + 1) : slots;
  const slices = expertFfnSlices(I, plan);
  if (x.shape.at(-1) !== D || (x.shape.length === 1 ? 1 : x.shape[0]) < tokens) throw new Error(`expert ffn fused: ${x.label} must be at least [${tokens}, ${D}]`);
  if (partials.shape.at(-1) !== D || partials.shape[0] < rows * slices) {
    throw new Error(`expert ffn fused: ${partials.label} is [${partials.shape.join(', ')}], expected at least [${rows * slices}, ${D}]`);
  }
  if (ids.shape[0] < slots) throw new Error(`expert ffn fused: ${ids.label} holds fewer than ${slots} expert ids`);
  const f16 = routed.gate.dtype === 'f16';
  const chunk = f16 ? 8 : 4;
  const SG = ctx.caps.subgroupSize;
  const CHUNKS = D / chunk;
  const C = (plan.rowsPerSubgroup * plan.subgroupsPerWorkgroup) / chunk;
  const passes = Math.ceil(D / ((SG * plan.subgroupsPerWorkgroup) / C));
  // Up to 8 down rows in flight per lane, the passes split into equal groups (few re-read rows).
  const GROUP = Math.ceil(passes / Math.ceil(passes / 8));
  const sources = shared ? 2 : 1;
  const b = (source: number, member: number) => 2 + 3 * source + member;
  const one = (w: LinearWeight) => singleBinding(w as GpuWeight)!;
  return ctx.dispatch({
    kernel,
    defines: {
      SG, SUBGROUPS: plan.subgroupsPerWorkgroup, ROWS: plan.rowsPerSubgroup, CHUNKS, LOADS: Math.ceil(CHUNKS / SG),
      D, I_CHUNKS: I / chunk, C, PASSES: Math.ceil(passes / GROUP) * GROUP, GROUP,
      W_F16: f16, GATHER: true, SHARED: Boolean(shared), SOURCES: sources,
      B_W0: b(0, 0), B_W0_UP: b(0, 1), B_W0_DOWN: b(0, 2), B_W1: b(1, 0), B_W1_UP: b(1, 1), B_W1_DOWN: b(1, 2),
      B_IDS: 2 + 3 * sources, B_OUT: 3 + 3 * sources,
    },
    params: [I, D, topK, 0, E, 1, 0, 0],
    bindings: [x, one(routed.gate), one(routed.up), one(routed.down), ...(shared ? [shared.gate, shared.up, shared.down] : []), ids, partials],
    workgroups: [slices, rows],
  });
}
