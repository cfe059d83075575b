// Shared by the fusion tests: an engine loaded under temporary environment switches, and a prompt replayed as
// prefill pieces followed by recorded decode steps (teacher-forced), every logits row read back.
import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import { tinyConfig } from '../gpu/tiny-config.js';

/** Loads the tiny random hybrid (or `config`) with `env` set only while loading (undefined deletes a variable). */
export async function loadTinyWith(env: Record<string, string | undefined>, seed: number, opts: EngineOptions, config = tinyConfig()): Promise<Engine> {
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const apply = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(env);
  try {
    return await Engine.load({ randomConfig: config, seed }, opts);
  } finally {
    apply(before);
  }
}

/** The same seeded tiny engine with `switchName` unset (on) and set to 'off', both kept in `keep` for closing. */
export async function loadOnAndOff(switchName: string, seed: number, opts: EngineOptions, keep: Engine[], config = tinyConfig()): Promise<[Engine, Engine]> {
  const on = await loadTinyWith({ [switchName]: undefined }, seed, opts, config);
  keep.push(on);
  const off = await loadTinyWith({ [switchName]: 'off' }, seed, opts, config);
  keep.push(off);
  return [on, off];
}

/**
 * Prefill pieces of `pieces` tokens, then the recorded decode step replayed for the rest of `prompt`. Returns the
 * step's dispatch count and the logits rows (the first `vocab` of each; prefill rows only with `prefillLogits`).
 */
export async function prefillThenDecode(e: Engine, prompt: number[], pieces: number[], vocab: number, prefillLogits = true):
  Promise<{ dispatches: number; logits: Float32Array[] }> {
  const seq = e.newSequence(prompt.length);
  const ids = e.ctx.tensor([prompt.length], 'u32', 'ids', prompt);
  const seqLen = e.ctx.tensor([1], 'u32', 'seq-len');
  const logits: Float32Array[] = [];
  try {
    let at = 0;
    for (const T of pieces) {
      e.ctx.run(e.graph.forward(seq, ids, at, T));
      if (prefillLogits) logits.push((await e.ctx.readF32(e.graph.logits)).slice(0, T * vocab));
      at += T;
    }
    const step = e.graph.recordDecodeStep(seq, ids, seqLen);
    for (; at < prompt.length; at++) {
      e.ctx.upload(seqLen, [at + 1]);
      e.ctx.run(step);
      seq.pos += 1;
      logits.push((await e.ctx.readF32(e.graph.logits)).slice(0, vocab));
    }
    return { dispatches: step.length, logits };
  } finally {
    e.graph.releaseSequence(seq);
    e.ctx.arena.free(ids);
    e.ctx.arena.free(seqLen);
  }
}
