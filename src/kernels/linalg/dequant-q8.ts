// Wrapper for dequant-q8.wgsl: expands whole dim-0 entries of a q8 weight (rows of a matrix, or experts of a
// stack) into an f16 scratch so prefill reuses the f16 GEMMs (tensor cores on the H100).
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { numel, type GpuTensor } from '../../engine/gpu/arena.js';
import { elementwiseWorkgroupSize, requireDtype } from '../elementwise/shapes.js';
import { q8RowLayout, type Q8Block, type Q8Weight } from './q8-format.js';

const kernel = { name: 'linalg/dequant-q8', url: new URL('./dequant-q8.wgsl', import.meta.url) };

/**
 * out (f16, at least entries·rowsPerEntry·K values) = entries [first, first + entries) of block `b` of `w`,
 * entry indices relative to the block's start.
 */
export function makeDequantQ8(ctx: GpuContext, w: Q8Weight, b: Q8Block, first: number, entries: number, out: GpuTensor): DispatchSpec {
  requireDtype('dequant q8', out, 'f16');
  const K = w.shape[w.shape.length - 1];
  const rowsPerEntry = numel(w.shape.slice(1, -1));
  if (!Number.isInteger(first) || !Number.isInteger(entries) || first < 0 || entries < 1 || first + entries > b.count) {
    throw new Error(`dequant q8: entries [${first}, ${first + entries}) outside the ${b.count} of ${w.label}'s block at ${b.start}`);
  }
  const rows = entries * rowsPerEntry;
  if (numel(out.shape) < rows * K) throw new Error(`dequant q8: ${out.label} holds ${numel(out.shape)} values, ${rows * K} needed`);
  const { paddedK, scaleStride } = q8RowLayout(K);
  const wg = elementwiseWorkgroupSize(ctx);
  return ctx.dispatch({
    kernel,
    defines: { WG: wg },
    params: [rows, K, (b.entryOffset + first) * rowsPerEntry, paddedK, scaleStride, 0, 0, 0],
    bindings: [b.values, b.scales, out],
    workgroups: ctx.grid2d(Math.ceil(Math.ceil((rows * K) / 2) / wg)),
  });
}
