// Bad model directories and bad `infer` requests, each found by probing copies of the fixtures: every one must
// end in one ModelLoadError line (or, through the CLI, one stderr line and exit 2), never a stack trace or a model
// that runs on wrong weights. Files are real copies in a temp dir; the fixtures are never edited.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../../src/engine/checkpoint.js';
import { openHfCheckpoint } from '../../src/engine/loader/hf-checkpoint.js';
import { loadChatTemplate, loadModelTokenizer } from '../../src/engine/loader/model-tokenizer.js';
import { writeSafetensors } from '../../src/engine/loader/safetensors.js';
import { tempDir } from '../helpers/temp-dir.js';

const root = join(import.meta.dirname, '../..');
const golden = join(root, 'test/fixtures/golden');
const tmp = tempDir('ctxbench-bad-input-');
let counter = 0;

function copyDir(from: string, edit?: (cfg: Record<string, unknown>) => void): string {
  const dir = join(tmp, `m${counter++}`);
  mkdirSync(dir);
  for (const f of readdirSync(from)) copyFileSync(join(from, f), join(dir, f));
  if (edit) {
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    edit(cfg);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  }
  return dir;
}

async function loadError(fn: () => unknown): Promise<string> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a ModelLoadError').toBeInstanceOf(ModelLoadError);
  const message = (caught as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

/** Rewrites one safetensors header (data kept as is) through `edit`. */
function editHeader(file: string, edit: (h: Record<string, unknown>) => unknown): void {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const out = edit(header);
  const json = Buffer.from(JSON.stringify(out === undefined ? header : out));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, json, buf.subarray(8 + n)]));
}

describe('safetensors headers that lie', () => {
  const norm = (h: Record<string, unknown>) => h['model.norm.weight'] as { data_offsets: number[]; shape: unknown };

  it('offsets that overlap another tensor or reach back into the header are refused (they ran on wrong bytes)', async () => {
    const overlap = copyDir(join(golden, 'odd'));
    editHeader(join(overlap, 'model.safetensors'), (h) => { norm(h).data_offsets = [0, 144]; });
    expect(await loadError(() => openHfCheckpoint(overlap))).toMatch(/model\.safetensors: tensor \S+ data_offsets start at 0, expected 144 \(tensors overlap or leave a gap\)/);
    const negative = copyDir(join(golden, 'odd'));
    editHeader(join(negative, 'model.safetensors'), (h) => { norm(h).data_offsets = [-144, 0]; });
    expect(await loadError(() => openHfCheckpoint(negative))).toMatch(/tensor model\.norm\.weight has data_offsets \[-144,0\], not \[begin, end\]/);
    const trailing = copyDir(join(golden, 'odd'));
    writeFileSync(join(trailing, 'model.safetensors'), Buffer.concat([readFileSync(join(trailing, 'model.safetensors')), Buffer.alloc(4)]));
    expect(await loadError(() => openHfCheckpoint(trailing))).toMatch(/4 bytes after the last tensor's data/);
  });

  it('a malformed header (null, a list, an entry that is null, a shape that is a string) is one line, not a TypeError', async () => {
    const cases: [(h: Record<string, unknown>) => unknown, RegExp][] = [
      [() => null, /safetensors header is not a JSON object/],
      [() => [1], /safetensors header is not a JSON object/],
      [(h) => { h['model.norm.weight'] = null; }, /tensor model\.norm\.weight has unsupported dtype undefined/],
      [(h) => { norm(h).shape = '36'; }, /tensor model\.norm\.weight has shape "36", not a list of non-negative integers/],
    ];
    for (const [edit, pattern] of cases) {
      const dir = copyDir(join(golden, 'odd'));
      editHeader(join(dir, 'model.safetensors'), edit);
      expect(await loadError(() => openHfCheckpoint(dir))).toMatch(pattern);
    }
  });
});

describe('checkpoint and config disagree', () => {
  it('tensors the config does not use (more layers or experts than it says, a stray name) are refused', async () => {
    const fewerLayers = copyDir(join(golden, 'odd'), (c) => {
      c.num_hidden_layers = 4;
      (c.layer_types as string[]).pop();
      (c.mlp_layer_types as string[]).pop();
      (c.linear_attn_config as Record<string, unknown>).kda_layers = [1, 2, 4];
    });
    expect(await loadError(() => openHfCheckpoint(fewerLayers))).toMatch(/37 stored tensor\(s\) of layers or experts that config\.json does not have, first model\.layers\.4\./);
    const fewerExperts = copyDir(join(golden, 'odd'), (c) => { c.num_experts = 4; });
    expect(await loadError(() => openHfCheckpoint(fewerExperts))).toMatch(/first model\.layers\.1\.block_sparse_moe\.experts\.4\.w1\.weight/);
    const extra = copyDir(join(golden, 'odd'));
    const src = openHfCheckpoint(join(golden, 'odd'));
    writeSafetensors(join(extra, 'model.safetensors'), [...src.names().map((n) => ({ ...src.info(n), bytes: src.tensor(n).bytes })),
      { name: 'model.layers.0.self_attn.bogus.weight', dtype: 'f32', shape: [1], bytes: new Uint8Array(4) }]);
    // An unknown tensor inside the config's layers (a saved buffer) is left unread, as transformers does.
    expect(openHfCheckpoint(extra).names()).toEqual(src.names());
  });

  it('a tensor stored in two shards, a weight_map entry that is not a file name or is a folder', async () => {
    const dup = copyDir(join(golden, 'hybrid'));
    copyFileSync(join(dup, 'model-00001-of-00004.safetensors'), join(dup, 'extra.safetensors'));
    const indexPath = join(dup, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    writeFileSync(indexPath, JSON.stringify({ ...index, weight_map: { ...index.weight_map, extra: 'extra.safetensors' } }));
    expect(await loadError(() => openHfCheckpoint(dup))).toMatch(/is stored twice \(extra\.safetensors and model-00001-of-00004\.safetensors\)/);
    const num = copyDir(join(golden, 'hybrid'));
    writeFileSync(join(num, 'model.safetensors.index.json'), '{"weight_map": {"a": 5}}');
    expect(await loadError(() => openHfCheckpoint(num))).toMatch(/weight_map\["a"\] is 5, not a \.safetensors file name/);
    const folder = copyDir(join(golden, 'hybrid'));
    writeFileSync(join(folder, 'model.safetensors.index.json'), '{"weight_map": {"a": "sub.safetensors"}}');
    mkdirSync(join(folder, 'sub.safetensors'));
    expect(await loadError(() => openHfCheckpoint(folder))).toMatch(/sub\.safetensors: not a regular file/);
    // A shard path that leaves the model folder is refused before anything is read.
    const outside = copyDir(join(golden, 'hybrid'));
    writeFileSync(join(outside, 'model.safetensors.index.json'), '{"weight_map": {"a": "../hybrid/model.safetensors"}}');
    expect(await loadError(() => openHfCheckpoint(outside))).toMatch(/weight_map\["a"\] is "\.\.\/hybrid\/model\.safetensors", not a \.safetensors file name/);
  });

  it('config.json fields that ran silently or crashed later: contradicting layer lists, eps, eos, renormalize, zero sizes', async () => {
    const cases: [(c: Record<string, unknown>) => void, RegExp][] = [
      [(c) => { (c.layer_types as string[])[1] = 'sliding_attention'; }, /layer_types\[1\] = "sliding_attention"/],
      [(c) => { (c.layer_types as string[])[0] = 'full_attention'; }, /layer_types\[0\] says mla but linear_attn_config makes layer 1 \(1-based\) kda/],
      [(c) => { (c.linear_attn_config as Record<string, unknown>).kda_layers = [1, 2, 4, 5, 6]; }, /kda_layers must list 1-based layer numbers in 1\.\.5/],
      [(c) => { c.rms_norm_eps = -1; }, /rms_norm_eps must be > 0, got -1/],
      [(c) => { c.eos_token_id = [99999]; }, /eos_token_id \[99999\] must be token ids in 0\.\.148/],
      [(c) => { c.moe_renormalize = 'no'; }, /"moe_renormalize" must be true or false/],
      [(c) => { c.vocab_size = 0; }, /"vocab_size" must be ≥ 1/],
    ];
    for (const [edit, pattern] of cases) {
      const dir = copyDir(join(golden, 'odd'), edit);
      expect(await loadError(() => openHfCheckpoint(dir))).toMatch(pattern);
    }
    const nul = copyDir(join(golden, 'odd'));
    writeFileSync(join(nul, 'config.json'), 'null');
    expect(await loadError(() => openHfCheckpoint(nul))).toMatch(/config\.json is not a JSON object/);
    writeFileSync(join(nul, 'config.json'), 'not json\n');
    expect(await loadError(() => openHfCheckpoint(nul))).toMatch(/config\.json is not valid JSON/);
  });
});

describe('tokenizer files and chat templates', () => {
  const model = join(root, 'models/ctxbench-hybrid');

  it('a broken tokenizer_config.json or tokenizer.json is named, in one line', async () => {
    const dir = copyDir(model);
    writeFileSync(join(dir, 'tokenizer_config.json'), '{bad');
    expect(await loadError(() => loadModelTokenizer(dir))).toMatch(/tokenizer_config\.json is not valid JSON/);
    const dir2 = copyDir(model);
    writeFileSync(join(dir2, 'tokenizer.json'), 'not json\n');
    expect(await loadError(() => loadModelTokenizer(dir2))).toMatch(/tokenizer\.json could not be loaded: .*not valid JSON/);
  });

  it('a template that raises at render time names the template', async () => {
    const dir = copyDir(model);
    const cfg = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...cfg, chat_template: "{{ raise_exception('roles must alternate') }}" }));
    const template = loadChatTemplate(dir)!;
    expect(await loadError(() => template.render([{ role: 'user', content: 'hi' }])))
      .toMatch(/chat template in .*tokenizer_config\.json chat_template failed to render: roles must alternate/);
  });
});

describe('ctxbench infer: bad requests end before the engine starts', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'infer', ...args], { cwd: root, encoding: 'utf8' });
  const stderrLine = (r: ReturnType<typeof cli>) => r.stderr.split('\n').filter((l) => l && !l.startsWith('Warning')).join('\n');

  it('prompt + --max-tokens past the model positions, an infinite temperature, a bad id entry, a broken tokenizer with --ids', () => {
    const dir = copyDir(join(root, 'models/ctxbench-hybrid'));
    const odd = copyDir(join(golden, 'odd'));
    writeFileSync(join(dir, 'ids.json'), '[1, 2, 3]');
    writeFileSync(join(dir, 'neg.json'), '[1, -1]');
    writeFileSync(join(dir, 'long.json'), JSON.stringify(Array.from({ length: 4095 }, (_, i) => i % 149)));
    const ids = join(dir, 'ids.json');
    const broken = copyDir(join(root, 'models/ctxbench-hybrid'));
    writeFileSync(join(broken, 'tokenizer.json'), 'not json');
    for (const [args, message] of [
      [['--model', odd, '--ids', join(dir, 'long.json'), '--max-tokens', '2'], /^ctxbench: prompt 4095 \+ --max-tokens 2 tokens exceed the model's 4096 positions/],
      [['--random-weights', 'kimi-linear-tiny', '--random-prompt', '3', '--max-tokens', '1000000000'], /exceed the model's 4096 positions/],
      [['--model', odd, '--ids', ids, '--temperature', 'Infinity'], /--temperature must be a number ≥ 0, got "Infinity"/],
      [['--model', odd, '--ids', join(dir, 'neg.json')], /neg\.json: entry 1 is -1, not a token id/],
      [['--model', broken, '--ids', ids], /tokenizer\.json could not be loaded/],
    ] as const) {
      const run = cli(...args);
      expect(stderrLine(run)).toMatch(message);
      expect(stderrLine(run)).not.toContain('\n');
      expect(run.status).toBe(2);
    }
  });
});
