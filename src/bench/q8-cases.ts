// q8 weight cases for `ctxbench bench --weights int8`: the decode GEMV at the lm_head shape and the routed
// experts of one MoE layer (48B: top-8 of 64, 2304 → 1024 → 2304), int8 per group of 32 with f16 scales. GB/s
// counts the int8 values and scales read (plus x and out for the GEMV), against the same copy anchor as the f16
// rows. Each case is checked against the f16 kernels run on the same weights expanded by the dequant kernel.
import type { GpuContext } from '../engine/gpu/context.js';
import type { GpuTensor } from '../engine/gpu/arena.js';
import { allocQ8, q8Bytes, type Q8Weight } from '../kernels/linalg/q8-format.js';
import { makeRandomFillQ8 } from '../kernels/linalg/random-fill-q8.js';
import { makeGemvQ8, planGemvQ8, type Q8Convert } from '../kernels/linalg/gemv-q8.js';
import { makeDequantQ8 } from '../kernels/linalg/dequant-q8.js';
import { makeLinear } from '../kernels/linalg/matmul.js';
import { makeExpertGemv, makeExpertGemvSwiGlu } from '../kernels/moe/expert-gemv.js';
import { planExpertGemvQ8, expertGemvQ8Dispatches, type ExpertGemvQ8Plan } from '../kernels/moe/expert-gemv-q8.js';
import { dependentCopyCase } from './moe-cases.js';
import { COPY_ANCHOR, filled, maxRelDiff, type KernelCase, type KernelName, type SizeClass } from './kernel-cases.js';

export function q8KernelCases(ctx: GpuContext, kernel: KernelName, size: SizeClass): KernelCase[] {
  if (kernel === 'gemv') return gemvQ8Cases(ctx, size);
  if (kernel === 'moe') return moeQ8Cases(ctx, size);
  return [];
}

function randomQ8(ctx: GpuContext, shape: number[], label: string, seed: number): Q8Weight {
  const w = allocQ8(ctx, shape, label);
  ctx.run(makeRandomFillQ8(ctx, w, seed, 0.05));
  return w;
}

/** The same weights as f16 (only for checks, allocated and freed around them). */
async function withF16<T>(ctx: GpuContext, w: Q8Weight, use: (f16: GpuTensor) => Promise<T>): Promise<T> {
  if (w.blocks.length !== 1) throw new Error(`bench q8: ${w.label} spans ${w.blocks.length} bindings; the check expands one`);
  const f16 = ctx.tensor([...w.shape], 'f16', `${w.label}.f16`);
  try {
    ctx.run([makeDequantQ8(ctx, w, w.blocks[0], 0, w.shape[0], f16)]);
    return await use(f16);
  } finally {
    ctx.arena.free(f16);
  }
}

function freeAll(ctx: GpuContext, weights: Q8Weight[], tensors: GpuTensor[]): () => void {
  return () => {
    for (const w of weights) for (const b of w.blocks) { ctx.arena.free(b.values); ctx.arena.free(b.scales); }
    for (const t of tensors) ctx.arena.free(t);
  };
}

function gemvQ8Cases(ctx: GpuContext, size: SizeClass): KernelCase[] {
  // 48B: the lm_head (vocab × hidden), as the f16 gemv cases.
  const [N, K] = size === 'small' ? [96, 64] : [163840, 2304];
  const x = filled(ctx, [K], 'f32', 'bench.gemvq8.x', 3);
  const w = randomQ8(ctx, [N, K], 'bench.gemvq8.w', 5);
  const out = ctx.tensor([N], 'f32', 'bench.gemvq8.out');
  const bytes = q8Bytes(N, K) + K * 4 + N * 4;
  const anchor = size === '48b' ? COPY_ANCHOR : undefined;
  const cases: KernelCase[] = [];
  // Rows per workgroup × int8 conversion ('magic': no int-to-float instructions, q8.part.wgsl).
  const variants: [number, Q8Convert][] = size === '48b' ? [[2, 'unpack'], [4, 'unpack'], [8, 'unpack'], [2, 'magic'], [4, 'magic']] : [[2, 'unpack'], [2, 'magic']];
  for (const [rows, convert] of variants) {
    const plan = planGemvQ8(ctx, { rowsPerWorkgroup: rows, convert });
    cases.push({
      kernel: 'gemv', name: `gemv-q8 ${N}x${K}${rows === 2 ? '' : ` ${rows} rows/wg`}${convert === 'magic' ? ' magic' : ''}`, dtype: 'q8 W (int8/32 + f16 scale)',
      specs: makeGemvQ8(ctx, x, w, out, plan), bytes, anchor,
      params: { N, K, rowsPerWorkgroup: rows, convert, workgroupSize: plan.workgroupSize, path: plan.subgroups ? 'subgroup' : 'workgroup-tree', weightBytes: q8Bytes(N, K) },
      release: () => undefined,
      verify: () => withF16(ctx, w, async (f16) => {
        const ref = ctx.tensor([1, N], 'f32', 'bench.gemvq8.ref');
        ctx.run(makeLinear(ctx, { ...x, shape: [1, K] }, f16, ref));
        const err = maxRelDiff(await ctx.readF32(out), await ctx.readF32(ref));
        ctx.arena.free(ref);
        return err;
      }),
    });
  }
  cases[cases.length - 1].release = freeAll(ctx, [w], [x, out]);
  return cases;
}

function moeQ8Cases(ctx: GpuContext, size: SizeClass): KernelCase[] {
  const { E, topK, H, I } = size === 'small' ? { E: 7, topK: 2, H: 24, I: 16 } : { E: 64, topK: 8, H: 2304, I: 1024 };
  const x = filled(ctx, [1, H], 'f32', 'bench.moeq8.x', 31);
  const w1 = randomQ8(ctx, [E, I, H], 'bench.moeq8.w1', 32);
  const w3 = randomQ8(ctx, [E, I, H], 'bench.moeq8.w3', 34);
  const w2 = randomQ8(ctx, [E, H, I], 'bench.moeq8.w2', 33);
  const ids = ctx.tensor([topK], 'u32', 'bench.moeq8.ids', Array.from({ length: topK }, (_, i) => (i * 7) % E));
  const mid = ctx.tensor([topK, I], 'f32', 'bench.moeq8.mid'), out = ctx.tensor([topK, H], 'f32', 'bench.moeq8.out');
  const ffnMid = ctx.tensor([topK, I], 'f32', 'bench.moeq8.em'), ffnOut = ctx.tensor([topK, H], 'f32', 'bench.moeq8.ffn');
  const shape = `top-${topK} of ${E} ${H}→${I}→${H}`;
  const anchor = size === '48b' ? COPY_ANCHOR : undefined;
  const projection = topK * q8Bytes(I, H);
  // The default plan first (its names are the ones timed since session 6), then tilings and the conversion.
  const tilings: [number, number, Q8Convert][] = size === '48b'
    ? [[2, 4, 'unpack'], [2, 4, 'magic'], [4, 2, 'unpack'], [4, 4, 'unpack'], [1, 4, 'unpack'], [4, 2, 'magic'], [4, 4, 'magic']]
    : [[2, 4, 'unpack'], [2, 4, 'magic']];
  const plans = tilings.map(([r, g, convert]) => planExpertGemvQ8(ctx, { rowsPerSubgroup: r, subgroupsPerWorkgroup: g, convert }));
  const label = (p: ExpertGemvQ8Plan, i: number) => (i === 0 ? '' : ` ${p.rowsPerSubgroup}r×${p.subgroupsPerWorkgroup}sg${p.convert === 'magic' ? ' magic' : ''}`);
  const params = (p: ExpertGemvQ8Plan, extra: Record<string, unknown>) => ({
    E, topK, H, I, path: p.path, rowsPerSubgroup: p.rowsPerSubgroup, subgroupsPerWorkgroup: p.subgroupsPerWorkgroup, convert: p.convert, fallbackReason: p.reason, ...extra,
  });
  // Reference: the f16 expert kernels on the expanded weights (gate, down; then gate|up|SwiGLU, down).
  const check = (got: GpuTensor, fused: boolean) => async () => withF16(ctx, w1, (g) => withF16(ctx, w2, (d) => withF16(ctx, w3, async (u) => {
    const m = ctx.tensor([topK, I], 'f32', 'bench.moeq8.refmid'), o = ctx.tensor([topK, H], 'f32', 'bench.moeq8.refout');
    ctx.run([
      ...(fused ? makeExpertGemvSwiGlu(ctx, x, g, u, ids, m, topK, topK) : makeExpertGemv(ctx, x, g, ids, m, topK, topK, true)),
      ...makeExpertGemv(ctx, m, d, ids, o, topK, topK, false),
    ]);
    const err = maxRelDiff(await ctx.readF32(got), await ctx.readF32(o));
    ctx.arena.free(m);
    ctx.arena.free(o);
    return err;
  })));
  const cases: KernelCase[] = plans.map((plan, i) => ({
    kernel: 'moe', name: `moe-expert-gemv-q8 ${shape}${label(plan, i)}`, dtype: 'q8 W (int8/32 + f16 scale)',
    specs: [...expertGemvQ8Dispatches(ctx, x, [w1], ids, mid, topK, topK, true, plan), ...expertGemvQ8Dispatches(ctx, mid, [w2], ids, out, topK, topK, false, plan)],
    bytes: 2 * projection, anchor, params: params(plan, { projections: 'gate, down' }), release: () => undefined, verify: check(out, false),
  }));
  // The fused FFN with the default plan and with each conversion's variant of it.
  for (const [i, plan] of plans.entries()) {
    if (i > 1) break;
    cases.push({
      kernel: 'moe', name: `moe-expert-ffn-q8 ${shape} fused${label(plan, i)}`, dtype: 'q8 W (int8/32 + f16 scale)',
      specs: [...expertGemvQ8Dispatches(ctx, x, [w1, w3], ids, ffnMid, topK, topK, true, plan), ...expertGemvQ8Dispatches(ctx, ffnMid, [w2], ids, ffnOut, topK, topK, false, plan)],
      bytes: 3 * projection, anchor, params: params(plan, { projections: 'gate|up|swiglu, down' }), verify: check(ffnOut, true), release: () => undefined,
    });
  }
  cases[cases.length - 1].release = freeAll(ctx, [w1, w2, w3], [x, ids, mid, out, ffnMid, ffnOut]);
  cases.push(dependentCopyCase(ctx, projection, `moe-expert-gemv-q8 ${shape}`));
  return cases;
}
