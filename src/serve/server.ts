// `ctxbench serve`: a Backend (normally the built-in WebGPU engine) behind the OpenAI HTTP API, on fastify.
// Tokenisation, chat templates and stop strings stay in the backend, so served and direct runs give the same text.
import { timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Backend, GenerationRequest, GenerationResult } from '../runner/backends/types.js';
import type { TextTokenizer } from '../tokenize/tokenizer.js';
import { AdmissionQueue } from './admission-queue.js';
import { ApiError, apiErrorFromBackend, badRequest, contextLengthExceeded } from './api-error.js';
import { CompletionEnvelope, openAiFinishReason, sseEvent, usageOf } from './completion-shapes.js';
import { parseGenerationBody, type Endpoint, type ParsedRequest } from './request-fields.js';

export interface ServeOptions {
  backend: Backend;
  /** Name clients send as `model` and /v1/models lists. */
  modelName: string;
  /** Requests admitted at once (running + waiting); more get 429. */
  maxQueue: number;
  /** When set, every request needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Server-side window (vLLM's --max-model-len): prompt tokens + max_tokens must fit, checked before queueing. */
  window?: { maxTokens: number; tokenizer: TextTokenizer };
  /** Largest request body; 1M-token prompts are several MB of JSON. */
  bodyLimitBytes?: number;
  log?: (line: string) => void;
}

export interface RunningServer {
  /** API root including /v1, e.g. http://127.0.0.1:8000/v1. */
  baseUrl: string;
  /**
   * Graceful stop: no new requests, waiting ones cancelled (503), the running one gets `graceMs` to finish.
   * Calling it again while closing cancels the running request at once.
   */
  close(graceMs?: number): Promise<void>;
}

export async function startServer(options: ServeOptions, host: string, port: number): Promise<RunningServer> {
  const { app, queue } = buildServeApp(options);
  await app.listen({ host, port });
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    baseUrl: `http://${shownHost}:${boundPort}/v1`,
    close(graceMs = 30_000) {
      if (closing) {
        queue.cancelAll();
        return closing;
      }
      closing = (async () => {
        const stopListening = app.close();
        await queue.drain(graceMs);
        // Keep-alive sockets that went idle after close() began would otherwise hold it open for their timeout.
        const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
        app.server.closeIdleConnections();
        try {
          await stopListening;
        } finally {
          clearInterval(sweep);
        }
        await options.backend.close();
      })();
      return closing;
    },
  };
}

export function buildServeApp(options: ServeOptions): { app: FastifyInstance; queue: AdmissionQueue } {
  const log = options.log ?? (() => undefined);
  const queue = new AdmissionQueue(options.maxQueue);
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimitBytes ?? 256 * 1024 * 1024, return503OnClosing: true });

  app.addHook('onRequest', async (request) => {
    if (options.apiKey !== undefined && !keyMatches(request.headers.authorization, options.apiKey)) {
      throw new ApiError(401, 'authentication_error', 'missing or wrong API key (send Authorization: Bearer <key>)', 'invalid_api_key');
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _request, reply) => {
    const apiError = err instanceof ApiError ? err : frameworkError(err);
    if (apiError.status >= 500) log(`error ${apiError.status}: ${apiError.message}`);
    sendError(reply.raw, apiError, reply);
  });
  app.setNotFoundHandler((request, reply) => {
    sendError(reply.raw, new ApiError(404, 'not_found_error', `no route ${request.method} ${request.url}`), reply);
  });

  app.get('/v1/models', async () => ({
    object: 'list',
    data: [{
      id: options.modelName, object: 'model', created: Math.floor(Date.now() / 1000), owned_by: 'ctxbench',
      ...(options.window ? { max_model_len: options.window.maxTokens } : {}),
    }],
  }));
  app.get('/health', async () => ({ status: 'ok', queued: queue.size }));

  const generation = (endpoint: Endpoint) => async (request: FastifyRequest, reply: FastifyReply) => {
    // fastify hands a text/plain body over as a string: say what the client got wrong, not that JSON was bad.
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) throw unsupportedMediaType();
    const parsed = parseGenerationBody(endpoint, request.body);
    if (parsed.model !== undefined && parsed.model !== options.modelName) {
      throw new ApiError(404, 'not_found_error', `model "${parsed.model}" is not served here (serving "${options.modelName}")`, 'model_not_found', 'model');
    }
    checkWindow(parsed, options.window);
    await answer(parsed, request, reply, queue, options, log);
  };
  app.post('/v1/chat/completions', generation('chat'));
  app.post('/v1/completions', generation('completion'));
  return { app, queue };
}

function keyMatches(header: string | undefined, key: string): boolean {
  const given = Buffer.from(/^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim() ?? '');
  const want = Buffer.from(key);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** fastify's own failures (bad JSON, wrong content type, body too large) in the OpenAI shape. */
function frameworkError(err: Error & { statusCode?: number; code?: string }): ApiError {
  const status = err.statusCode ?? 500;
  if (status >= 500) return new ApiError(500, 'server_error', `internal error: ${err.message}`);
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) return badRequest(`malformed JSON body: ${err.message}`);
  // curl -d sends application/x-www-form-urlencoded unless told otherwise.
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedMediaType();
  return new ApiError(status, 'invalid_request_error', err.message, err.code ?? null);
}

const unsupportedMediaType = () => new ApiError(415, 'invalid_request_error',
  'the request body must be JSON, sent with Content-Type: application/json', 'unsupported_media_type');

function sendError(raw: ServerResponse, err: ApiError, reply?: FastifyReply): void {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (err.retryAfterS !== undefined) headers['retry-after'] = String(err.retryAfterS);
  if (reply && !reply.sent) {
    void reply.code(err.status).headers(headers).send(err.body);
    return;
  }
  if (raw.headersSent || raw.writableEnded) return;
  raw.writeHead(err.status, headers);
  raw.end(JSON.stringify(err.body));
}

/**
 * Counts before queueing so an over-long prompt costs no GPU time. Chat prompts are counted without the chat
 * template (a lower bound); the engine backend still enforces the model's own window exactly.
 */
function checkWindow(parsed: ParsedRequest, window: ServeOptions['window']): void {
  if (!window) return;
  const text = parsed.prompt ?? parsed.messages!.map((m) => m.content).join('');
  const promptTokens = window.tokenizer.count(text);
  if (promptTokens + parsed.maxTokens > window.maxTokens) {
    throw contextLengthExceeded(`the window is ${window.maxTokens} tokens, but the prompt has ${promptTokens} tokens and max_tokens asks for ${parsed.maxTokens}`,
      parsed.prompt !== undefined ? 'prompt' : 'messages');
  }
}

async function answer(parsed: ParsedRequest, request: FastifyRequest, reply: FastifyReply, queue: AdmissionQueue,
  options: ServeOptions, log: (line: string) => void): Promise<void> {
  const envelope = new CompletionEnvelope(parsed.endpoint, options.modelName);
  const controller = new AbortController();
  const raw = reply.raw;
  // The client went away before the answer ended: stop waiting or generating for it.
  // The reason is an ApiError below 500 so that a disconnect is not logged as an engine failure; nobody reads it.
  raw.on('close', () => { if (!raw.writableFinished) controller.abort(new ApiError(499, 'invalid_request_error', 'client disconnected', 'client_closed_request')); });
  const backendRequest: GenerationRequest = {
    maxTokens: parsed.maxTokens, temperature: parsed.temperature,
    ...(parsed.messages ? { messages: parsed.messages } : { prompt: parsed.prompt }),
    ...(parsed.topP !== undefined ? { topP: parsed.topP } : {}),
    ...(parsed.stop ? { stop: parsed.stop } : {}),
    ...(parsed.seed !== undefined ? { seed: parsed.seed } : {}),
  };

  if (!parsed.stream) {
    const result = await generate(queue, controller, options.backend, backendRequest);
    void reply.code(200).send(envelope.whole(result.text, openAiFinishReason(result.finishReason), usageOf(result)));
    return;
  }

  // Streaming: headers go out with the first piece, so a failure before any text still gets its real status.
  // One piece is held back: at the end of sequence the backend drops the eos token's text, and what was sent
  // must stay a prefix of the final text.
  reply.hijack();
  let sent = '';
  let held: string | undefined;
  const emit = (piece: string) => {
    if (!raw.headersSent) {
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
      if (parsed.endpoint === 'chat') raw.write(sseEvent(envelope.chunk('', null, true)));
    }
    if (piece) raw.write(sseEvent(envelope.chunk(piece, null)));
    sent += piece;
  };
  backendRequest.onText = (piece) => {
    if (held !== undefined) emit(held);
    held = piece;
  };
  let result: GenerationResult;
  try {
    result = await generate(queue, controller, options.backend, backendRequest);
  } catch (err) {
    const apiError = apiErrorFromBackend(err);
    if (apiError.status >= 500 && !controller.signal.aborted) log(`error ${apiError.status}: ${apiError.message}`);
    if (!raw.headersSent) return sendError(raw, apiError);
    // Mid-stream failure: an error event, then the stream ends without [DONE].
    if (!raw.writableEnded) raw.end(sseEvent(apiError.body));
    return;
  }
  const rest = result.text.startsWith(sent) ? result.text.slice(sent.length) : '';
  emit(rest);
  raw.write(sseEvent(envelope.chunk('', openAiFinishReason(result.finishReason))));
  if (parsed.includeUsage) raw.write(sseEvent(envelope.usageChunk(usageOf(result))));
  raw.end(sseEvent('[DONE]'));
}

async function generate(queue: AdmissionQueue, controller: AbortController, backend: Backend, request: GenerationRequest): Promise<GenerationResult> {
  try {
    return await queue.run(controller, (signal) => backend.generate({ ...request, signal }));
  } catch (err) {
    // Cancelled while waiting or running: the abort reason says why (shutdown → 503).
    if (controller.signal.aborted && controller.signal.reason instanceof ApiError) throw controller.signal.reason;
    throw apiErrorFromBackend(err);
  }
}
