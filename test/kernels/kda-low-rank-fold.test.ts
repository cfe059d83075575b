// Randomized WebGPU tests of the decode low-rank fold (kda-low-rank-fold.ts): kdaPrepare computing f = f_b · f_a h
// and kdaGatedRmsNorm computing z = g_b · g_a h themselves, f16 and f32 weights, against the scalar references fed
// the projection computed in f64 (fresh inputs, odd sizes, low-rank inputs as strided views, poisoned outputs).
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/engine/gpu/half.js';
import { kdaGatedRmsNormReference, kdaPrepareReference } from '../../src/kernels/kda/kda-reference.js';
import { kdaPrepare } from '../../src/kernels/kda/kda-prepare.js';
import { kdaGatedRmsNorm } from '../../src/kernels/kda/kda-gated-norm.js';
import { foldableLowRankWeight, lowRankFoldReason } from '../../src/kernels/kda/kda-low-rank-fold.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

function poisoned(ctx: GpuContext, shape: number[], label: string) {
  const t = ctx.tensor(shape, 'f32', label);
  ctx.fill(t, NaN);
  return t;
}

/** A random low-rank projection: weight [N, K] (values as stored), input rows inside a wider buffer, and W·x in f64. */
function lowRankCase(ctx: GpuContext, dtype: 'f16' | 'f32', T: number, N: number, K: number) {
  const raw = randomArray(N * K, 0.3);
  const w = dtype === 'f16' ? raw.map((x) => f16BitsToF32(f32ToF16Bits(x))) : raw;
  const lead = randomInt(0, 5), stride = lead + K + randomInt(0, 6);
  const wide = randomArray(T * stride, 2);
  const value = new Float32Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += w[n * K + k] * wide[t * stride + lead + k];
      value[t * N + n] = acc;
    }
  }
  return {
    projection: { weight: ctx.tensor([N, K], dtype, `W ${dtype}`, raw), input: { tensor: ctx.tensor([T, stride], 'f32', 'lowrank in', wide), offset: lead, rowStride: stride } },
    value,
  };
}

const cases = [
  { dtype: 'f16' as const, K: () => 8 * randomInt(1, 20) },
  { dtype: 'f32' as const, K: () => randomInt(3, 70) | 1 },
];

describe('kda low-rank fold', () => {
  for (const { dtype, K: pickK } of cases) {
    it(`kdaPrepare computes f from ${dtype} f_b and f_a h like the separate projection`, async () => {
      const ctx = await gpu();
      const T = randomInt(1, 5) | 1, H = randomInt(2, 5), dk = randomInt(5, 150) | 1, P = H * dk, K = pickK();
      const q = randomArray(T * P, 3), k = randomArray(T * P, 3), b = randomArray(T * H, 4);
      const aLog = randomArray(H, Math.log(16)), dt = randomArray(P, 2);
      const f = lowRankCase(ctx, dtype, T, P, K);
      const outs = { qOut: poisoned(ctx, [T, H, dk], 'qn'), kOut: poisoned(ctx, [T, H, dk], 'kn'), gOut: poisoned(ctx, [T, H, dk], 'g'), betaOut: poisoned(ctx, [T, H], 'beta') };
      ctx.run([kdaPrepare(ctx, {
        q: ctx.tensor([T, P], 'f32', 'q', q), k: ctx.tensor([T, P], 'f32', 'k', k), f: f.projection, b: ctx.tensor([T, H], 'f32', 'b', b),
        aLog: ctx.tensor([1, 1, H, 1], 'f32', 'A_log', aLog), dtBias: ctx.tensor([P], 'f32', 'dt_bias', dt), ...outs, T, H, dk,
      })]);
      const ref = kdaPrepareReference(q, k, f.value, b, aLog, dt, T, H, dk);
      expect(relativeError(await ctx.readF32(outs.qOut), ref.q)).toBeLessThan(1e-5);
      expect(relativeError(await ctx.readF32(outs.kOut), ref.k)).toBeLessThan(1e-5);
      expect(relativeError(await ctx.readF32(outs.gOut), ref.g)).toBeLessThan(1e-5);
      expect(relativeError(await ctx.readF32(outs.betaOut), ref.beta)).toBeLessThan(1e-5);
    });

    it(`kdaGatedRmsNorm computes z from ${dtype} g_b and g_a h like the separate projection`, async () => {
      const ctx = await gpu();
      const T = randomInt(1, 5) | 1, H = randomInt(1, 4), dv = randomInt(3, 150) | 1, P = H * dv, K = pickK();
      const o = randomArray(T * P, 3), w = randomArray(dv);
      const z = lowRankCase(ctx, dtype, T, P, K);
      const y = poisoned(ctx, [T, P], 'y');
      ctx.run([kdaGatedRmsNorm(ctx, {
        o: ctx.tensor([T, H, dv], 'f32', 'o', o), z: z.projection, weight: ctx.tensor([dv], 'f32', 'w', w), y, T, H, dv, eps: 1e-5,
      })]);
      expect(relativeError(await ctx.readF32(y), kdaGatedRmsNormReference(o, z.value, w, T * H, dv, 1e-5))).toBeLessThan(1e-5);
    });
  }

  it('refuses weights it cannot fold with a reason', async () => {
    const ctx = await gpu();
    expect(lowRankFoldReason(ctx.tensor([16, 12], 'f16', 'odd K'))).toMatch(/K % 8/);
    expect(lowRankFoldReason({ parts: [] })).toMatch(/several bindings/);
    expect(lowRankFoldReason(ctx.tensor([16, 16], 'f16', 'ok'))).toBeUndefined();
    // Engine weights are row splits; one part folds as its tensor.
    const split = ctx.arena.allocRowSplit([16, 16], 'f16', 'split');
    expect(foldableLowRankWeight(split)).toBe(split.parts[0]);
    const H = 2, dv = 8;
    expect(() => kdaGatedRmsNorm(ctx, {
      o: ctx.tensor([1, H, dv], 'f32', 'o'), z: { weight: ctx.tensor([H * dv + 1, 8], 'f16', 'gb'), input: ctx.tensor([1, 8], 'f32', 'ga') },
      weight: ctx.tensor([dv], 'f32', 'w'), y: ctx.tensor([1, H * dv], 'f32', 'y'), T: 1, H, dv, eps: 1e-5,
    })).toThrow(/rows, expected/);
  });
});
