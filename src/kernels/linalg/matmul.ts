// Wrapper for matmul.wgsl and gemv.wgsl: y = x · Wᵀ (PyTorch linear) for dense and row-split weights, and the
// grouped (sort-and-pad) form the MoE experts use. Tile sizes come from the device limits.
import { f32, type DispatchSpec, type GpuContext } from '../../engine/gpu/context.js';
import type { GpuRowSplit, GpuTensor } from '../../engine/gpu/arena.js';
import { requireDtype } from '../elementwise/shapes.js';
import { DENSE_TILE_MIN_ROWS, tensorCoreChoice, tensorCoreDispatch, tensorCoreFits, type TensorCoreTiles } from './gemm-subgroup-matrix.js';
import { foldedNormOperands, makeGemvF16, planGemvF16, type FoldedNorm } from './gemv-f16.js';
import { isQ8, type Q8Weight } from './q8-format.js';
import { makeGroupedLinearQ8, makeLinearQ8 } from './linear-q8.js';
import { writtenOutLoads } from '../norm/rmsnorm.js';

const gemmKernel = { name: 'linalg/matmul', url: new URL('./matmul.wgsl', import.meta.url) };
const gemvKernel = { name: 'linalg/gemv', url: new URL('./gemv.wgsl', import.meta.url) };

/** A weight stored as f32/f16 values (one binding or split along rows). */
export type GpuWeight = GpuTensor | GpuRowSplit;
/** What the linears take: f32/f16 values or q8 (linalg/q8-format.ts). */
export type LinearWeight = GpuWeight | Q8Weight;

export function weightParts(w: GpuWeight): { part: GpuTensor; rowStart: number }[] {
  return 'parts' in w ? w.parts.map((part, i) => ({ part, rowStart: w.rowStarts[i] })) : [{ part: w, rowStart: 0 }];
}

/** The one binding of a weight, or undefined when it is split over several (kernels that bind it whole). */
export function singleBinding(w: GpuWeight): GpuTensor | undefined {
  return 'parts' in w ? (w.parts.length === 1 ? w.parts[0] : undefined) : w;
}

/**
 * The scalar GEMM tile decision: a TM×TN output tile per workgroup, RM×RN outputs per thread, K tiles of TK.
 * GPUs with more than 32 KiB of workgroup memory (a discrete-GPU class: the H100 has 48 KiB) get 128×128
 * tiles of 8×8 per thread; lavapipe (32 KiB, a CPU) keeps 64×64 of 4×4, whose tiny test shapes waste less.
 */
export interface GemmTiles { TM: number; TN: number; TK: number; RM: number; RN: number }

export const BIG_GEMM_TILES: GemmTiles = { TM: 128, TN: 128, TK: 16, RM: 8, RN: 8 };

export function gemmTiles(ctx: GpuContext): GemmTiles {
  const threads = ctx.caps.maxInvocationsPerWorkgroup;
  if (threads >= 256 && ctx.caps.maxWorkgroupStorageBytes > 32 * 1024) return BIG_GEMM_TILES;
  return threads >= 256 ? { TM: 64, TN: 64, TK: 16, RM: 4, RN: 4 } : { TM: 32, TN: 32, TK: 16, RM: 4, RN: 4 };
}

/** Workgroup bytes of a tile choice (k-major tiles padded by one vec4 per k row). */
export function gemmTileBytes(t: GemmTiles): number {
  return 16 * t.TK * (t.TM / 4 + 1 + t.TN / 4 + 1) + 8;
}

function checkTiles(ctx: GpuContext, t: GemmTiles): void {
  const threads = (t.TM / t.RM) * (t.TN / t.RN);
  if (t.RM % 4 || t.RN % 4 || t.TM % t.RM || t.TN % t.RN || (t.TM * t.TK) % threads || (t.TN * t.TK) % threads) {
    throw new Error(`linear: tiles ${JSON.stringify(t)} do not divide evenly`);
  }
  if (threads > ctx.caps.maxInvocationsPerWorkgroup || gemmTileBytes(t) > ctx.caps.maxWorkgroupStorageBytes) {
    throw new Error(`linear: tiles ${JSON.stringify(t)} exceed this device's workgroup limits`);
  }
}

/** Fewest rows for the tensor-core path: below this a 128-row tile is mostly padding and the GEMV/scalar path does. */
export const TENSOR_CORE_MIN_ROWS = 64;

/** Tensor-core tiles for an f16 weight when probed and the shape is non-empty; else undefined (scalar). */
/** The probed tensor-core tiles for a linear: grouped forms need tiles exactly `groupedTileRows` high. */
function tensorCoreTiles(ctx: GpuContext, weight: GpuWeight, M: number, K: number, groupedTileRows?: number): TensorCoreTiles | undefined {
  const choice = tensorCoreChoice(ctx);
  const tiles = groupedTileRows !== undefined
    ? [choice?.tiles, choice?.denseTiles].find((t) => t?.TILE_M === groupedTileRows)
    : choice?.denseTiles && M >= DENSE_TILE_MIN_ROWS ? choice.denseTiles : choice?.tiles;
  if (weight.dtype !== 'f16' || choice?.path !== 'subgroup-matrix' || !tiles || M < TENSOR_CORE_MIN_ROWS) return undefined;
  const rowsOf = (part: GpuTensor) => part.shape[part.shape.length - 2];
  return weightParts(weight).every(({ part }) => tensorCoreFits(M, rowsOf(part), K)) ? tiles : undefined;
}

function gemvWorkgroup(ctx: GpuContext): number {
  // Power of two for the tree reduction; a few subgroups wide.
  let wg = 1;
  while (wg * 2 <= Math.min(256, ctx.caps.maxInvocationsPerWorkgroup, ctx.caps.subgroupSize * 8)) wg *= 2;
  return wg;
}

/**
 * Whether makeLinear can apply the RMSNorm of its input itself (`opts.norm`): one activation row of f32 or f16
 * weights on a GEMV (gemv-f16 or gemv.wgsl; decode), where every workgroup reads all of x anyway.
 */
export function linearFoldsNorm(ctx: GpuContext, weight: LinearWeight, rows: number): boolean {
  if (rows !== 1 || isQ8(weight)) return false;
  const K = weight.shape[1];
  if (weight.dtype !== 'f16') return weight.dtype === 'f32';
  return !tensorCoreTiles(ctx, weight, 1, K) && (planGemvF16(ctx, K).path === 'subgroup' || K % 2 === 0);
}

/**
 * out[M, N] = x[M, K] · W[N, K]ᵀ. Weights over the binding limit arrive split along N; each part writes its
 * own column range. One activation row uses the GEMV kernel. q8 weights over several rows expand into
 * `dequantScratch` (linear-q8.ts).
 */
export function makeLinear(
  ctx: GpuContext, x: GpuTensor, weight: LinearWeight, out: GpuTensor,
  opts: { xRowStride?: number; tiles?: GemmTiles; plainGemv?: boolean; dequantScratch?: GpuTensor; norm?: FoldedNorm } = {},
): DispatchSpec[] {
  const [N, K] = weight.shape;
  const M = x.shape.length === 1 ? 1 : x.shape[0];
  if (opts.norm && (!linearFoldsNorm(ctx, weight, M) || opts.plainGemv || (opts.xRowStride ?? K) !== K)) {
    throw new Error(`linear: ${weight.label} cannot take a folded RMSNorm here (only one row on a GEMV)`);
  }
  const xK = x.shape[x.shape.length - 1];
  requireDtype('linear', x, 'f32');
  requireDtype('linear', out, 'f32');
  // A row stride wider than K reads the first K columns of each row (e.g. the latent part of the MLA cache).
  const xStride = opts.xRowStride ?? K;
  if (xK !== xStride || xStride < K) throw new Error(`linear: ${x.label} has ${xK} columns, weight ${weight.label} expects ${K}`);
  const outCols = out.shape[out.shape.length - 1];
  const outRows = out.shape.length === 1 ? 1 : out.shape[0];
  if (outCols !== N || outRows !== M) {
    throw new Error(`linear: ${out.label} is [${out.shape.join(', ')}], expected [${M}, ${N}] for ${weight.label}`);
  }
  if (isQ8(weight)) return makeLinearQ8(ctx, x, weight, out, opts);
  const f16 = weight.dtype === 'f16';
  if (!f16 && weight.dtype !== 'f32') throw new Error(`linear: weight ${weight.label} must be f32, f16 or q8`);
  const specs: DispatchSpec[] = [];
  // Tests pass explicit scalar tiles to pin the scalar kernel on any device.
  const tc = opts.tiles ? undefined : tensorCoreTiles(ctx, weight, M, K);
  const oneRow = M === 1 && xStride === K;
  // Decode: f16 weights at bandwidth (16-byte loads, subgroup sums) where the device has subgroups.
  const gemvPlan = oneRow && f16 && !opts.plainGemv ? planGemvF16(ctx, K) : undefined;
  const tiles = opts.tiles ?? gemmTiles(ctx);
  for (const { part, rowStart } of weightParts(weight)) {
    const n = part.shape[0];
    if (tc) {
      specs.push(tensorCoreDispatch(ctx, { x, w: part, out, M, N: n, K, outStride: N, colOffset: rowStart, xStride }, tc));
    } else if (gemvPlan?.path === 'subgroup') {
      specs.push(...makeGemvF16(ctx, x, part, out, gemvPlan, rowStart, opts.norm));
    } else if (oneRow && (!f16 || K % 2 === 0)) {
      const folded = foldedNormOperands('gemv', opts.norm, K);
      const WG = gemvWorkgroup(ctx);
      specs.push(ctx.dispatch({
        kernel: gemvKernel,
        defines: { WG, W_F16: f16, STEPS: writtenOutLoads(f16 ? K / 2 : K, WG), ...folded.defines },
        params: [n, K, rowStart, f32(opts.norm?.eps ?? 0)],
        bindings: [x, part, out, ...folded.bindings],
        workgroups: ctx.grid2d(n),
      }));
    } else {
      checkTiles(ctx, tiles);
      const { TM, TN } = tiles;
      specs.push(ctx.dispatch({
        kernel: gemmKernel,
        defines: { ...tiles, W_F16: f16, MOE: false, GATHER: false },
        params: [M, n, K, N, rowStart, xStride, 0, 0],
        bindings: [x, part, out],
        workgroups: [Math.ceil(n / TN), Math.ceil(M / TM)],
      }));
    }
  }
  return specs;
}

export interface GroupedRows {
  /** [P] source row per padded position (0xffffffff = padding), grouped by expert in TM-row tiles. */
  rows: GpuTensor;
  /** [P / TM] expert of each row tile (0xffffffff = unused tile). */
  tileExpert: GpuTensor;
  /** Padded capacity P (a multiple of the GEMM's TM). */
  capacity: number;
  /** Rows per expert tile of the plan (default: the scalar GEMM's TM); only tensor-core tiles of that height serve other values. */
  tileRows?: number;
}

/**
 * Grouped GEMM over experts: out[p, N] = x[src(p), K] · W[e(p)][N, K]ᵀ. `gather` reads x rows through
 * the row list (gate/up from the hidden states); without it x is already in padded order (down projection).
 * The stacked weight [E, N, K] may be split along E; each part serves its experts.
 */
export function makeGroupedLinear(
  ctx: GpuContext, x: GpuTensor, weight: LinearWeight, out: GpuTensor, grouped: GroupedRows, gather: boolean,
  scalarTiles?: GemmTiles, dequantScratch?: GpuTensor,
): DispatchSpec[] {
  if (isQ8(weight)) return makeGroupedLinearQ8(ctx, x, weight, out, grouped, gather, dequantScratch, scalarTiles);
  const [, N, K] = weight.shape;
  const tiles = scalarTiles ?? gemmTiles(ctx);
  checkTiles(ctx, tiles);
  const { TM, TN } = tiles;
  // The tensor-core kernel serves the grouped form only when its row tile is the MoE plan's (TM) and N fills
  // whole tiles (grouped tiles must never take the edge-store path: see linear-bindings.part.wgsl); explicit
  // scalar tiles pin the scalar kernel.
  const tileRows = grouped.tileRows ?? TM;
  const tcTiles = scalarTiles ? undefined : tensorCoreTiles(ctx, weight, grouped.capacity, K, tileRows);
  const tc = tcTiles && N % tcTiles.TILE_N === 0 ? tcTiles : undefined;
  if (!tc && tileRows !== TM) throw new Error(`grouped linear: ${tileRows}-row expert tiles need tensor-core tiles of that height for ${weight.label}`);
  if (grouped.capacity % tileRows !== 0) throw new Error(`grouped linear: capacity ${grouped.capacity} is not a multiple of ${tileRows}`);
  if (x.shape[x.shape.length - 1] !== K) throw new Error(`grouped linear: ${x.label} has ${x.shape[1]} columns, expected ${K}`);
  if (out.shape[0] !== grouped.capacity || out.shape[1] !== N) {
    throw new Error(`grouped linear: ${out.label} is [${out.shape.join(', ')}], expected [${grouped.capacity}, ${N}]`);
  }
  if (tc) {
    return weightParts(weight).map(({ part, rowStart }) => tensorCoreDispatch(ctx, {
      x, w: part, out, M: grouped.capacity, N, K, outStride: N, colOffset: 0, xStride: K,
      grouped: { rows: grouped.rows, tileExpert: grouped.tileExpert, gather, expertLo: rowStart, expertHi: rowStart + part.shape[0] },
    }, tc));
  }
  return weightParts(weight).map(({ part, rowStart }) => ctx.dispatch({
    kernel: gemmKernel,
    defines: { ...tiles, W_F16: weight.dtype === 'f16', MOE: true, GATHER: gather },
    params: [grouped.capacity, N, K, N, 0, K, rowStart, rowStart + part.shape[0]],
    bindings: [x, part, out, grouped.rows, grouped.tileExpert],
    workgroups: [Math.ceil(N / TN), grouped.capacity / TM],
  }));
}

/** Scalar reference: out[m, n] = Σ_k x[m, k] · w[n, k] in f64. */
export function linearReference(x: ArrayLike<number>, w: ArrayLike<number>, M: number, N: number, K: number): Float32Array {
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[m * K + k] * w[n * K + k];
      out[m * N + n] = acc;
    }
  }
  return out;
}
