// Wrapper for gemm-subgroup-matrix.wgsl: y = x · Wᵀ on tensor cores where the device offers f16→f32 subgroup
// matrices of 16×16×16 (dense and grouped MoE forms). makeLinear / makeGroupedLinear in matmul.ts choose it
// for f16 weights once `probeTensorCoreGemm` has compiled the kernel inside an error scope, so a Dawn that
// rejects the shader keeps the scalar kernels with the reason instead of failing the device. lavapipe has no
// subgroup matrices: this path is only exercised on the GPU machine.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { f16BitsToF32, f32ToF16Bits } from '../../engine/gpu/half.js';

const kernel = { name: 'linalg/gemm-subgroup-matrix', url: new URL('./gemm-subgroup-matrix.wgsl', import.meta.url) };

/** Tile decision: TILE_M × TILE_N per workgroup from SG_M × SG_N subgroups, TILE_K per staged step. */
export interface TensorCoreTiles {
  TILE_M: number; TILE_N: number; TILE_K: number; SG_M: number; SG_N: number; PAD: number;
}

/**
 * 128×128 outputs per workgroup from 2×2 subgroups (64×64 each, 4×4 result matrices: 8 fragment loads per 16 MMAs
 * instead of 6 per 8), K step 32. H100 (bench --kernels gemm, session 11): 4096³ 97.4 → 124.8 TFLOP/s,
 * 8192×4096×2304 98.6 → 119.8, 8192×2304×4096 98.3 → 109.5 against 2×4 subgroups at K step 64 (sessions 6–10).
 */
export const TENSOR_CORE_TILES: TensorCoreTiles = { TILE_M: 128, TILE_N: 128, TILE_K: 32, SG_M: 2, SG_N: 2, PAD: 8 };

/**
 * Dense linears of many rows: 256×128 outputs from 4×4 subgroups (512 threads, 4×2 result matrices each), K step 32,
 * 45.6 KiB of workgroup memory. H100 (tools/device/probe-gemm-overlap.mjs, session 9): 4096³ 100.4 → 140.2 TFLOP/s,
 * 8192×4096×2304 97.2 → 134.9, 8192×2304×4096 95.2 → 126.2 against 128×128 from 2×4 subgroups; twice the rows per workgroup
 * halve W's staging per output, and 16 subgroups keep MMAs going while others stage. The MoE grouped GEMM takes them
 * where the graph plans 256-row expert tiles (moeTileRows in kimi-linear.ts), else TENSOR_CORE_TILES.
 */
export const TENSOR_CORE_DENSE_TILES: TensorCoreTiles = { TILE_M: 256, TILE_N: 128, TILE_K: 32, SG_M: 4, SG_N: 4, PAD: 8 };

/** Rows from which a dense linear takes TENSOR_CORE_DENSE_TILES (fewer: a 256-row tile would be mostly padding). */
export const DENSE_TILE_MIN_ROWS = 1024;

/** Variants the bench and the device edge check time side by side. */
export const TENSOR_CORE_VARIANTS: Record<string, TensorCoreTiles> = {
  '128x128-2x2-k32': TENSOR_CORE_TILES,
  '128x128-2x2-k64': { ...TENSOR_CORE_TILES, TILE_K: 64 },
  '128x128-2x4-k64': { ...TENSOR_CORE_TILES, TILE_K: 64, SG_N: 4 },
  '256x128-4x4-k32': TENSOR_CORE_DENSE_TILES,
  '256x128-4x2-k32': { ...TENSOR_CORE_DENSE_TILES, SG_N: 2 },
};

export type GemmPath = 'subgroup-matrix' | 'scalar';

export interface GemmPathChoice {
  path: GemmPath;
  /** Why the scalar path was chosen (absent on the tensor-core path). */
  reason?: string;
  tiles?: TensorCoreTiles;
  /** Dense linears of ≥ DENSE_TILE_MIN_ROWS rows and 256-row MoE plans, where these tiles compiled (else `tiles`). */
  denseTiles?: TensorCoreTiles;
}

interface MatrixConfig { M?: number; N?: number; K?: number; componentType?: string; resultComponentType?: string }

/** Does the adapter list the exact configuration the kernel is written for? */
export function hasF16MatrixConfig(ctx: GpuContext): boolean {
  return (ctx.caps.subgroupMatrixConfigs as MatrixConfig[]).some((c) =>
    c.M === 16 && c.N === 16 && c.K === 16 && c.componentType === 'f16' && c.resultComponentType === 'f32');
}

function workgroupBytes(t: TensorCoreTiles): number {
  return 2 * (t.TILE_M * (t.TILE_K + t.PAD) + t.TILE_K * (t.TILE_N + t.PAD)) + 4 * t.SG_M * t.SG_N * 256 + 8;
}

/** Every define the kernel reads for these tiles (the unroll counts derive from the tiles). */
function tileDefines(t: TensorCoreTiles): Record<string, number> {
  return { ...t, FRAG_M: t.TILE_M / t.SG_M / 16, FRAG_N: t.TILE_N / t.SG_N / 16, K_STEPS: t.TILE_K / 16 };
}

/** Why these tiles cannot run here, or undefined. */
function tilesProblem(ctx: GpuContext, t: TensorCoreTiles): string | undefined {
  const threads = t.SG_M * t.SG_N * ctx.caps.subgroupSize;
  if (t.TILE_M % (16 * t.SG_M) || t.TILE_N % (16 * t.SG_N) || t.TILE_K % 16) return 'tiles not multiples of 16 per subgroup';
  if ((t.TILE_M * t.TILE_K / 4) % threads || (t.TILE_N * t.TILE_K / 4) % threads) return 'staging does not divide over the threads';
  if (workgroupBytes(t) > ctx.caps.maxWorkgroupStorageBytes) return 'tiles exceed workgroup memory';
  if (threads > ctx.caps.maxInvocationsPerWorkgroup) return 'workgroup too large';
  return undefined;
}

const probed = new WeakMap<GpuContext, GemmPathChoice>();

/** The probed choice for this context, or undefined before `probeTensorCoreGemm` ran (scalar then). */
export function tensorCoreChoice(ctx: GpuContext): GemmPathChoice | undefined {
  return probed.get(ctx);
}

/**
 * Decides the path once per context: compiles every define combination the linears use under an error
 * scope. CTXBENCH_GEMM_PATH=scalar forces the scalar kernels (for before/after runs on one machine).
 */
export async function probeTensorCoreGemm(ctx: GpuContext, tiles = TENSOR_CORE_TILES): Promise<GemmPathChoice> {
  const known = probed.get(ctx);
  if (known) return known;
  let choice: GemmPathChoice;
  const problem = tilesProblem(ctx, tiles);
  if (process.env.CTXBENCH_GEMM_PATH === 'scalar') choice = { path: 'scalar', reason: 'forced by CTXBENCH_GEMM_PATH=scalar' };
  else if (!ctx.caps.hasF16) choice = { path: 'scalar', reason: 'no shader-f16' };
  else if (!hasF16MatrixConfig(ctx)) choice = { path: 'scalar', reason: 'no f16→f32 16×16×16 subgroup-matrix config' };
  else if (problem) choice = { path: 'scalar', reason: problem };
  else {
    // Every variant the engine dispatches with these tiles: f32/vec4 loads × dense, MoE gather and MoE in place.
    const build = (t: TensorCoreTiles) => () => {
      for (const VEC4 of [false, true]) {
        for (const [MOE, GATHER] of [[false, false], [true, true], [true, false]]) ctx.pipelines.get(kernel, { ...tileDefines(t), VEC4, MOE, GATHER });
      }
    };
    const rejected = await ctx.shaderRejection(build(tiles));
    choice = rejected ? { path: 'scalar', reason: rejected } : { path: 'subgroup-matrix', tiles };
    if (!rejected && tiles === TENSOR_CORE_TILES && !tilesProblem(ctx, TENSOR_CORE_DENSE_TILES)) {
      if (!await ctx.shaderRejection(build(TENSOR_CORE_DENSE_TILES))) choice.denseTiles = TENSOR_CORE_DENSE_TILES;
    }
  }
  probed.set(ctx, choice);
  return choice;
}

/** One binding's worth of a tensor-core linear (the matmul.wgsl parameter layout). */
export interface TensorCoreDispatch {
  x: GpuTensor; w: GpuTensor; out: GpuTensor;
  M: number; N: number; K: number; outStride: number; colOffset: number; xStride: number;
  grouped?: { rows: GpuTensor; tileExpert: GpuTensor; gather: boolean; expertLo: number; expertHi: number };
}

/**
 * Can this shape run on the tensor-core kernel? Any non-empty shape: staging zero-fills rows past M, columns
 * past N and k past K, and partial output tiles leave through the bounds-checked edge scratch. History: edge
 * tiles were wrong on the H100 until the non-MoE kernel stopped declaring scalar workgroup variables (2026-11-24).
 */
export function tensorCoreFits(M: number, N: number, K: number): boolean {
  return M >= 1 && N >= 1 && K >= 1;
}

export function tensorCoreDispatch(ctx: GpuContext, d: TensorCoreDispatch, tiles: TensorCoreTiles): DispatchSpec {
  const problem = tilesProblem(ctx, tiles);
  if (problem) throw new Error(`tensor-core linear: ${problem}`);
  if (!tensorCoreFits(d.M, d.N, d.K)) throw new Error(`tensor-core linear: empty shape ${d.M}x${d.N}x${d.K}`);
  requireF16(d.w);
  const VEC4 = d.K % 4 === 0 && d.xStride % 4 === 0;
  const g = d.grouped;
  return ctx.dispatch({
    kernel,
    defines: { ...tileDefines(tiles), VEC4, MOE: Boolean(g), GATHER: Boolean(g?.gather) },
    params: [d.M, d.N, d.K, d.outStride, d.colOffset, d.xStride, g?.expertLo ?? 0, g?.expertHi ?? 0],
    bindings: g ? [d.x, d.w, d.out, g.rows, g.tileExpert] : [d.x, d.w, d.out],
    workgroups: [Math.ceil(d.N / tiles.TILE_N), Math.ceil(d.M / tiles.TILE_M)],
  });
}

function requireF16(w: GpuTensor): void {
  if (w.dtype !== 'f16') throw new Error(`tensor-core linear: ${w.label} is ${w.dtype}, expected f16`);
}

/**
 * out[M, N] = x[M, K] · W[N, K]ᵀ forced onto the tensor-core kernel (bench and tests; the model goes through
 * makeLinear, which decides). Activations beyond ±65504 overflow f16 on this path.
 */
export function makeTensorCoreLinear(
  ctx: GpuContext, x: GpuTensor, w: GpuTensor, out: GpuTensor, choice: GemmPathChoice, tiles = choice.tiles ?? TENSOR_CORE_TILES,
): DispatchSpec[] {
  const [N, K] = w.shape;
  const M = x.shape.length === 1 ? 1 : x.shape[0];
  if (x.dtype !== 'f32' || out.dtype !== 'f32') throw new Error('tensor-core linear: x and out must be f32');
  requireF16(w);
  if (x.shape[x.shape.length - 1] !== K) throw new Error(`tensor-core linear: ${x.label} has ${x.shape[x.shape.length - 1]} columns, ${w.label} expects ${K}`);
  if (out.shape.length !== 2 || out.shape[0] !== M || out.shape[1] !== N) {
    throw new Error(`tensor-core linear: ${out.label} is [${out.shape.join(', ')}], expected [${M}, ${N}]`);
  }
  if (choice.path !== 'subgroup-matrix') throw new Error(`tensor-core linear: not available here (${choice.reason})`);
  return [tensorCoreDispatch(ctx, { x, w, out, M, N, K, outStride: N, colOffset: 0, xStride: K }, tiles)];
}

/** Scalar reference of the tensor-core path, summed in f64: x and W rounded to f16 as the kernel stages them. */
export function tensorCoreLinearReference(x: ArrayLike<number>, w: ArrayLike<number>, M: number, N: number, K: number): Float32Array {
  const half = (v: number) => f16BitsToF32(f32ToF16Bits(v));
  const xs = Float64Array.from(x as ArrayLike<number>, half);
  const ws = Float64Array.from(w as ArrayLike<number>, half);
  const out = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += xs[m * K + k] * ws[n * K + k];
      out[m * N + n] = acc;
    }
  }
  return out;
}
