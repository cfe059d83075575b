// Wrapper for random-fill-q8.wgsl: seeded uniform q8 weights generated on the GPU (random-weight speed runs at
// the 48B shape), scale chosen so the values span [-scale·127, scale·127] like the f32 'linear' init.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { numel } from '../../engine/gpu/arena.js';
import { makeRandomFill } from '../elementwise/random-fill.js';
import { elementwiseWorkgroupSize } from '../elementwise/shapes.js';
import type { Q8Weight } from './q8-format.js';

const kernel = { name: 'linalg/random-fill-q8', url: new URL('./random-fill-q8.wgsl', import.meta.url) };

/** Random int8 values (padding included: speed runs only) and every scale = range / 127. */
export function makeRandomFillQ8(ctx: GpuContext, w: Q8Weight, seed: number, range: number): DispatchSpec[] {
  if (!(range > 0) || !Number.isFinite(range)) throw new Error(`random fill q8: range must be a positive number (got ${range})`);
  const wg = elementwiseWorkgroupSize(ctx);
  return w.blocks.flatMap((b, i) => {
    const words = numel(b.values.shape);
    return [
      ctx.dispatch({
        kernel,
        defines: { WG: wg },
        params: [words, (seed + 7919 * i) >>> 0, 0, 0],
        bindings: [b.values],
        workgroups: ctx.grid2d(Math.ceil(words / wg)),
      }),
      makeRandomFill(ctx, b.scales, { seed: 0, scale: 0, offset: range / 127 }),
    ];
  });
}
