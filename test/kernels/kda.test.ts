// Randomized WebGPU tests of the KDA kernels against the f64 scalar references (fresh random inputs each run,
// odd sizes, lengths that are not a multiple of the chunk, outputs poisoned with NaN before every dispatch).
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import {
  kdaGatedRmsNormReference, kdaPrepareReference, kdaRecurrentReference, shortConvReference, type KdaPrepared,
} from '../../src/kernels/kda/kda-reference.js';
import { shortConv, shortConvGroups } from '../../src/kernels/kda/short-conv.js';
import { kdaPrepare } from '../../src/kernels/kda/kda-prepare.js';
import { kdaRecurrentStep } from '../../src/kernels/kda/kda-recurrent.js';
import { allocKdaChunkScratch, kdaChunkPrefill, planKdaChunk, type KdaTileOverrides } from '../../src/kernels/kda/kda-chunk.js';
import { kdaGatedRmsNorm } from '../../src/kernels/kda/kda-gated-norm.js';
import { kdaDecodeStep } from '../../src/kernels/kda/kda-decode-step.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';

function poisoned(ctx: GpuContext, shape: number[], label: string) {
  const t = ctx.tensor(shape, 'f32', label);
  ctx.fill(t, NaN);
  return t;
}

/** Delta-rule inputs as kdaPrepare would make them; `decay` scales the gate so some channels forget fast. */
function randomPrepared(T: number, H: number, dk: number, decay: number): KdaPrepared {
  return kdaPrepareReference(randomArray(T * H * dk), randomArray(T * H * dk), randomArray(T * H * dk, decay),
    randomArray(T * H, 3), randomArray(H, Math.log(16)), randomArray(H * dk, 2), T, H, dk);
}

interface DeltaCase { ctx: GpuContext; T: number; H: number; dk: number; dv: number; prep: KdaPrepared; v: Float32Array; s0: Float32Array }

function uploadDelta(c: DeltaCase, from = 0, to = c.T) {
  const { ctx, H, dk, dv } = c;
  const n = to - from;
  return {
    q: ctx.tensor([n, H, dk], 'f32', 'q', c.prep.q.subarray(from * H * dk, to * H * dk)),
    k: ctx.tensor([n, H, dk], 'f32', 'k', c.prep.k.subarray(from * H * dk, to * H * dk)),
    g: ctx.tensor([n, H, dk], 'f32', 'g', c.prep.g.subarray(from * H * dk, to * H * dk)),
    beta: ctx.tensor([n, H], 'f32', 'beta', c.prep.beta.subarray(from * H, to * H)),
    v: ctx.tensor([n, H * dv], 'f32', 'v', c.v.subarray(from * H * dv, to * H * dv)),
    out: poisoned(ctx, [n, H, dv], 'o'),
    T: n, H, dk, dv,
  };
}

async function runChunked(c: DeltaCase, state: ReturnType<GpuContext['tensor']>, chunk?: number, from = 0, to = c.T, tiles: KdaTileOverrides = {}) {
  return (await runChunkedScratch(c, state, chunk, from, to, tiles)).out;
}

/** The output and every intra-pass scratch tensor (read back), for comparing the two intra variants. */
async function runChunkedScratch(c: DeltaCase, state: ReturnType<GpuContext['tensor']>, chunk?: number, from = 0, to = c.T, tiles: KdaTileOverrides = {}) {
  const args = { ...uploadDelta(c, from, to), state };
  const plan = planKdaChunk(c.ctx, c.dk, c.dv, chunk, tiles);
  const scratch = allocKdaChunkScratch(c.ctx, args.T, c.H, c.dk, c.dv, plan);
  for (const t of Object.values(scratch)) if (typeof t === 'object') c.ctx.fill(t, NaN);
  c.ctx.run(kdaChunkPrefill(c.ctx, args, scratch, plan));
  const [qG, kG, w, u, p, decayLast] = await Promise.all([scratch.qG, scratch.kG, scratch.w, scratch.u, scratch.p, scratch.decayLast].map((t) => c.ctx.readF32(t)));
  const chunks = Math.ceil(args.T / plan.chunk);
  const used = (x: Float32Array, n: number) => x.subarray(0, n);
  return {
    out: await c.ctx.readF32(args.out), plan,
    scratch: {
      qG: used(qG, args.T * c.H * c.dk), kG: used(kG, args.T * c.H * c.dk), w: used(w, args.T * c.H * c.dk), u: used(u, args.T * c.H * c.dv),
      p: used(p, chunks * c.H * plan.chunk ** 2), decayLast: used(decayLast, chunks * c.H * c.dk),
    },
  };
}

async function runRecurrent(c: DeltaCase, state: ReturnType<GpuContext['tensor']>, from = 0, to = c.T) {
  const args = { ...uploadDelta(c, from, to), state };
  c.ctx.run([kdaRecurrentStep(c.ctx, args)]);
  return c.ctx.readF32(args.out);
}

/**
 * The chunked form's error floor: it exponentiates differences of chunk-local cumulative gates held in f32, so an
 * exponent carries about 2^-24·|G| absolute error (the same in FLA's and transformers' chunk paths). With decays 20×
 * the model's a 64-row chunk reaches |G| ≈ 6000; measured output/state errors stayed under 0.35·2^-24·max|G|.
 */
function chunkedBound(c: DeltaCase, chunk: number) {
  let gMax = 0;
  for (let h = 0; h < c.H; h++) {
    for (let ch = 0; ch < c.dk; ch++) {
      let acc = 0;
      for (let t = 0; t < c.T; t++) {
        if (t % chunk === 0) acc = 0;
        acc += c.prep.g[(t * c.H + h) * c.dk + ch];
        gMax = Math.max(gMax, -acc);
      }
    }
  }
  return Math.max(1e-4, 2 ** -24 * gMax);
}

async function deltaCase(T: number, H: number, dk: number, dv: number, decay = 2): Promise<DeltaCase> {
  return { ctx: await gpu(), T, H, dk, dv, prep: randomPrepared(T, H, dk, decay), v: randomArray(T * H * dv), s0: randomArray(H * dk * dv) };
}

describe('kda/short-conv', () => {
  it('matches the reference on a strided view (two-pass roll), then continues one token at a time (fused roll)', async () => {
    const ctx = await gpu();
    const T = randomInt(17, 61) | 1, D = randomInt(9, 70) | 1, K = 4, pad = 3, stride = D + 2 * pad;
    const wide = randomArray(T * stride), w = randomArray(D * K), cache0 = randomArray((K - 1) * D);
    const x = Float32Array.from({ length: T * D }, (_, i) => wide[Math.floor(i / D) * stride + pad + (i % D)]);
    const tx = ctx.tensor([T, stride], 'f32', 'x', wide), tw = ctx.tensor([D, 1, K], 'f32', 'w', w);
    const tc = ctx.tensor([K - 1, D], 'f32', 'cache', cache0), ty = poisoned(ctx, [T, D], 'y');
    ctx.run(shortConv(ctx, { x: { tensor: tx, offset: pad, rowStride: stride }, weight: tw, cache: tc, y: ty, T, D, K }));
    const ref = shortConvReference(x, w, cache0, T, D, K);
    expect(relativeError(await ctx.readF32(ty), ref.y)).toBeLessThan(1e-5);
    expect(relativeError(await ctx.readF32(tc), ref.cache)).toBe(0);

    const next = randomArray(D), tn = ctx.tensor([1, D], 'f32', 'x1', next), ty1 = poisoned(ctx, [1, D], 'y1');
    ctx.run(shortConv(ctx, { x: tn, weight: tw, cache: tc, y: ty1, T: 1, D, K }));
    const ref1 = shortConvReference(next, w, ref.cache, 1, D, K);
    expect(relativeError(await ctx.readF32(ty1), ref1.y)).toBeLessThan(1e-5);
    expect(relativeError(await ctx.readF32(tc), ref1.cache)).toBe(0);
  });

  it('keeps older cache rows when fewer than K-1 tokens arrive', async () => {
    const ctx = await gpu();
    const D = 13, K = 5, cache0 = randomArray((K - 1) * D), x = randomArray(2 * D), w = randomArray(D * K);
    const tc = ctx.tensor([K - 1, D], 'f32', 'cache', cache0), ty = poisoned(ctx, [2, D], 'y');
    ctx.run(shortConv(ctx, { x: ctx.tensor([2, D], 'f32', 'x', x), weight: ctx.tensor([D, K], 'f32', 'w', w), cache: tc, y: ty, T: 2, D, K }));
    const ref = shortConvReference(x, w, cache0, 2, D, K);
    expect(relativeError(await ctx.readF32(ty), ref.y)).toBeLessThan(1e-5);
    expect(relativeError(await ctx.readF32(tc), ref.cache)).toBe(0);
  });

  // q, k and v in one dispatch: x of every group a column slice of one fused projection row (as decode reads
  // them), each with its own weight, cache and y; a prefill piece (two-pass roll), then decode, then T = 2.
  for (const storageLimit of [undefined, 8]) {
    it(`runs grouped convs like separate ones${storageLimit ? ` (${storageLimit} storage bindings: split dispatches)` : ''}`, async () => {
      const base = await gpu();
      const ctx = storageLimit ? Object.assign(Object.create(base) as GpuContext, { caps: { ...base.caps, maxStorageBuffersPerStage: storageLimit } }) : base;
      const G = 3, D = randomInt(9, 90) | 1, K = randomInt(2, 5), stride = G * D + 5;
      const weights = Array.from({ length: G }, () => randomArray(D * K));
      const tw = weights.map((w, g) => ctx.tensor([D, 1, K], 'f32', `w${g}`, w));
      let caches = Array.from({ length: G }, () => randomArray((K - 1) * D));
      const tc = caches.map((c, g) => ctx.tensor([K - 1, D], 'f32', `cache${g}`, c));
      for (const T of [randomInt(17, 41) | 1, 1, 2]) {
        const wide = randomArray(T * stride), tx = ctx.tensor([T, stride], 'f32', 'x', wide);
        const ty = Array.from({ length: G }, (_, g) => poisoned(ctx, [T, D], `y${g}`));
        const specs = shortConvGroups(ctx, ty.map((y, g) => ({ x: { tensor: tx, offset: 2 + g * D, rowStride: stride }, weight: tw[g], cache: tc[g], y, T, D, K })));
        const perDispatch = storageLimit ? 2 : G;
        expect(specs.length).toBe(Math.ceil(G / perDispatch) * (T > 16 ? 2 : 1));
        ctx.run(specs);
        const next: Float32Array[] = [];
        for (let g = 0; g < G; g++) {
          const x = Float32Array.from({ length: T * D }, (_, i) => wide[Math.floor(i / D) * stride + 2 + g * D + (i % D)]);
          const ref = shortConvReference(x, weights[g], caches[g], T, D, K);
          expect(relativeError(await ctx.readF32(ty[g]), ref.y)).toBeLessThan(1e-5);
          expect(relativeError(await ctx.readF32(tc[g]), ref.cache)).toBe(0);
          next.push(ref.cache);
        }
        caches = next;
      }
    });
  }

  it('refuses a cache or y shared between groups', async () => {
    const ctx = await gpu();
    const D = 8, K = 4, x = ctx.tensor([1, D], 'f32', 'x'), w = ctx.tensor([D, K], 'f32', 'w');
    const cache = ctx.tensor([K - 1, D], 'f32', 'cache'), y0 = ctx.tensor([1, D], 'f32', 'y0'), y1 = ctx.tensor([1, D], 'f32', 'y1');
    expect(() => shortConvGroups(ctx, [{ x, weight: w, cache, y: y0, T: 1, D, K }, { x, weight: w, cache, y: y1, T: 1, D, K }])).toThrow(/buffer of its own/);
  });
});

describe('kda/kda-prepare', () => {
  it('normalises q/k, computes the softplus gate and β from strided projections', async () => {
    const ctx = await gpu();
    const T = randomInt(3, 17) | 1, H = randomInt(2, 5), dk = randomInt(5, 40) | 1, P = H * dk;
    // q|k|f fused in one [T, 3P] buffer, like a fused projection output.
    const fused = randomArray(T * 3 * P, 4), b = randomArray(T * H, 4), aLog = randomArray(H, Math.log(16)), dt = randomArray(P, 25);
    const col = (o: number) => Float32Array.from({ length: T * P }, (_, i) => fused[Math.floor(i / P) * 3 * P + o + (i % P)]);
    const tf = ctx.tensor([T, 3 * P], 'f32', 'qkf', fused);
    const outs = { qOut: poisoned(ctx, [T, H, dk], 'qn'), kOut: poisoned(ctx, [T, H, dk], 'kn'), gOut: poisoned(ctx, [T, H, dk], 'g'), betaOut: poisoned(ctx, [T, H], 'beta') };
    ctx.run([kdaPrepare(ctx, {
      q: { tensor: tf, offset: 0, rowStride: 3 * P }, k: { tensor: tf, offset: P, rowStride: 3 * P },
      f: { tensor: tf, offset: 2 * P, rowStride: 3 * P }, b: ctx.tensor([T, H], 'f32', 'b', b),
      aLog: ctx.tensor([1, 1, H, 1], 'f32', 'A_log', aLog), dtBias: ctx.tensor([P], 'f32', 'dt_bias', dt), ...outs, T, H, dk,
    })]);
    const ref = kdaPrepareReference(col(0), col(P), col(2 * P), b, aLog, dt, T, H, dk);
    expect(relativeError(await ctx.readF32(outs.qOut), ref.q)).toBeLessThan(1e-5);
    expect(relativeError(await ctx.readF32(outs.kOut), ref.k)).toBeLessThan(1e-5);
    expect(relativeError(await ctx.readF32(outs.gOut), ref.g)).toBeLessThan(1e-5);
    expect(relativeError(await ctx.readF32(outs.betaOut), ref.beta)).toBeLessThan(1e-5);
  });
});

describe('kda delta rule', () => {
  // Odd dk keeps whole columns per thread; dk a multiple of 4 splits each column's rows over 4 or 8 threads.
  for (const dkKind of ['odd dk', 'dk split over threads']) {
  it(`recurrent step matches the reference from a random state (${dkKind})`, async () => {
    const dk = dkKind === 'odd dk' ? randomInt(3, 24) | 1 : 4 * randomInt(2, 10);
    const c = await deltaCase(randomInt(1, 9), randomInt(1, 4), dk, randomInt(3, 70) | 1);
    const state = c.ctx.tensor([c.H, c.dk, c.dv], 'f32', 'S', c.s0);
    const o = await runRecurrent(c, state);
    const ref = kdaRecurrentReference(c.prep, c.v, c.s0, c.T, c.H, c.dk, c.dv);
    expect(relativeError(o, ref.o)).toBeLessThan(1e-4);
    expect(relativeError(await c.ctx.readF32(state), ref.state)).toBeLessThan(1e-4);
  });
  }

  for (const shape of ['several chunks, ragged tail', 'shorter than one chunk']) {
  it(`chunked prefill matches the reference recurrence (${shape}, strong decays)`, async () => {
    const chunk = 16;
    const T = shape === 'shorter than one chunk' ? randomInt(1, chunk - 1) : randomInt(2, 5) * chunk + randomInt(1, chunk - 1);
    const c = await deltaCase(T, randomInt(1, 3), randomInt(5, 24) | 1, randomInt(5, 33) | 1, 20);
    const state = c.ctx.tensor([c.H, c.dk, c.dv], 'f32', 'S', c.s0);
    const o = await runChunked(c, state, chunk);
    const ref = kdaRecurrentReference(c.prep, c.v, c.s0, c.T, c.H, c.dk, c.dv);
    expect(relativeError(o, ref.o)).toBeLessThan(chunkedBound(c, chunk));
    expect(relativeError(await c.ctx.readF32(state), ref.state)).toBeLessThan(chunkedBound(c, chunk));
  });
  }

  // The blocked intra pass: pairs across 16-row sub-chunks go through the sub-chunk's reference row, so chunks of
  // several sub-chunks (and a chunk that leaves the last sub-chunk part empty) exercise its cross-block paths.
  for (const shape of ['chunk 64: four sub-chunks', 'chunk not a multiple of 16']) {
  it(`blocked intra pass: chunked prefill matches the reference recurrence (${shape}, strong decays, ragged tail)`, async () => {
    const chunk = shape === 'chunk 64: four sub-chunks' ? 64 : 16 * randomInt(1, 3) + randomInt(1, 15);
    const T = randomInt(1, 3) * chunk + randomInt(1, chunk - 1);
    const c = await deltaCase(T, randomInt(1, 2), randomInt(5, 40) | 1, randomInt(5, 40) | 1, 20);
    const state = c.ctx.tensor([c.H, c.dk, c.dv], 'f32', 'S', c.s0);
    const run = await runChunkedScratch(c, state, chunk);
    expect(run.plan.intra).toBe('blocked');
    const ref = kdaRecurrentReference(c.prep, c.v, c.s0, c.T, c.H, c.dk, c.dv);
    expect(relativeError(run.out, ref.o)).toBeLessThan(chunkedBound(c, chunk));
    expect(relativeError(await c.ctx.readF32(state), ref.state)).toBeLessThan(chunkedBound(c, chunk));
  });
  }

  it('blocked and session-4 (pairs) intra passes write the same scratch: W, U, P, q̃⊙e^G, k⊙e^(G_last−G), e^G_last', async () => {
    const chunk = 32, T = randomInt(2, 3) * chunk + randomInt(1, chunk - 1);
    const c = await deltaCase(T, 2, randomInt(5, 24) | 1, randomInt(5, 24) | 1, 4);
    const runs = [];
    // Chunk 32 leaves room for the 16-channel slice the H100 plan uses (chunk 64 needs 45 KB with it).
    for (const tiles of [{ intra: 'blocked', channelSlice: 16 }, { intra: 'pairs' }] as const) {
      const state = c.ctx.tensor([c.H, c.dk, c.dv], 'f32', `S ${tiles.intra}`, c.s0);
      runs.push(await runChunkedScratch(c, state, chunk, 0, c.T, tiles));
    }
    const [blocked, pairs] = runs;
    expect([blocked.plan.intra, pairs.plan.intra, blocked.plan.channelSlice]).toEqual(['blocked', 'pairs', 16]);
    for (const key of Object.keys(blocked.scratch) as (keyof typeof blocked.scratch)[]) {
      expect(blocked.scratch[key].some(Number.isNaN), key).toBe(false);
      expect(relativeError(blocked.scratch[key], pairs.scratch[key]), key).toBeLessThan(1e-5);
    }
    const ref = kdaRecurrentReference(c.prep, c.v, c.s0, c.T, c.H, c.dk, c.dv);
    expect(relativeError(pairs.out, ref.o)).toBeLessThan(chunkedBound(c, chunk));
  });

  it('rejects an unknown intra variant with a clear message', async () => {
    const ctx = await gpu();
    expect(() => planKdaChunk(ctx, 16, 16, 16, { intra: 'fast' as never })).toThrow(/intra variant 'fast' must be blocked or pairs/);
  });

  it('chunked and recurrent GPU paths agree over 1000 tokens (device-chosen chunk)', async () => {
    const c = await deltaCase(1000, 2, 32, 24);
    const sChunk = c.ctx.tensor([c.H, c.dk, c.dv], 'f32', 'S chunk', c.s0);
    const sRec = c.ctx.tensor([c.H, c.dk, c.dv], 'f32', 'S rec', c.s0);
    const oChunk = await runChunked(c, sChunk);
    const oRec = await runRecurrent(c, sRec);
    expect(relativeError(oChunk, oRec)).toBeLessThan(1e-4);
    expect(relativeError(await c.ctx.readF32(sChunk), await c.ctx.readF32(sRec))).toBeLessThan(1e-4);
  });

  it('prefill(N) then k decode steps equals prefill(N + k) on one state layout', async () => {
    const k = 3, c = await deltaCase(37 + k, 2, 16, 12);
    const split = c.ctx.tensor([c.H, c.dk, c.dv], 'f32', 'S split', new Float32Array(c.H * c.dk * c.dv));
    const whole = c.ctx.tensor([c.H, c.dk, c.dv], 'f32', 'S whole', new Float32Array(c.H * c.dk * c.dv));
    await runChunked(c, split, 16, 0, c.T - k);
    const decoded: Float32Array[] = [];
    for (let t = c.T - k; t < c.T; t++) decoded.push(await runRecurrent(c, split, t, t + 1));
    const oWhole = await runChunked(c, whole, 16);
    const tail = oWhole.subarray((c.T - k) * c.H * c.dv);
    const joined = new Float32Array(tail.length);
    decoded.forEach((o, i) => joined.set(o, i * o.length));
    expect(relativeError(joined, tail)).toBeLessThan(1e-4);
    expect(relativeError(await c.ctx.readF32(split), await c.ctx.readF32(whole))).toBeLessThan(1e-4);
  });

  it('rejects a state of the wrong size with a clear message', async () => {
    const c = await deltaCase(2, 2, 8, 8);
    const bad = c.ctx.tensor([2, 8, 7], 'f32', 'S');
    expect(() => kdaRecurrentStep(c.ctx, { ...uploadDelta(c), state: bad })).toThrow(/state \(S\) has 112 values .* expected 128/);
  });
});

describe('kda/kda-gated-norm', () => {
  it('matches the reference with a strided gate view', async () => {
    const ctx = await gpu();
    const T = randomInt(1, 9), H = randomInt(1, 4), dv = randomInt(3, 70) | 1, P = H * dv;
    const o = randomArray(T * P, 3), zWide = randomArray(T * 2 * P, 4), w = randomArray(dv);
    const z = Float32Array.from({ length: T * P }, (_, i) => zWide[Math.floor(i / P) * 2 * P + P + (i % P)]);
    const ty = poisoned(ctx, [T, P], 'y');
    ctx.run([kdaGatedRmsNorm(ctx, {
      o: ctx.tensor([T, H, dv], 'f32', 'o', o), z: { tensor: ctx.tensor([T, 2 * P], 'f32', 'z', zWide), offset: P, rowStride: 2 * P },
      weight: ctx.tensor([dv], 'f32', 'w', w), y: ty, T, H, dv, eps: 1e-5,
    })]);
    expect(relativeError(await ctx.readF32(ty), kdaGatedRmsNormReference(o, z, w, T * H, dv, 1e-5))).toBeLessThan(1e-5);
  });
});

describe('kda/kda-decode-step', () => {
  for (const dims of ['odd', '48B head']) {
    it(`fused decode token equals prepare → recurrence → gated norm (${dims} dims, views into fused rows)`, async () => {
      const ctx = await gpu();
      const [H, dk, dv] = dims === 'odd' ? [randomInt(1, 4), randomInt(3, 40) | 1, randomInt(3, 70) | 1] : [2, 128, 128];
      const P = H * dk, Pv = H * dv;
      // One fused row [q | k | v] like a concatenated projection, and [f | z] likewise.
      const qkv = randomArray(2 * P + Pv, 2), fz = randomArray(P + Pv, 3);
      const b = randomArray(H, 3), aLog = randomArray(H, Math.log(16)), dt = randomArray(P, 2), w = randomArray(dv), s0 = randomArray(H * dk * dv);
      const tqkv = ctx.tensor([1, 2 * P + Pv], 'f32', 'qkv', qkv), tfz = ctx.tensor([1, P + Pv], 'f32', 'fz', fz);
      const state = ctx.tensor([H, dk, dv], 'f32', 'S', s0), y = poisoned(ctx, [1, Pv], 'y');
      ctx.run([kdaDecodeStep(ctx, {
        q: { tensor: tqkv, offset: 0 }, k: { tensor: tqkv, offset: P }, v: { tensor: tqkv, offset: 2 * P },
        f: { tensor: tfz, offset: 0 }, z: { tensor: tfz, offset: P }, b: ctx.tensor([1, H], 'f32', 'b', b),
        aLog: ctx.tensor([H], 'f32', 'A_log', aLog), dtBias: ctx.tensor([P], 'f32', 'dt_bias', dt),
        normWeight: ctx.tensor([dv], 'f32', 'o_norm', w), state, y, H, dk, dv, eps: 1e-5,
      })]);
      const prep = kdaPrepareReference(qkv.subarray(0, P), qkv.subarray(P, 2 * P), fz.subarray(0, P), b, aLog, dt, 1, H, dk);
      const rec = kdaRecurrentReference(prep, qkv.subarray(2 * P), s0, 1, H, dk, dv);
      const ref = kdaGatedRmsNormReference(rec.o, fz.subarray(P), w, H, dv, 1e-5);
      expect(relativeError(await ctx.readF32(y), ref)).toBeLessThan(1e-4);
      expect(relativeError(await ctx.readF32(state), rec.state)).toBeLessThan(1e-5);
    });
  }
});
