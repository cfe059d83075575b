// The tensor-core KDA scan (kda-chunk-split16 + kda-chunk-scan-tc) on lavapipe: with EMULATE its subgroup-matrix
// builtins are scalar code over the same split operands, scales, layouts and barriers, so everything around the
// MMAs is checked here against the f64 recurrence and the scalar scan (fresh random inputs, dims that are
// multiples of 16, T not a multiple of the chunk, poisoned outputs and scratch). The real builtins run only on
// the GPU machine: tools/device/kda-scan-tc-check.mjs. The emulation is slow on lavapipe (minutes for one tiny
// case: every lane holds whole 16×16 tiles), so those comparisons run only with CTXBENCH_KDA_EMULATE=1.
import { afterEach, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { kdaPrepareReference, kdaRecurrentReference } from '../../src/kernels/kda/kda-reference.js';
import { allocKdaChunkScratch, kdaChunkPrefill, planKdaChunk, probeKdaScanTensorCores, type KdaScanVariant } from '../../src/kernels/kda/kda-chunk.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

interface ScanCase { T: number; H: number; dk: number; dv: number; chunk: number; stateScale: number }

function inputs(c: ScanCase) {
  const { T, H, dk } = c;
  const prep = kdaPrepareReference(randomArray(T * H * dk), randomArray(T * H * dk), randomArray(T * H * dk, 4),
    randomArray(T * H, 3), randomArray(H, Math.log(16)), randomArray(H * dk, 2), T, H, dk);
  return { prep, v: randomArray(T * H * c.dv, 2), s0: randomArray(H * dk * c.dv, c.stateScale) };
}

async function runScan(ctx: GpuContext, c: ScanCase, x: ReturnType<typeof inputs>, scan: KdaScanVariant) {
  const { T, H, dk, dv } = c;
  const plan = planKdaChunk(ctx, dk, dv, c.chunk, { scan });
  const state = ctx.tensor([H, dk, dv], 'f32', 'S', x.s0);
  const out = ctx.tensor([T, H, dv], 'f32', 'o');
  ctx.fill(out, NaN);
  const scratch = allocKdaChunkScratch(ctx, T, H, dk, dv, plan);
  for (const t of Object.values(scratch)) if (typeof t === 'object') ctx.fill(t, NaN);
  const args = {
    q: ctx.tensor([T, H, dk], 'f32', 'q', x.prep.q), k: ctx.tensor([T, H, dk], 'f32', 'k', x.prep.k), g: ctx.tensor([T, H, dk], 'f32', 'g', x.prep.g),
    beta: ctx.tensor([T, H], 'f32', 'beta', x.prep.beta), v: ctx.tensor([T, H * dv], 'f32', 'v', x.v), state, out, T, H, dk, dv,
  };
  ctx.run(kdaChunkPrefill(ctx, args, scratch, plan));
  return { plan, out: await ctx.readF32(out), state: await ctx.readF32(state) };
}

describe('kda tensor-core scan (emulated on lavapipe)', () => {
  afterEach(() => { delete process.env.CTXBENCH_KDA_SCAN; });

  const cases: [string, () => ScanCase][] = [
    ['chunk 16, ragged tail', () => ({ T: 16 + randomInt(1, 15), H: 1, dk: 16, dv: 16, chunk: 16, stateScale: 1 })],
    ['chunk 16, large state (|S| ~ 1e6: per-slice scales)', () => ({ T: randomInt(1, 15), H: 1, dk: 16, dv: 16, chunk: 16, stateScale: 1e6 })],
  ];
  for (const [name, make] of cases) {
    it.runIf(process.env.CTXBENCH_KDA_EMULATE === '1')(`matches the f64 recurrence and the scalar scan (${name})`, async () => {
      const ctx = await gpu();
      const c = make(), x = inputs(c);
      const emu = await runScan(ctx, c, x, 'emulated');
      const scalar = await runScan(ctx, c, x, 'scalar');
      expect([emu.plan.scan, emu.plan.valueSlice, scalar.plan.scan]).toEqual(['emulated', 16, 'scalar']);
      const ref = kdaRecurrentReference(x.prep, x.v, x.s0, c.T, c.H, c.dk, c.dv);
      expect(emu.out.some(Number.isNaN)).toBe(false);
      expect(relativeError(emu.out, ref.o)).toBeLessThan(1e-4);
      expect(relativeError(emu.state, ref.state)).toBeLessThan(1e-4);
      // hi/lo splits on both sides of every product: as close to the scalar f32 scan as f32 summation order allows.
      expect(relativeError(emu.out, scalar.out)).toBeLessThan(2e-5);
      expect(relativeError(emu.state, scalar.state)).toBeLessThan(2e-5);
    });
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
