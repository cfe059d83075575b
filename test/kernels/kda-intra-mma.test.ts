// The blocked intra pass's step 3 on subgroup matrices (TX_MMA, plan.intraProducts 'tensor-cores'), emulated on
// lavapipe in scalar code over the same f16 T and X, staging and barriers, feeding the emulated f16-operand scan:
// outputs and state against the f64 recurrence within the f16 scan's bound (fresh random inputs, ragged chunks,
// NaN-poisoned scratch and outputs), and the W hi parts and U it leaves in the scratch against the f32 products'
// run on the same inputs, within f16 rounding. The real builtins run on the GPU machine (kda-scan-tc-check.mjs).
import { afterEach, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { f16BitsToF32 } from '../../src/engine/gpu/half.js';
import { kdaRecurrentReference } from '../../src/kernels/kda/kda-reference.js';
import { kdaChunkPrefill, planKdaChunk, type KdaIntraProducts } from '../../src/kernels/kda/kda-chunk.js';
import { inputs, prepareChunk, type ScanCase } from './kda-scan-cases.js';
import { gpu, randomInt, relativeError } from '../gpu/context.js';

/** The f16 scan's bound (kda-scan-f16.test.ts): f16 operands, relative to the largest output or state entry. */
const F16_BOUND = 4e-3;
/** T·X from f16 T and X, f32 sums: a few 2^−12 roundings of each term, relative to the largest entry. */
const PRODUCT_BOUND = 2e-3;

/** One emulated f16-scan prefill with the given step-3 products; returns outputs, state, W's hi parts and U. */
async function run(ctx: GpuContext, c: ScanCase, x: ReturnType<typeof inputs>, intraProducts: KdaIntraProducts) {
  const { T, H, dk, dv } = c;
  const { plan, scratch, args, free } = prepareChunk(ctx, c, x, { scan: 'emulated', scanOperands: 'f16', intraProducts });
  ctx.run(kdaChunkPrefill(ctx, args, scratch, plan));
  // W in the split layout: element o's hi half (2^8·W) at 32·(o/16) + o%16 of the halves.
  const wWords = await ctx.readF32(scratch.w);
  const halves = new Uint16Array(wWords.buffer, wWords.byteOffset, 2 * wWords.length);
  const wHi = Float32Array.from({ length: T * H * dk }, (_, o) => f16BitsToF32(halves[32 * Math.floor(o / 16) + (o % 16)]) / 256);
  const result = {
    plan, wHi, u: (await ctx.readF32(scratch.u)).slice(0, T * H * dv), out: await ctx.readF32(args.out), state: await ctx.readF32(args.state),
  };
  free();
  return result;
}

async function compare(c: ScanCase) {
  const ctx = await gpu();
  const x = inputs(c);
  const mma = await run(ctx, c, x, 'tensor-cores');
  expect([mma.plan.scan, mma.plan.scanOperands, mma.plan.splitPass, mma.plan.intraProducts]).toEqual(['emulated', 'f16', 'fused', 'tensor-cores']);
  const ref = kdaRecurrentReference(x.prep, x.v, x.s0, c.T, c.H, c.dk, c.dv);
  expect(mma.out.some(Number.isNaN)).toBe(false);
  expect(mma.state.some(Number.isNaN)).toBe(false);
  expect(relativeError(mma.out, ref.o)).toBeLessThan(F16_BOUND);
  expect(relativeError(mma.state, ref.state)).toBeLessThan(F16_BOUND);
  const scalar = await run(ctx, c, x, 'scalar');
  expect(scalar.plan.intraProducts).toBe('scalar');
  expect(mma.wHi.some(Number.isNaN) || mma.u.some(Number.isNaN)).toBe(false);
  const ew = relativeError(mma.wHi, scalar.wHi), eu = relativeError(mma.u, scalar.u);
  expect(ew).toBeLessThan(PRODUCT_BOUND);
  expect(eu).toBeLessThan(PRODUCT_BOUND);
  // Not bit-identical: the f16 operands must actually have been used (else TX_MMA did not run).
  expect(eu).toBeGreaterThan(0);
}

describe('kda intra pass, T·X on (emulated) subgroup matrices', () => {
  afterEach(() => { delete process.env.CTXBENCH_KDA_INTRA_PRODUCTS; });

  // dk 16 at chunk 32: one emulated intra pipeline (XW 32, two row tiles), dv 48 leaves a 16-column last slice.
  const cases: [string, () => ScanCase][] = [
    ['one token', () => ({ T: 1, H: 1, dk: 16, dv: 16, chunk: 32, stateScale: 1 })],
    ['ragged tail, two heads, dv 48', () => ({ T: 32 + randomInt(1, 31), H: 2, dk: 16, dv: 48, chunk: 32, stateScale: 1 })],
    ['several chunks, odd T', () => ({ T: 2 * randomInt(30, 60) + 1, H: 1, dk: 16, dv: 32, chunk: 32, stateScale: 1, vScale: 30 })],
  ];
  for (const [name, make] of cases) it(`matches the f64 recurrence and the f32 products (${name})`, () => compare(make()));
  const wide: [string, () => ScanCase][] = [
    ['chunk 64 (four row tiles), dk 32', () => ({ T: 64 + randomInt(1, 63), H: 2, dk: 32, dv: 32, chunk: 64, stateScale: 1 })],
    ['chunk 16, dk 48', () => ({ T: 32 + randomInt(1, 15), H: 2, dk: 48, dv: 16, chunk: 16, stateScale: 1 })],
  ];
  for (const [name, make] of wide) {
    it.runIf(process.env.CTXBENCH_KDA_EMULATE === '1')(`matches the f64 recurrence and the f32 products (${name})`, () => compare(make()), 900_000);
  }

  it('is never a default (slower on the H100), is asked for, and refuses what cannot run in one line', async () => {
    const ctx = await gpu();
    const plan = (tiles = {}) => planKdaChunk(ctx, 16, 16, 32, { scan: 'emulated', scanOperands: 'f16', ...tiles });
    expect(plan().intraProducts).toBe('scalar');
    expect(plan({ intraProducts: 'tensor-cores' }).intraProducts).toBe('tensor-cores');
    expect(planKdaChunk(ctx, 16, 16, 32, { scan: 'scalar', intraProducts: 'tensor-cores' }).intraProducts).toBe('scalar');
    process.env.CTXBENCH_KDA_INTRA_PRODUCTS = 'tensor-cores';
    expect(plan().intraProducts).toBe('tensor-cores');
    expect(() => plan({ splitPass: 'separate' })).toThrow(/tensor-core products cannot run here: .*fused split/);
    process.env.CTXBENCH_KDA_INTRA_PRODUCTS = 'mma';
    expect(() => plan()).toThrow(/CTXBENCH_KDA_INTRA_PRODUCTS='mma' must be scalar or tensor-cores/);
  });

  it('fits an H100\'s 48 KiB at chunk 64, d 128 (narrower channel slices make room for the f16 staging)', () => {
    const caps = { maxWorkgroupStorageBytes: 49152, maxInvocationsPerWorkgroup: 1024, maxWorkgroupSizeX: 1024, subgroupSize: 32, hasF16: true, hasSubgroups: true };
    const h100 = { caps } as unknown as GpuContext;
    const scalar = planKdaChunk(h100, 128, 128, 64, { scan: 'emulated', scanOperands: 'f16' });
    const mma = planKdaChunk(h100, 128, 128, 64, { scan: 'emulated', scanOperands: 'f16', intraProducts: 'tensor-cores' });
    expect([scalar.intraProducts, scalar.channelSlice, scalar.productSlice]).toEqual(['scalar', 16, 64]);
    expect([mma.intraProducts, mma.channelSlice, mma.productSlice]).toEqual(['tensor-cores', 8, 48]);
  });
});

