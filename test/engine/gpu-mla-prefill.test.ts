// Chunk-major MLA prefill through the engine (tiny hybrid, random weights, lavapipe): tiny key blocks give the
// same logits as one block over every key (only the order of the softmax sums differs, ≤ 1e-4), with f32 and f16
// latent caches, and the expanded K/V scratch is sized by the key block, not by the context.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { tinyConfig } from '../gpu/tiny-config.js';
import { relativeError } from '../gpu/context.js';

const config = tinyConfig({ layerKinds: ['kda', 'mla', 'kda', 'mla'] });
const prompt = Array.from({ length: 45 }, () => Math.floor(Math.random() * 96));
const engines: Engine[] = [];
const load = async (seed: number, opts: Parameters<typeof Engine.load>[1]) => {
  const e = await Engine.load({ randomConfig: config, seed }, { pieceTokens: 16, allLogits: true, ...opts });
  engines.push(e);
  return e;
};
let seed = 0;
beforeAll(() => { seed = Math.floor(Math.random() * 1e6); });
afterAll(async () => { for (const e of engines) await e.close(); });

describe('chunk-major MLA prefill in the engine', () => {
  for (const matmulDtype of ['f32', 'f16'] as const) {
    it(`key blocks of 5 (pieces of 16) equal one block over all keys, ${matmulDtype} weights (${matmulDtype} latent cache)`, async () => {
      const blocked = await load(seed, { matmulDtype, mlaKeyBlockTokens: 5 });
      const whole = await load(seed, { matmulDtype });
      expect(blocked.graph.latentCacheDtype).toBe(matmulDtype);
      const a = await blocked.prefillLogits(prompt), b = await whole.prefillLogits(prompt);
      expect(relativeError(a, b)).toBeLessThan(1e-4); // summation order only (a broken carry gives ~1e-1)
      // The blocked run really went through several blocks with a carry.
      const seq = blocked.newSequence(prompt.length);
      expect(seq.mlaKeyBlockTokens).toBe(5);
      expect(seq.mlaCarry?.shape).toEqual([16, config.mla.numHeads, config.mla.vHeadDim + 2]);
      blocked.graph.releaseSequence(seq);
    });
  }

  it('sizes the expanded K/V by the key block: a 40× longer context allocates the same scratch', async () => {
    const e = await load(seed, { mlaKeyBlockTokens: 7 });
    const short = e.newSequence(50), long = e.newSequence(2000);
    try {
      const m = config.mla;
      expect(long.mlaExpanded!.bytes).toBe(short.mlaExpanded!.bytes);
      expect(long.mlaExpanded!.shape[1]).toBe(m.numHeads * (m.qkNopeHeadDim + m.vHeadDim));
      expect(long.mlaExpanded!.shape[0]).toBeLessThan(7 + 64); // KB plus at most the offset-alignment rows
      expect(long.mlaCarry!.bytes).toBe(short.mlaCarry!.bytes);
      expect(long.mlaHalf).toBeUndefined(); // no per-layer K/V for the whole context
    } finally {
      e.graph.releaseSequence(short);
      e.graph.releaseSequence(long);
    }
    // One block covering the capacity needs no carry.
    const one = e.newSequence(6);
    expect(one.mlaCarry).toBeUndefined();
    e.graph.releaseSequence(one);
  });

  it('keeps all heads and shrinks the key block where 16k keys of K/V exceed one binding', async () => {
    const wide = tinyConfig({ layerKinds: ['kda', 'mla', 'kda', 'mla'], mla: { ...config.mla, numHeads: 8, qkNopeHeadDim: 160, vHeadDim: 160 } });
    const e = await Engine.load({ randomConfig: wide, seed: 2 }, { pieceTokens: 8, mlaKeyBlockTokens: 16384 });
    engines.push(e);
    const seq = e.newSequence(20000);
    try {
      const rowBytes = 8 * 320 * 4, binding = e.ctx.caps.maxBindingBytes;
      const alignRows = seq.mlaExpanded!.shape[0] - seq.mlaKeyBlockTokens;
      expect(seq.mlaHeadsPerGroup).toBe(8); // a block of ≥ 1024 keys of all heads fits, so no head groups
      expect(seq.mlaKeyBlockTokens).toBe(Math.min(16384, Math.floor(binding / rowBytes) - alignRows));
      expect(seq.mlaExpanded!.bytes).toBeLessThanOrEqual(binding);
      expect(seq.mlaCarry!.shape).toEqual([8, 8, 162]);
    } finally {
      e.graph.releaseSequence(seq);
    }
  });

  it('refuses a bad key block size in one line', async () => {
    await expect(Engine.load({ randomConfig: config, seed: 1 }, { pieceTokens: 8, mlaKeyBlockTokens: 0 })).rejects.toThrow(/keys per block must be a whole number ≥ 1 \(got 0\)/);
    for (const [name, value, message] of [
      ['CTXBENCH_MLA_KEY_BLOCK', '16k', /CTXBENCH_MLA_KEY_BLOCK must be a whole number ≥ 1 \(got 16k\)/],
      ['CTXBENCH_MLA_EXPAND', 'bf16', /CTXBENCH_MLA_EXPAND must be f32 or f16 \(got bf16\)/],
    ] as const) {
      const before = process.env[name];
      process.env[name] = value;
      try {
        await expect(Engine.load({ randomConfig: config, seed: 1 }, { pieceTokens: 8 })).rejects.toThrow(message);
      } finally {
        if (before === undefined) delete process.env[name];
        else process.env[name] = before;
      }
    }
  });
});
