// Tensor-core MLA prefill path: the f16 pack kernel (lavapipe and GPU) and the subgroup-matrix flash kernel
// against the f64 reference on f16-rounded operands (only where the adapter offers f16 subgroup matrices,
// e.g. the H100; lavapipe has none). Fresh random inputs, odd sizes, poisoned outputs.
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/engine/gpu/half.js';
import { mlaAttentionReference } from '../../src/kernels/mla/mla-reference.js';
import { mlaPackF16 } from '../../src/kernels/mla/mla-pack-f16.js';
import {
  MLA_FLASH_F16_PLAN, engineMlaFlashF16Plan, mlaFlashF16Unsupported, mlaFlashPrefillF16, probeMlaFlashF16, roundUpRows, type MlaFlashF16Plan,
} from '../../src/kernels/mla/mla-flash-prefill-f16.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

const half = (x: number) => f16BitsToF32(f32ToF16Bits(x));
const ctxPromise = gpu();
const tensorCores = await ctxPromise.then((ctx) => probeMlaFlashF16(ctx, 128, 64, 128)).then((why) => why === undefined);

function poisoned(ctx: GpuContext, shape: number[], dtype: 'f32' | 'f16', label: string) {
  const t = ctx.tensor(shape, dtype, label);
  ctx.fill(t, NaN);
  return t;
}

describe('engineMlaFlashF16Plan', () => {
  it('takes the default, a JSON plan from CTXBENCH_MLA_FLASH_PLAN, and refuses a malformed one in one line', () => {
    const before = process.env.CTXBENCH_MLA_FLASH_PLAN;
    try {
      delete process.env.CTXBENCH_MLA_FLASH_PLAN;
      expect(engineMlaFlashF16Plan()).toBe(MLA_FLASH_F16_PLAN);
      process.env.CTXBENCH_MLA_FLASH_PLAN = '{"subgroups":8,"keyRows":16,"tau":8}';
      expect(engineMlaFlashF16Plan()).toEqual({ subgroups: 8, keyRows: 16, tau: 8 });
      process.env.CTXBENCH_MLA_FLASH_PLAN = '{subgroups: 8}';
      expect(() => engineMlaFlashF16Plan()).toThrow(/CTXBENCH_MLA_FLASH_PLAN is not JSON/);
      process.env.CTXBENCH_MLA_FLASH_PLAN = '{"subgroups":8,"keyRows":0,"tau":8}';
      expect(() => engineMlaFlashF16Plan()).toThrow(/positive subgroups, keyRows and tau/);
    } finally {
      if (before === undefined) delete process.env.CTXBENCH_MLA_FLASH_PLAN;
      else process.env.CTXBENCH_MLA_FLASH_PLAN = before;
    }
  });
});

describe('mla/mla-pack-f16', () => {
  it('packs a strided head view into dense f16 rows at dstRow, zeroes the pad rows and leaves the rest', async () => {
    const ctx = await gpu();
    const T = randomInt(1, 13), H = randomInt(1, 4), D = 2 * randomInt(1, 9), pad = randomInt(0, 5), dstRow = randomInt(0, 3);
    const headStride = D + randomInt(0, 3), tokenStride = H * headStride + randomInt(0, 4), offset = randomInt(0, 5);
    const src = randomArray(offset + T * tokenStride + 3, 4);
    const rows = dstRow + T + pad + 2;
    const dst = poisoned(ctx, [rows, H, D], 'f16', 'packed');
    ctx.run([mlaPackF16(ctx, { src: { tensor: ctx.tensor([src.length], 'f32', 'src', src), offset, tokenStride, headStride }, dst, T, H, D, dstRow, padRows: pad })]);
    const got = await ctx.readF32(dst);
    for (let t = 0; t < rows; t++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) {
      const at = (t * H + h) * D + d, i = t - dstRow;
      const want = t < dstRow || i >= T + pad ? NaN : i >= T ? 0 : half(src[offset + i * tokenStride + h * headStride + d]);
      if (Number.isNaN(want)) expect(got[at]).toBeNaN();
      else expect(got[at]).toBe(want);
    }
  });

  it('shares one source row across heads (headStride 0) and rejects odd widths and short destinations', async () => {
    const ctx = await gpu();
    const T = randomInt(2, 9), D = 2 * randomInt(1, 6), H = 3;
    const src = randomArray(T * D);
    const dst = poisoned(ctx, [T, H, D], 'f16', 'packed');
    ctx.run([mlaPackF16(ctx, { src: { tensor: ctx.tensor([T, D], 'f32', 'src', src), tokenStride: D, headStride: 0 }, dst, T, H, D })]);
    const got = await ctx.readF32(dst);
    expect(Array.from(got)).toEqual(Array.from({ length: T * H * D }, (_, i) => half(src[Math.floor(i / (H * D)) * D + (i % D)])));
    expect(() => mlaPackF16(ctx, { src: ctx.tensor([4, 3], 'f32', 's'), dst: ctx.tensor([4, 3], 'f16', 'd'), T: 4, H: 1, D: 3 })).toThrow(/D must be even/);
    expect(() => mlaPackF16(ctx, { src: ctx.tensor([4, 4], 'f32', 's'), dst: ctx.tensor([4, 4], 'f16', 'd'), T: 4, H: 1, D: 4, padRows: 1 })).toThrow(/rows up to 5/);
  });
});

/** Random q/k/v packed to f16 on the GPU, the tensor-core kernel run, and the reference on the same halves. */
async function checkTensorCorePrefill(d: { H: number; Dn: number; Dr: number; Dv: number }, Tq: number, Tk: number, opts: { growth?: number; scale?: number; plan?: MlaFlashF16Plan } = {}) {
  const ctx = await gpu();
  const { H, Dn, Dr, Dv } = d, Dq = Dn + Dr;
  const growth = opts.growth ?? 0;
  const q = randomArray(Tq * H * Dq, 1);
  // growth > 0 makes later keys larger so running maxima keep rising (exercises the lazy rescale).
  const kNope = randomArray(Tk * H * Dn).map((x, i) => x * (1 + growth * Math.floor(i / (H * Dn))));
  const kRope = randomArray(Tk * Dr).map((x, i) => x * (1 + growth * Math.floor(i / Math.max(Dr, 1))));
  const v = randomArray(Tk * H * Dv);
  const qRows = roundUpRows(Tq), kRows = roundUpRows(Tk);
  const q16 = poisoned(ctx, [qRows, H, Dq], 'f16', 'q16'), kn16 = poisoned(ctx, [kRows, H, Dn], 'f16', 'kn16');
  const kr16 = poisoned(ctx, [kRows, Math.max(Dr, 2)], 'f16', 'kr16'), v16 = poisoned(ctx, [kRows, H, Dv], 'f16', 'v16');
  const out = poisoned(ctx, [Tq, H, Dv], 'f32', 'out');
  const up = (data: Float32Array, shape: number[], label: string) => ctx.tensor(shape, 'f32', label, data);
  ctx.run([
    mlaPackF16(ctx, { src: up(q, [Tq, H, Dq], 'q'), dst: q16, T: Tq, H, D: Dq, padRows: qRows - Tq }),
    mlaPackF16(ctx, { src: up(kNope, [Tk, H, Dn], 'kn'), dst: kn16, T: Tk, H, D: Dn, padRows: kRows - Tk }),
    ...(Dr > 0 ? [mlaPackF16(ctx, { src: up(kRope, [Tk, 1, Dr], 'kr'), dst: kr16, T: Tk, H: 1, D: Dr, padRows: kRows - Tk })] : []),
    mlaPackF16(ctx, { src: up(v, [Tk, H, Dv], 'v'), dst: v16, T: Tk, H, D: Dv, padRows: kRows - Tk }),
    mlaFlashPrefillF16(ctx, { q: q16, kNope: kn16, kRope: Dr > 0 ? kr16 : undefined, v: v16, out, Tq, Tk, H, Dn, Dr, Dv, scale: opts.scale }, opts.plan),
  ]);
  const h = (a: Float32Array) => a.map(half);
  const ref = mlaAttentionReference(h(q), { kNope: h(kNope), kRope: h(kRope), v: h(v) }, Tq, Tk - Tq, H, Dn, Dr, Dv, opts.scale ?? 1 / Math.sqrt(Dq));
  // f16 weights P (≤ 2^8, 11-bit mantissa) are the only rounding beyond the operands'.
  return relativeError(await ctx.readF32(out), ref);
}

describe('mla/mla-flash-prefill-f16', () => {
  it('reports why it cannot run when the adapter lacks f16 subgroup matrices, and refuses to dispatch', async () => {
    const ctx = await gpu();
    const why = mlaFlashF16Unsupported(ctx, 128, 64, 128);
    expect(why === undefined).toBe(tensorCores);
    expect(mlaFlashF16Unsupported(ctx, 24, 64, 128)).toBeDefined();
    if (why) {
      const t = ctx.tensor([64, 1, 32], 'f16', 't');
      expect(() => mlaFlashPrefillF16(ctx, { q: t, kNope: t, v: t, out: ctx.tensor([1, 1, 32], 'f32', 'o'), Tq: 1, Tk: 1, H: 1, Dn: 32, Dr: 0, Dv: 32 })).toThrow(/unavailable here/);
    }
  });

  it.skipIf(!tensorCores)('matches the reference at odd sizes, continuing after earlier tokens (48B head dims)', async () => {
    const Tq = randomInt(40, 150), Tk = Tq + randomInt(0, 90);
    expect(await checkTensorCorePrefill({ H: randomInt(1, 3), Dn: 128, Dr: 64, Dv: 128 }, Tq, Tk)).toBeLessThan(4e-3);
  });

  it.skipIf(!tensorCores)('matches the reference with other head dims, no rope slot and other tile plans', async () => {
    const T = randomInt(65, 200);
    expect(await checkTensorCorePrefill({ H: 2, Dn: 32, Dr: 16, Dv: 48 }, T, T)).toBeLessThan(4e-3);
    expect(await checkTensorCorePrefill({ H: 1, Dn: 64, Dr: 0, Dv: 32 }, T - 17, T)).toBeLessThan(4e-3);
    for (const plan of [{ subgroups: 8, keyRows: 16, tau: 8 }, { subgroups: 4, keyRows: 16, tau: 8 }, { subgroups: 2, keyRows: 32, tau: 8 }]) {
      expect(await checkTensorCorePrefill({ H: 2, Dn: 128, Dr: 64, Dv: 128 }, T, T + 5, { plan })).toBeLessThan(4e-3);
    }
  });

  it.skipIf(!tensorCores)('rescales the accumulator when a row maximum keeps rising (growing keys, sharp softmax)', async () => {
    const T = randomInt(150, 260);
    expect(await checkTensorCorePrefill({ H: 2, Dn: 128, Dr: 64, Dv: 128 }, T, T, { growth: 0.05, scale: 0.5 })).toBeLessThan(4e-3);
    expect(await checkTensorCorePrefill({ H: 1, Dn: 128, Dr: 64, Dv: 128 }, T, T, { growth: 0.05, scale: 0.5, plan: { ...MLA_FLASH_F16_PLAN, tau: 0 } })).toBeLessThan(4e-3);
  });
});
