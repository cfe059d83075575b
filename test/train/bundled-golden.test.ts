// Issue #10's golden check: our WebGPU engine (f32 path, lavapipe here) against transformers' logits for the two
// shipped checkpoints (tools/golden/bundled_logits.py), on a needle question rendered through the chat template.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openHfCheckpoint } from '../../src/engine/loader/hf-checkpoint.js';
import { Engine } from '../../src/engine/engine.js';
import { relativeError } from '../gpu/context.js';

const repo = join(import.meta.dirname, '../..');
const engines: Engine[] = [];
afterAll(async () => { for (const e of engines) await e.close(); });

describe.each(['ctxbench-hybrid', 'ctxbench-mla'])('shipped checkpoint %s vs transformers', (name) => {
  const fixture = join(repo, 'test/fixtures/bundled', name);
  const meta = JSON.parse(readFileSync(join(fixture, 'golden.json'), 'utf8'));
  const bytes = readFileSync(join(fixture, 'logits.bin'));
  const golden = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));

  it('prompt logits within rel. error 1e-3 and the same argmax at every position; same greedy answer', async () => {
    // Pieces of 64: the 150-token prompt runs as 64 + 64 + 22 through the chunked prefill.
    const engine = await Engine.load({ checkpoint: openHfCheckpoint(join(repo, 'models', name)) }, { pieceTokens: 64, allLogits: true });
    engines.push(engine);
    const V = engine.config.vocabSize;
    const ids: number[] = meta.input_ids;
    const logits = await engine.prefillLogits(ids);
    expect(logits.length).toBe(golden.length);
    expect(relativeError(logits, golden)).toBeLessThan(1e-3);
    for (let t = 0; t < ids.length; t++) {
      const row = (x: Float32Array) => { let b = t * V; for (let i = b + 1; i < (t + 1) * V; i++) if (x[i] > x[b]) b = i; return b - t * V; };
      expect(row(logits)).toBe(row(golden));
    }
    // Greedy continuation (transformers ignores eos in the fixture; the engine stops on it).
    const result = await engine.generate(ids, { maxTokens: meta.greedy_ids.length, temperature: 0 });
    expect(result.ids).toEqual(meta.greedy_ids.slice(0, result.ids.length));
    expect(result.ids.length).toBeGreaterThan(1);
  });
});
