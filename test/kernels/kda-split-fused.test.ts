// The fused split (kda-chunk-intra-blocked.wgsl with SPLIT_OUT writes the tensor-core scan's f16 hi/lo operands
// itself) against the separate one (f32 intra, then four kda-chunk-split16 passes): the same bytes in q̃G, kG, W,
// P, U and e^G_last, and the same outputs and state, bit for bit, at odd T (ragged last chunks whose tails must be
// zero) and several head counts, with every scratch tensor and the output NaN-poisoned first (the arena hands
// back used memory). The emulated scan on the fused operands must also match the scalar f32 scan.
import { afterEach, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { kdaChunkPasses, planKdaChunk, type KdaSplitPass, type KdaTileOverrides } from '../../src/kernels/kda/kda-chunk.js';
import { inputs, prepareChunk, type ScanCase } from './kda-scan-cases.js';
import { gpu, randomInt, relativeError } from '../gpu/context.js';

type Case = Omit<ScanCase, 'stateScale'>;
const bits = (f: Float32Array, n: number) => new Uint32Array(f.buffer, f.byteOffset, n);

async function run(ctx: GpuContext, c: Case, x: ReturnType<typeof inputs>, tiles: KdaTileOverrides) {
  const { T, H, dk, dv, chunk } = c;
  const { plan, scratch, args, free } = prepareChunk(ctx, { ...c, stateScale: 1 }, x, tiles);
  const tensors = { qG: scratch.qG, kG: scratch.kG, w: scratch.w, u: scratch.u, p: scratch.p, decayLast: scratch.decayLast };
  const passes = kdaChunkPasses(ctx, args, scratch, plan);
  ctx.run([passes.intra, ...passes.scan]);
  const chunks = Math.ceil(T / chunk), rows = chunks * chunk;
  const sizes = { qG: rows * H * dk, kG: rows * H * dk, w: rows * H * dk, u: T * H * dv, p: chunks * H * chunk * chunk, decayLast: chunks * H * dk };
  const scratchBits: Record<string, Uint32Array> = {};
  for (const [key, t] of Object.entries(tensors)) scratchBits[key] = bits(await ctx.readF32(t), sizes[key as keyof typeof sizes]);
  const result = { plan, dispatches: 1 + passes.scan.length, scratchBits, out: await ctx.readF32(args.out), state: await ctx.readF32(args.state) };
  free();
  return result;
}

async function compare(c: Case) {
  const ctx = await gpu();
  const x = inputs({ ...c, stateScale: 1 });
  const byPass: Partial<Record<KdaSplitPass, Awaited<ReturnType<typeof run>>>> = {};
  for (const splitPass of ['separate', 'fused'] as const) byPass[splitPass] = await run(ctx, c, x, { scan: 'emulated', splitPass, scanOperands: 'split' });
  const { fused, separate } = byPass as Record<KdaSplitPass, Awaited<ReturnType<typeof run>>>;
  expect([fused.plan.splitPass, separate.plan.splitPass, fused.dispatches, separate.dispatches]).toEqual(['fused', 'separate', 2, 6]);
  for (const key of Object.keys(separate.scratchBits)) {
    const a = fused.scratchBits[key], b = separate.scratchBits[key];
    const firstDiff = a.findIndex((word, i) => word !== b[i]);
    if (firstDiff >= 0) console.log(key, Array.from(a.slice(firstDiff, firstDiff + 8), (w) => w.toString(16)), Array.from(b.slice(firstDiff, firstDiff + 8), (w) => w.toString(16)));
    expect(firstDiff, `${key}: first differing word ${firstDiff} of ${a.length}`).toBe(-1);
  }
  expect(bits(fused.out, fused.out.length)).toEqual(bits(separate.out, separate.out.length));
  expect(bits(fused.state, fused.state.length)).toEqual(bits(separate.state, separate.state.length));
  expect(fused.out.some(Number.isNaN)).toBe(false);
  const scalar = await run(ctx, c, x, { scan: 'scalar' });
  // The tolerance of kda-scan-tc.test.ts (measured 1e-7; a dropped lo part shows as ~2e-4).
  expect(relativeError(fused.out, scalar.out)).toBeLessThan(1e-5);
  expect(relativeError(fused.state, scalar.state)).toBeLessThan(1e-5);
}

describe('kda fused split (intra pass writes the tensor-core operands; emulated scan on lavapipe)', () => {
  afterEach(() => { delete process.env.CTXBENCH_KDA_SPLIT; delete process.env.CTXBENCH_KDA_INTRA; });

  const cases: [string, () => Case][] = [
    ['T 1', () => ({ T: 1, H: randomInt(1, 3), dk: 16, dv: 16, chunk: 16 })],
    ['T 63, chunk 32, dk 32', () => ({ T: 63, H: randomInt(2, 4), dk: 32, dv: 16, chunk: 32 })],
    ['T 65, dv 32', () => ({ T: 65, H: randomInt(1, 3), dk: 16, dv: 32, chunk: 16 })],
    ['T 200, chunk 64 (four sub-chunks)', () => ({ T: 200, H: randomInt(1, 3), dk: 16, dv: 16, chunk: 64 })],
    ['random odd T', () => ({ T: 2 * randomInt(1, 60) + 1, H: randomInt(1, 5), dk: 16, dv: 16, chunk: 16 })],
  ];
  for (const [name, make] of cases) it(`same bytes as the separate split, matches the scalar scan (${name})`, () => compare(make()), 300_000);

  it('defaults to fused on the tensor-core path; pairs and CTXBENCH_KDA_SPLIT=separate keep the split passes', async () => {
    const ctx = await gpu();
    expect(planKdaChunk(ctx, 16, 16, 16, { scan: 'emulated' }).splitPass).toBe('fused');
    expect(planKdaChunk(ctx, 16, 16, 16, { scan: 'emulated', intra: 'pairs' }).splitPass).toBe('separate');
    expect(() => planKdaChunk(ctx, 16, 16, 16, { scan: 'emulated', intra: 'pairs', splitPass: 'fused' })).toThrow(/pairs intra pass writes f32 only/);
    process.env.CTXBENCH_KDA_SPLIT = 'separate';
    expect(planKdaChunk(ctx, 16, 16, 16, { scan: 'emulated' }).splitPass).toBe('separate');
    process.env.CTXBENCH_KDA_SPLIT = 'yes';
    expect(() => planKdaChunk(ctx, 16, 16, 16, { scan: 'emulated' })).toThrow(/CTXBENCH_KDA_SPLIT='yes' must be fused or separate/);
  });
});
