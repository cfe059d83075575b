// The Kimi Linear forward on the GPU (spec §2): per layer RMSNorm → KDA or NoPE MLA → residual,
// RMSNorm → dense SwiGLU or MoE → residual; final norm and lm_head. forward() returns one DispatchSpec list
// for T tokens at the sequence's current position (prefill pieces, or T = 1 decode), with token ids read
// from a GPU buffer so sampling can feed the next step without a CPU round trip.
import type { KimiConfig } from '../checkpoint.js';
import type { DispatchSpec, GpuContext } from '../gpu/context.js';
import { rowsView, type GpuTensor } from '../gpu/arena.js';
import { type KimiGpuWeights, type KdaLayerWeights, type MlaLayerWeights, type MoeWeights, type DenseMlpWeights, type FusedProjection, type MatmulWeight } from './kimi-linear-weights.js';
import { makeEmbedding } from '../../kernels/embedding/embedding.js';
import { makeAddRmsNorm, makeRmsNorm } from '../../kernels/norm/rmsnorm.js';
import { makeAdd } from '../../kernels/elementwise/add.js';
import { makeCopy } from '../../kernels/elementwise/copy.js';
import { makeSwiGlu } from '../../kernels/elementwise/swiglu.js';
import { linearFoldsNorm, makeGroupedLinear, makeLinear, singleBinding, type GpuWeight, type LinearWeight } from '../../kernels/linalg/matmul.js';
import type { FoldedNorm } from '../../kernels/linalg/gemv-f16.js';
import { q8ScratchValues } from '../../kernels/linalg/linear-q8.js';
import { makeMoeRoute } from '../../kernels/moe/route.js';
import { makeMoePlan, moeCapacity } from '../../kernels/moe/plan.js';
import { makeMoeCombine } from '../../kernels/moe/combine.js';
import { EXPERT_GEMV_MAX_TOKENS, expertSwiGluFusable, makeExpertGemv, makeExpertGemvSwiGlu, sharedExpertFoldReason } from '../../kernels/moe/expert-gemv.js';
import { shortConvGroups } from '../../kernels/kda/short-conv.js';
import { kdaPrepare } from '../../kernels/kda/kda-prepare.js';
import { kdaPreparedRecurrentStep, kdaRecurrentStep } from '../../kernels/kda/kda-recurrent.js';
import { allocKdaChunkScratch, kdaChunkMaxTokens, kdaChunkPrefill, planKdaChunk, type KdaChunkPlan, type KdaChunkScratch } from '../../kernels/kda/kda-chunk.js';
import { kdaGatedRmsNorm } from '../../kernels/kda/kda-gated-norm.js';
import { foldableLowRankWeight } from '../../kernels/kda/kda-low-rank-fold.js';
import { latentRowHalves, mlaLatentAppend } from '../../kernels/mla/mla-latent-append.js';
import { MlaPrefill, type MlaPrefillOptions, type MlaPrefillState } from './mla-prefill.js';
import { latentCacheDtype, moeTileRows, q8WeightsOf } from './kimi-linear-plans.js';
import { allocMlaDecodeScratch, mlaAbsorbedDecode, mlaDecodeCacheRows, planMlaDecode, type MlaDecodePlan, type MlaDecodeScratch } from '../../kernels/mla/mla-absorbed-decode.js';

/** Per-sequence GPU state: KDA recurrent states and conv caches, MLA latent caches, the position. */
export interface SequenceState extends MlaPrefillState {
  pos: number;
  kda: ({ state: GpuTensor; convQ: GpuTensor; convK: GpuTensor; convV: GpuTensor } | undefined)[];
  mla: ({ cache: GpuTensor } | undefined)[];
  mlaDecode?: { plan: MlaDecodePlan; scratch: MlaDecodeScratch };
  /** Decode-only (decode-at-context bench): no prefill buffers, so forward() takes one token per step. */
  decodeOnly?: boolean;
  kvCacheBytes: number;
  kdaStateBytes: number;
}

type Buffers = Record<string, GpuTensor>;
/** A mixer's input row(s): the normed h, or at decode x itself with the norm its in-projection applies. */
interface MixerInput { x: GpuTensor; norm?: FoldedNorm }

export class KimiLinearGraph {
  readonly pieceTokens: number;
  private readonly buf: Buffers = {};
  private readonly kdaPlan: KdaChunkPlan;
  private readonly kdaScratch?: KdaChunkScratch;
  readonly logits: GpuTensor;
  /** MLA prefill attention (expanded K/V, flash kernels); absent without MLA layers. */
  private readonly mlaPrefill?: MlaPrefill;
  /** MLA latent cache storage (latentCacheDtype below). */
  readonly latentCacheDtype: 'f32' | 'f16' = 'f32';
  /**
   * Decode runs one GEMV per fused projection group (kimi-linear-weights FusedProjection) instead of one per
   * member; CTXBENCH_DECODE_FUSION=off keeps one per member (same weights, for before/after runs and tests).
   */
  readonly decodeFusion: boolean = process.env.CTXBENCH_DECODE_FUSION !== 'off';
  /**
   * Fewer dispatches, same numbers: each residual add rides in the next RMSNorm of x, and KDA's q, k, v short
   * convs share one dispatch. CTXBENCH_DISPATCH_FUSION=off keeps them apart (before/after runs).
   */
  readonly dispatchFusion: boolean = process.env.CTXBENCH_DISPATCH_FUSION !== 'off';
  /**
   * Decode folds RMSNorms into the GEMVs that read their output, each computing the norm of x itself: the input
   * norms with no residual pending and the final norm (foldedNorm), and each MoE layer's post-attention norm
   * (moeFoldedNorm): 53 dispatches fewer per 48B step. CTXBENCH_NORM_FOLD=off keeps them (before/after runs).
   */
  readonly normFold: boolean = process.env.CTXBENCH_NORM_FOLD !== 'off';
  /** Decode's KDA recurrent step prepares its own inputs (kdaPreparedRecurrentStep); CTXBENCH_KDA_PREPARE=off keeps kdaPrepare apart. */
  readonly kdaPrepareFold: boolean = process.env.CTXBENCH_KDA_PREPARE !== 'off';
  /** Rows per expert tile of the MoE prefill plan (moeTileRows, kimi-linear-plans.ts). */
  private readonly moeTileRows: number;

  /**
   * pieceTokens: the longest prefill piece (longer prompts are fed in pieces; states carry over).
   * allLogits: keep logits of every position of a piece (for --logits-out and parity), else only the last.
   */
  constructor(private readonly ctx: GpuContext, readonly config: KimiConfig, readonly weights: KimiGpuWeights,
    pieceTokens: number, readonly allLogits: boolean, mlaOptions: MlaPrefillOptions = {}) {
    const c = config;
    const { numHeads: Hk, headDim: Dk } = c.kda;
    const hasKda = c.layerKinds.includes('kda');
    // The tensor-core scan (where the engine probed it) only beside f16/q8 weights, as the f16 MLA prefill: f32
    // weights keep the scalar f32 scan for golden parity.
    const kdaMixer = weights.layers.find((l) => l.mixer.kind === 'kda')?.mixer;
    this.kdaPlan = planKdaChunk(ctx, Dk, Dk, undefined, { scan: kdaMixer?.kind === 'kda' && kdaMixer.q.dtype !== 'f32' ? undefined : 'scalar' });
    if (hasKda) pieceTokens = Math.min(pieceTokens, kdaChunkMaxTokens(ctx, Hk, Dk, Dk, this.kdaPlan));
    this.pieceTokens = Math.max(1, pieceTokens);
    const T = this.pieceTokens;
    const H = c.hiddenSize, P = Hk * Dk, m = c.mla, moe = c.moe;
    this.moeTileRows = moeTileRows(ctx, c, weights, T);
    const t = (name: string, shape: number[], dtype: 'f32' | 'u32' = 'f32') => { this.buf[name] = ctx.tensor(shape, dtype, name); };
    t('x', [T, H]); t('h', [T, H]); t('attn', [T, H]); t('lastRow', [1, H]); t('lastNormed', [1, H]);
    if (hasKda) {
      for (const n of ['q', 'k', 'v', 'qc', 'kc', 'vc', 'f', 'qn', 'kn', 'g', 'o', 'z', 'y']) t(n, [T, P]);
      t('fa', [T, Dk]); t('ga', [T, Dk]); t('b', [T, Hk]); t('beta', [T, Hk]);
      if (T > 1) this.kdaScratch = allocKdaChunkScratch(ctx, T, Hk, Dk, Dk, this.kdaPlan);
    }
    if (c.layerKinds.includes('mla')) {
      t('mq', [T, m.numHeads * (m.qkNopeHeadDim + m.qkRopeHeadDim)]);
      t('kva', [T, m.kvLoraRank + m.qkRopeHeadDim]);
      t('mo', [T, m.numHeads * m.vHeadDim]);
      const first = c.layerKinds.indexOf('mla');
      const mixer = weights.layers[first].mixer;
      // q8 weights take the reduced-precision paths too (f16 cache, f16 MLA prefill).
      this.latentCacheDtype = latentCacheDtype(mixer.kind === 'mla' && mixer.q.dtype !== 'f32');
      const mlaLayers = weights.layers.flatMap((l) => (l.mixer.kind === 'mla' ? [l.mixer] : []));
      this.mlaPrefill = new MlaPrefill(ctx, c, mlaLayers, mixer.kind === 'mla' && mixer.q.dtype !== 'f32', T, mlaOptions);
    }
    if (c.mlpKinds.includes('dense')) for (const n of ['dg', 'du', 'dm']) t(n, [T, c.denseIntermediateSize]);
    if (c.mlpKinds.includes('moe')) {
      const TM = this.moeTileRows;
      const cap = moeCapacity(T, moe.topK, moe.numExperts, TM);
      t('router', [T, moe.numExperts]); t('ids', [T * moe.topK], 'u32'); t('rw', [T * moe.topK]);
      t('rows', [cap], 'u32'); t('tiles', [cap / TM], 'u32'); t('slots', [T * moe.topK], 'u32');
      for (const n of ['eg', 'eu', 'em']) t(n, [cap, moe.intermediateSize]);
      t('ed', [cap, H]);
      const S = moe.numSharedExperts * moe.intermediateSize;
      if (S > 0) { for (const n of ['sg', 'su', 'sm']) t(n, [T, S]); t('so', [T, H]); }
    }
    // Fused decode outputs: one vector for the mixer's group and one for the MLP's (each read within its block).
    const fusedRows = (group?: FusedProjection) => group?.weight.shape[0] ?? 0;
    const mixerRows = Math.max(0, ...weights.layers.map((l) => fusedRows(l.mixer.inProj)));
    const mlpRows = Math.max(0, ...weights.layers.map((l) => fusedRows(l.mlp.kind === 'dense' ? l.mlp.gateUp : l.mlp.shared?.gateUp)));
    if (this.decodeFusion && mixerRows > 0) t('mixerIn', [1, mixerRows]);
    if (this.decodeFusion && mlpRows > 0) t('mlpIn', [1, mlpRows]);
    this.logits = ctx.tensor([allLogits ? T : 1, c.vocabSize], 'f32', 'logits');
    t('normed', [T, H]);
    // q8 weights over several rows expand into one f16 scratch shared by every linear (linear-q8.ts).
    const q8Weights = q8WeightsOf(weights);
    if (T > 1 && q8Weights.length) this.dequantScratch = ctx.tensor([q8ScratchValues(ctx, q8Weights)], 'f16', 'q8 dequant scratch');
  }

  /** f16 scratch the prefill linears expand q8 weights into (absent without q8 weights or prefill). */
  readonly dequantScratch?: GpuTensor;

  private linear(x: GpuTensor, w: LinearWeight, out: GpuTensor, norm?: FoldedNorm): DispatchSpec[] {
    return makeLinear(this.ctx, x, w, out, { dequantScratch: this.dequantScratch, ...(norm ? { norm } : {}) });
  }

  /** The norm to fold into linears over these weights (decode, no pending residual, every one a GEMV), if any. */
  private foldedNorm(T: number, pending: GpuTensor | undefined, weight: GpuTensor, consumers: LinearWeight[]): FoldedNorm | undefined {
    if (T !== 1 || pending || !this.normFold || !this.dispatchFusion) return undefined;
    return consumers.every((w) => linearFoldsNorm(this.ctx, w, 1)) ? { weight, eps: this.config.rmsNormEps } : undefined;
  }

  /**
   * The post-attention norm to fold into a decode MoE (x + residual normalised inside the router and gate|up
   * GEMVs, residual added by the combine), where it runs the shared-slot path (moe() below) on foldable GEMVs.
   */
  private moeFoldedNorm(T: number, lw: MoeWeights, weight: GpuTensor, residual: GpuTensor | undefined): FoldedNorm | undefined {
    if (T !== 1 || !residual || !this.normFold || !this.dispatchFusion || !lw.shared) return undefined;
    if (sharedExpertFoldReason(this.ctx, { gate: lw.w1, up: lw.w3, down: lw.w2 }, lw.shared) || !linearFoldsNorm(this.ctx, lw.router, 1)) return undefined;
    return { weight, eps: this.config.rmsNormEps, residual };
  }

  /** The weights projections() runs for these members: the fused group's at decode, else each member's. */
  private projectionWeights(T: number, group: FusedProjection | undefined, out: string, members: LinearWeight[]): LinearWeight[] {
    return T === 1 && group && this.buf[out] ? [group.weight] : members;
  }

  /** Fresh sequence state for up to `capacity` tokens (zeroed KDA states and caches). */
  newSequence(capacity: number, opts: { decodeOnly?: boolean } = {}): SequenceState {
    const seq: SequenceState = { pos: 0, capacity, kda: [], mla: [], kvCacheBytes: 0, kdaStateBytes: 0, mlaHeadsPerGroup: this.config.mla.numHeads, mlaKeyBlockTokens: 0 };
    if (opts.decodeOnly) seq.decodeOnly = true;
    // A cache over the binding limit throws part-way (long contexts): free what was made before it.
    try {
      this.allocSequence(seq);
    } catch (err) {
      this.releaseSequence(seq);
      throw err;
    }
    return seq;
  }

  private allocSequence(seq: SequenceState): void {
    const { ctx, config: c } = this;
    const capacity = seq.capacity;
    const { numHeads: Hk, headDim: Dk, convKernelSize: K } = c.kda;
    const P = Hk * Dk, m = c.mla, DC = m.kvLoraRank + m.qkRopeHeadDim;
    const zero = (shape: number[], label: string) => { const x = ctx.tensor(shape, 'f32', label); ctx.clear(x); return x; };
    const f16 = this.latentCacheDtype === 'f16';
    const dims = { H: m.numHeads, Dn: m.qkNopeHeadDim, Dr: m.qkRopeHeadDim, Dv: m.vHeadDim, R: m.kvLoraRank };
    const decodePlan = c.layerKinds.includes('mla') ? planMlaDecode(ctx, dims, capacity, undefined, { cacheF16: f16 }) : undefined;
    // The tensor-core decode reads whole key blocks, rows not yet written included: they must hold finite
    // numbers (arena memory may be reused), so that cache starts zeroed and padded to a whole block.
    const cacheRows = decodePlan ? mlaDecodeCacheRows(decodePlan, capacity) : capacity;
    c.layerKinds.forEach((kind, i) => {
      if (kind === 'kda') {
        seq.kda[i] = {
          state: zero([Hk, Dk, Dk], `L${i}.state`), convQ: zero([K - 1, P], `L${i}.convQ`),
          convK: zero([K - 1, P], `L${i}.convK`), convV: zero([K - 1, P], `L${i}.convV`),
        };
        seq.kdaStateBytes += 4 * (Hk * Dk * Dk + 3 * (K - 1) * P);
        seq.mla[i] = undefined;
      } else {
        const cache = ctx.tensor([cacheRows, f16 ? latentRowHalves(DC) : DC], this.latentCacheDtype, `L${i}.latent`);
        if (decodePlan?.tensorCores) ctx.clear(cache);
        seq.mla[i] = { cache };
        seq.kvCacheBytes += cache.bytes;
        seq.kda[i] = undefined;
      }
    });
    if (decodePlan) {
      seq.mlaDecode = { plan: decodePlan, scratch: allocMlaDecodeScratch(ctx, dims, decodePlan) };
      this.mlaPrefill!.allocSequence(seq, this.latentCacheDtype);
    }
  }

  releaseSequence(seq: SequenceState): void {
    const free = (x?: GpuTensor) => { if (x) this.ctx.arena.free(x); };
    for (const k of seq.kda) if (k) [k.state, k.convQ, k.convK, k.convV].forEach(free);
    for (const l of seq.mla) free(l?.cache);
    this.mlaPrefill?.releaseSequence(seq);
    if (seq.mlaDecode) Object.values(seq.mlaDecode.scratch).forEach(free);
  }

  /** Builds pipelines a first long prompt would otherwise build inside its TTFT (engine load calls this). */
  async buildKernels(): Promise<void> {
    await this.mlaPrefill?.buildKernels();
  }

  /**
   * Dispatches for T tokens (ids[idOffset .. idOffset+T) on the GPU) at position seq.pos; advances seq.pos.
   * Logits land in this.logits: rows 0..T-1 with allLogits, else row 0 = the last token's.
   */
  forward(seq: SequenceState, ids: GpuTensor, idOffset: number, T: number): DispatchSpec[] {
    const specs = this.build(seq, ids, idOffset, T);
    seq.pos += T;
    return specs;
  }

  /**
   * One decode step as a list recorded once and replayed every step: the position comes from `seqLen`
   * (u32 [1], the sequence length including the step's token), which the caller writes before each replay
   * and bumps seq.pos itself.
   */
  recordDecodeStep(seq: SequenceState, ids: GpuTensor, seqLen: GpuTensor): DispatchSpec[] {
    return this.build(seq, ids, 0, 1, seqLen);
  }

  private build(seq: SequenceState, ids: GpuTensor, idOffset: number, T: number, seqLen?: GpuTensor): DispatchSpec[] {
    if (seqLen && T !== 1) throw new Error('forward: a recorded step takes exactly one token');
    if (T < 1 || T > this.pieceTokens) throw new Error(`forward: ${T} tokens outside 1..${this.pieceTokens} (feed longer prompts in pieces)`);
    if (seq.decodeOnly && T > 1) throw new Error('forward: a decode-only sequence takes one token per step (it has no prefill buffers)');
    if (seq.pos + T > seq.capacity) throw new Error(`forward: position ${seq.pos + T} exceeds the sequence capacity ${seq.capacity}`);
    const { ctx, config: c, weights: w } = this;
    const v = (name: string, rows = T) => rowsView(this.buf[name], rows);
    const x = v('x'), h = v('h');
    const specs: DispatchSpec[] = [...makeEmbedding(ctx, ids, w.embed, x, T, idOffset, seqLen)];
    // A residual branch not yet added into x: the add rides in the next RMSNorm of x (one dispatch, same numbers).
    let pendingResidual: GpuTensor | undefined;
    const norm = (weight: GpuTensor, out: GpuTensor): DispatchSpec[] => {
      const residual = pendingResidual;
      pendingResidual = undefined;
      if (!residual) return [makeRmsNorm(ctx, x, weight, out, c.rmsNormEps)];
      if (this.dispatchFusion) return [makeAddRmsNorm(ctx, x, residual, weight, out, c.rmsNormEps)];
      return [makeAdd(ctx, x, residual), makeRmsNorm(ctx, x, weight, out, c.rmsNormEps)];
    };
    for (let i = 0; i < c.numLayers; i++) {
      const layer = w.layers[i];
      const mixer = layer.mixer;
      const inWeights = mixer.kind === 'kda'
        ? this.projectionWeights(T, mixer.inProj, 'mixerIn', [mixer.q, mixer.k, mixer.v, mixer.fa, mixer.b, mixer.ga])
        : this.projectionWeights(T, mixer.inProj, 'mixerIn', [mixer.q, mixer.kva]);
      // Decode with x complete (no residual pending): the in-projection GEMV normalises x itself.
      const inNorm = this.foldedNorm(T, pendingResidual, layer.inputNorm, inWeights);
      if (!inNorm) specs.push(...norm(layer.inputNorm, h));
      const mixerIn = inNorm ? { x, norm: inNorm } : { x: h };
      if (mixer.kind === 'kda') specs.push(...this.kdaLayer(seq, i, mixer, mixerIn, T));
      else specs.push(...this.mlaLayer(seq, i, mixer, mixerIn, T, seqLen));
      pendingResidual = v('attn');
      // Decode MoE on its folded path: router and gate|up GEMVs normalise x + attn themselves, the combine adds attn.
      const moeNorm = layer.mlp.kind === 'moe' ? this.moeFoldedNorm(T, layer.mlp, layer.postNorm, pendingResidual) : undefined;
      if (moeNorm && layer.mlp.kind === 'moe') {
        pendingResidual = undefined;
        specs.push(...this.moe(layer.mlp, { x, norm: moeNorm }, x, T));
        continue;
      }
      specs.push(...norm(layer.postNorm, h));
      if (layer.mlp.kind === 'dense') {
        specs.push(...this.denseMlp(layer.mlp, h, T));
        pendingResidual = v('attn');
      } else {
        specs.push(...this.moe(layer.mlp, { x: h }, x, T));
      }
    }
    const H = c.hiddenSize;
    if (this.allLogits) {
      specs.push(...norm(w.finalNorm, v('normed')));
      specs.push(...this.linear(v('normed'), w.lmHead, rowsView(this.logits, T)));
    } else if (T === 1 && this.dispatchFusion) {
      // One row: it is the last, so the final norm reads x itself (no copy to lastRow), or lm_head does.
      const headNorm = this.foldedNorm(T, pendingResidual, w.finalNorm, [w.lmHead]);
      if (headNorm) specs.push(...this.linear(x, w.lmHead, this.logits, headNorm));
      else {
        specs.push(...norm(w.finalNorm, this.buf.lastNormed));
        specs.push(...this.linear(this.buf.lastNormed, w.lmHead, this.logits));
      }
    } else {
      if (pendingResidual) specs.push(makeAdd(ctx, x, pendingResidual));
      specs.push(makeCopy(ctx, x, this.buf.lastRow, H, (T - 1) * H, 0));
      specs.push(makeRmsNorm(ctx, this.buf.lastRow, w.finalNorm, this.buf.lastNormed, c.rmsNormEps));
      specs.push(...this.linear(this.buf.lastNormed, w.lmHead, this.logits));
    }
    return specs;
  }

  /**
   * Projections of one input x, written to the named buffers. Decode (T = 1) with a fused group: one GEMV over
   * the stacked rows into this.buf[out], each member's output a view at its row (same numbers: every output
   * row is the same dot product). Otherwise one linear per member. `views` holds every member's output.
   */
  private projections(input: MixerInput, T: number, group: FusedProjection | undefined, out: string, members: [string, MatmulWeight][]):
    { specs: DispatchSpec[]; views: Record<string, GpuTensor> } {
    const { x, norm } = input;
    const views: Record<string, GpuTensor> = {};
    const vector = this.buf[out];
    if (T === 1 && group && vector) {
      for (const [name, w] of members) {
        const row = group.members.find((m) => m.weight === w)?.row;
        if (row === undefined) throw new Error(`projections: ${w.label} is not a member of ${group.weight.label}`);
        const n = w.shape[0];
        views[name] = { buffer: vector.buffer, offset: vector.offset + 4 * row, bytes: 4 * n, shape: [1, n], dtype: 'f32', label: `${out}[${name}]` };
      }
      const N = group.weight.shape[0];
      return { specs: this.linear(x, group.weight, { ...vector, shape: [1, N], bytes: 4 * N }, norm), views };
    }
    const specs: DispatchSpec[] = [];
    for (const [name, w] of members) {
      views[name] = rowsView(this.buf[name], T);
      specs.push(...this.linear(x, w, views[name], norm));
    }
    return { specs, views };
  }

  private kdaLayer(seq: SequenceState, i: number, lw: KdaLayerWeights, input: MixerInput, T: number): DispatchSpec[] {
    const { ctx, config: c } = this;
    const { numHeads: Hk, headDim: Dk, convKernelSize: K } = c.kda;
    const P = Hk * Dk;
    const proj = this.projections(input, T, lw.inProj, 'mixerIn', [['q', lw.q], ['k', lw.k], ['v', lw.v], ['fa', lw.fa], ['b', lw.b], ['ga', lw.ga]]);
    const v = (name: string) => proj.views[name] ?? rowsView(this.buf[name], T);
    const st = seq.kda[i]!;
    // Decode computes f = f_b·(f_a h) inside kdaPrepare and z = g_b·(g_a h) inside the gated norm: two tiny GEMV
    // dispatches fewer per layer. Prefill, q8 and split weights keep the separate linears;
    // CTXBENCH_KDA_LOWRANK_FOLD=off keeps them for decode too (before/after runs).
    const lowRankFold = T === 1 && process.env.CTXBENCH_KDA_LOWRANK_FOLD !== 'off';
    const fbFolded = lowRankFold ? foldableLowRankWeight(lw.fb) : undefined;
    const gbFolded = lowRankFold ? foldableLowRankWeight(lw.gb) : undefined;
    const convs = [
      { x: v('q'), weight: lw.qConv, cache: st.convQ, y: v('qc'), T, D: P, K },
      { x: v('k'), weight: lw.kConv, cache: st.convK, y: v('kc'), T, D: P, K },
      { x: v('v'), weight: lw.vConv, cache: st.convV, y: v('vc'), T, D: P, K },
    ];
    const prepare = { q: v('qc'), k: v('kc'), f: fbFolded ? { weight: fbFolded, input: v('fa') } : v('f'), b: v('b'), aLog: lw.aLog, dtBias: lw.dtBias, H: Hk, dk: Dk };
    const specs: DispatchSpec[] = [
      ...proj.specs,
      ...(this.dispatchFusion ? shortConvGroups(ctx, convs) : convs.flatMap((conv) => shortConvGroups(ctx, [conv]))),
      ...(fbFolded ? [] : this.linear(v('fa'), lw.fb, v('f'))),
    ];
    if (T === 1 && this.kdaPrepareFold) {
      // Decode: the recurrent step prepares q̃, k̂, α and β itself (one dispatch fewer, same numbers).
      specs.push(kdaPreparedRecurrentStep(ctx, { ...prepare, v: v('vc'), state: st.state, out: v('o'), dv: Dk }));
    } else {
      specs.push(kdaPrepare(ctx, { ...prepare, qOut: v('qn'), kOut: v('kn'), gOut: v('g'), betaOut: v('beta'), T }));
      const delta = { q: v('qn'), k: v('kn'), g: v('g'), beta: v('beta'), v: v('vc'), state: st.state, out: v('o'), T, H: Hk, dk: Dk, dv: Dk };
      if (T === 1 || !this.kdaScratch) specs.push(kdaRecurrentStep(ctx, delta));
      else specs.push(...kdaChunkPrefill(ctx, delta, this.kdaScratch, this.kdaPlan));
    }
    specs.push(
      ...(gbFolded ? [] : this.linear(v('ga'), lw.gb, v('z'))),
      kdaGatedRmsNorm(ctx, { o: v('o'), z: gbFolded ? { weight: gbFolded, input: v('ga') } : v('z'), weight: lw.oNorm, y: v('y'), T, H: Hk, dv: Dk, eps: c.rmsNormEps }),
      ...this.linear(v('y'), lw.o, v('attn')),
    );
    return specs;
  }

  private mlaLayer(seq: SequenceState, i: number, lw: MlaLayerWeights, input: MixerInput, T: number, seqLen?: GpuTensor): DispatchSpec[] {
    const { ctx, config: c } = this;
    const m = c.mla;
    const Hm = m.numHeads, Dn = m.qkNopeHeadDim, Dr = m.qkRopeHeadDim, Dv = m.vHeadDim, R = m.kvLoraRank;
    const proj = this.projections(input, T, lw.inProj, 'mixerIn', [['mq', lw.q], ['kva', lw.kva]]);
    const v = (name: string) => proj.views[name] ?? rowsView(this.buf[name], T);
    const cache = seq.mla[i]!.cache;
    // A recorded step reads the length from the GPU counter; the cache capacity bounds the key range.
    const Tk = seqLen ? seq.capacity : seq.pos + T;
    const specs: DispatchSpec[] = [
      ...proj.specs,
      mlaLatentAppend(ctx, { kva: v('kva'), weight: lw.kvaNorm, cache, pos: seq.pos, T, R, Dr, eps: m.kvLayernormEps, seqLen }),
    ];
    if (T === 1) {
      const d = seq.mlaDecode!;
      specs.push(...mlaAbsorbedDecode(ctx, { q: v('mq'), wkvb: lw.kvb, cache, Tk, seqLen, out: v('mo'), H: Hm, Dn, Dr, Dv, R }, d.scratch, d.plan));
    } else {
      specs.push(...this.mlaPrefill!.dispatches(seq, lw, cache, seq.pos, T, v('mq'), v('mo')));
    }
    specs.push(...this.linear(v('mo'), lw.o, v('attn')));
    return specs;
  }

  /** Dense SwiGLU MLP into this.buf.attn; build() adds it into x inside the next RMSNorm. */
  private denseMlp(lw: DenseMlpWeights, h: GpuTensor, T: number): DispatchSpec[] {
    const { ctx } = this;
    const proj = this.projections({ x: h }, T, lw.gateUp, 'mlpIn', [['dg', lw.gate], ['du', lw.up]]);
    const v = (name: string) => proj.views[name] ?? rowsView(this.buf[name], T);
    return [
      ...proj.specs,
      makeSwiGlu(ctx, v('dg'), v('du'), v('dm')),
      ...this.linear(v('dm'), lw.down, v('attn')),
    ];
  }

  private moe(lw: MoeWeights, input: MixerInput, x: GpuTensor, T: number): DispatchSpec[] {
    const { ctx, config: c } = this;
    const { x: h, norm } = input;
    const moe = c.moe;
    const TM = this.moeTileRows;
    const cap = moeCapacity(T, moe.topK, moe.numExperts, TM);
    const v = (name: string, rows = T) => rowsView(this.buf[name], rows);
    const ids = v('ids', T * moe.topK), rw = v('rw', T * moe.topK), slots = v('slots', T * moe.topK);
    const grouped = { rows: v('rows', cap), tileExpert: v('tiles', cap / TM), capacity: cap, tileRows: TM };
    const specs: DispatchSpec[] = [
      ...this.linear(h, lw.router, v('router'), norm),
      makeMoeRoute(ctx, v('router'), lw.bias, ids, rw, T, {
        topK: moe.topK, renormalize: moe.renormalize, routedScalingFactor: moe.routedScalingFactor,
      }),
    ];
    // Decode (a few tokens): per-slot GEMVs over the chosen experts only; the grouped GEMM would pad each
    // chosen expert to a TM-row tile. Expert rows then sit in slot order, so the combine needs no slot map.
    const direct = T <= EXPERT_GEMV_MAX_TOKENS;
    // Decode folds the shared expert into the routed dispatches as slot topK of each token (topK + 1 rows per
    // token in em/ed, combine adds that row unweighted): 3 dispatches fewer per layer. Only where both passes
    // run the subgroup kernel and the shared expert is shaped as one routed expert (sharedExpertFoldReason);
    // q8, the workgroup fallback and numSharedExperts > 1 keep the separate shared GEMVs below.
    const fold = direct && lw.shared && !sharedExpertFoldReason(ctx, { gate: lw.w1, up: lw.w3, down: lw.w2 }, lw.shared)
      ? { gate: singleBinding(lw.shared.gate as GpuWeight)!, up: singleBinding(lw.shared.up as GpuWeight)!, down: singleBinding(lw.shared.down as GpuWeight)! }
      : undefined;
    const routed = T * moe.topK;
    const rows = direct ? (fold ? T * (moe.topK + 1) : routed) : cap;
    const experts = (input: GpuTensor, w: LinearWeight, out: GpuTensor, gather: boolean) => (direct
      ? makeExpertGemv(ctx, input, w, ids, out, routed, moe.topK, gather)
      : makeGroupedLinear(ctx, input, w, out, grouped, gather, undefined, this.dequantScratch));
    if (!direct) {
      specs.push(makeMoePlan(ctx, ids, { rows: grouped.rows, tileExpert: grouped.tileExpert, slotPos: slots, capacity: cap }, T, moe.topK, moe.numExperts, TM));
    }
    // Decode fuses gate, up and SwiGLU into one pass over the chosen experts where the subgroup kernel runs.
    if (fold) {
      specs.push(
        ...makeExpertGemvSwiGlu(ctx, h, lw.w1, lw.w3, ids, v('em', rows), routed, moe.topK, undefined, fold, norm),
        ...makeExpertGemv(ctx, v('em', rows), lw.w2, ids, v('ed', rows), routed, moe.topK, false, undefined, fold.down),
        makeMoeCombine(ctx, x, v('ed', rows), rw, null, T, moe.topK, 'slot', norm?.residual),
      );
      return specs;
    }
    if (norm) throw new Error('moe: a folded norm needs the decode shared-slot path');
    specs.push(
      ...(direct && expertSwiGluFusable(ctx, lw.w1, lw.w3)
        ? makeExpertGemvSwiGlu(ctx, h, lw.w1, lw.w3, ids, v('em', rows), rows, moe.topK)
        : [...experts(h, lw.w1, v('eg', rows), true), ...experts(h, lw.w3, v('eu', rows), true), makeSwiGlu(ctx, v('eg', rows), v('eu', rows), v('em', rows))]),
      ...experts(v('em', rows), lw.w2, v('ed', rows), false),
    );
    if (lw.shared) {
      const proj = this.projections({ x: h }, T, lw.shared.gateUp, 'mlpIn', [['sg', lw.shared.gate], ['su', lw.shared.up]]);
      specs.push(
        ...proj.specs,
        makeSwiGlu(ctx, proj.views.sg, proj.views.su, v('sm')), ...this.linear(v('sm'), lw.shared.down, v('so')),
      );
    }
    specs.push(makeMoeCombine(ctx, x, v('ed', rows), rw, direct ? null : slots, T, moe.topK, lw.shared ? v('so') : undefined));
    return specs;
  }
}
