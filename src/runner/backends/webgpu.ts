// The built-in engine as a runner backend: --backend webgpu --model DIR (or random:SHAPE for speed runs,
// marked randomWeights and never reported as scores). One request at a time on the one GPU context.
import type { Backend, BackendInfo, GenerationRequest, GenerationResult } from './types.js';
import { BackendError } from './types.js';
import { streamStep } from './stream-step.js';
import type { BackendOptions } from './index.js';
import { Engine, EngineCapacityError } from '../../engine/engine.js';
import { modelFolderId, type PrefillCheckpointOptions } from '../../engine/prefill-checkpoint.js';
import { GpuError } from '../../engine/gpu/device.js';
import { randomShapeConfig } from '../../engine/models/kimi-linear-shapes.js';
import { loadTokenizer, type TextTokenizer } from '../../tokenize/tokenizer.js';
import { openModelDirectory } from '../../engine/loader/model-dir.js';
import type { ChatMessage } from '../../tasks/types.js';

const RANDOM_PREFIX = 'random:';

type ChatRenderer = (messages: ChatMessage[]) => string;

export async function createWebGpuBackend(options: BackendOptions): Promise<Backend> {
  const random = options.model.startsWith(RANDOM_PREFIX);
  let engine: Engine;
  let tokenizer: TextTokenizer;
  let renderChat: ChatRenderer | undefined;
  if (random) {
    engine = await Engine.load({ randomConfig: randomShapeConfig(options.model.slice(RANDOM_PREFIX.length)), seed: 0 }, { matmulDtype: 'f16', warmupPiece: true });
    // Random weights have no tokenizer: o200k ids folded into the vocabulary keep prompt lengths realistic.
    tokenizer = await loadTokenizer('o200k_base');
  } else {
    const model = await openModelDirectory(options.model);
    tokenizer = model.tokenizer;
    const template = model.chatTemplate;
    if (template) renderChat = (messages) => template.render(messages, { addGenerationPrompt: true });
    engine = await Engine.load({ checkpoint: model.checkpoint }, { warmupPiece: true });
  }
  const prefillCheckpoint = options.prefillCheckpoint
    ? { ...options.prefillCheckpoint, modelId: random ? options.model : modelFolderId(options.model) } : undefined;
  return new WebGpuBackend(engine, tokenizer, renderChat, options, random, prefillCheckpoint);
}

class WebGpuBackend implements Backend {
  readonly info: BackendInfo;
  readonly concurrency = 1;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly engine: Engine, private readonly tokenizer: TextTokenizer,
    private readonly renderChat: ChatRenderer | undefined, options: BackendOptions, random: boolean,
    private readonly prefillCheckpoint?: PrefillCheckpointOptions) {
    this.info = { backend: 'webgpu', model: options.model, engineVersion: '0.1.0', device: engine.device, randomWeights: random };
  }

  generate(request: GenerationRequest): Promise<GenerationResult> {
    // The engine owns one GPU context: serialise requests even if the runner asks for more.
    const run = this.queue.then(() => this.generateOne(request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async generateOne(request: GenerationRequest): Promise<GenerationResult> {
    const started = performance.now();
    const config = this.engine.config;
    let text: string;
    if ((request.messages === undefined) === (request.prompt === undefined)) throw new BackendError('invalid_input', 'request needs exactly one of messages / prompt');
    if (request.messages) {
      if (!this.renderChat) throw new BackendError('invalid_input', 'this model has no chat template; send a raw prompt');
      // RULER-style answer prefix: appended after the rendered template, so the model continues it.
      try {
        text = this.renderChat(request.messages) + (request.answerPrefix ?? '');
      } catch (err) {
        // A template that refuses these messages (roles out of order, say) is a bad request, not an engine fault.
        throw new BackendError('invalid_input', `chat template: ${(err as Error).message.split('\n')[0]}`);
      }
    } else text = request.prompt!;
    let ids = this.tokenizer.encode(text);
    if (this.info.randomWeights) ids = ids.map((id) => id % config.vocabSize);
    if (ids.length === 0) throw new BackendError('invalid_input', 'empty prompt');
    if (config.maxPositions > 0 && ids.length + request.maxTokens > config.maxPositions) {
      throw new BackendError('too_long', `prompt ${ids.length} + ${request.maxTokens} new tokens exceed the model's ${config.maxPositions} positions`);
    }
    const out: number[] = [];
    let emitted = '';
    let stopped = false;
    const stops = request.stop ?? [];
    const eosIds = new Set(config.eosTokenIds);
    if (request.signal?.aborted) throw new BackendError('interrupted', 'request aborted before it started');
    const controller = new AbortController();
    const onAbort = () => controller.abort(request.signal?.reason);
    request.signal?.addEventListener('abort', onAbort);
    try {
      const result = await this.engine.generate(ids, {
        maxTokens: request.maxTokens,
        temperature: request.temperature,
        topP: request.topP,
        seed: request.seed,
        signal: controller.signal,
        prefillCheckpoint: this.prefillCheckpoint,
        onToken: (id) => {
          if (stopped) return;
          out.push(id);
          if (eosIds.has(id)) return; // the end marker is not text
          const step = streamStep(this.tokenizer.decode(out), emitted, stops);
          if (step.piece) request.onText?.(step.piece);
          emitted = step.emitted;
          // A stop string ends the request at the next token boundary.
          if (step.stop) { stopped = true; controller.abort('stop'); }
        },
      });
      // A stop string in the last allowed token ends the loop by length before the abort is seen: still a stop.
      if (stopped) return { text: emitted, finishReason: 'stop', perf: this.perf(result.stats, started) };
      const eos = result.finishReason === 'eos';
      const textOut = this.tokenizer.decode(eos ? out.slice(0, -1) : out);
      // What streaming held back (a partial character, a possible stop string's start) goes out now.
      if (textOut.startsWith(emitted) && textOut.length > emitted.length) request.onText?.(textOut.slice(emitted.length));
      return { text: textOut, finishReason: eos ? 'eos' : 'length', perf: this.perf(result.stats, started) };
    } catch (err) {
      if (stopped) return { text: emitted, finishReason: 'stop', perf: { promptTokens: ids.length, completionTokens: out.length, wallMs: performance.now() - started } };
      if (request.signal?.aborted) throw new BackendError('interrupted', 'request aborted');
      if (err instanceof BackendError) throw err;
      if (err instanceof EngineCapacityError) throw new BackendError('too_long', err.message);
      const e = err as Error;
      throw new BackendError('engine_error', `${e instanceof GpuError ? '' : 'engine: '}${e.message.split('\n')[0]}`);
    } finally {
      request.signal?.removeEventListener('abort', onAbort);
    }
  }

  private perf(s: Awaited<ReturnType<Engine['generate']>>['stats'], started: number): GenerationResult['perf'] {
    // A prefill resumed from a checkpoint: TTFT adds the compute time before the cut (the work lost after the last
    // checkpoint and the restarts are not counted), so long-context rows stay comparable.
    const ttftMs = s.priorPrefillMs + s.ttftMs;
    return {
      promptTokens: s.promptTokens, completionTokens: s.decodeTokens, ttftMs, prefillTokPerS: s.promptTokens / (ttftMs / 1000),
      tpotMs: s.tpotMeanMs ?? undefined, tpotP50Ms: s.tpotP50Ms ?? undefined, tpotP90Ms: s.tpotP90Ms ?? undefined,
      peakMemoryBytes: s.peakArenaBytes, kvStateBytes: s.kvCacheBytes + s.kdaStateBytes, wallMs: performance.now() - started,
    };
  }

  async close(): Promise<void> {
    await this.queue;
    await this.engine.close();
  }
}
