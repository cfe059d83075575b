// `ctxbench serve` as a real child process on 127.0.0.1, real engine on (lavapipe) WebGPU with tiny random
// weights: auth, validation, context length, streaming vs whole answers, stop strings, seeds, the bounded queue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAiBackend } from '../../src/runner/backends/openai.js';
import { BackendError } from '../../src/runner/backends/types.js';
import { loadTokenizer } from '../../src/tokenize/tokenizer.js';
import { call, sseEvents, startServeProcess, type ServeProcess } from './serve-process.js';

const KEY = 'serve-test-key';
const MODEL = 'random:kimi-linear-tiny';
let serve: ServeProcess;

beforeAll(async () => {
  // --model random:SHAPE (not --random-weights): the window's o200k tokenizer must be found for that spelling too.
  serve = await startServeProcess(['--model', MODEL, '--max-queue', '8', '--api-key', KEY, '--max-model-len', '4096']);
});
afterAll(async () => {
  expect(await serve?.stop()).toBe(0);
});

const complete = (body: Record<string, unknown>) => call(serve.baseUrl, '/completions', body, KEY);
const openAiClient = (over: Partial<ConstructorParameters<typeof OpenAiBackend>[0]> = {}) => new OpenAiBackend({
  model: MODEL, baseUrl: serve.baseUrl, apiKey: KEY, timeoutMs: 60_000, concurrency: 1, stream: true,
  maxRetries: 0, backoffBaseMs: 1, backoffMaxMs: 1, ...over,
});

describe('ctxbench serve over HTTP', () => {
  it('checks the API key on every route', async () => {
    for (const key of [undefined, 'wrong-key', `${KEY}x`]) {
      const models = await call(serve.baseUrl, '/models', undefined, key);
      expect(models.status).toBe(401);
      expect(models.json().error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
      expect((await call(serve.baseUrl, '/completions', { prompt: 'hi', max_tokens: 1 }, key)).status).toBe(401);
    }
    const models = await call(serve.baseUrl, '/models', undefined, KEY);
    expect(models.status).toBe(200);
    expect(models.json()).toMatchObject({ object: 'list', data: [{ id: MODEL, object: 'model', max_model_len: 4096 }] });
    // Through the openai backend, a wrong key is a plain (non-retried) api_error.
    await expect(openAiClient({ apiKey: 'nope' }).generate({ prompt: 'hi', maxTokens: 1, temperature: 0 }))
      .rejects.toMatchObject({ kind: 'api_error', message: expect.stringMatching(/HTTP 401/) });
  });

  it('answers malformed JSON and bad fields with OpenAI-shaped 400s', async () => {
    const malformed = await call(serve.baseUrl, '/completions', '{"prompt": "hi", ', KEY);
    expect(malformed.status).toBe(400);
    expect(malformed.json().error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/malformed JSON/) });
    // A good JSON object under the wrong content type (curl -d's form default, text/plain) is told so.
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await fetch(`${serve.baseUrl}/completions`, {
        method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${KEY}` }, body: JSON.stringify({ prompt: 'hi', max_tokens: 1 }),
      });
      expect(res.status, type).toBe(415);
      expect((await res.json()).error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_media_type',
        message: expect.stringMatching(/Content-Type: application\/json/) });
    }
    const cases: [Record<string, unknown>, string][] = [
      [{ prompt: 'hi', max_tokens: 0 }, 'max_tokens'],
      [{ prompt: 'hi', max_tokens: 2.5 }, 'max_tokens'],
      [{ prompt: 'hi', temperature: 3 }, 'temperature'],
      [{ prompt: 'hi', top_p: 0 }, 'top_p'],
      [{ prompt: 'hi', seed: -1 }, 'seed'],
      [{ prompt: 'hi', stop: [''] }, 'stop'],
      [{ prompt: 'hi', stop: 7 }, 'stop'],
      [{ prompt: 'hi', n: 2 }, 'n'],
      [{ prompt: 'hi', logprobs: 3 }, 'logprobs'],
      [{ prompt: 'hi', logit_bias: { 50256: -100 } }, 'logit_bias'],
      [{ prompt: 'hi', response_format: { type: 'json_object' } }, 'response_format'],
      [{ prompt: 'hi', functions: [{ name: 'f' }] }, 'functions'],
      [{ prompt: 'hi', top_k: 40 }, 'top_k'],
      [{ prompt: 'hi', repetition_penalty: 1.2 }, 'repetition_penalty'],
      [{ prompt: 'hi', stream: 'yes' }, 'stream'],
      [{ prompt: [1, 2, 3] }, 'prompt'],
      [{ prompt: '' }, 'prompt'],
      [{}, 'prompt'],
    ];
    for (const [body, param] of cases) {
      const res = await complete(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json().error).toMatchObject({ type: 'invalid_request_error', param });
    }
    // Their neutral values are accepted, as clients send them by default.
    const neutral = await complete({ prompt: 'hi', max_tokens: 1, logit_bias: {}, response_format: { type: 'text' }, top_k: -1, min_p: 0, repetition_penalty: 1 });
    expect(neutral.status).toBe(200);
    const chat = await call(serve.baseUrl, '/chat/completions', { messages: [{ role: 'robot', content: 'x' }] }, KEY);
    expect(chat.status).toBe(400);
    expect(chat.json().error.param).toBe('messages');
    // Random weights have no chat template: a clear 400, not a crash.
    const noTemplate = await call(serve.baseUrl, '/chat/completions', { messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }, KEY);
    expect(noTemplate.status).toBe(400);
    expect(noTemplate.json().error.message).toMatch(/no chat template/);
    const otherModel = await complete({ model: 'gpt-4o', prompt: 'hi' });
    expect(otherModel.status).toBe(404);
    expect(otherModel.json().error.code).toBe('model_not_found');
  });

  it('refuses an over-long prompt with a context-length 400 that the openai backend reads as too_long', async () => {
    const prompt = 'hello '.repeat(5000);
    const res = await complete({ prompt, max_tokens: 4 });
    expect(res.status).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'context_length_exceeded', param: 'prompt' });
    expect(res.json().error.message).toMatch(/maximum context length/);
    // A prompt that fits alone but not with its budget is refused the same way.
    const tokens = (await loadTokenizer('o200k_base')).count(prompt.slice(0, 4000 * 6));
    expect(tokens).toBeLessThan(4096);
    expect((await complete({ prompt: prompt.slice(0, 4000 * 6), max_tokens: 4096 - tokens + 1 })).status).toBe(400);
    const err = await openAiClient().generate({ prompt, maxTokens: 4, temperature: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).kind).toBe('too_long');
  });

  it('gives the same greedy text whole and streamed, with usage counts', async () => {
    const prompt = 'The quick brown fox jumps over the lazy dog.';
    const whole = await complete({ prompt, max_tokens: 6, temperature: 0 });
    expect(whole.status).toBe(200);
    const body = whole.json();
    const promptTokens = (await loadTokenizer('o200k_base')).count(prompt);
    expect(body).toMatchObject({ object: 'text_completion', model: MODEL, usage: { prompt_tokens: promptTokens } });
    const { text, finish_reason } = body.choices[0];
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(6);
    expect(body.usage.total_tokens).toBe(promptTokens + body.usage.completion_tokens);
    if (finish_reason === 'length') expect(body.usage.completion_tokens).toBe(6);
    else expect(finish_reason).toBe('stop');

    const streamed = await complete({ prompt, max_tokens: 6, temperature: 0, stream: true, stream_options: { include_usage: true } });
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = sseEvents(streamed.text);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe(text);
    expect(chunks.at(-2).choices[0].finish_reason).toBe(finish_reason);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: body.usage });

    // The openai backend, streaming and not, reads the same text and counts.
    for (const stream of [true, false]) {
      const result = await openAiClient({ stream }).generate({ prompt, maxTokens: 6, temperature: 0 });
      expect(result.text).toBe(text);
      expect(result.perf).toMatchObject({ promptTokens, completionTokens: body.usage.completion_tokens });
    }
  });

  it('cuts the answer at a stop string found in the decoded text', async () => {
    const prompt = 'Once upon a time';
    const full = (await complete({ prompt, max_tokens: 12, temperature: 0 })).json().choices[0].text as string;
    expect(full.length).toBeGreaterThanOrEqual(5);
    const stop = full.slice(3, 5);
    const cut = (await complete({ prompt, max_tokens: 12, temperature: 0, stop: ['never-appears', stop] })).json();
    expect(cut.choices[0]).toMatchObject({ text: full.slice(0, full.indexOf(stop)), finish_reason: 'stop' });
    const streamed = sseEvents((await complete({ prompt, max_tokens: 12, temperature: 0, stop, stream: true })).text);
    expect(streamed.slice(0, -1).map((e) => JSON.parse(e).choices[0].text).join('')).toBe(full.slice(0, full.indexOf(stop)));
  });

  it('reproduces a seeded sample at temperature 1', async () => {
    const sample = async (seed: number) =>
      (await complete({ prompt: 'Pick a word:', max_tokens: 8, temperature: 1, top_p: 0.95, seed })).json().choices[0].text as string;
    const first = await sample(7);
    expect(await sample(7)).toBe(first);
    const others = await Promise.all([1, 2, 3].map(sample));
    expect(new Set([first, ...others]).size).toBeGreaterThan(1);
  });

  it('answers 50 concurrent requests with --max-queue 8: each a completion or a 429, none lost', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      complete({ prompt: `Request number ${i}`, max_tokens: 4, temperature: 0 })));
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok.length + refused.length).toBe(50);
    expect(ok.length).toBeGreaterThanOrEqual(8);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const a of ok) expect(a.json().choices[0].finish_reason).toMatch(/^(length|stop)$/);
    for (const a of refused) {
      expect(a.json().error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' });
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // The queue drained: a later request is served.
    expect((await complete({ prompt: 'after the burst', max_tokens: 2 })).status).toBe(200);
  });

  it('cancels the running request when its client disconnects', async () => {
    const health = async () => (await call(serve.baseUrl.replace(/\/v1$/, ''), '/health', undefined, KEY)).json().queued as number;
    const controller = new AbortController();
    // 2000 tokens would take minutes on lavapipe; the abort must stop it long before.
    const res = await fetch(`${serve.baseUrl}/completions`, {
      method: 'POST', signal: controller.signal,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ prompt: 'Tell a long story:', max_tokens: 2000, temperature: 0, stream: true }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    expect(await health()).toBe(1);
    controller.abort();
    for (let i = 0; i < 300 && (await health()) !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await health()).toBe(0);
    expect((await complete({ prompt: 'next', max_tokens: 2 })).status).toBe(200);
  });
});
