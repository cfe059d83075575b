// `ctxbench serve` failure and shutdown paths: an engine failure is a 500 and the server keeps serving; SIGTERM
// (real child process) lets the running request finish, cancels the queued one (503) and exits 0.
import { describe, expect, it } from 'vitest';
import { createBackend } from '../../src/runner/backends/index.js';
import type { Backend } from '../../src/runner/backends/types.js';
import { startServer } from '../../src/serve/server.js';
import { call, sseEvents, startServeProcess } from './serve-process.js';

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('ctxbench serve lifecycle', () => {
  it('shuts down gracefully on SIGTERM: the running stream finishes, the queued request gets 503, exit 0', async () => {
    const serve = await startServeProcess(['--random-weights', 'kimi-linear-tiny', '--max-queue', '4', '--shutdown-grace', '120']);
    try {
      // A streams; once its first event arrived it is running. B then waits in the queue behind it.
      const streaming = await fetch(`${serve.baseUrl}/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'A long answer:', max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true } }),
      });
      expect(streaming.status).toBe(200);
      const reader = streaming.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!text.includes('data:')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      const queued = call(serve.baseUrl, '/completions', { prompt: 'queued', max_tokens: 4 });
      await waitFor(async () => (await call(serve.baseUrl.replace(/\/v1$/, ''), '/health')).json().queued === 2, 'the second request to be queued');

      serve.child.kill('SIGTERM');
      const refused = await queued;
      expect(refused.status).toBe(503);
      expect(refused.json().error.code).toBe('shutting_down');
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      // The running request finished in full: every token, its usage, and [DONE].
      const events = sseEvents(text);
      expect(events.at(-1)).toBe('[DONE]');
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
      const usage = chunks.at(-1).usage;
      const finish = chunks.at(-2).choices[0].finish_reason;
      expect(finish === 'stop' || usage.completion_tokens === 24).toBe(true);

      expect(await serve.exited).toBe(0);
      expect(serve.stderr()).toMatch(/SIGTERM: finishing the running request/);
      await expect(fetch(`${serve.baseUrl}/models`)).rejects.toThrow();
    } finally {
      await serve.stop();
    }
  });

  it('answers an engine failure with 500 and keeps serving', async () => {
    // The tiny model's window stops every budget the GPU could not hold, so the failure is injected: the real
    // engine backend, with one request made to throw as a lost device would.
    const engine = await createBackend({ kind: 'webgpu', model: 'random:kimi-linear-tiny' });
    let failNext = true;
    const faulty: Backend = {
      info: engine.info, concurrency: 1, close: () => engine.close(),
      generate: (request) => {
        if (failNext) { failNext = false; return Promise.reject(new Error('device lost (injected)')); }
        return engine.generate(request);
      },
    };
    const lines: string[] = [];
    const server = await startServer({ backend: faulty, modelName: 'tiny', maxQueue: 2, log: (l) => lines.push(l) }, '127.0.0.1', 0);
    try {
      const failed = await call(server.baseUrl, '/completions', { prompt: 'hi', max_tokens: 3, temperature: 0 });
      expect(failed.status).toBe(500);
      expect(failed.json().error).toMatchObject({ type: 'server_error', message: 'engine failure: device lost (injected)' });
      expect(lines).toEqual(['error 500: engine failure: device lost (injected)']);
      const after = await call(server.baseUrl, '/completions', { prompt: 'hi', max_tokens: 3, temperature: 0, stream: true });
      expect(after.status).toBe(200);
      expect(sseEvents(after.text).at(-1)).toBe('[DONE]');
    } finally {
      await server.close();
    }
  });

  it('keeps a cancelled request admitted until the engine has let go of it; disconnects are not logged as failures', async () => {
    // A prefill already submitted to the GPU runs to its end after a disconnect. That is made deterministic here:
    // the real engine backend, held after the abort until the test releases it.
    const engine = await createBackend({ kind: 'webgpu', model: 'random:kimi-linear-tiny' });
    let inside = 0;
    let mostInside = 0;
    let entered!: () => void;
    const enteredFirst = new Promise<void>((r) => { entered = r; });
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    let calls = 0;
    const slow: Backend = {
      info: engine.info, concurrency: 1, close: () => engine.close(),
      generate: async (request) => {
        inside++;
        mostInside = Math.max(mostInside, inside);
        try {
          if (calls++ === 0) {
            entered();
            await new Promise((r) => request.signal!.addEventListener('abort', r, { once: true }));
            await released;
          }
          return await engine.generate(request);
        } finally {
          inside--;
        }
      },
    };
    const lines: string[] = [];
    const server = await startServer({ backend: slow, modelName: 'tiny', maxQueue: 3, log: (l) => lines.push(l) }, '127.0.0.1', 0);
    const post = (prompt: string, signal?: AbortSignal) => fetch(`${server.baseUrl}/completions`, {
      method: 'POST', signal, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt, max_tokens: 4, temperature: 0 }),
    }).catch((e: Error) => e.name);
    const health = async () => (await call(server.baseUrl.replace(/\/v1$/, ''), '/health')).json().queued as number;
    try {
      const client = new AbortController();
      const first = post('cut off', client.signal);
      await enteredFirst;
      client.abort();
      expect(await first).toBe('AbortError');
      // The engine still works on the cancelled request: it stays counted, and the next one waits behind it.
      expect(await health()).toBe(1);
      const second = call(server.baseUrl, '/completions', { prompt: 'next', max_tokens: 2, temperature: 0 });
      await waitFor(async () => (await health()) === 2, 'the next request to be admitted');
      // A client that gives up while waiting leaves the queue at once.
      const waiting = new AbortController();
      const third = post('gives up', waiting.signal);
      await waitFor(async () => (await health()) === 3, 'the third request to be admitted');
      waiting.abort();
      expect(await third).toBe('AbortError');
      await waitFor(async () => (await health()) === 2, 'the waiting request to leave');
      release();
      expect((await second).status).toBe(200);
      expect(mostInside).toBe(1);
      expect(await health()).toBe(0);
      // Both disconnects were the clients' doing: no "engine failure" (500) or 503 lines in the server's log.
      expect(lines).toEqual([]);
    } finally {
      release();
      await server.close();
    }
  });

  it('refuses bad flags with one line and exit 2', async () => {
    const failures: Promise<void>[] = [];
    for (const [args, message] of [
      [['--max-queue', '0', '--random-weights', 'kimi-linear-tiny'], /--max-queue must be an integer/],
      [['--port', '70000', '--random-weights', 'kimi-linear-tiny'], /--port must be an integer/],
      [[], /exactly one of --model DIR or --random-weights SHAPE/],
      [['--random-weights', 'nope'], /unknown --random-weights shape "nope"/],
    ] as const) {
      failures.push(startServeProcess([...args]).then(async (s) => { await s.stop(); return `started despite ${args.join(' ')}`; }, (e: Error) => e.message)
        .then((err) => { expect(err).toMatch(/exited with 2/); expect(err).toMatch(message); }));
    }
    await Promise.all(failures);
  });
});
