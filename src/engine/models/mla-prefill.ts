// MLA prefill attention of the Kimi Linear graph (spec §5, expanded form), chunk-major: for a prefill piece the
// context's keys are visited in key blocks of at most KB tokens. Each block's latent rows go through kv_b_proj
// into ONE scratch K/V shared by every layer, and the flash kernel runs (piece × block), carrying each query
// row's online-softmax state (unnormalised output, running max, sum) across blocks in a small carry tensor.
// So expanded K/V costs O(pieceTokens + KB) memory, never O(context × layers); the price is re-expanding the
// context's latent rows once per piece and layer (a GEMM of about 420/pieceTokens of the attention's FLOPs
// at the 48B head sizes; on tensor cores through an f16 copy of kv_b_proj, as the K/V are f16 anyway). Two kernels: the exact f32 one (f32 weights, lavapipe, CTXBENCH_MLA_PREFILL=f32) and
// the tensor-core one on f16 operands (f16 weights, f16 subgroup matrices). Decode (absorbed) is the graph's.
import type { KimiConfig } from '../checkpoint.js';
import type { DispatchSpec, GpuContext } from '../gpu/context.js';
import { rowsView, type GpuTensor } from '../gpu/arena.js';
import { gcd, type MlaLayerWeights } from './kimi-linear-weights.js';
import { makeLinear } from '../../kernels/linalg/matmul.js';
import { makeCopy } from '../../kernels/elementwise/copy.js';
import { mlaLatentUnpack } from '../../kernels/mla/mla-latent-unpack.js';
import { mlaFlashPrefill, type MlaKeyBlock } from '../../kernels/mla/mla-flash-prefill.js';
import { MLA_F16_ROW_MULTIPLE, engineMlaFlashF16Plan, mlaFlashF16Unsupported, mlaFlashPrefillF16, probeMlaFlashF16, roundUpRows, type MlaFlashF16Plan } from '../../kernels/mla/mla-flash-prefill-f16.js';
import { mlaPackF16 } from '../../kernels/mla/mla-pack-f16.js';

/**
 * Default keys per block: 64k, 1 GiB of f16 K/V scratch for the 48B's 32 heads (f32 splits into head groups to fit
 * a binding). H100, 128k prompt (session 11): 16k → 32k → 64k keys per block took the last piece's flash calls
 * 1385 → 1334 → 1306 ms and TTFT 20.22 → 19.75 → 19.51 s (fewer calls, fewer carry round trips and call tails).
 */
export const MLA_KEY_BLOCK_TOKENS = 65536;

/** The prefill part of a sequence's GPU state (fields of SequenceState). */
export interface MlaPrefillState {
  capacity: number;
  decodeOnly?: boolean;
  /** Keys per block (KB): the context is attended to in blocks of this many keys. */
  mlaKeyBlockTokens: number;
  /** Heads per group (exact path): groups take turns where all heads' block K/V would exceed one binding. */
  mlaHeadsPerGroup: number;
  /** Exact path: one key block's expanded K/V of one head group [KB + alignRows, hg·(Dn+Dv)], shared by layers. */
  mlaExpanded?: GpuTensor;
  /** Tensor-core path: one key block's K/V as f16 rows [KB, ...] (KB a multiple of MLA_F16_ROW_MULTIPLE), shared by layers. */
  mlaHalf?: { kNope: GpuTensor; kRope: GpuTensor; v: GpuTensor };
  /** f16 latent caches: f32 rows widened for kv_b_proj, [pieceTokens, R + Dr] (tensor cores) or [KB, R + Dr]. */
  mlaLatentF32?: GpuTensor;
  /** Online-softmax state between key blocks [pieceTokens, heads of one call, Dv + 2]; absent when KB ≥ capacity. */
  mlaCarry?: GpuTensor;
}

export interface MlaPrefillOptions {
  /** Cap on heads per group of the exact path (tests; groups are otherwise chosen to fit one binding). */
  maxHeadsPerGroup?: number;
  /** Keys per block; default CTXBENCH_MLA_KEY_BLOCK, else MLA_KEY_BLOCK_TOKENS (tests set a tiny one). */
  keyBlockTokens?: number;
}

export class MlaPrefill {
  /** MLA prefill on tensor cores (f16 block K/V); else the exact f32 kernel. */
  readonly tensorCores: boolean;
  private readonly alignRows: number;
  private readonly keyBlockTokens: number;
  private readonly maxHeadsPerGroup: number;
  /** The tensor-core flash plan, read once where tensor cores are wanted (CTXBENCH_MLA_FLASH_PLAN may replace it). */
  private readonly flashPlan?: MlaFlashF16Plan;
  private readonly kvbNew?: GpuTensor;
  private readonly mq16?: GpuTensor;
  private readonly moGroup: GpuTensor;
  /** Tensor cores: f16 copies of each layer's kv_b_proj (f32 in the checkpoint), keyed by the f32 tensor. */
  private readonly kvbHalf = new Map<GpuTensor, GpuTensor>();

  /** layers: the MLA layers' weights; f16Weights: their projections are f16 (tensor cores allowed). */
  constructor(private readonly ctx: GpuContext, private readonly config: KimiConfig, layers: MlaLayerWeights[], f16Weights: boolean,
    private readonly pieceTokens: number, opts: MlaPrefillOptions = {}) {
    const m = config.mla, T = pieceTokens, expand = expandDtype();
    this.maxHeadsPerGroup = opts.maxHeadsPerGroup ?? Infinity;
    this.keyBlockTokens = opts.keyBlockTokens ?? keyBlockFromEnv() ?? MLA_KEY_BLOCK_TOKENS;
    if (!Number.isInteger(this.keyBlockTokens) || this.keyBlockTokens < 1) throw new Error(`MLA prefill: keys per block must be a whole number ≥ 1 (got ${this.keyBlockTokens})`);
    this.moGroup = ctx.tensor([T, m.numHeads * m.vHeadDim], 'f32', 'moGroup');
    // Latent views must start at a bindable offset: rows are expanded from the aligned row at or below a start.
    this.alignRows = ctx.caps.minStorageOffsetAlignment / gcd(4 * (m.kvLoraRank + m.qkRopeHeadDim), ctx.caps.minStorageOffsetAlignment);
    const expandRows = T + this.alignRows;
    // Tensor cores only where the weights are f16 anyway (f32 checkpoints keep the exact kernel for parity).
    // CTXBENCH_MLA_PREFILL=f32 forces the exact kernel (fast-vs-exact checks, before/after runs).
    this.flashPlan = T > 1 && f16Weights && process.env.CTXBENCH_MLA_PREFILL !== 'f32' ? engineMlaFlashF16Plan() : undefined;
    this.tensorCores = this.flashPlan !== undefined
      && mlaFlashF16Unsupported(ctx, m.qkNopeHeadDim, m.qkRopeHeadDim, m.vHeadDim, this.flashPlan) === undefined
      && expandRows * m.numHeads * (m.qkNopeHeadDim + m.vHeadDim) * 4 <= ctx.caps.maxBindingBytes;
    if (this.tensorCores) {
      this.kvbNew = ctx.tensor([expandRows, m.numHeads * (m.qkNopeHeadDim + m.vHeadDim)], 'f32', 'kvbNew');
      this.mq16 = ctx.tensor([roundUpRows(T), m.numHeads * (m.qkNopeHeadDim + m.qkRopeHeadDim)], 'f16', 'mq16');
      // Re-expanding every key per piece is a GEMM over the whole context: on tensor cores (f16 weight) it runs
      // 3-5x the scalar f32 one. CTXBENCH_MLA_EXPAND=f32 keeps the f32 weight (before/after runs).
      if (expand === 'f16' && m.kvLoraRank % 2 === 0) {
        const rows = m.numHeads * (m.qkNopeHeadDim + m.vHeadDim);
        ctx.run(layers.map((lw) => {
          const half = ctx.tensor([rows, m.kvLoraRank], 'f16', `${lw.kvb.label}.f16`);
          this.kvbHalf.set(lw.kvb, half);
          return mlaPackF16(ctx, { src: lw.kvb, dst: half, T: rows, H: 1, D: m.kvLoraRank });
        }));
      }
    }
  }

  /**
   * Builds the tensor-core kernel's four key-block variants now (at engine load): the 128×32 plan took 14–18 s to
   * build cold on the H100, which otherwise lands in the first long prompt's TTFT (the driver caches it after).
   */
  async buildKernels(): Promise<void> {
    if (!this.tensorCores) return;
    const m = this.config.mla;
    const why = await probeMlaFlashF16(this.ctx, m.qkNopeHeadDim, m.qkRopeHeadDim, m.vHeadDim, this.flashPlan!);
    if (why) throw new Error(`MLA prefill: the tensor-core kernel did not build: ${why}`);
  }

  /** Prefill buffers of a sequence (its latent caches are the graph's): sized by the key block, not the capacity. */
  allocSequence(seq: MlaPrefillState, latentDtype: 'f32' | 'f16'): void {
    const { ctx, config: c } = this;
    const m = c.mla, DC = m.kvLoraRank + m.qkRopeHeadDim;
    if (seq.decodeOnly || this.pieceTokens === 1) return; // never prefilled in pieces: no expanded K/V
    const { tokens: KB, headsPerGroup: hg } = this.keyBlockPlan(seq.capacity);
    seq.mlaKeyBlockTokens = KB;
    seq.mlaHeadsPerGroup = hg;
    if (this.tensorCores) {
      seq.mlaHalf = {
        kNope: ctx.tensor([KB, m.numHeads, m.qkNopeHeadDim], 'f16', 'mla.block.kNope16'),
        kRope: ctx.tensor([KB, Math.max(m.qkRopeHeadDim, 2)], 'f16', 'mla.block.kRope16'),
        v: ctx.tensor([KB, m.numHeads, m.vHeadDim], 'f16', 'mla.block.v16'),
      };
    } else {
      seq.mlaExpanded = ctx.tensor([KB + this.alignRows, hg * (m.qkNopeHeadDim + m.vHeadDim)], 'f32', 'mla.block.expanded');
    }
    if (latentDtype === 'f16') seq.mlaLatentF32 = ctx.tensor([this.tensorCores ? this.pieceTokens : KB, DC], 'f32', 'mla.latentF32');
    if (KB < seq.capacity) seq.mlaCarry = ctx.tensor([this.pieceTokens, this.tensorCores ? m.numHeads : hg, m.vHeadDim + 2], 'f32', 'mla.carry');
  }

  releaseSequence(seq: MlaPrefillState): void {
    const free = (x?: GpuTensor) => { if (x) this.ctx.arena.free(x); };
    free(seq.mlaExpanded);
    free(seq.mlaLatentF32);
    free(seq.mlaCarry);
    if (seq.mlaHalf) [seq.mlaHalf.kNope, seq.mlaHalf.kRope, seq.mlaHalf.v].forEach(free);
  }

  /**
   * Keys per block and heads per group for a sequence: the requested KB (at most the capacity; a multiple of
   * MLA_F16_ROW_MULTIPLE rows on tensor cores), shrunk only where one block's K/V would exceed one binding. The exact path
   * takes the largest head group (a divisor of the head count, its kv_b_proj rows at a bindable offset) that
   * still fits a block of at least min(KB, 1024) keys.
   */
  keyBlockPlan(capacity: number): { tokens: number; headsPerGroup: number } {
    const m = this.config.mla, Hm = m.numHeads, binding = this.ctx.caps.maxBindingBytes;
    const want = Math.min(this.keyBlockTokens, capacity);
    if (this.tensorCores) {
      const rowBytes = Hm * Math.max(m.qkNopeHeadDim, m.vHeadDim) * 2;
      const fit = Math.floor(binding / rowBytes / MLA_F16_ROW_MULTIPLE) * MLA_F16_ROW_MULTIPLE;
      const tokens = Math.min(roundUpRows(want), fit);
      if (tokens < MLA_F16_ROW_MULTIPLE) throw new Error(`MLA prefill: ${MLA_F16_ROW_MULTIPLE} keys of f16 K/V exceed one binding (${binding} B)`);
      return { tokens, headsPerGroup: Hm };
    }
    const perHead = m.qkNopeHeadDim + m.vHeadDim;
    const align = this.ctx.caps.minStorageOffsetAlignment;
    for (let hg = Math.min(Hm, this.maxHeadsPerGroup); hg >= 1; hg--) {
      if (Hm % hg !== 0) continue;
      // Each group binds its rows of kv_b_proj at a byte offset the device must accept.
      if (hg < Hm && (hg * perHead * m.kvLoraRank * 4) % align !== 0) continue;
      const tokens = Math.min(want, Math.floor(binding / (hg * perHead * 4)) - this.alignRows);
      if (tokens >= Math.min(want, 1024) || (hg === 1 && tokens >= 1)) return { tokens, headsPerGroup: hg };
    }
    throw new Error(`MLA prefill: no head group fits a key block of expanded keys/values in one binding at an offset alignment of ${align} B`);
  }

  /**
   * Attention of T queries at positions pos..pos+T-1 of layer i against every cached latent row 0..pos+T-1
   * (the piece's rows already appended). mq: q_proj output [T, H·(Dn+Dr)]; mo: output [T, H·Dv].
   */
  dispatches(seq: MlaPrefillState, lw: MlaLayerWeights, cache: GpuTensor, pos: number, T: number, mq: GpuTensor, mo: GpuTensor): DispatchSpec[] {
    if (seq.mlaHalf) return this.tensorCorePrefill(seq, lw, cache, pos, T, mq, mo);
    const { ctx, config: c } = this;
    const m = c.mla;
    const Hm = m.numHeads, Dn = m.qkNopeHeadDim, Dr = m.qkRopeHeadDim, Dv = m.vHeadDim, R = m.kvLoraRank;
    const DC = R + Dr, Tk = pos + T, hg = seq.mlaHeadsPerGroup, W = hg * (Dn + Dv);
    const blocks = keyBlocks(Tk, seq.mlaKeyBlockTokens);
    const specs: DispatchSpec[] = [];
    for (let g = 0; g < Hm / hg; g++) {
      const rowBytes = R * 4;
      const kvbGroup: GpuTensor = hg === Hm ? lw.kvb : {
        ...lw.kvb, offset: lw.kvb.offset + g * W * rowBytes, bytes: W * rowBytes, shape: [W, R], label: `${lw.kvb.label}[group ${g}]`,
      };
      const out: GpuTensor = hg === Hm ? mo : { ...this.moGroup, shape: [T, hg * Dv], bytes: T * hg * Dv * 4 };
      for (const [b, { start, length }] of blocks.entries()) {
        // The block's latent rows as f32 (an f16 cache is widened into scratch), then k_nope | v of its keys.
        const { latent, skip } = this.latentRows(seq, cache, start, length, specs);
        const expanded = rowsView(seq.mlaExpanded!, skip + length);
        specs.push(...makeLinear(ctx, latent, kvbGroup, expanded, { xRowStride: DC }));
        specs.push(mlaFlashPrefill(ctx, {
          q: { tensor: mq, offset: g * hg * (Dn + Dr), tokenStride: Hm * (Dn + Dr), headStride: Dn + Dr },
          kNope: { tensor: expanded, offset: skip * W, tokenStride: W, headStride: Dn + Dv },
          kRope: Dr > 0 ? { tensor: latent, offset: skip * DC + R, tokenStride: DC, headStride: 0 } : undefined,
          v: { tensor: expanded, offset: skip * W + Dn, tokenStride: W, headStride: Dn + Dv },
          out, Tq: T, Tk, H: hg, Dn, Dr, Dv, keyBlock: this.carried(seq, T, blocks.length, b, start, length),
        }));
      }
      if (hg !== Hm) specs.push(makeCopy(ctx, out, mo, hg * Dv, { rows: T, dstOffset: g * hg * Dv, dstStride: Hm * Dv }));
    }
    return specs;
  }

  /**
   * Per key block: its latent rows expanded through kv_b_proj in chunks of at most pieceTokens rows (the f32
   * scratch kvbNew) and packed as f16 into the block scratch (pad rows zeroed), then the tensor-core kernel.
   */
  private tensorCorePrefill(seq: MlaPrefillState, lw: MlaLayerWeights, cache: GpuTensor, pos: number, T: number, mq: GpuTensor, mo: GpuTensor): DispatchSpec[] {
    const { ctx, config: c } = this;
    const m = c.mla;
    const Hm = m.numHeads, Dn = m.qkNopeHeadDim, Dr = m.qkRopeHeadDim, Dv = m.vHeadDim, R = m.kvLoraRank;
    const DC = R + Dr, W = Hm * (Dn + Dv), Tk = pos + T;
    const half = seq.mlaHalf!;
    const blocks = keyBlocks(Tk, seq.mlaKeyBlockTokens);
    const specs: DispatchSpec[] = [mlaPackF16(ctx, { src: mq, dst: this.mq16!, T, H: Hm, D: Dn + Dr, padRows: roundUpRows(T) - T })];
    for (const [b, { start, length }] of blocks.entries()) {
      const padRows = roundUpRows(length) - length;
      for (let r = start; r < start + length;) {
        const n = Math.min(start + length - r, this.pieceTokens);
        const { latent, skip } = this.latentRows(seq, cache, r, n, specs);
        const expanded = rowsView(this.kvbNew!, skip + n);
        const dstRow = r - start, pad = r + n === start + length ? padRows : 0;
        specs.push(
          ...makeLinear(ctx, latent, this.kvbHalf.get(lw.kvb) ?? lw.kvb, expanded, { xRowStride: DC }),
          mlaPackF16(ctx, { src: { tensor: expanded, offset: skip * W, tokenStride: W, headStride: Dn + Dv }, dst: half.kNope, T: n, H: Hm, D: Dn, dstRow, padRows: pad }),
          mlaPackF16(ctx, { src: { tensor: expanded, offset: skip * W + Dn, tokenStride: W, headStride: Dn + Dv }, dst: half.v, T: n, H: Hm, D: Dv, dstRow, padRows: pad }),
        );
        if (Dr > 0) specs.push(mlaPackF16(ctx, { src: { tensor: latent, offset: skip * DC + R, tokenStride: DC, headStride: 0 }, dst: half.kRope, T: n, H: 1, D: Dr, dstRow, padRows: pad }));
        r += n;
      }
      specs.push(mlaFlashPrefillF16(ctx, {
        q: this.mq16!, kNope: half.kNope, kRope: Dr > 0 ? half.kRope : undefined, v: half.v,
        out: mo, Tq: T, Tk, H: Hm, Dn, Dr, Dv, keyBlock: this.carried(seq, T, blocks.length, b, start, length),
      }, this.flashPlan!));
    }
    return specs;
  }

  /**
   * f32 latent rows [start, start + n) for kv_b_proj, starting `skip` rows into the returned view: an f16
   * cache is widened into scratch (skip 0); an f32 cache is viewed from the aligned row at or below start.
   */
  private latentRows(seq: MlaPrefillState, cache: GpuTensor, start: number, n: number, specs: DispatchSpec[]): { latent: GpuTensor; skip: number } {
    const DC = this.config.mla.kvLoraRank + this.config.mla.qkRopeHeadDim;
    if (cache.dtype === 'f16') {
      const latent = rowsView(seq.mlaLatentF32!, n);
      specs.push(mlaLatentUnpack(this.ctx, { cache, row0: start, T: n, DC, out: latent }));
      return { latent, skip: 0 };
    }
    const r0 = start - (start % this.alignRows), M = start + n - r0;
    const latent = { ...cache, offset: cache.offset + r0 * DC * 4, bytes: M * DC * 4, shape: [M, DC], label: `${cache.label}[${r0}:${r0 + M}]` };
    return { latent, skip: start - r0 };
  }

  /** Block b's carry arguments, or none when one block covers every key (the kernel then normalises directly). */
  private carried(seq: MlaPrefillState, T: number, count: number, b: number, start: number, length: number): MlaKeyBlock | undefined {
    if (count === 1) return undefined;
    return { start, length, carry: rowsView(seq.mlaCarry!, T), first: b === 0, last: b === count - 1 };
  }
}

/** Blocks [start, start + length) of KB keys covering keys 0..Tk-1 in ascending order. */
export function keyBlocks(Tk: number, KB: number): { start: number; length: number }[] {
  const blocks = [];
  for (let start = 0; start < Tk; start += KB) blocks.push({ start, length: Math.min(KB, Tk - start) });
  return blocks;
}

function expandDtype(): 'f32' | 'f16' {
  const raw = process.env.CTXBENCH_MLA_EXPAND;
  if (raw === undefined || raw === '' || raw === 'f16') return 'f16';
  if (raw === 'f32') return 'f32';
  throw new Error(`CTXBENCH_MLA_EXPAND must be f32 or f16 (got ${raw})`);
}

function keyBlockFromEnv(): number | undefined {
  const raw = process.env.CTXBENCH_MLA_KEY_BLOCK;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`CTXBENCH_MLA_KEY_BLOCK must be a whole number ≥ 1 (got ${raw})`);
  return n;
}
