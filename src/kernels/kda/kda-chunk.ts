// Wrapper for the chunked KDA prefill (intra-chunk pass, then the sequential state scan) over the same [H, dk, dv]
// f32 state that kdaRecurrentStep updates, so a prefill hands its state straight to decode. Intra: kda-chunk-intra
// (pairs) or kda-chunk-intra-blocked. Scan: kda-chunk-scan (scalar f32, the reference and fallback) or, where
// probeKdaScanTensorCores compiled it, kda-chunk-scan-tc on subgroup matrices, whose f16 hi/lo operands the blocked
// intra pass writes directly (SPLIT_OUT) or kda-chunk-split16 makes from the f32 scratch (splitPass 'separate').
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { numel } from '../../engine/gpu/arena.js';
import { checkDeltaArgs, type KdaDeltaArgs } from './kda-recurrent.js';
import { hasF16MatrixConfig } from '../linalg/gemm-subgroup-matrix.js';
import { allocKdaScanF16Scratch, buildKdaScanF16, kdaScanF16Passes, kdaScanF16Problem, type KdaScanF16Scratch } from './kda-chunk-scan-f16.js';

const intraKernel = { name: 'kda/kda-chunk-intra', url: new URL('./kda-chunk-intra.wgsl', import.meta.url) };
const intraBlockedKernel = { name: 'kda/kda-chunk-intra-blocked', url: new URL('./kda-chunk-intra-blocked.wgsl', import.meta.url) };
const scanKernel = { name: 'kda/kda-chunk-scan', url: new URL('./kda-chunk-scan.wgsl', import.meta.url) };
const scanTcKernel = { name: 'kda/kda-chunk-scan-tc', url: new URL('./kda-chunk-scan-tc.wgsl', import.meta.url) };
const split16Kernel = { name: 'kda/kda-chunk-split16', url: new URL('./kda-chunk-split16.wgsl', import.meta.url) };

/** Tile decisions, derived from the device limits (kept visible so tests and benches can print them). */
export interface KdaChunkPlan {
  chunk: number;
  /**
   * Intra pass: 'blocked' (sub-chunk reference rows, blocked (I + L)⁻¹, register tiles; kda-chunk-intra-blocked)
   * or 'pairs' (one pair per thread, row-by-row inverse; session 4). CTXBENCH_KDA_INTRA=pairs picks the old one.
   */
  intra: KdaIntraVariant;
  /** Channels per slice when the intra pass stages k, q and G in workgroup memory. */
  channelSlice: number;
  /** Columns per T·X slice of the blocked intra pass (a multiple of 4). */
  productSlice: number;
  /** Threads of an intra-pass workgroup (the blocked pass always runs 256). */
  workgroupSize: number;
  /**
   * Scan: 'scalar' (kda-chunk-scan, f32), 'tensor-cores' (split16 + kda-chunk-scan-tc) or 'emulated' (the
   * tensor-core scan with its matrix builtins done in scalar code: tests on devices without subgroup matrices).
   * Default: tensor cores where probeKdaScanTensorCores succeeded (the engine probes it for f16/q8
   * weights unless CTXBENCH_KDA_SCAN=scalar); CTXBENCH_KDA_SCAN=scalar|tensor-cores forces one.
   */
  scan: KdaScanVariant;
  /**
   * Where the tensor-core scan's split operands come from: 'fused' (the blocked intra pass writes q̃G, kG, W, P as
   * f16 hi/lo pairs, SPLIT_OUT: four dispatches fewer) or 'separate' (f32 intra, then four kda-chunk-split16
   * passes in place). Default 'fused' where it can run (blocked intra, product slice a multiple of 16), else
   * 'separate'; CTXBENCH_KDA_SPLIT=separate|fused forces one. The scalar scan ignores it (f32 scratch).
   */
  splitPass: KdaSplitPass;
  /**
   * Operands of the tensor-core scan: 'split' (kda-chunk-scan-tc: hi/lo on both sides of every product,
   * f32-class, outputs inside the sequential loop) or 'f16' (kda-chunk-scan-f16 + kda-chunk-out-f16: f16 hi parts
   * only, as FLA's bf16, the state kept f32; the loop carries only V' and S, the outputs run for all chunks at
   * once). Default 'f16' where it fits (H100, 16k: scan 5.8 → 3.5 ms; logits of the dense 48B twin against the
   * exact path L2 2.26e-3 → 2.57e-3), else 'split'; CTXBENCH_KDA_SCAN_OPERANDS=split|f16 forces one. The scalar
   * scan ignores it.
   */
  scanOperands: KdaScanOperands;
  /**
   * Step 3 of the blocked intra pass (W = T·X, U = T·βV): 'scalar' (f32 register blocks) or 'tensor-cores'
   * (TX_MMA: 16×16×16 subgroup matrices on f16 T and X, f32 results; the channel slice shrinks to make room for the
   * f16 staging). Default 'scalar': on the H100 at 16k, d 128 the staging forces channel slice 8 and product
   * slice 48, and the intra pass went 4.69 → 5.46 ms (whole chunk 8.32 → 9.04). Opt in with tiles or
   * CTXBENCH_KDA_INTRA_PRODUCTS=tensor-cores (the tensor-core or emulated scan with the fused split).
   */
  intraProducts: KdaIntraProducts;
  /** Value columns per scan workgroup (even; the scan's grid is ceil(dv / valueSlice) × heads; 16 on tensor cores). */
  valueSlice: number;
  /** Threads of a scan workgroup: one per 4-row × 2-column register block of a chunk's V' and O. */
  scanWorkgroupSize: number;
}

export type KdaIntraVariant = 'blocked' | 'pairs';
export type KdaScanVariant = 'scalar' | 'tensor-cores' | 'emulated';
export type KdaSplitPass = 'fused' | 'separate';
export type KdaScanOperands = 'split' | 'f16';
export type KdaIntraProducts = 'scalar' | 'tensor-cores';
export interface KdaTileOverrides {
  valueSlice?: number; channelSlice?: number; workgroupSize?: number; intra?: KdaIntraVariant; scan?: KdaScanVariant; splitPass?: KdaSplitPass; scanOperands?: KdaScanOperands;
  intraProducts?: KdaIntraProducts;
}

/**
 * Workgroup vec4s of the blocked intra pass's shared scratch: the largest of the pair pass, the inverse and T·X
 * (with TX_MMA, X is staged as f16 outside it).
 */
function blockedScratchVec4(chunk: number, slice: number, productSlice: number, mma = false): number {
  const cp = roundUp(chunk, 16), nb = cp / 16;
  // Pair pass: five CP-row operands and the column operands per channel, each channel padded by one vec4.
  return Math.max((5 * (cp / 4 + 1) + 2 * nb * (nb - 1) + 1) * slice, nb > 1 ? 192 : 0, mma ? 0 : (cp * productSlice) / 4);
}

/**
 * Workgroup bytes of the blocked intra pass: T (CP²), the scratch, the quad sums and β of the chunk; with TX_MMA
 * also T and one X slice as f16 (rows padded by 8 halves). WGSL cannot alias an f16 array onto the f32 scratch,
 * so those are extra; the f32 results reuse T's own array once T16 holds it.
 */
function blockedBytes(chunk: number, slice: number, productSlice: number, mma = false): number {
  const cp = roundUp(chunk, 16);
  const f16Staging = mma ? 2 * cp * (cp + 8) + 2 * cp * (productSlice + 8) : 0;
  return 4 * (cp * cp + slice * (cp / 4 + 1) + cp) + 16 * blockedScratchVec4(chunk, slice, productSlice, mma) + f16Staging;
}

/**
 * Channel and product slices of the blocked pass within `mem` bytes: channels first (16 unless told), then the
 * widest product slice. TX_MMA: product slices of whole 16-column tiles, at most CP (the results reuse T's CP²
 * floats); undefined if none fits.
 */
function blockedSlices(mem: number, chunk: number, tiles: KdaTileOverrides, mma: boolean): { channelSlice: number; productSlice: number } | undefined {
  const minProduct = mma ? 16 : 4;
  let channelSlice = tiles.channelSlice ?? 16;
  while (channelSlice > 1 && blockedBytes(chunk, channelSlice, minProduct, mma) > mem) channelSlice /= 2;
  let productSlice = mma ? Math.min(64, 16 * Math.floor(roundUp(chunk, 16) / 16)) : 64;
  while (productSlice > minProduct && blockedBytes(chunk, channelSlice, productSlice, mma) > mem) productSlice = mma ? productSlice - 16 : productSlice / 2;
  if (mma && blockedBytes(chunk, channelSlice, productSlice, mma) > mem) return undefined;
  return { channelSlice, productSlice };
}

function intraVariant(tiles: KdaTileOverrides): KdaIntraVariant {
  const chosen = tiles.intra ?? process.env.CTXBENCH_KDA_INTRA ?? 'blocked';
  if (chosen !== 'blocked' && chosen !== 'pairs') throw new Error(`kdaChunkPrefill: intra variant '${chosen}' must be blocked or pairs (CTXBENCH_KDA_INTRA)`);
  return chosen;
}

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

/** "a or b", "a, b or c": the allowed values of a switch in its error message. */
const choices = (values: readonly string[]) => `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;

/**
 * A plan switch as asked: the tiles' value, else the environment variable's (the environment may name only
 * `allowed`, the tiles also `tileOnly`), each checked with a one-line error; undefined when neither asks.
 */
function askedSwitch<T extends string>(tileValue: T | undefined, envName: string, label: string, allowed: readonly T[], tileOnly: readonly T[] = []): T | undefined {
  const env = process.env[envName];
  if (env !== undefined && !allowed.includes(env as T)) throw new Error(`kdaChunkPrefill: ${envName}='${env}' must be ${choices(allowed)}`);
  const chosen = tileValue ?? env;
  const any = [...allowed, ...tileOnly];
  if (chosen !== undefined && !any.includes(chosen as T)) throw new Error(`kdaChunkPrefill: ${label} '${chosen}' must be ${choices(any)}`);
  return chosen as T | undefined;
}

/**
 * Fused unless asked otherwise or impossible: SPLIT_OUT lives in the blocked pass only, and its product must
 * cover whole 16-column groups (it overwrites parked X with the split form group by group).
 */
function splitPassFor(tiles: KdaTileOverrides, intra: KdaIntraVariant, productSlice: number): KdaSplitPass {
  const chosen = askedSwitch<KdaSplitPass>(tiles.splitPass, 'CTXBENCH_KDA_SPLIT', 'split pass', ['fused', 'separate']);
  const why = intra !== 'blocked' ? 'the pairs intra pass writes f32 only' : productSlice % 16 ? `product slice ${productSlice} is not a multiple of 16` : undefined;
  if (chosen === 'fused' && why) throw new Error(`kdaChunkPrefill: the fused split pass cannot run: ${why}`);
  return chosen ?? (why ? 'separate' : 'fused');
}

/** Workgroup bytes of the scan: state slice, V', and one staging tile of CP channels × CP rows (vec4 rows + pad). */
function scanBytes(dk: number, chunk: number, valueSlice: number): number {
  const cp = roundUp(chunk, 4);
  return 4 * (roundUp(dk, cp) * valueSlice + cp * valueSlice) + 16 * cp * (cp / 4 + 1);
}

/** Workgroup bytes of the tensor-core scan: f16 hi/lo of Ŝ and V̂', f32 results, max slots and the f32 state slice. */
function scanTcBytes(dk: number, chunk: number): number {
  return 2 * (2 * dk * 16 + 2 * chunk * 16) + 4 * (2 * chunk * 16 + dk * 16 + chunk / 8) + 4 * dk * 16;
}

/** Threads of a tensor-core scan workgroup: one subgroup per 16-row tile of W·S and of q̃G·S. */
const scanTcThreads = (ctx: GpuContext, chunk: number) => 2 * (chunk / 16) * ctx.caps.subgroupSize;

/** Why the tensor-core scan (or its emulation) cannot run these dims here, or undefined. */
export function kdaScanTensorCoreProblem(ctx: GpuContext, dk: number, dv: number, chunk: number, emulated = false): string | undefined {
  if (!ctx.caps.hasF16) return 'no shader-f16';
  if (!ctx.caps.hasSubgroups) return 'no subgroups';
  if (!emulated && !hasF16MatrixConfig(ctx)) return 'no f16→f32 16×16×16 subgroup-matrix config';
  if (dk % 16 || dv % 16 || chunk % 16) return `dk ${dk}, dv ${dv} and chunk ${chunk} must be multiples of 16`;
  if (256 % ctx.caps.subgroupSize) return `subgroup size ${ctx.caps.subgroupSize} does not divide a 16×16 tile`;
  if (scanTcBytes(dk, chunk) > ctx.caps.maxWorkgroupStorageBytes) return `needs ${scanTcBytes(dk, chunk)} B of workgroup memory`;
  if (scanTcThreads(ctx, chunk) > ctx.caps.maxInvocationsPerWorkgroup) return 'workgroup too large';
  return undefined;
}

const scanProbes = new WeakMap<GpuContext, Map<string, string | undefined>>();
const probeKey = (dk: number, chunk: number) => `${dk}/${chunk}`;

/**
 * Compiles the tensor-core scan for these dims under an error scope, once per context; afterwards planKdaChunk
 * picks it by default. Returns why it cannot run, or undefined. lavapipe has no subgroup matrices: there it only
 * records the reason.
 */
export async function probeKdaScanTensorCores(ctx: GpuContext, dk: number, dv: number, chunk = 64): Promise<string | undefined> {
  let known = scanProbes.get(ctx);
  if (!known) scanProbes.set(ctx, (known = new Map()));
  const key = probeKey(dk, chunk);
  if (known.has(key)) return known.get(key);
  let why = kdaScanTensorCoreProblem(ctx, dk, dv, chunk);
  why ??= await ctx.shaderRejection(() => {
    ctx.pipelines.get(scanTcKernel, { DK: dk, C: chunk, EMULATE: false });
    for (const P_MATRIX of [false, true]) ctx.pipelines.get(split16Kernel, { P_MATRIX });
    // The default intra pass with the fused split (f16 storage writes), as planKdaChunk will pick it.
    const plan = planKdaChunk(ctx, dk, dv, chunk, { scan: 'scalar' });
    if (plan.intra === 'blocked' && plan.productSlice % 16 === 0) ctx.pipelines.get(intraBlockedKernel, blockedIntraDefines(plan, dk, true));
  });
  const whyF16 = why ?? kdaScanF16Problem(ctx, dk, chunk) ?? await ctx.shaderRejection(() => buildKdaScanF16(ctx, dk, chunk));
  known.set(key, why);
  known.set(`${key}/f16`, whyF16);
  return why;
}

/**
 * 'f16' where it fits (and, on tensor cores, compiled in the probe), else 'split'; tiles, then
 * CTXBENCH_KDA_SCAN_OPERANDS, may ask for either ('f16' where it cannot run is an error).
 */
function scanOperandsFor(ctx: GpuContext, tiles: KdaTileOverrides, scan: KdaScanVariant, dk: number, chunk: number): KdaScanOperands {
  const chosen = askedSwitch<KdaScanOperands>(tiles.scanOperands, 'CTXBENCH_KDA_SCAN_OPERANDS', 'scan operands', ['split', 'f16']);
  const why = kdaScanF16Problem(ctx, dk, chunk) ?? (scan === 'tensor-cores' ? scanProbes.get(ctx)?.get(`${probeKey(dk, chunk)}/f16`) : undefined);
  if (chosen === 'f16' && why) throw new Error(`kdaChunkPrefill: the f16 scan cannot run here: ${why}`);
  return chosen ?? (why ? 'split' : 'f16');
}

/** Why TX_MMA cannot run this plan here, or undefined. */
function intraProductsProblem(ctx: GpuContext, intra: KdaIntraVariant, splitPass: KdaSplitPass, chunk: number): string | undefined {
  if (intra !== 'blocked' || splitPass !== 'fused') return 'it needs the blocked intra pass with the fused split';
  if (!blockedSlices(ctx.caps.maxWorkgroupStorageBytes, chunk, {}, true)) return `its f16 staging does not fit ${ctx.caps.maxWorkgroupStorageBytes} B of workgroup memory`;
  return undefined;
}

/**
 * 'scalar' unless tiles, then CTXBENCH_KDA_INTRA_PRODUCTS, ask for 'tensor-cores' (an error where it cannot run;
 * an emulated scan runs it emulated).
 */
function intraProductsFor(
  ctx: GpuContext, tiles: KdaTileOverrides, intra: KdaIntraVariant, splitPass: KdaSplitPass, chunk: number,
): KdaIntraProducts {
  const chosen = askedSwitch<KdaIntraProducts>(tiles.intraProducts, 'CTXBENCH_KDA_INTRA_PRODUCTS', 'intra products', ['scalar', 'tensor-cores']);
  const why = intraProductsProblem(ctx, intra, splitPass, chunk);
  if (chosen === 'tensor-cores' && why) throw new Error(`kdaChunkPrefill: the intra pass's tensor-core products cannot run here: ${why}`);
  return chosen ?? 'scalar';
}

function scanVariant(ctx: GpuContext, dk: number, dv: number, chunk: number, tiles: KdaTileOverrides): KdaScanVariant {
  const chosen = askedSwitch<KdaScanVariant>(tiles.scan, 'CTXBENCH_KDA_SCAN', 'scan variant', ['scalar', 'tensor-cores'], ['emulated']);
  const probed = scanProbes.get(ctx)?.has(probeKey(dk, chunk));
  const probeProblem = scanProbes.get(ctx)?.get(probeKey(dk, chunk));
  if (chosen === undefined) return probed && !probeProblem ? 'tensor-cores' : 'scalar';
  if (chosen === 'scalar') return chosen;
  const why = kdaScanTensorCoreProblem(ctx, dk, dv, chunk, chosen === 'emulated') ?? (chosen === 'tensor-cores' ? probeProblem : undefined);
  if (why) throw new Error(`kdaChunkPrefill: the ${chosen} scan cannot run here: ${why}`);
  return chosen;
}

/**
 * Chunk C: the spec's 64 (at most) unless the intra pass's C×C f32 matrix (plus two small rows) would not fit
 * the device's workgroup memory; the scan's state slice, V' and staging tile must fit as well. `tiles`
 * overrides the tile choices (benches compare them: narrower slices, smaller workgroups, more of them per SM).
 */
export function planKdaChunk(ctx: GpuContext, dk: number, dv: number, requestedChunk?: number, tiles: KdaTileOverrides = {}): KdaChunkPlan {
  const { valueSlice } = tiles;
  const mem = ctx.caps.maxWorkgroupStorageBytes;
  const maxThreads = Math.min(ctx.caps.maxInvocationsPerWorkgroup, ctx.caps.maxWorkgroupSizeX);
  let chunk = requestedChunk ?? 64;
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 64) throw new Error(`kdaChunkPrefill: chunk ${chunk} must be an integer in 1..64`);
  // Intra pass: C×C matrix, a C row, dk gate row, and three C × (slice + 1) staging tiles.
  const intra = intraVariant(tiles);
  const pairsBytes = (c: number, slice: number) => 4 * (c * c + c + dk + 3 * c * (slice + 1));
  const intraBytes = intra === 'pairs' ? pairsBytes : (c: number, slice: number) => blockedBytes(c, slice, 4);
  while (chunk > 4 && (intraBytes(chunk, 1) > mem || scanBytes(dk, chunk, 2) > mem)) chunk = Math.floor(chunk / 2);
  // Blocked: 16 channels per slice fill the 48 KiB of an H100 (32 would need 53 KiB of scratch alone).
  let channelSlice = tiles.channelSlice ?? (intra === 'pairs' ? 32 : 16);
  while (channelSlice > 1 && intraBytes(chunk, channelSlice) > mem) channelSlice /= 2;
  let productSlice = 64;
  while (productSlice > 4 && blockedBytes(chunk, channelSlice, productSlice) > mem) productSlice /= 2;
  const cp = roundUp(chunk, 4);
  let vs = 2;
  const widest = valueSlice ?? Math.min(32, Math.max(2, 2 ** Math.ceil(Math.log2(dv))));
  while (vs * 2 <= widest && scanBytes(dk, chunk, vs * 2) <= mem && (cp / 4) * vs <= maxThreads) vs *= 2;
  if (valueSlice !== undefined && vs !== valueSlice) throw new Error(`kdaChunkPrefill: value slice ${valueSlice} must be a power of two ≥ 2 that fits ${mem} B of workgroup memory`);
  if (scanBytes(dk, chunk, vs) > mem) throw new Error(`kdaChunkPrefill: dk ${dk} too large for ${mem} B of workgroup memory`);
  // 1024 threads: on the H100 the intra pass ran 1.4–1.6× faster than with 256 (its per-thread loops are latency-bound).
  const workgroupSize = intra === 'pairs' ? Math.min(tiles.workgroupSize ?? 1024, maxThreads) : 256;
  if (workgroupSize > maxThreads) throw new Error(`kdaChunkPrefill: the blocked intra pass needs 256 threads, the device allows ${maxThreads}`);
  const scan = scanVariant(ctx, dk, dv, chunk, tiles);
  if (scan !== 'scalar') {
    const splitPass = splitPassFor(tiles, intra, productSlice);
    const scanOperands = scanOperandsFor(ctx, tiles, scan, dk, chunk);
    const intraProducts = intraProductsFor(ctx, tiles, intra, splitPass, chunk);
    const slices = intraProducts === 'tensor-cores' ? blockedSlices(mem, chunk, tiles, true)! : { channelSlice, productSlice };
    return { chunk, intra, scan, splitPass, scanOperands, intraProducts, ...slices, workgroupSize, valueSlice: 16, scanWorkgroupSize: scanTcThreads(ctx, chunk) };
  }
  return {
    chunk, intra, scan, splitPass: 'separate', scanOperands: 'split', intraProducts: 'scalar', channelSlice, productSlice, workgroupSize, valueSlice: vs,
    scanWorkgroupSize: (cp / 4) * (vs / 2),
  };
}

/** Per-prefill scratch (f32): q̃⊙e^G, k⊙e^(G_last−G), W [T, H, dk]; U [T, H, dv]; P [chunks, H, C, C]; e^G_last. */
export interface KdaChunkScratch {
  maxTokens: number;
  chunk: number;
  qG: GpuTensor;
  kG: GpuTensor;
  w: GpuTensor;
  u: GpuTensor;
  p: GpuTensor;
  decayLast: GpuTensor;
  /** scanOperands 'f16' only: the scan's hand-over to the output pass. */
  f16?: KdaScanF16Scratch;
}

export function kdaChunkScratchBytes(maxTokens: number, H: number, dk: number, dv: number, chunk: number): number {
  const chunks = Math.ceil(maxTokens / chunk), rows = chunks * chunk;
  return 4 * (3 * rows * H * dk + rows * H * dv + chunks * H * chunk * chunk + chunks * H * dk);
}

/**
 * Longest prefill piece whose every scratch tensor fits one binding (each [T, H, dk] f32 tensor reaches 2 GiB
 * at 128k tokens with the 48B's 32 × 128 heads). Longer prompts go through kdaChunkPrefill in pieces.
 */
export function kdaChunkMaxTokens(ctx: GpuContext, H: number, dk: number, dv: number, plan: KdaChunkPlan): number {
  // The f16 scan's entry states take dk·dv halves per chunk and head.
  const f16 = plan.scan !== 'scalar' && plan.scanOperands === 'f16';
  const perToken = Math.max(4 * H * Math.max(dk, dv, plan.chunk), f16 ? (2 * H * dk * dv) / plan.chunk : 0);
  const tokens = Math.floor(ctx.caps.maxBindingBytes / perToken);
  return Math.max(plan.chunk, tokens - (tokens % plan.chunk));
}

/**
 * Allocates scratch for prefills of up to maxTokens (split longer prompts into pieces; the state carries). Rows
 * come in whole chunks: the tensor-core scan reads operands in 16-row tiles, and the split (fused into the intra
 * pass, or separate) zeroes the tail.
 */
export function allocKdaChunkScratch(
  ctx: GpuContext, maxTokens: number, H: number, dk: number, dv: number, plan: KdaChunkPlan,
): KdaChunkScratch {
  const chunks = Math.ceil(maxTokens / plan.chunk), rows = chunks * plan.chunk;
  return {
    maxTokens,
    chunk: plan.chunk,
    qG: ctx.tensor([rows, H, dk], 'f32', 'kda.qG'),
    kG: ctx.tensor([rows, H, dk], 'f32', 'kda.kG'),
    w: ctx.tensor([rows, H, dk], 'f32', 'kda.W'),
    u: ctx.tensor([rows, H, dv], 'f32', 'kda.U'),
    p: ctx.tensor([chunks, H, plan.chunk, plan.chunk], 'f32', 'kda.P'),
    decayLast: ctx.tensor([chunks, H, dk], 'f32', 'kda.decayLast'),
    f16: plan.scan !== 'scalar' && plan.scanOperands === 'f16' ? allocKdaScanF16Scratch(ctx, maxTokens, H, dk, dv, plan.chunk) : undefined,
  };
}

export function freeKdaChunkScratch(ctx: GpuContext, s: KdaChunkScratch): void {
  for (const t of [s.qG, s.kG, s.w, s.u, s.p, s.decayLast]) ctx.arena.free(t);
  if (s.f16) for (const t of Object.values(s.f16)) ctx.arena.free(t);
}

function blockedIntraDefines(plan: KdaChunkPlan, dk: number, splitOut: boolean) {
  // TX_MMA and EMULATE only where used, so the scalar-product pipelines keep their cache keys.
  const mma = splitOut && plan.intraProducts === 'tensor-cores';
  return {
    DK: dk, C: plan.chunk, WG: plan.workgroupSize, SW: plan.channelSlice, CP: roundUp(plan.chunk, 16), XW: plan.productSlice,
    SV: blockedScratchVec4(plan.chunk, plan.channelSlice, plan.productSlice, mma), SPLIT_OUT: splitOut,
    ...(mma ? { TX_MMA: true, EMULATE: plan.scan === 'emulated' } : {}),
  };
}

/**
 * Chunked prefill of T tokens: o [T, H, dv] and the state advanced by T tokens (read as the entry state, so
 * a long prompt can be fed in pieces). The intra-chunk pass (chunks × H workgroups), then the scan
 * (ceil(dv / valueSlice) × H workgroups, sequential over chunks inside). On tensor cores q̃G, kG, W and P hold
 * f16 hi/lo pairs, not f32, once the passes ran: written so by the intra pass (splitPass 'fused') or rewritten
 * in place by four split passes before the scan ('separate').
 */
export function kdaChunkPrefill(ctx: GpuContext, a: KdaDeltaArgs, scratch: KdaChunkScratch, plan: KdaChunkPlan): DispatchSpec[] {
  const { intra, scan } = kdaChunkPasses(ctx, a, scratch, plan);
  return [intra, ...scan];
}

/**
 * The two passes apart (benches time them separately): the intra dispatch and the scan's dispatches (on tensor
 * cores with splitPass 'separate', the four split passes, then the scan; 'fused': the scan alone).
 */
export function kdaChunkPasses(ctx: GpuContext, a: KdaDeltaArgs, scratch: KdaChunkScratch, plan: KdaChunkPlan): { intra: DispatchSpec; scan: DispatchSpec[] } {
  const name = 'kdaChunkPrefill';
  const v = checkDeltaArgs(name, a);
  if (scratch.chunk !== plan.chunk) throw new Error(`${name}: scratch made for chunk ${scratch.chunk}, plan uses ${plan.chunk}`);
  if (a.T > scratch.maxTokens) throw new Error(`${name}: ${a.T} tokens exceed the scratch's ${scratch.maxTokens}`);
  const chunks = Math.ceil(a.T / plan.chunk), rows = chunks * plan.chunk;
  const need: [GpuTensor, number][] = [
    [scratch.qG, rows * a.H * a.dk], [scratch.kG, rows * a.H * a.dk], [scratch.w, rows * a.H * a.dk],
    [scratch.u, a.T * a.H * a.dv], [scratch.p, chunks * a.H * plan.chunk ** 2], [scratch.decayLast, chunks * a.H * a.dk],
  ];
  for (const [t, n] of need) {
    if (numel(t.shape) < n) throw new Error(`${name}: scratch ${t.label} holds ${numel(t.shape)} values, needs ${n}`);
  }
  const max = ctx.caps.maxWorkgroupsPerDimension;
  if (chunks > max || a.H > max) throw new Error(`${name}: ${chunks} chunks × ${a.H} heads exceed the grid limit ${max}`);
  const params = [a.T, a.H, a.dv, chunks, v.offset, v.rowStride, a.dk];
  const cp = roundUp(plan.chunk, 4);
  const intraBindings = [a.q, a.k, a.g, a.beta, v.tensor, scratch.qG, scratch.kG, scratch.w, scratch.u, scratch.p, scratch.decayLast];
  const fused = plan.scan !== 'scalar' && plan.splitPass === 'fused';
  if (fused && (plan.intra !== 'blocked' || plan.productSlice % 16 || plan.chunk % 16 || a.dk % 16)) {
    throw new Error(`${name}: the fused split needs the blocked intra pass, chunk, dk and product slice multiples of 16`);
  }
  const intra = ctx.dispatch({
    kernel: plan.intra === 'pairs' ? intraKernel : intraBlockedKernel, params,
    defines: plan.intra === 'pairs' ? { DK: a.dk, C: plan.chunk, WG: plan.workgroupSize, SW: plan.channelSlice } : blockedIntraDefines(plan, a.dk, fused),
    bindings: intraBindings,
    workgroups: [chunks, a.H],
  });
  const scanBindings = [scratch.qG, scratch.kG, scratch.w, scratch.u, scratch.p, scratch.decayLast, a.state, a.out];
  if (plan.scan === 'scalar') {
    return {
      intra,
      scan: [ctx.dispatch({
        kernel: scanKernel, params,
        defines: { DK: a.dk, C: plan.chunk, CP: cp, DKP: roundUp(a.dk, cp), VS: plan.valueSlice, WG: plan.scanWorkgroupSize },
        bindings: scanBindings,
        workgroups: [Math.ceil(a.dv / plan.valueSlice), a.H],
      })],
    };
  }
  const why = kdaScanTensorCoreProblem(ctx, a.dk, a.dv, plan.chunk, plan.scan === 'emulated');
  if (why) throw new Error(`${name}: the ${plan.scan} scan cannot run here: ${why}`);
  const split = (t: GpuTensor, values: number, pMatrix: boolean) => {
    const groups = values / 16, [nx, ny] = ctx.grid2d(Math.ceil(groups / 256));
    return ctx.dispatch({
      kernel: split16Kernel, params: [a.T, a.H, a.dk, plan.chunk, groups, nx], defines: { P_MATRIX: pMatrix },
      bindings: [t], workgroups: [nx, ny],
    });
  };
  const splits = fused ? [] : [
    split(scratch.qG, rows * a.H * a.dk, false), split(scratch.kG, rows * a.H * a.dk, false), split(scratch.w, rows * a.H * a.dk, false),
    split(scratch.p, chunks * a.H * plan.chunk ** 2, true),
  ];
  if (plan.scanOperands === 'f16') {
    if (!scratch.f16) throw new Error(`${name}: the f16 scan needs scratch allocated for a plan with scanOperands 'f16'`);
    const inputs = { ...scratch, T: a.T, H: a.H, dk: a.dk, dv: a.dv, chunk: plan.chunk, emulate: plan.scan === 'emulated', state: a.state, out: a.out };
    return { intra, scan: [...splits, ...kdaScanF16Passes(ctx, inputs, scratch.f16)] };
  }
  return {
    intra,
    scan: [
      ...splits,
      ctx.dispatch({
        kernel: scanTcKernel, params, defines: { DK: a.dk, C: plan.chunk, EMULATE: plan.scan === 'emulated' },
        bindings: scanBindings, workgroups: [a.dv / 16, a.H],
      }),
    ],
  };
}
