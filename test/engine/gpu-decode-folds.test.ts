// Decode folds. RMSNorms folded into the decode GEMVs (kimi-linear build(), CTXBENCH_NORM_FOLD): every input norm with no
// residual pending (after the embedding and after each MoE layer) and the final norm are computed inside the
// GEMV that reads them, and each MoE layer's post-attention norm inside its router and gate|up GEMVs (reading
// x + attn; the combine stores that sum). The recorded decode step has exactly that many dispatches fewer, and
// the logits match the separate norms' to f32 rounding (the GEMVs scale their dot products by 1/rms instead of
// scaling each input). The tiny hybrid's expert width is 16 here so its shared expert takes the folded path.
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { loadOnAndOff, prefillThenDecode } from './decode-replay.js';
import { relativeError } from '../gpu/context.js';
import { tinyConfig } from '../gpu/tiny-config.js';

const V = 97;
const engines: Engine[] = [];
afterAll(async () => { for (const e of engines) await e.close(); });

const argmax = (row: Float32Array) => row.reduce((best, v, i) => (v > row[best] ? i : best), 0);

describe('RMSNorms folded into decode GEMVs', () => {
  it.each(['f16', 'f32'] as const)('%s weights: the folded norms leave the step, logits agree', async (dtype) => {
    const seed = Math.floor(Math.random() * 1e6);
    const base = tinyConfig();
    const config = tinyConfig({ moe: { ...base.moe, intermediateSize: 16 } });
    const [folded, plain] = await loadOnAndOff('CTXBENCH_NORM_FOLD', seed, { matmulDtype: dtype, pieceTokens: 32 }, engines, config);
    expect(folded.graph.normFold).toBe(true);
    expect(plain.graph.normFold).toBe(false);
    const prompt = Array.from({ length: 14 }, () => Math.floor(Math.random() * (V - 1)));
    const a = await prefillThenDecode(folded, prompt, [9], V, false);
    const b = await prefillThenDecode(plain, prompt, [9], V, false);
    // Input norms with no residual pending (layer 0, every layer after an MoE layer), the final norm after an
    // MoE layer, and every MoE layer's post-attention norm.
    const kinds = config.mlpKinds, moe = kinds.filter((k) => k === 'moe').length;
    const foldable = 1 + kinds.slice(0, -1).filter((k) => k === 'moe').length + (kinds[kinds.length - 1] === 'moe' ? 1 : 0) + moe;
    expect(b.dispatches - a.dispatches).toBe(foldable);
    expect(a.logits.length).toBe(5);
    a.logits.forEach((row, j) => {
      expect(row.every(Number.isFinite)).toBe(true);
      expect(relativeError(row, b.logits[j])).toBeLessThan(1e-5);
      expect(argmax(row)).toBe(argmax(b.logits[j]));
    });
  });
});

// The KDA recurrent step preparing its own inputs (kdaPreparedRecurrentStep, CTXBENCH_KDA_PREPARE): one dispatch
// fewer per KDA layer and kdaPrepare's formulas (its sums of squares may associate differently where the two
// kernels' workgroups differ in width, so the logits agree to f32 rounding).
describe('KDA prepare folded into the decode recurrent step', () => {
  it.each(['f16', 'f32'] as const)('%s weights: one dispatch fewer per KDA layer, logits agree', async (dtype) => {
    const seed = Math.floor(Math.random() * 1e6);
    const [folded, plain] = await loadOnAndOff('CTXBENCH_KDA_PREPARE', seed, { matmulDtype: dtype, pieceTokens: 32 }, engines);
    expect(folded.graph.kdaPrepareFold).toBe(true);
    expect(plain.graph.kdaPrepareFold).toBe(false);
    const prompt = Array.from({ length: 12 }, () => Math.floor(Math.random() * (V - 1)));
    const a = await prefillThenDecode(folded, prompt, [9], V, false);
    const b = await prefillThenDecode(plain, prompt, [9], V, false);
    expect(b.dispatches - a.dispatches).toBe(folded.config.layerKinds.filter((k) => k === 'kda').length);
    expect(a.logits.length).toBe(3);
    a.logits.forEach((row, j) => {
      expect(row.every(Number.isFinite)).toBe(true);
      expect(relativeError(row, b.logits[j])).toBeLessThan(1e-5);
      expect(argmax(row)).toBe(argmax(b.logits[j]));
    });
  });
});
