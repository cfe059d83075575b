// The engine on q8 weights (int8 per group of 32 + f16 scales, quantised at load from the f32 golden checkpoints).
// References: the f32 and f16 engines on the same checkpoint with every quantised matrix replaced by the CPU
// reference of its stored value, dequantizeQ8(quantizeQ8(w)), and the embedding rounded to f16 (as q8 stores it).
// - Decode paths (pieces of 1 token: q8 GEMV, q8 expert GEMV) multiply exact q·s in f32, so they match the f32
//   engine on the stored weights up to summation order and the f16 latent cache: 1e-3 (measured 9e-5).
// - Prefill (pieces of 64: q8 expanded to f16 in the scratch, then the f16 GEMMs) reads q·s rounded to f16,
//   exactly what the f16 engine on the stored weights reads: 1e-5 (measured 0).
// The f16 rounding of q·s is not harmless on the hybrid fixture: it flips a near-tie of the MoE router at
// token 28 and the f16-vs-f32 engines on the stored weights then differ by O(1) from there on; so prefill is
// held to the f16 engine and decode to the f32 one. Golden f32 tests are untouched.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openHfCheckpoint } from '../../src/engine/loader/hf-checkpoint.js';
import { Engine } from '../../src/engine/engine.js';
import type { Checkpoint } from '../../src/engine/checkpoint.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/engine/gpu/half.js';
import { dequantizeQ8, isQ8, quantizeQ8 } from '../../src/kernels/linalg/q8-format.js';
import { relativeError } from '../gpu/context.js';

const root = join(import.meta.dirname, '../fixtures/golden');

function argmaxRow(x: ArrayLike<number>, row: number, V: number): number {
  let best = row * V;
  for (let i = row * V + 1; i < (row + 1) * V; i++) if (x[i] > x[best]) best = i;
  return best - row * V;
}

// Names loadKimiWeights quantises (kv_b_proj and the router `gate.weight` stay f32).
const QUANTISED = /(_proj\.weight|_proj_with_mqa\.weight|experts\.\d+\.w[123]\.weight|lm_head\.weight)$/;

/** The checkpoint as the q8 engine stores it, in f32: quantised matrices dequantised, the embedding in f16. */
function asStored(ckpt: Checkpoint): Checkpoint {
  return {
    ...ckpt,
    config: ckpt.config,
    info: (n) => ckpt.info(n), has: (n) => ckpt.has(n), names: () => ckpt.names(),
    tensor(name) {
      const t = ckpt.tensor(name);
      const quantised = QUANTISED.test(name) && !name.endsWith('kv_b_proj.weight');
      if (!quantised && name !== 'model.embed_tokens.weight') return t;
      const data = t.toFloat32();
      const K = t.shape[t.shape.length - 1], rows = data.length / K;
      const stored = quantised ? Float32Array.from(dequantizeQ8(quantizeQ8(data, rows, K), rows, K))
        : Float32Array.from(data, (v) => f16BitsToF32(f32ToF16Bits(v)));
      return { ...t, toFloat32: () => stored };
    },
  };
}

const engines: Engine[] = [];
afterAll(async () => { for (const e of engines) await e.close(); });

async function load(ckpt: Checkpoint, pieceTokens: number, matmulDtype: 'q8' | 'f16' | 'f32'): Promise<Engine> {
  const e = await Engine.load({ checkpoint: ckpt }, { pieceTokens, allLogits: true, matmulDtype });
  engines.push(e);
  return e;
}

describe.each(['hybrid', 'all-mla'])('GPU engine with q8 weights: %s', (fixture) => {
  const meta = JSON.parse(readFileSync(join(root, fixture, 'golden.json'), 'utf8'));
  const ids: number[] = meta.input_ids;
  const ckpt = openHfCheckpoint(join(root, fixture));
  const stored = asStored(ckpt);

  it('quantises every matmul kind and keeps the rest; prefill equals the f16 engine on the stored weights', async () => {
    const e = await load(ckpt, 64, 'q8'), f16 = await load(stored, 64, 'f16');
    expect(isQ8(e.weights.lmHead)).toBe(true);
    expect(e.weights.embed.dtype).toBe('f16');
    for (const layer of e.weights.layers) {
      expect(isQ8(layer.mixer.kind === 'kda' ? layer.mixer.q : layer.mixer.kva)).toBe(true);
      expect(isQ8(layer.mixer.o)).toBe(true);
      if (layer.mixer.kind === 'mla') expect(layer.mixer.kvb.dtype).toBe('f32');
      if (layer.mlp.kind === 'moe') {
        expect([layer.mlp.w1, layer.mlp.w2, layer.mlp.w3].every(isQ8)).toBe(true);
        expect(layer.mlp.router.dtype).toBe('f32');
        if (layer.mlp.shared) expect(isQ8(layer.mlp.shared.down)).toBe(true);
      } else {
        expect(isQ8(layer.mlp.down)).toBe(true);
      }
    }
    // Fewer bytes than f16 (1 + 2/32 bytes a weight; the fixtures' K = 48 rows pad to 64).
    expect(e.weights.bytes).toBeLessThan(f16.weights.bytes);
    const err = relativeError(await e.prefillLogits(ids), await f16.prefillLogits(ids));
    expect(err, `max rel. error ${err}`).toBeLessThan(1e-5);
  });

  it('one-token pieces (the q8 GEMVs) match the f32 engine on the stored weights', async () => {
    const e = await load(ckpt, 1, 'q8'), f32 = await load(stored, 1, 'f32');
    const some = ids.slice(0, 40);
    const got = await e.prefillLogits(some), want = await f32.prefillLogits(some);
    const err = relativeError(got, want);
    expect(err, `max rel. error ${err}`).toBeLessThan(1e-3);
    const V = e.config.vocabSize;
    for (let t = 0; t < some.length; t++) expect(argmaxRow(got, t, V)).toBe(argmaxRow(want, t, V));
  });

  it('greedy decode after a q8 prefill gives the ids of the f16 engine on the stored weights', async () => {
    const e = await load(ckpt, 64, 'q8'), f16 = await load(stored, 64, 'f16');
    const opts = { maxTokens: 8, temperature: 0, stopIds: [] };
    const got = await e.generate(ids, opts);
    expect(got.ids.length).toBe(8);
    expect(got.ids).toEqual((await f16.generate(ids, opts)).ids);
  });
});
