// Runs a plan: generate each group, store its samples, queue the unfinished ones per backend, score each
// response as it arrives and write it in its own transaction. Rerunning a run name resumes it.
import { hostname } from 'node:os';
import PQueue from 'p-queue';
import { loadTask } from '../tasks/registry.js';
import { TaskInputError, type ErrorKind, type Sample, type TaskModule } from '../tasks/types.js';
import { loadTokenizer } from '../tokenize/tokenizer.js';
import { openStore, sampleKey, type ResultInput, type ResultStore } from '../store/store.js';
import { gitCommit } from '../store/git-commit.js';
import { createBackend, type BackendOptions } from './backends/index.js';
import { BackendError, type Backend, type GenerationRequest, type GenerationResult } from './backends/types.js';
import { planDifferences, planGroups, RunConfigError, type RunPlanConfig } from './plan.js';
import { createProgress, type RunProgress } from './progress.js';

/** Used when neither the sample (meta.max_new_tokens) nor --max-tokens sets a budget. */
export const DEFAULT_MAX_NEW_TOKENS = 256;

export interface RunOptions {
  name: string;
  dbPath: string;
  plan: RunPlanConfig;
  /** Backend settings shared by all models (URL, key, timeout, concurrency…). */
  backend: Omit<BackendOptions, 'kind' | 'model'>;
  retryErrors: boolean;
  maxTokens?: number;
  progress: boolean;
  /** Aborting stops new samples, cancels in-flight requests (not recorded) and returns with interrupted. */
  signal?: AbortSignal;
  /** Lets tests and plug-ins supply task modules by name before the registry is asked. */
  loadTaskModule?: (name: string) => Promise<TaskModule>;
  /** Opens each model's backend (default createBackend); `--devices` supplies a pool of engine worker processes. */
  openBackend?: (options: BackendOptions) => Promise<Backend>;
}

export interface RunSummary {
  runId: number;
  name: string;
  resumed: boolean;
  interrupted: boolean;
  /** Samples × models in the plan. */
  planned: number;
  /** Already finished before this invocation (skipped). */
  skipped: number;
  /** Written by this invocation. */
  written: number;
  /** The backend ran random weights (speed runs): the scores mean nothing. */
  randomWeights: boolean;
  errors: Partial<Record<ErrorKind, number>>;
}

export async function executeRun(options: RunOptions): Promise<RunSummary> {
  const { plan } = options;
  const tasks = await Promise.all(plan.tasks.map((name) => (options.loadTaskModule ?? loadTask)(name)));
  const groups = planGroups(tasks, plan);
  const tokenizer = plan.tokenizer ? await loadTokenizer(plan.tokenizer) : undefined;
  const backends: Backend[] = [];
  for (const model of plan.models) backends.push(await (options.openBackend ?? createBackend)({ ...options.backend, kind: plan.backend, model }));
  const store = openStore(options.dbPath);
  try {
    const info = backends[0].info;
    const { run, resumed } = store.openRun({
      name: options.name, config: plan as unknown as Record<string, unknown>, gitCommit: gitCommit(),
      model: plan.models.join(','), backend: plan.backend, engineVersion: info.engineVersion,
      kernelVersion: info.kernelVersion, device: info.device, host: hostname(),
      randomWeights: backends.some((b) => b.info.randomWeights === true),
    });
    if (resumed) {
      const differs = planDifferences(JSON.parse(run.config_json) as Partial<RunPlanConfig>, plan);
      if (differs.length && !store.replaceEmptyRunConfig(run.id, plan as unknown as Record<string, unknown>)) {
        throw new RunConfigError(`run "${options.name}" exists with a different plan (${differs.join(', ')} differ); rerun with the same options to resume, or pick a new --name`);
      }
    }
    const states = store.resultStates(run.id);
    const progress = createProgress(options.progress);
    // The bar starts from the planned size; each group corrects it once its real sample count is known.
    progress.addTotal(groups.length * plan.count * backends.length);
    const summary: RunSummary = {
      runId: run.id, name: options.name, resumed, interrupted: false, planned: 0, skipped: 0, written: 0, errors: {},
      randomWeights: run.random_weights === 1,
    };
    const queues = backends.map((b) => new PQueue({ concurrency: Math.max(1, options.backend.concurrency ?? b.concurrency) }));
    const controller = new AbortController();
    const stopAll = () => { controller.abort(); queues.forEach((q) => q.clear()); };
    const onAbort = () => { summary.interrupted = true; stopAll(); };
    // A bug (a scorer throwing, a failed write) stops the run cleanly: in-flight samples settle, the store closes.
    let fatal: unknown;
    const failRun = (err: unknown) => { fatal ??= err; stopAll(); };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    try {
      for (const group of groups) {
        if (summary.interrupted) break;
        const samples = await group.task.generate({
          subtask: group.subtask, length: group.length, needles: plan.needles ?? undefined, seed: plan.seed,
          count: plan.count, tokenizer, options: plan.taskOptions[group.task.name],
        });
        if (summary.interrupted || fatal !== undefined) break;
        const rowIds = store.putSamples(run.id, samples);
        progress.addTotal((samples.length - plan.count) * backends.length);
        summary.planned += samples.length * backends.length;
        backends.forEach((backend, i) => {
          for (const sample of samples) {
            const rowId = rowIds.get(sampleKey(sample))!;
            const state = states.get(`${rowId}|${backend.info.model}`);
            const finished = state !== undefined
              && (state.errorKind === null || (state.errorKind !== 'interrupted' && !options.retryErrors));
            if (finished) {
              summary.skipped++;
              progress.tick(state.score);
              continue;
            }
            queues[i].add(() => runSample({ store, backend, task: group.task, sample, runId: run.id, rowId, options, controller, progress, summary }))
              .catch(failRun);
          }
        });
        // Keep a bounded backlog: generate the next group while the current one drains.
        await Promise.all(queues.map((q) => q.onSizeLessThan(q.concurrency + 1)));
        if (fatal !== undefined) break;
      }
    } catch (err) {
      failRun(err);
    } finally {
      await Promise.all(queues.map((q) => q.onIdle()));
      options.signal?.removeEventListener('abort', onAbort);
      progress.stop();
    }
    if (fatal !== undefined) throw fatal;
    return summary;
  } finally {
    store.close();
    await Promise.all(backends.map((b) => b.close()));
  }
}

interface SampleJob {
  store: ResultStore;
  backend: Backend;
  task: TaskModule;
  sample: Sample;
  runId: number;
  rowId: number;
  options: RunOptions;
  controller: AbortController;
  progress: RunProgress;
  summary: RunSummary;
}

async function runSample(job: SampleJob): Promise<void> {
  const { sample, backend, controller } = job;
  if (controller.signal.aborted || !job.store.db.open) return;
  let result: GenerationResult | undefined;
  let failure: BackendError | undefined;
  try {
    result = await backend.generate(requestFor(sample, job.options.maxTokens, controller.signal));
  } catch (err) {
    // Cancelled by SIGINT: nothing is written, so the sample is simply pending when the run resumes.
    if (controller.signal.aborted) return;
    failure = err instanceof BackendError ? err : new BackendError('engine_error', (err as Error).message || String(err));
  }
  const row = resultRow(job, result, failure);
  job.store.writeResult(row);
  job.summary.written++;
  if (row.errorKind) job.summary.errors[row.errorKind] = (job.summary.errors[row.errorKind] ?? 0) + 1;
  job.progress.tick(row.score);
}

export function requestFor(sample: Sample, maxTokensOverride: number | undefined, signal?: AbortSignal): GenerationRequest {
  const request: GenerationRequest = {
    maxTokens: maxTokensOverride ?? sample.meta.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS,
    temperature: 0,
    signal,
  };
  if (sample.meta.stop?.length) request.stop = sample.meta.stop;
  if (sample.messages) {
    request.messages = sample.messages;
    if (sample.meta.answer_prefix) request.answerPrefix = sample.meta.answer_prefix;
  } else {
    request.prompt = sample.prompt ?? '';
  }
  return request;
}

/** Scores a response, or records why there is none: errors never become a silent zero. */
function resultRow(job: SampleJob, result: GenerationResult | undefined, failure: BackendError | undefined): ResultInput {
  const base = {
    runId: job.runId, sampleRowId: job.rowId, model: job.backend.info.model, backend: job.backend.info.backend, attempts: 1,
  };
  if (failure || !result) {
    return { ...base, response: null, finishReason: null, errorKind: failure?.kind ?? 'engine_error',
      errorMessage: failure?.message ?? 'no result', score: null, metrics: {}, perf: {} };
  }
  const withResponse = { ...base, response: result.text, finishReason: result.finishReason, perf: result.perf };
  if (result.text.trim() === '') {
    return { ...withResponse, errorKind: 'empty', errorMessage: `empty response (finish reason ${result.finishReason})`, score: null, metrics: {} };
  }
  try {
    const scored = job.task.score(job.sample, result.text);
    return { ...withResponse, errorKind: null, errorMessage: null, score: scored.score, metrics: scored.metrics };
  } catch (err) {
    if (!(err instanceof TaskInputError)) throw err;
    return { ...withResponse, errorKind: 'invalid_input', errorMessage: err.message, score: null, metrics: {} };
  }
}
