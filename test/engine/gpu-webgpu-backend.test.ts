// The webgpu runner backend on real WebGPU (random tiny weights, o200k prompts folded into the vocabulary).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.js';
import { createBackend } from '../../src/runner/backends/index.js';
import type { Backend } from '../../src/runner/backends/types.js';

let backend: Backend;
beforeAll(async () => { backend = await createBackend({ kind: 'webgpu', model: 'random:kimi-linear-tiny' }); });
afterAll(async () => { await backend?.close(); });

describe('webgpu backend', () => {
  it('generates from a raw prompt with streamed text and per-request perf, marked as random weights', async () => {
    const pieces: string[] = [];
    const r = await backend.generate({ prompt: 'The quick brown fox jumps over the lazy dog.', maxTokens: 6, temperature: 0, onText: (p) => pieces.push(p) });
    expect(backend.info).toMatchObject({ backend: 'webgpu', randomWeights: true });
    expect(['length', 'eos']).toContain(r.finishReason);
    expect(pieces.join('')).toBe(r.finishReason === 'length' ? r.text : pieces.join(''));
    expect(r.perf.promptTokens).toBeGreaterThan(5);
    expect(r.perf.completionTokens).toBeGreaterThan(0);
    expect(r.perf.ttftMs).toBeGreaterThan(0);
    expect(r.perf.peakMemoryBytes).toBeGreaterThan(0);
    expect(r.perf.kvStateBytes).toBeGreaterThan(0);
  });

  it('ends at a stop string with finishReason stop and the text before it', async () => {
    const prompt = 'Once upon a time';
    const full = await backend.generate({ prompt, maxTokens: 8, temperature: 0 });
    if (full.text.length < 3) return; // eos came at once: nothing to stop on
    const stop = full.text.slice(1, 3);
    const r = await backend.generate({ prompt, maxTokens: 8, temperature: 0, stop: [stop] });
    expect(r.finishReason).toBe('stop');
    expect(r.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
  });

  it('a stop string that first appears in the last allowed token still ends as stop, cut before it', async () => {
    let checked = 0;
    for (const prompt of ['Once upon a time', 'The quick brown fox', 'In the beginning', 'Call me Ishmael']) {
      const full = await backend.generate({ prompt, maxTokens: 6, temperature: 0 });
      const stop = full.text.slice(-2);
      // Only a reply cut by length whose last two characters appear nowhere earlier tests the last-token case.
      if (full.finishReason !== 'length' || stop.length < 2 || full.text.indexOf(stop) !== full.text.length - 2) continue;
      const r = await backend.generate({ prompt, maxTokens: 6, temperature: 0, stop: [stop] });
      expect([r.finishReason, r.text]).toEqual(['stop', full.text.slice(0, -2)]);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('classifies bad requests: no chat template, too long, aborted', async () => {
    await expect(backend.generate({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 2, temperature: 0 }))
      .rejects.toMatchObject({ kind: 'invalid_input' });
    await expect(backend.generate({ prompt: 'hi', maxTokens: 5000, temperature: 0 })).rejects.toMatchObject({ kind: 'too_long' });
    const controller = new AbortController();
    controller.abort();
    await expect(backend.generate({ prompt: 'hi', maxTokens: 4, temperature: 0, signal: controller.signal }))
      .rejects.toMatchObject({ kind: 'interrupted' });
  });

  it('with prefill checkpoints, a request resumes its kept checkpoint: same text, TTFT counts the earlier prefill', async () => {
    const dir = tempDir();
    const checkpointing = await createBackend({ kind: 'webgpu', model: 'random:kimi-linear-tiny', prefillCheckpoint: { dir, everyTokens: 512, keep: true } });
    try {
      // ~1200 o200k tokens: pieces of 512 end at 512, 1024 and the prompt's end; checkpoints after the first two.
      const prompt = 'A long and winding road, '.repeat(200);
      const plain = await backend.generate({ prompt, maxTokens: 5, temperature: 0 });
      const first = await checkpointing.generate({ prompt, maxTokens: 5, temperature: 0 });
      const [folder] = readdirSync(dir);
      const manifest = JSON.parse(readFileSync(join(dir, folder, 'manifest.json'), 'utf8'));
      expect(manifest.pos).toBe(1024);
      const resumed = await checkpointing.generate({ prompt, maxTokens: 5, temperature: 0 });
      expect([first.text, resumed.text]).toEqual([plain.text, plain.text]);
      expect(resumed.perf.ttftMs).toBeGreaterThanOrEqual(manifest.prefillMs);
      // Resumed at 1024, the rest of the prompt crosses no checkpoint: the kept manifest is the first request's.
      expect(readdirSync(dir)).toEqual([folder]);
      expect(JSON.parse(readFileSync(join(dir, folder, 'manifest.json'), 'utf8')).savedAt).toBe(manifest.savedAt);
    } finally {
      await checkpointing.close();
    }
  });

  it('a model directory without a tokenizer fails to open with a one-line message', async () => {
    await expect(createBackend({ kind: 'webgpu', model: join(import.meta.dirname, '../fixtures/golden/odd') }))
      .rejects.toThrow(/no tokenizer in .*odd: expected tokenizer.json or tiktoken.model/);
  });
});

describe('webgpu backend on the bundled model directory (tokenizer + chat template)', () => {
  it('renders chat messages through the template and appends the answer prefix after it', async () => {
    const bundled = await createBackend({ kind: 'webgpu', model: 'models/ctxbench-hybrid' });
    try {
      const { openModelDirectory } = await import('../../src/engine/loader/model-dir.js');
      const messages = [{ role: 'user' as const, content: 'What is the special magic number for apple?' }];
      const prefix = ' The special magic number for apple mentioned in the provided text is';
      const plain = await bundled.generate({ messages, maxTokens: 1, temperature: 0 });
      const prefixed = await bundled.generate({ messages, answerPrefix: prefix, maxTokens: 1, temperature: 0 });
      const dir = await openModelDirectory('models/ctxbench-hybrid');
      const expectedExtra = dir.tokenizer.encode(dir.chatTemplate!.render(messages, { addGenerationPrompt: true }) + prefix).length
        - dir.tokenizer.encode(dir.chatTemplate!.render(messages, { addGenerationPrompt: true })).length;
      expect(expectedExtra).toBeGreaterThan(5);
      expect(prefixed.perf.promptTokens! - plain.perf.promptTokens!).toBe(expectedExtra);
    } finally {
      await bundled.close();
    }
  });
});
