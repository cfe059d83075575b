// Public engine API: load a Kimi Linear model (checkpoint or seeded random weights) onto the GPU, then
// prefill + decode with streaming and per-request stats. The decode loop reads back only the sampled token.
import { sumByKernel, timeEachDispatch, timeHostEncode, timeWholeList, type KernelTime } from './gpu/dispatch-profile.js';
import type { Checkpoint, KimiConfig } from './checkpoint.js';
import { GpuContext } from './gpu/context.js';
import type { GpuDtype, GpuTensor } from './gpu/arena.js';
import { KimiLinearGraph, type SequenceState } from './models/kimi-linear.js';
import { checkpointSource, loadKimiWeights, randomSource, type KimiGpuWeights, type MatmulDtype } from './models/kimi-linear-weights.js';
import { GpuSampler, type SamplingOptions } from './sampling.js';
import { randomSequenceFill } from './sequence-fill.js';
import { PrefillCheckpoint, prefillCheckpointKey, type PrefillCheckpointOptions, type RestoredPrefill } from './prefill-checkpoint.js';
import { probeTensorCoreGemm } from '../kernels/linalg/gemm-subgroup-matrix.js';
import { probeKdaScanTensorCores } from '../kernels/kda/kda-chunk.js';

export interface EngineOptions {
  /**
   * Storage of the big matmul weights: f32 (parity path), f16 (half the memory) or q8 (int8 per group of 32 with
   * f16 scales, quantised at load: ~quarter the memory; embeddings f16, norms/router/conv/gates f32).
   */
  matmulDtype?: MatmulDtype;
  /** Longest prefill piece; longer prompts run in pieces. */
  pieceTokens?: number;
  /** Keep logits of every prompt position (needed for prefillLogits). */
  allLogits?: boolean;
  /** Cap on MLA heads per prefill group (groups are chosen automatically to fit the binding limit). */
  mlaMaxHeadsPerGroup?: number;
  /** Keys per MLA prefill key block (default CTXBENCH_MLA_KEY_BLOCK or 65536; tests set a tiny one). */
  mlaKeyBlockTokens?: number;
  /**
   * Warm up with one full prefill piece at load instead of two tokens, so the first request finds the arena's
   * piece-sized buffers already made (H100, 48B shape, 8k: the first request took 744 ms, later ones 573–597).
   */
  warmupPiece?: boolean;
}

export type ModelSource = { checkpoint: Checkpoint } | { randomConfig: KimiConfig; seed: number };

export interface GenerateOptions extends SamplingOptions {
  maxTokens: number;
  /** Extra stop ids on top of the config's eos ids. */
  stopIds?: number[];
  /** Called with each sampled id as soon as it is read back. */
  onToken?: (id: number) => void;
  signal?: AbortSignal;
  /** Sequence capacity (prompt + generation); default exactly what this request needs. */
  capacity?: number;
  /**
   * Called after each prefill piece has finished on the GPU (tokens done, prompt tokens). Setting it makes the
   * prefill wait for each piece, so long runs show where they are (and how fast) even if they are cut off.
   */
  onPrefillProgress?: (done: number, total: number) => void;
  /**
   * After the last token (or eos), run the recorded decode step once more with each dispatch timed on its own and report
   * the time per kernel (stats.decodeProfile). Needs maxTokens ≥ 2 and timestamp queries; the extra step only
   * advances a sequence that is released right after.
   */
  profileDecode?: boolean;
  /**
   * Run the last prefill piece with each dispatch in its own timed pass (each still runs exactly once, so the
   * sequence is unchanged) and report the time per kernel (stats.prefillProfile). Needs timestamp queries; the
   * per-pass stamps add a little to TTFT. A prompt of whole pieces makes the last one representative.
   */
  profilePrefill?: boolean;
  /**
   * Save the prefill's state every N tokens and resume this same request from its last checkpoint
   * (prefill-checkpoint.ts); the checkpoint is removed once the prefill has finished unless `keep`.
   */
  prefillCheckpoint?: PrefillCheckpointOptions;
}

export interface RequestStats {
  promptTokens: number;
  decodeTokens: number;
  ttftMs: number;
  prefillTokPerS: number;
  tpotMeanMs: number | null;
  tpotP50Ms: number | null;
  tpotP90Ms: number | null;
  peakArenaBytes: number;
  kvCacheBytes: number;
  /** Per-kernel GPU time of the last prefill piece, largest first, and its tokens (profilePrefill). */
  prefillProfile?: KernelTime[];
  prefillProfileTokens?: number;
  /** Per-kernel GPU time of one decode step, largest first (profileDecode). */
  decodeProfile?: KernelTime[];
  /** profileDecode: GPU ms of the whole step in one pass, and host ms to encode + submit it (TPOT ≈ the larger). */
  decodeStepGpuMs?: number;
  decodeEncodeMs?: number;
  kdaStateBytes: number;
  wallMs: number;
  /** Prompt tokens restored from a prefill checkpoint (0: prefilled from the start). ttftMs and prefillTokPerS cover the rest. */
  resumedFromTokens: number;
  /** Prefill compute time before the resume (from the checkpoint), ms. */
  priorPrefillMs: number;
  /** Time spent restoring and saving prefill checkpoints (inside ttftMs), ms. */
  checkpointMs: number;
  /** Why an existing prefill checkpoint was not resumed. */
  checkpointSkipped?: string;
}

export interface GenerateResult {
  ids: number[];
  finishReason: 'eos' | 'length';
  stats: RequestStats;
}

export interface DecodeAtContextOptions {
  /** N: the position decoding starts at (latent rows and states filled as if N tokens were prefilled). */
  contextTokens: number;
  /** Timed decode steps. */
  decodeTokens: number;
  /** Seed of the random state (same seed, same state, same tokens). */
  seed: number;
  /** Token fed at position N (default 0). */
  firstToken?: number;
}

export interface DecodeAtContextStats {
  contextTokens: number;
  decodeTokens: number;
  /** Allocation and random fill, until the GPU finished (not a prefill time). */
  fillMs: number;
  tpotMeanMs: number | null;
  tpotP50Ms: number | null;
  tpotP90Ms: number | null;
  peakArenaBytes: number;
  kvCacheBytes: number;
  kdaStateBytes: number;
  /** Storage of the MLA latent cache (null without MLA layers). */
  latentDtype: GpuDtype | null;
  wallMs: number;
}

export interface DecodeAtContextResult {
  /** Greedy ids of the decode steps (from random state: speed runs only, not model output). */
  ids: number[];
  stats: DecodeAtContextStats;
}

/** A request whose sequence (prompt + generation) cannot be allocated on this device: too long for it, not a fault. */
export class EngineCapacityError extends Error {
  override name = 'EngineCapacityError';
}

/** A context length whose sequence cannot be allocated (binding limit, out of memory): callers skip it. */
export class DecodeAtContextError extends Error {
  override name = 'DecodeAtContextError';
}

/** TPOT mean / p50 / p90 of per-step wall times (null without steps). */
function tpotStats(stepMs: readonly number[]): { tpotMeanMs: number | null; tpotP50Ms: number | null; tpotP90Ms: number | null } {
  const sorted = [...stepMs].sort((a, b) => a - b);
  const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null);
  return { tpotMeanMs: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null, tpotP50Ms: pct(0.5), tpotP90Ms: pct(0.9) };
}

/**
 * The environment switches that change prefill numerics, so a prefill checkpoint made under one setting is not
 * resumed under another. Decode-only switches and per-worker ones (CTXBENCH_WORKER_*: a resumed sample may land on
 * another GPU) stay out. A new prefill switch belongs here.
 */
const PREFILL_SWITCHES = ['CTXBENCH_GEMM_PATH', 'CTXBENCH_MLA_PREFILL', 'CTXBENCH_MLA_EXPAND', 'CTXBENCH_MLA_KEY_BLOCK',
  'CTXBENCH_LATENT_CACHE', 'CTXBENCH_MLA_FLASH_PLAN', 'CTXBENCH_MOE_TILE_ROWS', 'CTXBENCH_KDA_INTRA', 'CTXBENCH_KDA_SCAN',
  'CTXBENCH_KDA_SPLIT', 'CTXBENCH_KDA_SCAN_OPERANDS', 'CTXBENCH_KDA_INTRA_PRODUCTS', 'CTXBENCH_SUBGROUP_SIZE'];

export class Engine {
  private constructor(readonly ctx: GpuContext, readonly config: KimiConfig, readonly weights: KimiGpuWeights,
    readonly graph: KimiLinearGraph, readonly randomWeights: boolean, private readonly identity: string) {}

  static async load(source: ModelSource, opts: EngineOptions = {}): Promise<Engine> {
    const ctx = await GpuContext.create();
    // Decides once whether f16-weight linears may use the tensor-core GEMM (compiled under an error scope).
    await probeTensorCoreGemm(ctx);
    const config = 'checkpoint' in source ? source.checkpoint.config : source.randomConfig;
    const weightSource = 'checkpoint' in source ? checkpointSource(ctx, source.checkpoint) : randomSource(ctx, source.seed);
    const weights = loadKimiWeights(ctx, config, weightSource, opts.matmulDtype ?? 'f32');
    // The tensor-core KDA scan (the graph takes it only with f16/q8 weights) is the default where the probe compiles
    // it (it passed tools/device/kda-scan-tc-check.mjs on the H100, 2026-11-24 session 8); CTXBENCH_KDA_SCAN=scalar opts out.
    if (config.layerKinds.includes('kda') && (opts.matmulDtype ?? 'f32') !== 'f32' && process.env.CTXBENCH_KDA_SCAN !== 'scalar') {
      await probeKdaScanTensorCores(ctx, config.kda.headDim, config.kda.headDim);
    }
    await ctx.sync();
    const graph = new KimiLinearGraph(ctx, config, weights, opts.pieceTokens ?? 512, opts.allLogits ?? false,
      { maxHeadsPerGroup: opts.mlaMaxHeadsPerGroup, keyBlockTokens: opts.mlaKeyBlockTokens });
    // What a prefill checkpoint must match besides the weights: shape, dtypes, piece size and the kernel switches.
    const identity = JSON.stringify({
      config, matmulDtype: opts.matmulDtype ?? 'f32', pieceTokens: graph.pieceTokens, latent: graph.latentCacheDtype,
      randomSeed: 'seed' in source ? source.seed : null, keyBlock: opts.mlaKeyBlockTokens ?? null,
      switches: PREFILL_SWITCHES.map((k) => [k, process.env[k] ?? null]),
    });
    const engine = new Engine(ctx, config, weights, graph, !('checkpoint' in source), identity);
    // Compile every pipeline now (prefill piece, decode step, sampler) so the first request's TTFT is not
    // mostly shader compilation; the MLA prefill's key-block variants only run past one key block, so build them too.
    await graph.buildKernels();
    await engine.generate(new Array(opts.warmupPiece ? graph.pieceTokens : 2).fill(0), { maxTokens: 2, temperature: 0 });
    return engine;
  }

  /** Opens an HF model directory through the loader (src/engine/loader/). */
  static async openCheckpoint(dir: string): Promise<Checkpoint> {
    const { openHfCheckpoint } = await import('./loader/hf-checkpoint.js');
    return openHfCheckpoint(dir);
  }

  get device(): string {
    return this.ctx.caps.adapterDescription;
  }

  /** Logits of every prompt position [T, vocab] (engine loaded with allLogits). */
  async prefillLogits(promptIds: number[]): Promise<Float32Array> {
    if (!this.graph.allLogits) throw new Error('prefillLogits needs an engine loaded with allLogits');
    const V = this.config.vocabSize;
    const seq = this.graph.newSequence(promptIds.length);
    const ids = this.uploadIds(promptIds, promptIds.length);
    const out = new Float32Array(promptIds.length * V);
    try {
      for (let at = 0; at < promptIds.length; at += this.graph.pieceTokens) {
        const T = Math.min(this.graph.pieceTokens, promptIds.length - at);
        this.ctx.run(this.graph.forward(seq, ids, at, T));
        const logits = await this.ctx.readF32(this.graph.logits);
        out.set(logits.subarray(0, T * V), at * V);
      }
    } finally {
      this.graph.releaseSequence(seq);
      this.ctx.arena.free(ids);
    }
    return out;
  }

  /** Prefill the prompt, then sample up to maxTokens, stopping on eos / stop ids. */
  async generate(promptIds: number[], opts: GenerateOptions): Promise<GenerateResult> {
    const { ctx, graph, config } = this;
    if (promptIds.length === 0) throw new Error('generate: empty prompt');
    const bad = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= config.vocabSize);
    if (bad !== undefined) throw new Error(`generate: token id ${bad} outside the vocabulary (0..${config.vocabSize - 1})`);
    // Refused before the prefill, not after a long run.
    for (const profile of ['profileDecode', 'profilePrefill'] as const) {
      if (opts[profile] && !ctx.caps.hasTimestamps) throw new Error(`generate: ${profile} needs the timestamp-query feature, which this adapter lacks`);
    }
    const capacity = opts.capacity ?? promptIds.length + Math.max(opts.maxTokens, 1);
    const stop = new Set([...config.eosTokenIds, ...(opts.stopIds ?? [])]);
    const started = performance.now();
    ctx.arena.peakBytes = ctx.arena.liveBytes;
    const { seq, ids } = this.allocRequest(promptIds, capacity);
    const sampler = new GpuSampler(ctx, opts);
    const out: number[] = [];
    const stepMs: number[] = [];
    let finishReason: 'eos' | 'length' = 'length';
    let ttftMs = 0;
    let decodeProfile: KernelTime[] | undefined;
    let prefillProfile: Pick<RequestStats, 'prefillProfile' | 'prefillProfileTokens'> = {};
    let stepCost: { decodeStepGpuMs: number; decodeEncodeMs: number } | undefined;
    const checkpoint = opts.prefillCheckpoint
      ? new PrefillCheckpoint(ctx, opts.prefillCheckpoint, prefillCheckpointKey(`${this.identity}\0${opts.prefillCheckpoint.modelId}`, promptIds), promptIds.length)
      : undefined;
    let restored: RestoredPrefill = { pos: 0, priorPrefillMs: 0 };
    let checkpointMs = 0;
    try {
      const N = promptIds.length;
      if (checkpoint) {
        restored = await checkpoint.restore(seq);
        checkpointMs += performance.now() - started;
      }
      for (let at = restored.pos; at < N; at += graph.pieceTokens) {
        const T = Math.min(graph.pieceTokens, N - at);
        const specs = graph.forward(seq, ids, at, T);
        if (at + T === N && opts.maxTokens > 0) specs.push(...sampler.step(graph.logits, ids, graph.allLogits ? T - 1 : 0, N));
        if (opts.profilePrefill && at + T === N) {
          prefillProfile = { prefillProfile: sumByKernel(specs, await timeEachDispatch(ctx, specs)), prefillProfileTokens: T };
        } else {
          ctx.run(specs);
        }
        if (opts.onPrefillProgress) {
          await ctx.sync();
          opts.onPrefillProgress(at + T, N);
        }
        if (checkpoint?.due(at, at + T)) {
          await ctx.sync();
          const t0 = performance.now();
          await checkpoint.save(seq, restored.priorPrefillMs + (t0 - started - checkpointMs));
          checkpointMs += performance.now() - t0;
        }
        opts.signal?.throwIfAborted();
      }
      checkpoint?.finish();
      const token = opts.maxTokens > 0 ? await this.readToken(ids, N) : -1;
      ttftMs = performance.now() - started;
      if (opts.maxTokens === 0) await ctx.sync();
      const decoded = await this.decodeLoop(seq, ids, sampler, token, opts.maxTokens, stop, opts);
      out.push(...decoded.ids);
      stepMs.push(...decoded.stepMs);
      finishReason = decoded.finishReason;
      decodeProfile = decoded.decodeProfile;
      if (decoded.decodeStepGpuMs !== undefined) stepCost = { decodeStepGpuMs: decoded.decodeStepGpuMs, decodeEncodeMs: decoded.decodeEncodeMs! };
    } finally {
      sampler.release();
      graph.releaseSequence(seq);
      ctx.arena.free(ids);
    }
    return {
      ids: out,
      finishReason,
      stats: {
        promptTokens: promptIds.length,
        decodeTokens: out.length,
        ttftMs,
        prefillTokPerS: (promptIds.length - restored.pos) / (ttftMs / 1000),
        ...tpotStats(stepMs),
        peakArenaBytes: ctx.arena.peakBytes,
        kvCacheBytes: seq.kvCacheBytes,
        kdaStateBytes: seq.kdaStateBytes,
        wallMs: performance.now() - started,
        resumedFromTokens: restored.pos, priorPrefillMs: restored.priorPrefillMs, checkpointMs,
        ...(restored.skipped ? { checkpointSkipped: restored.skipped } : {}),
        ...prefillProfile, ...(decodeProfile ? { decodeProfile } : {}), ...stepCost,
      },
    };
  }

  /**
   * Decode speed at `contextTokens` of context without the prefill: a decode-only sequence of capacity
   * N + decodeTokens gets seeded random latent rows 0..N−1 and KDA states / conv caches (sequence-fill.ts), its
   * position is set to N, and `decodeTokens` greedy steps run through the same recorded decode list as
   * generate(). A step's cost depends on the cache lengths, not their values, so TPOT and memory are those at N;
   * the tokens are not a model's output (random state, no prefill). Every step runs (no eos stop).
   */
  async decodeAtContext(opts: DecodeAtContextOptions): Promise<DecodeAtContextResult> {
    const { ctx, graph, config } = this;
    const N = opts.contextTokens, D = opts.decodeTokens;
    if (!Number.isInteger(N) || N < 1) throw new Error(`decodeAtContext: context ${N} must be a whole number ≥ 1`);
    if (!Number.isInteger(D) || D < 1) throw new Error(`decodeAtContext: decode tokens ${D} must be a whole number ≥ 1`);
    const first = opts.firstToken ?? 0;
    if (!Number.isInteger(first) || first < 0 || first >= config.vocabSize) throw new Error(`decodeAtContext: first token ${first} outside the vocabulary`);
    const started = performance.now();
    // Pooled buffers of earlier runs go back first: a 1M-token cache must not sit beside the freed 512k one.
    ctx.arena.trimPool();
    ctx.arena.peakBytes = ctx.arena.liveBytes;
    // Out-of-memory is caught here so a length that does not fit is a clear skip, not a dead device.
    ctx.device.pushErrorScope('out-of-memory');
    let seq: SequenceState | undefined;
    let allocError: unknown;
    try {
      seq = graph.newSequence(N + D, { decodeOnly: true });
    } catch (err) {
      allocError = err;
    }
    const oom = await ctx.device.popErrorScope();
    if (oom || !seq) {
      if (seq) graph.releaseSequence(seq);
      ctx.arena.trimPool();
      const why = oom ? `out of GPU memory (${oom.message.split('\n')[0]})` : (allocError as Error).message;
      throw new DecodeAtContextError(`decode at ${N} tokens: cannot allocate the sequence: ${why}`);
    }
    // ids[N] holds the token fed at position N; each step writes the next id after it.
    const ids = this.uploadIds([], N + D + 1);
    ctx.upload({ ...ids, offset: ids.offset + N * 4, bytes: 4, shape: [1] }, [first]);
    const sampler = new GpuSampler(ctx, { temperature: 0 });
    try {
      ctx.run(randomSequenceFill(ctx, seq, N, opts.seed));
      seq.pos = N;
      await ctx.sync();
      const fillMs = performance.now() - started;
      // D decode steps need D + 1 loop turns (the first turn only emits the fed token).
      const decoded = await this.decodeLoop(seq, ids, sampler, first, D + 1, new Set(), {});
      return {
        ids: decoded.ids.slice(1),
        stats: {
          contextTokens: N, decodeTokens: decoded.stepMs.length, fillMs, ...tpotStats(decoded.stepMs),
          peakArenaBytes: ctx.arena.peakBytes, kvCacheBytes: seq.kvCacheBytes, kdaStateBytes: seq.kdaStateBytes,
          latentDtype: seq.mla.find((l) => l)?.cache.dtype ?? null, wallMs: performance.now() - started,
        },
      };
    } finally {
      sampler.release();
      graph.releaseSequence(seq);
      ctx.arena.free(ids);
      ctx.arena.trimPool();
    }
  }

  /**
   * The decode loop shared by generate() and decodeAtContext(): one list recorded now and replayed per step;
   * only the counter and the draw change. `token` was sampled at seq.pos; up to maxTokens ids are emitted.
   */
  private async decodeLoop(seq: SequenceState, ids: GpuTensor, sampler: GpuSampler, token: number, maxTokens: number, stop: Set<number>,
    opts: Pick<GenerateOptions, 'onToken' | 'signal' | 'profileDecode'>): Promise<{ ids: number[]; stepMs: number[]; finishReason: 'eos' | 'length'; decodeProfile?: KernelTime[]; decodeStepGpuMs?: number; decodeEncodeMs?: number }> {
    const { ctx, graph } = this;
    const out: number[] = [];
    const stepMs: number[] = [];
    let finishReason: 'eos' | 'length' = 'length';
    let decodeProfile: KernelTime[] | undefined;
    let stepCost: { decodeStepGpuMs: number; decodeEncodeMs: number } | undefined;
    const seqLen = ctx.tensor([1], 'u32', 'seq-len');
    const decode = maxTokens > 1
      ? [...graph.recordDecodeStep(seq, ids, seqLen), ...sampler.spec(graph.logits, ids, 0, 0, seqLen)] : [];
    // Submits the step at position `pos` (its token lands at pos + 1); the promise resolves once that token is on
    // the host. The counter write and the step are queue operations, so they stay in order across submissions.
    const submit = (pos: number): Promise<number> => {
      ctx.upload(seqLen, [pos + 1]);
      sampler.advance();
      ctx.run(decode);
      return this.readToken(ids, pos + 1);
    };
    let pending: Promise<number> | undefined;
    try {
      let t0 = performance.now();
      for (let step = 0; step < maxTokens; step++) {
        out.push(token);
        opts.onToken?.(token);
        if (stop.has(token)) { finishReason = 'eos'; break; }
        if (step + 1 === maxTokens) break;
        opts.signal?.throwIfAborted();
        pending ??= submit(seq.pos);
        seq.pos += 1;
        // The next step goes in before this one's token is read: its input token stays on the GPU, so the host
        // encodes step k + 1 while the GPU runs step k (encoding ~600 dispatches took about as long as the GPU
        // work at 8k on the H100). After a stop token that step was wasted work on a finished sequence.
        const ahead = step + 2 < maxTokens ? submit(seq.pos) : undefined;
        token = await pending;
        pending = ahead;
        const now = performance.now();
        stepMs.push(now - t0);
        t0 = now;
      }
      if (opts.profileDecode && decode.length) {
        ctx.upload(seqLen, [seq.pos + 1]);
        decodeProfile = sumByKernel(decode, await timeEachDispatch(ctx, decode));
        stepCost = { decodeStepGpuMs: await timeWholeList(ctx, decode), decodeEncodeMs: await timeHostEncode(ctx, decode) };
      }
    } finally {
      // A step submitted ahead and never used: let it finish (and swallow its failure, the loop's error wins).
      if (pending) await pending.catch(() => undefined);
      ctx.arena.free(seqLen);
    }
    return { ids: out, stepMs, finishReason, ...(decodeProfile ? { decodeProfile } : {}), ...stepCost };
  }

  async close(): Promise<void> {
    await this.ctx.destroy();
  }

  /** The sequence and id buffer of one request; a capacity past what the device can bind is a capacity error. */
  private allocRequest(promptIds: number[], capacity: number): { seq: SequenceState; ids: GpuTensor } {
    let seq: SequenceState | undefined;
    try {
      seq = this.graph.newSequence(capacity);
      return { seq, ids: this.uploadIds(promptIds, capacity) };
    } catch (err) {
      if (seq) this.graph.releaseSequence(seq);
      throw new EngineCapacityError(`a sequence of ${capacity} tokens does not fit this device: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  private uploadIds(promptIds: number[], capacity: number): GpuTensor {
    const ids = this.ctx.tensor([capacity], 'u32', 'token-ids');
    const data = new Uint32Array(capacity);
    data.set(promptIds);
    this.ctx.upload(ids, data);
    return ids;
  }

  /** The only readback of the loop: 4 bytes, the sampled id at `index`. */
  private async readToken(ids: GpuTensor, index: number): Promise<number> {
    const one: GpuTensor = { ...ids, offset: ids.offset + index * 4, bytes: 4, shape: [1] };
    return (await this.ctx.read(one))[0];
  }

  /** A fresh sequence for callers driving forward() themselves (tests, benches). */
  newSequence(capacity: number): SequenceState {
    return this.graph.newSequence(capacity);
  }
}
