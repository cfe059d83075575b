import { describe, expect, it } from 'vitest';
import { makeAddRmsNorm, makeRmsNorm, rmsNormReference } from '../../src/kernels/norm/rmsnorm.js';
import { addReference, makeAdd } from '../../src/kernels/elementwise/add.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

describe('norm/rmsnorm', () => {
  it('normalises random odd-sized rows into a poisoned output (register path and, past 16 per lane, the loop)', async () => {
    const ctx = await gpu();
    for (const [rows, dim] of [[randomInt(1, 40) | 1, randomInt(3, 700) | 1], [3, randomInt(4200, 6000) | 1]]) {
      const x = randomArray(rows * dim, 3), w = randomArray(dim);
      const out = ctx.tensor([rows, dim], 'f32', 'out');
      ctx.fill(out, NaN);
      ctx.run([makeRmsNorm(ctx, ctx.tensor([rows, dim], 'f32', 'x', x), ctx.tensor([dim], 'f32', 'w', w), out, 1e-5)]);
      expect(relativeError(await ctx.readF32(out), rmsNormReference(x, w, rows, dim, 1e-5))).toBeLessThan(1e-5);
    }
  });

  it('honours eps (1e-6 vs 1e-5 differ on tiny rows)', async () => {
    const ctx = await gpu();
    const dim = 33;
    const x = randomArray(dim, 1e-3), w = new Float32Array(dim).fill(1);
    for (const eps of [1e-6, 1e-5]) {
      const out = ctx.tensor([1, dim], 'f32', 'out');
      ctx.run([makeRmsNorm(ctx, ctx.tensor([1, dim], 'f32', 'x', x), ctx.tensor([dim], 'f32', 'w', w), out, eps)]);
      expect(relativeError(await ctx.readF32(out), rmsNormReference(x, w, 1, dim, eps))).toBeLessThan(1e-5);
    }
  });

  it('fuses the residual add: same bits as add then rmsnorm, odd sizes, poisoned output', async () => {
    const ctx = await gpu();
    for (const [rows, dim] of [[1, randomInt(3, 900) | 1], [randomInt(2, 30) | 1, randomInt(3, 700) | 1], [3, 2304], [2, randomInt(4200, 6000) | 1]]) {
      const x = randomArray(rows * dim, 3), res = randomArray(rows * dim, 2), w = randomArray(dim);
      const fusedX = ctx.tensor([rows, dim], 'f32', 'x', x), fusedOut = ctx.tensor([rows, dim], 'f32', 'out');
      const pairX = ctx.tensor([rows, dim], 'f32', 'x2', x), pairOut = ctx.tensor([rows, dim], 'f32', 'out2');
      const tr = ctx.tensor([rows, dim], 'f32', 'res', res), tw = ctx.tensor([dim], 'f32', 'w', w);
      ctx.fill(fusedOut, NaN);
      ctx.run([makeAddRmsNorm(ctx, fusedX, tr, tw, fusedOut, 1e-6)]);
      ctx.run([makeAdd(ctx, pairX, tr), makeRmsNorm(ctx, pairX, tw, pairOut, 1e-6)]);
      const sum = addReference(x, res);
      const [gotX, gotOut] = [await ctx.readF32(fusedX), await ctx.readF32(fusedOut)];
      expect(Array.from(gotX)).toEqual(Array.from(await ctx.readF32(pairX)));
      expect(Array.from(gotOut)).toEqual(Array.from(await ctx.readF32(pairOut)));
      expect(Array.from(gotX)).toEqual(Array.from(sum));
      expect(relativeError(gotOut, rmsNormReference(sum, w, rows, dim, 1e-6))).toBeLessThan(1e-5);
    }
  });
});
