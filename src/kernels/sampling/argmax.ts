// Wrapper for argmax.wgsl: greedy token from one logits row, written into a GPU token buffer, in two dispatches
// (per-block candidates, then the pick) so a large vocabulary is read by many workgroups at once.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { numel, type GpuTensor } from '../../engine/gpu/arena.js';
import { requireDtype } from '../elementwise/shapes.js';

const kernel = { name: 'sampling/argmax', url: new URL('./argmax.wgsl', import.meta.url) };
const WG = 256;
/** Logits per candidate block: 4 loads per lane. */
const BLOCK = 4 * WG;

/** u32 words of candidate scratch makeArgmax needs for a vocabulary (one per block). */
export function argmaxScratchWords(vocab: number): number {
  return Math.ceil(vocab / BLOCK);
}

/**
 * With `seqLen` (u32 [1] GPU counter) the token goes to tokens[seqLen + outIndex] (replayed decode lists).
 * `scratch`: u32 [≥ argmaxScratchWords(vocab)], reused by every call.
 */
export function makeArgmax(ctx: GpuContext, logits: GpuTensor, tokens: GpuTensor, scratch: GpuTensor, row = 0, outIndex = 0, seqLen?: GpuTensor): DispatchSpec[] {
  const vocab = logits.shape[logits.shape.length - 1];
  requireDtype('argmax', logits, 'f32');
  requireDtype('argmax', tokens, 'u32');
  requireDtype('argmax', scratch, 'u32');
  const blocks = argmaxScratchWords(vocab);
  if (numel(scratch.shape) < blocks) throw new Error(`argmax: ${scratch.label} holds fewer than ${blocks} candidates`);
  if (!seqLen && outIndex >= tokens.shape[0]) throw new Error(`argmax: out index ${outIndex} outside ${tokens.label}`);
  const params = [vocab, row, outIndex, blocks];
  return [
    ctx.dispatch({ kernel, pass: 'blocks', defines: { WG, BLOCK, PARTIAL: true, SEQ_LEN: false }, params, bindings: [logits, scratch], workgroups: [blocks] }),
    ctx.dispatch({
      kernel, pass: 'pick', defines: { WG, BLOCK, PARTIAL: false, SEQ_LEN: Boolean(seqLen) }, params,
      bindings: seqLen ? [logits, scratch, tokens, seqLen] : [logits, scratch, tokens], workgroups: [1],
    }),
  ];
}

export function argmaxReference(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}
