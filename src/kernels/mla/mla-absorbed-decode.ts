// Wrapper for mla-absorbed-decode.wgsl: one decode token of NoPE MLA over the latent cache, absorbed form
// (q through W_UK, MQA over [c | k_pe] rows split-K across the sequence, reduce, back through W_UV).
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { f32 } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { numel } from '../../engine/gpu/arena.js';
import { requireF32Elements, requirePositiveInts } from '../kda/row-view.js';
import { resolveHeads, type HeadView } from './head-view.js';
import { latentCacheRows } from './mla-latent-append.js';
import { hasF16MatrixConfig } from '../linalg/gemm-subgroup-matrix.js';

const kernel = { name: 'mla/mla-absorbed-decode', url: new URL('./mla-absorbed-decode.wgsl', import.meta.url) };
const tensorCoreSplit = { name: 'mla/mla-absorbed-decode-tc', url: new URL('./mla-absorbed-decode-tc.wgsl', import.meta.url) };
/** Keys per block of the tensor-core split pass; the engine pads the cache to a whole number of them. */
// 32 keys per block: the staged cache rows (32 × (R + Dr + 8) halves) and the score tiles then fit 48 KiB.
const TC_KEY_BLOCK = 32;
const TC_CHAINS = 2;
/** Key ranges a short cache is spread over (about one wave of workgroups on the H100's 132 SMs). */
const TC_MIN_SPLITS = 128;

/** Subgroups of the tensor-core split pass: `chains` per Sᵀ fragment, (keyRows / 16) · (H / 16) fragments. */
const tcSubgroups = (H: number, chains: number, keyRows = TC_KEY_BLOCK) => chains * (keyRows / 16) * (H / 16);

/** Workgroup bytes of the tensor-core split pass (mla-absorbed-decode-tc.wgsl's three arrays). */
function tcWorkgroupBytes(H: number, DC: number, chains: number, keyRows = TC_KEY_BLOCK): number {
  const scratch = Math.max(chains * keyRows * (H + 4), tcSubgroups(H, chains, keyRows) * 256);
  return 4 * Math.ceil((scratch + 1 + H) / 4) * 4 + 2 * H * keyRows + 2 * keyRows * (DC + 8);
}

export type TcRowLoads = 'loop' | 'batch' | 'prefetch' | 'prefetch-half';
/** Share of a thread's row words fetched one block ahead (the rest are fetched at staging); undefined: the loop. */
const PREFETCHED_SHARE: Record<TcRowLoads, number | undefined> = { loop: undefined, batch: 0, prefetch: 1, 'prefetch-half': 0.5 };

export interface MlaDecodeDims { H: number; Dn: number; Dr: number; Dv: number; R: number }

export interface MlaDecodePlan {
  /** Key ranges (split-K workgroups per head block); fixed per plan so one dispatch list serves every length. */
  splits: number;
  /** Split pass on tensor cores (mla-absorbed-decode-tc.wgsl, f16 cache); else one of the two below. */
  tensorCores: boolean;
  /** Tensor-core pass: independent accumulator chains of the score reduction (1 or 2). */
  scoreChains?: number;
  /**
   * Tensor-core pass, how a block's cache rows reach workgroup memory: 'loop' a strided load/store loop;
   * 'batch' all of a thread's loads issued into registers, then stored; 'prefetch' the next block's rows fetched
   * into registers during this block's math (the default; 'prefetch-half': half of them, fewer registers). Compared
   * by tools/device/probe-mla-decode-variants.mjs.
   */
  rowLoads?: TcRowLoads;
  /** Tensor-core pass: every subgroup computes P·V for all head fragments of its columns (default where R allows). */
  pvAllHeads?: boolean;
  /** One subgroup per head, no workgroup memory (SPLIT_SG); else the workgroup-staged split pass. */
  subgroupHeads: boolean;
  headsPerGroup: number;
  keyRows: number;
  lanesPerScore: number;
  workgroupSize: number;
}

/**
 * The tensor-core pass's defaults: the next block's rows fetched during this block's math, and P·V over all head
 * fragments per subgroup where R's column fragments divide among the subgroups (H100, 2026-11-24, against the
 * strided loop of session 6: 1M keys 2.44 → 0.62 ms per layer, 495 → 1958 GB/s; 128k 462 → 1533 GB/s).
 */
export function tcDefaultRowOptions(d: MlaDecodeDims, scoreChains = TC_CHAINS, keyRows = TC_KEY_BLOCK): { rowLoads: TcRowLoads; pvAllHeads: boolean } {
  return { rowLoads: 'prefetch', pvAllHeads: (d.R / 16) % tcSubgroups(d.H, scoreChains, keyRows) === 0 };
}

/**
 * Splits: about one per 64 cached tokens of the capacity (at most 256) unless given. Where subgroups have one
 * fixed size, each head is one subgroup and a workgroup holds up to 32 heads (so they share each cache row
 * through the cache), one key per step; CTXBENCH_MLA_DECODE=workgroup or `subgroupHeads: false`
 * keeps the older pass, whose head block and key tile are the largest whose f32 staging fits workgroup memory.
 */
export function planMlaDecode(
  ctx: GpuContext, d: MlaDecodeDims, capacity: number, splits?: number,
  opts: { subgroupHeads?: boolean; cacheF16?: boolean; tensorCores?: boolean; keyRows?: number; scoreChains?: number; rowLoads?: TcRowLoads; pvAllHeads?: boolean } = {},
): MlaDecodePlan {
  if (splits !== undefined && (!Number.isInteger(splits) || splits < 1)) throw new Error(`mlaAbsorbedDecode: splits ${splits} must be a positive integer`);
  const sg = ctx.caps.subgroupSize;
  const env = process.env.CTXBENCH_MLA_DECODE;
  if (opts.cacheF16 && (opts.tensorCores ?? (env !== 'subgroup' && env !== 'workgroup')) && mlaDecodeTensorCoresUnsupported(ctx, d) === undefined) {
    // One workgroup per key range, all heads in it; ~1024 keys per range (at most 512 ranges) keeps the
    // partials small against the cache it reads. Short caches still get up to TC_MIN_SPLITS ranges of ≥ 64 keys
    // (one step of 32-key blocks × 2 chains): at 8k, 9 ranges left 123 of the H100's 132 SMs idle (94 µs a layer).
    // keyRows and scoreChains other than the defaults are bench trials (mlaAbsorbedDecode validates them).
    const tcSplits = splits ?? Math.min(512, Math.max(Math.ceil(capacity / 1024), Math.min(TC_MIN_SPLITS, Math.ceil(capacity / 64))));
    const keyRows = opts.keyRows ?? TC_KEY_BLOCK, scoreChains = opts.scoreChains ?? TC_CHAINS;
    const defaults = tcDefaultRowOptions(d, scoreChains, keyRows);
    const rowLoads = opts.rowLoads ?? defaults.rowLoads, pvAllHeads = opts.pvAllHeads ?? defaults.pvAllHeads;
    return {
      splits: tcSplits, tensorCores: true, scoreChains, rowLoads, ...(pvAllHeads ? { pvAllHeads: true } : {}), subgroupHeads: false, headsPerGroup: d.H, keyRows, lanesPerScore: 0,
      workgroupSize: tcSubgroups(d.H, scoreChains, keyRows) * sg,
    };
  }
  const chosen = splits ?? Math.min(256, Math.max(1, Math.ceil(capacity / 64)));
  const subgroupsFit = ctx.caps.hasSubgroups && ctx.caps.subgroupMinSize === sg && sg <= ctx.caps.maxInvocationsPerWorkgroup;
  const subgroupHeads = (opts.subgroupHeads ?? process.env.CTXBENCH_MLA_DECODE !== 'workgroup') && subgroupsFit;
  if (subgroupHeads) {
    // Up to 32 heads per workgroup, so every head reads each cache row through the same cache, and one key per
    // step. H100, 128k keys (bench, 2026-11-24): 32 heads 1.00 ms, 4 / 8 / 16 heads 1.19 / 1.22 / 1.56 ms;
    // register tiles of 2 / 4 / 8 keys 1.56 / 3.3 / 6.1 ms; 512 / 1024 splits 1.29 / 1.35 ms.
    const headsPerGroup = Math.max(1, Math.min(d.H, 32, Math.floor(Math.min(ctx.caps.maxInvocationsPerWorkgroup, ctx.caps.maxWorkgroupSizeX) / sg)));
    return { splits: chosen, tensorCores: false, subgroupHeads, headsPerGroup, keyRows: 1, lanesPerScore: sg, workgroupSize: headsPerGroup * sg };
  }
  const mem = ctx.caps.maxWorkgroupStorageBytes;
  const workgroupSize = stagedWorkgroupSize(ctx);
  const DC = d.R + d.Dr;
  const bytes = (hb: number, bk: number) => 4 * (hb * (DC + 1) + bk * (DC + 1) + hb * bk + workgroupSize + 3 * hb);
  let headsPerGroup = Math.min(d.H, 8), keyRows = 8;
  while (bytes(headsPerGroup, keyRows) > mem && keyRows > 1) keyRows /= 2;
  while (bytes(headsPerGroup, keyRows) > mem && headsPerGroup > 1) headsPerGroup -= 1;
  if (bytes(headsPerGroup, keyRows) > mem) throw new Error(`mlaAbsorbedDecode: cache rows of ${DC} do not fit ${mem} B of workgroup memory`);
  let lanesPerScore = 1;
  while (lanesPerScore * 2 * headsPerGroup * keyRows <= workgroupSize && lanesPerScore * 2 <= DC) lanesPerScore *= 2;
  return { splits: chosen, tensorCores: false, subgroupHeads: false, headsPerGroup, keyRows, lanesPerScore, workgroupSize };
}

/** Why the tensor-core split pass cannot run here for these dims, or undefined when it can. */
export function mlaDecodeTensorCoresUnsupported(ctx: GpuContext, d: MlaDecodeDims): string | undefined {
  const c = ctx.caps, DC = d.R + d.Dr;
  if (!c.hasF16 || !hasF16MatrixConfig(ctx)) return 'no f16 16×16×16 → f32 subgroup matrices';
  if (!c.hasSubgroups || c.subgroupMinSize !== c.subgroupSize) return 'subgroups of varying size';
  const colGroups = tcSubgroups(d.H, TC_CHAINS) / (d.H / 16);
  if (d.H % 16 !== 0 || DC % (16 * TC_CHAINS) !== 0 || (d.R / 16) % colGroups !== 0 || d.R % 16 !== 0) {
    return `H (${d.H}) must be a multiple of 16, R + Dr (${DC}) of ${16 * TC_CHAINS}, R (${d.R}) of ${16 * colGroups}`;
  }
  if (tcWorkgroupBytes(d.H, DC, TC_CHAINS) > c.maxWorkgroupStorageBytes) return `${tcWorkgroupBytes(d.H, DC, TC_CHAINS)} B of workgroup memory`;
  const threads = tcSubgroups(d.H, TC_CHAINS) * c.subgroupSize;
  const lanesPerHead = threads / d.H;
  if (threads > Math.min(c.maxInvocationsPerWorkgroup, c.maxWorkgroupSizeX)) return `${threads} invocations per workgroup`;
  if (lanesPerHead > c.subgroupSize || TC_KEY_BLOCK % lanesPerHead !== 0) return `subgroup size ${c.subgroupSize}`;
  return undefined;
}

/** Defines of the tensor-core split pass (mla-absorbed-decode-tc.wgsl) for these dims and plan. */
export function tcSplitDefines(d: { H: number; R: number; Dr: number }, plan: MlaDecodePlan, subgroupSize: number, seqLen: boolean) {
  const DC = d.R + d.Dr, chains = plan.scoreChains ?? TC_CHAINS, subgroups = tcSubgroups(d.H, chains, plan.keyRows);
  return {
    H: d.H, R: d.R, DR: d.Dr, BK: plan.keyRows, TAU: '8.0', SEQ_LEN: seqLen, CHAINS: chains,
    DF_PER_CHAIN: DC / 16 / chains, KF_FRAGS: plan.keyRows / 16,
    OF: d.R / 16 / (subgroups / (plan.pvAllHeads ? 1 : d.H / 16)), PV_ALL_HEADS: Boolean(plan.pvAllHeads), HF_FRAGS: d.H / 16,
    ...tcRowLoadDefines(plan.rowLoads ?? 'loop', plan.keyRows * DC / 4, subgroups * subgroupSize),
  };
}

/** Defines of the tensor-core pass's row loads: the mode and each thread's share of a block's 8-byte words. */
export function tcRowLoadDefines(mode: TcRowLoads, blockWords: number, threads: number) {
  const share = PREFETCHED_SHARE[mode], loads = Math.ceil(blockWords / threads);
  return { ROW_LOADS_MODE: share !== undefined, ROW_LOADS: loads, PREFETCH_LOADS: Math.ceil(loads * (share ?? 0)) };
}

/** Cache rows to allocate for `capacity` tokens: the tensor-core pass reads whole key blocks (zero-fill them). */
export function mlaDecodeCacheRows(plan: MlaDecodePlan, capacity: number): number {
  return plan.tensorCores ? Math.ceil(capacity / plan.keyRows) * plan.keyRows : capacity;
}

/** 128 where allowed, else the largest power of two the device allows (the reduce trees need one). */
function stagedWorkgroupSize(ctx: GpuContext): number {
  let wg = 1;
  while (wg * 2 <= Math.min(128, ctx.caps.maxInvocationsPerWorkgroup, ctx.caps.maxWorkgroupSizeX)) wg *= 2;
  return wg;
}

export interface MlaDecodeScratch {
  qAbs: GpuTensor; // [H, R + Dr]
  oPart: GpuTensor; // [splits, H, R]
  mPart: GpuTensor; // [splits, H]
  lPart: GpuTensor; // [splits, H]
  oLat: GpuTensor; // [H, R]
  qT?: GpuTensor; // f16 [R + Dr, H], tensor-core plans only
  qScale?: GpuTensor; // [H], tensor-core plans only
}

export function allocMlaDecodeScratch(ctx: GpuContext, d: MlaDecodeDims, plan: MlaDecodePlan): MlaDecodeScratch {
  return {
    qAbs: ctx.tensor([d.H, d.R + d.Dr], 'f32', 'mla.qAbs'),
    oPart: ctx.tensor([plan.splits, d.H, d.R], 'f32', 'mla.oPart'),
    mPart: ctx.tensor([plan.splits, d.H], 'f32', 'mla.mPart'),
    lPart: ctx.tensor([plan.splits, d.H], 'f32', 'mla.lPart'),
    oLat: ctx.tensor([d.H, d.R], 'f32', 'mla.oLat'),
    ...(plan.tensorCores ? { qT: ctx.tensor([d.R + d.Dr, d.H], 'f16', 'mla.qT'), qScale: ctx.tensor([d.H], 'f32', 'mla.qScale') } : {}),
  };
}

export interface MlaAbsorbedDecodeArgs extends MlaDecodeDims {
  /** The token's query [H, Dn+Dr] (q_proj output). */
  q: GpuTensor | HeadView;
  /** kv_b_proj.weight [H·(Dn+Dv), R]: per head rows W_UK then W_UV. */
  wkvb: GpuTensor;
  /**
   * Latent cache holding Tk rows, this token's included (append first): f32 [capacity, R + Dr] or f16 rows as
   * mlaLatentAppend writes them (read widened to f32; the attention math stays f32).
   */
  cache: GpuTensor;
  /** Keys to attend over; with seqLen, the upper bound (e.g. the cache capacity) and the counter gives Tk. */
  Tk: number;
  /** Optional u32 [1] GPU counter of the sequence length (this token included), for a replayable list. */
  seqLen?: GpuTensor;
  /** Output [H, Dv] (the o_proj input). */
  out: GpuTensor;
  scale?: number;
}

/** Four dispatches: absorb q, split-K attention, reduce the splits, project the latent output to Dv per head. */
export function mlaAbsorbedDecode(ctx: GpuContext, a: MlaAbsorbedDecodeArgs, scratch: MlaDecodeScratch, plan: MlaDecodePlan): DispatchSpec[] {
  const name = 'mlaAbsorbedDecode';
  requirePositiveInts(name, { Tk: a.Tk, H: a.H, Dn: a.Dn, Dv: a.Dv, R: a.R });
  if (!Number.isInteger(a.Dr) || a.Dr < 0) throw new Error(`${name}: Dr must be a whole number ≥ 0 (got ${a.Dr})`);
  const DC = a.R + a.Dr;
  const q = resolveHeads(name, 'q', a.q, 1, a.H, a.Dn + a.Dr);
  if (q.offset !== 0 || q.headStride !== a.Dn + a.Dr) throw new Error(`${name}: q must be a dense [H, Dn+Dr] row`);
  requireF32Elements(name, 'wkvb', a.wkvb, a.H * (a.Dn + a.Dv) * a.R);
  requireF32Elements(name, 'out', a.out, a.H * a.Dv);
  const cacheRows = latentCacheRows(name, a.cache, DC);
  if (a.Tk > cacheRows) throw new Error(`${name}: cache holds ${cacheRows} rows, Tk is ${a.Tk}`);
  if (plan.tensorCores) {
    if (a.cache.dtype !== 'f16') throw new Error(`${name}: the tensor-core plan needs an f16 latent cache`);
    if (cacheRows < mlaDecodeCacheRows(plan, a.Tk)) throw new Error(`${name}: the tensor-core plan reads whole blocks of ${plan.keyRows} keys; the cache holds ${cacheRows} rows, fewer than Tk = ${a.Tk} rounded up`);
    if (!scratch.qT || !scratch.qScale) throw new Error(`${name}: scratch lacks qT/qScale (allocate it with the tensor-core plan)`);
  }
  if (a.seqLen && (a.seqLen.dtype !== 'u32' || numel(a.seqLen.shape) < 1)) throw new Error(`${name}: seqLen must be a u32 tensor`);
  requireF32Elements(name, 'qAbs', scratch.qAbs, a.H * DC);
  requireF32Elements(name, 'oPart', scratch.oPart, plan.splits * a.H * a.R);
  requireF32Elements(name, 'mPart', scratch.mPart, plan.splits * a.H);
  requireF32Elements(name, 'lPart', scratch.lPart, plan.splits * a.H);
  requireF32Elements(name, 'oLat', scratch.oLat, a.H * a.R);
  // The absorb / reduce / unabsorb passes keep the staged plan's 128-wide workgroups either way.
  const wg = plan.subgroupHeads ? stagedWorkgroupSize(ctx) : plan.workgroupSize;
  const F16 = a.cache.dtype === 'f16';
  const vec4 = a.R % 4 === 0 && a.Dr % 4 === 0;
  // Lane groups per absorbed column (ABSORB) and lanes per output row (UNABSORB); wg is a power of two.
  const DP = Math.min(4, wg), PARTS = Math.min(16, wg);
  // REDUCE: lane groups per latent column, enough that each takes at most ~16 splits (its loads are written out,
  // STEPS per lane), keeping ≥ 8 columns (32-byte rows) per workgroup.
  let SP = Math.min(4, wg);
  while (SP * 16 < plan.splits && SP * 2 <= wg / 8) SP *= 2;
  // Loads per lane written out by the reduce, absorb and unabsorb passes. Every pass gets all three: the
  // preprocessor expands #unroll before it drops the other passes' code.
  const base = {
    DN: a.Dn, DR: a.Dr, DV: a.Dv, R: a.R, WG: wg,
    STEPS: Math.ceil(plan.splits / SP), ABSORB_STEPS: Math.ceil(a.Dn / DP), UNABSORB_STEPS: Math.ceil(a.R / PARTS),
  };
  const params = [a.Tk, a.H, plan.splits, f32(a.scale ?? 1 / Math.sqrt(a.Dn + a.Dr)), a.Dn, a.R];
  const absorb = ctx.dispatch({ kernel, pass: 'absorb', defines: { ...base, ABSORB: true, DP }, params, bindings: [q.tensor, a.wkvb, scratch.qAbs], workgroups: [Math.ceil(DC / (wg / DP)), a.H] });
  const chains = plan.scoreChains ?? TC_CHAINS;
  if (plan.tensorCores) {
    const colGroups = tcSubgroups(a.H, chains, plan.keyRows) / (plan.pvAllHeads ? 1 : a.H / 16);
    if (plan.keyRows % 16 !== 0 || (DC / 16) % chains !== 0 || (a.R / 16) % colGroups !== 0) {
      throw new Error(`${name}: ${chains} score chains and ${plan.keyRows}-key blocks do not divide R + Dr = ${DC} and R = ${a.R} into whole fragments`);
    }
    if (plan.rowLoads !== undefined && !(plan.rowLoads in PREFETCHED_SHARE)) throw new Error(`${name}: rowLoads ${plan.rowLoads} is not one of ${Object.keys(PREFETCHED_SHARE).join(', ')}`);
    const bytes = tcWorkgroupBytes(a.H, DC, chains, plan.keyRows);
    if (bytes > ctx.caps.maxWorkgroupStorageBytes) throw new Error(`${name}: the tensor-core plan needs ${bytes} B of workgroup memory`);
  }
  const split = plan.tensorCores
    ? [
      ctx.dispatch({ kernel, pass: 'query-f16', defines: { ...base, QT16: true }, params, bindings: [scratch.qAbs, scratch.qT!, scratch.qScale!], workgroups: [a.H, 1] }),
      ctx.dispatch({
        kernel: tensorCoreSplit, pass: 'split-tensor-cores', params,
        defines: tcSplitDefines(a, plan, ctx.caps.subgroupSize, Boolean(a.seqLen)),
        bindings: [scratch.qT!, a.cache, scratch.oPart, scratch.mPart, scratch.lPart, scratch.qScale!, ...(a.seqLen ? [a.seqLen] : [])],
        workgroups: [plan.splits, 1],
      }),
    ]
    : [ctx.dispatch({
      kernel,
      pass: plan.subgroupHeads ? 'split-subgroup-heads' : 'split-staged',
      defines: plan.subgroupHeads
        ? { ...base, SPLIT_ANY: true, SPLIT_SG: true, F16, VEC4: vec4, SCALAR_CACHE: !vec4, HB: plan.headsPerGroup, BK: plan.keyRows, SEQ_LEN: Boolean(a.seqLen) }
        : { ...base, SPLIT_ANY: true, SPLIT: true, F16, SCALAR_CACHE: true, HB: plan.headsPerGroup, BK: plan.keyRows, LPS: plan.lanesPerScore, SEQ_LEN: Boolean(a.seqLen) },
      params,
      bindings: [scratch.qAbs, a.cache, scratch.oPart, scratch.mPart, scratch.lPart, ...(a.seqLen ? [a.seqLen] : [])],
      workgroups: [plan.splits, Math.ceil(a.H / plan.headsPerGroup)],
    })];
  return [
    absorb,
    ...split,
    ctx.dispatch({ kernel, pass: 'reduce', defines: { ...base, REDUCE: true, SP }, params, bindings: [scratch.oPart, scratch.mPart, scratch.lPart, scratch.oLat], workgroups: [Math.ceil(a.R / (wg / SP)), a.H] }),
    ctx.dispatch({ kernel, pass: 'unabsorb', defines: { ...base, UNABSORB: true, PARTS }, params, bindings: [scratch.oLat, a.wkvb, a.out], workgroups: [Math.ceil(a.Dv / (wg / PARTS)), a.H] }),
  ];
}
