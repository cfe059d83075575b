// Dispatch fusion in the forward (kimi-linear build()): each residual add rides in the next RMSNorm and KDA's
// q, k, v short convs share one dispatch. Against CTXBENCH_DISPATCH_FUSION=off over the same weights: the exact
// number of dispatches fewer per decode step, and the same logits bit for bit for a prefill piece (two-pass
// conv roll, T > 16), a short piece, and recorded decode steps.
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { loadOnAndOff, prefillThenDecode } from './decode-replay.js';

const V = 97;
const engines: Engine[] = [];
// The norm fold (gpu-norm-fold.test.ts) rides on dispatch fusion and rounds differently: off for both engines here.
const normFoldBefore = process.env.CTXBENCH_NORM_FOLD;
process.env.CTXBENCH_NORM_FOLD = 'off';
afterAll(async () => {
  for (const e of engines) await e.close();
  if (normFoldBefore === undefined) delete process.env.CTXBENCH_NORM_FOLD;
  else process.env.CTXBENCH_NORM_FOLD = normFoldBefore;
});

describe('dispatch fusion (residual add + RMSNorm, grouped short convs)', () => {
  it.each([false, true])('allLogits %s: fewer dispatches per decode step, identical logits in prefill and decode', async (allLogits) => {
    const seed = Math.floor(Math.random() * 1e6);
    const [fused, plain] = await loadOnAndOff('CTXBENCH_DISPATCH_FUSION', seed, { matmulDtype: 'f32', pieceTokens: 32, allLogits }, engines);
    expect(fused.graph.dispatchFusion).toBe(true);
    expect(plain.graph.dispatchFusion).toBe(false);
    const c = fused.config;
    const prompt = Array.from({ length: 31 }, () => Math.floor(Math.random() * (V - 1)));
    const pieces = [21, 3];
    const a = await prefillThenDecode(fused, prompt, pieces, V);
    const b = await prefillThenDecode(plain, prompt, pieces, V);
    // Saved per step: KDA convs 3 → 1 and add + post-norm 2 → 1; MLA add + post-norm; each dense MLP's add
    // (into the next input norm); without allLogits, the final copy of the single row.
    const kda = c.layerKinds.filter((k) => k === 'kda').length, mla = c.layerKinds.length - kda;
    const dense = c.mlpKinds.filter((k) => k === 'dense').length;
    expect(b.dispatches - a.dispatches).toBe(3 * kda + mla + dense + (allLogits ? 0 : 1));
    expect(a.logits.length).toBe(pieces.length + prompt.length - 24);
    a.logits.forEach((row, j) => {
      expect(row.every(Number.isFinite)).toBe(true);
      expect(Array.from(row)).toEqual(Array.from(b.logits[j]));
    });
  });
});
