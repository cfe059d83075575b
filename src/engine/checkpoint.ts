// The in-memory contract between checkpoint sources (HF directories, seeded random weights) and executors
// (the CPU reference in engine/reference/, the WebGPU model graph). Both checkpoint forms — Moonshot's release
// and transformers 5.x save_pretrained — are normalised by the loader into ONE canonical naming scheme below,
// so executors never see which form a model came from.
//
// Canonical tensor names (prefix L = `model.layers.{i}.`; PyTorch Linear weight = [out, in]; H = hidden,
// Hk = kda.numHeads, Dk = kda.headDim, P = Hk·Dk, K = kda.convKernelSize, Hm = mla.numHeads,
// Dn/Dr/Dv = mla.qkNopeHeadDim/qkRopeHeadDim/vHeadDim, R = mla.kvLoraRank, E = moe.numExperts,
// I = moe.intermediateSize, S = moe.numSharedExperts·I, F = denseIntermediateSize, V = vocabSize):
//
// | name                                          | shape          | notes                                      |
// |-----------------------------------------------|----------------|--------------------------------------------|
// | model.embed_tokens.weight                     | [V, H]         |                                            |
// | model.norm.weight                             | [H]            | final RMSNorm                              |
// | lm_head.weight                                | [V, H]         | answered with embed_tokens when tied       |
// | L input_layernorm.weight                      | [H]            |                                            |
// | L post_attention_layernorm.weight             | [H]            |                                            |
// | KDA layers (layerKinds[i] === 'kda'):         |                |                                            |
// | L self_attn.{q,k,v}_proj.weight               | [P, H]         | head-major: channel = h·Dk + d             |
// | L self_attn.{q,k,v}_conv1d.weight             | [P, 1, K]      | depthwise; tap K−1 multiplies token t      |
// | L self_attn.f_a_proj.weight                   | [Dk, H]        | gate low rank                              |
// | L self_attn.f_b_proj.weight                   | [P, Dk]        |                                            |
// | L self_attn.dt_bias                           | [P]            |                                            |
// | L self_attn.A_log                             | [1, 1, Hk, 1]  | per head                                   |
// | L self_attn.b_proj.weight                     | [Hk, H]        | β = sigmoid(b_proj h)                      |
// | L self_attn.g_a_proj.weight                   | [Dk, H]        | output-gate low rank                       |
// | L self_attn.g_b_proj.weight                   | [P, Dk]        | no bias                                    |
// | L self_attn.o_norm.weight                     | [Dk]           | shared by all heads                        |
// | L self_attn.o_proj.weight                     | [H, P]         |                                            |
// | MLA layers (layerKinds[i] === 'mla'):         |                |                                            |
// | L self_attn.q_proj.weight                     | [Hm·(Dn+Dr), H]| per head [nope Dn | rope-slot Dr]          |
// | L self_attn.kv_a_proj_with_mqa.weight         | [R+Dr, H]      | [latent c R | shared k_pe Dr]              |
// | L self_attn.kv_a_layernorm.weight             | [R]            | eps mla.kvLayernormEps (1e-6)              |
// | L self_attn.kv_b_proj.weight                  | [Hm·(Dn+Dv), R]| per head [k_nope Dn | v Dv]                |
// | L self_attn.o_proj.weight                     | [H, Hm·Dv]     |                                            |
// | dense MLP layers (mlpKinds[i] === 'dense'):   |                |                                            |
// | L mlp.{gate,up}_proj.weight                   | [F, H]         |                                            |
// | L mlp.down_proj.weight                        | [H, F]         |                                            |
// | MoE layers (mlpKinds[i] === 'moe'):           |                |                                            |
// | L block_sparse_moe.gate.weight                | [E, H]         | router, computed in f32                    |
// | L block_sparse_moe.gate.e_score_correction_bias | [E]          | selection only                             |
// | L block_sparse_moe.experts.{e}.w1.weight      | [I, H]         | gate                                       |
// | L block_sparse_moe.experts.{e}.w3.weight      | [I, H]         | up                                         |
// | L block_sparse_moe.experts.{e}.w2.weight      | [H, I]         | down                                       |
// | L block_sparse_moe.shared_experts.{gate,up}_proj.weight | [S, H] | only when numSharedExperts > 0          |
// | L block_sparse_moe.shared_experts.down_proj.weight      | [H, S] |                                         |
//
// These are Moonshot's checkpoint names (kimi-linear-spec §1.3). transformers' fused forms (one conv1d over
// q|k|v, stacked experts gate_up_proj / down_proj, layer-0 dense MLP under block_sparse_moe.*) are split and
// renamed by the loader; `expectedTensorShapes(config)` lists every canonical name with its shape.
import { f16BitsToF32 } from './gpu/half.js';

export type DType = 'f32' | 'f16' | 'bf16';

export type LayerKind = 'kda' | 'mla';
export type MlpKind = 'dense' | 'moe';

/** Every size the forward needs, normalised from either config.json form. Nothing is hard-coded to the 48B. */
export interface KimiConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  /** Token mixer per 0-based layer. */
  layerKinds: LayerKind[];
  /** Channel mixer per 0-based layer. */
  mlpKinds: MlpKind[];
  kda: { numHeads: number; headDim: number; convKernelSize: number };
  mla: {
    numHeads: number;
    qkNopeHeadDim: number;
    qkRopeHeadDim: number;
    vHeadDim: number;
    kvLoraRank: number;
    /** transformers and the HF remote code build kv_a_layernorm with the default 1e-6, not rms_norm_eps. */
    kvLayernormEps: number;
  };
  moe: {
    numExperts: number;
    topK: number;
    numSharedExperts: number;
    /** Width of each routed expert (and of the shared expert, times numSharedExperts). */
    intermediateSize: number;
    routedScalingFactor: number;
    /** Divide the selected (unbiased) sigmoid scores by their sum + 1e-20 before scaling. */
    renormalize: boolean;
  };
  /** Width of the dense SwiGLU layers (layer 0 in the 48B). */
  denseIntermediateSize: number;
  rmsNormEps: number;
  eosTokenIds: number[];
  bosTokenId: number | null;
  tieWordEmbeddings: boolean;
  maxPositions: number;
  /** config.json as read, for anything not normalised here. */
  raw: Record<string, unknown>;
}

export interface TensorInfo {
  /** Canonical name (table above). */
  name: string;
  dtype: DType;
  shape: number[];
}

export interface Tensor extends TensorInfo {
  /** Raw little-endian element bytes, row-major, exactly numel × bytesPerElement(dtype) long. */
  bytes: Uint8Array;
  /** Widened copy: f16 and bf16 expand exactly to f32. */
  toFloat32(): Float32Array;
}

export interface Checkpoint {
  config: KimiConfig;
  /** Reads (or generates) one tensor by canonical name; throws ModelLoadError for an unknown name. */
  tensor(name: string): Tensor;
  /** Name, dtype and shape without reading the data. */
  info(name: string): TensorInfo;
  has(name: string): boolean;
  /** All canonical names, in a stable order. */
  names(): string[];
}

/** Bad model input (config, safetensors, tokenizer): one line saying what and where. */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

/** An error text as one line: JSON.parse quotes the bad input, newlines included. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

export function bytesPerElement(dtype: DType): number {
  return dtype === 'f32' ? 4 : 2;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** bf16 → f32 is the top half of the f32 bit pattern. */
export function bf16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** IEEE half → f32, exact (subnormals, inf and NaN included). */
export function f16ToFloat32(bits: Uint16Array): Float32Array {
  return Float32Array.from(bits, f16BitsToF32);
}

/** Wraps raw bytes as a Tensor; the bytes are copied only when widening. */
export function makeTensor(info: TensorInfo, bytes: Uint8Array): Tensor {
  const expected = numel(info.shape) * bytesPerElement(info.dtype);
  if (bytes.byteLength !== expected) {
    throw new ModelLoadError(`tensor ${info.name}: ${bytes.byteLength} bytes for shape [${info.shape}] ${info.dtype} (expected ${expected})`);
  }
  return {
    ...info,
    bytes,
    toFloat32() {
      // Copy into an aligned buffer: safetensors data offsets need not be 4-byte aligned.
      const aligned = new Uint8Array(bytes.byteLength);
      aligned.set(bytes);
      if (info.dtype === 'f32') return new Float32Array(aligned.buffer);
      const halves = new Uint16Array(aligned.buffer);
      return info.dtype === 'bf16' ? bf16ToFloat32(halves) : f16ToFloat32(halves);
    },
  };
}

const layerPrefix = (i: number) => `model.layers.${i}.`;

/** Every canonical tensor name a checkpoint of this config must hold, with its shape. */
export function expectedTensorShapes(config: KimiConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const H = config.hiddenSize;
  shapes.set('model.embed_tokens.weight', [config.vocabSize, H]);
  shapes.set('model.norm.weight', [H]);
  shapes.set('lm_head.weight', [config.vocabSize, H]);
  const { numHeads: Hk, headDim: Dk, convKernelSize: K } = config.kda;
  const P = Hk * Dk;
  const m = config.mla;
  const moe = config.moe;
  for (let i = 0; i < config.numLayers; i++) {
    const L = layerPrefix(i);
    shapes.set(`${L}input_layernorm.weight`, [H]);
    shapes.set(`${L}post_attention_layernorm.weight`, [H]);
    if (config.layerKinds[i] === 'kda') {
      for (const x of ['q', 'k', 'v']) {
        shapes.set(`${L}self_attn.${x}_proj.weight`, [P, H]);
        shapes.set(`${L}self_attn.${x}_conv1d.weight`, [P, 1, K]);
      }
      shapes.set(`${L}self_attn.f_a_proj.weight`, [Dk, H]);
      shapes.set(`${L}self_attn.f_b_proj.weight`, [P, Dk]);
      shapes.set(`${L}self_attn.dt_bias`, [P]);
      shapes.set(`${L}self_attn.A_log`, [1, 1, Hk, 1]);
      shapes.set(`${L}self_attn.b_proj.weight`, [Hk, H]);
      shapes.set(`${L}self_attn.g_a_proj.weight`, [Dk, H]);
      shapes.set(`${L}self_attn.g_b_proj.weight`, [P, Dk]);
      shapes.set(`${L}self_attn.o_norm.weight`, [Dk]);
      shapes.set(`${L}self_attn.o_proj.weight`, [H, P]);
    } else {
      shapes.set(`${L}self_attn.q_proj.weight`, [m.numHeads * (m.qkNopeHeadDim + m.qkRopeHeadDim), H]);
      shapes.set(`${L}self_attn.kv_a_proj_with_mqa.weight`, [m.kvLoraRank + m.qkRopeHeadDim, H]);
      shapes.set(`${L}self_attn.kv_a_layernorm.weight`, [m.kvLoraRank]);
      shapes.set(`${L}self_attn.kv_b_proj.weight`, [m.numHeads * (m.qkNopeHeadDim + m.vHeadDim), m.kvLoraRank]);
      shapes.set(`${L}self_attn.o_proj.weight`, [H, m.numHeads * m.vHeadDim]);
    }
    if (config.mlpKinds[i] === 'dense') {
      const F = config.denseIntermediateSize;
      shapes.set(`${L}mlp.gate_proj.weight`, [F, H]);
      shapes.set(`${L}mlp.up_proj.weight`, [F, H]);
      shapes.set(`${L}mlp.down_proj.weight`, [H, F]);
    } else {
      const M = `${L}block_sparse_moe.`;
      const I = moe.intermediateSize;
      shapes.set(`${M}gate.weight`, [moe.numExperts, H]);
      shapes.set(`${M}gate.e_score_correction_bias`, [moe.numExperts]);
      for (let e = 0; e < moe.numExperts; e++) {
        shapes.set(`${M}experts.${e}.w1.weight`, [I, H]);
        shapes.set(`${M}experts.${e}.w3.weight`, [I, H]);
        shapes.set(`${M}experts.${e}.w2.weight`, [H, I]);
      }
      if (moe.numSharedExperts > 0) {
        const S = moe.numSharedExperts * I;
        shapes.set(`${M}shared_experts.gate_proj.weight`, [S, H]);
        shapes.set(`${M}shared_experts.up_proj.weight`, [S, H]);
        shapes.set(`${M}shared_experts.down_proj.weight`, [H, S]);
      }
    }
  }
  return shapes;
}

/** Canonical name helpers so executors do not build strings by hand. */
export const tensorName = {
  layer: (i: number, rest: string) => `${layerPrefix(i)}${rest}`,
  expert: (i: number, e: number, w: 'w1' | 'w2' | 'w3') => `${layerPrefix(i)}block_sparse_moe.experts.${e}.${w}.weight`,
};
