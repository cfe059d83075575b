// Wrapper for combine.wgsl: weighted sum of each token's expert rows (+ shared expert) added to the residual.
// slotPos null: the expert rows are in slot order (decode path, makeExpertGemv). shared 'slot': the shared
// expert's row follows each token's routed rows in expertOut (makeExpertGemv with a shared weight).
// slices > 1: each expert row is `slices` partial rows to sum first (makeExpertFfnFused; slot order only).
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { requireDtype } from '../elementwise/shapes.js';

const kernel = { name: 'moe/combine', url: new URL('./combine.wgsl', import.meta.url) };

export function makeMoeCombine(
  ctx: GpuContext, x: GpuTensor, expertOut: GpuTensor, weights: GpuTensor, slotPos: GpuTensor | null,
  tokens: number, topK: number, shared?: GpuTensor | 'slot', slices = 1,
): DispatchSpec {
  const sharedSlot = shared === 'slot';
  if (sharedSlot && slotPos) throw new Error('moe combine: the shared slot needs expert rows in slot order (slotPos null)');
  if (slices !== 1) return slicedCombine(ctx, x, expertOut, weights, slotPos, tokens, topK, shared, slices);
  if (sharedSlot && expertOut.shape[0] < tokens * (topK + 1)) throw new Error(`moe combine: ${expertOut.label} has fewer than ${tokens * (topK + 1)} rows`);
  const sharedOut = sharedSlot ? undefined : shared;
  const dim = x.shape[x.shape.length - 1];
  if (slotPos) requireDtype('moe combine', slotPos, 'u32');
  if (expertOut.shape[expertOut.shape.length - 1] !== dim) throw new Error(`moe combine: ${expertOut.label} width ≠ ${dim}`);
  if (weights.shape[0] < tokens * topK) throw new Error('moe combine: weights buffer too small');
  const wg = 64; // a 2304-wide decode row spreads over 36 workgroups
  return ctx.dispatch({
    kernel,
    defines: { WG: wg, SHARED: Boolean(sharedOut), SHARED_SLOT: sharedSlot, DIRECT: !slotPos, SHARED_BINDING: slotPos ? 5 : 4 },
    params: [tokens, dim, topK, 0],
    bindings: [x, expertOut, weights, ...(slotPos ? [slotPos] : []), ...(sharedOut ? [sharedOut] : [])],
    workgroups: ctx.grid2d(tokens * Math.ceil(dim / wg)),
  });
}

/** 16 columns of 4 floats × 16 row groups per workgroup: a 2304-wide token row spreads over 36 workgroups. */
const SLICED_COLUMNS = 16, SLICED_LANES_PER_COLUMN = 16;

function slicedCombine(
  ctx: GpuContext, x: GpuTensor, partials: GpuTensor, weights: GpuTensor, slotPos: GpuTensor | null,
  tokens: number, topK: number, shared: GpuTensor | 'slot' | undefined, slices: number,
): DispatchSpec {
  if (!Number.isInteger(slices) || slices < 1) throw new Error(`moe combine: slices must be a positive integer (got ${slices})`);
  if (slotPos || (shared && shared !== 'slot')) throw new Error('moe combine: sliced expert rows need slot order and the shared expert as a slot (or none)');
  const dim = x.shape[x.shape.length - 1];
  const rows = tokens * (shared ? topK + 1 : topK) * slices;
  if (dim % 4 !== 0) throw new Error(`moe combine: sliced rows need a width that is a multiple of 4 (got ${dim})`);
  if (partials.shape[partials.shape.length - 1] !== dim || partials.shape[0] < rows) throw new Error(`moe combine: ${partials.label} needs ${rows} rows of ${dim}`);
  if (weights.shape[0] < tokens * topK) throw new Error('moe combine: weights buffer too small');
  return ctx.dispatch({
    kernel,
    defines: {
      SLICED: true, SLICES: slices, COLUMNS: SLICED_COLUMNS, LANES_PER_COLUMN: SLICED_LANES_PER_COLUMN,
      SHARED: false, SHARED_SLOT: shared === 'slot', DIRECT: true, SHARED_BINDING: 4, WG: SLICED_COLUMNS * SLICED_LANES_PER_COLUMN,
    },
    params: [tokens, dim, topK, 0],
    bindings: [x, partials, weights],
    workgroups: [Math.ceil(dim / (4 * SLICED_COLUMNS)), tokens],
  });
}
