// Wrapper for mla-latent-unpack.wgsl: f16 latent-cache rows → dense f32 rows (what makeLinear and the f32
// k_pe views of the prefill paths read).
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { elementwiseWorkgroupSize } from '../elementwise/shapes.js';
import { requireF32Elements, requirePositiveInts } from '../kda/row-view.js';
import { latentCacheRows } from './mla-latent-append.js';

const kernel = { name: 'mla/mla-latent-unpack', url: new URL('./mla-latent-unpack.wgsl', import.meta.url) };

export interface MlaLatentUnpackArgs {
  /** f16 latent cache as mlaLatentAppend writes it. */
  cache: GpuTensor;
  /** First cache row to widen. */
  row0: number;
  T: number;
  /** Row width R + Dr. */
  DC: number;
  /** Dense f32 [T, DC]. */
  out: GpuTensor;
}

export function mlaLatentUnpack(ctx: GpuContext, a: MlaLatentUnpackArgs): DispatchSpec {
  const name = 'mlaLatentUnpack';
  requirePositiveInts(name, { T: a.T, DC: a.DC });
  if (!Number.isInteger(a.row0) || a.row0 < 0) throw new Error(`${name}: row0 must be a whole number ≥ 0 (got ${a.row0})`);
  if (a.cache.dtype !== 'f16') throw new Error(`${name}: cache ${a.cache.label} is ${a.cache.dtype}, expected f16`);
  const rows = latentCacheRows(name, a.cache, a.DC);
  if (a.row0 + a.T > rows) throw new Error(`${name}: rows ${a.row0}..${a.row0 + a.T - 1} exceed the cache's ${rows}`);
  requireF32Elements(name, 'out', a.out, a.T * a.DC);
  const wg = elementwiseWorkgroupSize(ctx);
  return ctx.dispatch({
    kernel,
    defines: { DC: a.DC, WG: wg },
    params: [a.T, a.row0],
    bindings: [a.cache, a.out],
    workgroups: ctx.grid2d(Math.ceil(a.T * a.DC / wg)),
  });
}
