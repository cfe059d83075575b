// Wrapper for top-p.wgsl: temperature + nucleus sampling on the GPU from a per-step uniform draw buffer.
import { f32, type DispatchSpec, type GpuContext } from '../../engine/gpu/context.js';
import { numel, type GpuTensor } from '../../engine/gpu/arena.js';
import { requireDtype } from '../elementwise/shapes.js';
import { reductionWorkgroup } from '../norm/rmsnorm.js';

const kernel = { name: 'sampling/top-p', url: new URL('./top-p.wgsl', import.meta.url) };

export interface TopPOptions { temperature: number; topP: number }

/** Candidates the fast path holds (tokens with p ≥ τc); more than this and every bisection step reads the vocabulary. */
const CANDIDATES = 8192;

/** u32 words of candidate scratch makeTopPSample needs: a (p bits, id) pair per candidate. */
export const TOP_P_SCRATCH_WORDS = 2 * CANDIDATES;

/** `scratch`: u32 [≥ TOP_P_SCRATCH_WORDS], reused by every call. */
export function makeTopPSample(
  ctx: GpuContext, logits: GpuTensor, uniformDraw: GpuTensor, tokens: GpuTensor, scratch: GpuTensor, opts: TopPOptions, row = 0, outIndex = 0,
  seqLen?: GpuTensor, candidates = CANDIDATES,
): DispatchSpec {
  const vocab = logits.shape[logits.shape.length - 1];
  if (!(opts.temperature > 0)) throw new Error(`top-p sampling needs temperature > 0 (got ${opts.temperature}); use argmax`);
  if (!(opts.topP > 0 && opts.topP <= 1)) throw new Error(`top_p must be in (0, 1], got ${opts.topP}`);
  requireDtype('top-p', logits, 'f32');
  requireDtype('top-p', uniformDraw, 'f32');
  requireDtype('top-p', tokens, 'u32');
  requireDtype('top-p', scratch, 'u32');
  if (!(Number.isInteger(candidates) && candidates >= 0 && 2 * candidates <= numel(scratch.shape))) {
    throw new Error(`top-p: ${scratch.label} holds fewer than ${candidates} candidate pairs`);
  }
  return ctx.dispatch({
    kernel,
    // candidates < CANDIDATES only in tests (0 forces the whole-vocabulary bisection).
    defines: { WG: reductionWorkgroup(ctx, 1024), SEQ_LEN: Boolean(seqLen), CAP: candidates },
    params: [vocab, row, outIndex, 0, f32(1 / opts.temperature), f32(opts.topP), 0, 0],
    bindings: seqLen ? [logits, uniformDraw, tokens, scratch, seqLen] : [logits, uniformDraw, tokens, scratch],
    workgroups: [1],
  });
}

/** Reference nucleus: probabilities (unnormalised, max = 1) and the smallest top set reaching top_p. */
export function topPReference(logits: ArrayLike<number>, opts: TopPOptions): { p: Float64Array; nucleus: Set<number>; mass: number } {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) m = Math.max(m, logits[i]);
  const p = Float64Array.from(logits, (l) => Math.exp((l - m) / opts.temperature));
  const total = p.reduce((a, b) => a + b, 0);
  const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a]);
  const nucleus = new Set<number>();
  let mass = 0;
  for (const i of order) {
    if (mass >= opts.topP * total) break;
    nucleus.add(i);
    mass += p[i];
  }
  return { p, nucleus, mass };
}
