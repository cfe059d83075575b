import { describe, expect, it } from 'vitest';
import { linearReference, makeLinear } from '../../src/kernels/linalg/matmul.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/engine/gpu/half.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

const roundF16 = (a: Float32Array) => a.map((v) => f16BitsToF32(f32ToF16Bits(v)));

describe('linalg/matmul and gemv', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    it(`GEMM ${dtype}: random odd M, N, K into a poisoned output`, async () => {
      const ctx = await gpu();
      const M = randomInt(2, 70) | 1, N = randomInt(3, 90) | 1, K = randomInt(5, 150) | 1;
      const x = randomArray(M * K);
      const w = dtype === 'f16' ? roundF16(randomArray(N * K)) : randomArray(N * K);
      const out = ctx.tensor([M, N], 'f32', 'out');
      ctx.fill(out, NaN);
      ctx.run(makeLinear(ctx, ctx.tensor([M, K], 'f32', 'x', x), ctx.tensor([N, K], dtype, 'w', w), out));
      expect(relativeError(await ctx.readF32(out), linearReference(x, w, M, N, K))).toBeLessThan(1e-5);
    });

    it(`GEMV ${dtype}: one row, even K (f16 word path) and odd N; loads written out, and past 16 per lane the loop`, async () => {
      const ctx = await gpu();
      for (const K of [(randomInt(3, 400) | 1) + 1, 2 * randomInt(4200, 5000)]) {
        const N = randomInt(3, 300) | 1;
        const x = randomArray(K);
        const w = dtype === 'f16' ? roundF16(randomArray(N * K)) : randomArray(N * K);
        const out = ctx.tensor([1, N], 'f32', 'out');
        ctx.fill(out, NaN);
        // plainGemv pins this kernel; one f16 row with K % 8 == 0 would otherwise take gemv-f16 (tested beside it).
        const specs = makeLinear(ctx, ctx.tensor([1, K], 'f32', 'x', x), ctx.tensor([N, K], dtype, 'w', w), out, { plainGemv: true });
        expect(specs[0].label).toBe('linalg/gemv');
        ctx.run(specs);
        expect(relativeError(await ctx.readF32(out), linearReference(x, w, 1, N, K)), `K=${K}`).toBeLessThan(1e-5);
      }
    });
  }

  it('row-split weights write their own column ranges', async () => {
    const ctx = await gpu();
    const M = 5, N = 37, K = 19;
    const x = randomArray(M * K), w = randomArray(N * K);
    // Parts built by hand: a real split needs a tensor over the binding limit (128 MiB on lavapipe).
    const parts = [0, 13, 26].map((start) => {
      const n = Math.min(13, N - start);
      return ctx.tensor([n, K], 'f32', `w${start}`, w.subarray(start * K, (start + n) * K));
    });
    const manual = { shape: [N, K], dtype: 'f32' as const, parts, rowStarts: [0, 13, 26], label: 'w-split' };
    for (const rows of [M, 1]) {
      const out = ctx.tensor([rows, N], 'f32', 'out');
      ctx.fill(out, NaN);
      ctx.run(makeLinear(ctx, ctx.tensor([rows, K], 'f32', 'x', x.subarray(0, rows * K)), manual, out));
      const got = await ctx.readF32(out);
      expect(relativeError(got, linearReference(x, w, rows, N, K))).toBeLessThan(1e-5);
    }
  });

  it('rejects a shape mismatch', async () => {
    const ctx = await gpu();
    expect(() => makeLinear(ctx, ctx.tensor([2, 3], 'f32', 'x'), ctx.tensor([4, 5], 'f32', 'w'), ctx.tensor([2, 4], 'f32', 'o')))
      .toThrow(/x has 3 columns, weight w expects 5/);
  });
});
