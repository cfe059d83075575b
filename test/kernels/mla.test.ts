// Randomized WebGPU tests of the NoPE MLA kernels: latent-cache append, expanded flash prefill and absorbed
// split-K decode, against the f64 references (odd sizes, poisoned outputs, operands read through views).
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { mlaAttentionReference, mlaExpandReference, mlaLatentRowsReference } from '../../src/kernels/mla/mla-reference.js';
import { mlaLatentAppend } from '../../src/kernels/mla/mla-latent-append.js';
import { mlaFlashPrefill, mlaFlashWorkgroupBytes, planMlaFlash } from '../../src/kernels/mla/mla-flash-prefill.js';
import { allocMlaDecodeScratch, mlaAbsorbedDecode, planMlaDecode } from '../../src/kernels/mla/mla-absorbed-decode.js';
import { gpu, randomArray, randomInt, relativeError } from '../gpu/context.js';
import { recordedAppendDecode } from '../gpu/mla-decode-step.js';

function poisoned(ctx: GpuContext, shape: number[], label: string) {
  const t = ctx.tensor(shape, 'f32', label);
  ctx.fill(t, NaN);
  return t;
}

interface Dims { H: number; Dn: number; Dr: number; Dv: number; R: number }
const randomDims = (): Dims => ({ H: randomInt(1, 4), Dn: randomInt(3, 20) | 1, Dr: randomInt(1, 9), Dv: randomInt(3, 17) | 1, R: randomInt(8, 40) | 1 });
/** Decode dims: odd R (scalar cache loads) or R and Dr multiples of 4 (vec4 loads, Dr may be 0). */
const decodeDims = (vec4: boolean): Dims => (vec4 ? { ...randomDims(), Dr: 4 * randomInt(0, 3), R: 4 * randomInt(2, 12) } : randomDims());

/** A latent cache on the GPU and on the CPU, filled through the append kernel from random kv_a outputs. */
async function buildCache(ctx: GpuContext, d: Dims, Tk: number, capacity: number) {
  const DC = d.R + d.Dr;
  const kva = randomArray(Tk * DC, 2), w = randomArray(d.R);
  const rows = mlaLatentRowsReference(kva, w, Tk, d.R, d.Dr, 1e-6);
  const cache = poisoned(ctx, [capacity, DC], 'latent cache');
  const tw = ctx.tensor([d.R], 'f32', 'kv_a_layernorm', w);
  // Two appends (prefill, then one token) exercise pos.
  ctx.run([mlaLatentAppend(ctx, { kva: ctx.tensor([Tk - 1, DC], 'f32', 'kva', kva.subarray(0, (Tk - 1) * DC)), weight: tw, cache, pos: 0, T: Tk - 1, R: d.R, Dr: d.Dr, eps: 1e-6 })]);
  ctx.run([mlaLatentAppend(ctx, { kva: ctx.tensor([1, DC], 'f32', 'kva1', kva.subarray((Tk - 1) * DC)), weight: tw, cache, pos: Tk - 1, T: 1, R: d.R, Dr: d.Dr, eps: 1e-6 })]);
  return { cache, rows };
}

describe('mla/mla-latent-append', () => {
  it('writes normed latents and raw k_pe at pos from a strided source, leaving other rows alone', async () => {
    const ctx = await gpu();
    const R = randomInt(5, 90) | 1, Dr = randomInt(0, 7), T = randomInt(1, 6), pos = randomInt(0, 4), DC = R + Dr, stride = DC + 3;
    const wide = randomArray(T * stride, 3), w = randomArray(R);
    const kva = Float32Array.from({ length: T * DC }, (_, i) => wide[Math.floor(i / DC) * stride + 3 + (i % DC)]);
    const before = randomArray((pos + T + 2) * DC);
    const cache = ctx.tensor([pos + T + 2, DC], 'f32', 'cache', before);
    ctx.run([mlaLatentAppend(ctx, { kva: { tensor: ctx.tensor([T, stride], 'f32', 'kva', wide), offset: 3, rowStride: stride }, weight: ctx.tensor([R], 'f32', 'w', w), cache, pos, T, R, Dr, eps: 1e-6 })]);
    const expected = before.slice();
    expected.set(mlaLatentRowsReference(kva, w, T, R, Dr, 1e-6), pos * DC);
    expect(relativeError(await ctx.readF32(cache), expected)).toBeLessThan(1e-5);
  });
});

describe('mla/mla-flash-prefill', () => {
  for (const continued of [false, true]) {
    it(`matches causal attention reading k_nope/v from kv_b output and k_pe from the cache${continued ? ' (continuing after earlier tokens)' : ''}`, async () => {
      const ctx = await gpu();
      const d = randomDims();
      const Tk = randomInt(20, 70) | 1, Tq = continued ? randomInt(1, 15) : Tk, qPos0 = Tk - Tq, DC = d.R + d.Dr;
      const { cache, rows } = await buildCache(ctx, d, Tk, Tk + 2);
      const wkvb = randomArray(d.H * (d.Dn + d.Dv) * d.R, 0.5);
      const kv = mlaExpandReference(rows, wkvb, Tk, d.H, d.R, d.Dr, d.Dn, d.Dv);
      // kv_b_proj output layout [Tk, H, Dn+Dv] rebuilt from the reference expansion.
      const kvb = new Float32Array(Tk * d.H * (d.Dn + d.Dv));
      for (let t = 0; t < Tk; t++) for (let h = 0; h < d.H; h++) {
        kvb.set(kv.kNope.subarray((t * d.H + h) * d.Dn, (t * d.H + h + 1) * d.Dn), (t * d.H + h) * (d.Dn + d.Dv));
        kvb.set(kv.v.subarray((t * d.H + h) * d.Dv, (t * d.H + h + 1) * d.Dv), (t * d.H + h) * (d.Dn + d.Dv) + d.Dn);
      }
      const q = randomArray(Tq * d.H * (d.Dn + d.Dr), 3);
      const tkvb = ctx.tensor([Tk, d.H * (d.Dn + d.Dv)], 'f32', 'kv_b out', kvb);
      const out = poisoned(ctx, [Tq, d.H, d.Dv], 'attn out');
      const w = d.Dn + d.Dv;
      ctx.run([mlaFlashPrefill(ctx, {
        q: ctx.tensor([Tq, d.H, d.Dn + d.Dr], 'f32', 'q', q),
        kNope: { tensor: tkvb, tokenStride: d.H * w, headStride: w },
        kRope: { tensor: cache, offset: d.R, tokenStride: DC, headStride: 0 },
        v: { tensor: tkvb, offset: d.Dn, tokenStride: d.H * w, headStride: w },
        out, Tq, Tk, ...d,
      })]);
      const ref = mlaAttentionReference(q, kv, Tq, qPos0, d.H, d.Dn, d.Dr, d.Dv, 1 / Math.sqrt(d.Dn + d.Dr));
      expect(relativeError(await ctx.readF32(out), ref)).toBeLessThan(1e-4);
    });
  }

  it('runs over key blocks with a carry (only one block of keys expanded at a time) and matches the reference', async () => {
    const ctx = await gpu();
    const d = randomDims();
    const Tk = randomInt(30, 70), continued = Math.random() < 0.5, Tq = continued ? randomInt(1, 20) : Tk, DC = d.R + d.Dr;
    const { cache, rows } = await buildCache(ctx, d, Tk, Tk);
    const wkvb = randomArray(d.H * (d.Dn + d.Dv) * d.R, 0.5);
    const kv = mlaExpandReference(rows, wkvb, Tk, d.H, d.R, d.Dr, d.Dn, d.Dv);
    const q = randomArray(Tq * d.H * (d.Dn + d.Dr), 3);
    const tq = ctx.tensor([Tq, d.H, d.Dn + d.Dr], 'f32', 'q', q);
    const out = poisoned(ctx, [Tq, d.H, d.Dv], 'out');
    const carry = poisoned(ctx, [Tq, d.H, d.Dv + 2], 'carry');
    const cuts = [0, randomInt(1, Math.floor(Tk / 3)), randomInt(Math.floor(Tk / 3) + 1, Tk - 1), Tk];
    const specs = [];
    for (let b = 0; b < 3; b++) {
      const start = cuts[b], length = cuts[b + 1] - cuts[b];
      const kn = ctx.tensor([length, d.H, d.Dn], 'f32', `k block ${b}`, kv.kNope.subarray(start * d.H * d.Dn, (start + length) * d.H * d.Dn));
      const tv = ctx.tensor([length, d.H, d.Dv], 'f32', `v block ${b}`, kv.v.subarray(start * d.H * d.Dv, (start + length) * d.H * d.Dv));
      specs.push(mlaFlashPrefill(ctx, {
        q: tq, kNope: kn, v: tv, kRope: { tensor: cache, offset: start * DC + d.R, tokenStride: DC, headStride: 0 },
        out, Tq, Tk, ...d, keyBlock: { start, length, carry, first: b === 0, last: b === 2 },
      }));
    }
    ctx.run(specs);
    const ref = mlaAttentionReference(q, kv, Tq, Tk - Tq, d.H, d.Dn, d.Dr, d.Dv, 1 / Math.sqrt(d.Dn + d.Dr));
    expect(relativeError(await ctx.readF32(out), ref)).toBeLessThan(1e-4);
  });

  it('works without a rope slot (Dr = 0) and with dense operands', async () => {
    const ctx = await gpu();
    const H = 2, Dn = 7, Dv = 5, T = 29;
    const q = randomArray(T * H * Dn, 2), k = randomArray(T * H * Dn), v = randomArray(T * H * Dv);
    const out = poisoned(ctx, [T, H, Dv], 'out');
    ctx.run([mlaFlashPrefill(ctx, { q: ctx.tensor([T, H, Dn], 'f32', 'q', q), kNope: ctx.tensor([T, H, Dn], 'f32', 'k', k), v: ctx.tensor([T, H, Dv], 'f32', 'v', v), out, Tq: T, Tk: T, H, Dn, Dr: 0, Dv })]);
    const ref = mlaAttentionReference(q, { kNope: k, v, kRope: new Float32Array(0) }, T, 0, H, Dn, 0, Dv, 1 / Math.sqrt(Dn));
    expect(relativeError(await ctx.readF32(out), ref)).toBeLessThan(1e-4);
  });

  it('chooses tiles that fit the device and rejects keys fewer than queries', async () => {
    const ctx = await gpu();
    const plan = planMlaFlash(ctx, 192, 128);
    expect(mlaFlashWorkgroupBytes(192, 128, plan.queryRows, plan.keyRows)).toBeLessThanOrEqual(ctx.caps.maxWorkgroupStorageBytes);
    expect(plan.workgroupSize).toBeGreaterThanOrEqual(plan.queryRows); // one thread per row runs the softmax
    const t = ctx.tensor([4, 1, 4], 'f32', 't');
    expect(() => mlaFlashPrefill(ctx, { q: t, kNope: t, v: t, out: t, Tq: 4, Tk: 3, H: 1, Dn: 4, Dr: 0, Dv: 4 })).toThrow(/3 keys cannot serve 4 causal queries/);
  });
});

describe('mla/mla-absorbed-decode', () => {
  // Both split passes: one subgroup per head (where subgroups have a fixed size, as on lavapipe) and the staged one.
  for (const subgroupHeads of [true, false]) {
    const kind = subgroupHeads ? 'subgroup heads' : 'staged';
    it(`${kind}: the plan takes the pass asked for where the device allows it`, async () => {
      const ctx = await gpu();
      const plan = planMlaDecode(ctx, randomDims(), 64, 2, { subgroupHeads });
      expect(plan.subgroupHeads).toBe(subgroupHeads && ctx.caps.hasSubgroups && ctx.caps.subgroupMinSize === ctx.caps.subgroupSize);
    });
    // 200 splits: the reduce merges them with more lane groups per column (some splits empty when Tk < 200).
    for (const splits of [1, 3, 16, 200]) {
      it(`${kind}: absorbed decode over the latent cache equals expanded attention (${splits} split${splits > 1 ? 's' : ''})`, async () => {
        const ctx = await gpu();
        const d = decodeDims(splits !== 1);
        // 16 splits over ≤ 12 keys leaves empty splits.
        const Tk = splits === 16 ? randomInt(5, 12) : splits === 200 ? randomInt(150, 330) : randomInt(20, 90) | 1;
        const { cache, rows } = await buildCache(ctx, d, Tk, Tk + 5);
        const wkvb = randomArray(d.H * (d.Dn + d.Dv) * d.R, 0.5);
        const q = randomArray(d.H * (d.Dn + d.Dr), 3);
        // 3 splits also run 3-key tiles, so the masking of a tile's keys past its split is exercised.
        const plan = { ...planMlaDecode(ctx, d, Tk + 5, splits, { subgroupHeads }), ...(splits === 3 ? { keyRows: 3 } : {}) };
        const scratch = allocMlaDecodeScratch(ctx, d, plan);
        for (const t of Object.values(scratch)) ctx.fill(t, NaN);
        const out = poisoned(ctx, [d.H, d.Dv], 'decode out');
        const tw = ctx.tensor([d.H * (d.Dn + d.Dv), d.R], 'f32', 'kv_b_proj', wkvb);
        ctx.run(mlaAbsorbedDecode(ctx, { q: ctx.tensor([d.H, d.Dn + d.Dr], 'f32', 'q', q), wkvb: tw, cache, Tk, out, ...d }, scratch, plan));
        const kv = mlaExpandReference(rows, wkvb, Tk, d.H, d.R, d.Dr, d.Dn, d.Dv);
        const expanded = mlaAttentionReference(q, kv, 1, Tk - 1, d.H, d.Dn, d.Dr, d.Dv, 1 / Math.sqrt(d.Dn + d.Dr));
        expect(relativeError(await ctx.readF32(out), expanded)).toBeLessThan(1e-4);
      });
    }

    it(`${kind}: handles a head count that is not a multiple of the head block`, async () => {
      const ctx = await gpu();
      const d = { H: 5, Dn: 9, Dr: 3, Dv: 7, R: 19 }, Tk = 23;
      const { cache, rows } = await buildCache(ctx, d, Tk, Tk);
      const wkvb = randomArray(d.H * (d.Dn + d.Dv) * d.R, 0.5), q = randomArray(d.H * (d.Dn + d.Dr), 3);
      const plan = { ...planMlaDecode(ctx, d, Tk, 2, { subgroupHeads }), headsPerGroup: 2 };
      const out = poisoned(ctx, [d.H, d.Dv], 'out');
      ctx.run(mlaAbsorbedDecode(ctx, { q: ctx.tensor([d.H, d.Dn + d.Dr], 'f32', 'q', q), wkvb: ctx.tensor([d.H * (d.Dn + d.Dv), d.R], 'f32', 'w', wkvb), cache, Tk, out, ...d }, allocMlaDecodeScratch(ctx, d, plan), plan));
      const kv = mlaExpandReference(rows, wkvb, Tk, d.H, d.R, d.Dr, d.Dn, d.Dv);
      expect(relativeError(await ctx.readF32(out), mlaAttentionReference(q, kv, 1, Tk - 1, d.H, d.Dn, d.Dr, d.Dv, 1 / Math.sqrt(d.Dn + d.Dr)))).toBeLessThan(1e-4);
    });

    it(`${kind}: replays one recorded append + decode list across steps, reading the length from a GPU counter`, async () => {
      const ctx = await gpu();
      const d = decodeDims(true), DC = d.R + d.Dr, Tk0 = randomInt(3, 30), steps = 3, capacity = Tk0 + steps;
      const { cache, rows } = await buildCache(ctx, d, Tk0, capacity);
      const { wkvb, norm, out, step: runStep } = recordedAppendDecode(ctx, d, cache, capacity, subgroupHeads);
      let allRows = rows;
      for (let step = 0; step < steps; step++) {
        const { kvaRow, qRow } = runStep(Tk0 + step + 1);
        const grown = new Float32Array(allRows.length + DC);
        grown.set(allRows);
        grown.set(mlaLatentRowsReference(kvaRow, norm, 1, d.R, d.Dr, 1e-6), allRows.length);
        allRows = grown;
        const Tk = Tk0 + step + 1;
        const kv = mlaExpandReference(allRows, wkvb, Tk, d.H, d.R, d.Dr, d.Dn, d.Dv);
        const expected = mlaAttentionReference(qRow, kv, 1, Tk - 1, d.H, d.Dn, d.Dr, d.Dv, 1 / Math.sqrt(d.Dn + d.Dr));
        expect(relativeError(await ctx.readF32(out), expected)).toBeLessThan(1e-4);
      }
    });
  }

  it('rejects a cache shorter than Tk', async () => {
    const ctx = await gpu();
    const d = { H: 2, Dn: 4, Dr: 2, Dv: 3, R: 6 };
    const plan = planMlaDecode(ctx, d, 8);
    const scratch = allocMlaDecodeScratch(ctx, d, plan);
    const t = (n: number) => ctx.tensor([n], 'f32', 'x');
    expect(() => mlaAbsorbedDecode(ctx, { q: t(12), wkvb: t(2 * 7 * 6), cache: t(5 * 8), Tk: 6, out: t(6), ...d }, scratch, plan)).toThrow(/cache holds 5 rows, Tk is 6/);
  });
});
