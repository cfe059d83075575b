// config.json (KimiLinearForCausalLM) → KimiConfig. Accepts Moonshot's release form (linear_attn_config with
// 1-based layer lists, num_experts, num_experts_per_token) and transformers 5.x save_pretrained output
// (layer_types, mlp_layer_types, linear_num_heads, num_local_experts / num_experts_per_tok), or both at once.
import type { KimiConfig, LayerKind, MlpKind } from '../checkpoint.js';
import { ModelLoadError } from '../checkpoint.js';

type Raw = Record<string, unknown>;

function pick(raw: Raw, _where: string, ...keys: string[]): unknown {
  for (const k of keys) if (raw[k] !== undefined && raw[k] !== null) return raw[k];
  return undefined;
}

function int(raw: Raw, where: string, keys: string[], fallback?: number): number {
  const v = pick(raw, where, ...keys);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new ModelLoadError(`${where}: missing "${keys[0]}"`);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new ModelLoadError(`${where}: "${keys[0]}" must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A size that must be at least 1 (0 would build an empty model that runs and prints garbage). */
function positive(raw: Raw, where: string, key: string): number {
  const v = int(raw, where, [key]);
  if (v < 1) throw new ModelLoadError(`${where}: "${key}" must be ≥ 1, got 0`);
  return v;
}

function num(raw: Raw, where: string, keys: string[], fallback: number): number {
  const v = pick(raw, where, ...keys);
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelLoadError(`${where}: "${keys[0]}" must be a number`);
  return v;
}

function layerKindsOf(raw: Raw, where: string, numLayers: number): LayerKind[] {
  const lac = raw.linear_attn_config as Raw | undefined | null;
  if (lac && (lac.kda_layers != null || lac.full_attn_layers != null)) {
    // Moonshot lists are 1-based: layer i (0-based) is KDA iff i + 1 ∈ kda_layers.
    const list = (key: 'kda_layers' | 'full_attn_layers'): Set<number> => {
      const v = lac[key] ?? [];
      if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 1 && x <= numLayers)) {
        throw new ModelLoadError(`${where}: linear_attn_config.${key} must list 1-based layer numbers in 1..${numLayers}, got ${JSON.stringify(v)}`);
      }
      return new Set(v as number[]);
    };
    const kda = list('kda_layers');
    const full = list('full_attn_layers');
    const kinds: LayerKind[] = [];
    for (let i = 0; i < numLayers; i++) {
      const isKda = kda.has(i + 1);
      const isFull = full.has(i + 1);
      if (isKda === isFull) {
        throw new ModelLoadError(`${where}: layer ${i + 1} (1-based) must be in exactly one of linear_attn_config.kda_layers / full_attn_layers`);
      }
      kinds.push(isKda ? 'kda' : 'mla');
    }
    // transformers writes both forms; one that contradicts the other is a broken config, not a choice.
    if (raw.layer_types !== undefined && raw.layer_types !== null) {
      const fromTypes = layerTypes(raw.layer_types, where, numLayers);
      const at = fromTypes.findIndex((k, i) => k !== kinds[i]);
      if (at >= 0) throw new ModelLoadError(`${where}: layer_types[${at}] says ${fromTypes[at]} but linear_attn_config makes layer ${at + 1} (1-based) ${kinds[at]}`);
    }
    return kinds;
  }
  if (raw.layer_types !== undefined && raw.layer_types !== null) return layerTypes(raw.layer_types, where, numLayers);
  if (!lac) return Array(numLayers).fill('mla');
  throw new ModelLoadError(`${where}: no layer kinds (need linear_attn_config.kda_layers/full_attn_layers or layer_types)`);
}

function layerTypes(types: unknown, where: string, numLayers: number): LayerKind[] {
  if (!Array.isArray(types)) throw new ModelLoadError(`${where}: layer_types must be a list, got ${JSON.stringify(types)}`);
  if (types.length !== numLayers) throw new ModelLoadError(`${where}: layer_types has ${types.length} entries for ${numLayers} layers`);
  return types.map((t, i) => {
    if (t === 'linear_attention' || t === 'kda') return 'kda';
    if (t === 'full_attention' || t === 'mla') return 'mla';
    throw new ModelLoadError(`${where}: layer_types[${i}] = ${JSON.stringify(t)} (expected linear_attention or full_attention)`);
  });
}

function mlpKindsOf(raw: Raw, where: string, numLayers: number, numExperts: number): MlpKind[] {
  const types = raw.mlp_layer_types;
  if (Array.isArray(types)) {
    if (types.length !== numLayers) throw new ModelLoadError(`${where}: mlp_layer_types has ${types.length} entries for ${numLayers} layers`);
    return types.map((t, i) => {
      if (t === 'dense') return 'dense';
      if (t === 'sparse' || t === 'moe') return 'moe';
      throw new ModelLoadError(`${where}: mlp_layer_types[${i}] = ${JSON.stringify(t)} (expected dense or sparse)`);
    });
  }
  const firstDense = int(raw, where, ['first_k_dense_replace'], 0);
  const freq = int(raw, where, ['moe_layer_freq'], 1) || 1;
  return Array.from({ length: numLayers }, (_, i) =>
    numExperts > 0 && i >= firstDense && (i - firstDense) % freq === 0 ? 'moe' : 'dense');
}

/** Normalises a parsed config.json; `where` names the file in errors. */
export function parseKimiConfig(raw: Raw, where = 'config.json'): KimiConfig {
  const archs = raw.architectures;
  if (Array.isArray(archs) && !archs.includes('KimiLinearForCausalLM')) {
    throw new ModelLoadError(`${where}: architectures ${JSON.stringify(archs)} does not include KimiLinearForCausalLM`);
  }
  if (raw.q_lora_rank !== undefined && raw.q_lora_rank !== null) {
    throw new ModelLoadError(`${where}: q_lora_rank must be null (Kimi Linear's MLA has a plain q_proj)`);
  }
  const hiddenSize = positive(raw, where, 'hidden_size');
  const numLayers = positive(raw, where, 'num_hidden_layers');
  const lac = (raw.linear_attn_config ?? {}) as Raw;
  const numExperts = int(raw, where, ['num_experts', 'num_local_experts', 'n_routed_experts'], 0);
  const layerKinds = layerKindsOf(raw, where, numLayers);
  const mlpKinds = mlpKindsOf(raw, where, numLayers, numExperts);
  const mlaHeads = int(raw, where, ['num_attention_heads']);
  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') throw new ModelLoadError(`${where}: hidden_act ${JSON.stringify(act)} is not supported (silu only)`);
  const routerAct = raw.moe_router_activation_func ?? 'sigmoid';
  if (routerAct !== 'sigmoid') throw new ModelLoadError(`${where}: moe_router_activation_func ${JSON.stringify(routerAct)} is not supported (sigmoid only)`);
  const vocabSize = positive(raw, where, 'vocab_size');
  const eos = raw.eos_token_id ?? [];
  const eosTokenIds = (Array.isArray(eos) ? eos : [eos]) as number[];
  // A stop id that is not a token would never stop anything: generation would silently run to the limit.
  if (!eosTokenIds.every((id) => Number.isInteger(id) && id >= 0 && id < vocabSize)) {
    throw new ModelLoadError(`${where}: eos_token_id ${JSON.stringify(eos)} must be token ids in 0..${vocabSize - 1}`);
  }
  for (const key of ['moe_renormalize', 'norm_topk_prob', 'tie_word_embeddings']) {
    if (raw[key] != null && typeof raw[key] !== 'boolean') throw new ModelLoadError(`${where}: "${key}" must be true or false, got ${JSON.stringify(raw[key])}`);
  }
  const hasKda = layerKinds.includes('kda');
  const hasMla = layerKinds.includes('mla');
  // transformers' linear_* keys, overridden by Moonshot's linear_attn_config where both are present.
  const kdaSrc: Raw = { num_heads: raw.linear_num_heads, head_dim: raw.linear_head_dim,
    short_conv_kernel_size: raw.linear_conv_kernel_dim, ...lac };
  const config: KimiConfig = {
    vocabSize,
    hiddenSize,
    numLayers,
    layerKinds,
    mlpKinds,
    kda: {
      numHeads: int(kdaSrc, where, ['num_heads'], hasKda ? undefined : 0),
      headDim: int(kdaSrc, where, ['head_dim'], hasKda ? undefined : 0),
      convKernelSize: int(kdaSrc, where, ['short_conv_kernel_size'], 4),
    },
    mla: {
      numHeads: mlaHeads,
      qkNopeHeadDim: int(raw, where, ['qk_nope_head_dim'], hasMla ? undefined : 0),
      qkRopeHeadDim: int(raw, where, ['qk_rope_head_dim'], hasMla ? undefined : 0),
      vHeadDim: int(raw, where, ['v_head_dim'], hasMla ? undefined : 0),
      kvLoraRank: int(raw, where, ['kv_lora_rank'], hasMla ? undefined : 0),
      kvLayernormEps: 1e-6,
    },
    moe: {
      numExperts,
      topK: int(raw, where, ['num_experts_per_token', 'num_experts_per_tok'], 0),
      numSharedExperts: int(raw, where, ['num_shared_experts', 'n_shared_experts'], 0),
      intermediateSize: int(raw, where, ['moe_intermediate_size'], 0),
      routedScalingFactor: num(raw, where, ['routed_scaling_factor'], 1),
      renormalize: (pick(raw, where, 'moe_renormalize', 'norm_topk_prob') ?? true) as boolean,
    },
    denseIntermediateSize: int(raw, where, ['intermediate_size'], 0),
    rmsNormEps: num(raw, where, ['rms_norm_eps'], 1e-6),
    eosTokenIds,
    bosTokenId: typeof raw.bos_token_id === 'number' ? raw.bos_token_id : null,
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    maxPositions: int(raw, where, ['model_max_length', 'max_position_embeddings'], 0),
    raw,
  };
  if (mlpKinds.includes('moe')) {
    const m = config.moe;
    if (m.numExperts < 1 || m.topK < 1 || m.topK > m.numExperts || m.intermediateSize < 1) {
      throw new ModelLoadError(`${where}: MoE layers need num_experts ≥ num_experts_per_token ≥ 1 and moe_intermediate_size ≥ 1`);
    }
  }
  if (mlpKinds.includes('dense') && config.denseIntermediateSize < 1) {
    throw new ModelLoadError(`${where}: dense MLP layers need intermediate_size ≥ 1`);
  }
  const m = config.mla;
  if (hasMla && [m.numHeads, m.qkNopeHeadDim + m.qkRopeHeadDim, m.vHeadDim, m.kvLoraRank].some((x) => x < 1)) {
    throw new ModelLoadError(`${where}: MLA layers need num_attention_heads, qk_nope_head_dim + qk_rope_head_dim, v_head_dim, kv_lora_rank ≥ 1`);
  }
  if (!(config.rmsNormEps > 0)) throw new ModelLoadError(`${where}: rms_norm_eps must be > 0, got ${config.rmsNormEps}`);
  if (hasKda && (config.kda.numHeads < 1 || config.kda.headDim < 1 || config.kda.convKernelSize < 1)) {
    throw new ModelLoadError(`${where}: KDA layers need linear_attn_config num_heads, head_dim, short_conv_kernel_size ≥ 1`);
  }
  return config;
}
