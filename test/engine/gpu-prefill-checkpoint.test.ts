// Prefill checkpoints (src/engine/prefill-checkpoint.ts) on the tiny hybrid with random weights, f32 and f16
// latent caches: a save/restore round trip gives back every state byte; a prefill cut off after a checkpoint
// resumes from it and ends with the same greedy tokens as one uninterrupted run; a checkpoint of another prompt,
// a torn manifest or a short latent file is never resumed.
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { SequenceState } from '../../src/engine/models/kimi-linear.js';
import { PrefillCheckpoint, prefillCheckpointKey } from '../../src/engine/prefill-checkpoint.js';
import { tinyConfig } from '../gpu/tiny-config.js';
import { tempDir } from '../helpers/temp-dir.js';

const config = tinyConfig({ layerKinds: ['kda', 'mla', 'kda', 'mla'] });
const piece = 32;
const engines: Record<'f32' | 'f16', Engine> = {} as never;
const seed = Math.floor(Math.random() * 1e6);

beforeAll(async () => {
  engines.f32 = await Engine.load({ randomConfig: config, seed }, { pieceTokens: piece });
  engines.f16 = await Engine.load({ randomConfig: config, seed }, { pieceTokens: piece, matmulDtype: 'f16' });
});
afterAll(async () => { await engines.f32?.close(); await engines.f16?.close(); });

const randomPrompt = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 96));

async function stateBytes(e: Engine, seq: SequenceState): Promise<Uint8Array[]> {
  const tensors = [...seq.kda.flatMap((k) => (k ? [k.state, k.convQ, k.convK, k.convV] : [])),
    ...seq.mla.flatMap((l) => (l ? [l.cache] : []))];
  return Promise.all(tensors.map((t) => e.ctx.readBytes(t)));
}

describe.each(['f32', 'f16'] as const)('prefill checkpoints (%s weights)', (dtype) => {
  it('a restored sequence holds exactly the saved state bytes and position', async () => {
    const e = engines[dtype];
    const dir = tempDir();
    const ids = randomPrompt(3 * piece + 7);
    const t = e.ctx.tensor([ids.length], 'u32', 'ids', ids);
    const key = prefillCheckpointKey('round trip', ids);
    const saved = e.newSequence(ids.length);
    const restored = e.newSequence(ids.length);
    try {
      // Slices of 5 rows (and 3 on the way back): both loops cross slice ends inside a save.
      const rowBytes = saved.mla[1]!.cache.shape[1] * (dtype === 'f16' ? 2 : 4);
      const ck = new PrefillCheckpoint(e.ctx, { dir, everyTokens: piece, modelId: 'tiny', sliceBytes: 5 * rowBytes + 1 }, key, ids.length);
      // Two saves: the second appends latent rows 32..95 after rows 0..31.
      e.ctx.run(e.graph.forward(saved, t, 0, piece));
      await ck.save(saved, 1);
      for (const at of [piece, 2 * piece]) e.ctx.run(e.graph.forward(saved, t, at, piece));
      await ck.save(saved, 2);
      expect(readdirSync(ck.folder).filter((n) => n.startsWith('kda-'))).toEqual(['kda-96.bin']);
      const back = await new PrefillCheckpoint(e.ctx, { dir, everyTokens: piece, modelId: 'tiny', sliceBytes: 3 * rowBytes }, key, ids.length).restore(restored);
      expect(back).toEqual({ pos: 3 * piece, priorPrefillMs: 2 });
      expect(restored.pos).toBe(saved.pos);
      const [a, b] = [await stateBytes(e, saved), await stateBytes(e, restored)];
      const latentRows = 3 * piece * rowBytes;
      a.forEach((bytes, i) => {
        // Latent caches: the rows written so far (rows past pos are never read before they are written).
        const n = i < a.length - 2 ? bytes.length : latentRows;
        expect(Buffer.from(b[i].subarray(0, n)).equals(Buffer.from(bytes.subarray(0, n))), `tensor ${i}`).toBe(true);
      });
      expect(saved.mla[1]!.cache.dtype).toBe(dtype === 'f16' ? 'f16' : 'f32');
    } finally {
      e.graph.releaseSequence(saved);
      e.graph.releaseSequence(restored);
      e.ctx.arena.free(t);
    }
  });

  it('a prefill cut off after a checkpoint resumes there and decodes the same tokens as an uninterrupted run', async () => {
    const e = engines[dtype];
    const dir = tempDir();
    const ids = randomPrompt(5 * piece + 11);
    const options = { maxTokens: 6, temperature: 0 } as const;
    const plain = await e.generate(ids, options);
    expect(plain.stats.resumedFromTokens).toBe(0);

    // Checkpoints every 48 tokens fall after the pieces ending at 64, 96 and 160; cut off right after the one at 96.
    const prefillCheckpoint = { dir, everyTokens: 48, modelId: 'tiny' };
    const abort = new AbortController();
    await expect(e.generate(ids, {
      ...options, prefillCheckpoint, signal: abort.signal,
      onPrefillProgress: (done) => { if (done >= 3 * piece) abort.abort(new Error('cut off')); },
    })).rejects.toThrow(/cut off/);
    const [folder] = readdirSync(dir);
    const manifest = JSON.parse(readFileSync(join(dir, folder, 'manifest.json'), 'utf8'));
    expect(manifest.pos).toBe(3 * piece);

    const resumed = await e.generate(ids, { ...options, prefillCheckpoint });
    expect(resumed.stats.resumedFromTokens).toBe(3 * piece);
    expect(resumed.stats.priorPrefillMs).toBeGreaterThan(0);
    expect(resumed.ids).toEqual(plain.ids);
    // Finished prefills drop their checkpoint.
    expect(existsSync(join(dir, folder))).toBe(false);
  });

  it('never resumes a checkpoint of another prompt, a torn manifest or a short latent file', async () => {
    const e = engines[dtype];
    const dir = tempDir();
    const ids = randomPrompt(4 * piece + 3);
    const options = { maxTokens: 4, temperature: 0 } as const;
    const keep = { dir, everyTokens: piece, modelId: 'tiny', keep: true };
    const plain = await e.generate(ids, { ...options, prefillCheckpoint: keep });
    const [folder] = readdirSync(dir);
    expect(JSON.parse(readFileSync(join(dir, folder, 'manifest.json'), 'utf8')).pos).toBe(4 * piece);

    // One id changed: another key, another folder; nothing to resume.
    const other = [...ids];
    other[5] = (other[5] + 1) % 96;
    expect((await e.generate(other, { ...options, prefillCheckpoint: { ...keep, keep: false } })).stats.resumedFromTokens).toBe(0);
    // Other weights (another model id) likewise.
    expect((await e.generate(ids, { ...options, prefillCheckpoint: { ...keep, modelId: 'other' } })).stats.resumedFromTokens).toBe(0);

    const latent = join(dir, folder, 'latent-L1.bin');
    truncateSync(latent, 10);
    const short = await e.generate(ids, { ...options, prefillCheckpoint: keep });
    expect(short.stats.checkpointSkipped).toMatch(/layer 1 latent file shorter than 128 rows/);
    expect(short.ids).toEqual(plain.ids);

    writeFileSync(join(dir, folder, 'manifest.json'), '{"format": "ctxbench-prefill');
    const torn = await e.generate(ids, { ...options, prefillCheckpoint: keep });
    expect(torn.stats.resumedFromTokens).toBe(0);
    expect(torn.stats.checkpointSkipped).toMatch(/unreadable manifest/);
    expect(torn.ids).toEqual(plain.ids);
  });

  it('refuses a checkpoint interval that is not a whole number of tokens', async () => {
    const e = engines[dtype];
    await expect(e.generate([1, 2, 3], { maxTokens: 1, temperature: 0, prefillCheckpoint: { dir: tempDir(), everyTokens: 0, modelId: 'x' } }))
      .rejects.toThrow(/every 0 tokens must be a whole number ≥ 1/);
  });
});

it('a checkpoint made by one device worker resumes on another: CTXBENCH_WORKER_* is not part of the key', async () => {
  const dir = tempDir();
  const ids = randomPrompt(2 * piece + 5);
  const keep = { dir, everyTokens: piece, modelId: 'tiny', keep: true };
  await engines.f32.generate(ids, { maxTokens: 2, temperature: 0, prefillCheckpoint: keep });
  const before = process.env.CTXBENCH_WORKER_DEVICE;
  process.env.CTXBENCH_WORKER_DEVICE = '7';
  let other: Engine | undefined;
  try {
    other = await Engine.load({ randomConfig: config, seed }, { pieceTokens: piece });
    expect((await other.generate(ids, { maxTokens: 2, temperature: 0, prefillCheckpoint: keep })).stats.resumedFromTokens).toBe(2 * piece);
  } finally {
    if (before === undefined) delete process.env.CTXBENCH_WORKER_DEVICE;
    else process.env.CTXBENCH_WORKER_DEVICE = before;
    await other?.close();
  }
});
