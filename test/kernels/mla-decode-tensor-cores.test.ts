// The absorbed MLA decode's tensor-core split pass (mla-absorbed-decode-tc.wgsl). It needs f16 subgroup
// matrices, so on lavapipe only the plan's fallback and its refusals run; on a tensor-core adapter the pass is
// checked against the f64 reference fed the very halves it reads (random sizes, several splits, a sharp
// softmax that forces lazy rescales, poisoned scratch and output, and the replayable GPU length counter).
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { mlaAttentionReference, mlaExpandReference } from '../../src/kernels/mla/mla-reference.js';
import { latentRowHalves } from '../../src/kernels/mla/mla-latent-append.js';
import {
  allocMlaDecodeScratch, mlaAbsorbedDecode, mlaDecodeCacheRows, mlaDecodeTensorCoresUnsupported, planMlaDecode, type MlaDecodeDims,
} from '../../src/kernels/mla/mla-absorbed-decode.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

const ctxPromise = gpu();
const probeDims: MlaDecodeDims = { H: 32, Dn: 128, Dr: 64, Dv: 128, R: 512 };
const tensorCores = await ctxPromise.then((ctx) => mlaDecodeTensorCoresUnsupported(ctx, probeDims) === undefined);

/** A zeroed f16 cache of the plan's rows with Tk random rows written (values as halves, exact in f32). */
async function halfCache(ctx: GpuContext, rows: number, Tk: number, DC: number, amplitude: number) {
  const P = latentRowHalves(DC);
  const cache = ctx.tensor([rows, P], 'f16', 'latent cache');
  ctx.clear(cache);
  const data = new Float32Array(Tk * P);
  for (let t = 0; t < Tk; t++) data.set(randomArray(DC, amplitude), t * P);
  const staged = ctx.tensor([Tk, P], 'f16', 'rows', data);
  ctx.copy(staged, cache, staged.bytes);
  const halves = await ctx.readF32(staged);
  const dense = new Float32Array(Tk * DC);
  for (let t = 0; t < Tk; t++) dense.set(halves.subarray(t * P, t * P + DC), t * DC);
  ctx.arena.free(staged);
  return { cache, dense };
}

async function decodeOnce(ctx: GpuContext, d: MlaDecodeDims, Tk: number, splits: number, amplitude: number, seqLen?: number) {
  const DC = d.R + d.Dr;
  const capacity = Tk + randomInt(0, 70);
  const plan = planMlaDecode(ctx, d, capacity, splits, { cacheF16: true });
  expect(plan.tensorCores).toBe(true);
  const { cache, dense } = await halfCache(ctx, mlaDecodeCacheRows(plan, capacity), Tk, DC, amplitude);
  const wkvb = randomArray(d.H * (d.Dn + d.Dv) * d.R, 0.3), q = randomArray(d.H * (d.Dn + d.Dr), 2);
  const scratch = allocMlaDecodeScratch(ctx, d, plan);
  for (const t of Object.values(scratch)) ctx.fill(t, NaN);
  const out = ctx.tensor([d.H, d.Dv], 'f32', 'decode out');
  ctx.fill(out, NaN);
  const counter = seqLen === undefined ? undefined : ctx.tensor([1], 'u32', 'seqLen', new Uint32Array([seqLen]));
  ctx.run(mlaAbsorbedDecode(ctx, {
    q: ctx.tensor([d.H, d.Dn + d.Dr], 'f32', 'q', q), wkvb: ctx.tensor([d.H * (d.Dn + d.Dv), d.R], 'f32', 'wkvb', wkvb),
    cache, Tk: counter ? capacity : Tk, seqLen: counter, out, ...d,
  }, scratch, plan));
  const got = await ctx.readF32(out);
  const kv = mlaExpandReference(dense, wkvb, Tk, d.H, d.R, d.Dr, d.Dn, d.Dv);
  const want = mlaAttentionReference(q, kv, 1, Tk - 1, d.H, d.Dn, d.Dr, d.Dv, 1 / Math.sqrt(d.Dn + d.Dr));
  return relativeError(got, want);
}

describe('mla/mla-absorbed-decode-tc (tensor-core split pass)', () => {
  it('is planned only for f16 caches where the adapter has f16 subgroup matrices; otherwise a scalar pass', async () => {
    const ctx = await ctxPromise;
    expect(planMlaDecode(ctx, probeDims, 4096, undefined, { cacheF16: false }).tensorCores).toBe(false);
    expect(planMlaDecode(ctx, probeDims, 4096, undefined, { cacheF16: true }).tensorCores).toBe(tensorCores);
    expect(planMlaDecode(ctx, probeDims, 4096, undefined, { cacheF16: true, tensorCores: false }).tensorCores).toBe(false);
    // Head counts and widths the fragments cannot tile are refused by name, whatever the adapter.
    expect(mlaDecodeTensorCoresUnsupported(ctx, { ...probeDims, H: 24 })).toMatch(/H \(24\)|subgroup matrices|subgroups/);
  });

  it('pads the cache to whole 64-key blocks only for the tensor-core plan', async () => {
    const ctx = await ctxPromise;
    const scalar = planMlaDecode(ctx, probeDims, 1000, undefined, { cacheF16: true, tensorCores: false });
    expect(mlaDecodeCacheRows(scalar, 1000)).toBe(1000);
    if (tensorCores) expect(mlaDecodeCacheRows(planMlaDecode(ctx, probeDims, 1000, undefined, { cacheF16: true }), 1000)).toBe(1024);
  });

  it.skipIf(!tensorCores)('matches the f64 reference over the halves it reads (random sizes, several splits)', async () => {
    const ctx = await ctxPromise;
    for (const d of [probeDims, { H: 16, Dn: randomInt(3, 40), Dr: 0, Dv: randomInt(3, 40), R: 128 }, { H: 48, Dn: 16, Dr: 16, Dv: 24, R: 192 }]) {
      const Tk = randomInt(1, 900), splits = randomInt(1, 7);
      // f16 query and weights (≤ 2^-11 relative each) through a softmax: well under 1e-2 of the output scale.
      expect(await decodeOnce(ctx, d, Tk, splits, 1)).toBeLessThan(1e-2);
    }
  });

  it.skipIf(!tensorCores)('rescales lazily when a sharp softmax keeps raising the running max', async () => {
    const ctx = await ctxPromise;
    expect(await decodeOnce(ctx, probeDims, randomInt(300, 700), 2, 4)).toBeLessThan(1e-2);
  });

  it.skipIf(!tensorCores)('reads the live length from the GPU counter (replayable list)', async () => {
    const ctx = await ctxPromise;
    const Tk = randomInt(70, 400);
    expect(await decodeOnce(ctx, probeDims, Tk, 3, 1, Tk)).toBeLessThan(1e-2);
  });

  it.skipIf(!tensorCores)('refuses a cache shorter than Tk rounded up to a block, and a plan without its f16 query scratch', async () => {
    const ctx = await ctxPromise;
    const d = probeDims, DC = d.R + d.Dr;
    const plan = planMlaDecode(ctx, d, 100, 2, { cacheF16: true });
    const t = (n: number) => ctx.tensor([n], 'f32', 'x');
    const args = { q: t(d.H * (d.Dn + d.Dr)), wkvb: t(d.H * (d.Dn + d.Dv) * d.R), Tk: 100, out: t(d.H * d.Dv), ...d };
    const scratch = allocMlaDecodeScratch(ctx, d, plan);
    expect(() => mlaAbsorbedDecode(ctx, { ...args, cache: ctx.tensor([100, latentRowHalves(DC)], 'f16', 'c') }, scratch, plan)).toThrow(/whole blocks of 64 keys/);
    const { qT: _dropped, qScale: _droppedScale, ...withoutQ } = scratch;
    expect(() => mlaAbsorbedDecode(ctx, { ...args, cache: ctx.tensor([128, latentRowHalves(DC)], 'f16', 'c') }, withoutQ, plan)).toThrow(/lacks qT\/qScale/);
  });
});
