// `ctxbench run`: tasks × subtasks × lengths × count × models against a backend, stored in SQLite, resumable.
import type { Command } from 'commander';
import { Option } from 'commander';
import { BACKEND_KINDS, PREFILL_CHECKPOINT_DIR, type BackendKind } from '../runner/backends/index.js';
import { executeRun, type RunSummary } from '../runner/execute.js';
import { checkDefaultModel, DEFAULT_PRESET, type PresetRun } from '../runner/default-preset.js';
import type { RunPlanConfig } from '../runner/plan.js';
import { formatAggregate, runAggregates, type ModelAggregate } from '../runner/summary.js';
import { DEFAULT_DB_PATH, openStore } from '../store/store.js';
import { prepareDeviceRun, type DeviceRun } from '../runner/workers/device-run.js';
import { formatDeviceSummary, recordDeviceSummary, type DeviceRunSummary } from '../runner/workers/device-summary.js';
import { loadTask } from '../tasks/registry.js';
import { parseLength } from '../tokenize/tokenizer.js';
import { action, integerFlag, UsageError } from './usage.js';
import { renderReport } from './report.js';
import { join } from 'node:path';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Repeatable and comma-separated: `--task a --task b,c` → [a, b, c]. */
export function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

/** An optional integer flag: absent stays undefined, anything else goes through `integerFlag`. */
export function parseInteger(name: string, value: string | undefined, min = 0): number | undefined {
  return value === undefined ? undefined : integerFlag(name, value, min);
}

export function parseLengths(values: string[]): number[] {
  try {
    return values.map(parseLength);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * `--task-option ruler.format=completion` → { ruler: { format: 'completion' } }; values parse as JSON when they can.
 * With `tasks`, an option for any other task is refused: a typo (`rulr.format=…`) would otherwise be dropped silently.
 */
export function parseTaskOptions(values: string[], defaultTask?: string, tasks?: string[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const item of values) {
    const match = /^(?:([\w-]+)\.)?([\w-]+)=(.*)$/s.exec(item);
    const task = match?.[1] ?? defaultTask;
    if (!match || !task) throw new UsageError(`invalid task option "${item}" (expected TASK.KEY=VALUE, e.g. ruler.format=completion)`);
    if (tasks && !tasks.includes(task)) throw new UsageError(`task option "${item}" is for "${task}", which is not among the tasks run (${tasks.join(', ')})`);
    let value: unknown = match[3];
    try { value = JSON.parse(match[3]); } catch { /* a plain string */ }
    (out[task] ??= {})[match[2]] = value;
  }
  return out;
}

interface RunFlags {
  default?: boolean;
  task: string[];
  subtask: string[];
  length: string[];
  count: string;
  seed: string;
  needles?: string;
  tokenizer?: string;
  taskOption: string[];
  backend: string;
  model: string[];
  baseUrl?: string;
  apiKeyEnv: string;
  stream: boolean;
  name?: string;
  db: string;
  concurrency?: string;
  timeoutS: string;
  maxRetries: string;
  retryErrors?: boolean;
  maxTokens?: string;
  progress?: boolean;
  json?: boolean;
  devices?: string;
  prefillCheckpointEvery?: string;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run tasks against a backend and store every result (rerun the same --name to resume)')
    .option('--default', 'the offline default evaluation (bundled model on the webgpu engine; what `npm start` runs)')
    .option('--task <names>', 'task(s): ruler, mrcr, mmlu-pro (repeatable or comma list)', collectList, [])
    .option('--subtask <names>', 'subtask filter (repeatable or comma list); default: all of each task', collectList, [])
    .option('--length <lengths>', 'target lengths, e.g. 4k,8k,128k,1M (default: each task\'s lengths)', collectList, [])
    .option('--count <n>', 'samples per (task, subtask, length)', '10')
    .option('--seed <n>', 'generation seed', '42')
    .option('--needles <n>', 'needle count for tasks that take one')
    .option('--tokenizer <id|path>', 'tokenizer for sizing and counting: o200k_base, cl100k_base, or tokenizer.json / model dir')
    .option('--task-option <task.key=value>', 'task-specific option (repeatable), e.g. ruler.format=completion', (v: string, p: string[]) => [...p, v], [])
    .addOption(new Option('--backend <kind>', 'backend').choices([...BACKEND_KINDS]).default('openai'))
    .option('--model <names>', 'model(s): served name (openai) or model directory (webgpu); repeatable', collectList, [])
    .option('--base-url <url>', 'OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1 (default $OPENAI_BASE_URL or api.openai.com)')
    .option('--api-key-env <var>', 'environment variable holding the API key', 'OPENAI_API_KEY')
    .option('--no-stream', 'do not stream (servers without SSE; TTFT/TPOT are then not measured)')
    .option('--name <run>', 'run name (default: derived from tasks, lengths and models)')
    .option('--db <path>', 'SQLite result store', DEFAULT_DB_PATH)
    .option('--concurrency <n>', 'requests in flight per model (default: openai 4, webgpu 1)')
    .option('--timeout-s <s>', 'per-request timeout in seconds', '600')
    .option('--max-retries <n>', 'retries after 429 / 5xx / network errors', '6')
    .option('--retry-errors', 'when resuming, retry samples that ended in an error')
    .option('--max-tokens <n>', 'override every sample\'s generation budget')
    .option('--progress', 'show the progress bar even when stderr is not a terminal')
    .option('--json', 'print the summary as one JSON object')
    .option('--prefill-checkpoint-every <n>', `webgpu: save each prompt's prefill state every n tokens under ${PREFILL_CHECKPOINT_DIR}/, so a run cut off inside a long prefill resumes there`)
    .option('--devices <all|N|i,j>', 'webgpu: one engine worker process per GPU (all, a count, or GPU indices); see docs/multi-gpu.md')
    .action(action(async (flags: RunFlags) => {
      try {
        await runCommand(flags);
      } catch (err) {
        // Known configuration problems are one line and exit 2, like every other input error.
        if (['RunConfigError', 'BackendUnavailableError', 'StoreError', 'DeviceSpecError'].includes((err as Error).name)) {
          throw new UsageError((err as Error).message);
        }
        throw err;
      }
    }));
}

async function runCommand(flags: RunFlags): Promise<void> {
  const runs = flags.default ? defaultRuns() : [{ name: flags.name ?? '', plan: planFromFlags(flags) }];
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\nctxbench: interrupted; finishing in-flight writes (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const results: object[] = [];
  try {
    for (const { plan, name, maxTokens } of runs) {
      const summary = await runOne(flags, plan, name || defaultRunName(plan), controller.signal, maxTokens);
      results.push(summary);
      if (summary.interrupted) break;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results)}\n`);
  if (controller.signal.aborted) process.exit(130);
  // The offline default ends with its report (charts, leaderboards, index.html) in reports/default/; with --json
  // stdout stays one JSON object, so the report's line goes to stderr.
  if (flags.default) {
    const say = flags.json ? (line: string) => process.stderr.write(line) : undefined;
    await renderReport(flags.db, runs.map((r) => r.name), [], join('reports', 'default'), say);
  }
}

function defaultRuns(): PresetRun[] {
  checkDefaultModel();
  return DEFAULT_PRESET;
}

function planFromFlags(flags: RunFlags): RunPlanConfig {
  if (flags.task.length === 0) throw new UsageError('run: give --task (ruler, mrcr, mmlu-pro) or --default');
  if (flags.model.length === 0) throw new UsageError('run: give --model (the served model name, or a model directory for webgpu)');
  return {
    tasks: flags.task,
    subtasks: flags.subtask,
    lengths: parseLengths(flags.length),
    count: parseInteger('--count', flags.count, 1)!,
    seed: parseInteger('--seed', flags.seed)!,
    needles: parseInteger('--needles', flags.needles, 1) ?? null,
    tokenizer: flags.tokenizer ?? null,
    models: flags.model,
    backend: flags.backend as BackendKind,
    taskOptions: parseTaskOptions(flags.taskOption, undefined, flags.task),
  };
}

function defaultRunName(plan: RunPlanConfig): string {
  const lengths = plan.lengths.length ? plan.lengths.join('+') : 'default';
  return `${plan.tasks.join('+')}-${lengths}-${plan.models.map((m) => m.split('/').pop()).join('+')}`;
}

/** A run's counts plus each task's aggregate per model, as `--json` prints it. */
type RunReport = RunSummary & { aggregates: ModelAggregate[]; devices?: DeviceRunSummary };

/** `presetMaxTokens`: a preset's budget, used when --max-tokens is not given. */
async function runOne(flags: RunFlags, plan: RunPlanConfig, name: string, signal: AbortSignal, presetMaxTokens?: number): Promise<RunReport> {
  const timeoutS = Number(flags.timeoutS);
  // Node's timers hold at most 2^31-1 ms; a longer deadline fires after 1 ms and would time out every request.
  if (!(timeoutS > 0) || timeoutS * 1000 > MAX_TIMER_MS) {
    throw new UsageError(`--timeout-s must be a positive number of seconds up to ${Math.floor(MAX_TIMER_MS / 1000)} (got "${flags.timeoutS}")`);
  }
  const checkpointEvery = parseInteger('--prefill-checkpoint-every', flags.prefillCheckpointEvery, 1);
  if (checkpointEvery !== undefined && plan.backend !== 'webgpu') throw new UsageError('--prefill-checkpoint-every needs --backend webgpu (the server owns an openai backend\'s prefill)');
  let deviceRun: DeviceRun | undefined;
  if (flags.devices !== undefined) {
    if (flags.concurrency !== undefined) throw new UsageError('--concurrency does not apply with --devices (each worker runs one sample at a time)');
    deviceRun = prepareDeviceRun(flags.devices, plan.backend, plan.models);
  }
  const summary = await executeRun({
    name, dbPath: flags.db, plan, signal, openBackend: deviceRun?.openBackend,
    retryErrors: flags.retryErrors ?? false,
    maxTokens: parseInteger('--max-tokens', flags.maxTokens, 1) ?? presetMaxTokens,
    progress: flags.progress ?? process.stderr.isTTY === true,
    backend: {
      baseUrl: flags.baseUrl,
      apiKey: process.env[flags.apiKeyEnv] || undefined,
      stream: flags.stream,
      timeoutMs: timeoutS * 1000,
      concurrency: parseInteger('--concurrency', flags.concurrency, 1),
      maxRetries: parseInteger('--max-retries', flags.maxRetries),
      checkReachable: true,
      ...(checkpointEvery !== undefined ? { prefillCheckpoint: { dir: PREFILL_CHECKPOINT_DIR, everyTokens: checkpointEvery } } : {}),
    },
  });
  const tasks = await Promise.all(plan.tasks.map(loadTask));
  const store = openStore(flags.db);
  let aggregates: ModelAggregate[];
  let devices: DeviceRunSummary | undefined;
  try {
    aggregates = runAggregates(store, name, tasks);
    devices = deviceRun?.summary() ?? undefined;
    if (devices) recordDeviceSummary(store, summary.runId, devices, store.findRun(name)?.git_commit ?? null);
  } finally {
    store.close();
  }
  if (!flags.json) printSummary(flags.db, summary, aggregates);
  if (!flags.json && devices) process.stdout.write(`${formatDeviceSummary(devices)}\n`);
  return devices ? { ...summary, aggregates, devices } : { ...summary, aggregates };
}

function printSummary(dbPath: string, summary: RunSummary, aggregates: ModelAggregate[]): void {
  const errors = Object.entries(summary.errors).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  const state = summary.interrupted ? 'interrupted' : 'done';
  process.stdout.write(`run "${summary.name}" ${state}: ${summary.planned} planned, ${summary.skipped} already finished, ` +
    `${summary.written} written (new errors: ${errors}) → ${dbPath}\n`);
  if (summary.randomWeights) process.stdout.write('random weights: a speed run; these scores mean nothing\n');
  for (const { model, aggregate } of aggregates) {
    process.stdout.write(`${formatAggregate(aggregate, `${aggregate.task} · ${model}`)}\n`);
  }
}
