import { describe, expect, it } from 'vitest';
import { copyReference, makeCopy, type CopyRows } from '../../src/kernels/elementwise/copy.js';
import { gpu, randomArray, randomInt } from '../gpu/context.js';

// The row copy on both paths (16-byte vectors with several per thread, single values) against the scalar
// reference: random row counts, offsets and strides, a poisoned destination whose untouched values must stay.
describe('elementwise/copy (vector and scalar paths)', () => {
  for (const aligned of [true, false]) {
    it(`copies random strided rows ${aligned ? 'in 16-byte vectors' : 'value by value'}`, async () => {
      const ctx = await gpu();
      for (const per of [1, 3, 4, 8]) {
        const a = aligned ? 4 : 1;
        const n = aligned ? 4 * randomInt(1, 300) : 4 * randomInt(1, 100) + randomInt(1, 3);
        const rows = randomInt(1, 5);
        const o: CopyRows = {
          rows, srcOffset: a * randomInt(0, 9), dstOffset: a * randomInt(0, 9) + (aligned ? 0 : 1),
          srcStride: n + a * randomInt(0, 7), dstStride: n + a * randomInt(0, 7),
        };
        const srcLen = o.srcOffset! + (rows - 1) * o.srcStride! + n + randomInt(0, 5);
        const dstLen = o.dstOffset! + (rows - 1) * o.dstStride! + n + randomInt(0, 5);
        const src = randomArray(srcLen);
        const dst = ctx.tensor([dstLen], 'f32', 'dst');
        ctx.fill(dst, NaN);
        const spec = makeCopy(ctx, ctx.tensor([srcLen], 'f32', 'src', src), dst, n, o, 0, per);
        expect(spec.pipeline.label).toContain(`VEC4=${aligned}`);
        ctx.run([spec]);
        const got = await ctx.readF32(dst);
        const want = copyReference(src, new Float32Array(dstLen).fill(NaN), n, o);
        // Equal as bit patterns: NaN poison where nothing was copied, the source values where it was.
        expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `n=${n} per=${per} ${JSON.stringify(o)}`).toBe(true);
      }
    });
  }

  it('rejects bad counts and overruns in one line', async () => {
    const ctx = await gpu();
    const src = ctx.tensor([64], 'f32', 'src'), dst = ctx.tensor([64], 'f32', 'dst');
    expect(() => makeCopy(ctx, src, dst, 0)).toThrow(/n and rows positive/);
    expect(() => makeCopy(ctx, src, dst, 8, { rows: 9 })).toThrow(/9 rows of 8 values overrun src or dst/);
    expect(() => makeCopy(ctx, src, dst, 8, 0, 0, 0)).toThrow(/vectors per thread must be an integer in 1..16/);
    expect(() => makeCopy(ctx, src, src, 8)).toThrow(/different buffers/);
  });
});
