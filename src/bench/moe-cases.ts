// MoE decode cases for `ctxbench bench`: one decode token's routed experts in one MoE layer (48B: top-8 of 64,
// gate and up 2304 → 1024, down back), f16 weights. GB/s counts the chosen experts' weight bytes, the only
// traffic that matters (issue #8: ≥ 0.85× device copy). The workgroup-reduce kernel's cases come first: they
// are the "before" of each ratio, and every later case is checked against their output.
import type { DispatchSpec, GpuContext } from '../engine/gpu/context.js';
import type { GpuTensor } from '../engine/gpu/arena.js';
import { makeSwiGlu } from '../kernels/elementwise/swiglu.js';
import { makeCopy } from '../kernels/elementwise/copy.js';
import { makeMoeCombine } from '../kernels/moe/combine.js';
import { makeExpertGemv, makeExpertGemvSwiGlu, planExpertGemv, type ExpertGemvPlan } from '../kernels/moe/expert-gemv.js';
import { EXPERT_FFN_FUSED_TILES, expertFfnFusedReason, expertFfnSlices, makeExpertFfnFused, type ExpertFfnFusedPlan } from '../kernels/moe/expert-ffn-fused.js';
import { COPY_ANCHOR, filled, maxRelDiff, releaser, type KernelCase, type SizeClass } from './kernel-cases.js';

/** Subgroup tilings (rows per subgroup × subgroups per workgroup) timed beside the default, 48B size only. */
const TILINGS: [number, number][] = [[1, 4], [4, 4], [2, 8], [1, 8], [4, 2]];
/** Fused-FFN tilings (rows per subgroup × subgroups) beside the default 2×16: BI 32 at 256 lanes, BI 16, BI 64. */
const FUSED_FFN_TILINGS: [number, number][] = [[4, 8], [2, 8], [4, 16]];

/** Sums each slot's `slices` partial rows of `width` (the sliced combine's sum, unweighted). */
function sumSlices(partials: Float32Array, slots: number, slices: number, width: number): Float32Array {
  const out = new Float32Array(slots * width);
  for (let s = 0; s < slots; s++) for (let j = 0; j < slices; j++) for (let n = 0; n < width; n++) out[s * width + n] += partials[(s * slices + j) * width + n];
  return out;
}

export function moeDecodeCases(ctx: GpuContext, size: SizeClass): KernelCase[] {
  const { E, topK, H, I } = size === 'small' ? { E: 7, topK: 2, H: 24, I: 16 } : { E: 64, topK: 8, H: 2304, I: 1024 };
  const x = filled(ctx, [1, H], 'f32', 'bench.moe.x', 31);
  const w1 = filled(ctx, [E, I, H], 'f16', 'bench.moe.w1', 32, 0.05);
  const w3 = filled(ctx, [E, I, H], 'f16', 'bench.moe.w3', 34, 0.05);
  const w2 = filled(ctx, [E, H, I], 'f16', 'bench.moe.w2', 33, 0.05);
  // Distinct experts, as a router would pick them.
  const ids = ctx.tensor([topK], 'u32', 'bench.moe.ids', Array.from({ length: topK }, (_, i) => (i * 7) % E));
  const tensors: GpuTensor[] = [x, w1, w3, w2, ids];
  const rows = (label: string, width: number) => {
    const t = ctx.tensor([topK, width], 'f32', label);
    tensors.push(t);
    return t;
  };
  const shape = `top-${topK} of ${E} ${H}→${I}→${H}`;
  const anchor = size === '48b' ? COPY_ANCHOR : undefined;
  const projection = topK * H * I * 2;
  const before = planExpertGemv(ctx, H, 'f16', {}, 'workgroup');
  const plans: ExpertGemvPlan[] = [planExpertGemv(ctx, H, 'f16')];
  if (size === '48b') plans.push(...TILINGS.map(([r, s]) => planExpertGemv(ctx, H, 'f16', { rowsPerSubgroup: r, subgroupsPerWorkgroup: s })));
  const label = (p: ExpertGemvPlan) => (p.path === 'subgroup' ? `${p.rowsPerSubgroup}r×${p.subgroupsPerWorkgroup}sg` : 'workgroup');
  const params = (p: ExpertGemvPlan, extra: Record<string, unknown>) => ({
    E, topK, H, I, path: p.path, rowsPerSubgroup: p.rowsPerSubgroup, subgroupsPerWorkgroup: p.subgroupsPerWorkgroup, fallbackReason: p.reason, ...extra,
  });
  const cases: KernelCase[] = [];

  // Gate then down (two dispatches): the case timed since session 3, under its old name for the default plan.
  const gateDown = (p: ExpertGemvPlan, mid: GpuTensor, out: GpuTensor): DispatchSpec[] => [
    ...makeExpertGemv(ctx, x, w1, ids, mid, topK, topK, true, p), ...makeExpertGemv(ctx, mid, w2, ids, out, topK, topK, false, p),
  ];
  const outBefore = rows('bench.moe.out.before', H);
  cases.push({
    kernel: 'moe', name: `moe-expert-gemv ${shape} workgroup`, dtype: 'f16 W', specs: gateDown(before, rows('bench.moe.mid.before', I), outBefore),
    bytes: 2 * projection, anchor, params: params(before, { projections: 'gate, down' }), release: () => undefined,
  });
  plans.forEach((p, i) => {
    const out = rows(`bench.moe.out.${i}`, H);
    cases.push({
      kernel: 'moe', name: `moe-expert-gemv ${shape}${i === 0 ? '' : ` ${label(p)}`}`, dtype: 'f16 W', specs: gateDown(p, rows(`bench.moe.mid.${i}`, I), out),
      bytes: 2 * projection, anchor, params: params(p, { projections: 'gate, down' }), release: () => undefined,
      verify: async () => maxRelDiff(await ctx.readF32(out), await ctx.readF32(outBefore)),
    });
  });

  // The whole routed FFN as the engine runs it: before, gate, up, SwiGLU, down (four dispatches); after, the
  // fused gate|up|SwiGLU pass and down (two), where the subgroup path exists.
  const ffnBefore = rows('bench.moe.ffn.before', H);
  const [eg, eu, em] = [rows('bench.moe.eg', I), rows('bench.moe.eu', I), rows('bench.moe.em', I)];
  cases.push({
    kernel: 'moe', name: `moe-expert-ffn ${shape} unfused workgroup`, dtype: 'f16 W',
    specs: [
      ...makeExpertGemv(ctx, x, w1, ids, eg, topK, topK, true, before), ...makeExpertGemv(ctx, x, w3, ids, eu, topK, topK, true, before),
      makeSwiGlu(ctx, eg, eu, em), ...makeExpertGemv(ctx, em, w2, ids, ffnBefore, topK, topK, false, before),
    ],
    bytes: 3 * projection, anchor, params: params(before, { projections: 'gate, up, swiglu, down' }), release: () => undefined,
  });
  if (plans[0].path === 'subgroup') {
    const fusedMid = rows('bench.moe.em.fused', I), fusedOut = rows('bench.moe.ffn.fused', H);
    cases.push({
      kernel: 'moe', name: `moe-expert-ffn ${shape} fused`, dtype: 'f16 W',
      specs: [...makeExpertGemvSwiGlu(ctx, x, w1, w3, ids, fusedMid, topK, topK, plans[0]), ...makeExpertGemv(ctx, fusedMid, w2, ids, fusedOut, topK, topK, false, plans[0])],
      bytes: 3 * projection, anchor, params: params(plans[0], { projections: 'gate|up|swiglu, down' }), release: () => undefined,
      verify: async () => maxRelDiff(await ctx.readF32(fusedOut), await ctx.readF32(ffnBefore)),
    });
  }
  // The whole FFN in one dispatch (expert-ffn-fused.wgsl, CTXBENCH_EXPERT_FFN=fused): per-slice partials,
  // which the engine's combine sums (not timed here, as the pair's combine is not). Verified by summing slices.
  {
    const tilings: ExpertFfnFusedPlan[] = [EXPERT_FFN_FUSED_TILES];
    if (size === '48b') tilings.push(...FUSED_FFN_TILINGS.map(([r, sg]) => ({ rowsPerSubgroup: r, subgroupsPerWorkgroup: sg })));
    for (const [i, p] of tilings.entries()) {
      const why = expertFfnFusedReason(ctx, { gate: w1, up: w3, down: w2 }, undefined, p);
      const tag = `BI ${p.rowsPerSubgroup * p.subgroupsPerWorkgroup} ${p.rowsPerSubgroup}r×${p.subgroupsPerWorkgroup}sg`;
      if (why) { console.warn(`moe cases: fused FFN one dispatch ${tag} skipped: ${why}`); continue; }
      const slices = expertFfnSlices(I, p);
      const partials = ctx.tensor([topK * slices, H], 'f32', `bench.moe.ffn.partials.${i}`);
      tensors.push(partials);
      try {
        cases.push({
          kernel: 'moe', name: `moe-expert-ffn ${shape} fused FFN one dispatch ${tag}`, dtype: 'f16 W',
          specs: [makeExpertFfnFused(ctx, x, { gate: w1, up: w3, down: w2 }, ids, partials, topK, topK, undefined, p)],
          bytes: 3 * projection, anchor, params: { E, topK, H, I, slices, ...p, projections: 'gate|up|swiglu|down' }, release: () => undefined,
          verify: async () => maxRelDiff(sumSlices(await ctx.readF32(partials), topK, slices, H), await ctx.readF32(ffnBefore)),
        });
      } catch (e) {
        console.warn(`moe cases: fused FFN one dispatch ${tag} skipped: ${String((e as Error).message ?? e).split('\n')[0]}`);
      }
    }
  }
  // With their combines (x += Σ w · rows): the sliced one reads slices × the pair's rows (2.4 MB at BI 32).
  // Unchecked: x accumulates over the timed repeats.
  if (plans[0].path === 'subgroup' && !expertFfnFusedReason(ctx, { gate: w1, up: w3, down: w2 })) {
    const residual = filled(ctx, [1, H], 'f32', 'bench.moe.residual', 35), rw = filled(ctx, [topK], 'f32', 'bench.moe.rw', 36);
    const slices = expertFfnSlices(I), partials = ctx.tensor([topK * slices, H], 'f32', 'bench.moe.ffn.partials.combine');
    const mid = rows('bench.moe.em.combine', I), out = rows('bench.moe.ffn.combine', H);
    tensors.push(residual, rw, partials);
    const withCombine = (name: string, specs: DispatchSpec[]): KernelCase => ({
      kernel: 'moe', name: `moe-expert-ffn ${shape} ${name}`, dtype: 'f16 W', specs, bytes: 3 * projection, anchor,
      params: { E, topK, H, I, slices, projections: name }, release: () => undefined,
    });
    cases.push(
      withCombine('fused pair + combine', [
        ...makeExpertGemvSwiGlu(ctx, x, w1, w3, ids, mid, topK, topK, plans[0]), ...makeExpertGemv(ctx, mid, w2, ids, out, topK, topK, false, plans[0]),
        makeMoeCombine(ctx, residual, out, rw, null, 1, topK),
      ]),
      withCombine('fused FFN one dispatch + sliced combine', [
        makeExpertFfnFused(ctx, x, { gate: w1, up: w3, down: w2 }, ids, partials, topK, topK), makeMoeCombine(ctx, residual, partials, rw, null, 1, topK, undefined, slices),
      ]),
    );
  }
  cases[cases.length - 1].release = releaser(ctx, tensors);
  cases.push(dependentCopyCase(ctx, projection, `moe-expert-gemv ${shape}`));
  return cases;
}

/**
 * The floor a short dispatch pair can reach: two dependent copy dispatches (a → b → c), each moving
 * `bytesPerDispatch` (half read, half written), timed like the expert GEMVs. A decode MoE dispatch moves only
 * 20–38 MB, so launch, ramp and tail weigh on it as they do not on the 1 GiB copy anchor; GB/s over this row is
 * what a kernel change can still win.
 */
export function dependentCopyCase(ctx: GpuContext, bytesPerDispatch: number, of: string): KernelCase {
  const cols = 4096;
  const rows = Math.max(1, Math.round(bytesPerDispatch / 8 / cols));
  const [a, b, c] = ['a', 'b', 'c'].map((n, i) => (i === 0 ? filled(ctx, [rows, cols], 'f32', `bench.copy2.${n}`, 51) : ctx.tensor([rows, cols], 'f32', `bench.copy2.${n}`)));
  const moved = rows * cols * 8;
  return {
    kernel: 'moe', name: `device-copy 2 dependent × ${(moved / 1e6).toFixed(1)} MB (floor of ${of})`, dtype: '16-byte vectors',
    specs: [makeCopy(ctx, a, b, cols, { rows }), makeCopy(ctx, b, c, cols, { rows })], bytes: 2 * moved, anchor: COPY_ANCHOR,
    params: { rows, cols, bytesPerDispatch: moved, path: 'kernel' },
    verify: async () => maxRelDiff(await ctx.readF32(c), await ctx.readF32(a)),
    release: releaser(ctx, [a, b, c]),
  };
}
