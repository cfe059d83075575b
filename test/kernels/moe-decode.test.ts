import { describe, expect, it } from 'vitest';
import { makeAdd } from '../../src/kernels/elementwise/add.js';
import { makeExpertGemv } from '../../src/kernels/moe/expert-gemv.js';
import { makeMoeCombine } from '../../src/kernels/moe/combine.js';
import { moeRouteReference } from '../../src/kernels/moe/route.js';
import { linearReference, type GpuWeight } from '../../src/kernels/linalg/matmul.js';
import { makeSwiGlu, swiGluReference } from '../../src/kernels/elementwise/swiglu.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/engine/gpu/half.js';
import { rowsView } from '../../src/engine/gpu/arena.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

const roundF16 = (a: Float32Array) => a.map((v) => f16BitsToF32(f32ToF16Bits(v)));
const opts = { topK: 3, renormalize: true, routedScalingFactor: 2.446 };

// The decode path of the MoE: per-slot expert GEMVs (only the chosen experts' rows) and the slot-order combine.
describe('moe decode path', () => {
  const cases = [
    { name: 'f32, odd sizes (element loads)', dtype: 'f32' as const, H: () => randomInt(9, 41) | 1, I: () => randomInt(5, 31) | 1 },
    { name: 'f32, sizes divisible by 4 (vec4 loads)', dtype: 'f32' as const, H: () => 4 * randomInt(3, 12), I: () => 4 * randomInt(2, 9) },
    { name: 'f16, sizes divisible by 8 (16-byte loads)', dtype: 'f16' as const, H: () => 8 * randomInt(2, 7), I: () => 8 * randomInt(1, 5) },
    { name: 'f16, odd sizes', dtype: 'f16' as const, H: () => 2 * randomInt(5, 20) + 1, I: () => 2 * randomInt(3, 12) + 1 },
  ];
  for (const c of cases) {
    for (const splitExperts of [false, true]) {
      it(`matches the scalar MoE for ${c.name}${splitExperts ? ', experts split over bindings' : ''}`, async () => {
        const ctx = await gpu();
        const T = randomInt(1, 4), E = 7, H = c.H(), I = c.I();
        const weightData = (n: number) => (c.dtype === 'f16' ? roundF16(randomArray(n)) : randomArray(n));
        const x = randomArray(T * H), residual = randomArray(T * H), shared = randomArray(T * H);
        const w1 = weightData(E * I * H), w3 = weightData(E * I * H), w2 = weightData(E * H * I);
        const ref = moeRouteReference(randomArray(T * E, 3), randomArray(E, 0.3), T, E, opts);
        const stacked = (data: Float32Array, n: number, k: number, label: string): GpuWeight => {
          if (!splitExperts) return ctx.tensor([E, n, k], c.dtype, label, data);
          const parts = [0, 3].map((e0) => {
            const ne = e0 === 0 ? 3 : E - 3;
            return ctx.tensor([ne, n, k], c.dtype, `${label}${e0}`, data.subarray(e0 * n * k, (e0 + ne) * n * k));
          });
          return { shape: [E, n, k], dtype: c.dtype, parts, rowStarts: [0, 3], label };
        };
        const S = T * 3;
        const ids = ctx.tensor([S], 'u32', 'ids', ref.ids);
        const gate = ctx.tensor([S, I], 'f32', 'gate'), up = ctx.tensor([S, I], 'f32', 'up');
        const mid = ctx.tensor([S, I], 'f32', 'mid'), down = ctx.tensor([S, H], 'f32', 'down');
        for (const t of [gate, up, mid, down]) ctx.fill(t, NaN);
        const tr = ctx.tensor([T, H], 'f32', 'residual', residual);
        ctx.run([
          ...makeExpertGemv(ctx, ctx.tensor([T, H], 'f32', 'x', x), stacked(w1, I, H, 'w1'), ids, gate, S, 3, true),
          ...makeExpertGemv(ctx, ctx.tensor([T, H], 'f32', 'x2', x), stacked(w3, I, H, 'w3'), ids, up, S, 3, true),
          makeSwiGlu(ctx, gate, up, mid),
          ...makeExpertGemv(ctx, mid, stacked(w2, H, I, 'w2'), ids, down, S, 3, false),
          makeMoeCombine(ctx, tr, down, ctx.tensor([S], 'f32', 'rw', ref.weights), null, T, 3, ctx.tensor([T, H], 'f32', 'shared', shared)),
        ]);
        const expected = Float32Array.from(residual);
        const expectedGate = new Float32Array(S * I);
        for (let t = 0; t < T; t++) {
          const xt = x.subarray(t * H, (t + 1) * H);
          for (let j = 0; j < 3; j++) {
            const e = ref.ids[t * 3 + j];
            const g = linearReference(xt, w1.subarray(e * I * H, (e + 1) * I * H), 1, I, H);
            expectedGate.set(g, (t * 3 + j) * I);
            const u = linearReference(xt, w3.subarray(e * I * H, (e + 1) * I * H), 1, I, H);
            const y = linearReference(swiGluReference(g, u), w2.subarray(e * H * I, (e + 1) * H * I), 1, H, I);
            for (let i = 0; i < H; i++) expected[t * H + i] += ref.weights[t * 3 + j] * y[i];
          }
          for (let i = 0; i < H; i++) expected[t * H + i] += shared[t * H + i];
        }
        // Every slot row was written (the NaN poison is gone) and equals its expert's projection.
        expect(relativeError(await ctx.readF32(gate), expectedGate)).toBeLessThan(1e-5);
        expect(relativeError(await ctx.readF32(tr), expected)).toBeLessThan(1e-5);
      });
    }
  }

  it("combine with the shared expert as each token's last slot row (weight 1) equals the separate shared add", async () => {
    const ctx = await gpu();
    const T = randomInt(1, 4), topK = randomInt(1, 4), H = randomInt(5, 150) | 1;
    const expertRows = randomArray(T * (topK + 1) * H), weights = randomArray(T * topK), residual = randomArray(T * H);
    const tr = ctx.tensor([T, H], 'f32', 'residual', residual);
    // Two spare rows past the slots, poisoned: the combine must not read them.
    const rows = ctx.tensor([T * (topK + 1) + 2, H], 'f32', 'rows');
    ctx.fill(rows, NaN);
    ctx.upload(rowsView(rows, T * (topK + 1)), expertRows);
    ctx.run([makeMoeCombine(ctx, tr, rows, ctx.tensor([T * topK], 'f32', 'rw', weights), null, T, topK, 'slot')]);
    const expected = Float32Array.from(residual);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < H; i++) {
        let acc = 0;
        for (let j = 0; j < topK; j++) acc += weights[t * topK + j] * expertRows[(t * (topK + 1) + j) * H + i];
        expected[t * H + i] += acc + expertRows[(t * (topK + 1) + topK) * H + i];
      }
    }
    expect(relativeError(await ctx.readF32(tr), expected), `T=${T} topK=${topK} H=${H}`).toBeLessThan(1e-6);
    expect(() => makeMoeCombine(ctx, tr, rows, ctx.tensor([T * topK], 'f32', 'rw2'), ctx.tensor([T * topK], 'u32', 'sp'), T, topK, 'slot'))
      .toThrow(/shared slot needs expert rows in slot order/);
    // With the attention branch still pending (a folded post-attention norm): x ← (x + attn) + the sum, the same
    // two f32 adds as the residual add followed by the plain combine.
    const attn = randomArray(T * H);
    const x2 = ctx.tensor([T, H], 'f32', 'x2', residual), pairX = ctx.tensor([T, H], 'f32', 'x3', residual);
    const rw = ctx.tensor([T * topK], 'f32', 'rw3', weights), ta = ctx.tensor([T, H], 'f32', 'attn', attn);
    ctx.run([makeMoeCombine(ctx, x2, rows, rw, null, T, topK, 'slot', ta)]);
    ctx.run([makeAdd(ctx, pairX, ta), makeMoeCombine(ctx, pairX, rows, rw, null, T, topK, 'slot')]);
    expect(Array.from(await ctx.readF32(x2))).toEqual(Array.from(await ctx.readF32(pairX)));
    expect(() => makeMoeCombine(ctx, x2, rows, rw, null, T, topK, 'slot', x2)).toThrow(/shaped as x and apart from it/);
  });

  it('rejects mismatched shapes with a clear error', async () => {
    const ctx = await gpu();
    const w = ctx.tensor([3, 8, 16], 'f32', 'w');
    const ids = ctx.tensor([2], 'u32', 'ids');
    expect(() => makeExpertGemv(ctx, ctx.tensor([1, 12], 'f32', 'x'), w, ids, ctx.tensor([2, 8], 'f32', 'o'), 2, 2, true))
      .toThrow(/x has 12 columns, w expects 16/);
    expect(() => makeExpertGemv(ctx, ctx.tensor([1, 16], 'f32', 'x'), w, ids, ctx.tensor([1, 8], 'f32', 'o'), 2, 2, true))
      .toThrow(/expected at least \[2, 8\]/);
  });
});
