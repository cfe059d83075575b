// Backend factory. `webgpu` (the built-in engine) is loaded lazily so the openai path never touches Dawn.
import type { Backend } from './types.js';
import { OpenAiBackend, OPENAI_DEFAULTS } from './openai.js';

export type BackendKind = 'openai' | 'webgpu';
export const BACKEND_KINDS: readonly BackendKind[] = ['openai', 'webgpu'];

export interface BackendOptions {
  kind: BackendKind;
  /** openai: the served model name. webgpu: a model directory (config.json, safetensors, tokenizer.json). */
  model: string;
  /** Requests in flight at once; defaults per backend (openai 4, webgpu 1). */
  concurrency?: number;
  /** Per-request deadline. */
  timeoutMs?: number;
  baseUrl?: string;
  apiKey?: string;
  stream?: boolean;
  maxRetries?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** openai: GET /models once before the run so a wrong URL fails in one line, not per sample. */
  checkReachable?: boolean;
  /**
   * webgpu: save each prompt's prefill state every `everyTokens` under `dir`; a rerun resumes a cut-off prefill.
   * Removed once the prefill has finished, unless `keep`.
   */
  prefillCheckpoint?: { dir: string; everyTokens: number; keep?: boolean };
}

/** Where `run --prefill-checkpoint-every` keeps prefill checkpoints (one subfolder per prompt; removed when done). */
export const PREFILL_CHECKPOINT_DIR = '.cache/prefill-checkpoints';

/** The named backend is known but cannot run here (e.g. the engine is not built yet); one-line message. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

/**
 * The contract src/runner/backends/webgpu.ts fulfils:
 *   export async function createWebGpuBackend(options: BackendOptions): Promise<Backend>
 */

export async function createBackend(options: BackendOptions): Promise<Backend> {
  if (options.kind === 'openai') {
    const baseUrl = options.baseUrl ?? process.env.OPENAI_BASE_URL ?? OPENAI_DEFAULTS.baseUrl;
    let parsed: URL;
    try {
      parsed = new URL(baseUrl);
    } catch {
      throw new BackendUnavailableError(`invalid --base-url "${baseUrl}" (expected e.g. http://127.0.0.1:8000/v1)`);
    }
    if (parsed.hostname === 'api.openai.com' && !options.apiKey) {
      throw new BackendUnavailableError('no API key for api.openai.com: set OPENAI_API_KEY (or name another variable with --api-key-env), or give --base-url');
    }
    const backend = new OpenAiBackend({
      model: options.model,
      baseUrl,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs ?? OPENAI_DEFAULTS.timeoutMs,
      concurrency: options.concurrency ?? OPENAI_DEFAULTS.concurrency,
      stream: options.stream ?? OPENAI_DEFAULTS.stream,
      maxRetries: options.maxRetries ?? OPENAI_DEFAULTS.maxRetries,
      backoffBaseMs: options.backoffBaseMs ?? OPENAI_DEFAULTS.backoffBaseMs,
      backoffMaxMs: options.backoffMaxMs ?? OPENAI_DEFAULTS.backoffMaxMs,
    });
    if (options.checkReachable) {
      try {
        await backend.checkReachable();
      } catch (err) {
        throw new BackendUnavailableError((err as Error).message);
      }
    }
    return backend;
  }
  // Loaded on use: Dawn and the engine stay out of openai-only runs.
  if (options.kind === 'webgpu') return (await import('./webgpu.js')).createWebGpuBackend(options);
  throw new BackendUnavailableError(`unknown backend "${options.kind as string}" (known: ${BACKEND_KINDS.join(', ')})`);
}
