// Seeded random checkpoints: the 48B shapes' tensor inventory equals the spec's counts, generation is lazy and
// deterministic per (seed, name), dtypes narrow correctly, and a random model round-trips through safetensors
// and runs in the CPU reference with prefill/decode agreement.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KimiConfig } from '../../src/engine/checkpoint.js';
import { openHfCheckpoint } from '../../src/engine/loader/hf-checkpoint.js';
import { writeHfCheckpoint } from '../../src/engine/loader/write-checkpoint.js';
import { parameterCount, randomCheckpoint } from '../../src/engine/random-weights.js';
import { ReferenceModel } from '../../src/engine/reference/model.js';
import { argmax, relativeError } from '../../src/engine/reference/ops.js';
import { tempDir } from '../helpers/temp-dir.js';

const tmp = tempDir('ctxbench-random-');

describe('named 48B shapes', () => {
  it('kimi-linear-48b has the released inventory: 20 493 tensors, 49 122 681 728 parameters (spec §1.3)', () => {
    const ck = randomCheckpoint('kimi-linear-48b', 1, { dtype: 'bf16' });
    expect(ck.names()).toHaveLength(20493);
    expect(parameterCount(ck.config)).toBe(49_122_681_728);
    expect(ck.config.layerKinds.flatMap((k, i) => (k === 'mla' ? [i] : []))).toEqual([3, 7, 11, 15, 19, 23, 26]);
    expect(ck.info('model.layers.5.block_sparse_moe.experts.255.w2.weight')).toEqual({
      name: 'model.layers.5.block_sparse_moe.experts.255.w2.weight', dtype: 'bf16', shape: [2304, 1024],
    });
    // One expert matrix generated on demand, deterministically.
    const a = ck.tensor('model.layers.5.block_sparse_moe.experts.255.w2.weight');
    expect(a.bytes.byteLength).toBe(2304 * 1024 * 2);
    const b = randomCheckpoint('kimi-linear-48b', 1, { dtype: 'bf16' }).tensor('model.layers.5.block_sparse_moe.experts.255.w2.weight');
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
  });

  it('kimi-linear-48b-mla is every layer MLA with the same sizes; fewer experts keep the layer shapes', () => {
    const mla = randomCheckpoint('kimi-linear-48b-mla', 1, { experts: 16 });
    expect(mla.config.layerKinds.every((k) => k === 'mla')).toBe(true);
    expect(mla.config.moe.numExperts).toBe(16);
    expect(mla.info('model.layers.0.self_attn.kv_a_proj_with_mqa.weight').shape).toEqual([576, 2304]);
    expect(mla.has('model.layers.1.block_sparse_moe.experts.16.w1.weight')).toBe(false);
    expect(() => randomCheckpoint('kimi-linear-49b', 1)).toThrow(/unknown --random-weights shape/);
  });

  it('kimi-linear-48b-dense keeps the 48B attention layers with a dense SwiGLU everywhere (no routing)', () => {
    const dense = randomCheckpoint('kimi-linear-48b-dense', 1);
    expect(dense.config.layerKinds.flatMap((k, i) => (k === 'mla' ? [i] : []))).toEqual([3, 7, 11, 15, 19, 23, 26]);
    expect(dense.config.mlpKinds.every((k) => k === 'dense')).toBe(true);
    expect(dense.info('model.layers.26.mlp.gate_proj.weight').shape).toEqual([9216, 2304]);
    expect(dense.has('model.layers.5.block_sparse_moe.experts.0.w1.weight')).toBe(false);
  });
});

function smallConfig(): KimiConfig {
  return {
    vocabSize: 53, hiddenSize: 24, numLayers: 3, layerKinds: ['kda', 'mla', 'kda'], mlpKinds: ['dense', 'moe', 'moe'],
    kda: { numHeads: 3, headDim: 8, convKernelSize: 4 },
    mla: { numHeads: 3, qkNopeHeadDim: 6, qkRopeHeadDim: 4, vHeadDim: 6, kvLoraRank: 10, kvLayernormEps: 1e-6 },
    moe: { numExperts: 5, topK: 2, numSharedExperts: 1, intermediateSize: 8, routedScalingFactor: 2.446, renormalize: true },
    denseIntermediateSize: 20, rmsNormEps: 1e-5, eosTokenIds: [52], bosTokenId: 1, tieWordEmbeddings: true, maxPositions: 256, raw: {},
  };
}

describe('random checkpoints of any config', () => {
  it('seed and name decide the values; bf16/f16 are the f32 values rounded', () => {
    const c = smallConfig();
    const f32 = randomCheckpoint(c, 7);
    const other = randomCheckpoint(c, 8);
    const name = 'model.layers.1.self_attn.kv_b_proj.weight';
    expect(relativeError(f32.tensor(name).toFloat32(), other.tensor(name).toFloat32())).toBeGreaterThan(0.5);
    for (const dtype of ['bf16', 'f16'] as const) {
      const narrow = randomCheckpoint(c, 7, { dtype }).tensor(name).toFloat32();
      const wide = f32.tensor(name).toFloat32();
      const tol = dtype === 'bf16' ? 2 ** -8 : 2 ** -11;
      wide.forEach((v, i) => expect(Math.abs(narrow[i] - v)).toBeLessThanOrEqual(Math.abs(v) * tol));
    }
    const aLog = f32.tensor('model.layers.0.self_attn.A_log').toFloat32();
    for (const v of aLog) {
      expect(Math.exp(v)).toBeGreaterThanOrEqual(1);
      expect(Math.exp(v)).toBeLessThanOrEqual(16);
    }
    // Tied head: lm_head answers with the embedding.
    expect(Buffer.from(f32.tensor('lm_head.weight').bytes).equals(Buffer.from(f32.tensor('model.embed_tokens.weight').bytes))).toBe(true);
  });

  it('round-trips through a sharded HF directory and runs in the reference (prefill + decode = longer prefill)', () => {
    const ck = randomCheckpoint(smallConfig(), 3);
    const dir = join(tmp, 'small');
    writeHfCheckpoint(dir, ck, { maxShardBytes: 20_000 });
    const back = openHfCheckpoint(dir);
    expect(back.names()).toEqual(ck.names());
    for (const n of ck.names()) expect(Buffer.from(back.tensor(n).bytes).equals(Buffer.from(ck.tensor(n).bytes)), n).toBe(true);
    const model = new ReferenceModel(back);
    const ids = Array.from({ length: 70 }, (_, i) => (i * 17 + 5) % 53);
    const V = 53;
    const whole = model.prefill(model.newState(), ids).logits;
    expect(whole.every(Number.isFinite)).toBe(true);
    const state = model.newState();
    model.prefill(state, ids.slice(0, 67));
    for (let t = 67; t < 70; t++) {
      const step = model.decode(state, ids[t]);
      expect(relativeError(step, whole.subarray(t * V, (t + 1) * V))).toBeLessThan(1e-4);
      expect(argmax(step)).toBe(argmax(whole, t * V, V));
    }
  });
});
