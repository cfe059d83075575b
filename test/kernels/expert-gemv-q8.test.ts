import { describe, expect, it } from 'vitest';
import { allocQ8, dequantizeQ8, quantizeQ8, uploadQ8, type Q8Weight } from '../../src/kernels/linalg/q8-format.js';
import { expertGemvQ8Dispatches, planExpertGemvQ8 } from '../../src/kernels/moe/expert-gemv-q8.js';
import { expertSwiGluFusable, makeExpertGemv, makeExpertGemvSwiGlu } from '../../src/kernels/moe/expert-gemv.js';
import { swiGluReference } from '../../src/kernels/elementwise/swiglu.js';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

// The q8 decode MoE kernel (plain and fused gate|up|SwiGLU) against the f64 reference of the stored weights:
// fresh random operands, odd and quad K (ragged chunk counts, partial groups), odd N, experts split over two
// blocks, both the subgroup and the one-thread paths, both int8 conversions, NaN-poisoned outputs.

function stack(ctx: GpuContext, data: Float32Array, E: number, N: number, K: number, cut: number, label: string): Q8Weight {
  if (cut <= 0) {
    const w = allocQ8(ctx, [E, N, K], label);
    uploadQ8(ctx, w, 0, data);
    return w;
  }
  const a = allocQ8(ctx, [cut, N, K], `${label}a`), b = allocQ8(ctx, [E - cut, N, K], `${label}b`);
  uploadQ8(ctx, a, 0, data.subarray(0, cut * N * K));
  uploadQ8(ctx, b, 0, data.subarray(cut * N * K));
  return { dtype: 'q8', shape: [E, N, K], label, blocks: [a.blocks[0], { ...b.blocks[0], start: cut }] };
}

/** out[s, n] = x[src(s)] · (q · s)[ids[s], n] in f64. */
function reference(x: Float32Array, w: Float32Array, ids: number[], slots: number, topK: number, gather: boolean, E: number, N: number, K: number): Float32Array {
  const wq = dequantizeQ8(quantizeQ8(w, E * N, K), E * N, K);
  const out = new Float32Array(slots * N);
  for (let s = 0; s < slots; s++) {
    const src = gather ? Math.floor(s / topK) : s;
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[src * K + k] * wq[(ids[s] * N + n) * K + k];
      out[s * N + n] = acc;
    }
  }
  return out;
}

describe('moe/expert-gemv-q8', () => {
  for (const path of ['subgroup', 'thread'] as const) {
    it(`projections and fused SwiGLU match the reference (${path} path; gathered and per-slot x, split experts)`, async () => {
      const ctx = await gpu();
      const tilings = path === 'subgroup'
        ? [{}, { rowsPerSubgroup: 1, subgroupsPerWorkgroup: 1 }, { rowsPerSubgroup: 3, subgroupsPerWorkgroup: 2 }, { convert: 'magic' as const },
          { rowsPerSubgroup: 4, subgroupsPerWorkgroup: 2, convert: 'magic' as const }, { rowsPerSubgroup: 1, subgroupsPerWorkgroup: 3, convert: 'magic' as const }]
        : [{}, { convert: 'magic' as const }];
      for (const [i, tiles] of tilings.entries()) {
        const plan = planExpertGemvQ8(ctx, tiles, path === 'thread' ? 'thread' : undefined);
        expect(plan.path, plan.reason).toBe(path);
        const E = randomInt(3, 9), topK = randomInt(1, 3), T = randomInt(1, 4), slots = T * topK;
        const N = randomInt(3, 37) | 1, K = i % 2 ? randomInt(3, 200) | 1 : 4 * randomInt(2, 90);
        const cut = i === 1 ? 0 : randomInt(1, E - 1);
        const ids = Array.from({ length: slots }, () => randomInt(0, E - 1));
        const tIds = ctx.tensor([slots], 'u32', 'ids', ids);
        for (const gather of [true, false]) {
          const x = randomArray((gather ? T : slots) * K);
          const w = randomArray(E * N * K);
          const out = ctx.tensor([slots + 1, N], 'f32', 'out');
          ctx.fill(out, NaN);
          ctx.run(expertGemvQ8Dispatches(ctx, ctx.tensor([gather ? T : slots, K], 'f32', 'x', x), [stack(ctx, w, E, N, K, cut, 'w')], tIds, out, slots, topK, gather, plan));
          const got = await ctx.readF32(out);
          expect(relativeError(got.subarray(0, slots * N), reference(x, w, ids, slots, topK, gather, E, N, K)), `E=${E} N=${N} K=${K}`).toBeLessThan(1e-5);
          expect(got.subarray(slots * N).every(Number.isNaN)).toBe(true);
        }
        // Fused gate|up|SwiGLU.
        const x = randomArray(T * K), wg = randomArray(E * N * K), wu = randomArray(E * N * K);
        const out = ctx.tensor([slots + 1, N], 'f32', 'out');
        ctx.fill(out, NaN);
        const gate = stack(ctx, wg, E, N, K, cut, 'gate'), up = stack(ctx, wu, E, N, K, cut, 'up');
        ctx.run(expertGemvQ8Dispatches(ctx, ctx.tensor([T, K], 'f32', 'x', x), [gate, up], tIds, out, slots, topK, true, plan));
        const expected = swiGluReference(reference(x, wg, ids, slots, topK, true, E, N, K), reference(x, wu, ids, slots, topK, true, E, N, K));
        const got = await ctx.readF32(out);
        expect(relativeError(got.subarray(0, slots * N), expected)).toBeLessThan(1e-5);
        expect(got.subarray(slots * N).every(Number.isNaN)).toBe(true);
      }
    });
  }

  it('makeExpertGemv / makeExpertGemvSwiGlu hand q8 stacks to the q8 kernel; mixed or differently split stacks refuse', async () => {
    const ctx = await gpu();
    const E = 5, N = 7, K = 64, slots = 3, topK = 3;
    const w = randomArray(E * N * K), x = randomArray(K);
    const ids = [4, 0, 2];
    const a = stack(ctx, w, E, N, K, 2, 'a'), b = stack(ctx, w, E, N, K, 3, 'b');
    const out = ctx.tensor([slots, N], 'f32', 'out');
    ctx.fill(out, NaN);
    const tIds = ctx.tensor([slots], 'u32', 'ids', ids), tx = ctx.tensor([1, K], 'f32', 'x', x);
    ctx.run(makeExpertGemv(ctx, tx, a, tIds, out, slots, topK, true));
    expect(relativeError(await ctx.readF32(out), reference(x, w, ids, slots, topK, true, E, N, K))).toBeLessThan(1e-5);
    expect(expertSwiGluFusable(ctx, a, b)).toBe(false);
    expect(() => makeExpertGemvSwiGlu(ctx, tx, a, b, tIds, out, slots, topK)).toThrow(/split over bindings differently/);
    expect(() => makeExpertGemvSwiGlu(ctx, tx, a, ctx.tensor([E, N, K], 'f16', 'h'), tIds, out, slots, topK)).toThrow(/q8/);
  });
});
