// Wrapper for rmsnorm.wgsl: one workgroup per row (grid folded past 65535 rows).
import { f32, type DispatchSpec, type GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { requireDtype, requireShape } from '../elementwise/shapes.js';

const kernel = { name: 'norm/rmsnorm', url: new URL('./rmsnorm.wgsl', import.meta.url) };

/** Power-of-two workgroup for the tree reduction, a few subgroups wide and no wider than the row needs. */
export function reductionWorkgroup(ctx: GpuContext, width: number): number {
  const cap = Math.min(256, ctx.caps.maxInvocationsPerWorkgroup, Math.max(ctx.caps.subgroupSize, width));
  let wg = 1;
  while (wg * 2 <= cap) wg *= 2;
  return wg;
}

/**
 * Loads each of `lanes` invocations takes over `items` when a kernel writes them out, all issued before the
 * first use (rmsnorm.wgsl PER, gemv.wgsl STEPS), or 0 for the kernel's strided loop past 16 per invocation.
 */
export function writtenOutLoads(items: number, lanes: number): number {
  const per = Math.ceil(items / lanes);
  return per <= 16 ? per : 0;
}

/** Subgroup sums where every subgroup of a workgroup has one size (the slot index is li / size). */
function normSubgroups(ctx: GpuContext): boolean {
  return ctx.caps.hasSubgroups && ctx.caps.subgroupMinSize === ctx.caps.subgroupSize;
}

function normDefines(ctx: GpuContext, dim: number, residual: boolean) {
  const wg = reductionWorkgroup(ctx, dim);
  return { WG: wg, PER: writtenOutLoads(dim, wg), RESIDUAL: residual, SUBGROUPS: normSubgroups(ctx) };
}

export function makeRmsNorm(ctx: GpuContext, x: GpuTensor, weight: GpuTensor, out: GpuTensor, eps: number): DispatchSpec {
  const dim = x.shape[x.shape.length - 1];
  const rows = x.shape.length === 1 ? 1 : x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  requireDtype('rmsnorm', x, 'f32');
  requireDtype('rmsnorm', weight, 'f32');
  requireShape('rmsnorm', weight, [dim]);
  requireShape('rmsnorm', out, x.shape);
  if (x.buffer === out.buffer) throw new Error('rmsnorm: out must not alias x');
  return ctx.dispatch({
    kernel,
    defines: normDefines(ctx, dim, false),
    params: [rows, dim, f32(eps), 0],
    bindings: [x, weight, out],
    workgroups: ctx.grid2d(rows),
  });
}

/**
 * x += residual, then out = rmsnorm(x) ⊙ weight: one dispatch for a residual update followed by the next norm of
 * the same rows, numbers equal to makeAdd then makeRmsNorm (same f32 add, same reduction order).
 */
export function makeAddRmsNorm(ctx: GpuContext, x: GpuTensor, residual: GpuTensor, weight: GpuTensor, out: GpuTensor, eps: number): DispatchSpec {
  const dim = x.shape[x.shape.length - 1];
  const rows = x.shape.length === 1 ? 1 : x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  for (const t of [x, residual, weight, out]) requireDtype('addRmsNorm', t, 'f32');
  requireShape('addRmsNorm', weight, [dim]);
  requireShape('addRmsNorm', residual, x.shape);
  requireShape('addRmsNorm', out, x.shape);
  if (new Set([x.buffer, residual.buffer, out.buffer]).size !== 3) throw new Error('addRmsNorm: x, residual and out must be three different buffers');
  if (weight.buffer === x.buffer || weight.buffer === out.buffer) throw new Error('addRmsNorm: weight must not alias x or out');
  return ctx.dispatch({
    kernel,
    defines: normDefines(ctx, dim, true),
    params: [rows, dim, f32(eps), 0],
    bindings: [x, residual, weight, out],
    workgroups: ctx.grid2d(rows),
  });
}

export function rmsNormReference(x: ArrayLike<number>, weight: ArrayLike<number>, rows: number, dim: number, eps: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[r * dim + i] = x[r * dim + i] * inv * weight[i];
  }
  return out;
}
