// Linears over q8 weights (linalg/q8-format.ts). One activation row: the q8 GEMV at bandwidth. More rows
// (prefill): each weight is expanded, a block of rows (or experts) at a time, into one f16 scratch shared by
// every q8 weight of the model, and the f16 GEMM paths run on that block (tensor cores where probed). The
// scratch is sized once (q8ScratchValues) so memory stays the q8 weights plus one bounded f16 block; dispatches
// run in order, so blocks reuse it safely within and across layers.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { numel, type GpuRowSplit, type GpuTensor } from '../../engine/gpu/arena.js';
import { makeDequantQ8 } from './dequant-q8.js';
import { makeGemvQ8 } from './gemv-q8.js';
import { makeGroupedLinear, makeLinear, type GroupedRows, type GemmTiles } from './matmul.js';
import type { Q8Weight } from './q8-format.js';

/** Default f16 scratch: 256 MiB holds 55 experts of the 48B shape or a 48B dense weight of up to 134 M values. */
export const Q8_SCRATCH_BYTES = 256 << 20;

/**
 * f16 values of the shared prefill scratch for these weights: the largest weight if smaller than the cap (or
 * the binding limit), else the cap, never below one dim-0 entry of the largest entry size.
 */
export function q8ScratchValues(ctx: GpuContext, weights: readonly Q8Weight[], capBytes = Q8_SCRATCH_BYTES): number {
  const cap = Math.floor(Math.min(capBytes, ctx.caps.maxBindingBytes) / 2);
  let values = 0;
  for (const w of weights) {
    const entry = numel(w.shape.slice(1));
    values = Math.max(values, Math.min(numel(w.shape), Math.max(entry, cap)));
  }
  return values;
}

/** Rows per scratch block of a dense q8 matrix: whole 256-row tiles where the matrix does not fit at once. */
function rowsPerBlock(N: number, K: number, scratchValues: number): number {
  if (N * K <= scratchValues) return N;
  const rows = Math.floor(scratchValues / K);
  return rows >= 256 ? rows - (rows % 256) : Math.max(1, rows);
}

function requireScratch(w: Q8Weight, scratch: GpuTensor | undefined, values: number): GpuTensor {
  if (!scratch) throw new Error(`linear q8: ${w.label} over several rows needs an f16 dequant scratch (q8ScratchValues)`);
  if (scratch.dtype !== 'f16' || numel(scratch.shape) < values) {
    throw new Error(`linear q8: scratch ${scratch.label} (${scratch.dtype} [${scratch.shape.join(', ')}]) holds fewer than ${values} f16 values`);
  }
  return scratch;
}

/** The scratch's first `values` halves viewed as an f16 tensor of `shape`. */
function scratchView(scratch: GpuTensor, shape: number[], label: string): GpuTensor {
  return { buffer: scratch.buffer, offset: scratch.offset, bytes: Math.ceil((numel(shape) * 2) / 4) * 4, shape, dtype: 'f16', label };
}

/** out[M, N] = x[M, K] · (q · s)ᵀ. */
export function makeLinearQ8(
  ctx: GpuContext, x: GpuTensor, w: Q8Weight, out: GpuTensor,
  opts: { xRowStride?: number; tiles?: GemmTiles; dequantScratch?: GpuTensor } = {},
): DispatchSpec[] {
  const [N, K] = w.shape;
  const M = x.shape.length === 1 ? 1 : x.shape[0];
  const xStride = opts.xRowStride ?? K;
  if (M === 1 && xStride === K) return makeGemvQ8(ctx, x, w, out);
  const specs: DispatchSpec[] = [];
  const rows = rowsPerBlock(N, K, opts.dequantScratch ? numel(opts.dequantScratch.shape) : N * K);
  const scratch = requireScratch(w, opts.dequantScratch, Math.min(N, rows) * K);
  for (const b of w.blocks) {
    for (let first = 0; first < b.count; first += rows) {
      const n = Math.min(rows, b.count - first);
      const part = scratchView(scratch, [n, K], `${w.label}[${b.start + first}:+${n}] f16`);
      specs.push(makeDequantQ8(ctx, w, b, first, n, part));
      const block: GpuRowSplit = { shape: [N, K], dtype: 'f16', parts: [part], rowStarts: [b.start + first], label: part.label };
      specs.push(...makeLinear(ctx, x, block, out, { xRowStride: opts.xRowStride, tiles: opts.tiles }));
    }
  }
  return specs;
}

/** The grouped (MoE prefill) form over q8 experts [E, N, K]: experts expanded a scratch-full at a time. */
export function makeGroupedLinearQ8(
  ctx: GpuContext, x: GpuTensor, w: Q8Weight, out: GpuTensor, grouped: GroupedRows, gather: boolean,
  scratch: GpuTensor | undefined, scalarTiles?: GemmTiles,
): DispatchSpec[] {
  const [E, N, K] = w.shape;
  const perExpert = N * K;
  const experts = Math.max(1, Math.min(E, Math.floor((scratch ? numel(scratch.shape) : 0) / perExpert)));
  const s = requireScratch(w, scratch, experts * perExpert);
  const specs: DispatchSpec[] = [];
  for (const b of w.blocks) {
    for (let first = 0; first < b.count; first += experts) {
      const n = Math.min(experts, b.count - first);
      const part = scratchView(s, [n, N, K], `${w.label}[${b.start + first}:+${n}] f16`);
      specs.push(makeDequantQ8(ctx, w, b, first, n, part));
      const block: GpuRowSplit = { shape: [E, N, K], dtype: 'f16', parts: [part], rowStarts: [b.start + first], label: part.label };
      specs.push(...makeGroupedLinear(ctx, x, block, out, grouped, gather, scalarTiles));
    }
  }
  return specs;
}
