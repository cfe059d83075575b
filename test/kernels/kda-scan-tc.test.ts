// The tensor-core KDA scan (kda-chunk-split16 + kda-chunk-scan-tc) on lavapipe: with EMULATE its subgroup-matrix
// builtins are scalar code over the same split operands, scales, layouts and barriers, so everything around the
// MMAs is checked here against the f64 recurrence and the scalar scan (fresh random inputs, dims that are
// multiples of 16, T not a multiple of the chunk, poisoned outputs and scratch). The real builtins run only on
// the GPU machine: tools/device/kda-scan-tc-check.mjs. Small cases (a few seconds) run by default: the first
// version dropped every lo part (f32(f16(x)) folded to x) and was off by 2.3e-4 even at T = 1, which they catch;
// wider dims and chunks are slower under emulation and run with CTXBENCH_KDA_EMULATE=1.
import { afterEach, describe, expect, it } from 'vitest';
import { kdaRecurrentReference } from '../../src/kernels/kda/kda-reference.js';
import { planKdaChunk, probeKdaScanTensorCores } from '../../src/kernels/kda/kda-chunk.js';
import { inputs, runScan, type ScanCase } from './kda-scan-cases.js';
import { f16BitsToF32 } from '../../src/engine/gpu/half.js';
import { gpu, randomInt, relativeError } from '../gpu/context.js';

async function compare(c: ScanCase) {
  const ctx = await gpu();
  const x = inputs(c);
  const emu = await runScan(ctx, c, x, 'emulated', { scanOperands: 'split' });
  const scalar = await runScan(ctx, c, x, 'scalar');
  expect([emu.plan.scan, emu.plan.valueSlice, scalar.plan.scan]).toEqual(['emulated', 16, 'scalar']);
  const ref = kdaRecurrentReference(x.prep, x.v, x.s0, c.T, c.H, c.dk, c.dv);
  expect(emu.out.some(Number.isNaN)).toBe(false);
  // Against f64: as good as the scalar f32 scan (which itself reaches 1e-5 on the large-state case: cancellation).
  expect(relativeError(emu.out, ref.o)).toBeLessThan(Math.max(1e-5, 4 * relativeError(scalar.out, ref.o)));
  expect(relativeError(emu.state, ref.state)).toBeLessThan(Math.max(1e-5, 4 * relativeError(scalar.state, ref.state)));
  // hi/lo splits on both sides of every product: as close to the scalar f32 scan as f32 summation order allows
  // (measured 1e-7, 2.3e-6 at worst with |S| ~ 1e6; a dropped lo part shows as ~2e-4).
  expect(relativeError(emu.out, scalar.out)).toBeLessThan(1e-5);
  expect(relativeError(emu.state, scalar.state)).toBeLessThan(1e-5);
}

const splitKernel = { name: 'kda/kda-chunk-split16', url: new URL('../../src/kernels/kda/kda-chunk-split16.wgsl', import.meta.url) };

describe('kda tensor-core scan (emulated on lavapipe)', () => {
  afterEach(() => { delete process.env.CTXBENCH_KDA_SCAN; });

  it('split pass: hi + lo gives back 2^8·x to f32 accuracy at every magnitude, rows past T zeroed', async () => {
    const ctx = await gpu();
    const H = randomInt(1, 3), dk = 16 * randomInt(1, 3), C = 16, T = randomInt(1, 15), rows = C;
    // Magnitudes from 2^-20 to 2^7 (the split's stated bound is |x| < 255), signs mixed, a few exact zeros.
    const x = Float32Array.from({ length: rows * H * dk }, (_, i) => (i % 7 === 3 ? 0 : (Math.random() < 0.5 ? -1 : 1) * 2 ** (Math.random() * 27 - 20)));
    const t = ctx.tensor([rows, H, dk], 'f32', 'x', x);
    const groups = (rows * H * dk) / 16;
    ctx.run([ctx.dispatch({ kernel: splitKernel, params: [T, H, dk, C, groups, 1], defines: { P_MATRIX: false }, bindings: [t], workgroups: [1, 1] })]);
    const halves = new Uint16Array((await ctx.readF32(t)).buffer.slice(0));
    let worst = 0, loNonZero = 0;
    for (let g = 0; g < groups; g++) {
      for (let e = 0; e < 16; e++) {
        const i = 16 * g + e, hi = f16BitsToF32(halves[32 * g + e]), lo = f16BitsToF32(halves[32 * g + 16 + e]);
        if (Math.floor(i / (H * dk)) >= T) { expect([hi, lo]).toEqual([0, 0]); continue; }
        const want = 256 * x[i];
        if (lo !== 0) loNonZero++;
        // lo rounded to f16 (2^-11 of |lo| ≤ 2^-11·|x|) or its subnormal step 2^-25 at the smallest magnitudes.
        worst = Math.max(worst, Math.abs(hi + lo - want) / (Math.abs(want) * 2 ** -22 + 2 ** -24));
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(loNonZero).toBeGreaterThan((T * H * dk) / 2);
  });

  const quick: [string, () => ScanCase][] = [
    ['one token, one chunk', () => ({ T: 1, H: 1, dk: 16, dv: 16, chunk: 16, stateScale: 1 })],
    ['chunk 16, ragged tail, two heads', () => ({ T: 16 + randomInt(1, 15), H: 2, dk: 16, dv: 16, chunk: 16, stateScale: 1 })],
    // Slow gates: the state stays ~1e6. With fast ones it decays to O(1) within the chunk while V' = U − W S is still
    // ~1e5, and the split left operands' absolute floor (see kda-chunk-scan-tc.wgsl) shows as ~1e-4 of the final state.
    ['large state (|S| ~ 1e6: per-slice scales)', () => ({ T: randomInt(2, 15), H: 1, dk: 16, dv: 32, chunk: 16, stateScale: 1e6, gate: 0.05, slowGates: true })],
    ['dv 48, three heads, three chunks', () => ({ T: 32 + randomInt(1, 15), H: 3, dk: 16, dv: 48, chunk: 16, stateScale: 1 })],
  ];
  for (const [name, make] of quick) it(`matches the f64 recurrence and the scalar scan (${name})`, () => compare(make()));

  const wide: [string, () => ScanCase][] = [
    ['dk 32, dv 48, chunk 16', () => ({ T: 32 + randomInt(1, 15), H: 3, dk: 32, dv: 48, chunk: 16, stateScale: 1 })],
    ['chunk 32, dk 32, three chunks', () => ({ T: 64 + randomInt(1, 31), H: 2, dk: 32, dv: 16, chunk: 32, stateScale: 1 })],
    ['chunk 64, large values (V̂ scale)', () => ({ T: 64 + randomInt(1, 63), H: 1, dk: 64, dv: 16, chunk: 64, stateScale: 1e4, vScale: 3e4 })],
  ];
  for (const [name, make] of wide) {
    it.runIf(process.env.CTXBENCH_KDA_EMULATE === '1')(`matches the f64 recurrence and the scalar scan (${name})`, () => compare(make()), 900_000);
  }

  it('stays scalar until probed, refuses dims off 16 and bad CTXBENCH_KDA_SCAN values in one line', async () => {
    const ctx = await gpu();
    expect(planKdaChunk(ctx, 32, 32, 32).scan).toBe('scalar');
    // lavapipe has no subgroup matrices: the probe records why and the default stays scalar.
    expect(await probeKdaScanTensorCores(ctx, 32, 32, 32)).toMatch(/subgroup-matrix/);
    expect(planKdaChunk(ctx, 32, 32, 32).scan).toBe('scalar');
    expect(() => planKdaChunk(ctx, 32, 32, 32, { scan: 'tensor-cores' })).toThrow(/tensor-cores scan cannot run here: no f16→f32/);
    expect(() => planKdaChunk(ctx, 24, 32, 32, { scan: 'emulated' })).toThrow(/multiples of 16/);
    expect(() => planKdaChunk(ctx, 32, 32, 32, { scan: 'fast' as never })).toThrow(/scan variant 'fast' must be/);
    process.env.CTXBENCH_KDA_SCAN = 'tc';
    expect(() => planKdaChunk(ctx, 32, 32, 32)).toThrow(/CTXBENCH_KDA_SCAN='tc' must be scalar or tensor-cores/);
    process.env.CTXBENCH_KDA_SCAN = 'scalar';
    expect(planKdaChunk(ctx, 32, 32, 32).scan).toBe('scalar');
  });
});
