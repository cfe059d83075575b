// Wrapper for combine.wgsl: weighted sum of each token's expert rows (+ shared expert) added to the residual.
// slotPos null: the expert rows are in slot order (decode path, makeExpertGemv). shared 'slot': the shared
// expert's row follows each token's routed rows in expertOut (makeExpertGemv with a shared weight). residual:
// x becomes (x + residual) + the sum, the residual add a folded post-attention norm left to the combine.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { requireDtype } from '../elementwise/shapes.js';

const kernel = { name: 'moe/combine', url: new URL('./combine.wgsl', import.meta.url) };

export function makeMoeCombine(
  ctx: GpuContext, x: GpuTensor, expertOut: GpuTensor, weights: GpuTensor, slotPos: GpuTensor | null,
  tokens: number, topK: number, shared?: GpuTensor | 'slot', residual?: GpuTensor,
): DispatchSpec {
  const sharedSlot = shared === 'slot';
  if (sharedSlot && slotPos) throw new Error('moe combine: the shared slot needs expert rows in slot order (slotPos null)');
  if (sharedSlot && expertOut.shape[0] < tokens * (topK + 1)) throw new Error(`moe combine: ${expertOut.label} has fewer than ${tokens * (topK + 1)} rows`);
  const sharedOut = sharedSlot ? undefined : shared;
  const dim = x.shape[x.shape.length - 1];
  if (slotPos) requireDtype('moe combine', slotPos, 'u32');
  if (expertOut.shape[expertOut.shape.length - 1] !== dim) throw new Error(`moe combine: ${expertOut.label} width ≠ ${dim}`);
  if (weights.shape[0] < tokens * topK) throw new Error('moe combine: weights buffer too small');
  if (residual && (residual.shape.join() !== x.shape.join() || residual.buffer === x.buffer)) {
    throw new Error(`moe combine: residual ${residual.label} must be shaped as x and apart from it`);
  }
  const sharedBinding = slotPos ? 5 : 4;
  const wg = 64; // a 2304-wide decode row spreads over 36 workgroups
  return ctx.dispatch({
    kernel,
    defines: {
      WG: wg, SHARED: Boolean(sharedOut), SHARED_SLOT: sharedSlot, DIRECT: !slotPos, SHARED_BINDING: sharedBinding,
      RESIDUAL: Boolean(residual), RESIDUAL_BINDING: sharedBinding + (sharedOut ? 1 : 0),
    },
    params: [tokens, dim, topK, 0],
    bindings: [x, expertOut, weights, ...(slotPos ? [slotPos] : []), ...(sharedOut ? [sharedOut] : []), ...(residual ? [residual] : [])],
    workgroups: ctx.grid2d(tokens * Math.ceil(dim / wg)),
  });
}
