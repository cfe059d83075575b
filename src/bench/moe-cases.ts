// MoE decode cases for `ctxbench bench`: one decode token's routed experts in one MoE layer (48B: top-8 of 64,
// gate and up 2304 → 1024, down back), f16 weights. GB/s counts the chosen experts' weight bytes, the only
// traffic that matters (issue #8: ≥ 0.85× device copy). The workgroup-reduce kernel's cases come first: they
// are the "before" of each ratio, and every later case is checked against their output.
import type { DispatchSpec, GpuContext } from '../engine/gpu/context.js';
import type { GpuTensor } from '../engine/gpu/arena.js';
import { makeSwiGlu } from '../kernels/elementwise/swiglu.js';
import { makeCopy } from '../kernels/elementwise/copy.js';
import { makeExpertGemv, makeExpertGemvSwiGlu, planExpertGemv, type ExpertGemvPlan } from '../kernels/moe/expert-gemv.js';
import { COPY_ANCHOR, filled, maxRelDiff, releaser, type KernelCase, type SizeClass } from './kernel-cases.js';

/** Subgroup tilings (rows per subgroup × subgroups per workgroup) timed beside the default, 48B size only. */
const TILINGS: [number, number][] = [[1, 4], [4, 4], [2, 8], [1, 8], [4, 2]];

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
