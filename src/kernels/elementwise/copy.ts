// Wrapper for copy.wgsl: dst[dstOffset + r·dstStride + i] = src[srcOffset + r·srcStride + i], i < n, r < rows.
// When every count, offset and stride is a multiple of 4 values and both bindings start 16-byte aligned, the
// kernel moves 16-byte vectors (4 per thread by default), the shape a memory-bound copy needs.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { numel, type GpuTensor } from '../../engine/gpu/arena.js';
import { elementwiseWorkgroupSize, requireDtype } from './shapes.js';

const kernel = { name: 'elementwise/copy', url: new URL('./copy.wgsl', import.meta.url) };

export interface CopyRows { rows?: number; srcOffset?: number; dstOffset?: number; srcStride?: number; dstStride?: number }

/** 16-byte vectors each thread loads before storing (vector path); benches try others. */
export const COPY_VECTORS_PER_THREAD = 4;

export function makeCopy(
  ctx: GpuContext, src: GpuTensor, dst: GpuTensor, n: number, srcOffsetOrRows: number | CopyRows = 0, dstOffset = 0,
  vectorsPerThread = COPY_VECTORS_PER_THREAD,
): DispatchSpec {
  const o: CopyRows = typeof srcOffsetOrRows === 'number' ? { srcOffset: srcOffsetOrRows, dstOffset } : srcOffsetOrRows;
  const rows = o.rows ?? 1, so = o.srcOffset ?? 0, doff = o.dstOffset ?? 0, ss = o.srcStride ?? n, ds = o.dstStride ?? n;
  requireDtype('copy', src, 'f32');
  requireDtype('copy', dst, 'f32');
  if (![n, rows, so, doff, ss, ds].every((v) => Number.isInteger(v) && v >= 0) || n === 0 || rows === 0) {
    throw new Error(`copy: counts, offsets and strides must be non-negative integers, n and rows positive`);
  }
  if (!Number.isInteger(vectorsPerThread) || vectorsPerThread < 1 || vectorsPerThread > 16) {
    throw new Error(`copy: vectors per thread must be an integer in 1..16 (got ${vectorsPerThread})`);
  }
  if (so + (rows - 1) * ss + n > numel(src.shape) || doff + (rows - 1) * ds + n > numel(dst.shape)) {
    throw new Error(`copy: ${rows} rows of ${n} values overrun ${src.label} or ${dst.label}`);
  }
  if (src.buffer === dst.buffer) throw new Error('copy: src and dst must be different buffers');
  if (rows > ctx.caps.maxWorkgroupsPerDimension) throw new Error(`copy: ${rows} rows exceed one dispatch`);
  const vec4 = [n, so, doff, ss, ds].every((v) => v % 4 === 0) && src.offset % 16 === 0 && dst.offset % 16 === 0;
  const unit = vec4 ? 4 : 1;
  const per = vec4 ? vectorsPerThread : 1;
  const wg = elementwiseWorkgroupSize(ctx);
  const blocks = Math.ceil(n / unit / (wg * per));
  if (blocks > ctx.caps.maxWorkgroupsPerDimension) throw new Error(`copy: rows of ${n} values exceed one dispatch; split them into more rows`);
  return ctx.dispatch({
    kernel, defines: { WG: wg, PER: per, VEC4: vec4 }, params: [n / unit, rows, so / unit, doff / unit, ss / unit, ds / unit, 0, 0],
    bindings: [src, dst], workgroups: [blocks, rows],
  });
}

/** Scalar reference of makeCopy on plain arrays (dst is changed in place and returned). */
export function copyReference(src: ArrayLike<number>, dst: Float32Array, n: number, o: CopyRows = {}): Float32Array {
  const rows = o.rows ?? 1, so = o.srcOffset ?? 0, doff = o.dstOffset ?? 0, ss = o.srcStride ?? n, ds = o.dstStride ?? n;
  for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) dst[doff + r * ds + i] = src[so + r * ss + i];
  return dst;
}
