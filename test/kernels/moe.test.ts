import { describe, expect, it } from 'vitest';
import { makeMoeRoute, moeRouteReference } from '../../src/kernels/moe/route.js';
import { makeMoePlan, moeCapacity } from '../../src/kernels/moe/plan.js';
import { makeMoeCombine } from '../../src/kernels/moe/combine.js';
import { gemmTiles, makeGroupedLinear, linearReference, type GpuWeight } from '../../src/kernels/linalg/matmul.js';
import { makeSwiGlu, swiGluReference } from '../../src/kernels/elementwise/swiglu.js';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import type { GpuTensor } from '../../src/engine/gpu/arena.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

const opts = { topK: 3, renormalize: true, routedScalingFactor: 2.446 };

describe('moe', () => {
  it('routes with sigmoid scores, selection-only bias and renormalised scaled weights', async () => {
    const ctx = await gpu();
    const T = randomInt(1, 20), E = randomInt(5, 40) | 1;
    const logits = randomArray(T * E, 4), bias = randomArray(E, 0.5);
    const ids = ctx.tensor([T * 3], 'u32', 'ids'), weights = ctx.tensor([T * 3], 'f32', 'w');
    ctx.fill(weights, NaN);
    ctx.run([makeMoeRoute(ctx, ctx.tensor([T, E], 'f32', 'logits', logits), ctx.tensor([E], 'f32', 'bias', bias), ids, weights, T, opts)]);
    const ref = moeRouteReference(logits, bias, T, E, opts);
    expect(Array.from(await ctx.read(ids))).toEqual(Array.from(ref.ids));
    expect(relativeError(await ctx.readF32(weights), ref.weights)).toBeLessThan(1e-5);
  });

  it('routes ties to the lower expert index, in rank order, over a wide and a narrow workgroup', async () => {
    const ctx = await gpu();
    for (const E of [7, 300]) {
      // Equal scores everywhere but a few: the top-k must come out in descending order, ties by index.
      const logits = new Float32Array(E).fill(0.5), bias = new Float32Array(E);
      logits[E - 1] = 2; logits[3] = 2; logits[1] = 1;
      const k = { ...opts, topK: 5 };
      const ids = ctx.tensor([5], 'u32', 'ids'), weights = ctx.tensor([5], 'f32', 'w');
      ctx.fill(ids, 0xffffffff);
      ctx.run([makeMoeRoute(ctx, ctx.tensor([1, E], 'f32', 'logits', logits), ctx.tensor([E], 'f32', 'bias', bias), ids, weights, 1, k)]);
      expect(Array.from(await ctx.read(ids))).toEqual([3, E - 1, 1, 0, 2]);
      expect(Array.from(moeRouteReference(logits, bias, 1, E, k).ids)).toEqual([3, E - 1, 1, 0, 2]);
    }
  });

  for (const splitExperts of [false, true]) {
    it(`plans, runs grouped experts and combines into the residual (${splitExperts ? 'experts split over bindings' : 'one binding'})`, async () => {
      const ctx = await gpu();
      const T = randomInt(2, 90), E = 7, H = randomInt(8, 40) | 1, I = randomInt(5, 30) | 1;
      const x = randomArray(T * H), residual = randomArray(T * H);
      const w1 = randomArray(E * I * H), w3 = randomArray(E * I * H), w2 = randomArray(E * H * I);
      const shared = randomArray(T * H);
      const logits = randomArray(T * E, 3), bias = randomArray(E, 0.3);
      const ref = moeRouteReference(logits, bias, T, E, opts);
      const { TM } = gemmTiles(ctx);
      const capacity = moeCapacity(T, 3, E, TM);

      const stacked = (data: Float32Array, n: number, k: number, label: string): GpuWeight => {
        if (!splitExperts) return ctx.tensor([E, n, k], 'f32', label, data);
        const parts = [0, 4].map((e0) => {
          const ne = Math.min(4, E - e0);
          return ctx.tensor([ne, n, k], 'f32', `${label}${e0}`, data.subarray(e0 * n * k, (e0 + ne) * n * k));
        });
        return { shape: [E, n, k], dtype: 'f32', parts, rowStarts: [0, 4], label };
      };
      const tx = ctx.tensor([T, H], 'f32', 'x', x);
      const ids = ctx.tensor([T * 3], 'u32', 'ids', ref.ids);
      const weights = ctx.tensor([T * 3], 'f32', 'weights', ref.weights);
      const plan = {
        rows: ctx.tensor([capacity], 'u32', 'rows'), tileExpert: ctx.tensor([capacity / TM], 'u32', 'tiles'),
        slotPos: ctx.tensor([T * 3], 'u32', 'slots'), capacity,
      };
      const gate = ctx.tensor([capacity, I], 'f32', 'gate'), up = ctx.tensor([capacity, I], 'f32', 'up');
      const mid = ctx.tensor([capacity, I], 'f32', 'mid'), down = ctx.tensor([capacity, H], 'f32', 'down');
      for (const t of [gate, up, mid, down]) ctx.fill(t, NaN);
      const tr = ctx.tensor([T, H], 'f32', 'residual', residual);
      const grouped = { rows: plan.rows, tileExpert: plan.tileExpert, capacity };
      ctx.run([
        makeMoePlan(ctx, ids, plan, T, 3, E, TM),
        ...makeGroupedLinear(ctx, tx, stacked(w1, I, H, 'w1'), gate, grouped, true),
        ...makeGroupedLinear(ctx, tx, stacked(w3, I, H, 'w3'), up, grouped, true),
        makeSwiGlu(ctx, gate, up, mid),
        ...makeGroupedLinear(ctx, mid, stacked(w2, H, I, 'w2'), down, grouped, false),
        makeMoeCombine(ctx, tr, down, weights, plan.slotPos, T, 3, ctx.tensor([T, H], 'f32', 'shared', shared)),
      ]);
      const expected = Float32Array.from(residual);
      for (let t = 0; t < T; t++) {
        const xt = x.subarray(t * H, (t + 1) * H);
        for (let j = 0; j < 3; j++) {
          const e = ref.ids[t * 3 + j];
          const g = linearReference(xt, w1.subarray(e * I * H, (e + 1) * I * H), 1, I, H);
          const u = linearReference(xt, w3.subarray(e * I * H, (e + 1) * I * H), 1, I, H);
          const y = linearReference(swiGluReference(g, u), w2.subarray(e * H * I, (e + 1) * H * I), 1, H, I);
          for (let i = 0; i < H; i++) expected[t * H + i] += ref.weights[t * 3 + j] * y[i];
        }
        for (let i = 0; i < H; i++) expected[t * H + i] += shared[t * H + i];
      }
      expect(relativeError(await ctx.readF32(tr), expected)).toBeLessThan(1e-5);
      await checkPlan(ctx, plan, ref.ids, T, TM);
    });
  }
});

describe('grouped linear tile rows', () => {
  it('refuses expert tiles of another height than its kernels serve, with a reason', async () => {
    const ctx = await gpu();
    const { TM } = gemmTiles(ctx);
    const capacity = 4 * TM;
    const grouped = { rows: ctx.tensor([capacity], 'u32', 'rows'), tileExpert: ctx.tensor([2], 'u32', 'tiles'), capacity, tileRows: 2 * TM };
    const w = ctx.tensor([3, 8, 16], 'f32', 'experts');
    expect(() => makeGroupedLinear(ctx, ctx.tensor([capacity, 16], 'f32', 'x'), w, ctx.tensor([capacity, 8], 'f32', 'out'), grouped, false))
      .toThrow(new RegExp(`${2 * TM}-row expert tiles need tensor-core tiles`));
  });
});

async function checkPlan(ctx: GpuContext, plan: { rows: GpuTensor; tileExpert: GpuTensor; slotPos: GpuTensor }, ids: Uint32Array, T: number, TM: number) {
  const rows = await ctx.read(plan.rows), tiles = await ctx.read(plan.tileExpert), slots = await ctx.read(plan.slotPos);
  for (let i = 0; i < T * 3; i++) {
    expect(rows[slots[i]]).toBe(Math.floor(i / 3));
    expect(tiles[Math.floor(slots[i] / TM)]).toBe(ids[i]);
  }
}
