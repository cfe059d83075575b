// Validation of /v1/chat/completions and /v1/completions bodies. Every bad field is a 400 naming the field;
// fields we cannot honour (n > 1, logprobs, penalties) are refused rather than silently ignored.
import type { ChatMessage } from '../tasks/types.js';
import { badRequest } from './api-error.js';

export type Endpoint = 'chat' | 'completion';

export interface ParsedRequest {
  endpoint: Endpoint;
  model?: string;
  messages?: ChatMessage[];
  prompt?: string;
  maxTokens: number;
  temperature: number;
  topP?: number;
  stop?: string[];
  seed?: number;
  stream: boolean;
  /** stream_options.include_usage: a last chunk carries the usage counts. */
  includeUsage: boolean;
}

/** Budgets when the client names none: OpenAI's legacy completions default, and a bounded chat answer. */
export const DEFAULT_MAX_TOKENS: Record<Endpoint, number> = { completion: 16, chat: 256 };
const MAX_STOP_SEQUENCES = 16;
const ROLES = new Set(['system', 'developer', 'user', 'assistant']);

type Body = Record<string, unknown>;

export function parseGenerationBody(endpoint: Endpoint, raw: unknown): ParsedRequest {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('request body must be a JSON object');
  const body = raw as Body;
  refuseUnsupported(body);
  const parsed: ParsedRequest = {
    endpoint,
    maxTokens: maxTokensOf(body, endpoint),
    temperature: numberIn(body, 'temperature', 0, 2) ?? 1,
    stream: booleanOf(body, 'stream') ?? false,
    includeUsage: false,
  };
  if (body.model !== undefined && body.model !== null) {
    if (typeof body.model !== 'string') throw badRequest('model must be a string', 'model');
    parsed.model = body.model;
  }
  const topP = numberIn(body, 'top_p', 0, 1);
  if (topP !== undefined) {
    if (topP === 0) throw badRequest('top_p must be in (0, 1]', 'top_p');
    parsed.topP = topP;
  }
  const seed = body.seed;
  if (seed !== undefined && seed !== null) {
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) throw badRequest('seed must be a non-negative integer', 'seed');
    parsed.seed = seed;
  }
  const stop = stopOf(body.stop);
  if (stop) parsed.stop = stop;
  const streamOptions = body.stream_options;
  if (streamOptions !== undefined && streamOptions !== null) {
    if (typeof streamOptions !== 'object' || Array.isArray(streamOptions)) throw badRequest('stream_options must be an object', 'stream_options');
    const include = (streamOptions as Body).include_usage;
    if (include !== undefined && typeof include !== 'boolean') throw badRequest('stream_options.include_usage must be a boolean', 'stream_options');
    parsed.includeUsage = include === true;
  }
  if (endpoint === 'chat') parsed.messages = messagesOf(body.messages);
  else parsed.prompt = promptOf(body.prompt);
  return parsed;
}

function refuseUnsupported(body: Body): void {
  const n = body.n ?? 1;
  if (n !== 1) throw badRequest('only n = 1 is supported', 'n');
  if ((body.best_of ?? 1) !== 1) throw badRequest('only best_of = 1 is supported', 'best_of');
  if (body.echo === true) throw badRequest('echo is not supported', 'echo');
  if (body.suffix !== undefined && body.suffix !== null) throw badRequest('suffix is not supported', 'suffix');
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== false) throw badRequest('logprobs are not supported', 'logprobs');
  for (const field of ['frequency_penalty', 'presence_penalty']) {
    const v = body[field];
    if (v !== undefined && v !== null && v !== 0) throw badRequest(`${field} is not supported (only 0)`, field);
  }
  for (const field of ['tools', 'functions']) {
    if (body[field] !== undefined && body[field] !== null) throw badRequest(`${field} are not supported`, field);
  }
  const bias = body.logit_bias;
  if (bias !== undefined && bias !== null && !(typeof bias === 'object' && Object.keys(bias).length === 0)) {
    throw badRequest('logit_bias is not supported', 'logit_bias');
  }
  // JSON mode or a schema would silently come back as free text.
  const format = body.response_format;
  if (format !== undefined && format !== null && (format as Body).type !== 'text') {
    throw badRequest('response_format other than {"type": "text"} is not supported', 'response_format');
  }
  // vLLM's sampling extras, accepted only at their "off" values.
  for (const [field, off] of [['top_k', [-1, 0]], ['min_p', [0]], ['repetition_penalty', [1]]] as const) {
    const v = body[field];
    if (v !== undefined && v !== null && !(off as readonly unknown[]).includes(v)) throw badRequest(`${field} is not supported`, field);
  }
}

function maxTokensOf(body: Body, endpoint: Endpoint): number {
  // Chat clients may send the newer max_completion_tokens; both mean the same budget.
  const field = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? 'max_completion_tokens' : 'max_tokens';
  const v = body[field];
  if (v === undefined || v === null) return DEFAULT_MAX_TOKENS[endpoint];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw badRequest(`${field} must be a positive integer`, field);
  return v;
}

function numberIn(body: Body, field: string, lo: number, hi: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw badRequest(`${field} must be a number in [${lo}, ${hi}]`, field);
  return v;
}

function booleanOf(body: Body, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${field} must be a boolean`, field);
  return v;
}

function stopOf(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s.length > 0)) {
    throw badRequest('stop must be a non-empty string or a list of non-empty strings', 'stop');
  }
  if (list.length > MAX_STOP_SEQUENCES) throw badRequest(`stop takes at most ${MAX_STOP_SEQUENCES} sequences`, 'stop');
  return list.length ? (list as string[]) : undefined;
}

function messagesOf(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw badRequest('messages must be a non-empty list', 'messages');
  return v.map((m, i) => {
    if (m === null || typeof m !== 'object') throw badRequest(`messages[${i}] must be an object`, 'messages');
    const { role, content } = m as Body;
    if (typeof role !== 'string' || !ROLES.has(role)) {
      throw badRequest(`messages[${i}].role must be one of ${[...ROLES].join(', ')}`, 'messages');
    }
    // "developer" is OpenAI's newer name for the system role.
    return { role: (role === 'developer' ? 'system' : role) as ChatMessage['role'], content: contentText(content, i) };
  });
}

/** Content is a string or a list of text parts (images and audio are refused). */
function contentText(content: unknown, i: number): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part, j) => {
      const p = part as Body | null;
      if (!p || p.type !== 'text' || typeof p.text !== 'string') {
        throw badRequest(`messages[${i}].content[${j}] must be a text part ({"type": "text", "text": ...})`, 'messages');
      }
      return p.text;
    }).join('');
  }
  throw badRequest(`messages[${i}].content must be a string or a list of text parts`, 'messages');
}

function promptOf(v: unknown): string {
  const prompt = Array.isArray(v) && v.length === 1 ? v[0] : v;
  if (typeof prompt === 'string') {
    if (prompt.length === 0) throw badRequest('prompt must not be empty', 'prompt');
    return prompt;
  }
  if (Array.isArray(v) && v.length > 1) throw badRequest('only one prompt per request is supported', 'prompt');
  throw badRequest('prompt must be a string (token-id prompts are not supported)', 'prompt');
}
