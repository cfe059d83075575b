// `ctxbench score <task> --input F.jsonl`: scores responses offline. Each input line is a sample (as generated,
// or the official dataset's own row) plus `response`; each output line adds `score` and `metrics`.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { loadTask } from '../tasks/registry.js';
import { ERROR_KINDS, TaskInputError, type ErrorKind, type Sample, type ScoredSample, type TaskModule } from '../tasks/types.js';
import { formatAggregate } from '../runner/summary.js';
import { action, UsageError } from './usage.js';

interface ScoreFlags {
  input: string;
  out?: string;
  json?: boolean;
}

type InputRow = Record<string, unknown>;

function readRows(path: string): InputRow[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let text: string;
  try {
    text = (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (err) {
    throw new UsageError(`${path}: not a readable gzip file (${(err as Error).message})`);
  }
  const rows: InputRow[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new UsageError(`${path}:${i + 1}: not valid JSON`);
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new UsageError(`${path}:${i + 1}: expected a JSON object`);
    if (!('response' in row)) throw new UsageError(`${path}:${i + 1}: no "response" field (each line is a sample plus the model's response)`);
    rows.push(row as InputRow);
  });
  if (rows.length === 0) throw new UsageError(`${path}: no samples`);
  return rows;
}

/** An input row as a Sample: official rows keep their own fields, which the task's scorer reads. */
function sampleOf(row: InputRow, task: TaskModule, line: number): Sample {
  const { response: _response, score: _score, metrics: _metrics, error_kind: _errorKind, ...fields } = row;
  const meta = fields.meta;
  return {
    ...fields,
    id: typeof fields.id === 'string' || typeof fields.id === 'number' ? String(fields.id) : String(line),
    task: task.name,
    subtask: typeof fields.subtask === 'string' ? fields.subtask : '',
    seed: typeof fields.seed === 'number' ? fields.seed : 0,
    target_length: typeof fields.target_length === 'number' ? fields.target_length : null,
    n_tokens: typeof fields.n_tokens === 'number' ? fields.n_tokens : null,
    tokenizer: typeof fields.tokenizer === 'string' ? fields.tokenizer : null,
    gold: fields.gold,
    meta: meta !== null && typeof meta === 'object' && !Array.isArray(meta) ? meta as Sample['meta'] : {},
  } as Sample;
}

/** A null response with an error_kind is a recorded failure; an empty one is `empty`; neither becomes a zero. */
function scoreRow(task: TaskModule, row: InputRow, sample: Sample, where: string): ScoredSample {
  const response = row.response;
  if (response === null || response === undefined) {
    const kind = typeof row.error_kind === 'string' && (ERROR_KINDS as readonly string[]).includes(row.error_kind)
      ? row.error_kind as ErrorKind : 'api_error';
    return { sample, response: null, error_kind: kind, score: null, metrics: {} };
  }
  if (typeof response !== 'string') throw new UsageError(`${where}: "response" must be a string or null`);
  if (response.trim() === '') return { sample, response, error_kind: 'empty', score: null, metrics: {} };
  try {
    const { score, metrics } = task.score(sample, response);
    return { sample, response, error_kind: null, score, metrics };
  } catch (err) {
    if (err instanceof TaskInputError) throw new UsageError(`${where}: ${err.message}`);
    throw err;
  }
}

export function registerScore(program: Command): void {
  program
    .command('score')
    .description('score responses in a JSONL file (samples plus "response"); prints the aggregate')
    .argument('<task>', 'ruler, mrcr or mmlu-pro')
    .requiredOption('--input <file>', 'JSONL (or .jsonl.gz): one sample per line with a "response" field')
    .option('--out <file>', 'write each input line plus "score" and "metrics" here')
    .option('--json', 'print the aggregate as exactly one JSON object')
    .action(action(async (taskName: string, flags: ScoreFlags) => {
      const task = await loadTask(taskName);
      const rows = readRows(flags.input);
      const scored: ScoredSample[] = [];
      for (const [i, row] of rows.entries()) {
        const where = `${flags.input}: sample ${i + 1}`;
        let sample: Sample;
        try {
          sample = task.sampleFromInput ? await task.sampleFromInput(row, i) : sampleOf(row, task, i);
        } catch (err) {
          if (err instanceof TaskInputError) throw new UsageError(`${where}: ${err.message}`);
          throw err;
        }
        scored.push(scoreRow(task, row, sample, where));
      }
      if (flags.out) {
        const lines = rows.map((row, i) => JSON.stringify({
          ...row, score: scored[i].score, metrics: scored[i].metrics, error_kind: scored[i].error_kind,
        }));
        const partial = `${flags.out}.partial`;
        try {
          writeFileSync(partial, `${lines.join('\n')}\n`);
          renameSync(partial, flags.out);
        } catch (err) {
          throw new UsageError(`cannot write ${flags.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }
      const aggregate = task.aggregate(scored);
      process.stdout.write(flags.json ? `${JSON.stringify(aggregate)}\n` : `${formatAggregate(aggregate)}\n`);
    }));
}
