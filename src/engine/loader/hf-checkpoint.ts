// An HF model directory (config.json + safetensors, sharded or not) as a Checkpoint with canonical names.
// Stored names of either form are mapped to the canonical scheme of engine/checkpoint.ts; fused transformers
// tensors (conv1d over q|k|v, stacked experts) become contiguous byte slices, so nothing is read until asked for.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Checkpoint, KimiConfig, Tensor, TensorInfo } from '../checkpoint.js';
import { ModelLoadError, bytesPerElement, oneLine, expectedTensorShapes, makeTensor } from '../checkpoint.js';
import { parseKimiConfig } from './config.js';
import type { SafetensorsEntry } from './safetensors.js';
import { readBytes, readSafetensorsHeader } from './safetensors.js';

/** Where one canonical tensor's bytes live: a whole stored tensor or a contiguous slice of one. */
interface TensorSource extends TensorInfo {
  stored: SafetensorsEntry;
  offset: number;
  byteLength: number;
}

export function readConfigFile(dir: string): KimiConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new ModelLoadError(`no config.json in ${dir}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(`${path} is not valid JSON: ${oneLine((err as Error).message)}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ModelLoadError(`${path} is not a JSON object`);
  return parseKimiConfig(raw as Record<string, unknown>, path);
}

function safetensorsFiles(dir: string): string[] {
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    let weightMap: unknown;
    try {
      weightMap = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: unknown } | null)?.weight_map;
    } catch (err) {
      throw new ModelLoadError(`${index} is not valid JSON: ${oneLine((err as Error).message)}`);
    }
    if (!weightMap || typeof weightMap !== 'object' || Array.isArray(weightMap)) throw new ModelLoadError(`${index} has no weight_map object`);
    // Shards are plain file names beside the index (as HF writes them): a path could read files outside the model.
    const bad = Object.entries(weightMap).find(([, f]) => typeof f !== 'string' || !f.endsWith('.safetensors') || basename(f) !== f);
    if (bad) throw new ModelLoadError(`${index}: weight_map["${bad[0]}"] is ${JSON.stringify(bad[1])}, not a .safetensors file name`);
    const files = [...new Set(Object.values(weightMap as Record<string, string>))].sort();
    if (files.length === 0) throw new ModelLoadError(`${index}: weight_map is empty`);
    for (const f of files) if (!existsSync(join(dir, f))) throw new ModelLoadError(`${index} names shard ${f}, which is missing from ${dir}`);
    return files.map((f) => join(dir, f));
  }
  if (existsSync(join(dir, 'model.safetensors'))) return [join(dir, 'model.safetensors')];
  const any = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort() : [];
  if (any.length === 0) throw new ModelLoadError(`no model.safetensors or model.safetensors.index.json in ${dir}`);
  return any.map((f) => join(dir, f));
}

function whole(name: string, e: SafetensorsEntry): TensorSource {
  return { name, dtype: e.dtype, shape: e.shape, stored: e, offset: e.offset, byteLength: e.byteLength };
}

/** Rows [from, from + count) of a stored tensor viewed as [rows, last dim], reshaped to `shape`. */
function rows(name: string, e: SafetensorsEntry, from: number, count: number, shape: number[]): TensorSource {
  const rowBytes = e.shape[e.shape.length - 1] * bytesPerElement(e.dtype);
  return { name, dtype: e.dtype, shape, stored: e, offset: e.offset + from * rowBytes, byteLength: count * rowBytes };
}

/** Maps one stored tensor to its canonical source(s). */
function canonicalSources(e: SafetensorsEntry, config: KimiConfig): TensorSource[] {
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(e.name);
  if (!m) return [whole(e.name, e)];
  const i = Number(m[1]);
  const L = `model.layers.${i}.`;
  let rest = m[2].replace(/^self_attn\.forget_gate\./, 'self_attn.');
  // The FFN prefix follows the layer's MLP kind: transformers saves dense layer 0 as block_sparse_moe.*
  // and its in-memory modules call the MoE block mlp.*.
  const ffn = /^(mlp|block_sparse_moe)\.(.+)$/.exec(rest);
  if (ffn) rest = `${config.mlpKinds[i] === 'dense' ? 'mlp' : 'block_sparse_moe'}.${ffn[2]}`;
  if (rest === 'self_attn.conv1d.weight') {
    const P = e.shape[0] / 3;
    return ['q', 'k', 'v'].map((x, j) => rows(`${L}self_attn.${x}_conv1d.weight`, e, j * P, P, [P, ...e.shape.slice(1)]));
  }
  if (rest === 'block_sparse_moe.experts.gate_up_proj') {
    const [E, twoI, H] = e.shape;
    const I = twoI / 2;
    return Array.from({ length: E }, (_, x) => [
      rows(`${L}block_sparse_moe.experts.${x}.w1.weight`, e, x * twoI, I, [I, H]),
      rows(`${L}block_sparse_moe.experts.${x}.w3.weight`, e, x * twoI + I, I, [I, H]),
    ]).flat();
  }
  if (rest === 'block_sparse_moe.experts.down_proj') {
    const [E, H, I] = e.shape;
    return Array.from({ length: E }, (_, x) => rows(`${L}block_sparse_moe.experts.${x}.w2.weight`, e, x * H, H, [H, I]));
  }
  return [whole(L + rest, e)];
}

/** Opens an HF model directory: reads config.json and every safetensors header; tensors are read on demand. */
export function openHfCheckpoint(dirArg: string): Checkpoint {
  const dir = resolve(dirArg);
  const config = readConfigFile(dir);
  const sources = new Map<string, TensorSource>();
  for (const file of safetensorsFiles(dir)) {
    for (const entry of readSafetensorsHeader(file)) {
      for (const s of canonicalSources(entry, config)) {
        // Two copies of one tensor (a stray extra shard, both name forms): which one is meant is unknowable.
        const before = sources.get(s.name);
        if (before) throw new ModelLoadError(`${dir}: tensor ${s.name} is stored twice (${basename(before.stored.file)} and ${basename(file)})`);
        sources.set(s.name, s);
      }
    }
  }
  const expected = expectedTensorShapes(config);
  // Weights of layers or experts past num_hidden_layers / num_experts mean config and weights disagree: running on
  // would silently drop them and give garbage. Other unknown tensors (a saved buffer, an extra head) are left
  // unread, as transformers loads past unexpected keys.
  const beyond = (name: string) => {
    const layer = /\.layers\.(\d+)\./.exec(name), expert = /\.experts\.(\d+)\./.exec(name);
    return (layer !== null && Number(layer[1]) >= config.numLayers) || (expert !== null && Number(expert[1]) >= config.moe.numExperts);
  };
  const unused = [...sources.keys()].filter((n) => !expected.has(n) && beyond(n));
  if (unused.length > 0) {
    throw new ModelLoadError(`${dir}: ${unused.length} stored tensor(s) of layers or experts that config.json does not have, first ${unused[0]} (config and weights disagree)`);
  }
  if (config.tieWordEmbeddings && !sources.has('lm_head.weight') && sources.has('model.embed_tokens.weight')) {
    sources.set('lm_head.weight', { ...sources.get('model.embed_tokens.weight')!, name: 'lm_head.weight' });
  }
  const missing = [...expected.keys()].filter((n) => !sources.has(n));
  if (missing.length > 0) {
    throw new ModelLoadError(`${dir}: ${missing.length} tensor(s) the config needs are missing, first ${missing[0]}`);
  }
  for (const [name, shape] of expected) {
    const got = sources.get(name)!.shape;
    if (got.length !== shape.length || got.some((d, k) => d !== shape[k])) {
      throw new ModelLoadError(`${dir}: tensor ${name} has shape [${got}] but config.json implies [${shape}]`);
    }
  }
  const names = [...expected.keys()];
  const info = (name: string): TensorInfo => {
    const s = sources.get(name);
    if (!s || !expected.has(name)) throw new ModelLoadError(`no tensor ${name} in ${dir}`);
    return { name, dtype: s.dtype, shape: s.shape };
  };
  return {
    config,
    names: () => names,
    has: (name) => expected.has(name),
    info,
    tensor(name: string): Tensor {
      const s = sources.get(name);
      if (!s || !expected.has(name)) throw new ModelLoadError(`no tensor ${name} in ${dir}`);
      return makeTensor({ name, dtype: s.dtype, shape: s.shape }, readBytes(s.stored.file, s.offset, s.byteLength));
    },
  };
}
