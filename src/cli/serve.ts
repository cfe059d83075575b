// `ctxbench serve`: the built-in engine behind an OpenAI-compatible HTTP API (src/serve/). Binds 127.0.0.1 by
// default; SIGINT/SIGTERM stop it gracefully (a second signal cancels the running request at once).
import type { Command } from 'commander';
import { action, integerFlag, UsageError } from './usage.js';
import { createBackend } from '../runner/backends/index.js';
import { loadTokenizer } from '../tokenize/tokenizer.js';

interface ServeCliOptions {
  model?: string;
  randomWeights?: string;
  host: string;
  port: string;
  maxQueue: string;
  apiKey?: string;
  maxModelLen?: string;
  servedModelName?: string;
  shutdownGrace: string;
}


export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the built-in engine over an OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models)')
    .option('--model <dir>', 'HF model directory (config.json, safetensors, tokenizer, chat template)')
    .option('--random-weights <shape>', 'seeded random weights of a named shape (speed and plumbing tests; raw prompts only)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <n>', 'port to bind (0 = any free port)', '8000')
    .option('--max-queue <n>', 'requests admitted at once, running + waiting; more get 429 with Retry-After', '64')
    .option('--api-key <key>', 'require Authorization: Bearer <key> on every request (also $CTXBENCH_API_KEY)')
    .option('--max-model-len <n>', 'refuse prompts whose tokens + max_tokens exceed n (400, context length)')
    .option('--served-model-name <name>', 'the model id clients send and /v1/models lists (default: the --model value)')
    .option('--shutdown-grace <seconds>', 'on SIGINT/SIGTERM, time the running request gets to finish', '30')
    .action(action(async (opts: ServeCliOptions) => {
      if (Boolean(opts.model) === Boolean(opts.randomWeights)) throw new UsageError('give exactly one of --model DIR or --random-weights SHAPE');
      const port = integerFlag('--port', opts.port, 0, 65535);
      const maxQueue = integerFlag('--max-queue', opts.maxQueue, 1);
      const graceS = integerFlag('--shutdown-grace', opts.shutdownGrace, 0, 86_400);
      const maxModelLen = opts.maxModelLen === undefined ? undefined : integerFlag('--max-model-len', opts.maxModelLen, 2);
      const apiKey = opts.apiKey ?? process.env.CTXBENCH_API_KEY;
      if (apiKey !== undefined && apiKey.trim() === '') throw new UsageError('--api-key must not be empty');
      const model = opts.model ?? `random:${opts.randomWeights}`;

      const backend = await createBackend({ kind: 'webgpu', model });
      // The same tokenizer the webgpu backend encodes with (loadTokenizer caches by id, so this is that instance):
      // random weights, whether named by --random-weights or --model random:SHAPE, count in o200k.
      const window = maxModelLen === undefined ? undefined
        : { maxTokens: maxModelLen, tokenizer: await loadTokenizer(model.startsWith('random:') ? 'o200k_base' : model) };
      const log = (line: string) => process.stderr.write(`ctxbench serve: ${line}\n`);
      let server;
      try {
        const { startServer } = await import('../serve/server.js');
        server = await startServer({ backend, modelName: opts.servedModelName ?? model, maxQueue, apiKey, window, log }, opts.host, port);
      } catch (err) {
        await backend.close();
        throw new UsageError(`cannot listen on ${opts.host}:${port}: ${(err as Error).message}`);
      }
      process.stdout.write(`ctxbench serve: ${backend.info.model} on ${server.baseUrl} (device: ${backend.info.device ?? 'unknown'}, max queue ${maxQueue}${apiKey ? ', API key required' : ''})\n`);

      await new Promise<void>((resolve) => {
        let signals = 0;
        const onSignal = (signal: NodeJS.Signals) => {
          signals++;
          if (signals === 1) {
            log(`${signal}: finishing the running request (up to ${graceS} s), cancelling queued ones`);
            server.close(graceS * 1000).then(resolve, (err: Error) => { log(`shutdown: ${err.message}`); resolve(); });
          } else {
            log(`${signal} again: cancelling now`);
            server.close(0).finally(resolve);
          }
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      log('stopped');
      // Dawn's device threads would otherwise keep the process alive after a clean stop.
      process.exit(0);
    }));
}
