// Seeded random checkpoints of any Kimi Linear config, generated lazily tensor by tensor on the CPU: for the CPU
// reference on random shapes, for exporting a random model as safetensors (the PyTorch anchor can then load the
// very same weights), and for `--random-weights` runs, which are marked and never reported as scores.
// Each tensor's values depend only on (seed, canonical name), so any subset can be generated in any order.
import type { Checkpoint, DType, KimiConfig, Tensor, TensorInfo } from './checkpoint.js';
import { ModelLoadError, expectedTensorShapes, makeTensor, numel } from './checkpoint.js';
import { narrowF32 } from './gpu/half.js';
import { randomShapeConfig } from './models/kimi-linear-shapes.js';
import { fnv1a32, mulberry32 } from '../random/seeded.js';

export interface RandomCheckpointOptions {
  /** Storage dtype of every tensor (default f32; bf16 halves the memory of big shapes). */
  dtype?: DType;
  /** Fewer routed experts than the named shape, same layer shapes. */
  experts?: number;
}


/**
 * Values with O(1) activations (so routing and argmax are far from ties): linear weights U(±sqrt(3/fan_in))
 * (variance 1/fan_in), embeddings U(±sqrt 3), norms 1 ± 0.2, conv taps ±0.5, A_log = ln U(1, 16),
 * dt_bias = softplus⁻¹(logU(1e-3, 1e-1)) as at training init (kimi-linear-spec §3), router bias ±0.3.
 */
function generate(name: string, shape: number[], seed: number): Float32Array {
  // FNV-1a of the name, mixed with the seed: one independent stream per tensor.
  const next = mulberry32(fnv1a32(name, seed));
  const n = numel(shape);
  const out = new Float32Array(n);
  const sym = (a: number) => (2 * next() - 1) * a;
  if (name.endsWith('A_log')) for (let i = 0; i < n; i++) out[i] = Math.log(1 + 15 * next());
  else if (name.endsWith('dt_bias')) {
    for (let i = 0; i < n; i++) {
      const dt = Math.exp(Math.log(1e-3) + next() * (Math.log(1e-1) - Math.log(1e-3)));
      out[i] = dt + Math.log(-Math.expm1(-dt));
    }
  } else if (name.endsWith('e_score_correction_bias')) for (let i = 0; i < n; i++) out[i] = sym(0.3);
  else if (/norm\.weight$|layernorm\.weight$/.test(name)) for (let i = 0; i < n; i++) out[i] = 1 + sym(0.2);
  else if (name.endsWith('conv1d.weight')) for (let i = 0; i < n; i++) out[i] = sym(0.5);
  else if (name === 'model.embed_tokens.weight') for (let i = 0; i < n; i++) out[i] = sym(Math.sqrt(3));
  else {
    const a = Math.sqrt(3 / shape[shape.length - 1]);
    for (let i = 0; i < n; i++) out[i] = sym(a);
  }
  return out;
}

/** The f32 values as bytes of `dtype` (bf16/f16 rounded to nearest even). */
function narrow(values: Float32Array, dtype: DType): Uint8Array {
  if (dtype === 'f32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return new Uint8Array(narrowF32(values, dtype).buffer);
}

/** A Checkpoint whose tensors are generated on first request (and not kept: ask again, get the same bytes). */
export function randomCheckpoint(shape: string | KimiConfig, seed: number, options: RandomCheckpointOptions = {}): Checkpoint {
  const config = typeof shape === 'string' ? randomShapeConfig(shape, options.experts) : shape;
  const dtype = options.dtype ?? 'f32';
  const shapes = expectedTensorShapes(config);
  const names = [...shapes.keys()];
  const info = (name: string): TensorInfo => {
    const s = shapes.get(name);
    if (!s) throw new ModelLoadError(`no tensor ${name} in the random checkpoint`);
    return { name, dtype, shape: s };
  };
  return {
    config,
    names: () => names,
    has: (name) => shapes.has(name),
    info,
    tensor(name: string): Tensor {
      const i = info(name);
      // Tied heads reuse the embedding's values, as a tied checkpoint would.
      const source = name === 'lm_head.weight' && config.tieWordEmbeddings ? 'model.embed_tokens.weight' : name;
      return makeTensor(i, narrow(generate(source, i.shape, seed), dtype));
    },
  };
}

/** Total parameter count of a config's canonical tensors (a tied lm_head counted once). */
export function parameterCount(config: KimiConfig): number {
  let total = 0;
  for (const [name, s] of expectedTensorShapes(config)) if (!(name === 'lm_head.weight' && config.tieWordEmbeddings)) total += numel(s);
  return total;
}
