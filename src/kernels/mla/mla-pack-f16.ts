// Wrapper for mla-pack-f16.wgsl: strided f32 q / k_nope / k_pe / v views → dense f16 rows for the tensor-core
// flash prefill (mla-flash-prefill-f16), with zeroed pad rows up to the kernel's block size.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { numel, type GpuTensor } from '../../engine/gpu/arena.js';
import { elementwiseWorkgroupSize } from '../elementwise/shapes.js';
import { requirePositiveInts } from '../kda/row-view.js';
import { resolveHeads, type HeadView } from './head-view.js';

const kernel = { name: 'mla/mla-pack-f16', url: new URL('./mla-pack-f16.wgsl', import.meta.url) };

export interface MlaPackF16Args {
  /** f32 source [T, H, D], dense or a view (headStride 0 shares one row across heads, e.g. k_pe). */
  src: GpuTensor | HeadView;
  /** f16 destination, dense [rows ≥ dstRow + T + padRows, H, D]. */
  dst: GpuTensor;
  T: number;
  H: number;
  D: number;
  /** First destination row (the sequence position when appending to a key cache); default 0. */
  dstRow?: number;
  /** Zero rows written after the T packed ones; default 0. */
  padRows?: number;
}

export function mlaPackF16(ctx: GpuContext, a: MlaPackF16Args): DispatchSpec {
  const name = 'mlaPackF16';
  requirePositiveInts(name, { T: a.T, H: a.H, D: a.D });
  const dstRow = a.dstRow ?? 0, padRows = a.padRows ?? 0;
  if (!Number.isInteger(dstRow) || dstRow < 0 || !Number.isInteger(padRows) || padRows < 0) {
    throw new Error(`${name}: dstRow and padRows must be whole numbers ≥ 0 (got ${dstRow}, ${padRows})`);
  }
  if (a.D % 2 !== 0) throw new Error(`${name}: D must be even to pack halves in pairs (got ${a.D})`);
  if (a.dst.dtype !== 'f16') throw new Error(`${name}: dst (${a.dst.label}) is ${a.dst.dtype}, expected f16`);
  const rows = dstRow + a.T + padRows;
  if (numel(a.dst.shape) < rows * a.H * a.D) {
    throw new Error(`${name}: dst (${a.dst.label}) holds ${numel(a.dst.shape)} halves, rows up to ${rows} need ${rows * a.H * a.D}`);
  }
  const src = resolveHeads(name, 'src', a.src, a.T, a.H, a.D);
  const wg = elementwiseWorkgroupSize(ctx);
  const words = (a.T + padRows) * a.H * a.D / 2;
  return ctx.dispatch({
    kernel,
    defines: { WG: wg },
    params: [a.T, a.H, a.D / 2, padRows, src.offset, src.tokenStride, src.headStride, dstRow],
    bindings: [src.tensor, a.dst],
    workgroups: ctx.grid2d(Math.ceil(words / wg)),
  });
}
