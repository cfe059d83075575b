// RMSNorm folded into the decode GEMVs (kimi-linear build(), CTXBENCH_NORM_FOLD): with f16 weights every input
// norm with no residual pending (after the embedding and after each MoE combine) and the final norm are computed
// inside the f16 GEMV that reads them, so the recorded decode step has exactly that many dispatches fewer; the
// logits match the separate norms' to f32 rounding (the GEMV scales its dot products by 1/rms instead of each
// input). f32 weights take no fold and stay identical.
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { loadOnAndOff, prefillThenDecode } from './decode-replay.js';
import { relativeError } from '../gpu/context.js';

const V = 97;
const engines: Engine[] = [];
afterAll(async () => { for (const e of engines) await e.close(); });

const argmax = (row: Float32Array) => row.reduce((best, v, i) => (v > row[best] ? i : best), 0);

describe('RMSNorm folded into decode GEMVs', () => {
  it.each(['f16', 'f32'] as const)('%s weights: the foldable norms leave the step, logits agree', async (dtype) => {
    const seed = Math.floor(Math.random() * 1e6);
    const [folded, plain] = await loadOnAndOff('CTXBENCH_NORM_FOLD', seed, { matmulDtype: dtype, pieceTokens: 32 }, engines);
    expect(folded.graph.normFold).toBe(true);
    expect(plain.graph.normFold).toBe(false);
    const prompt = Array.from({ length: 14 }, () => Math.floor(Math.random() * (V - 1)));
    const a = await prefillThenDecode(folded, prompt, [9], V, false);
    const b = await prefillThenDecode(plain, prompt, [9], V, false);
    // Input norms with no residual pending: layer 0 and every layer after an MoE layer; plus the final norm.
    const kinds = folded.config.mlpKinds;
    const foldable = 1 + kinds.slice(0, -1).filter((k) => k === 'moe').length + (kinds[kinds.length - 1] === 'moe' ? 1 : 0);
    expect(b.dispatches - a.dispatches).toBe(dtype === 'f16' ? foldable : 0);
    expect(a.logits.length).toBe(5);
    a.logits.forEach((row, j) => {
      expect(row.every(Number.isFinite)).toBe(true);
      if (dtype === 'f32') expect(Array.from(row)).toEqual(Array.from(b.logits[j]));
      else {
        expect(relativeError(row, b.logits[j])).toBeLessThan(1e-5);
        expect(argmax(row)).toBe(argmax(b.logits[j]));
      }
    });
  });
});
