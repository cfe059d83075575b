// Servers that answer 200 but with something that is not a usable completion: each must end as a recorded
// error kind (never a scored truncated answer, never a crash), and context-length wordings as too_long.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackend } from '../../src/runner/backends/index.js';
import { BackendError, type GenerationRequest } from '../../src/runner/backends/types.js';

/** Answers every POST with the raw body (and content type) the test gives, counting the requests. */
interface RawServer { baseUrl: string; requests: number; close(): Promise<void> }

let server: RawServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

async function rawServer(status: number, contentType: string, body: string): Promise<RawServer> {
  let requests = 0;
  const http: Server = createServer(async (req, res) => {
    for await (const _ of req) { /* drain */ }
    requests++;
    res.writeHead(status, { 'content-type': contentType });
    res.end(body);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    get requests() { return requests; },
    close: () => new Promise<void>((resolve) => { http.closeAllConnections(); http.close(() => resolve()); }),
  };
}

async function failureFrom(status: number, contentType: string, body: string): Promise<BackendError> {
  server = await rawServer(status, contentType, body);
  const backend = await createBackend({
    kind: 'openai', model: 'm', baseUrl: server.baseUrl, timeoutMs: 2000, backoffBaseMs: 1, backoffMaxMs: 2, maxRetries: 2,
    stream: contentType === 'text/event-stream',
  });
  const request: GenerationRequest = { messages: [{ role: 'user', content: 'hi' }], maxTokens: 8, temperature: 0 };
  try {
    const result = await backend.generate(request);
    throw new Error(`expected a failure, got text ${JSON.stringify(result.text)}`);
  } catch (err) {
    expect(err).toBeInstanceOf(BackendError);
    return err as BackendError;
  }
}

const sse = (...events: unknown[]) => events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');

describe('openai backend: broken 200 answers', () => {
  it('a stream that ends without [DONE] or a finish_reason is an api_error after retries, not a truncated answer', async () => {
    const err = await failureFrom(200, 'text/event-stream', sse({ choices: [{ delta: { content: 'The special' } }] }));
    expect(err.kind).toBe('api_error');
    expect(err.message).toMatch(/stream ended before \[DONE\].*after 3 attempts/);
    expect(server!.requests).toBe(3);
  });

  it('a stream with a finish_reason but no [DONE] is a complete answer', async () => {
    server = await rawServer(200, 'text/event-stream',
      sse({ choices: [{ delta: { content: 'The answer' } }] }, { choices: [{ delta: {}, finish_reason: 'stop' }] }));
    const backend = await createBackend({ kind: 'openai', model: 'm', baseUrl: server.baseUrl, timeoutMs: 2000 });
    const result = await backend.generate({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 8, temperature: 0 });
    expect(result).toMatchObject({ text: 'The answer', finishReason: 'stop' });
  });

  it('JSON null (whole body or one stream event) is an api_error at once, not a retried TypeError', async () => {
    let err = await failureFrom(200, 'application/json', 'null');
    expect(err).toMatchObject({ kind: 'api_error', message: expect.stringMatching(/not an object/) });
    expect(server!.requests).toBe(1);
    await server!.close();
    err = await failureFrom(200, 'text/event-stream', sse('null', '[DONE]'));
    expect(err).toMatchObject({ kind: 'api_error', message: expect.stringMatching(/not an object/) });
    expect(server!.requests).toBe(1);
  });

  it('non-string content is an api_error (it used to crash the whole run)', async () => {
    const body = JSON.stringify({ choices: [{ message: { content: 5 }, finish_reason: 'stop' }] });
    expect(await failureFrom(200, 'application/json', body)).toMatchObject({ kind: 'api_error', message: expect.stringMatching(/non-string content: 5/) });
    await server!.close();
    const stream = sse({ choices: [{ delta: { content: { text: 'x' } } }] }, '[DONE]');
    expect((await failureFrom(200, 'text/event-stream', stream)).kind).toBe('api_error');
  });

  it('vLLM engine and llama.cpp context-length rejections are too_long, not retried', async () => {
    const vllm = 'The decoder prompt (length 3000) is longer than the maximum model length of 2048. Make sure that `max_model_len` is no smaller than the number of text tokens.';
    expect((await failureFrom(400, 'application/json', JSON.stringify({ error: { message: vllm, code: 400 } }))).kind).toBe('too_long');
    expect(server!.requests).toBe(1);
    await server!.close();
    const llama = JSON.stringify({ error: { code: 400, message: 'the request exceeds the available context size, try increasing it', type: 'exceed_context_size_error' } });
    expect((await failureFrom(400, 'application/json', llama)).kind).toBe('too_long');
  });
});
