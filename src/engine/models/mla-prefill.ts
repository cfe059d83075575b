// MLA prefill attention of the Kimi Linear graph (spec §5, expanded form): the latent rows of the context go
// through kv_b_proj into per-head k_nope and v, then causal flash attention of a prefill piece against them.
// Two paths: the exact f32 kernel (f32 weights, lavapipe, CTXBENCH_MLA_PREFILL=f32) and the tensor-core kernel
// on f16 operands (f16 weights on devices with f16 subgroup matrices). Decode (absorbed form) lives in the graph.
import type { KimiConfig } from '../checkpoint.js';
import type { DispatchSpec, GpuContext } from '../gpu/context.js';
import { rowsView, type GpuTensor } from '../gpu/arena.js';
import { gcd, type MlaLayerWeights } from './kimi-linear-weights.js';
import { makeLinear } from '../../kernels/linalg/matmul.js';
import { makeCopy } from '../../kernels/elementwise/copy.js';
import { mlaLatentUnpack } from '../../kernels/mla/mla-latent-unpack.js';
import { mlaFlashPrefill } from '../../kernels/mla/mla-flash-prefill.js';
import { mlaFlashF16Unsupported, mlaFlashPrefillF16, roundUpRows } from '../../kernels/mla/mla-flash-prefill-f16.js';
import { mlaPackF16 } from '../../kernels/mla/mla-pack-f16.js';

/** The prefill part of a sequence's GPU state (fields of SequenceState). */
export interface MlaPrefillState {
  capacity: number;
  decodeOnly?: boolean;
  /** Expanded keys/values of one head group over the whole context for MLA prefill [capacity, hg·(Dn+Dv)]. */
  mlaExpanded?: GpuTensor;
  /** Heads per group: the expanded K/V of all heads at long contexts exceeds one binding, so groups take turns. */
  mlaHeadsPerGroup: number;
  /**
   * Tensor-core prefill: per MLA layer the expanded keys/values as f16 rows [roundUpRows(capacity), ...], kept
   * across pieces so each piece expands only its own tokens (plus any decoded since, see mlaHalfRows).
   */
  mlaHalf?: ({ kNope: GpuTensor; kRope: GpuTensor; v: GpuTensor } | undefined)[];
  /** Rows of mlaHalf already expanded (decode steps write only the latent cache). */
  mlaHalfRows: number;
  /**
   * f16 latent caches only: f32 rows widened for the prefill kernels, which read latent rows as f32: a piece's
   * rows [pieceTokens, R + Dr] (tensor-core path) or all rows [capacity, R + Dr] (exact path re-expands all keys).
   */
  mlaLatentF32?: GpuTensor;
}

export class MlaPrefill {
  /** MLA prefill on tensor cores (f16 expanded K/V kept per layer); else the f32 kernel re-expands per piece. */
  readonly tensorCores: boolean;
  private readonly alignRows: number;
  private readonly kvbNew?: GpuTensor;
  private readonly mq16?: GpuTensor;
  private readonly moGroup: GpuTensor;

  /**
   * f16Weights: the MLA projections are f16 (tensor cores allowed). lastLayer: the last MLA layer (its piece
   * marks the f16 rows as expanded). maxHeadsPerGroup caps the exact path's head groups (tests, binding limits).
   */
  constructor(private readonly ctx: GpuContext, private readonly config: KimiConfig, f16Weights: boolean,
    private readonly pieceTokens: number, private readonly lastLayer: number, private readonly maxHeadsPerGroup = Infinity) {
    const m = config.mla, T = pieceTokens;
    this.moGroup = ctx.tensor([T, m.numHeads * m.vHeadDim], 'f32', 'moGroup');
    // Tensor cores only where the weights are f16 anyway (f32 checkpoints keep the exact kernel for parity).
    // CTXBENCH_MLA_PREFILL=f32 forces the exact kernel (fast-vs-exact checks, before/after runs).
    this.alignRows = ctx.caps.minStorageOffsetAlignment / gcd(4 * (m.kvLoraRank + m.qkRopeHeadDim), ctx.caps.minStorageOffsetAlignment);
    const expandRows = T + this.alignRows;
    this.tensorCores = T > 1 && f16Weights && process.env.CTXBENCH_MLA_PREFILL !== 'f32'
      && mlaFlashF16Unsupported(ctx, m.qkNopeHeadDim, m.qkRopeHeadDim, m.vHeadDim) === undefined
      && expandRows * m.numHeads * (m.qkNopeHeadDim + m.vHeadDim) * 4 <= ctx.caps.maxBindingBytes;
    if (this.tensorCores) {
      this.kvbNew = ctx.tensor([expandRows, m.numHeads * (m.qkNopeHeadDim + m.vHeadDim)], 'f32', 'kvbNew');
      this.mq16 = ctx.tensor([roundUpRows(T), m.numHeads * (m.qkNopeHeadDim + m.qkRopeHeadDim)], 'f16', 'mq16');
    }
  }

  /** Prefill buffers of a sequence whose latent caches are already allocated. */
  allocSequence(seq: MlaPrefillState, latentDtype: 'f32' | 'f16'): void {
    const { ctx, config: c } = this;
    const m = c.mla, capacity = seq.capacity, DC = m.kvLoraRank + m.qkRopeHeadDim;
    if (seq.decodeOnly) {
      // Never prefilled: no expanded K/V (at 1M tokens it would not fit beside the latent caches).
    } else if (this.tensorCores && roundUpRows(capacity) * m.numHeads * Math.max(m.qkNopeHeadDim, m.vHeadDim) * 2 <= ctx.caps.maxBindingBytes) {
      const rows = roundUpRows(capacity);
      seq.mlaHalf = c.layerKinds.map((kind, i) => kind !== 'mla' ? undefined : {
        kNope: ctx.tensor([rows, m.numHeads, m.qkNopeHeadDim], 'f16', `L${i}.kNope16`),
        kRope: ctx.tensor([rows, Math.max(m.qkRopeHeadDim, 2)], 'f16', `L${i}.kRope16`),
        v: ctx.tensor([rows, m.numHeads, m.vHeadDim], 'f16', `L${i}.v16`),
      });
    } else if (this.pieceTokens > 1) {
      seq.mlaHeadsPerGroup = this.headGroup(capacity);
      seq.mlaExpanded = ctx.tensor([capacity, seq.mlaHeadsPerGroup * (m.qkNopeHeadDim + m.vHeadDim)], 'f32', 'mla.expanded');
    }
    const widenRows = latentDtype !== 'f16' ? 0 : seq.mlaHalf ? this.pieceTokens : seq.mlaExpanded ? capacity : 0;
    if (widenRows > 0) {
      const bytes = widenRows * DC * 4;
      if (bytes > ctx.caps.maxBindingBytes) {
        throw new Error(`MLA prefill: the exact path re-expands f32 latent rows of all ${capacity} tokens (${gib(bytes)} GiB), over one binding (${gib(ctx.caps.maxBindingBytes)} GiB); only decode-only sequences take an f16 cache this long`);
      }
      seq.mlaLatentF32 = ctx.tensor([widenRows, DC], 'f32', 'mla.latentF32');
    }
  }

  releaseSequence(seq: MlaPrefillState): void {
    const free = (x?: GpuTensor) => { if (x) this.ctx.arena.free(x); };
    free(seq.mlaExpanded);
    free(seq.mlaLatentF32);
    for (const l of seq.mlaHalf ?? []) if (l) [l.kNope, l.kRope, l.v].forEach(free);
  }

  /** Largest head group (a divisor of the head count) whose expanded K/V fits one binding at this capacity. */
  private headGroup(capacity: number): number {
    const m = this.config.mla;
    const perHead = (m.qkNopeHeadDim + m.vHeadDim);
    const align = this.ctx.caps.minStorageOffsetAlignment;
    for (let hg = Math.min(m.numHeads, this.maxHeadsPerGroup); hg >= 1; hg--) {
      if (m.numHeads % hg !== 0) continue;
      if (capacity * hg * perHead * 4 > this.ctx.caps.maxBindingBytes) continue;
      // Each group binds its rows of kv_b_proj at a byte offset the device must accept.
      if (hg < m.numHeads && (hg * perHead * m.kvLoraRank * 4) % align !== 0) continue;
      return hg;
    }
    throw new Error(`MLA prefill: no head group fits ${capacity} tokens of expanded keys/values in one binding at an offset alignment of ${align} B`);
  }

  /**
   * Attention of T queries at positions pos..pos+T-1 of layer i against every cached latent row 0..pos+T-1
   * (the piece's rows already appended). mq: q_proj output [T, H·(Dn+Dr)]; mo: output [T, H·Dv].
   */
  dispatches(seq: MlaPrefillState, i: number, lw: MlaLayerWeights, cache: GpuTensor, pos: number, T: number, mq: GpuTensor, mo: GpuTensor): DispatchSpec[] {
    if (seq.mlaHalf?.[i]) return this.tensorCorePrefill(seq, i, lw, cache, pos, T, mq, mo);
    const { ctx, config: c } = this;
    const m = c.mla;
    const Hm = m.numHeads, Dn = m.qkNopeHeadDim, Dr = m.qkRopeHeadDim, Dv = m.vHeadDim, R = m.kvLoraRank;
    const DC = R + Dr, Tk = pos + T;
    const specs: DispatchSpec[] = [];
    // Expanded form: k_nope and v of every cached token from the latent rows (NoPE: no positions involved),
    // one head group at a time when all heads' K/V would exceed one binding.
    const hg = seq.mlaHeadsPerGroup;
    const W = hg * (Dn + Dv);
    const expanded = rowsView(seq.mlaExpanded!, Tk);
    // An f16 cache is read as f32 rows, widened once per piece for every head group.
    const latentRows = cache.dtype === 'f16' ? rowsView(seq.mlaLatentF32!, Tk) : rowsView(cache, Tk);
    if (cache.dtype === 'f16') specs.push(mlaLatentUnpack(ctx, { cache, row0: 0, T: Tk, DC, out: latentRows }));
    for (let g = 0; g < Hm / hg; g++) {
      const rowBytes = m.kvLoraRank * 4;
      const kvbGroup: GpuTensor = hg === Hm ? lw.kvb : {
        ...lw.kvb, offset: lw.kvb.offset + g * W * rowBytes, bytes: W * rowBytes, shape: [W, R], label: `${lw.kvb.label}[group ${g}]`,
      };
      specs.push(...makeLinear(ctx, latentRows, kvbGroup, expanded, { xRowStride: DC }));
      const out: GpuTensor = hg === Hm ? mo : { ...this.moGroup, shape: [T, hg * Dv], bytes: T * hg * Dv * 4 };
      specs.push(mlaFlashPrefill(ctx, {
        q: { tensor: mq, offset: g * hg * (Dn + Dr), tokenStride: Hm * (Dn + Dr), headStride: Dn + Dr },
        kNope: { tensor: expanded, tokenStride: W, headStride: Dn + Dv },
        kRope: Dr > 0 ? { tensor: latentRows, offset: R, tokenStride: DC, headStride: 0 } : undefined,
        v: { tensor: expanded, offset: Dn, tokenStride: W, headStride: Dn + Dv },
        out, Tq: T, Tk, H: hg, Dn, Dr, Dv,
      }));
      if (hg !== Hm) specs.push(makeCopy(ctx, out, mo, hg * Dv, { rows: T, dstOffset: g * hg * Dv, dstStride: Hm * Dv }));
    }
    return specs;
  }

  /**
   * Expands the latent rows not yet in this layer's f16 K/V (this piece's, plus any decoded since the last
   * piece) through kv_b_proj, packs them as f16 and runs the tensor-core flash kernel over all keys.
   */
  private tensorCorePrefill(seq: MlaPrefillState, i: number, lw: MlaLayerWeights, cache: GpuTensor, pos: number, T: number, mq: GpuTensor, mo: GpuTensor): DispatchSpec[] {
    const { ctx, config: c } = this;
    const m = c.mla;
    const Hm = m.numHeads, Dn = m.qkNopeHeadDim, Dr = m.qkRopeHeadDim, Dv = m.vHeadDim, R = m.kvLoraRank;
    const DC = R + Dr, W = Hm * (Dn + Dv), A = this.alignRows;
    const half = seq.mlaHalf![i]!;
    const end = pos + T, padRows = roundUpRows(end) - end;
    const specs: DispatchSpec[] = [];
    for (let r = seq.mlaHalfRows; r < end;) {
      const n = Math.min(end - r, this.pieceTokens);
      // The latent view must start at a bindable offset: expand from the aligned row below and skip the extra.
      // An f16 cache: the rows are widened into f32 scratch first (which starts at a bindable offset).
      const f16 = cache.dtype === 'f16';
      const r0 = f16 ? r : r - (r % A), M = r + n - r0, skip = r - r0;
      const latent: GpuTensor = f16 ? rowsView(seq.mlaLatentF32!, n)
        : { ...cache, offset: cache.offset + r0 * DC * 4, bytes: M * DC * 4, shape: [M, DC], label: `${cache.label}[${r0}:${r0 + M}]` };
      if (f16) specs.push(mlaLatentUnpack(ctx, { cache, row0: r, T: n, DC, out: latent }));
      const expanded = rowsView(this.kvbNew!, M);
      const pad = r + n === end ? padRows : 0;
      specs.push(
        ...makeLinear(ctx, latent, lw.kvb, expanded, { xRowStride: DC }),
        mlaPackF16(ctx, { src: { tensor: expanded, offset: skip * W, tokenStride: W, headStride: Dn + Dv }, dst: half.kNope, T: n, H: Hm, D: Dn, dstRow: r, padRows: pad }),
        mlaPackF16(ctx, { src: { tensor: expanded, offset: skip * W + Dn, tokenStride: W, headStride: Dn + Dv }, dst: half.v, T: n, H: Hm, D: Dv, dstRow: r, padRows: pad }),
      );
      if (Dr > 0) specs.push(mlaPackF16(ctx, { src: f16 ? { tensor: latent, offset: R, tokenStride: DC, headStride: 0 } : { tensor: cache, offset: r * DC + R, tokenStride: DC, headStride: 0 }, dst: half.kRope, T: n, H: 1, D: Dr, dstRow: r, padRows: pad }));
      r += n;
    }
    if (i === this.lastLayer) seq.mlaHalfRows = end;
    const Dq = Dn + Dr;
    specs.push(
      mlaPackF16(ctx, { src: mq, dst: this.mq16!, T, H: Hm, D: Dq, padRows: roundUpRows(T) - T }),
      mlaFlashPrefillF16(ctx, {
        q: this.mq16!, kNope: half.kNope, kRope: Dr > 0 ? half.kRope : undefined, v: half.v,
        out: mo, Tq: T, Tk: end, H: Hm, Dn, Dr, Dv,
      }),
    );
    return specs;
  }
}

const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(2);
