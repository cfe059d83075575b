import { describe, expect, it } from 'vitest';
import {
  expertGemvReference, expertSwiGluFusable, makeExpertGemv, makeExpertGemvSwiGlu, planExpertGemv, sharedExpertFoldReason, type ExpertGemvPlan,
} from '../../src/kernels/moe/expert-gemv.js';
import { swiGluReference } from '../../src/kernels/elementwise/swiglu.js';
import { rmsNormReference } from '../../src/kernels/norm/rmsnorm.js';
import type { GpuWeight } from '../../src/kernels/linalg/matmul.js';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

// Both decode MoE kernels against the f64 scalar reference: fresh random operands, ragged chunk counts (K not a
// multiple of chunk × subgroup size), N not a multiple of the rows per workgroup, NaN-poisoned outputs.
type Dtype = 'f32' | 'f16';

function stackedWeight(ctx: GpuContext, data: Float32Array, E: number, N: number, K: number, dtype: Dtype, split: boolean, label: string): GpuWeight {
  if (!split) return ctx.tensor([E, N, K], dtype, label, data);
  const cut = Math.max(1, Math.floor(E / 2));
  const parts = [[0, cut], [cut, E]].map(([a, b]) => ctx.tensor([b - a, N, K], dtype, `${label}${a}`, data.subarray(a * N * K, b * N * K)));
  return { shape: [E, N, K], dtype, parts, rowStarts: [0, cut], label };
}

async function checkProjection(ctx: GpuContext, dtype: Dtype, plan: ExpertGemvPlan, gather: boolean, split: boolean): Promise<void> {
  const chunk = dtype === 'f16' ? 8 : 4;
  const E = randomInt(3, 9), topK = randomInt(1, 3), T = randomInt(1, 4);
  const N = randomInt(3, 37) | 1, K = chunk * randomInt(3, 43);
  const slots = T * topK;
  const x = randomArray((gather ? T : slots) * K);
  const w = randomArray(E * N * K);
  const ids = Array.from({ length: slots }, () => randomInt(0, E - 1));
  // One spare output row beyond the slots must keep its poison.
  const out = ctx.tensor([slots + 1, N], 'f32', 'out');
  ctx.fill(out, NaN);
  ctx.run(makeExpertGemv(ctx, ctx.tensor([gather ? T : slots, K], 'f32', 'x', x), stackedWeight(ctx, w, E, N, K, dtype, split, 'w'),
    ctx.tensor([slots], 'u32', 'ids', ids), out, slots, topK, gather, plan));
  const got = await ctx.readF32(out);
  const ref = expertGemvReference(x, w, ids, slots, topK, gather, N, K, dtype === 'f16');
  expect(relativeError(got.subarray(0, slots * N), ref), `E=${E} N=${N} K=${K} slots=${slots}`).toBeLessThan(1e-5);
  expect(got.subarray(slots * N).every(Number.isNaN)).toBe(true);
}

describe('moe/expert-gemv', () => {
  const tilings = [{}, { rowsPerSubgroup: 1, subgroupsPerWorkgroup: 1 }, { rowsPerSubgroup: 3, subgroupsPerWorkgroup: 2 }];
  for (const dtype of ['f16', 'f32'] as const) {
    for (const gather of [true, false]) {
      it(`subgroup path matches the reference (${dtype}, ${gather ? 'gathered tokens' : 'one row per slot'}, several tilings, one with split experts)`, async () => {
        const ctx = await gpu();
        for (const [i, tiles] of tilings.entries()) {
          const plan = planExpertGemv(ctx, 8, dtype, tiles);
          expect(plan.path, plan.reason).toBe('subgroup');
          await checkProjection(ctx, dtype, plan, gather, i === 1);
        }
      });
      it(`workgroup path (kept for before/after) matches the reference (${dtype}, ${gather ? 'gathered' : 'per slot'})`, async () => {
        const ctx = await gpu();
        const plan = planExpertGemv(ctx, 8, dtype, {}, 'workgroup');
        expect(plan.path).toBe('workgroup');
        for (const split of [false, true]) await checkProjection(ctx, dtype, plan, gather, split);
      });
    }
  }

  it('fused gate|up|SwiGLU equals silu(x·Wg)·(x·Wu) per slot', async () => {
    const ctx = await gpu();
    for (const [dtype, split] of [['f16', false], ['f16', true], ['f32', false]] as const) {
      const chunk = dtype === 'f16' ? 8 : 4;
      const E = randomInt(3, 8), topK = randomInt(1, 3), T = randomInt(1, 3);
      const N = randomInt(5, 29) | 1, K = chunk * randomInt(5, 41), slots = T * topK;
      const x = randomArray(T * K), wg = randomArray(E * N * K), wu = randomArray(E * N * K);
      const ids = Array.from({ length: slots }, () => randomInt(0, E - 1));
      const gate = stackedWeight(ctx, wg, E, N, K, dtype, split, 'wg'), up = stackedWeight(ctx, wu, E, N, K, dtype, split, 'wu');
      expect(expertSwiGluFusable(ctx, gate, up)).toBe(true);
      const out = ctx.tensor([slots + 1, N], 'f32', 'out');
      ctx.fill(out, NaN);
      ctx.run(makeExpertGemvSwiGlu(ctx, ctx.tensor([T, K], 'f32', 'x', x), gate, up, ctx.tensor([slots], 'u32', 'ids', ids), out, slots, topK));
      const got = await ctx.readF32(out);
      const f16 = dtype === 'f16';
      const ref = swiGluReference(expertGemvReference(x, wg, ids, slots, topK, true, N, K, f16), expertGemvReference(x, wu, ids, slots, topK, true, N, K, f16));
      expect(relativeError(got.subarray(0, slots * N), ref), `${dtype} N=${N} K=${K}`).toBeLessThan(1e-5);
      expect(got.subarray(slots * N).every(Number.isNaN)).toBe(true);
    }
  });

  it('folded RMSNorm of x + residual in gate|up|SwiGLU (routed and shared slots) equals the pass over the normed rows', async () => {
    const ctx = await gpu();
    for (const [dtype, withShared] of [['f16', true], ['f16', false], ['f32', true]] as const) {
      const chunk = dtype === 'f16' ? 8 : 4, f16 = dtype === 'f16', eps = 1e-6;
      const E = randomInt(3, 8), topK = randomInt(1, 3), T = randomInt(1, 3);
      const I = chunk * randomInt(2, 9), H = chunk * randomInt(3, 41);
      const routed = T * topK, rows = withShared ? T * (topK + 1) : routed;
      const x = randomArray(T * H, 3), res = randomArray(T * H, 2), gamma = randomArray(H);
      const wg = randomArray(E * I * H), wu = randomArray(E * I * H), sg = randomArray(I * H), su = randomArray(I * H);
      const ids = Array.from({ length: routed }, () => randomInt(0, E - 1));
      const gate = stackedWeight(ctx, wg, E, I, H, dtype, false, 'wg'), up = stackedWeight(ctx, wu, E, I, H, dtype, false, 'wu');
      const shared = withShared ? { gate: ctx.tensor([I, H], dtype, 'sg', sg), up: ctx.tensor([I, H], dtype, 'su', su) } : undefined;
      const out = ctx.tensor([rows + 1, I], 'f32', 'out');
      ctx.fill(out, NaN);
      const norm = { weight: ctx.tensor([H], 'f32', 'gamma', gamma), eps, residual: ctx.tensor([T, H], 'f32', 'res', res) };
      ctx.run(makeExpertGemvSwiGlu(ctx, ctx.tensor([T, H], 'f32', 'x', x), gate, up, ctx.tensor([routed], 'u32', 'ids', ids), out, routed, topK, undefined, shared, norm));
      const normed = rmsNormReference(x.map((v, i) => v + res[i]), gamma, T, H, eps);
      const stack = (a: Float32Array, b: Float32Array) => (withShared ? Float32Array.from([...a, ...b]) : a);
      const idsExt = withShared ? Array.from({ length: rows }, (_, s) => (s % (topK + 1) === topK ? E : ids[Math.floor(s / (topK + 1)) * topK + (s % (topK + 1))])) : ids;
      const k = withShared ? topK + 1 : topK;
      const ref = swiGluReference(
        expertGemvReference(normed, stack(wg, sg), idsExt, rows, k, true, I, H, f16),
        expertGemvReference(normed, stack(wu, su), idsExt, rows, k, true, I, H, f16),
      );
      const got = await ctx.readF32(out);
      const what = `${dtype}${withShared ? ' shared' : ''} E=${E} topK=${topK} T=${T} I=${I} H=${H}`;
      expect(relativeError(got.subarray(0, rows * I), ref), what).toBeLessThan(1e-5);
      expect(got.subarray(rows * I).every(Number.isNaN), what).toBe(true);
    }
    const w = stackedWeight(ctx, randomArray(3 * 8 * 16), 3, 8, 16, 'f32', false, 'w');
    const bad = { weight: ctx.tensor([16], 'f32', 'g'), eps: 1e-6, residual: ctx.tensor([2, 16], 'f32', 'r') };
    expect(() => makeExpertGemvSwiGlu(ctx, ctx.tensor([1, 16], 'f32', 'x'), w, w, ctx.tensor([2], 'u32', 'ids'), ctx.tensor([2, 8], 'f32', 'o'), 2, 2, undefined, undefined, bad))
      .toThrow(/residual r must have 16 values, as x/);
  });

  // The shared expert folded in as slot topK of each token: the reference is the same projection over stacks
  // with the shared expert appended as expert E and topK + 1 slots per token.
  it('shared expert slot: fused gate|up|SwiGLU and down match the reference with the shared expert as expert E', async () => {
    const ctx = await gpu();
    for (const [dtype, split] of [['f16', false], ['f16', true], ['f32', false], ['f32', true]] as const) {
      const chunk = dtype === 'f16' ? 8 : 4, f16 = dtype === 'f16';
      const E = randomInt(3, 8), topK = randomInt(1, 3), T = randomInt(1, 4);
      const I = chunk * randomInt(2, 9), H = chunk * randomInt(3, 27);
      const routed = T * topK, rows = T * (topK + 1);
      const x = randomArray(T * H), wg = randomArray(E * I * H), wu = randomArray(E * I * H), wd = randomArray(E * H * I);
      const sg = randomArray(I * H), su = randomArray(I * H), sd = randomArray(H * I);
      const ids = Array.from({ length: routed }, () => randomInt(0, E - 1));
      const gate = stackedWeight(ctx, wg, E, I, H, dtype, split, 'wg'), up = stackedWeight(ctx, wu, E, I, H, dtype, split, 'wu');
      const down = stackedWeight(ctx, wd, E, H, I, dtype, split, 'wd');
      const shared = { gate: ctx.tensor([I, H], dtype, 'sg', sg), up: ctx.tensor([I, H], dtype, 'su', su), down: ctx.tensor([H, I], dtype, 'sd', sd) };
      expect(sharedExpertFoldReason(ctx, { gate, up, down }, shared)).toBeUndefined();
      // One spare row beyond the slots must keep its poison in both outputs.
      const mid = ctx.tensor([rows + 1, I], 'f32', 'mid'), out = ctx.tensor([rows + 1, H], 'f32', 'out');
      ctx.fill(mid, NaN);
      ctx.fill(out, NaN);
      const idsT = ctx.tensor([routed], 'u32', 'ids', ids);
      ctx.run([
        ...makeExpertGemvSwiGlu(ctx, ctx.tensor([T, H], 'f32', 'x', x), gate, up, idsT, mid, routed, topK, undefined, shared),
        ...makeExpertGemv(ctx, mid, down, idsT, out, routed, topK, false, undefined, shared.down),
      ]);
      const withShared = (stack: Float32Array, one: Float32Array) => { const a = new Float32Array(stack.length + one.length); a.set(stack); a.set(one, stack.length); return a; };
      const idsExt = Array.from({ length: rows }, (_, s) => (s % (topK + 1) === topK ? E : ids[Math.floor(s / (topK + 1)) * topK + (s % (topK + 1))]));
      const gotMid = await ctx.readF32(mid), gotOut = await ctx.readF32(out);
      const refMid = swiGluReference(
        expertGemvReference(x, withShared(wg, sg), idsExt, rows, topK + 1, true, I, H, f16),
        expertGemvReference(x, withShared(wu, su), idsExt, rows, topK + 1, true, I, H, f16),
      );
      // The down pass is checked on the GPU's own middle rows, so the two errors do not compound.
      const refOut = expertGemvReference(gotMid, withShared(wd, sd), idsExt, rows, topK + 1, false, H, I, f16);
      const what = `${dtype}${split ? ' split' : ''} E=${E} topK=${topK} T=${T} I=${I} H=${H}`;
      expect(relativeError(gotMid.subarray(0, rows * I), refMid), what).toBeLessThan(1e-5);
      expect(relativeError(gotOut.subarray(0, rows * H), refOut), what).toBeLessThan(1e-5);
      expect(gotMid.subarray(rows * I).every(Number.isNaN) && gotOut.subarray(rows * H).every(Number.isNaN), what).toBe(true);
    }
  });

  it('says why the shared expert cannot fold (width, dtype, split, workgroup path) and rejects it there', async () => {
    const ctx = await gpu();
    const routed = { gate: ctx.tensor([3, 8, 16], 'f16', 'w1'), up: ctx.tensor([3, 8, 16], 'f16', 'w3'), down: ctx.tensor([3, 16, 8], 'f16', 'w2') };
    const shared = { gate: ctx.tensor([8, 16], 'f16', 'sg'), up: ctx.tensor([8, 16], 'f16', 'su'), down: ctx.tensor([16, 8], 'f16', 'sd') };
    expect(sharedExpertFoldReason(ctx, routed, shared)).toBeUndefined();
    // Two shared experts: twice the routed width.
    expect(sharedExpertFoldReason(ctx, routed, { ...shared, gate: ctx.tensor([16, 16], 'f16', 'wide') })).toMatch(/shared wide \[16, 16\] f16 is not one expert of w1/);
    expect(sharedExpertFoldReason(ctx, routed, { ...shared, down: ctx.tensor([16, 8], 'f32', 'sd32') })).toMatch(/sd32 .* f32 is not one expert/);
    const halves = [ctx.tensor([8, 8], 'f16', 'a'), ctx.tensor([8, 8], 'f16', 'b')];
    expect(sharedExpertFoldReason(ctx, routed, { ...shared, down: { shape: [16, 8], dtype: 'f16', parts: halves, rowStarts: [0, 8], label: 'sdsplit' } }))
      .toBe('sdsplit spans several bindings');
    process.env.CTXBENCH_SHARED_EXPERT = 'separate';
    try {
      expect(sharedExpertFoldReason(ctx, routed, shared)).toBe('forced separate');
    } finally {
      delete process.env.CTXBENCH_SHARED_EXPERT;
    }
    const ids = ctx.tensor([2], 'u32', 'ids'), x = ctx.tensor([4, 8], 'f32', 'x'), o = ctx.tensor([4, 16], 'f32', 'o');
    expect(() => makeExpertGemv(ctx, x, routed.down, ids, o, 2, 1, false, planExpertGemv(ctx, 8, 'f16', {}, 'workgroup'), shared.down))
      .toThrow(/shared expert slot cannot run with the workgroup path/);
    // topK + 1 rows per token: 2 routed slots of top-1 need 4 output rows.
    expect(() => makeExpertGemv(ctx, x, routed.down, ids, ctx.tensor([3, 16], 'f32', 'o3'), 2, 1, false, undefined, shared.down))
      .toThrow(/expected at least \[4, 16\]/);
  });

  it('plans the fallback with a reason and rejects bad operands in one line', async () => {
    const ctx = await gpu();
    expect(planExpertGemv(ctx, 12, 'f16')).toMatchObject({ path: 'workgroup', reason: 'K=12 is not a multiple of 8' });
    expect(() => planExpertGemv(ctx, 16, 'f16', { rowsPerSubgroup: 0 })).toThrow(/positive integers/);
    const w = ctx.tensor([3, 8, 16], 'f16', 'w'), w2 = ctx.tensor([3, 8, 24], 'f16', 'w2');
    const ids = ctx.tensor([2], 'u32', 'ids'), x = ctx.tensor([1, 16], 'f32', 'x'), o = ctx.tensor([2, 8], 'f32', 'o');
    expect(expertSwiGluFusable(ctx, w, w2)).toBe(false);
    expect(() => makeExpertGemvSwiGlu(ctx, x, w, w2, ids, o, 2, 2)).toThrow(/^expert gemv swiglu: w \[3, 8, 16\] f16 and w2 \[3, 8, 24\] f16 differ$/);
    expect(() => makeExpertGemvSwiGlu(ctx, x, w, w, ids, o, 2, 2, planExpertGemv(ctx, 16, 'f16', {}, 'workgroup'))).toThrow(/needs the subgroup path/);
    expect(() => makeExpertGemv(ctx, x, w, ids, o, 0, 2, true)).toThrow(/positive integers/);
    expect(() => makeExpertGemv(ctx, x, w, ctx.tensor([1], 'u32', 'few'), o, 2, 2, true)).toThrow(/few holds fewer than 2 expert ids/);
  });
});
