import { describe, expect, it } from 'vitest';
import { argmaxReference, argmaxScratchWords, makeArgmax } from '../../src/kernels/sampling/argmax.js';
import { makeTopPSample, TOP_P_SCRATCH_WORDS, topPReference } from '../../src/kernels/sampling/top-p.js';
import { gpu, randomArray, randomInt } from '../gpu/context.js';

describe('sampling', () => {
  it('argmax picks the reference token on random odd vocabularies (one and many candidate blocks)', async () => {
    const ctx = await gpu();
    for (const maxV of [900, 5000, 70000]) {
      const V = randomInt(50, maxV) | 1;
      const logits = randomArray(V * 2, 10);
      const tokens = ctx.tensor([3], 'u32', 'tokens', [7, 7, 7]);
      const scratch = ctx.tensor([argmaxScratchWords(V) + 2], 'u32', 'scratch');
      ctx.fill(scratch, 0xdeadbeef);
      ctx.run(makeArgmax(ctx, ctx.tensor([2, V], 'f32', 'logits', logits), tokens, scratch, 1, 2));
      const got = await ctx.read(tokens);
      expect(got[2]).toBe(argmaxReference(logits.subarray(V)));
      expect(got[0]).toBe(7);
    }
  });

  it('argmax ties go to the lower id, across candidate blocks too', async () => {
    const ctx = await gpu();
    const V = 5000;
    const logits = randomArray(V, 1);
    for (const i of [4100, 1500, 3000]) logits[i] = 5; // 1500 and 3000 sit in other 1024-logit blocks than 4100
    const tokens = ctx.tensor([1], 'u32', 'tokens');
    const scratch = ctx.tensor([argmaxScratchWords(V)], 'u32', 'scratch');
    ctx.run(makeArgmax(ctx, ctx.tensor([1, V], 'f32', 'logits', logits), tokens, scratch));
    expect((await ctx.read(tokens))[0]).toBe(1500);
    expect(() => makeArgmax(ctx, ctx.tensor([1, V], 'f32', 'logits2'), tokens, ctx.tensor([2], 'u32', 'small'))).toThrow(/fewer than 5 candidates/);
  });

  // Peaked logits (a few tokens far above the rest) take the candidate path; a wide flat vocabulary (more
  // candidates than fit) and candidates = 0 the whole-vocabulary bisection; top_p = 1 skips the search.
  for (const [shape, topP, candidates] of [['peaked', 0.8, undefined], ['wide flat', 0.8, undefined], ['peaked', 0.8, 0], ['wide flat', 1, undefined]] as const) {
    it(`top-p samples inside the nucleus at the position the draw selects (${shape} logits, top_p ${topP}${candidates === 0 ? ', no candidate path' : ''})`, async () => {
      const ctx = await gpu();
      const V = shape === 'peaked' ? randomInt(300, 3000) | 1 : randomInt(20000, 30000) | 1;
      const logits = randomArray(V, shape === 'peaked' ? 4 : 0.5);
      if (shape === 'peaked') for (let j = 0; j < 12; j++) logits[randomInt(0, V - 1)] += 12;
      const opts = { temperature: 0.7, topP };
      const ref = topPReference(logits, opts);
      const tLogits = ctx.tensor([1, V], 'f32', 'logits', logits);
      const draw = ctx.tensor([1], 'f32', 'u');
      const tokens = ctx.tensor([1], 'u32', 'tokens');
      const scratch = ctx.tensor([TOP_P_SCRATCH_WORDS], 'u32', 'scratch');
      ctx.fill(scratch, 0xffffffff);
      const spec = makeTopPSample(ctx, tLogits, draw, tokens, scratch, opts, 0, 0, undefined, candidates);
      const ids = [...ref.nucleus].sort((a, b) => a - b);
      for (const u of [0, Math.random(), Math.random(), 0.999999]) {
        ctx.upload(draw, [u]);
        ctx.fill(tokens, 0xffffffff);
        ctx.run([spec]);
        const token = (await ctx.read(tokens))[0];
        expect(ref.nucleus.has(token)).toBe(true);
        // Nucleus mass before the token (in id order) is ≤ u·mass ≤ mass through it, up to f32 rounding.
        let before = 0;
        for (const i of ids) { if (i === token) break; before += ref.p[i]; }
        expect(before).toBeLessThanOrEqual(u * ref.mass + 1e-3 * ref.mass);
        expect(before + ref.p[token]).toBeGreaterThanOrEqual(u * ref.mass - 1e-3 * ref.mass);
      }
      // The first candidate slot names a token only where the candidate path ran.
      const firstId = (await ctx.read(scratch))[1];
      if (shape === 'peaked' && candidates === undefined) expect(firstId).toBeLessThan(V);
      else expect(firstId).toBe(0xffffffff);
    });
  }

  it('top-p with top_p → 0 is greedy, and rejects temperature 0', async () => {
    const ctx = await gpu();
    const V = 1001;
    const logits = randomArray(V, 5);
    const draw = ctx.tensor([1], 'f32', 'u', [0.5]);
    const tokens = ctx.tensor([1], 'u32', 'tokens');
    const tLogits = ctx.tensor([1, V], 'f32', 'logits', logits);
    const scratch = ctx.tensor([TOP_P_SCRATCH_WORDS], 'u32', 'scratch');
    ctx.run([makeTopPSample(ctx, tLogits, draw, tokens, scratch, { temperature: 1, topP: 1e-6 })]);
    expect((await ctx.read(tokens))[0]).toBe(argmaxReference(logits));
    expect(() => makeTopPSample(ctx, tLogits, draw, tokens, scratch, { temperature: 0, topP: 1 })).toThrow(/temperature > 0/);
    expect(() => makeTopPSample(ctx, tLogits, draw, tokens, ctx.tensor([8], 'u32', 'small'), { temperature: 1, topP: 0.5 })).toThrow(/fewer than 8192 candidate pairs/);
  });
});
