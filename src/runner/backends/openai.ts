// OpenAI-compatible backend: /v1/chat/completions (messages) and /v1/completions (raw prompts), as served by
// OpenAI, vLLM, SGLang and `ctxbench serve`. Streams by default so TTFT and TPOT can be measured.
import type { IncomingMessage } from 'node:http';
import type { ChatMessage } from '../../tasks/types.js';
import {
  BackendError, type Backend, type BackendInfo, type GenerationPerf, type GenerationRequest, type GenerationResult,
} from './types.js';
import { postJson, PostAbortedError, PostTimeoutError, probeStatus, readBody, sseData } from './http-post.js';

export interface OpenAiBackendOptions {
  model: string;
  /** API root including the version segment, e.g. http://127.0.0.1:8000/v1. */
  baseUrl: string;
  apiKey?: string;
  /** Deadline per HTTP attempt. */
  timeoutMs: number;
  concurrency: number;
  /** Server-sent events (TTFT/TPOT measured); off for servers without streaming. */
  stream: boolean;
  /** Retries after 429, 5xx and network errors. */
  maxRetries: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const OPENAI_DEFAULTS = {
  baseUrl: 'https://api.openai.com/v1',
  timeoutMs: 600_000,
  concurrency: 4,
  stream: true,
  maxRetries: 6,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
} as const;

// Wordings vLLM, SGLang, OpenAI and llama.cpp use when the prompt does not fit the context window (vLLM's engine
// says "longer than the maximum model length", llama.cpp "exceeds the available context size").
const CONTEXT_ERROR = /context[ _-]?length|context window|maximum context|context_length_exceeded|too many tokens|prompt is too long|input is too long|exceeds? the (?:model'?s )?max|maximum model length|available context size|exceed_context_size/i;

/** A retryable failure, carrying the server's Retry-After when it sent one. */
class RetryableError extends BackendError {
  constructor(message: string, readonly retryAfterMs?: number) {
    super('api_error', message, true);
  }
}

interface Completion {
  text: string;
  finishReason: GenerationResult['finishReason'];
  promptTokens?: number;
  completionTokens?: number;
  ttftMs?: number;
  /** Arrival times (ms since the attempt began) of each non-empty text piece. */
  pieceTimesMs: number[];
}

export class OpenAiBackend implements Backend {
  readonly info: BackendInfo;
  readonly concurrency: number;

  constructor(private readonly options: OpenAiBackendOptions) {
    this.info = { backend: 'openai', model: options.model, device: new URL(options.baseUrl).host };
    this.concurrency = options.concurrency;
  }

  async generate(request: GenerationRequest): Promise<GenerationResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(request);
      } catch (err) {
        const retryable = err instanceof BackendError && err.retryable;
        if (!retryable || attempt >= this.options.maxRetries) {
          if (err instanceof BackendError) {
            throw retryable ? new BackendError(err.kind, `${err.message} (gave up after ${attempt + 1} attempts)`) : err;
          }
          throw new BackendError('api_error', (err as Error).message);
        }
        await sleep(this.retryDelayMs(attempt, (err as RetryableError).retryAfterMs), request.signal);
      }
    }
  }

  async close(): Promise<void> {}

  /**
   * Fails fast when nothing answers at the base URL, instead of recording every sample of a long run as an
   * api_error after its retries. Any HTTP status (even 401/404 on GET /models) counts as reachable.
   */
  async checkReachable(timeoutMs = 15_000): Promise<void> {
    const url = new URL(`${this.options.baseUrl.replace(/\/+$/, '')}/models`);
    const headers: Record<string, string> = this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {};
    try {
      await probeStatus(url, headers, timeoutMs);
    } catch (err) {
      throw new BackendError('api_error', `cannot reach ${this.options.baseUrl}: ${(err as Error).message}`);
    }
  }

  /** Exponential backoff with jitter; a Retry-After from the server replaces it (capped at 5× the backoff ceiling). */
  private retryDelayMs(attempt: number, retryAfterMs?: number): number {
    const { backoffBaseMs, backoffMaxMs } = this.options;
    const exponential = Math.min(backoffMaxMs, backoffBaseMs * 2 ** attempt) * (0.5 + Math.random() / 2);
    return retryAfterMs !== undefined ? Math.min(Math.max(retryAfterMs, 0), 5 * backoffMaxMs) : exponential;
  }

  private requestBody(request: GenerationRequest): { path: string; body: Record<string, unknown> } {
    const common: Record<string, unknown> = {
      model: this.options.model,
      max_tokens: request.maxTokens,
      temperature: request.temperature,
    };
    if (request.topP !== undefined) common.top_p = request.topP;
    if (request.stop?.length) common.stop = request.stop;
    if (request.seed !== undefined) common.seed = request.seed;
    if (this.options.stream) {
      common.stream = true;
      common.stream_options = { include_usage: true };
    }
    if (request.messages) {
      return { path: '/chat/completions', body: { ...common, messages: withAnswerPrefix(request.messages, request.answerPrefix) } };
    }
    if (request.prompt === undefined) throw new BackendError('invalid_input', 'request has neither messages nor prompt');
    return { path: '/completions', body: { ...common, prompt: request.prompt } };
  }

  private async attempt(request: GenerationRequest): Promise<GenerationResult> {
    const { path, body } = this.requestBody(request);
    const url = new URL(this.options.baseUrl.replace(/\/+$/, '') + path);
    const headers: Record<string, string> = { accept: this.options.stream ? 'text/event-stream' : 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const started = performance.now();
    let completion: Completion | undefined;
    try {
      await postJson({
        url, body, headers, timeoutMs: this.options.timeoutMs, signal: request.signal,
        onResponse: async (response) => {
          if ((response.statusCode ?? 0) >= 400) throw await httpError(response);
          const isStream = String(response.headers['content-type'] ?? '').includes('text/event-stream');
          completion = isStream
            ? await readStream(response, started, request.onText)
            : parseCompletion(await readBody(response), request.onText);
        },
      });
    } catch (err) {
      if (err instanceof BackendError) throw err;
      if (err instanceof PostTimeoutError) throw new BackendError('timeout', `${url.pathname}: ${err.message}`);
      if (err instanceof PostAbortedError) throw new BackendError('interrupted', 'request aborted');
      // Connection refused / reset / DNS: the server may come back.
      throw new RetryableError(`${url.host}: ${(err as Error).message}`);
    }
    return { text: completion!.text, finishReason: completion!.finishReason, perf: perfOf(completion!, started) };
  }
}

/** RULER's OpenAI client sends `input + answer_prefix` as one user message; do the same. */
function withAnswerPrefix(messages: ChatMessage[], answerPrefix?: string): ChatMessage[] {
  if (!answerPrefix) return messages;
  const copy = messages.map((m) => ({ ...m }));
  const lastUser = copy.map((m) => m.role).lastIndexOf('user');
  if (lastUser < 0) throw new BackendError('invalid_input', 'answer prefix given but no user message to append it to');
  copy[lastUser].content += answerPrefix;
  return copy;
}

async function httpError(response: IncomingMessage): Promise<BackendError> {
  const status = response.statusCode ?? 0;
  const text = (await readBody(response, 64 * 1024)).trim();
  let message = text;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    message = (typeof parsed.error === 'string' ? parsed.error : parsed.error?.message) ?? parsed.message ?? text;
  } catch { /* plain-text error page */ }
  const summary = `HTTP ${status}: ${message.slice(0, 300).replace(/\s+/g, ' ')}`;
  // Some servers answer an oversized prompt with a plain 500; the wording decides, not only the status.
  if (CONTEXT_ERROR.test(message) && status <= 500) return new BackendError('too_long', summary);
  if (status === 429 || status >= 500) return new RetryableError(summary, retryAfterMs(response.headers['retry-after']));
  return new BackendError('api_error', summary);
}

/** Retry-After is either delay-seconds or an HTTP date. */
export function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

interface ChoiceChunk {
  text?: string;
  delta?: { content?: string | null };
  message?: { content?: string | null };
  finish_reason?: string | null;
}
interface CompletionChunk {
  choices?: ChoiceChunk[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string } | string;
}

function finishReasonOf(reason: string | null | undefined): GenerationResult['finishReason'] {
  if (reason === 'stop' || reason === 'length') return reason;
  if (reason === 'eos') return 'eos';
  return 'unknown';
}

function chunkError(chunk: CompletionChunk): BackendError | undefined {
  if (chunk.error === undefined) return undefined;
  const message = typeof chunk.error === 'string' ? chunk.error : chunk.error.message ?? 'unknown error';
  return new BackendError(CONTEXT_ERROR.test(message) ? 'too_long' : 'api_error', `stream error: ${message}`);
}

function parseJson(text: string): CompletionChunk {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BackendError('api_error', `server sent invalid JSON: ${text.slice(0, 200)}`);
  }
  // `null` or a bare value is not a completion; left through, it fails later as a TypeError that looks retryable.
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BackendError('api_error', `server sent JSON that is not an object: ${text.slice(0, 200)}`);
  }
  return parsed as CompletionChunk;
}

/** A choice's text: a string, or absent/null (tool calls only); anything else is a broken server, not an answer. */
function textOf(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new BackendError('api_error', `server sent non-string content: ${JSON.stringify(value).slice(0, 200)}`);
  return value;
}

function parseCompletion(bodyText: string, onText?: (piece: string) => void): Completion {
  const chunk = parseJson(bodyText);
  const err = chunkError(chunk);
  if (err) throw err;
  const choice = chunk.choices?.[0];
  if (!choice) throw new BackendError('api_error', 'response has no choices');
  const text = textOf(choice.message?.content ?? choice.text);
  if (text) onText?.(text);
  return {
    text, finishReason: finishReasonOf(choice.finish_reason), pieceTimesMs: [],
    promptTokens: chunk.usage?.prompt_tokens, completionTokens: chunk.usage?.completion_tokens,
  };
}

async function readStream(response: IncomingMessage, started: number, onText?: (piece: string) => void): Promise<Completion> {
  const pieces: string[] = [];
  const result: Completion = { text: '', finishReason: 'unknown', pieceTimesMs: [] };
  let finished = false;
  for await (const data of sseData(response)) {
    if (data.trim() === '[DONE]') {
      finished = true;
      break;
    }
    const chunk = parseJson(data);
    const err = chunkError(chunk);
    if (err) throw err;
    if (chunk.usage) {
      result.promptTokens = chunk.usage.prompt_tokens ?? result.promptTokens;
      result.completionTokens = chunk.usage.completion_tokens ?? result.completionTokens;
    }
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    const piece = textOf(choice.delta?.content ?? choice.text);
    if (piece) {
      const now = performance.now() - started;
      result.ttftMs ??= now;
      result.pieceTimesMs.push(now);
      pieces.push(piece);
      onText?.(piece);
    }
    if (choice.finish_reason) {
      result.finishReason = finishReasonOf(choice.finish_reason);
      finished = true;
    }
  }
  // Cut off by a proxy or a dying server: the text so far is a truncated answer, which must not be scored.
  // A finish_reason without [DONE] is complete (some llama.cpp versions omit [DONE]).
  if (!finished) throw new RetryableError(`stream ended before [DONE] or a finish_reason (${pieces.length} pieces received)`);
  result.text = pieces.join('');
  return result;
}

/** TPOT spreads the decode time over the server's token count; percentiles use per-chunk gaps. */
function perfOf(c: Completion, started: number): GenerationPerf {
  const perf: GenerationPerf = { wallMs: performance.now() - started };
  if (c.promptTokens !== undefined) perf.promptTokens = c.promptTokens;
  if (c.completionTokens !== undefined) perf.completionTokens = c.completionTokens;
  if (c.ttftMs !== undefined) {
    perf.ttftMs = c.ttftMs;
    if (c.promptTokens) perf.prefillTokPerS = c.promptTokens / (c.ttftMs / 1000);
  }
  const times = c.pieceTimesMs;
  if (times.length >= 2) {
    const decodeMs = times[times.length - 1] - times[0];
    const tokens = c.completionTokens && c.completionTokens > 1 ? c.completionTokens : times.length;
    perf.tpotMs = decodeMs / (tokens - 1);
    const gaps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
    perf.tpotP50Ms = percentile(gaps, 0.5);
    perf.tpotP90Ms = percentile(gaps, 0.9);
  }
  return perf;
}

function percentile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new BackendError('interrupted', 'request aborted'));
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(new BackendError('interrupted', 'request aborted')); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
