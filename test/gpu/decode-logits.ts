// Shared by the engine tests: prefill(N) in the engine's pieces, then one decode step per remaining id.
import type { Engine } from '../../src/engine/engine.js';

/** Logits (first `vocab` entries) of each decoded position N .. ids.length − 1. */
export async function decodeLogits(e: Engine, ids: number[], N: number, vocab: number): Promise<Float32Array[]> {
  const seq = e.newSequence(ids.length);
  const t = e.ctx.tensor([ids.length], 'u32', 'ids', ids);
  for (let at = 0; at < N; at += e.graph.pieceTokens) e.ctx.run(e.graph.forward(seq, t, at, Math.min(e.graph.pieceTokens, N - at)));
  const rows: Float32Array[] = [];
  for (let p = N; p < ids.length; p++) {
    e.ctx.run(e.graph.forward(seq, t, p, 1));
    rows.push((await e.ctx.readF32(e.graph.logits)).slice(0, vocab));
  }
  e.graph.releaseSequence(seq);
  return rows;
}
