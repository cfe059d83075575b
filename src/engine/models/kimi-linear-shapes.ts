// Named model shapes for --random-weights: the released 48B config values (kimi-linear-spec §1.1, facts
// from the public config.json) parsed through the same config reader as a real checkpoint.
import type { KimiConfig } from '../checkpoint.js';
import { ModelLoadError } from '../checkpoint.js';
import { parseKimiConfig } from '../loader/config.js';

const KDA_LAYERS_48B = [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19, 21, 22, 23, 25, 26];
const MLA_LAYERS_48B = [4, 8, 12, 16, 20, 24, 27];

function config48b(allMla: boolean): Record<string, unknown> {
  return {
    architectures: ['KimiLinearForCausalLM'], model_type: 'kimi_linear',
    vocab_size: 163840, hidden_size: 2304, num_hidden_layers: 27, num_attention_heads: 32, num_key_value_heads: 32,
    q_lora_rank: null, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128, mla_use_nope: true,
    linear_attn_config: allMla
      ? { num_heads: 32, head_dim: 128, short_conv_kernel_size: 4, kda_layers: [], full_attn_layers: Array.from({ length: 27 }, (_, i) => i + 1) }
      : { num_heads: 32, head_dim: 128, short_conv_kernel_size: 4, kda_layers: KDA_LAYERS_48B, full_attn_layers: MLA_LAYERS_48B },
    num_experts: 256, num_experts_per_token: 8, num_shared_experts: 1, moe_intermediate_size: 1024, intermediate_size: 9216,
    first_k_dense_replace: 1, moe_layer_freq: 1, moe_router_activation_func: 'sigmoid', moe_renormalize: true,
    routed_scaling_factor: 2.446, hidden_act: 'silu', rms_norm_eps: 1e-5, tie_word_embeddings: false,
    model_max_length: 1048576, bos_token_id: 163584, eos_token_id: 163586, pad_token_id: 163839,
  };
}

/** A tiny hybrid with odd sizes (3 KDA + 1 MLA, dense layer 0, MoE) for CLI tests on CPU WebGPU. */
function configTiny(): Record<string, unknown> {
  return {
    architectures: ['KimiLinearForCausalLM'], vocab_size: 97, hidden_size: 40, num_hidden_layers: 4,
    num_attention_heads: 3, kv_lora_rank: 12, qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 6,
    linear_attn_config: { num_heads: 3, head_dim: 16, short_conv_kernel_size: 4, kda_layers: [1, 2, 3], full_attn_layers: [4] },
    num_experts: 7, num_experts_per_token: 2, num_shared_experts: 1, moe_intermediate_size: 10, intermediate_size: 24,
    first_k_dense_replace: 1, moe_layer_freq: 1, moe_renormalize: true, routed_scaling_factor: 2.446,
    rms_norm_eps: 1e-5, eos_token_id: 96, model_max_length: 4096,
  };
}

/**
 * The 48B attention and layer shapes with a dense SwiGLU (9216) in every layer instead of MoE: no routing, so
 * the output is a continuous function of the weights. Fast-vs-exact kernel comparisons on random weights need
 * that; with sigmoid top-8 routing, f16 rounding flips expert choices and the outputs jump.
 */
function config48bDense(): Record<string, unknown> {
  return { ...config48b(false), first_k_dense_replace: 27 };
}

export const RANDOM_SHAPES: Record<string, () => Record<string, unknown>> = {
  'kimi-linear-48b': () => config48b(false),
  'kimi-linear-48b-mla': () => config48b(true),
  'kimi-linear-48b-dense': config48bDense,
  'kimi-linear-tiny': configTiny,
};

/** Config of a named shape; `experts` keeps the layer shapes but fewer routed experts (to fit a GPU). */
export function randomShapeConfig(shape: string, experts?: number): KimiConfig {
  const make = RANDOM_SHAPES[shape];
  if (!make) throw new ModelLoadError(`unknown --random-weights shape "${shape}" (known: ${Object.keys(RANDOM_SHAPES).join(', ')})`);
  const raw = make();
  if (experts !== undefined) {
    if (!Number.isInteger(experts) || experts < (raw.num_experts_per_token as number)) {
      throw new ModelLoadError(`--random-experts ${experts} must be an integer ≥ top-k ${raw.num_experts_per_token}`);
    }
    raw.num_experts = experts;
  }
  return parseKimiConfig(raw, `shape ${shape}`);
}
