// The q8 weight format: symmetric int8 per group of Q8_GROUP consecutive K elements of each row, one f16 scale
// per group (w ≈ q · s, s = max|w| / 127 rounded up to f16, q = round(w / s) ∈ [-127, 127]). Values sit 4 per
// u32 in rows padded to whole groups (Kp bytes, a multiple of 16: every row starts on a 16-byte vector); scales
// are f16 packed 2 per u32, row-major [rows, scaleStride] with scaleStride = groups rounded up to even, so every
// row's scales start on a word (rows upload independently; the 48B shapes have even group counts anyway).
//
// Why 32 and f16: a group of 32 with an f16 scale costs 34 bytes per 32 weights (1.0625 B/weight); the 48B
// shape's 49.4 G weights then take 52.5 GB (an H100's 80 GB holds them with room for a 1M-token latent cache),
// group 64 with an f32 scale costs the same bytes but doubles the span one outlier coarsens, and group 32 with
// an f32 scale costs 6% more decode bytes for no accuracy a f16 scale rounded up does not already give (its
// relative error 2^-11 is 8× below the int8 step 1/254). Quantisation runs on the CPU at load time.
import type { GpuContext } from '../../engine/gpu/context.js';
import { numel, type GpuTensor } from '../../engine/gpu/arena.js';
import { f16BitsToF32, f32ToF16Bits } from '../../engine/gpu/half.js';
import { linearReference } from './matmul.js';

export const Q8_GROUP = 32;

/** One binding's worth of a q8 weight: `count` entries of dim 0 starting at `start`, at `entryOffset` in the binding. */
export interface Q8Block {
  /** u32 [entries · rowsPerEntry, Kp / 4]: 4 int8 per word. */
  values: GpuTensor;
  /** f16 [entries · rowsPerEntry, scaleStride] (packed halves). */
  scales: GpuTensor;
  /** Index along dim 0 of the whole weight where this block starts. */
  start: number;
  count: number;
  /** Dim-0 entries before this weight inside the binding (a member of a fused stack starts past 0). */
  entryOffset: number;
}

/** A quantised matmul weight [N, K] or stacked experts [E, N, K]; blocks split dim 0 over bindings. */
export interface Q8Weight {
  readonly dtype: 'q8';
  readonly shape: readonly number[];
  readonly label: string;
  readonly blocks: readonly Q8Block[];
}

export function isQ8(w: { dtype: string }): w is Q8Weight {
  return w.dtype === 'q8';
}

/** Groups per row and the padded row length in bytes. */
export function q8RowLayout(K: number): { groups: number; paddedK: number; scaleStride: number } {
  const groups = Math.ceil(K / Q8_GROUP);
  return { groups, paddedK: groups * Q8_GROUP, scaleStride: groups + (groups % 2) };
}

/** Bytes one weight of K columns and `rows` rows takes on the GPU (values + scales). */
export function q8Bytes(rows: number, K: number): number {
  const { paddedK, scaleStride } = q8RowLayout(K);
  return rows * paddedK + rows * scaleStride * 2;
}

/** Bytes per weight element as the decode kernels read them (48B-shape rows are whole groups). */
export const Q8_BYTES_PER_WEIGHT = 1 + 2 / Q8_GROUP;

/** Allocates a q8 weight, dim 0 split so each block's values fit one binding. */
export function allocQ8(ctx: GpuContext, shape: readonly number[], label: string): Q8Weight {
  const K = shape[shape.length - 1];
  const rowsPerEntry = numel(shape.slice(1, -1));
  const { paddedK, scaleStride } = q8RowLayout(K);
  const entryBytes = rowsPerEntry * paddedK;
  const perBlock = Math.floor(ctx.caps.maxBindingBytes / entryBytes);
  if (perBlock < 1) throw new Error(`q8 weight ${label}: one entry (${entryBytes} bytes) exceeds the binding limit`);
  const blocks: Q8Block[] = [];
  for (let start = 0; start < shape[0]; start += perBlock) {
    const count = Math.min(perBlock, shape[0] - start);
    const rows = count * rowsPerEntry;
    blocks.push({
      values: ctx.tensor([rows, paddedK / 4], 'u32', `${label}.q8[${start}:${start + count}]`),
      scales: ctx.tensor([rows, scaleStride], 'f16', `${label}.scales[${start}:${start + count}]`),
      start, count, entryOffset: 0,
    });
  }
  return { dtype: 'q8', shape: [...shape], label, blocks };
}

/** A q8 weight over entries [entry, entry + count) of one allocated block (fused members share it). */
export function q8View(block: Q8Block, entry: number, shape: readonly number[], label: string): Q8Weight {
  return { dtype: 'q8', shape: [...shape], label, blocks: [{ ...block, start: 0, count: shape[0], entryOffset: block.entryOffset + entry }] };
}

export interface Q8Rows {
  /** 4 int8 per word, rows padded to whole groups (padding holds 0). */
  values: Uint32Array;
  /** f16 bits, one per group, rows scaleStride apart. */
  scales: Uint16Array;
}

/** Round to nearest, ties away from zero. */
function roundHalfAway(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}

/** The smallest f16 at or above a positive value (so max|w| / s never passes 127). */
function f16AtLeast(v: number): number {
  let bits = f32ToF16Bits(v);
  if (f16BitsToF32(bits) < v) bits += 1;
  return bits;
}

/** Quantises `rows` rows of K values (row-major) on the CPU. */
export function quantizeQ8(data: ArrayLike<number>, rows: number, K: number): Q8Rows {
  const { groups, paddedK, scaleStride } = q8RowLayout(K);
  const bytes = new Int8Array(rows * paddedK);
  const scales = new Uint16Array(rows * scaleStride);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const k0 = g * Q8_GROUP, k1 = Math.min(K, k0 + Q8_GROUP);
      let max = 0;
      for (let k = k0; k < k1; k++) {
        const v = data[r * K + k];
        if (!Number.isFinite(v)) throw new Error(`q8 quantisation: value ${v} at row ${r}, column ${k} is not finite`);
        max = Math.max(max, Math.abs(v));
      }
      const bits = max === 0 ? 0 : f16AtLeast(max / 127);
      scales[r * scaleStride + g] = bits;
      const s = f16BitsToF32(bits);
      if (s === 0) continue;
      for (let k = k0; k < k1; k++) bytes[r * paddedK + k] = Math.max(-127, Math.min(127, roundHalfAway(data[r * K + k] / s)));
    }
  }
  return { values: new Uint32Array(bytes.buffer), scales };
}

/** Scalar reference of the stored weight: w[r, k] = q · s as f64 numbers, [rows, K]. */
export function dequantizeQ8(q: Q8Rows, rows: number, K: number): Float64Array {
  const { paddedK, scaleStride } = q8RowLayout(K);
  const bytes = new Int8Array(q.values.buffer, q.values.byteOffset, rows * paddedK);
  const out = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < K; k++) out[r * K + k] = bytes[r * paddedK + k] * f16BitsToF32(q.scales[r * scaleStride + Math.floor(k / Q8_GROUP)]);
  }
  return out;
}

/** Scalar reference of the q8 product: out[m, n] = Σ_k x[m, k] · (q · s)[n, k] in f64. */
export function linearQ8Reference(x: ArrayLike<number>, q: Q8Rows, M: number, N: number, K: number): Float32Array {
  return linearReference(x, dequantizeQ8(q, N, K), M, N, K);
}

/**
 * Quantises `data` (whole dim-0 entries starting at `entry`) into a q8 weight on the GPU. Entries may straddle
 * blocks; each block gets its rows in one upload.
 */
export function uploadQ8(ctx: GpuContext, w: Q8Weight, entry: number, data: ArrayLike<number>): void {
  const K = w.shape[w.shape.length - 1];
  const rowsPerEntry = numel(w.shape.slice(1, -1));
  const entries = data.length / (rowsPerEntry * K);
  if (!Number.isInteger(entries) || entry < 0 || entry + entries > w.shape[0]) {
    throw new Error(`q8 upload to ${w.label}: ${data.length} values do not fill whole entries from ${entry}`);
  }
  const { paddedK, scaleStride } = q8RowLayout(K);
  for (const b of w.blocks) {
    const lo = Math.max(entry, b.start), hi = Math.min(entry + entries, b.start + b.count);
    if (lo >= hi) continue;
    const rows = (hi - lo) * rowsPerEntry;
    const a = (lo - entry) * rowsPerEntry * K, z = (hi - entry) * rowsPerEntry * K;
    const src = data instanceof Float32Array ? data.subarray(a, z) : Array.from(data).slice(a, z);
    const q = quantizeQ8(src, rows, K);
    const row0 = (b.entryOffset + lo - b.start) * rowsPerEntry;
    ctx.upload({ ...b.values, offset: b.values.offset + row0 * paddedK, shape: [q.values.length], bytes: q.values.byteLength }, q.values);
    ctx.upload({ ...b.scales, offset: b.scales.offset + row0 * scaleStride * 2, shape: [q.scales.length], bytes: q.scales.byteLength }, q.scales);
  }
}
