// The decode expert FFN in one dispatch (expert-ffn-fused.wgsl) + the sliced combine, against the f64 scalar
// reference and against the two-dispatch pair (gate|up|SwiGLU, down, combine): fresh random operands, D and I
// multiples of the 16-byte chunk but ragged against the slice height and the rows per pass, NaN-poisoned
// partials with a spare row, with and without the shared expert slot, f32 and f16 weights. Then the tiny engine
// decodes the same logits with CTXBENCH_EXPERT_FFN=fused (one dispatch fewer per MoE layer) as by default.
import { afterAll, describe, expect, it } from 'vitest';
import { expertFfnFusedReason, expertFfnSlices, makeExpertFfnFused, type ExpertFfnFusedPlan } from '../../src/kernels/moe/expert-ffn-fused.js';
import { expertGemvReference, makeExpertGemv, makeExpertGemvSwiGlu } from '../../src/kernels/moe/expert-gemv.js';
import { makeMoeCombine } from '../../src/kernels/moe/combine.js';
import { swiGluReference } from '../../src/kernels/elementwise/swiglu.js';
import { Engine } from '../../src/engine/engine.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';
import { tinyConfig } from '../gpu/tiny-config.js';
import { prefillThenDecode } from '../engine/decode-replay.js';

const concat = (a: Float32Array, b: Float32Array) => { const c = new Float32Array(a.length + b.length); c.set(a); c.set(b, a.length); return c; };

describe('moe/expert-ffn-fused', () => {
  const plans: ExpertFfnFusedPlan[] = [{ rowsPerSubgroup: 2, subgroupsPerWorkgroup: 16 }, { rowsPerSubgroup: 2, subgroupsPerWorkgroup: 4 }];
  for (const dtype of ['f32', 'f16'] as const) {
    for (const withShared of [false, true]) {
      it(`partials + sliced combine match the reference and the pair (${dtype}, ${withShared ? 'shared slot' : 'routed only'})`, async () => {
        const ctx = await gpu();
        const chunk = dtype === 'f16' ? 8 : 4, f16 = dtype === 'f16';
        for (const plan of plans) {
          const E = randomInt(3, 6), topK = randomInt(2, 3), T = randomInt(1, 2);
          const D = chunk * randomInt(3, 23), I = chunk * randomInt(2, 13);
          const routed = T * topK, rows = withShared ? T * (topK + 1) : routed, slices = expertFfnSlices(I, plan);
          const x = randomArray(T * D), res = randomArray(T * D), rw = randomArray(routed);
          const wg = randomArray(E * I * D), wu = randomArray(E * I * D), wd = randomArray(E * D * I);
          const sg = randomArray(I * D), su = randomArray(I * D), sd = randomArray(D * I);
          const ids = Array.from({ length: routed }, () => randomInt(0, E - 1));
          const w = { gate: ctx.tensor([E, I, D], dtype, 'wg', wg), up: ctx.tensor([E, I, D], dtype, 'wu', wu), down: ctx.tensor([E, D, I], dtype, 'wd', wd) };
          const shared = withShared ? { gate: ctx.tensor([I, D], dtype, 'sg', sg), up: ctx.tensor([I, D], dtype, 'su', su), down: ctx.tensor([D, I], dtype, 'sd', sd) } : undefined;
          const what = `${dtype} BI=${plan.rowsPerSubgroup * plan.subgroupsPerWorkgroup} E=${E} topK=${topK} T=${T} D=${D} I=${I}`;
          expect(expertFfnFusedReason(ctx, w, shared, plan), what).toBeUndefined();
          const xT = ctx.tensor([T, D], 'f32', 'x', x), idsT = ctx.tensor([routed], 'u32', 'ids', ids), rwT = ctx.tensor([routed], 'f32', 'rw', rw);
          const partials = ctx.tensor([rows * slices + 1, D], 'f32', 'partials');
          ctx.fill(partials, NaN);
          const resFused = ctx.tensor([T, D], 'f32', 'resFused', res), resPair = ctx.tensor([T, D], 'f32', 'resPair', res);
          const mid = ctx.tensor([rows, I], 'f32', 'mid'), out = ctx.tensor([rows, D], 'f32', 'out');
          ctx.run([
            makeExpertFfnFused(ctx, xT, w, idsT, partials, routed, topK, shared, plan),
            makeMoeCombine(ctx, resFused, partials, rwT, null, T, topK, shared ? 'slot' : undefined, slices),
            ...makeExpertGemvSwiGlu(ctx, xT, w.gate, w.up, idsT, mid, routed, topK, undefined, shared),
            ...makeExpertGemv(ctx, mid, w.down, idsT, out, routed, topK, false, undefined, shared?.down),
            makeMoeCombine(ctx, resPair, out, rwT, null, T, topK, shared ? 'slot' : undefined),
          ]);
          // Reference: the shared expert as expert E, topK + 1 slots per token.
          const k = withShared ? topK + 1 : topK;
          const idsExt = Array.from({ length: rows }, (_, s) => (s % k === topK ? E : ids[Math.floor(s / k) * topK + (s % k)]));
          const [g, u, d] = withShared ? [concat(wg, sg), concat(wu, su), concat(wd, sd)] : [wg, wu, wd];
          const h = swiGluReference(expertGemvReference(x, g, idsExt, rows, k, true, I, D, f16), expertGemvReference(x, u, idsExt, rows, k, true, I, D, f16));
          const ed = expertGemvReference(h, d, idsExt, rows, k, false, D, I, f16);
          const got = await ctx.readF32(partials);
          const summed = new Float32Array(rows * D);
          for (let r = 0; r < rows; r++) for (let s = 0; s < slices; s++) for (let n = 0; n < D; n++) summed[r * D + n] += got[(r * slices + s) * D + n];
          expect(relativeError(summed, ed), `partials ${what}`).toBeLessThan(1e-4);
          expect(got.subarray(rows * slices * D).every(Number.isNaN), `spare row ${what}`).toBe(true);
          const refRes = Float64Array.from(res);
          for (let t = 0; t < T; t++) {
            for (let j = 0; j < k; j++) {
              const weight = j === topK ? 1 : rw[t * topK + j];
              for (let n = 0; n < D; n++) refRes[t * D + n] += weight * ed[(t * k + j) * D + n];
            }
          }
          const fused = await ctx.readF32(resFused);
          expect(relativeError(fused, refRes), `combined ${what}`).toBeLessThan(1e-4);
          expect(relativeError(fused, await ctx.readF32(resPair)), `vs pair ${what}`).toBeLessThan(1e-4);
        }
      });
    }
  }

  it('says why it cannot run (dtype mix, split stack, odd I, tiling) and throws in one line', async () => {
    const ctx = await gpu();
    const w = { gate: ctx.tensor([3, 16, 24], 'f16', 'g'), up: ctx.tensor([3, 16, 24], 'f16', 'u'), down: ctx.tensor([3, 24, 16], 'f16', 'd') };
    expect(expertFfnFusedReason(ctx, w)).toBeUndefined();
    expect(expertFfnFusedReason(ctx, { ...w, down: ctx.tensor([3, 24, 16], 'f32', 'd32') })).toBe('mixed weight dtypes');
    const halves = [ctx.tensor([2, 16, 24], 'f16', 'a'), ctx.tensor([1, 16, 24], 'f16', 'b')];
    expect(expertFfnFusedReason(ctx, { ...w, up: { shape: [3, 16, 24], dtype: 'f16', parts: halves, rowStarts: [0, 2], label: 'usplit' } })).toBe('usplit spans several bindings');
    const odd = { gate: ctx.tensor([3, 12, 24], 'f16', 'g'), up: ctx.tensor([3, 12, 24], 'f16', 'u'), down: ctx.tensor([3, 24, 12], 'f16', 'd') };
    expect(expertFfnFusedReason(ctx, odd)).toBe('D=24 and I=12 must be multiples of 8');
    expect(expertFfnFusedReason(ctx, w, undefined, { rowsPerSubgroup: 3, subgroupsPerWorkgroup: 4 })).toMatch(/BI=12 is not a power-of-two/);
    const x = ctx.tensor([1, 24], 'f32', 'x'), ids = ctx.tensor([2], 'u32', 'ids');
    expect(() => makeExpertFfnFused(ctx, x, odd, ids, ctx.tensor([8, 24], 'f32', 'p'), 2, 2)).toThrow(/^expert ffn fused: D=24 and I=12/);
    expect(() => makeExpertFfnFused(ctx, x, w, ids, ctx.tensor([1, 24], 'f32', 'p'), 2, 2)).toThrow(/expected at least \[2, 24\]/);
  });
});

describe('engine: CTXBENCH_EXPERT_FFN=fused', () => {
  const engines: Engine[] = [];
  afterAll(async () => { for (const e of engines) await e.close(); });

  it('decodes the default path\'s logits with one dispatch fewer per MoE layer; unknown values throw', async () => {
    const seed = Math.floor(Math.random() * 1e6);
    // I = 16 and D = 40: whole 16-byte chunks for f32 weights, so the fused kernel can run.
    const config = tinyConfig({ moe: { ...tinyConfig().moe, intermediateSize: 16 } });
    const load = async () => { const e = await Engine.load({ randomConfig: config, seed }, { matmulDtype: 'f32', pieceTokens: 16 }); engines.push(e); return e; };
    const [a, b] = [await load(), await load()];
    const V = config.vocabSize;
    const prompt = Array.from({ length: 24 }, () => Math.floor(Math.random() * (V - 1)));
    const withEnv = async <R>(value: string | undefined, f: () => Promise<R>): Promise<R> => {
      const before = process.env.CTXBENCH_EXPERT_FFN;
      if (value === undefined) delete process.env.CTXBENCH_EXPERT_FFN; else process.env.CTXBENCH_EXPERT_FFN = value;
      try { return await f(); } finally { if (before === undefined) delete process.env.CTXBENCH_EXPERT_FFN; else process.env.CTXBENCH_EXPERT_FFN = before; }
    };
    const fused = await withEnv('fused', () => prefillThenDecode(a, prompt, [16], V, false));
    const pair = await withEnv(undefined, () => prefillThenDecode(b, prompt, [16], V, false));
    const moeLayers = config.mlpKinds.filter((k) => k === 'moe').length;
    expect(pair.dispatches - fused.dispatches).toBe(moeLayers);
    expect(fused.logits.length).toBe(prompt.length - 16);
    fused.logits.forEach((row, j) => {
      expect(row.every(Number.isFinite)).toBe(true);
      expect(relativeError(row, pair.logits[j]), `step ${j}`).toBeLessThan(1e-4);
    });
    await expect(withEnv('bogus', () => prefillThenDecode(a, prompt, [16], V, false))).rejects.toThrow(/^CTXBENCH_EXPERT_FFN must be pair or fused \(got bogus\)$/);
  });
});
