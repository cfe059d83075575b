// kdaPreparedRecurrentStep (kda-recurrent.wgsl PREPARE): one decode token's kdaPrepare and delta-rule step in one
// dispatch, against the two dispatches over the same inputs (fresh random values, odd H, dk and dv, the gate
// dense as a strided view or folded from f16 / f32 low-rank weights, poisoned output): same output and state.
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { kdaPrepare } from '../../src/kernels/kda/kda-prepare.js';
import { kdaPreparedRecurrentStep, kdaRecurrentStep } from '../../src/kernels/kda/kda-recurrent.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

function poisoned(ctx: GpuContext, shape: number[], label: string) {
  const t = ctx.tensor(shape, 'f32', label);
  ctx.fill(t, NaN);
  return t;
}

describe('kda/kda-recurrent PREPARE', () => {
  for (const gate of ['dense', 'low-rank f16', 'low-rank f32'] as const) {
    it(`one dispatch equals kdaPrepare + kdaRecurrentStep (${gate} gate)`, async () => {
      const ctx = await gpu();
      const H = randomInt(1, 4), dk = [randomInt(3, 40) | 1, 8 * randomInt(1, 16)][randomInt(0, 1)], dv = randomInt(3, 90) | 1;
      const P = H * dk, K = gate === 'low-rank f16' ? 8 * randomInt(1, 6) : randomInt(3, 40);
      // Post-conv q, k and the b row as views into wider fused rows (as the decode step hands them over).
      const lead = randomInt(0, 7), width = lead + 2 * P + H + randomInt(0, 5);
      const row = randomArray(width, 3), v = randomArray(H * dv, 2), state = randomArray(H * dk * dv, 0.5);
      const fused = ctx.tensor([1, width], 'f32', 'fused', row);
      const q = { tensor: fused, offset: lead, rowStride: width }, k = { tensor: fused, offset: lead + P, rowStride: width };
      const b = { tensor: fused, offset: lead + 2 * P, rowStride: width };
      const f = gate === 'dense'
        ? { tensor: ctx.tensor([1, P + 3], 'f32', 'f', randomArray(P + 3, 2)), offset: 3, rowStride: P + 3 }
        : { weight: ctx.tensor([P, K], gate === 'low-rank f16' ? 'f16' : 'f32', 'f_b', randomArray(P * K, 0.3)), input: ctx.tensor([1, K], 'f32', 'f_a h', randomArray(K, 2)) };
      const common = {
        q, k, f, b, aLog: ctx.tensor([1, 1, H, 1], 'f32', 'A_log', randomArray(H, Math.log(16))),
        dtBias: ctx.tensor([P], 'f32', 'dt_bias', randomArray(P, 2)), H, dk,
      };
      const vT = ctx.tensor([1, H * dv], 'f32', 'v', v);
      // Two dispatches.
      const qn = poisoned(ctx, [1, H, dk], 'qn'), kn = poisoned(ctx, [1, H, dk], 'kn'), g = poisoned(ctx, [1, H, dk], 'g'), beta = poisoned(ctx, [1, H], 'beta');
      const stateA = ctx.tensor([H, dk, dv], 'f32', 'stateA', state), outA = poisoned(ctx, [1, H, dv], 'outA');
      ctx.run([
        kdaPrepare(ctx, { ...common, qOut: qn, kOut: kn, gOut: g, betaOut: beta, T: 1 }),
        kdaRecurrentStep(ctx, { q: qn, k: kn, g, beta, v: vT, state: stateA, out: outA, T: 1, H, dk, dv }),
      ]);
      // One.
      const stateB = ctx.tensor([H, dk, dv], 'f32', 'stateB', state), outB = poisoned(ctx, [1, H, dv], 'outB');
      const spec = kdaPreparedRecurrentStep(ctx, { ...common, v: vT, state: stateB, out: outB, dv });
      ctx.run([spec]);
      const [gotOut, wantOut] = [await ctx.readF32(outB), await ctx.readF32(outA)];
      const what = `${gate} H=${H} dk=${dk} dv=${dv} K=${K}`;
      expect(gotOut.every(Number.isFinite), what).toBe(true);
      expect(relativeError(gotOut, wantOut), what).toBeLessThan(1e-5);
      expect(relativeError(await ctx.readF32(stateB), await ctx.readF32(stateA)), what).toBeLessThan(1e-5);
    });
  }

  it('rejects mismatched operands with the kernel name', async () => {
    const ctx = await gpu();
    const H = 2, dk = 8, dv = 5;
    const args = {
      q: ctx.tensor([1, H * dk], 'f32', 'q'), k: ctx.tensor([1, H * dk], 'f32', 'k'), f: ctx.tensor([1, H * dk], 'f32', 'f'),
      b: ctx.tensor([1, H], 'f32', 'b'), aLog: ctx.tensor([H], 'f32', 'A_log'), dtBias: ctx.tensor([H * dk], 'f32', 'dt'),
      v: ctx.tensor([1, H * dv], 'f32', 'v'), state: ctx.tensor([H, dk, dv], 'f32', 'S'), out: ctx.tensor([1, H * dv], 'f32', 'o'), H, dk, dv,
    };
    expect(() => kdaPreparedRecurrentStep(ctx, { ...args, state: ctx.tensor([H, dk, dv - 1], 'f32', 'S2') })).toThrow(/kdaPreparedRecurrentStep: state/);
    expect(() => kdaPreparedRecurrentStep(ctx, { ...args, out: args.state })).toThrow(/different buffers|out/);
  });
});
