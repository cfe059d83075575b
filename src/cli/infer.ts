// `ctxbench infer`: run the built-in WebGPU engine on one prompt; prints generated ids/text and the stats.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { action, integerFlag, UsageError } from './usage.js';
import { Engine, type EngineOptions, type ModelSource } from '../engine/engine.js';
import { modelFolderId } from '../engine/prefill-checkpoint.js';
import type { KernelTime } from '../engine/gpu/dispatch-profile.js';
import { RANDOM_SHAPES, randomShapeConfig } from '../engine/models/kimi-linear-shapes.js';
import { mulberry32 } from '../random/seeded.js';
import type { TextTokenizer } from '../tokenize/tokenizer.js';
import { loadModelTokenizer } from '../engine/loader/model-tokenizer.js';

interface InferOptions {
  model?: string;
  randomWeights?: string;
  randomExperts?: string;
  seed: string;
  prompt?: string;
  ids?: string;
  randomPrompt?: string;
  maxTokens: string;
  temperature: string;
  topP: string;
  logitsOut?: string;
  json?: boolean;
  weights: string;
  piece: string;
  progress?: boolean;
  profileDecode?: boolean;
  profilePrefill?: boolean;
  prefillCheckpoint?: string;
  checkpointEvery: string;
  keepCheckpoint?: boolean;
}

function readIds(file: string): number[] {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--ids ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const ids = Array.isArray(data) ? data : (data as { input_ids?: unknown })?.input_ids;
  if (!Array.isArray(ids) || ids.length === 0) {
    throw new UsageError(`--ids ${file}: expected a non-empty JSON array of token ids (or {"input_ids": [...]})`);
  }
  const at = ids.findIndex((x) => !Number.isSafeInteger(x) || x < 0);
  if (at >= 0) throw new UsageError(`--ids ${file}: entry ${at} is ${JSON.stringify(ids[at])}, not a token id (a whole number ≥ 0)`);
  return ids as number[];
}

export function registerInfer(program: Command): void {
  program
    .command('infer')
    .description('run the built-in WebGPU engine on one prompt and print ids, text and per-request stats')
    .option('--model <dir>', 'HF model directory (config.json, safetensors, tokenizer)')
    .option('--random-weights <shape>', `seeded random weights of a named shape (${Object.keys(RANDOM_SHAPES).join(', ')}); never a score`)
    .option('--random-experts <n>', 'with --random-weights: fewer routed experts, same layer shapes (to fit memory)')
    .option('--seed <n>', 'seed of random weights, random prompts and sampling', '0')
    .option('--prompt <text>', 'prompt text (needs the model tokenizer)')
    .option('--ids <file.json>', 'prompt token ids as a JSON array')
    .option('--random-prompt <n>', 'n seeded random prompt ids (speed runs)')
    .option('--max-tokens <n>', 'tokens to generate', '32')
    .option('--temperature <t>', '0 = greedy', '0')
    .option('--top-p <p>', 'nucleus mass', '1')
    .option('--logits-out <file.f32>', 'write the prompt positions\' logits, raw little-endian f32 [T, vocab]')
    .option('--json', 'print one JSON object')
    .option('--weights <dtype>', 'matmul weight storage: f32, f16 or int8 (q8: int8 per group of 32 + f16 scales)', 'f32')
    .option('--piece <n>', 'longest prefill piece in tokens', '2048')
    .option('--progress', 'print each finished prefill piece to stderr (tokens, seconds, tok/s)')
    .option('--prefill-checkpoint <dir>', 'save the prefill state under DIR every --checkpoint-every tokens; a rerun of the same prompt and weights resumes from the last one')
    .option('--checkpoint-every <n>', 'tokens between prefill checkpoints', '65536')
    .option('--keep-checkpoint', 'keep the prefill checkpoint after the prefill has finished')
    .option('--profile-prefill', 'time each dispatch of the last prefill piece and print the time per kernel (needs timestamp queries)')
    .option('--profile-decode', 'time each dispatch of one decode step after the last token and print the time per kernel (needs timestamp queries, --max-tokens ≥ 2)')
    .action(action(async (opts: InferOptions) => {
      if (Boolean(opts.model) === Boolean(opts.randomWeights)) throw new UsageError('give exactly one of --model DIR or --random-weights SHAPE');
      const promptSources = [opts.prompt, opts.ids, opts.randomPrompt].filter((x) => x !== undefined).length;
      if (promptSources !== 1) throw new UsageError('give exactly one of --prompt TEXT, --ids FILE.json or --random-prompt N');
      if (!['f32', 'f16', 'int8'].includes(opts.weights)) throw new UsageError(`--weights must be f32, f16 or int8, got "${opts.weights}"`);
      const seed = integerFlag('--seed', opts.seed, 0);
      const maxTokens = integerFlag('--max-tokens', opts.maxTokens, 0);
      const checkpointEvery = integerFlag('--checkpoint-every', opts.checkpointEvery, 1);
      const temperature = Number(opts.temperature);
      const topP = Number(opts.topP);
      if (!(temperature >= 0 && temperature < Infinity)) throw new UsageError(`--temperature must be a number ≥ 0, got "${opts.temperature}"`);
      if (!(topP > 0 && topP <= 1)) throw new UsageError(`--top-p must be in (0, 1], got "${opts.topP}"`);

      let tokenizer: TextTokenizer | undefined;
      let source: ModelSource;
      if (opts.model) {
        source = { checkpoint: await Engine.openCheckpoint(opts.model) };
        // --prompt needs the tokenizer; with --ids it only turns the output into text when there is one.
        if (opts.prompt !== undefined) tokenizer = await loadModelTokenizer(opts.model);
        // A directory without one is fine; one whose tokenizer is broken is bad input, not "no tokenizer".
        else tokenizer = await loadModelTokenizer(opts.model).catch((err: Error) => {
          if (err.name === 'ModelLoadError' && err.message.startsWith('no tokenizer in ')) return undefined;
          throw err;
        });
      } else {
        if (opts.prompt !== undefined) throw new UsageError('--prompt needs a tokenizer: use --model DIR, or --ids / --random-prompt with --random-weights');
        const experts = opts.randomExperts === undefined ? undefined : integerFlag('--random-experts', opts.randomExperts, 1);
        source = { randomConfig: randomShapeConfig(opts.randomWeights!, experts), seed };
      }
      const config = 'checkpoint' in source ? source.checkpoint.config : source.randomConfig;
      let ids: number[];
      if (opts.ids) ids = readIds(opts.ids);
      else if (opts.randomPrompt) {
        const n = integerFlag('--random-prompt', opts.randomPrompt, 1);
        const next = mulberry32(seed + 1);
        ids = Array.from({ length: n }, () => Math.floor(next() * config.vocabSize));
      } else ids = tokenizer!.encode(opts.prompt!);
      const bad = ids.find((id) => id >= config.vocabSize);
      if (bad !== undefined) throw new UsageError(`token id ${bad} is outside the vocabulary (${config.vocabSize})`);
      // Past the trained positions the output is garbage (the webgpu backend refuses these as too_long).
      if (config.maxPositions > 0 && ids.length + maxTokens > config.maxPositions) {
        throw new UsageError(`prompt ${ids.length} + --max-tokens ${maxTokens} tokens exceed the model's ${config.maxPositions} positions (config.json model_max_length / max_position_embeddings)`);
      }

      const engineOpts: EngineOptions = {
        matmulDtype: opts.weights === 'int8' ? 'q8' : (opts.weights as 'f32' | 'f16'),
        pieceTokens: integerFlag('--piece', opts.piece, 1),
        allLogits: Boolean(opts.logitsOut),
        // TTFT of a warm engine, as a run of many samples sees it (the first request would also create the arena's buffers).
        warmupPiece: true,
      };
      const loadStart = performance.now();
      const engine = await Engine.load(source, engineOpts);
      const loadMs = performance.now() - loadStart;
      try {
        if (opts.logitsOut) {
          const logits = await engine.prefillLogits(ids);
          writeFileSync(opts.logitsOut, new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength));
        }
        const pieces: string[] = [];
        const prefillStart = performance.now();
        const onPrefillProgress = opts.progress ? (done: number, total: number) => {
          const s = (performance.now() - prefillStart) / 1000;
          process.stderr.write(`prefill ${done}/${total} tokens, ${s.toFixed(1)} s, ${(done / s).toFixed(0)} tok/s\n`);
        } : undefined;
        const prefillCheckpoint = opts.prefillCheckpoint ? {
          dir: opts.prefillCheckpoint, everyTokens: checkpointEvery, keep: Boolean(opts.keepCheckpoint),
          modelId: opts.model ? modelFolderId(opts.model) : `random:${opts.randomWeights}:${opts.randomExperts ?? ''}`,
        } : undefined;
        const result = await engine.generate(ids, {
          maxTokens, temperature, topP, seed, onPrefillProgress, profileDecode: opts.profileDecode, profilePrefill: opts.profilePrefill, prefillCheckpoint,
          onToken: (id) => {
            if (!opts.json && tokenizer) process.stdout.write(tokenizer.decode([id]));
            pieces.push(String(id));
          },
        });
        const report = {
          model: opts.model ?? opts.randomWeights, randomWeights: Boolean(opts.randomWeights), device: engine.device,
          experts: config.moe.numExperts, weights: opts.weights, loadMs, weightBytes: engine.weights.bytes,
          ids: result.ids, text: tokenizer ? tokenizer.decode(result.ids) : undefined, finishReason: result.finishReason,
          ...result.stats,
        };
        if (result.stats.prefillProfile) {
          process.stderr.write(kernelTable(`last prefill piece (${result.stats.prefillProfileTokens} tokens) by kernel`, result.stats.prefillProfile));
        }
        if (result.stats.decodeProfile) {
          process.stderr.write(kernelTable('decode step by kernel', result.stats.decodeProfile));
          const stepGpu = result.stats.decodeStepGpuMs, encode = result.stats.decodeEncodeMs;
          if (stepGpu !== undefined && encode !== undefined) {
            process.stderr.write(`decode step: GPU ${stepGpu.toFixed(2)} ms in one pass, host encode + submit ${encode.toFixed(2)} ms\n`);
          }
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else {
          if (tokenizer) process.stdout.write('\n');
          else process.stdout.write(`ids: ${result.ids.join(' ')}\n`);
          const s = result.stats;
          const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
          const ms = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)} ms`);
          process.stderr.write([
            `${report.randomWeights ? '[random weights, not a score] ' : ''}${engine.device}`,
            `prompt ${s.promptTokens} tok, TTFT ${ms(s.ttftMs)}, prefill ${s.prefillTokPerS.toFixed(1)} tok/s`
              + (s.resumedFromTokens ? ` (resumed at ${s.resumedFromTokens} tok after ${(s.priorPrefillMs / 1000).toFixed(1)} s of earlier prefill)` : '')
              + (prefillCheckpoint ? `, checkpoints ${ms(s.checkpointMs)}${s.checkpointSkipped ? ` (old checkpoint not used: ${s.checkpointSkipped})` : ''}` : ''),
            `decode ${s.decodeTokens} tok, TPOT mean ${ms(s.tpotMeanMs)} p50 ${ms(s.tpotP50Ms)} p90 ${ms(s.tpotP90Ms)} (${result.finishReason})`,
            `peak arena ${mb(s.peakArenaBytes)}, KV cache ${mb(s.kvCacheBytes)}, KDA state ${mb(s.kdaStateBytes)}, weights ${mb(engine.weights.bytes)}, load ${(loadMs / 1000).toFixed(1)} s`,
          ].join('\n') + '\n');
        }
      } finally {
        await engine.close();
      }
    }));
}

/** A per-kernel profile as printed lines, largest first. */
function kernelTable(title: string, rows: readonly KernelTime[]): string {
  const total = rows.reduce((a, k) => a + k.ms, 0);
  return `${title} (${total.toFixed(2)} ms summed over single-dispatch passes):\n${rows.map((k) =>
    `  ${k.ms.toFixed(3).padStart(9)} ms ${(100 * k.share).toFixed(1).padStart(5)}%  ${String(k.dispatches).padStart(4)}×  ${k.kernel}`).join('\n')}\n`;
}
