// The GPU forward's self-consistency on random weights: prefill in one piece, in several pieces and as
// prefill(N) + k decode steps must give the same logits (rel. error ≤ 1e-3) and the same greedy ids.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { tinyConfig } from '../gpu/tiny-config.js';
import { relativeError } from '../gpu/context.js';
import { decodeLogits } from '../gpu/decode-logits.js';

const V = 97;
let engine: Engine;
let chunked: Engine;
const prompt = Array.from({ length: 45 }, () => Math.floor(Math.random() * 96));

beforeAll(async () => {
  const seed = Math.floor(Math.random() * 1e6);
  engine = await Engine.load({ randomConfig: tinyConfig(), seed }, { pieceTokens: 64, allLogits: true });
  chunked = await Engine.load({ randomConfig: tinyConfig(), seed }, { pieceTokens: 16, allLogits: true });
});
afterAll(async () => { await engine?.close(); await chunked?.close(); });

describe('GPU Kimi Linear forward (random weights)', () => {
  it('produces finite logits of the right size', async () => {
    const logits = await engine.prefillLogits(prompt);
    expect(logits.length).toBe(prompt.length * V);
    expect(logits.every(Number.isFinite)).toBe(true);
    expect(new Set(logits).size).toBeGreaterThan(V);
  });

  it('prefill in 16-token pieces matches one 45-token piece', async () => {
    const whole = await engine.prefillLogits(prompt);
    const pieces = await chunked.prefillLogits(prompt);
    expect(relativeError(pieces, whole)).toBeLessThan(1e-3);
  });

  it('prefill(N) then decode(k) matches prefill(N+k)', async () => {
    const N = 37;
    const whole = await engine.prefillLogits(prompt);
    const rows = await decodeLogits(engine, prompt, N, V);
    rows.forEach((row, j) => {
      const ref = whole.subarray((N + j) * V, (N + j + 1) * V);
      expect(relativeError(row, ref)).toBeLessThan(1e-3);
      expect(row.indexOf(Math.max(...row))).toBe(ref.indexOf(Math.max(...ref)));
    });
  });

  it('greedy generate equals argmax over prefill of its own output, with stats', async () => {
    const result = await engine.generate(prompt.slice(0, 20), { maxTokens: 8, temperature: 0, stopIds: [] });
    const full = [...prompt.slice(0, 20), ...result.ids];
    const logits = await engine.prefillLogits(full.slice(0, -1));
    result.ids.forEach((id, j) => {
      if (result.finishReason === 'eos' && j === result.ids.length - 1) return;
      const row = logits.subarray((19 + j) * V, (20 + j) * V);
      expect(id).toBe(row.indexOf(Math.max(...row)));
    });
    const s = result.stats;
    expect(s.promptTokens).toBe(20);
    expect(s.decodeTokens).toBe(result.ids.length);
    expect(s.ttftMs).toBeGreaterThan(0);
    expect(s.kdaStateBytes).toBe(3 * 4 * (3 * 16 * 16 + 3 * 3 * 48));
    expect(s.kvCacheBytes).toBe(4 * 28 * 16);
    expect(s.peakArenaBytes).toBeGreaterThan(0);
  });

  it('a stop token ends generation at once although the next step was already submitted; the next request is unaffected', async () => {
    const first = await engine.generate(prompt.slice(0, 15), { maxTokens: 8, temperature: 0, stopIds: [] });
    const k = first.ids.findIndex((id, j) => j >= 1 && !first.ids.slice(0, j).includes(id));
    if (first.finishReason === 'eos' || k < 0) return; // this random model's eos or a repeating tail: nothing to stop on
    const stopped = await engine.generate(prompt.slice(0, 15), { maxTokens: 8, temperature: 0, stopIds: [first.ids[k]] });
    expect(stopped.ids).toEqual(first.ids.slice(0, k + 1));
    expect(stopped.finishReason).toBe('eos');
    expect(stopped.stats.decodeTokens).toBe(k + 1);
    const again = await engine.generate(prompt.slice(0, 15), { maxTokens: 8, temperature: 0, stopIds: [] });
    expect(again.ids).toEqual(first.ids);
  });

  it('samples with temperature reproducibly per seed', async () => {
    const a = await engine.generate(prompt.slice(0, 10), { maxTokens: 6, temperature: 0.8, topP: 0.9, seed: 5, stopIds: [] });
    const b = await engine.generate(prompt.slice(0, 10), { maxTokens: 6, temperature: 0.8, topP: 0.9, seed: 5, stopIds: [] });
    expect(a.ids).toEqual(b.ids);
    for (const id of a.ids) expect(id).toBeLessThan(V);
  });

  it('profiles a decode step: per-kernel times, the whole step in one pass and the host encode time', async () => {
    if (!engine.ctx.caps.hasTimestamps) {
      await expect(engine.generate(prompt.slice(0, 8), { maxTokens: 3, temperature: 0, profileDecode: true })).rejects.toThrow(/timestamp-query/);
      return;
    }
    const r = await engine.generate(prompt.slice(0, 8), { maxTokens: 3, temperature: 0, profileDecode: true, stopIds: [] });
    const profile = r.stats.decodeProfile!;
    expect(profile.length).toBeGreaterThan(3);
    expect(profile.every((k) => k.dispatches > 0 && k.ms >= 0)).toBe(true);
    expect(profile.map((k) => k.kernel)).toContain('sampling/argmax:pick');
    expect(r.stats.decodeStepGpuMs).toBeGreaterThan(0);
    expect(r.stats.decodeEncodeMs).toBeGreaterThan(0);
  });

  it('profiles the last prefill piece per kernel without changing what the prefill computes', async () => {
    const ids = prompt.slice(0, 40); // pieces of 16: the last one has 8 tokens
    if (!chunked.ctx.caps.hasTimestamps) {
      await expect(chunked.generate(ids, { maxTokens: 2, temperature: 0, profilePrefill: true })).rejects.toThrow(/timestamp-query/);
      return;
    }
    const plain = await chunked.generate(ids, { maxTokens: 6, temperature: 0, stopIds: [] });
    const profiled = await chunked.generate(ids, { maxTokens: 6, temperature: 0, stopIds: [], profilePrefill: true });
    expect(profiled.ids).toEqual(plain.ids);
    expect(profiled.stats.prefillProfileTokens).toBe(8);
    const profile = profiled.stats.prefillProfile!;
    expect(profile.length).toBeGreaterThan(3);
    expect(profile.every((k) => k.dispatches > 0 && k.ms >= 0 && k.share >= 0)).toBe(true);
    expect(profile.reduce((a, k) => a + k.share, 0)).toBeCloseTo(1, 6);
    expect(plain.stats.prefillProfile).toBeUndefined();
  });

  it('rejects out-of-vocabulary prompt ids with a clear message', async () => {
    await expect(engine.generate([1, 500], { maxTokens: 2, temperature: 0 })).rejects.toThrow(/token id 500 outside the vocabulary/);
  });
});
