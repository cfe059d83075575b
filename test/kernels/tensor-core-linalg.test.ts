// Tensor-core GEMM (dense, row-split, grouped MoE) and the big-tile scalar GEMM against scalar references, and
// the f16 bandwidth GEMV. lavapipe has no subgroup matrices: there the tensor-core cases are skipped with the
// probe's reason (they run on the GPU machine), and the 128×128/8×8 scalar tiles are pinned explicitly.
import { describe, expect, it } from 'vitest';
import {
  TENSOR_CORE_TILES, TENSOR_CORE_VARIANTS, makeTensorCoreLinear, probeTensorCoreGemm, tensorCoreDispatch, tensorCoreLinearReference,
} from '../../src/kernels/linalg/gemm-subgroup-matrix.js';
import { BIG_GEMM_TILES, TENSOR_CORE_MIN_ROWS, linearFoldsNorm, linearReference, makeGroupedLinear, makeLinear } from '../../src/kernels/linalg/matmul.js';
import { rmsNormReference } from '../../src/kernels/norm/rmsnorm.js';
import { gemvF16Reference, makeGemvF16, planGemvF16 } from '../../src/kernels/linalg/gemv-f16.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/engine/gpu/half.js';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

const NONE = 0xffffffff;
const half = (a: Float32Array) => a.map((v) => f16BitsToF32(f32ToF16Bits(v)));
const choiceNow = async () => probeTensorCoreGemm(await gpu());
// Decided once at load: it.skipIf needs the answer before the tests run.
const noTensorCores = (await choiceNow()).path !== 'subgroup-matrix';

/** A random sort-and-pad plan: E experts with 0..2·TM rows each (TM-row tiles, padding NONE), one unused tile. */
function randomGroups(E: number, TM: number, sourceRows: number) {
  const rows: number[] = [];
  const tileExpert: number[] = [];
  for (let e = 0; e < E; e++) {
    const count = randomInt(0, 2 * TM);
    const tiles = Math.ceil(count / TM);
    for (let i = 0; i < tiles * TM; i++) rows.push(i < count ? randomInt(0, sourceRows - 1) : NONE);
    for (let t = 0; t < tiles; t++) tileExpert.push(e);
  }
  for (let i = 0; i < TM; i++) rows.push(NONE);
  tileExpert.push(NONE);
  return { rows: Uint32Array.from(rows), tileExpert: Uint32Array.from(tileExpert), capacity: rows.length };
}

/** Runs one grouped linear and checks every row of the used tiles (padding rows must be zeros). */
async function checkGrouped(ctx: GpuContext, TM: number, gather: boolean, useTensorCores: boolean) {
  const E = 3, N = useTensorCores ? 128 * randomInt(1, 2) : randomInt(20, 150) | 1, K = 16 * randomInt(2, 9);
  const T = randomInt(5, 60);
  const g = randomGroups(E, TM, T);
  const xRows = gather ? T : g.capacity;
  const x = randomArray(xRows * K), w = half(randomArray(E * N * K));
  const out = ctx.tensor([g.capacity, N], 'f32', 'out');
  ctx.fill(out, NaN);
  const grouped = { rows: ctx.tensor([g.capacity], 'u32', 'rows', g.rows), tileExpert: ctx.tensor([g.tileExpert.length], 'u32', 'tiles', g.tileExpert), capacity: g.capacity };
  const xt = ctx.tensor([xRows, K], 'f32', 'x', x), wt = ctx.tensor([E, N, K], 'f16', 'w', w);
  const specs = makeGroupedLinear(ctx, xt, wt, out, grouped, gather, useTensorCores ? undefined : { ...BIG_GEMM_TILES, TM });
  expect(specs[0].label).toBe(useTensorCores ? 'linalg/gemm-subgroup-matrix' : 'linalg/matmul');
  ctx.run(specs);
  const got = await ctx.readF32(out);
  const xs = useTensorCores ? half(x) : x;
  const expected = new Float32Array(g.capacity * N);
  const used: number[] = [];
  g.tileExpert.forEach((e, tile) => {
    if (e === NONE) return;
    for (let p = tile * TM; p < (tile + 1) * TM; p++) {
      used.push(p);
      const src = g.rows[p] === NONE ? NONE : gather ? g.rows[p] : p;
      if (src === NONE) continue;
      expected.set(linearReference(xs.subarray(src * K, (src + 1) * K), w.subarray(e * N * K, (e + 1) * N * K), 1, N, K), p * N);
    }
  });
  const pick = (a: Float32Array) => Float32Array.from(used.flatMap((p) => Array.from(a.subarray(p * N, (p + 1) * N))));
  expect(relativeError(pick(got), pick(expected))).toBeLessThan(2e-5);
}

describe('linalg/matmul 128×128 tiles of 8×8 (pinned, any device)', () => {
  for (const dtype of ['f32', 'f16'] as const) {
    it(`${dtype} W: random odd M, N, K over several tiles into a poisoned output`, async () => {
      const ctx = await gpu();
      const M = randomInt(2, 200) | 1, N = randomInt(100, 300) | 1, K = randomInt(5, 90) | 1;
      const x = randomArray(M * K), w = dtype === 'f16' ? half(randomArray(N * K)) : randomArray(N * K);
      const out = ctx.tensor([M, N], 'f32', 'out');
      ctx.fill(out, NaN);
      ctx.run(makeLinear(ctx, ctx.tensor([M, K], 'f32', 'x', x), ctx.tensor([N, K], dtype, 'w', w), out, { tiles: BIG_GEMM_TILES }));
      expect(relativeError(await ctx.readF32(out), linearReference(x, w, M, N, K))).toBeLessThan(1e-5);
    });
  }

  for (const gather of [true, false]) {
    it(`grouped experts (${gather ? 'gathered rows' : 'padded order'}), padding rows zero`, async () => {
      await checkGrouped(await gpu(), 128, gather, false);
    });
  }
});

describe('linalg/gemm-subgroup-matrix', () => {
  it('path decision: f16 weights with enough rows take tensor cores only where probed', async () => {
    const ctx = await gpu();
    const choice = await probeTensorCoreGemm(ctx);
    console.log(`tensor-core GEMM path: ${choice.path}${choice.reason ? ` (${choice.reason})` : ''}`);
    const M = 2 * Math.max(64, TENSOR_CORE_MIN_ROWS), K = 32;
    const x = ctx.tensor([M, K], 'f32', 'x');
    const label = (dtype: 'f16' | 'f32', rows = M) =>
      makeLinear(ctx, { ...x, shape: [rows, K] }, ctx.tensor([128, K], dtype, 'w'), ctx.tensor([rows, 128], 'f32', 'o'))[0].label;
    expect(label('f16')).toBe(choice.path === 'subgroup-matrix' ? 'linalg/gemm-subgroup-matrix' : 'linalg/matmul');
    expect(label('f32')).toBe('linalg/matmul');
    expect(label('f16', M - 1)).toBe(choice.path === 'subgroup-matrix' ? 'linalg/gemm-subgroup-matrix' : 'linalg/matmul');
    expect(label('f16', TENSOR_CORE_MIN_ROWS - 1)).toBe('linalg/matmul');
    // Partial column tiles (here N = 24) take the tensor-core kernel too (zero-filled staging, edge stores).
    expect(makeLinear(ctx, x, ctx.tensor([24, K], 'f16', 'w'), ctx.tensor([M, 24], 'f32', 'o'))[0].label)
      .toBe(choice.path === 'subgroup-matrix' ? 'linalg/gemm-subgroup-matrix' : 'linalg/matmul');
  });

  for (const [name, tiles] of Object.entries(TENSOR_CORE_VARIANTS)) {
    it.skipIf(noTensorCores)(`${name}: random M, N and odd K (partial tiles everywhere), poisoned output`, async () => {
      const ctx = await gpu();
      // Partial row and column tiles leave through the edge scratch; odd K takes the scalar staging loads.
      const M = randomInt(1, 3 * tiles.TILE_M), N = randomInt(1, 2 * tiles.TILE_N), K = randomInt(40, 200) | 1;
      const x = randomArray(M * K), w = randomArray(N * K);
      const out = ctx.tensor([M, N], 'f32', 'out');
      ctx.fill(out, NaN);
      ctx.run(makeTensorCoreLinear(ctx, ctx.tensor([M, K], 'f32', 'x', x), ctx.tensor([N, K], 'f16', 'w', w), out, await choiceNow(), tiles));
      const got = await ctx.readF32(out);
      expect(got.every(Number.isFinite)).toBe(true);
      expect(relativeError(got, tensorCoreLinearReference(x, w, M, N, K))).toBeLessThan(2e-5);
    });
  }

  it.skipIf(noTensorCores)('row-split weight and a wide x row stride write their own column ranges', async () => {
    const ctx = await gpu();
    const choice = await choiceNow();
    const M = 128 * randomInt(1, 2), N = 256, K = 64, stride = 80;
    const xWide = randomArray(M * stride), w = randomArray(N * K);
    const x = Float32Array.from({ length: M * K }, (_, i) => xWide[Math.floor(i / K) * stride + (i % K)]);
    const parts = [0, 128].map((start) => ctx.tensor([128, K], 'f16', `w${start}`, w.subarray(start * K, (start + 128) * K)));
    const split = { shape: [N, K], dtype: 'f16' as const, parts, rowStarts: [0, 128], label: 'w-split' };
    const out = ctx.tensor([M, N], 'f32', 'out');
    ctx.fill(out, NaN);
    const specs = makeLinear(ctx, ctx.tensor([M, stride], 'f32', 'x', xWide), split, out, { xRowStride: stride });
    expect(specs.map((s) => s.label)).toEqual(['linalg/gemm-subgroup-matrix', 'linalg/gemm-subgroup-matrix']);
    expect(choice.tiles).toBeDefined();
    ctx.run(specs);
    expect(relativeError(await ctx.readF32(out), tensorCoreLinearReference(x, w, M, N, K))).toBeLessThan(2e-5);
  });

  for (const gather of [true, false]) {
    it.skipIf(noTensorCores)(`grouped experts on tensor cores (${gather ? 'gathered rows' : 'padded order'})`, async () => {
      const ctx = await gpu();
      await checkGrouped(ctx, (await choiceNow()).tiles!.TILE_M, gather, true);
    });
  }

  it('rejects an f32 weight and a mis-shaped output', async () => {
    const ctx = await gpu();
    const choice = { path: 'subgroup-matrix' as const };
    const x = ctx.tensor([3, 32], 'f32', 'x');
    expect(() => makeTensorCoreLinear(ctx, x, ctx.tensor([5, 32], 'f32', 'w32'), ctx.tensor([3, 5], 'f32', 'o'), choice)).toThrow(/w32 is f32/);
    expect(() => makeTensorCoreLinear(ctx, x, ctx.tensor([5, 32], 'f16', 'w'), ctx.tensor([3, 4], 'f32', 'o'), choice)).toThrow(/expected \[3, 5\]/);
    expect(() => tensorCoreDispatch(ctx, { x, w: ctx.tensor([5, 24], 'f16', 'w'), out: ctx.tensor([3, 5], 'f32', 'o'), M: 0, N: 5, K: 24, outStride: 5, colOffset: 0, xStride: 24 },
      { ...TENSOR_CORE_TILES, TILE_K: 24 })).toThrow(/multiples of 16/);
  });
});

describe('linalg/gemv-f16', () => {
  it('random N (odd, partial last workgroup) and K a multiple of 8, poisoned output', async () => {
    const ctx = await gpu();
    const N = randomInt(5, 300) | 1, K = 8 * randomInt(1, 60);
    const plan = planGemvF16(ctx, K);
    console.log(`gemv-f16 path: ${plan.path}${plan.reason ? ` (${plan.reason})` : ''}, subgroup size ${ctx.caps.subgroupSize}`);
    const x = randomArray(K), w = randomArray(N * K);
    const out = ctx.tensor([N], 'f32', 'out');
    ctx.fill(out, NaN);
    ctx.run(makeGemvF16(ctx, ctx.tensor([K], 'f32', 'x', x), ctx.tensor([N, K], 'f16', 'w', w), out, plan));
    const got = await ctx.readF32(out);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(relativeError(got, gemvF16Reference(x, w, N, K))).toBeLessThan(1e-5);
  });

  it('folds the RMSNorm of x (decode): random odd N, K a multiple of 8, poisoned output; other paths refuse it', async () => {
    const ctx = await gpu();
    const N = randomInt(5, 300) | 1, K = 8 * randomInt(1, 60), eps = 1e-5;
    const plan = planGemvF16(ctx, K);
    const x = randomArray(K, 3), gamma = randomArray(K), w = randomArray(N * K);
    const want = gemvF16Reference(rmsNormReference(x, gamma, 1, K, eps), w, N, K);
    const tx = ctx.tensor([1, K], 'f32', 'x', x), tw = ctx.tensor([N, K], 'f16', 'w', w), tg = ctx.tensor([K], 'f32', 'gamma', gamma);
    if (plan.path === 'subgroup') {
      const out = ctx.tensor([1, N], 'f32', 'out');
      ctx.fill(out, NaN);
      ctx.run(makeLinear(ctx, tx, tw, out, { norm: { weight: tg, eps } }));
      const got = await ctx.readF32(out);
      expect(got.every(Number.isFinite)).toBe(true);
      expect(relativeError(got, want)).toBeLessThan(1e-5);
      expect(linearFoldsNorm(ctx, { ...tw }, 1)).toBe(true);
      expect(() => makeGemvF16(ctx, tx, tw, out, plan, 0, { weight: ctx.tensor([K + 8], 'f32', 'g2'), eps })).toThrow(/must have/);
    }
    expect(linearFoldsNorm(ctx, tw, 2)).toBe(false);
    const tx2 = ctx.tensor([2, K], 'f32', 'x2', [...x, ...x]);
    expect(() => makeLinear(ctx, tx2, tw, ctx.tensor([2, N], 'f32', 'o2'), { norm: { weight: tg, eps } })).toThrow(/cannot take a folded RMSNorm/);
  });

  it('folds the RMSNorm of x + residual on every one-row GEMV (f16 subgroup, plain f16 with K even, f32), poisoned output', async () => {
    const ctx = await gpu();
    const eps = 1e-6;
    for (const [dtype, K] of [['f16', 8 * randomInt(1, 60)], ['f16', 8 * randomInt(1, 50) + 2 * randomInt(1, 3)], ['f32', randomInt(3, 500)]] as const) {
      const N = randomInt(5, 200) | 1;
      const x = randomArray(K, 3), res = randomArray(K, 2), gamma = randomArray(K), w = randomArray(N * K);
      const tw = ctx.tensor([N, K], dtype, 'w', w);
      expect(linearFoldsNorm(ctx, tw, 1), `${dtype} K=${K}`).toBe(true);
      const out = ctx.tensor([1, N], 'f32', 'out');
      ctx.fill(out, NaN);
      const norm = { weight: ctx.tensor([K], 'f32', 'gamma', gamma), eps, residual: ctx.tensor([1, K], 'f32', 'res', res) };
      ctx.run(makeLinear(ctx, ctx.tensor([1, K], 'f32', 'x', x), tw, out, { norm }));
      const normed = rmsNormReference(x.map((v, i) => v + res[i]), gamma, 1, K, eps);
      const want = dtype === 'f16' ? gemvF16Reference(normed, w, N, K) : linearReference(normed, w, 1, N, K);
      const got = await ctx.readF32(out);
      expect(got.every(Number.isFinite), `${dtype} K=${K}`).toBe(true);
      expect(relativeError(got, want), `${dtype} K=${K}`).toBeLessThan(1e-5);
    }
  });

  it('K not a multiple of 8: no subgroup plan, and makeLinear keeps the plain GEMV, exact', async () => {
    const ctx = await gpu();
    const N = 7, K = 22;
    const plan = planGemvF16(ctx, K);
    expect(plan.path).toBe('fallback');
    const x = randomArray(K), w = randomArray(N * K);
    const tw = ctx.tensor([N, K], 'f16', 'w', w), tx = ctx.tensor([1, K], 'f32', 'x', x);
    expect(() => makeGemvF16(ctx, tx, tw, ctx.tensor([N], 'f32', 'o'), plan)).toThrow(/no subgroup path here .*use makeLinear/);
    const out = ctx.tensor([1, N], 'f32', 'out');
    ctx.fill(out, NaN);
    ctx.run(makeLinear(ctx, tx, tw, out));
    expect(relativeError(await ctx.readF32(out), gemvF16Reference(x, w, N, K))).toBeLessThan(1e-5);
  });

  it('makeLinear routes one f16 row through it, row-split weights writing at their column offsets', async () => {
    const ctx = await gpu();
    const K = 8 * randomInt(2, 40), n0 = randomInt(3, 70), n1 = randomInt(3, 70), N = n0 + n1;
    const x = randomArray(K), w = randomArray(N * K);
    const parts = [ctx.tensor([n0, K], 'f16', 'w0', w.subarray(0, n0 * K)), ctx.tensor([n1, K], 'f16', 'w1', w.subarray(n0 * K))];
    const weight = { shape: [N, K], dtype: 'f16' as const, parts, rowStarts: [0, n0], label: 'w' };
    const out = ctx.tensor([1, N], 'f32', 'out');
    ctx.fill(out, NaN);
    const specs = makeLinear(ctx, ctx.tensor([1, K], 'f32', 'x', x), weight, out);
    if (planGemvF16(ctx, K).path === 'subgroup') expect(specs.map((s) => s.label)).toEqual(['linalg/gemv-f16', 'linalg/gemv-f16']);
    ctx.run(specs);
    expect(relativeError(await ctx.readF32(out), gemvF16Reference(x, w, N, K))).toBeLessThan(1e-5);
  });

});
