// Loading HF model directories: both config forms, sharded and fused tensor layouts, f32/f16/bf16, and a clear
// one-line ModelLoadError for each kind of bad input. Files are real, written into a temp dir.
import * as fs from 'node:fs';
import { copyFileSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Checkpoint, DType } from '../../src/engine/checkpoint.js';
import { ModelLoadError } from '../../src/engine/checkpoint.js';
import { narrowF32 } from '../../src/engine/gpu/half.js';
import { parseKimiConfig } from '../../src/engine/loader/config.js';
import { openHfCheckpoint } from '../../src/engine/loader/hf-checkpoint.js';
import { writeSafetensors } from '../../src/engine/loader/safetensors.js';
import { ReferenceModel } from '../../src/engine/reference/model.js';
import { relativeError } from '../../src/engine/reference/ops.js';
import { tempDir } from '../helpers/temp-dir.js';

const golden = join(import.meta.dirname, '../fixtures/golden');
const tmp = tempDir('ctxbench-loader-');
let counter = 0;

/** A fresh model dir: a copy of a fixture, with config edits and replaced safetensors if asked. */
function modelDir(fixture: string, edit?: (cfg: Record<string, unknown>) => void): string {
  const dir = join(tmp, `m${counter++}`);
  fs.mkdirSync(dir);
  for (const f of readdirSync(join(golden, fixture))) copyFileSync(join(golden, fixture, f), join(dir, f));
  if (edit) {
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    edit(cfg);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  }
  return dir;
}

function expectLoadError(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a ModelLoadError').toBeInstanceOf(ModelLoadError);
  const err = caught as Error;
  expect(err.name).toBe('ModelLoadError');
  expect(err.message).toMatch(pattern);
  expect(err.message).not.toContain('\n');
}

function sameTensors(a: Checkpoint, b: Checkpoint): void {
  expect(a.names()).toEqual(b.names());
  for (const n of a.names()) {
    expect(a.info(n), n).toEqual(b.info(n));
    expect(Buffer.from(a.tensor(n).bytes).equals(Buffer.from(b.tensor(n).bytes)), n).toBe(true);
  }
}

describe('config forms', () => {
  it('Moonshot form and transformers save_pretrained form normalise to the same KimiConfig', () => {
    const moon = openHfCheckpoint(join(golden, 'hybrid-moonshot'));
    const tf = openHfCheckpoint(join(golden, 'hybrid'));
    const { raw: _a, ...m } = moon.config;
    const { raw: _b, ...t } = tf.config;
    expect(m).toEqual(t);
    expect(t.layerKinds).toEqual(['kda', 'kda', 'kda', 'mla']);
    expect(t.mlpKinds).toEqual(['dense', 'moe', 'moe', 'moe']);
    expect(t.kda).toEqual({ numHeads: 2, headDim: 16, convKernelSize: 4 });
    expect(t.moe).toMatchObject({ numExperts: 4, topK: 2, numSharedExperts: 1, intermediateSize: 24, routedScalingFactor: 2.446 });
    expect(t.mla.kvLayernormEps).toBe(1e-6);
  });

  it('the two checkpoint forms give byte-identical canonical tensors (dense layer 0 renamed from block_sparse_moe.*)', () => {
    sameTensors(openHfCheckpoint(join(golden, 'hybrid-moonshot')), openHfCheckpoint(join(golden, 'hybrid')));
  });

  it('a transformers-only config (layer_types, linear_*, num_local_experts, num_experts_per_tok) parses the same', () => {
    const base = JSON.parse(readFileSync(join(golden, 'odd', 'config.json'), 'utf8'));
    const tfOnly = { ...base };
    delete tfOnly.linear_attn_config;
    tfOnly.num_local_experts = tfOnly.num_experts;
    tfOnly.num_experts_per_tok = tfOnly.num_experts_per_token;
    delete tfOnly.num_experts;
    delete tfOnly.num_experts_per_token;
    const { raw: _a, ...a } = parseKimiConfig(tfOnly);
    const { raw: _b, ...b } = parseKimiConfig(base);
    expect(a).toEqual(b);
    expect(a.layerKinds).toEqual(['kda', 'kda', 'mla', 'kda', 'kda']);
  });

  it('Moonshot 1-based layer lists: the 48B pattern puts MLA at 0-based 3, 7, …, 26', () => {
    const kda = [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19, 21, 22, 23, 25, 26];
    const full = [4, 8, 12, 16, 20, 24, 27];
    const c = parseKimiConfig({
      vocab_size: 163840, hidden_size: 2304, num_hidden_layers: 27, num_attention_heads: 32, kv_lora_rank: 512,
      qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128, intermediate_size: 9216, moe_intermediate_size: 1024,
      num_experts: 256, num_experts_per_token: 8, num_shared_experts: 1, first_k_dense_replace: 1,
      linear_attn_config: { num_heads: 32, head_dim: 128, short_conv_kernel_size: 4, kda_layers: kda, full_attn_layers: full },
    });
    expect(c.layerKinds.flatMap((k, i) => (k === 'mla' ? [i] : []))).toEqual([3, 7, 11, 15, 19, 23, 26]);
    expect(c.mlpKinds.filter((k) => k === 'dense')).toHaveLength(1);
  });

  it('the all-MLA twin is the same config with every layer full attention', () => {
    const c = openHfCheckpoint(join(golden, 'all-mla')).config;
    expect(c.layerKinds).toEqual(['mla', 'mla', 'mla']);
  });
});

describe('tensor layouts and dtypes', () => {
  it('fused transformers module names (conv1d over q|k|v, stacked experts, forget_gate.*, mlp.* MoE) are split exactly', () => {
    const src = openHfCheckpoint(join(golden, 'hybrid-moonshot'));
    const dir = modelDir('hybrid-moonshot');
    const out: { name: string; dtype: DType; shape: number[]; bytes: Uint8Array }[] = [];
    const c = src.config;
    const concat = (names: string[]) => Buffer.concat(names.map((n) => Buffer.from(src.tensor(n).bytes)));
    for (const n of src.names()) {
      const m = /^model\.layers\.(\d+)\.(.+)$/.exec(n);
      const rest = m?.[2] ?? '';
      if (/_conv1d\.weight$|experts\.\d+\.w[123]\.weight$/.test(rest)) continue; // written fused below
      let name = n.replace('self_attn.f_a_proj', 'self_attn.forget_gate.f_a_proj').replace('self_attn.dt_bias', 'self_attn.forget_gate.dt_bias');
      name = name.replace('block_sparse_moe.', 'mlp.');
      const t = src.tensor(n);
      out.push({ name, dtype: t.dtype, shape: t.shape, bytes: t.bytes });
    }
    for (let i = 0; i < c.numLayers; i++) {
      const L = `model.layers.${i}.`;
      if (c.layerKinds[i] === 'kda') {
        const P = c.kda.numHeads * c.kda.headDim;
        out.push({ name: `${L}self_attn.conv1d.weight`, dtype: 'f32', shape: [3 * P, 1, 4], bytes: concat(['q', 'k', 'v'].map((x) => `${L}self_attn.${x}_conv1d.weight`)) });
      }
      if (c.mlpKinds[i] === 'moe') {
        const E = c.moe.numExperts;
        const I = c.moe.intermediateSize;
        const H = c.hiddenSize;
        const ex = (e: number, w: string) => `${L}block_sparse_moe.experts.${e}.${w}.weight`;
        out.push({ name: `${L}mlp.experts.gate_up_proj`, dtype: 'f32', shape: [E, 2 * I, H], bytes: concat(Array.from({ length: E }, (_, e) => [ex(e, 'w1'), ex(e, 'w3')]).flat()) });
        out.push({ name: `${L}mlp.experts.down_proj`, dtype: 'f32', shape: [E, H, I], bytes: concat(Array.from({ length: E }, (_, e) => ex(e, 'w2'))) });
      }
    }
    writeSafetensors(join(dir, 'model.safetensors'), out);
    sameTensors(openHfCheckpoint(dir), src);
  });

  it.each(['bf16', 'f16'] as const)('%s weights load and widen exactly; the model still tracks the f32 golden', (dtype) => {
    const src = openHfCheckpoint(join(golden, 'odd'));
    const dir = modelDir('odd');
    const narrowed = src.names().map((n) => {
      const halves = narrowF32(src.tensor(n).toFloat32(), dtype);
      return { name: n, dtype, shape: src.info(n).shape, bytes: new Uint8Array(halves.buffer) };
    });
    writeSafetensors(join(dir, 'model.safetensors'), narrowed);
    const ck = openHfCheckpoint(dir);
    const name = 'model.layers.1.block_sparse_moe.experts.2.w3.weight';
    expect(ck.info(name).dtype).toBe(dtype);
    const wide = ck.tensor(name).toFloat32();
    const orig = src.tensor(name).toFloat32();
    const tol = dtype === 'bf16' ? 2 ** -8 : 2 ** -11;
    for (let i = 0; i < wide.length; i++) expect(Math.abs(wide[i] - orig[i])).toBeLessThanOrEqual(Math.abs(orig[i]) * tol + 1e-7);
    const g = JSON.parse(readFileSync(join(golden, 'odd', 'golden.json'), 'utf8'));
    const gl = new Float32Array(readFileSync(join(golden, 'odd', 'logits.bin')).buffer.slice(0));
    const model = new ReferenceModel(ck);
    const err = relativeError(model.prefill(model.newState(), g.input_ids).logits, gl);
    expect(err).toBeGreaterThan(0); // the weights really changed
    expect(err).toBeLessThan(dtype === 'bf16' ? 0.1 : 0.02);
  });
});


describe('errors: one line, ModelLoadError', () => {
  it('truncated safetensors', () => {
    const dir = modelDir('odd');
    const file = join(dir, 'model.safetensors');
    truncateSync(file, fs.statSync(file).size - 100);
    expectLoadError(() => openHfCheckpoint(dir), /truncated safetensors file/);
    truncateSync(file, 5);
    expectLoadError(() => openHfCheckpoint(dir), /truncated safetensors file/);
  });

  it('tensor shape disagrees with config.json', () => {
    const dir = modelDir('odd', (cfg) => { cfg.intermediate_size = 50; });
    expectLoadError(() => openHfCheckpoint(dir), /model\.layers\.0\.mlp\.gate_proj\.weight has shape \[52,36\] but config\.json implies \[50,36\]/);
  });

  it('unknown dtype', () => {
    const dir = modelDir('odd');
    const src = openHfCheckpoint(join(golden, 'odd'));
    const tensors = src.names().map((n) => ({ ...src.info(n), bytes: src.tensor(n).bytes }));
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    // Rewrite one dtype tag in the header to F64 (same byte length as "F32" + 0 → keep it parseable).
    const buf = readFileSync(join(dir, 'model.safetensors'));
    const headerLen = Number(buf.readBigUInt64LE(0));
    const header = buf.subarray(8, 8 + headerLen).toString('utf8').replace('"F32"', '"F64"');
    buf.write(header, 8, 'utf8');
    writeFileSync(join(dir, 'model.safetensors'), buf);
    expectLoadError(() => openHfCheckpoint(dir), /unsupported dtype F64/);
  });

  it('missing tensor, missing shard, missing or broken config', () => {
    const dir = modelDir('hybrid');
    fs.rmSync(join(dir, 'model-00002-of-00004.safetensors'));
    expectLoadError(() => openHfCheckpoint(dir), /names shard model-00002-of-00004\.safetensors, which is missing/);
    const dir2 = modelDir('odd');
    const src = openHfCheckpoint(dir2);
    writeSafetensors(join(dir2, 'model.safetensors'), src.names().filter((n) => n !== 'model.norm.weight').map((n) => ({ ...src.info(n), bytes: src.tensor(n).bytes })));
    expectLoadError(() => openHfCheckpoint(dir2), /1 tensor\(s\) the config needs are missing, first model\.norm\.weight/);
    const dir3 = modelDir('odd');
    fs.rmSync(join(dir3, 'config.json'));
    expectLoadError(() => openHfCheckpoint(dir3), /no config\.json in/);
    writeFileSync(join(dir3, 'config.json'), '{"hidden_size": ');
    expectLoadError(() => openHfCheckpoint(dir3), /config\.json is not valid JSON/);
    expectLoadError(() => parseKimiConfig({ architectures: ['LlamaForCausalLM'] }), /does not include KimiLinearForCausalLM/);
    expectLoadError(() => parseKimiConfig({ vocab_size: 8, hidden_size: 4, num_hidden_layers: 2, num_attention_heads: 1, layer_types: ['linear_attention'] }), /layer_types has 1 entries for 2 layers/);
  });
});
