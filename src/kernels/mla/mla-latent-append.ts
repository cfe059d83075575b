// Wrapper for mla-latent-append.wgsl: writes new tokens' [normed c | k_pe] rows into the latent cache.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { f32 } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { numel } from '../../engine/gpu/arena.js';
import { requireF32Elements, requirePositiveInts, resolveRows, type RowView } from '../kda/row-view.js';

const kernel = { name: 'mla/mla-latent-append', url: new URL('./mla-latent-append.wgsl', import.meta.url) };

export interface MlaLatentAppendArgs {
  /** kv_a_proj_with_mqa output [T, R + Dr]. */
  kva: GpuTensor | RowView;
  /** kv_a_layernorm.weight [R]. */
  weight: GpuTensor;
  /**
   * Latent cache, rows pos .. pos+T-1 written: f32 [capacity, R + Dr], or f16 [capacity, latentRowHalves(R + Dr)]
   * (halves packed in pairs; rows padded to an even width so each starts on a word).
   */
  cache: GpuTensor;
  /** Index of the first new token in the sequence (ignored when seqLen is given). */
  pos: number;
  /**
   * Optional u32 [1] GPU counter holding the sequence length including these T tokens: rows are written at
   * seqLen − T, so a recorded decode list can be replayed after the host bumps the counter (writeBuffer).
   */
  seqLen?: GpuTensor;
  T: number;
  R: number;
  Dr: number;
  /** kv_a_layernorm eps (1e-6 in transformers). */
  eps: number;
}

export function mlaLatentAppend(ctx: GpuContext, a: MlaLatentAppendArgs): DispatchSpec {
  const name = 'mlaLatentAppend';
  requirePositiveInts(name, { T: a.T, R: a.R });
  if (!Number.isInteger(a.pos) || a.pos < 0) throw new Error(`${name}: pos must be a whole number ≥ 0 (got ${a.pos})`);
  if (!Number.isInteger(a.Dr) || a.Dr < 0) throw new Error(`${name}: Dr must be a whole number ≥ 0 (got ${a.Dr})`);
  if (!(a.eps > 0)) throw new Error(`${name}: eps must be > 0`);
  const kva = resolveRows(name, 'kva', a.kva, a.T, a.R + a.Dr);
  requireF32Elements(name, 'weight', a.weight, a.R);
  const capacity = latentCacheRows(name, a.cache, a.R + a.Dr);
  if (a.seqLen && (a.seqLen.dtype !== 'u32' || numel(a.seqLen.shape) < 1)) throw new Error(`${name}: seqLen must be a u32 tensor`);
  if (!a.seqLen && a.pos + a.T > capacity) throw new Error(`${name}: tokens ${a.pos}..${a.pos + a.T - 1} exceed the cache capacity ${capacity}`);
  const cap = Math.min(ctx.caps.maxInvocationsPerWorkgroup, ctx.caps.maxWorkgroupSizeX, 256);
  let wg = ctx.caps.subgroupSize;
  while (wg * 2 <= cap && wg < a.R) wg *= 2;
  return ctx.dispatch({
    kernel,
    defines: { R: a.R, DR: a.Dr, WG: wg, SEQ_LEN: Boolean(a.seqLen), F16: a.cache.dtype === 'f16' },
    params: [a.T, a.seqLen ? 0 : a.pos, f32(a.eps), kva.offset, kva.rowStride, capacity],
    bindings: a.seqLen ? [kva.tensor, a.weight, a.cache, a.seqLen] : [kva.tensor, a.weight, a.cache],
    workgroups: ctx.grid2d(a.T),
  });
}

/** Halves per f16 latent-cache row: the row width rounded up to even, so rows never share a word. */
export function latentRowHalves(DC: number): number {
  return DC + (DC % 2);
}

/** Rows a latent cache holds (f32 rows of DC, or f16 rows of latentRowHalves(DC)); other dtypes are refused. */
export function latentCacheRows(kernel: string, cache: GpuTensor, DC: number): number {
  if (cache.dtype === 'f32') return Math.floor(numel(cache.shape) / DC);
  if (cache.dtype === 'f16') return Math.floor(numel(cache.shape) / latentRowHalves(DC));
  throw new Error(`${kernel}: latent cache ${cache.label} is ${cache.dtype}, expected f32 or f16`);
}
