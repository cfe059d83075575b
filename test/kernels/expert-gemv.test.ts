import { describe, expect, it } from 'vitest';
import {
  expertGemvReference, expertSwiGluFusable, makeExpertGemv, makeExpertGemvSwiGlu, planExpertGemv, type ExpertGemvPlan,
} from '../../src/kernels/moe/expert-gemv.js';
import { swiGluReference } from '../../src/kernels/elementwise/swiglu.js';
import type { GpuWeight } from '../../src/kernels/linalg/matmul.js';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

// Both decode MoE kernels against the f64 scalar reference: fresh random operands, ragged chunk counts (K not a
// multiple of chunk × subgroup size), N not a multiple of the rows per workgroup, NaN-poisoned outputs.
type Dtype = 'f32' | 'f16';

function stackedWeight(ctx: GpuContext, data: Float32Array, E: number, N: number, K: number, dtype: Dtype, split: boolean, label: string): GpuWeight {
  if (!split) return ctx.tensor([E, N, K], dtype, label, data);
  const cut = Math.max(1, Math.floor(E / 2));
  const parts = [[0, cut], [cut, E]].map(([a, b]) => ctx.tensor([b - a, N, K], dtype, `${label}${a}`, data.subarray(a * N * K, b * N * K)));
  return { shape: [E, N, K], dtype, parts, rowStarts: [0, cut], label };
}

async function checkProjection(ctx: GpuContext, dtype: Dtype, plan: ExpertGemvPlan, gather: boolean, split: boolean): Promise<void> {
  const chunk = dtype === 'f16' ? 8 : 4;
  const E = randomInt(3, 9), topK = randomInt(1, 3), T = randomInt(1, 4);
  const N = randomInt(3, 37) | 1, K = chunk * randomInt(3, 43);
  const slots = T * topK;
  const x = randomArray((gather ? T : slots) * K);
  const w = randomArray(E * N * K);
  const ids = Array.from({ length: slots }, () => randomInt(0, E - 1));
  // One spare output row beyond the slots must keep its poison.
  const out = ctx.tensor([slots + 1, N], 'f32', 'out');
  ctx.fill(out, NaN);
  ctx.run(makeExpertGemv(ctx, ctx.tensor([gather ? T : slots, K], 'f32', 'x', x), stackedWeight(ctx, w, E, N, K, dtype, split, 'w'),
    ctx.tensor([slots], 'u32', 'ids', ids), out, slots, topK, gather, plan));
  const got = await ctx.readF32(out);
  const ref = expertGemvReference(x, w, ids, slots, topK, gather, N, K, dtype === 'f16');
  expect(relativeError(got.subarray(0, slots * N), ref), `E=${E} N=${N} K=${K} slots=${slots}`).toBeLessThan(1e-5);
  expect(got.subarray(slots * N).every(Number.isNaN)).toBe(true);
}

describe('moe/expert-gemv', () => {
  const tilings = [{}, { rowsPerSubgroup: 1, subgroupsPerWorkgroup: 1 }, { rowsPerSubgroup: 3, subgroupsPerWorkgroup: 2 }];
  for (const dtype of ['f16', 'f32'] as const) {
    for (const gather of [true, false]) {
      it(`subgroup path matches the reference (${dtype}, ${gather ? 'gathered tokens' : 'one row per slot'}, several tilings, one with split experts)`, async () => {
        const ctx = await gpu();
        for (const [i, tiles] of tilings.entries()) {
          const plan = planExpertGemv(ctx, 8, dtype, tiles);
          expect(plan.path, plan.reason).toBe('subgroup');
          await checkProjection(ctx, dtype, plan, gather, i === 1);
        }
      });
      it(`workgroup path (kept for before/after) matches the reference (${dtype}, ${gather ? 'gathered' : 'per slot'})`, async () => {
        const ctx = await gpu();
        const plan = planExpertGemv(ctx, 8, dtype, {}, 'workgroup');
        expect(plan.path).toBe('workgroup');
        for (const split of [false, true]) await checkProjection(ctx, dtype, plan, gather, split);
      });
    }
  }

  it('fused gate|up|SwiGLU equals silu(x·Wg)·(x·Wu) per slot', async () => {
    const ctx = await gpu();
    for (const [dtype, split] of [['f16', false], ['f16', true], ['f32', false]] as const) {
      const chunk = dtype === 'f16' ? 8 : 4;
      const E = randomInt(3, 8), topK = randomInt(1, 3), T = randomInt(1, 3);
      const N = randomInt(5, 29) | 1, K = chunk * randomInt(5, 41), slots = T * topK;
      const x = randomArray(T * K), wg = randomArray(E * N * K), wu = randomArray(E * N * K);
      const ids = Array.from({ length: slots }, () => randomInt(0, E - 1));
      const gate = stackedWeight(ctx, wg, E, N, K, dtype, split, 'wg'), up = stackedWeight(ctx, wu, E, N, K, dtype, split, 'wu');
      expect(expertSwiGluFusable(ctx, gate, up)).toBe(true);
      const out = ctx.tensor([slots + 1, N], 'f32', 'out');
      ctx.fill(out, NaN);
      ctx.run(makeExpertGemvSwiGlu(ctx, ctx.tensor([T, K], 'f32', 'x', x), gate, up, ctx.tensor([slots], 'u32', 'ids', ids), out, slots, topK));
      const got = await ctx.readF32(out);
      const f16 = dtype === 'f16';
      const ref = swiGluReference(expertGemvReference(x, wg, ids, slots, topK, true, N, K, f16), expertGemvReference(x, wu, ids, slots, topK, true, N, K, f16));
      expect(relativeError(got.subarray(0, slots * N), ref), `${dtype} N=${N} K=${K}`).toBeLessThan(1e-5);
      expect(got.subarray(slots * N).every(Number.isNaN)).toBe(true);
    }
  });

  it('plans the fallback with a reason and rejects bad operands in one line', async () => {
    const ctx = await gpu();
    expect(planExpertGemv(ctx, 12, 'f16')).toMatchObject({ path: 'workgroup', reason: 'K=12 is not a multiple of 8' });
    expect(() => planExpertGemv(ctx, 16, 'f16', { rowsPerSubgroup: 0 })).toThrow(/positive integers/);
    const w = ctx.tensor([3, 8, 16], 'f16', 'w'), w2 = ctx.tensor([3, 8, 24], 'f16', 'w2');
    const ids = ctx.tensor([2], 'u32', 'ids'), x = ctx.tensor([1, 16], 'f32', 'x'), o = ctx.tensor([2, 8], 'f32', 'o');
    expect(expertSwiGluFusable(ctx, w, w2)).toBe(false);
    expect(() => makeExpertGemvSwiGlu(ctx, x, w, w2, ids, o, 2, 2)).toThrow(/^expert gemv swiglu: w \[3, 8, 16\] f16 and w2 \[3, 8, 24\] f16 differ$/);
    expect(() => makeExpertGemvSwiGlu(ctx, x, w, w, ids, o, 2, 2, planExpertGemv(ctx, 16, 'f16', {}, 'workgroup'))).toThrow(/needs the subgroup path/);
    expect(() => makeExpertGemv(ctx, x, w, ids, o, 0, 2, true)).toThrow(/positive integers/);
    expect(() => makeExpertGemv(ctx, x, w, ctx.tensor([1], 'u32', 'few'), o, 2, 2, true)).toThrow(/few holds fewer than 2 expert ids/);
  });
});
