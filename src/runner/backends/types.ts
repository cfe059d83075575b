// What every backend (built-in WebGPU engine, OpenAI-compatible HTTP) offers the runner.
import type { StoredPerf } from '../../store/store.js';
import type { ChatMessage, ErrorKind } from '../../tasks/types.js';

export interface GenerationRequest {
  /** Chat form; the backend applies the model's chat template. Exactly one of messages / prompt. */
  messages?: ChatMessage[];
  /** Raw completion form (base models): sent verbatim. */
  prompt?: string;
  /**
   * Chat form only: text the answer continues from (RULER's answer prefix). A backend that renders the chat
   * template opens the assistant turn with it; the openai backend appends it to the last user message, as
   * RULER's own OpenAI client does.
   */
  answerPrefix?: string;
  maxTokens: number;
  temperature: number;
  topP?: number;
  stop?: string[];
  seed?: number;
  signal?: AbortSignal;
  /** Streaming hook: called with each decoded text piece as it arrives. */
  onText?: (piece: string) => void;
}

/** Per-request performance, as measured by the backend (undefined = not measurable there); the store's columns. */
export interface GenerationPerf extends StoredPerf {
  wallMs: number;
}

export interface GenerationResult {
  text: string;
  finishReason: 'stop' | 'length' | 'eos' | 'unknown';
  perf: GenerationPerf;
}

/** A failed request, classified so the store counts it apart from wrong answers. */
export class BackendError extends Error {
  override name = 'BackendError';
  constructor(readonly kind: ErrorKind, message: string, readonly retryable = false) {
    super(message);
  }
}

export interface BackendInfo {
  backend: string;
  model: string;
  engineVersion?: string;
  kernelVersion?: string;
  device?: string;
  randomWeights?: boolean;
}

export interface Backend {
  readonly info: BackendInfo;
  /** How many requests the runner may keep in flight against this backend. */
  readonly concurrency: number;
  generate(request: GenerationRequest): Promise<GenerationResult>;
  close(): Promise<void>;
}
