// Kernel-level benchmark cases: each builds its tensors (filled on the GPU), the dispatch list to time, and
// the work it does (FLOPs or bytes) so a timing turns into TFLOP/s or GB/s. Sizes come from a size class:
// 'small' fits lavapipe in CI, '48b' uses Kimi Linear 48B layer shapes on a real GPU.
import type { DispatchSpec, GpuContext } from '../engine/gpu/context.js';
import type { GpuTensor } from '../engine/gpu/arena.js';
import { makeRandomFill } from '../kernels/elementwise/random-fill.js';
import { COPY_VECTORS_PER_THREAD, makeCopy } from '../kernels/elementwise/copy.js';
import { elementwiseWorkgroupSize } from '../kernels/elementwise/shapes.js';
import { gemmTiles, makeGroupedLinear, makeLinear } from '../kernels/linalg/matmul.js';
import { TENSOR_CORE_VARIANTS, makeTensorCoreLinear, probeTensorCoreGemm } from '../kernels/linalg/gemm-subgroup-matrix.js';
import { makeGemvF16, planGemvF16 } from '../kernels/linalg/gemv-f16.js';
import { f16BitsToF32, f32ToF16Bits } from '../engine/gpu/half.js';
import { mlaFlashPrefill } from '../kernels/mla/mla-flash-prefill.js';
import { MLA_FLASH_F16_PLAN, mlaFlashPrefillF16, probeMlaFlashF16, roundUpRows, type MlaFlashF16Plan } from '../kernels/mla/mla-flash-prefill-f16.js';
import { mlaPackF16 } from '../kernels/mla/mla-pack-f16.js';
import { mlaAttentionReference } from '../kernels/mla/mla-reference.js';
import { allocKdaChunkScratch, kdaChunkPasses, kdaChunkPrefill, planKdaChunk, probeKdaScanTensorCores, type KdaTileOverrides } from '../kernels/kda/kda-chunk.js';
import type { KdaDeltaArgs } from '../kernels/kda/kda-recurrent.js';
import { kdaRecurrentReference, type KdaPrepared } from '../kernels/kda/kda-reference.js';

export type SizeClass = 'small' | '48b';

export const KERNEL_NAMES = ['gemm', 'gemv', 'copy', 'kda', 'mla-prefill', 'mla-decode', 'moe'] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

export interface KernelCase {
  kernel: KernelName;
  name: string;
  dtype: string;
  specs: DispatchSpec[];
  /** Work of one run: FLOPs (→ TFLOP/s) or bytes moved (→ GB/s). */
  flops?: number;
  bytes?: number;
  /** Tokens of one run, for Mtok/s (KDA is compared to FLA in tokens per second). */
  tokens?: number;
  /** Anchor case (bench/anchors.py) this is compared with. */
  anchor?: string;
  params: Record<string, unknown>;
  /** Reads back a sample of the output and returns its max relative error against a CPU reference. */
  verify?: () => Promise<number>;
  release(): void;
}

export interface CopyCase { name: string; bytes: number; anchor: string }

export function filled(ctx: GpuContext, shape: number[], dtype: 'f32' | 'f16', label: string, seed: number, scale = 1, offset = 0): GpuTensor {
  const t = ctx.tensor(shape, dtype, label);
  ctx.run([makeRandomFill(ctx, t, { seed, scale, offset })]);
  return t;
}

export function releaser(ctx: GpuContext, tensors: GpuTensor[]): () => void {
  return () => tensors.forEach((t) => ctx.arena.free(t));
}

export const GEMM_ANCHOR = (m: number, n: number, k: number) => `cublas-bf16-gemm ${m}x${n}x${k}`;
export const COPY_ANCHOR = 'device-copy 1GiB';
export const SDPA_ANCHOR = (t: number, dq: number, dv: number) => `sdpa-causal d${dq}/${dv} T=${t} H=32`;

async function gemmCases(ctx: GpuContext, size: SizeClass): Promise<KernelCase[]> {
  // 48B: the 4096³ anchor shape and one 8192-token piece through the KDA/MLA projections (2304 → 4096 → 2304).
  const shapes: [number, number, number][] = size === 'small' ? [[64, 72, 40]] : [[4096, 4096, 4096], [8192, 4096, 2304], [8192, 2304, 4096]];
  const choice = await probeTensorCoreGemm(ctx);
  const variants = choice.path === 'subgroup-matrix' ? Object.entries(TENSOR_CORE_VARIANTS) : [];
  const cases: KernelCase[] = [];
  for (const [M, N, K] of shapes) {
    const x = filled(ctx, [M, K], 'f32', 'bench.x', 1);
    const w = filled(ctx, [N, K], 'f16', 'bench.w', 2, 0.05);
    const out = ctx.tensor([M, N], 'f32', 'bench.out');
    const flops = 2 * M * N * K;
    const shape = `${M}x${N}x${K}`;
    const anchor = size === '48b' ? GEMM_ANCHOR(M, N, K) : undefined;
    const last = variants.length === 0;
    cases.push({
      kernel: 'gemm', name: `gemm-scalar ${shape}`, dtype: 'f32 x · f16 W → f32', specs: makeLinear(ctx, x, w, out, { tiles: gemmTiles(ctx) }),
      flops, anchor, params: { M, N, K, path: 'scalar', tiles: gemmTiles(ctx), tensorCoreReason: choice.reason },
      release: last ? releaser(ctx, [x, w, out]) : () => undefined,
      verify: () => sampledError(ctx, x, w, out, M, N, K, false),
    });
    variants.forEach(([variant, tiles], i) => cases.push({
      kernel: 'gemm', name: `gemm-tensor-core ${variant} ${shape}`, dtype: 'f16 · f16 → f32 acc', specs: makeTensorCoreLinear(ctx, x, w, out, choice, tiles),
      flops, anchor, params: { M, N, K, path: choice.path, variant, tiles },
      release: i === variants.length - 1 ? releaser(ctx, [x, w, out]) : () => undefined,
      verify: () => sampledError(ctx, x, w, out, M, N, K, true),
    }));
  }
  if (size === '48b') cases.push(...groupedGemmCases(ctx, choice.path === 'subgroup-matrix'));
  return cases;
}

/**
 * The 48B MoE experts of one 8192-token piece: 64 experts, top-8, sort-and-pad rows (a random routing planned
 * on the CPU), gate 2304 → 1024 gathered from the hidden states, down 1024 → 2304 in padded order. FLOPs count
 * the routed rows only; padding is part of the cost measured.
 */
function groupedGemmCases(ctx: GpuContext, tensorCores: boolean): KernelCase[] {
  const T = 8192, E = 64, topK = 8, H = 2304, I = 1024;
  const { TM } = gemmTiles(ctx);
  const perExpert: number[][] = Array.from({ length: E }, () => []);
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let t = 0; t < T; t++) {
    const picked = new Set<number>();
    while (picked.size < topK) picked.add(Math.floor(next() * E));
    for (const e of picked) perExpert[e].push(t);
  }
  const rowList: number[] = [];
  const tileList: number[] = [];
  perExpert.forEach((tokens, e) => {
    const tiles = Math.ceil(tokens.length / TM);
    for (let i = 0; i < tiles * TM; i++) rowList.push(i < tokens.length ? tokens[i] : 0xffffffff);
    for (let i = 0; i < tiles; i++) tileList.push(e);
  });
  const capacity = rowList.length;
  const grouped = {
    rows: ctx.tensor([capacity], 'u32', 'bench.moe.rows', rowList), tileExpert: ctx.tensor([tileList.length], 'u32', 'bench.moe.tiles', tileList), capacity,
  };
  const cases: KernelCase[] = [];
  for (const [name, N, K, gather] of [['gate', I, H, true], ['down', H, I, false]] as const) {
    const x = filled(ctx, [gather ? T : capacity, K], 'f32', `bench.moe.x.${name}`, 21);
    const w = filled(ctx, [E, N, K], 'f16', `bench.moe.w.${name}`, 22, 0.05);
    const outScalar = ctx.tensor([capacity, N], 'f32', 'bench.moe.out.scalar');
    const outTc = ctx.tensor([capacity, N], 'f32', 'bench.moe.out.tc');
    ctx.fill(outScalar, 0);
    ctx.fill(outTc, 0);
    const flops = 2 * T * topK * N * K;
    const shape = `${name} E=${E} top${topK} T=${T} ${K}->${N} (${capacity} padded rows)`;
    const params = { T, E, topK, N, K, capacity, gather };
    const tensors = [x, w, outScalar, outTc, ...(name === 'down' ? [grouped.rows, grouped.tileExpert] : [])];
    cases.push({
      kernel: 'gemm', name: `moe-grouped-scalar ${shape}`, dtype: 'f32 x · f16 W → f32', flops,
      specs: makeGroupedLinear(ctx, x, w, outScalar, grouped, gather, gemmTiles(ctx)), params: { ...params, path: 'scalar' },
      release: tensorCores ? () => undefined : releaser(ctx, tensors),
    });
    if (!tensorCores) continue;
    cases.push({
      kernel: 'gemm', name: `moe-grouped-tensor-core ${shape}`, dtype: 'f16 · f16 → f32 acc', flops,
      specs: makeGroupedLinear(ctx, x, w, outTc, grouped, gather), params: { ...params, path: 'subgroup-matrix' },
      release: releaser(ctx, tensors),
      // Against the scalar kernel's output (f32 x): the error includes x's rounding to f16.
      verify: async () => maxRelDiff(await ctx.readF32(outTc), await ctx.readF32(outScalar)),
    });
  }
  return cases;
}

export function maxRelDiff(got: Float32Array, ref: Float32Array): number {
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}

function gemvCases(ctx: GpuContext, size: SizeClass): KernelCase[] {
  // 48B: the lm_head (vocab × hidden), the biggest single decode read.
  const [N, K] = size === 'small' ? [96, 64] : [163840, 2304];
  const x = filled(ctx, [K], 'f32', 'bench.gemv.x', 3);
  const w = filled(ctx, [N, K], 'f16', 'bench.gemv.w', 4, 0.05);
  const out = ctx.tensor([N], 'f32', 'bench.gemv.out');
  const bytes = N * K * 2 + K * 4 + N * 4;
  const anchor = size === '48b' ? COPY_ANCHOR : undefined;
  const plan = planGemvF16(ctx, K);
  return [
    { kernel: 'gemv', name: `gemv-existing ${N}x${K}`, dtype: 'f16 W', specs: makeLinear(ctx, { ...x, shape: [1, K] }, w, { ...out, shape: [1, N] }, { plainGemv: true }),
      bytes, anchor, params: { N, K }, release: () => undefined },
    { kernel: 'gemv', name: `gemv-f16-subgroup ${N}x${K}`, dtype: 'f16 W', specs: makeGemvF16(ctx, x, w, out, plan),
      bytes, anchor, params: { N, K, path: plan.path, fallbackReason: plan.reason }, release: releaser(ctx, [x, w, out]),
      verify: () => sampledError(ctx, x, w, { ...out, shape: [1, N] }, 1, N, K, false) },
  ];
}

async function mlaPrefillCases(ctx: GpuContext, size: SizeClass): Promise<KernelCase[]> {
  const d = size === 'small' ? { H: 2, Dn: 8, Dr: 4, Dv: 6 } : { H: 32, Dn: 128, Dr: 64, Dv: 128 };
  const { H, Dn, Dr, Dv } = d;
  const lengths = size === 'small' ? [32] : [8192, 16384];
  // Tensor-core variants (f16 operands packed once outside the timing): default plan first, then tile trials.
  const plans: MlaFlashF16Plan[] = [MLA_FLASH_F16_PLAN, { subgroups: 8, keyRows: 16, tau: 8 }, { subgroups: 16, keyRows: 16, tau: 8 }];
  const unsupported = await probeMlaFlashF16(ctx, Dn, Dr, Dv);
  const cases: KernelCase[] = [];
  for (const T of lengths) {
    const q = filled(ctx, [T, H, Dn + Dr], 'f32', 'bench.mla.q', 5);
    const kNope = filled(ctx, [T, H, Dn], 'f32', 'bench.mla.k', 6);
    const kRope = filled(ctx, [T, Dr], 'f32', 'bench.mla.kr', 7);
    const v = filled(ctx, [T, H, Dv], 'f32', 'bench.mla.v', 8);
    const out = ctx.tensor([T, H, Dv], 'f32', 'bench.mla.out');
    // Causal: half of the T×T score and value products, 2 FLOPs each.
    const flops = H * T * T * (Dn + Dr + Dv);
    const anchor = size === '48b' ? SDPA_ANCHOR(T, Dn + Dr, Dv) : undefined;
    const shape = `T=${T} H=${H} d=${Dn + Dr}/${Dv}`;
    cases.push({
      kernel: 'mla-prefill', name: `mla-flash-prefill ${shape}`, dtype: 'f32', specs: [mlaFlashPrefill(ctx, { q, kNope, kRope, v, out, Tq: T, Tk: T, H, Dn, Dr, Dv })],
      flops, tokens: T, anchor, params: { T, ...d, path: 'scalar', tensorCoreUnavailable: unsupported },
      release: releaser(ctx, unsupported ? [q, kNope, kRope, v, out] : [q, kNope, kRope, v]),
    });
    if (unsupported) continue;
    const rows = roundUpRows(T);
    const q16 = ctx.tensor([rows, H, Dn + Dr], 'f16', 'bench.mla.q16'), kn16 = ctx.tensor([rows, H, Dn], 'f16', 'bench.mla.kn16');
    const kr16 = ctx.tensor([rows, Dr], 'f16', 'bench.mla.kr16'), v16 = ctx.tensor([rows, H, Dv], 'f16', 'bench.mla.v16');
    ctx.run([
      mlaPackF16(ctx, { src: q, dst: q16, T, H, D: Dn + Dr, padRows: rows - T }),
      mlaPackF16(ctx, { src: kNope, dst: kn16, T, H, D: Dn, padRows: rows - T }),
      mlaPackF16(ctx, { src: { tensor: kRope, tokenStride: Dr, headStride: 0 }, dst: kr16, T, H: 1, D: Dr, padRows: rows - T }),
      mlaPackF16(ctx, { src: v, dst: v16, T, H, D: Dv, padRows: rows - T }),
    ]);
    let inputs: Promise<Float32Array[]> | undefined;
    const readInputs = () => (inputs ??= Promise.all([q16, kn16, kr16, v16].map((x) => ctx.readF32(x))));
    plans.forEach((plan, n) => {
      const last = n === plans.length - 1;
      cases.push({
        kernel: 'mla-prefill', name: `mla-flash-prefill-f16 ${shape} ${16 * plan.subgroups}x${plan.keyRows}`, dtype: 'f16 · f16 → f32 acc',
        specs: [mlaFlashPrefillF16(ctx, { q: q16, kNope: kn16, kRope: kr16, v: v16, out, Tq: T, Tk: T, H, Dn, Dr, Dv }, plan)],
        flops, tokens: T, anchor, params: { T, ...d, path: 'subgroup-matrix', queryRows: 16 * plan.subgroups, keyRows: plan.keyRows, tau: plan.tau },
        verify: async () => mlaF16SampledError(await readInputs(), await ctx.readF32(out), T, d),
        release: last ? releaser(ctx, [q16, kn16, kr16, v16, out]) : () => undefined,
      });
    });
  }
  return cases;
}

/** Max relative error of a few sampled query rows (all heads) against the f64 reference on the packed halves. */
function mlaF16SampledError([q, kNope, kRope, v]: Float32Array[], out: Float32Array, T: number, d: { H: number; Dn: number; Dr: number; Dv: number }): number {
  const { H, Dn, Dr, Dv } = d, Dq = Dn + Dr;
  let worst = 0;
  for (const i of [0, 1, 63, 64, Math.floor(T / 3), T - 2, T - 1].filter((r) => r < T)) {
    const ref = mlaAttentionReference(q.subarray(i * H * Dq, (i + 1) * H * Dq), { kNope, kRope, v }, 1, i, H, Dn, Dr, Dv, 1 / Math.sqrt(Dq));
    worst = Math.max(worst, relativeErrorOf(out.subarray(i * H * Dv, (i + 1) * H * Dv), ref));
  }
  return worst;
}

/** Max abs difference over the reference's max abs (NaN counts as infinite). */
export function relativeErrorOf(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0, ref = 1e-6;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(actual[i] - expected[i]);
    diff = Number.isNaN(e) ? Infinity : Math.max(diff, e);
    ref = Math.max(ref, Math.abs(expected[i]));
  }
  return diff / ref;
}

function kdaCases(ctx: GpuContext, size: SizeClass): KernelCase[] {
  const dims = size === 'small' ? { H: 2, dk: 16, dv: 16 } : { H: 32, dk: 128, dv: 128 };
  const lengths = size === 'small' ? [40] : [16384, 65536];
  return lengths.flatMap((T) => kdaCasesAt(ctx, size, { T, ...dims }));
}

/**
 * One layer's chunked prefill at T tokens with the default plan, then its two passes timed apart (intra-chunk,
 * parallel over chunks; the state scan, sequential over chunks) and the scan with half-width value slices
 * (twice the workgroups, half the threads each).
 */
function kdaCasesAt(ctx: GpuContext, size: SizeClass, { T, H, dk, dv }: { T: number; H: number; dk: number; dv: number }): KernelCase[] {
  const plan = planKdaChunk(ctx, dk, dv);
  const q = filled(ctx, [T, H, dk], 'f32', 'bench.kda.q', 9, 0.1);
  const k = filled(ctx, [T, H, dk], 'f32', 'bench.kda.k', 10, 0.1);
  const g = filled(ctx, [T, H, dk], 'f32', 'bench.kda.g', 11, 0.02, -0.05);
  const beta = filled(ctx, [T, H], 'f32', 'bench.kda.beta', 12, 0.4, 0.5);
  const v = filled(ctx, [T, H * dv], 'f32', 'bench.kda.v', 13);
  const state = ctx.tensor([H, dk, dv], 'f32', 'bench.kda.state');
  ctx.fill(state, 0);
  const out = ctx.tensor([T, H, dv], 'f32', 'bench.kda.out');
  const scratch = allocKdaChunkScratch(ctx, T, H, dk, dv, plan);
  const args = { q, k, g, beta, v, state, out, T, H, dk, dv };
  const specs = kdaChunkPrefill(ctx, args, scratch, plan);
  const narrow = plan.valueSlice > 2 ? planKdaChunk(ctx, dk, dv, plan.chunk, { valueSlice: plan.valueSlice / 2, scan: 'scalar' }) : undefined;
  const scratchTensors = [scratch.qG, scratch.kG, scratch.w, scratch.u, scratch.p, scratch.decayLast];
  const anchor = size === '48b' ? `fla-chunk-kda T=${T}` : undefined;
  const base = { kernel: 'kda' as const, dtype: 'f32', tokens: T, anchor, release: () => undefined };
  const params = { T, H, dk, dv, chunk: plan.chunk, intra: plan.intra, scan: plan.scan, scanOperands: plan.scanOperands, splitPass: plan.splitPass, valueSlice: plan.valueSlice, scanThreads: plan.scanWorkgroupSize };
  const cases: KernelCase[] = [
    { ...base, name: `kda-chunk T=${T} H=${H} d=${dk}`, specs, params, verify: T <= 16384 ? () => kdaSampledError(ctx, args, specs) : undefined },
    { ...base, name: `kda-chunk-intra T=${T} H=${H} d=${dk}`, specs: [specs[0]], params, anchor: undefined },
    // The scan row: on tensor cores the f16 scan and its output pass (split operands: the scan, after the four
    // split passes when splitPass is 'separate').
    { ...base, name: `kda-chunk-scan T=${T} H=${H} d=${dk} ${plan.scan}${plan.scanOperands === 'f16' && plan.scan !== 'scalar' ? ' f16 operands' : ''} VS=${plan.valueSlice}`, specs: kdaChunkPasses(ctx, args, scratch, plan).scan, params, anchor: undefined },
  ];
  if (plan.scan !== 'scalar' && plan.scanOperands === 'f16') {
    // The f32-class split-operand scan beside the f16 default (same scratch; before/after ratios in one run).
    const split = planKdaChunk(ctx, dk, dv, plan.chunk, { scanOperands: 'split' });
    const splitSpecs = kdaChunkPrefill(ctx, args, scratch, split);
    const splitParams = { ...params, scanOperands: 'split' };
    cases.push(
      { ...base, name: `kda-chunk T=${T} H=${H} d=${dk} scan-operands=split`, specs: splitSpecs, params: splitParams, verify: T <= 16384 ? () => kdaSampledError(ctx, args, splitSpecs) : undefined },
      { ...base, name: `kda-chunk-scan T=${T} H=${H} d=${dk} tensor-cores split operands`, specs: kdaChunkPasses(ctx, args, scratch, split).scan, params: splitParams, anchor: undefined },
    );
  }
  if (plan.scan !== 'scalar') {
    // The scalar scan beside the tensor-core default (before/after ratios in one run).
    const scalar = planKdaChunk(ctx, dk, dv, plan.chunk, { scan: 'scalar' });
    const scalarSpecs = kdaChunkPrefill(ctx, args, scratch, scalar);
    const scalarParams = { ...params, scan: 'scalar', valueSlice: scalar.valueSlice, scanThreads: scalar.scanWorkgroupSize };
    cases.push(
      { ...base, name: `kda-chunk T=${T} H=${H} d=${dk} scan=scalar`, specs: scalarSpecs, params: scalarParams, verify: T <= 16384 ? () => kdaSampledError(ctx, args, scalarSpecs) : undefined },
      { ...base, name: `kda-chunk-scan T=${T} H=${H} d=${dk} scalar VS=${scalar.valueSlice}`, specs: scalarSpecs.slice(1), params: scalarParams, anchor: undefined },
    );
  }
  if (narrow) {
    cases.push({
      ...base, name: `kda-chunk-scan T=${T} H=${H} d=${dk} VS=${narrow.valueSlice}`, anchor: undefined,
      specs: kdaChunkPasses(ctx, args, scratch, narrow).scan,
      params: { ...params, valueSlice: narrow.valueSlice, scanThreads: narrow.scanWorkgroupSize },
    });
  }
  // The intra pass variants side by side (named by variant and tiles, so one run gives old/new ratios): the
  // blocked pass at its plan and with half the channel slice, and the session-4 pairs pass at its default
  // (1024 threads) and 512 threads; then the whole chunk with the pairs pass.
  const tilings: KdaTileOverrides[] = [
    { intra: 'blocked' }, { intra: 'blocked', channelSlice: Math.max(1, plan.channelSlice / 2) }, { intra: 'pairs' }, { intra: 'pairs', workgroupSize: 512 },
  ];
  for (const tiles of tilings) {
    const alt = planKdaChunk(ctx, dk, dv, plan.chunk, tiles);
    const tileName = alt.intra === 'blocked' ? `SW=${alt.channelSlice} XW=${alt.productSlice}` : `SW=${alt.channelSlice} WG=${alt.workgroupSize}`;
    cases.push({
      ...base, name: `kda-chunk-intra T=${T} H=${H} d=${dk} ${alt.intra} ${tileName}`, anchor: undefined,
      specs: [kdaChunkPrefill(ctx, args, scratch, alt)[0]],
      params: { ...params, intra: alt.intra, channelSlice: alt.channelSlice, productSlice: alt.productSlice, workgroupSize: alt.workgroupSize },
    });
  }
  const pairs = planKdaChunk(ctx, dk, dv, plan.chunk, { intra: 'pairs' });
  const pairsSpecs = kdaChunkPrefill(ctx, args, scratch, pairs);
  cases.push({
    ...base, name: `kda-chunk T=${T} H=${H} d=${dk} intra=pairs`, specs: pairsSpecs, params: { ...params, intra: 'pairs' },
    verify: T <= 16384 ? () => kdaSampledError(ctx, args, pairsSpecs) : undefined,
  });
  // The last case frees what they all share.
  cases[cases.length - 1].release = releaser(ctx, [q, k, g, beta, v, state, out, ...scratchTensors]);
  return cases;
}

/**
 * Max relative error of heads 0 and H−1 over the first 1024 tokens against the f64 recurrence, after one run
 * from a zero state (the timing runs left the state advanced). Token t depends only on tokens ≤ t.
 */
async function kdaSampledError(ctx: GpuContext, a: KdaDeltaArgs, specs: DispatchSpec[]): Promise<number> {
  ctx.fill(a.state, 0);
  ctx.run(specs);
  const [q, k, g, beta, v, out] = await Promise.all([a.q, a.k, a.g, a.beta, a.v as GpuTensor, a.out].map((t) => ctx.readF32(t)));
  const n = Math.min(a.T, 1024);
  let worst = 0;
  for (const h of new Set([0, a.H - 1])) {
    const rows = (x: Float32Array, w: number) => Float32Array.from({ length: n * w }, (_, i) => x[(Math.floor(i / w) * a.H + h) * w + (i % w)]);
    const prep: KdaPrepared = { q: rows(q, a.dk), k: rows(k, a.dk), g: rows(g, a.dk), beta: rows(beta, 1) };
    const ref = kdaRecurrentReference(prep, rows(v, a.dv), new Float32Array(a.dk * a.dv), n, 1, a.dk, a.dv);
    worst = Math.max(worst, relativeErrorOf(rows(out, a.dv), ref.o));
  }
  return worst;
}

/** Builds the cases of the prefill-side kernels (the decode ones live in decode-cases.ts). */
export async function buildKernelCases(ctx: GpuContext, kernel: KernelName, size: SizeClass): Promise<KernelCase[]> {
  switch (kernel) {
    case 'gemm': return gemmCases(ctx, size);
    case 'gemv': return gemvCases(ctx, size);
    case 'mla-prefill': return mlaPrefillCases(ctx, size);
    case 'kda':
      // The tensor-core scan becomes the default plan's scan where it compiles (the scalar one gets its own rows).
      await probeKdaScanTensorCores(ctx, size === 'small' ? 16 : 128, size === 'small' ? 16 : 128);
      return kdaCases(ctx, size);
    case 'copy': return copyKernelCases(ctx, size);
    default: return [];
  }
}

/** copyBufferToBuffer between two buffers (timed by timeBufferCopy): kept beside the kernel copy for comparison. */
export function copyCase(size: SizeClass): CopyCase {
  const bytes = size === 'small' ? 1 << 20 : 1 << 30;
  return { name: `device-copy-buffer ${size === 'small' ? '1MiB' : '1GiB'}`, bytes, anchor: COPY_ANCHOR };
}

/**
 * The device copy as a compute kernel (makeCopy's 16-byte path), timed like every other kernel: the roofline
 * GEMV and MoE rows are held to. The default vectors per thread is named plainly (`device-copy 1GiB`, the
 * first copy row, which decode-at-context's roofline takes); other counts follow. GB/s counts read + write.
 */
function copyKernelCases(ctx: GpuContext, size: SizeClass): KernelCase[] {
  const bytes = size === 'small' ? 1 << 20 : 1 << 30;
  const cols = 1 << 16;
  const rows = bytes / 4 / cols;
  const src = filled(ctx, [rows, cols], 'f32', 'bench.copy.src', 41);
  const dst = ctx.tensor([rows, cols], 'f32', 'bench.copy.dst');
  const sizeName = size === 'small' ? '1MiB' : '1GiB';
  const counts = [COPY_VECTORS_PER_THREAD, ...[1, 2, 8].filter((v) => v !== COPY_VECTORS_PER_THREAD)];
  return counts.map((per, i) => ({
    kernel: 'copy', name: i === 0 ? `device-copy ${sizeName}` : `device-copy ${sizeName} vec4×${per}`, dtype: '16-byte vectors',
    specs: [makeCopy(ctx, src, dst, cols, { rows }, 0, per)], bytes: 2 * bytes, anchor: size === '48b' ? COPY_ANCHOR : undefined,
    params: { bytes, rows, cols, vectorsPerThread: per, workgroupSize: elementwiseWorkgroupSize(ctx), path: 'kernel' },
    // Exact copy: any differing value is an error of 1 (the small size only; 1 GiB read back twice is slow).
    verify: size === 'small' ? async () => (Buffer.from((await ctx.readF32(dst)).buffer).equals(Buffer.from((await ctx.readF32(src)).buffer)) ? 0 : 1) : undefined,
    release: i === counts.length - 1 ? releaser(ctx, [src, dst]) : () => undefined,
  }));
}

/**
 * Max relative error (scaled by the row's largest |value|) of up to 8 sampled output rows against an f64 CPU
 * product of the read-back operands; x rounded to f16 when the kernel stages it so.
 */
async function sampledError(ctx: GpuContext, x: GpuTensor, w: GpuTensor, out: GpuTensor, M: number, N: number, K: number, xHalf: boolean): Promise<number> {
  const xs = await ctx.readF32(x);
  const ws = await ctx.readF32(w);
  const got = await ctx.readF32(out);
  const half = (v: number) => f16BitsToF32(f32ToF16Bits(v));
  let worst = 0;
  const rows = Array.from(new Set([0, M - 1, ...Array.from({ length: 6 }, (_, i) => Math.floor(((i + 1) * M) / 7))]));
  for (const m of rows) {
    const ref = new Float64Array(N);
    const row = Float64Array.from(xs.subarray(m * K, (m + 1) * K), (v) => (xHalf ? half(v) : v));
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += row[k] * ws[n * K + k];
      ref[n] = acc;
    }
    // A loop, not Math.max(...ref): the lm_head row has 163840 entries, past the engine's argument limit.
    let scale = 1e-6;
    for (const v of ref) scale = Math.max(scale, Math.abs(v));
    for (let n = 0; n < N; n++) {
      const e = Math.abs(got[m * N + n] - ref[n]) / scale;
      worst = Math.max(worst, Number.isNaN(e) ? Infinity : e);
    }
  }
  return worst;
}
