// Randomized WebGPU tests of the f16 MLA latent cache: the append writing halves, the absorbed decode reading
// them (both split passes, scalar and vec4 loads), the widening unpack the prefill paths use. Odd sizes (odd
// R + Dr pads each row to an even width), poisoned outputs, f64 references.
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import type { GpuTensor } from '../../src/engine/gpu/arena.js';
import { mlaAttentionReference, mlaExpandReference, mlaLatentRowsReference } from '../../src/kernels/mla/mla-reference.js';
import { latentRowHalves, mlaLatentAppend } from '../../src/kernels/mla/mla-latent-append.js';
import { mlaLatentUnpack } from '../../src/kernels/mla/mla-latent-unpack.js';
import { allocMlaDecodeScratch, mlaAbsorbedDecode, planMlaDecode } from '../../src/kernels/mla/mla-absorbed-decode.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';
import { recordedAppendDecode } from '../gpu/mla-decode-step.js';

interface Dims { H: number; Dn: number; Dr: number; Dv: number; R: number }
const randomDims = (): Dims => ({ H: randomInt(1, 4), Dn: randomInt(3, 20) | 1, Dr: randomInt(0, 9), Dv: randomInt(3, 17) | 1, R: randomInt(8, 40) | 1 });
const vec4Dims = (): Dims => ({ ...randomDims(), Dr: 4 * randomInt(0, 3), R: 4 * randomInt(2, 12) });

function poisonedF16(ctx: GpuContext, rows: number, DC: number, label: string): GpuTensor {
  const t = ctx.tensor([rows, latentRowHalves(DC)], 'f16', label);
  ctx.fill(t, NaN);
  return t;
}

/** The first `rows` cache rows as the GPU holds them (halves widened exactly), without the pad column. */
async function cacheRows(ctx: GpuContext, cache: GpuTensor, rows: number, DC: number): Promise<Float32Array> {
  const all = await ctx.readF32(cache), P = latentRowHalves(DC);
  const out = new Float32Array(rows * DC);
  for (let t = 0; t < rows; t++) out.set(all.subarray(t * P, t * P + DC), t * DC);
  return out;
}

/**
 * One f16 rounding step of `exact`: WGSL lets f32→f16 round to either neighbour, so the stored half is within
 * one ulp (2^(e−10) for |x| in [2^e, 2^(e+1)), 2^−24 below the normal range); the f32 vs f64 norm differs by
 * ~1e-7 relative, far inside that.
 */
function withinOneHalfUlp(actual: number, exact: number): boolean {
  const a = Math.abs(exact);
  const ulp = a < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(a)) - 10);
  return Math.abs(actual - exact) <= ulp * 1.001;
}

/** An f16 cache filled by two appends (prefill, then one token); returns the exact f64 rows too. */
function buildCache(ctx: GpuContext, d: Dims, Tk: number, capacity: number) {
  const DC = d.R + d.Dr;
  const kva = randomArray(Tk * DC, 2), w = randomArray(d.R);
  const exact = mlaLatentRowsReference(kva, w, Tk, d.R, d.Dr, 1e-6);
  const cache = poisonedF16(ctx, capacity, DC, 'f16 latent cache');
  const tw = ctx.tensor([d.R], 'f32', 'kv_a_layernorm', w);
  const common = { weight: tw, cache, R: d.R, Dr: d.Dr, eps: 1e-6 };
  ctx.run([mlaLatentAppend(ctx, { ...common, kva: ctx.tensor([Tk - 1, DC], 'f32', 'kva', kva.subarray(0, (Tk - 1) * DC)), pos: 0, T: Tk - 1 })]);
  ctx.run([mlaLatentAppend(ctx, { ...common, kva: ctx.tensor([1, DC], 'f32', 'kva1', kva.subarray((Tk - 1) * DC)), pos: Tk - 1, T: 1 })]);
  return { cache, exact };
}

describe('mla/mla-latent-append (f16 cache)', () => {
  it('writes normed latents and raw k_pe as halves within one f16 rounding, pads odd rows with 0, clamps to ±65504, leaves other rows alone', async () => {
    const ctx = await gpu();
    const R = randomInt(5, 90) | 1, Dr = randomInt(1, 7), T = randomInt(2, 6), pos = randomInt(0, 4), DC = R + Dr, P = latentRowHalves(DC);
    const kva = randomArray(T * DC, 3), w = randomArray(R);
    kva[R] = 1e5; // token 0's first k_pe value is past the f16 range
    const capacity = pos + T + 2;
    const before = randomArray(capacity * P);
    const cache = ctx.tensor([capacity, P], 'f16', 'cache', before);
    const beforeHalves = await ctx.readF32(cache);
    ctx.run([mlaLatentAppend(ctx, { kva: ctx.tensor([T, DC], 'f32', 'kva', kva), weight: ctx.tensor([R], 'f32', 'w', w), cache, pos, T, R, Dr, eps: 1e-6 })]);
    const got = await ctx.readF32(cache);
    const exact = mlaLatentRowsReference(kva, w, T, R, Dr, 1e-6);
    const bad: string[] = [];
    for (let row = 0; row < capacity; row++) {
      for (let c = 0; c < P; c++) {
        const g = got[row * P + c], t = row - pos;
        if (t < 0 || t >= T) { if (!Object.is(g, beforeHalves[row * P + c])) bad.push(`untouched row ${row} col ${c}`); continue; }
        const want = c >= DC ? 0 : t === 0 && c === R ? 65504 : exact[t * DC + c];
        if (!withinOneHalfUlp(g, want)) bad.push(`row ${row} col ${c}: ${g} vs ${want}`);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('refuses a u32 cache and tokens past the capacity', async () => {
    const ctx = await gpu();
    const args = { kva: ctx.tensor([1, 6], 'f32', 'kva'), weight: ctx.tensor([5], 'f32', 'w'), pos: 3, T: 1, R: 5, Dr: 1, eps: 1e-6 };
    expect(() => mlaLatentAppend(ctx, { ...args, cache: ctx.tensor([3, 6], 'u32', 'c') })).toThrow(/is u32, expected f32 or f16/);
    expect(() => mlaLatentAppend(ctx, { ...args, cache: ctx.tensor([3, 6], 'f16', 'c') })).toThrow(/exceed the cache capacity 3/);
  });
});

describe('mla/mla-latent-unpack', () => {
  it('widens rows row0.. of an f16 cache (odd row width) exactly into poisoned f32 rows', async () => {
    const ctx = await gpu();
    const DC = randomInt(3, 60), capacity = randomInt(5, 40), T = randomInt(1, capacity - 2), row0 = randomInt(0, capacity - T), P = latentRowHalves(DC);
    const cache = ctx.tensor([capacity, P], 'f16', 'cache', randomArray(capacity * P, 4));
    const out = ctx.tensor([T, DC], 'f32', 'rows');
    ctx.fill(out, NaN);
    ctx.run([mlaLatentUnpack(ctx, { cache, row0, T, DC, out })]);
    const halves = await cacheRows(ctx, cache, capacity, DC);
    expect(Array.from(await ctx.readF32(out))).toEqual(Array.from(halves.subarray(row0 * DC, (row0 + T) * DC)));
    expect(() => mlaLatentUnpack(ctx, { cache, row0: capacity - T + 1, T, DC, out })).toThrow(/exceed the cache's/);
  });
});

describe('mla/mla-absorbed-decode (f16 cache)', () => {
  for (const subgroupHeads of [true, false]) {
    const kind = subgroupHeads ? 'subgroup heads' : 'staged';
    for (const vec4 of [false, true]) {
      it(`${kind}, ${vec4 ? 'vec4' : 'scalar'} loads: equals expanded attention over the halves it reads; rounding the cache costs ≤ 2× what it costs the f64 reference`, async () => {
        const ctx = await gpu();
        const d = vec4 ? vec4Dims() : randomDims(), DC = d.R + d.Dr;
        const Tk = randomInt(20, 90) | 1, splits = randomInt(1, 5);
        const { cache, exact } = buildCache(ctx, d, Tk, Tk + 3);
        const wkvb = randomArray(d.H * (d.Dn + d.Dv) * d.R, 0.5), q = randomArray(d.H * (d.Dn + d.Dr), 3);
        const plan = { ...planMlaDecode(ctx, d, Tk + 3, splits, { subgroupHeads }), ...(splits === 3 ? { keyRows: 3 } : {}) };
        const scratch = allocMlaDecodeScratch(ctx, d, plan);
        for (const t of Object.values(scratch)) ctx.fill(t, NaN);
        const out = ctx.tensor([d.H, d.Dv], 'f32', 'decode out');
        ctx.fill(out, NaN);
        ctx.run(mlaAbsorbedDecode(ctx, { q: ctx.tensor([d.H, d.Dn + d.Dr], 'f32', 'q', q), wkvb: ctx.tensor([d.H * (d.Dn + d.Dv), d.R], 'f32', 'wkvb', wkvb), cache, Tk, out, ...d }, scratch, plan));
        const got = await ctx.readF32(out);
        const attend = (rows: Float32Array) => mlaAttentionReference(q, mlaExpandReference(rows, wkvb, Tk, d.H, d.R, d.Dr, d.Dn, d.Dv), 1, Tk - 1, d.H, d.Dn, d.Dr, d.Dv, 1 / Math.sqrt(d.Dn + d.Dr));
        // The kernel's own error: against the reference fed the very halves it read (same bound as the f32 cache).
        const onHalves = attend(await cacheRows(ctx, cache, Tk, DC));
        expect(relativeError(got, onHalves)).toBeLessThan(1e-4);
        // The cache's rounding: relative ~2^-11 per value; through a ~40-long score dot and the softmax it moves
        // unit-scale outputs by well under 1%, and the kernel adds nothing beyond the f32 arithmetic above.
        const exactOut = attend(exact);
        const intrinsic = relativeError(onHalves, exactOut);
        expect(intrinsic).toBeLessThan(1e-2);
        expect(relativeError(got, exactOut)).toBeLessThan(2 * intrinsic + 1e-4);
      });
    }

    it(`${kind}: replays one recorded f16 append + decode list across steps (GPU length counter)`, async () => {
      const ctx = await gpu();
      const d = vec4Dims(), DC = d.R + d.Dr, Tk0 = randomInt(3, 30), steps = 3, capacity = Tk0 + steps;
      const { cache } = buildCache(ctx, d, Tk0, capacity);
      const { wkvb, norm, out, step: runStep } = recordedAppendDecode(ctx, d, cache, capacity, subgroupHeads);
      for (let step = 0; step < steps; step++) {
        const Tk = Tk0 + step + 1;
        const { kvaRow, qRow } = runStep(Tk);
        const rows = await cacheRows(ctx, cache, Tk, DC);
        const fresh = mlaLatentRowsReference(kvaRow, norm, 1, d.R, d.Dr, 1e-6);
        expect(Array.from(rows.subarray((Tk - 1) * DC)).every((x, c) => withinOneHalfUlp(x, fresh[c]))).toBe(true);
        const kv = mlaExpandReference(rows, wkvb, Tk, d.H, d.R, d.Dr, d.Dn, d.Dv);
        const expected = mlaAttentionReference(qRow, kv, 1, Tk - 1, d.H, d.Dn, d.Dr, d.Dv, 1 / Math.sqrt(d.Dn + d.Dr));
        expect(relativeError(await ctx.readF32(out), expected)).toBeLessThan(1e-4);
      }
    });
  }

  it('48B latent width (R 512, Dr 64: vec4 loads, 16 column groups per lane at subgroup 8), few heads and keys', async () => {
    const ctx = await gpu();
    const d = { H: 2, Dn: 128, Dr: 64, Dv: 128, R: 512 }, DC = d.R + d.Dr, Tk = randomInt(17, 40);
    const { cache } = buildCache(ctx, d, Tk, Tk);
    const wkvb = randomArray(d.H * (d.Dn + d.Dv) * d.R, 0.05), q = randomArray(d.H * (d.Dn + d.Dr), 3);
    const plan = planMlaDecode(ctx, d, Tk, 3);
    const out = ctx.tensor([d.H, d.Dv], 'f32', 'decode out');
    ctx.fill(out, NaN);
    ctx.run(mlaAbsorbedDecode(ctx, { q: ctx.tensor([d.H, d.Dn + d.Dr], 'f32', 'q', q), wkvb: ctx.tensor([d.H * (d.Dn + d.Dv), d.R], 'f32', 'wkvb', wkvb), cache, Tk, out, ...d }, allocMlaDecodeScratch(ctx, d, plan), plan));
    const kv = mlaExpandReference(await cacheRows(ctx, cache, Tk, DC), wkvb, Tk, d.H, d.R, d.Dr, d.Dn, d.Dv);
    expect(relativeError(await ctx.readF32(out), mlaAttentionReference(q, kv, 1, Tk - 1, d.H, d.Dn, d.Dr, d.Dv, 1 / Math.sqrt(d.Dn + d.Dr)))).toBeLessThan(1e-4);
  });

  it('rejects an f16 cache shorter than Tk', async () => {
    const ctx = await gpu();
    const d = { H: 2, Dn: 4, Dr: 3, Dv: 3, R: 6 };
    const plan = planMlaDecode(ctx, d, 8);
    const t = (n: number) => ctx.tensor([n], 'f32', 'x');
    const cache = ctx.tensor([5, latentRowHalves(9)], 'f16', 'c');
    expect(() => mlaAbsorbedDecode(ctx, { q: t(14), wkvb: t(2 * 7 * 6), cache, Tk: 6, out: t(6), ...d }, allocMlaDecodeScratch(ctx, d, plan), plan)).toThrow(/cache holds 5 rows, Tk is 6/);
  });
});
