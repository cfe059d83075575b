// Engine.decodeAtContext on the tiny hybrid (lavapipe): TPOT at N tokens of context from a seeded random state,
// no prefill. The ids must be those of a real decode on that state, reproducible, and the state must matter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeAtContextError, Engine } from '../../src/engine/engine.js';
import { randomSequenceFill } from '../../src/engine/sequence-fill.js';
import type { SequenceState } from '../../src/engine/models/kimi-linear.js';
import { tinyConfig } from '../gpu/tiny-config.js';
import { relativeError } from '../gpu/context.js';

const V = 97;
const DC = 12 + 4; // kv_lora_rank + qk_rope_head_dim of the tiny config
let engine: Engine;

beforeAll(async () => {
  engine = await Engine.load({ randomConfig: tinyConfig(), seed: Math.floor(Math.random() * 1e6) });
});
afterAll(async () => { await engine?.close(); });

/** Steps forward() one token at a time from position N on `seq`, greedy on the CPU; logits of every step. */
async function manualDecode(seq: SequenceState, N: number, first: number, steps: number): Promise<{ ids: number[]; logits: Float32Array[] }> {
  const ids = engine.ctx.tensor([N + steps + 1], 'u32', 'ids', new Uint32Array(N + steps + 1));
  engine.ctx.upload({ ...ids, offset: N * 4, bytes: 4, shape: [1] }, [first]);
  seq.pos = N;
  const out: number[] = [];
  const logits: Float32Array[] = [];
  try {
    for (let p = N; p < N + steps; p++) {
      engine.ctx.run(engine.graph.forward(seq, ids, p, 1));
      const row = (await engine.ctx.readF32(engine.graph.logits)).slice(0, V);
      const next = row.indexOf(Math.max(...row));
      logits.push(row);
      out.push(next);
      engine.ctx.upload({ ...ids, offset: (p + 1) * 4, bytes: 4, shape: [1] }, [next]);
    }
  } finally {
    engine.ctx.arena.free(ids);
  }
  return { ids: out, logits };
}

describe('Engine.decodeAtContext (random state, no prefill)', () => {
  const N = 61, D = 6, seed = 4242, first = 17;

  it('gives finite positive stats and the cache sizes of N + D tokens', async () => {
    const r = await engine.decodeAtContext({ contextTokens: N, decodeTokens: D, seed, firstToken: first });
    const s = r.stats;
    expect(r.ids).toHaveLength(D);
    expect(r.ids.every((id) => Number.isInteger(id) && id >= 0 && id < V)).toBe(true);
    expect(s.decodeTokens).toBe(D);
    for (const v of [s.tpotMeanMs, s.tpotP50Ms, s.tpotP90Ms, s.fillMs, s.wallMs]) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v!).toBeGreaterThan(0);
    }
    expect(s.tpotP90Ms!).toBeGreaterThanOrEqual(s.tpotP50Ms!);
    const cacheBytes = s.latentDtype === 'f16' ? 2 : 4;
    expect(s.kvCacheBytes).toBe(cacheBytes * (N + D) * DC); // one MLA layer
    expect(s.kdaStateBytes).toBe(3 * 4 * (3 * 16 * 16 + 3 * 3 * 48)); // three KDA layers: state + 3 conv caches
    expect(s.peakArenaBytes).toBeGreaterThanOrEqual(s.kvCacheBytes + s.kdaStateBytes);
    // The sequence's buffers were destroyed, not pooled (the next, longer context needs the memory).
    expect(engine.ctx.arena.trimPool()).toBe(0);
  }, 120_000);

  it('decodes exactly what forward() decodes on the same filled state, and the state changes the result', async () => {
    const a = await engine.decodeAtContext({ contextTokens: N, decodeTokens: D, seed, firstToken: first });
    const b = await engine.decodeAtContext({ contextTokens: N, decodeTokens: D, seed, firstToken: first });
    expect(b.ids).toEqual(a.ids);

    const filled = engine.newSequence(N + D);
    engine.ctx.run(randomSequenceFill(engine.ctx, filled, N, seed));
    const manual = await manualDecode(filled, N, first, D);
    engine.graph.releaseSequence(filled);
    expect(manual.ids).toEqual(a.ids);

    // Same position, zeroed caches and states: other logits (the fill is what the decode attends over).
    // (KDA states come zeroed; latent buffers may be reused ones, so they are zeroed here.)
    const zero = engine.newSequence(N + D);
    engine.ctx.fill(zero.mla[3]!.cache, 0);
    const zeroRun = await manualDecode(zero, N, first, D);
    engine.graph.releaseSequence(zero);
    expect(zeroRun.logits.every((row) => row.every(Number.isFinite))).toBe(true);
    expect(relativeError(zeroRun.logits[0], manual.logits[0])).toBeGreaterThan(1e-2);

    const other = await engine.decodeAtContext({ contextTokens: N, decodeTokens: D, seed: seed + 1, firstToken: first });
    const otherManual = engine.newSequence(N + D);
    engine.ctx.run(randomSequenceFill(engine.ctx, otherManual, N, seed + 1));
    const otherRun = await manualDecode(otherManual, N, first, D);
    engine.graph.releaseSequence(otherManual);
    expect(otherRun.ids).toEqual(other.ids);
    expect(relativeError(otherRun.logits[0], manual.logits[0])).toBeGreaterThan(1e-2);
  }, 120_000);

  it('allocates no prefill buffers and refuses multi-token forwards on a decode-only sequence', () => {
    const seq = engine.graph.newSequence(N + D, { decodeOnly: true });
    try {
      expect(seq.mlaExpanded).toBeUndefined();
      expect(seq.mlaHalf).toBeUndefined();
      const ids = engine.ctx.tensor([4], 'u32', 'ids', [1, 2, 3, 4]);
      expect(() => engine.graph.forward(seq, ids, 0, 4)).toThrow(/decode-only/);
      engine.ctx.arena.free(ids);
    } finally {
      engine.graph.releaseSequence(seq);
    }
  });

  it('a context whose latent cache exceeds one binding is a DecodeAtContextError and leaks nothing', async () => {
    const before = engine.ctx.arena.liveBytes;
    const tooLong = Math.ceil(engine.ctx.caps.maxBindingBytes / (DC * 2)) + 1; // over the limit even as f16
    await expect(engine.decodeAtContext({ contextTokens: tooLong, decodeTokens: 2, seed })).rejects.toThrow(DecodeAtContextError);
    await expect(engine.decodeAtContext({ contextTokens: tooLong, decodeTokens: 2, seed })).rejects.toThrow(/binding limit/);
    expect(engine.ctx.arena.liveBytes).toBe(before);
    // The engine still decodes afterwards.
    const r = await engine.decodeAtContext({ contextTokens: 5, decodeTokens: 2, seed });
    expect(r.ids).toHaveLength(2);
    await expect(engine.decodeAtContext({ contextTokens: 0, decodeTokens: 2, seed })).rejects.toThrow(/context 0/);
  }, 120_000);
});
