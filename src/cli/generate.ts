// `ctxbench generate <task>`: deterministic samples as JSONL, one sample per line (the contract other tools read).
import { closeSync, createWriteStream, openSync, renameSync, unlinkSync } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { loadTask } from '../tasks/registry.js';
import type { Sample, TaskModule } from '../tasks/types.js';
import { loadTokenizer } from '../tokenize/tokenizer.js';
import { action, UsageError } from './usage.js';
import { parseInteger, parseLengths, parseTaskOptions } from './run.js';

interface GenerateFlags {
  subtask?: string;
  length?: string;
  needles?: string;
  seed: string;
  count: string;
  tokenizer?: string;
  option: string[];
  stats?: boolean;
  out?: string;
}

/** The contract's field order: {id, task, subtask, seed, target_length, n_tokens, tokenizer, messages|prompt, gold, meta}. */
export function sampleLine(sample: Sample): string {
  const { id, task, subtask, seed, target_length, n_tokens, tokenizer, messages, prompt, gold, meta, ...rest } = sample;
  const form = messages !== undefined ? { messages } : { prompt };
  return JSON.stringify({ id, task, subtask, seed, target_length, n_tokens, tokenizer, ...form, gold, meta, ...rest });
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('generate task samples as JSONL (one sample per line)')
    .argument('<task>', 'ruler, mrcr or mmlu-pro')
    .option('--subtask <name>', 'subtask (default: the task decides, usually all)')
    .option('--length <n>', 'target length in tokens: 4096, 8k, 128k, 1M')
    .option('--needles <n>', 'needle count for tasks that take one')
    .option('--seed <n>', 'seed', '42')
    .option('--count <k>', 'samples to generate', '1')
    .option('--tokenizer <id|path>', 'o200k_base, cl100k_base, or a tokenizer.json / model directory')
    .option('--option <key=value>', 'task-specific option (repeatable), e.g. format=completion', (v: string, p: string[]) => [...p, v], [])
    .option('--out <file>', 'output JSONL file (default: stdout)')
    .option('--stats', 'print a summary of the task\'s dataset (e.g. per-category counts) instead of generating')
    .action(action(async (taskName: string, flags: GenerateFlags) => {
      const task = await loadTask(taskName);
      if (flags.stats) {
        if (!task.datasetStats) throw new UsageError(`${task.name} has no dataset to summarise (--stats is for dataset-backed tasks)`);
        process.stdout.write(`${await task.datasetStats(parseTaskOptions(flags.option, task.name, [task.name])[task.name] ?? {})}\n`);
        return;
      }
      // Written beside the target and renamed at the end: a failed run never clobbers an earlier file.
      const toFile = flags.out !== undefined && flags.out !== '-';
      const partial = `${flags.out}.partial`;
      let fd: number | undefined;
      if (toFile) {
        try { fd = openSync(partial, 'w'); } catch (err) {
          throw new UsageError(`cannot write ${flags.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }
      if (flags.subtask !== undefined && !task.subtasks.includes(flags.subtask)) {
        throw new UsageError(`unknown subtask "${flags.subtask}" for ${task.name} (known: ${task.subtasks.join(', ')})`);
      }
      let samples: Sample[];
      try {
        samples = await generateSamples(task, flags);
      } catch (err) {
        if (fd !== undefined) { closeSync(fd); unlinkSync(partial); }
        throw err;
      }
      const out = fd !== undefined ? createWriteStream('', { fd }) : process.stdout;
      for (const sample of samples) {
        if (!out.write(`${sampleLine(sample)}\n`)) await once(out, 'drain');
      }
      if (out !== process.stdout) {
        out.end();
        await once(out, 'close');
        renameSync(partial, flags.out!);
        process.stderr.write(`wrote ${samples.length} ${task.name} samples to ${flags.out}\n`);
      }
    }));
}

async function generateSamples(task: TaskModule, flags: GenerateFlags): Promise<Sample[]> {
  const options = parseTaskOptions(flags.option, task.name, [task.name])[task.name];
  return task.generate({
    subtask: flags.subtask,
    length: flags.length === undefined ? undefined : parseLengths([flags.length])[0],
    needles: parseInteger('--needles', flags.needles, 1),
    seed: parseInteger('--seed', flags.seed)!,
    count: parseInteger('--count', flags.count, 1)!,
    tokenizer: flags.tokenizer ? await loadTokenizer(flags.tokenizer) : undefined,
    options,
  });
}
