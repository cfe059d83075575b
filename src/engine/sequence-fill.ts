// Seeded random sequence state for decode-at-context speed runs: a decode step's cost depends on how long the
// caches are, not on what they hold, so filling them on the GPU stands in for an hours-long prefill when only
// TPOT and memory at N tokens are wanted. Such runs are labelled "random state, no prefill", never prefill results.
import type { DispatchSpec, GpuContext } from './gpu/context.js';
import { rowsView } from './gpu/arena.js';
import type { SequenceState } from './models/kimi-linear.js';
import { makeRandomFill } from '../kernels/elementwise/random-fill.js';

/**
 * Value ranges near what a prefill leaves behind, so the softmax and the recurrence stay finite:
 * - latent rows: the first R values are kv_a_layernorm outputs (RMS ≈ 1) and the Dr rope values are raw kv_a
 *   outputs of an RMS-normed input (variance ≈ 1), so U(±√3) (variance 1) for the whole row;
 * - conv caches hold q/k/v projection outputs of the last K−1 tokens: also U(±√3);
 * - KDA states sum β·k·vᵀ of L2-normed keys under decay: entries well below 1, U(±0.5).
 */
const LATENT_SCALE = Math.sqrt(3);
const CONV_SCALE = Math.sqrt(3);
const STATE_SCALE = 0.5;

/** Dispatches filling the first `tokens` latent rows of every MLA layer and every KDA state / conv cache. */
export function randomSequenceFill(ctx: GpuContext, seq: SequenceState, tokens: number, seed: number): DispatchSpec[] {
  if (!Number.isInteger(tokens) || tokens < 0 || tokens > seq.capacity) {
    throw new Error(`randomSequenceFill: ${tokens} tokens outside 0..${seq.capacity} (the sequence capacity)`);
  }
  const specs: DispatchSpec[] = [];
  // One independent stream per tensor: the layer index and the tensor's role pick the seed.
  const stream = (layer: number, role: number) => (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(layer * 8 + role + 1, 0x85ebca6b)) >>> 0;
  seq.kda.forEach((kda, i) => {
    if (!kda) return;
    specs.push(makeRandomFill(ctx, kda.state, { seed: stream(i, 0), scale: STATE_SCALE }));
    [kda.convQ, kda.convK, kda.convV].forEach((cache, j) => specs.push(makeRandomFill(ctx, cache, { seed: stream(i, 1 + j), scale: CONV_SCALE })));
  });
  if (tokens > 0) {
    seq.mla.forEach((mla, i) => {
      if (mla) specs.push(makeRandomFill(ctx, rowsView(mla.cache, tokens), { seed: stream(i, 4), scale: LATENT_SCALE }));
    });
  }
  return specs;
}
