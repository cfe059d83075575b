import { describe, expect, it } from 'vitest';
import {
  allocQ8, dequantizeQ8, linearQ8Reference, q8RowLayout, q8View, quantizeQ8, uploadQ8, Q8_GROUP, type Q8Weight,
} from '../../src/kernels/linalg/q8-format.js';
import { makeGemvQ8, planGemvQ8 } from '../../src/kernels/linalg/gemv-q8.js';
import { makeDequantQ8 } from '../../src/kernels/linalg/dequant-q8.js';
import { makeRandomFillQ8 } from '../../src/kernels/linalg/random-fill-q8.js';
import { makeLinear, makeGroupedLinear, gemmTiles } from '../../src/kernels/linalg/matmul.js';
import { q8ScratchValues } from '../../src/kernels/linalg/linear-q8.js';
import { makeMoePlan, moeCapacity } from '../../src/kernels/moe/plan.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/engine/gpu/half.js';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

// q8 weights (int8 per group of 32, f16 scales): the CPU quantiser's bounds, then every kernel against the f64
// scalar reference of the stored weight: fresh random operands, odd K (partial last group, scalar x path) and
// K a multiple of 4, odd N, weights split over blocks and fused-member views, NaN-poisoned outputs.

/** A q8 weight of `shape` split at entry `cut` into two blocks (as allocQ8 splits past the binding limit). */
function q8Split(ctx: GpuContext, data: Float32Array, shape: number[], cut: number, label: string): Q8Weight {
  const per = data.length / shape[0];
  const a = allocQ8(ctx, [cut, ...shape.slice(1)], `${label}a`), b = allocQ8(ctx, [shape[0] - cut, ...shape.slice(1)], `${label}b`);
  uploadQ8(ctx, a, 0, data.subarray(0, cut * per));
  uploadQ8(ctx, b, 0, data.subarray(cut * per));
  return { dtype: 'q8', shape, label, blocks: [a.blocks[0], { ...b.blocks[0], start: cut }] };
}

function q8Whole(ctx: GpuContext, data: Float32Array, shape: number[], label: string): Q8Weight {
  const w = allocQ8(ctx, shape, label);
  uploadQ8(ctx, w, 0, data);
  return w;
}

const oddK = () => randomInt(3, 150) | 1;
const quadK = () => 4 * randomInt(1, 40);

describe('q8 format', () => {
  it('quantises each group to within half a step of its scale, scale ≥ max/127 in f16, zero groups exact', () => {
    const N = randomInt(2, 9), K = oddK();
    const w = randomArray(N * K, 3);
    w.fill(0, 0, Math.min(K, Q8_GROUP)); // row 0's first group all zero
    w[K + 1] = 1e-9; // a tiny group value stays finite
    const q = quantizeQ8(w, N, K);
    const back = dequantizeQ8(q, N, K);
    const { groups, scaleStride, paddedK } = q8RowLayout(K);
    const bytes = new Int8Array(q.values.buffer);
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < groups; g++) {
        const s = f16BitsToF32(q.scales[n * scaleStride + g]);
        let max = 0;
        for (let k = g * Q8_GROUP; k < Math.min(K, (g + 1) * Q8_GROUP); k++) max = Math.max(max, Math.abs(w[n * K + k]));
        expect(s).toBeGreaterThanOrEqual(max / 127);
        for (let k = g * Q8_GROUP; k < Math.min(K, (g + 1) * Q8_GROUP); k++) {
          expect(Math.abs(back[n * K + k] - w[n * K + k])).toBeLessThanOrEqual(s / 2 + 1e-12);
          expect(Math.abs(bytes[n * paddedK + k])).toBeLessThanOrEqual(127);
        }
      }
      for (let k = K; k < paddedK; k++) expect(bytes[n * paddedK + k]).toBe(0);
    }
    for (let k = 0; k < Math.min(K, Q8_GROUP); k++) expect(back[k]).toBe(0);
    expect(() => quantizeQ8([1, NaN, 2], 1, 3)).toThrow(/not finite/);
  });
});

describe('linalg/gemv-q8', () => {
  for (const [subgroups, convert] of [[true, 'unpack'], [false, 'unpack'], [true, 'magic'], [false, 'magic']] as const) {
    it(`matches the f64 reference (${subgroups ? 'subgroup sums' : 'workgroup tree'}, ${convert} int8; odd and quad K, split blocks, poisoned tail)`, async () => {
      const ctx = await gpu();
      for (const K of [oddK(), quadK(), 32 * randomInt(1, 5)]) {
        const N = randomInt(3, 41) | 1;
        const x = randomArray(K), w = randomArray(N * K);
        const split = N > 4 && Math.random() < 0.7;
        const weight = split ? q8Split(ctx, w, [N, K], randomInt(1, N - 1), 'w') : q8Whole(ctx, w, [N, K], 'w');
        const out = ctx.tensor([N + 3], 'f32', 'out');
        ctx.fill(out, NaN);
        const plan = planGemvQ8(ctx, { subgroups, rowsPerWorkgroup: randomInt(1, 5), convert });
        ctx.run(makeGemvQ8(ctx, ctx.tensor([K], 'f32', 'x', x), weight, out, plan, 2));
        const got = await ctx.readF32(out);
        const ref = linearQ8Reference(x, quantizeQ8(w, N, K), 1, N, K);
        expect(relativeError(got.subarray(2, 2 + N), ref), `N=${N} K=${K} split=${split}`).toBeLessThan(1e-5);
        expect([got[0], got[1], got[N + 2]].every(Number.isNaN)).toBe(true);
      }
    });
  }

  it('reads a member view of a fused stack (rows past the binding start) through makeLinear', async () => {
    const ctx = await gpu();
    const K = oddK(), rows = [randomInt(2, 9), randomInt(2, 9), randomInt(2, 9)];
    const total = rows.reduce((a, b) => a + b, 0);
    const w = randomArray(total * K), x = randomArray(K);
    const stack = q8Whole(ctx, w, [total, K], 'stack');
    const at = rows[0];
    const member = q8View(stack.blocks[0], at, [rows[1], K], 'member');
    const out = ctx.tensor([1, rows[1]], 'f32', 'out');
    ctx.fill(out, NaN);
    ctx.run(makeLinear(ctx, ctx.tensor([1, K], 'f32', 'x', x), member, out));
    const ref = linearQ8Reference(x, quantizeQ8(w.subarray(at * K, (at + rows[1]) * K), rows[1], K), 1, rows[1], K);
    expect(relativeError(await ctx.readF32(out), ref)).toBeLessThan(1e-5);
  });
});

describe('linalg/dequant-q8 and prefill linears', () => {
  it('expands entries of a block to f16 (odd K: words straddle rows), leaving the rest of the scratch alone', async () => {
    const ctx = await gpu();
    const N = randomInt(4, 20), K = oddK();
    const w = randomArray(N * K, 2);
    const weight = q8Whole(ctx, w, [N, K], 'w');
    const first = randomInt(0, N - 2), n = randomInt(1, N - first - 1);
    const scratch = ctx.tensor([N * K + 8], 'f16', 'scratch');
    ctx.fill(scratch, NaN);
    ctx.run([makeDequantQ8(ctx, weight, weight.blocks[0], first, n, scratch)]);
    const got = await ctx.readF32(scratch);
    const ref = dequantizeQ8(quantizeQ8(w, N, K), N, K).subarray(first * K, (first + n) * K);
    const rounded = Array.from(ref, (v) => f16BitsToF32(f32ToF16Bits(v)));
    expect(relativeError(got.subarray(0, n * K), rounded)).toBeLessThan(1e-3);
    // Past the last whole word the poison stays.
    expect(got.subarray(Math.ceil((n * K) / 2) * 2).every(Number.isNaN)).toBe(true);
    expect(() => makeDequantQ8(ctx, weight, weight.blocks[0], N - 1, 2, scratch)).toThrow(/outside/);
  });

  it('prefill linear: q8 rows through a small scratch in row blocks, on split blocks, scalar tiles', async () => {
    const ctx = await gpu();
    const M = randomInt(2, 19), N = randomInt(9, 61) | 1, K = oddK();
    const x = randomArray(M * K), w = randomArray(N * K);
    const weight = q8Split(ctx, w, [N, K], randomInt(1, N - 1), 'w');
    // Room for fewer rows than a block holds: several dequant + GEMM rounds reuse one scratch.
    const scratch = ctx.tensor([randomInt(1, 4) * K], 'f16', 'scratch');
    const out = ctx.tensor([M, N], 'f32', 'out');
    ctx.fill(out, NaN);
    ctx.run(makeLinear(ctx, ctx.tensor([M, K], 'f32', 'x', x), weight, out, { dequantScratch: scratch, tiles: gemmTiles(ctx) }));
    const ref = linearQ8Reference(x, quantizeQ8(w, N, K), M, N, K);
    // The GEMM reads the weight rounded to f16 (2^-11 relative).
    expect(relativeError(await ctx.readF32(out), ref)).toBeLessThan(2e-3);
    expect(() => makeLinear(ctx, ctx.tensor([M, K], 'f32', 'x2'), weight, out)).toThrow(/dequant scratch/);
  });

  it('grouped prefill over q8 experts, a few experts per scratch fill', async () => {
    const ctx = await gpu();
    const E = randomInt(3, 7), N = randomInt(3, 21) | 1, K = oddK(), T = randomInt(2, 30), topK = 2;
    const x = randomArray(T * K), w = randomArray(E * N * K);
    const ids = Array.from({ length: T * topK }, (_, s) => (s % topK === 0 ? randomInt(0, E - 1) : 0));
    for (let t = 0; t < T; t++) ids[t * topK + 1] = (ids[t * topK] + randomInt(1, E - 1)) % E;
    const { TM } = gemmTiles(ctx);
    const capacity = moeCapacity(T, topK, E, TM);
    const plan = {
      rows: ctx.tensor([capacity], 'u32', 'rows'), tileExpert: ctx.tensor([capacity / TM], 'u32', 'tiles'),
      slotPos: ctx.tensor([T * topK], 'u32', 'slots'), capacity,
    };
    const weight = q8Split(ctx, w, [E, N, K], randomInt(1, E - 1), 'experts');
    const scratch = ctx.tensor([q8ScratchValues(ctx, [weight], randomInt(1, 2) * N * K * 2)], 'f16', 'scratch');
    const out = ctx.tensor([capacity, N], 'f32', 'out');
    ctx.fill(out, NaN);
    ctx.run([
      makeMoePlan(ctx, ctx.tensor([T * topK], 'u32', 'ids', ids), plan, T, topK, E, TM),
      ...makeGroupedLinear(ctx, ctx.tensor([T, K], 'f32', 'x', x), weight, out, plan, true, undefined, scratch),
    ]);
    const rows = await ctx.read(plan.rows), tiles = await ctx.read(plan.tileExpert), got = await ctx.readF32(out);
    const q = quantizeQ8(w, E * N, K);
    const wq = dequantizeQ8(q, E * N, K);
    let checked = 0;
    for (let p = 0; p < capacity; p++) {
      if (rows[p] === 0xffffffff) continue;
      const e = tiles[Math.floor(p / TM)], src = rows[p];
      const expected = Array.from({ length: N }, (_, n) => {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += x[src * K + k] * wq[(e * N + n) * K + k];
        return acc;
      });
      expect(relativeError(got.subarray(p * N, (p + 1) * N), expected), `p=${p} e=${e}`).toBeLessThan(2e-3);
      checked++;
    }
    expect(checked).toBe(T * topK);
  });
});

describe('linalg/random-fill-q8', () => {
  it('draws int8 in [-127, 127] spread over the range (same seed, same values) with every scale range/127', async () => {
    const ctx = await gpu();
    const N = randomInt(20, 60), K = oddK(), seed = randomInt(0, 1 << 30);
    const fill = async (s: number) => {
      const w = allocQ8(ctx, [N, K], 'r');
      ctx.run(makeRandomFillQ8(ctx, w, s, 0.5));
      return { values: new Int8Array((await ctx.read(w.blocks[0].values)).buffer), scales: await ctx.readF32(w.blocks[0].scales) };
    };
    const a = await fill(seed), b = await fill(seed), c = await fill(seed + 1);
    expect(Array.from(a.values)).toEqual(Array.from(b.values));
    expect(Array.from(a.values)).not.toEqual(Array.from(c.values));
    expect(a.values.every((v) => v >= -127 && v <= 127)).toBe(true);
    const mean = a.values.reduce((s, v) => s + v, 0) / a.values.length;
    expect(Math.abs(mean)).toBeLessThan(10);
    // Uniform on [-127, 127]: a quarter of the values in each quarter of the range, roughly.
    const high = a.values.filter((v) => v > 63).length / a.values.length;
    expect(high).toBeGreaterThan(0.18);
    expect(high).toBeLessThan(0.32);
    expect(a.scales.every((s) => Math.abs(s - 0.5 / 127) < 2e-6)).toBe(true);
    expect(() => makeRandomFillQ8(ctx, allocQ8(ctx, [2, 8], 'bad'), 1, 0)).toThrow(/range/);
  });
});
