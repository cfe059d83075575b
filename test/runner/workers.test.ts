// Data-parallel runs through engine worker processes on lavapipe (random tiny model): same results as the
// in-process path, a worker SIGKILLed mid-sample becomes one engine_error and the run goes on, resume works.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { executeRun, type RunOptions } from '../../src/runner/execute.js';
import type { RunPlanConfig } from '../../src/runner/plan.js';
import { WorkerPoolBackend, type WorkerPoolOptions } from '../../src/runner/workers/pool.js';
import { resolveDeviceSlots } from '../../src/runner/workers/devices.js';
import { summarizeDevices, recordDeviceSummary } from '../../src/runner/workers/device-summary.js';
import { openStore } from '../../src/store/store.js';
import { perfRows, resultsWithSamples } from '../../src/store/queries.js';
import type { Sample, TaskModule } from '../../src/tasks/types.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const MODEL = 'random:kimi-linear-tiny';
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];

/**
 * A fixture task with short completion prompts of varied length (the engine is real, the task only has to be
 * cheap): the score says whether the reply contains the sample's word, which random weights rarely do.
 */
const shortPrompts: TaskModule = {
  name: 'short-prompts', description: 'test fixture', subtasks: ['words'], defaultLengths: [],
  async generate(spec) {
    return Array.from({ length: spec.count }, (_, i): Sample => {
      const word = WORDS[(i * 5 + spec.seed) % WORDS.length];
      const prompt = `${Array.from({ length: 6 + ((i * 7) % 23) }, (_, k) => WORDS[(i + k) % WORDS.length]).join(' ')} ${word}`;
      return { id: `s${i}`, task: 'short-prompts', subtask: spec.subtask ?? 'words', seed: spec.seed, target_length: null,
        n_tokens: null, tokenizer: null, prompt, gold: word, meta: { max_new_tokens: 6 } };
    });
  },
  score: (sample, response) => ({ score: response.includes(String(sample.gold)) ? 1 : 0, metrics: {} }),
  aggregate: (scored) => ({ task: 'short-prompts', primary_metric: 'contains', overall: { group: {}, n: scored.length, n_errors: 0, score: null, metrics: {} }, rows: [] }),
};

const plan: RunPlanConfig = {
  tasks: ['short-prompts'], subtasks: [], lengths: [], count: 30, seed: 3, needles: null, tokenizer: null,
  models: [MODEL], backend: 'webgpu', taskOptions: {},
};

const pools: WorkerPoolBackend[] = [];

function run(db: string, over: Partial<RunOptions> = {}, pool?: Partial<WorkerPoolOptions> & { workers: number }) {
  return executeRun({
    name: 'words', dbPath: join(dir, db), plan, retryErrors: false, progress: false, backend: {},
    loadTaskModule: async () => shortPrompts,
    openBackend: pool && (async (backend) => {
      const started = await WorkerPoolBackend.start({ slots: resolveDeviceSlots({ kind: 'count', count: pool.workers }, []),
        backend, log: () => {}, ...pool });
      pools.push(started);
      return started;
    }),
    ...over,
  });
}

function stored(db: string) {
  const store = openStore(join(dir, db));
  try {
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    return resultsWithSamples(store.db, { run: 'words' });
  } finally { store.close(); }
}

const bySample = (rows: ReturnType<typeof stored>) =>
  Object.fromEntries(rows.map((r) => [r.sample_id, { response: r.response, score: r.score, error: r.error_kind, tokens: r.completion_tokens }]));

describe('--devices worker pool (lavapipe)', () => {
  it('3 workers give exactly the per-sample results of the in-process path; one SIGKILLed worker costs one sample; resume retries it', async () => {
    const single = await run('single.db');
    expect(single).toMatchObject({ written: 30, errors: {} });
    const reference = bySample(stored('single.db'));
    expect(Object.keys(reference)).toHaveLength(30);

    // Clean parallel run: identical responses, scores and token counts sample by sample.
    const parallel = await run('parallel.db', {}, { workers: 3 });
    expect(parallel).toMatchObject({ written: 30, errors: {} });
    expect(bySample(stored('parallel.db'))).toEqual(reference);
    const stats = pools.at(-1)!.deviceStats();
    expect(stats.map((d) => d.samples).reduce((a, b) => a + b)).toBe(30);
    expect(stats.every((d) => d.samples > 0 && d.busyMs > 0 && d.crashes === 0)).toBe(true);

    // The worker that takes the 5th request is killed while it holds it; it restarts and the run finishes.
    let killed: number | undefined;
    const crashed = await run('crash.db', {}, {
      workers: 3,
      onDispatch: ({ pid, dispatched }) => { if (dispatched === 5) { killed = pid; process.kill(pid, 'SIGKILL'); } },
    });
    expect(killed).toBeDefined();
    expect(crashed).toMatchObject({ written: 30, errors: { engine_error: 1 } });
    const rows = stored('crash.db');
    expect(rows).toHaveLength(30);
    expect(new Set(rows.map((r) => r.sample_id)).size).toBe(30);
    const failed = rows.filter((r) => r.error_kind !== null);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ error_kind: 'engine_error', score: null, response: null });
    expect(failed[0].error_message).toMatch(/died \(SIGKILL\) while running this sample/);
    for (const r of rows.filter((x) => x.error_kind === null)) expect(bySample([r])).toEqual({ [r.sample_id]: reference[r.sample_id] });
    const crashStats = pools.at(-1)!.deviceStats();
    expect(crashStats.reduce((n, d) => n + d.crashes, 0)).toBe(1);
    expect(crashStats.reduce((n, d) => n + d.restarts, 0)).toBe(1);

    // Resume with workers: finished samples are skipped; --retry-errors reruns just the failed one.
    expect(await run('crash.db', {}, { workers: 2 })).toMatchObject({ resumed: true, skipped: 30, written: 0 });
    expect(await run('crash.db', { retryErrors: true }, { workers: 2 })).toMatchObject({ skipped: 29, written: 1, errors: {} });
    const resumed = stored('crash.db');
    expect(resumed).toHaveLength(30);
    expect(bySample(resumed)).toEqual(reference);
    expect(resumed.find((r) => r.sample_id === failed[0].sample_id)!.attempts).toBe(2);
  }, 120_000);

  it('retires a device whose worker dies twice, the others finish the run, and the summary goes to the perf table', async () => {
    let victim: number | undefined;
    let firstPid: number | undefined;
    let kills = 0;
    let paused: number | undefined;
    const summary = await run('retire.db', {}, {
      workers: 2,
      onDispatch: ({ device, pid, dispatched }) => {
        if (dispatched === 3 && victim === undefined) {
          victim = device; firstPid = pid; kills++; process.kill(pid, 'SIGKILL');
        } else if (device === victim && kills === 1 && pid !== firstPid) {
          kills++; process.kill(pid, 'SIGKILL');
          if (paused !== undefined) process.kill(paused, 'SIGCONT');
          paused = undefined;
        } else if (kills === 1 && device !== victim && paused === undefined) {
          // Hold the survivor until the restarted victim has taken a sample: on a loaded machine the restart's
          // shader compile outlasted the survivor's 27 tiny samples and the victim never died a second time.
          paused = pid; process.kill(pid, 'SIGSTOP');
        }
      },
    });
    expect(kills).toBe(2);
    // Each kill costs its in-flight sample, unless the worker had already answered when the signal landed (a
    // descheduled parent on a loaded machine): every sample still ends exactly once.
    expect(summary.written).toBe(30);
    const lost = summary.errors.engine_error ?? 0;
    expect(Object.keys(summary.errors).filter((k) => k !== 'engine_error')).toEqual([]);
    expect(lost).toBeLessThanOrEqual(2);
    const rows = stored('retire.db');
    const failedRows = rows.filter((r) => r.error_kind !== null);
    expect(failedRows).toHaveLength(lost);
    for (const r of failedRows) expect(r.error_message).toMatch(/died \(SIGKILL\) while running this sample/);
    expect(new Set(rows.map((r) => r.sample_id)).size).toBe(30);
    const pool = pools.at(-1)!;
    const stats = pool.deviceStats();
    expect(stats.find((d) => d.device === victim)).toMatchObject({ crashes: 2, restarts: 1, retired: true });
    const survivor = stats.find((d) => d.device !== victim)!;
    expect(stats.reduce((n, d) => n + d.samples, 0)).toBe(30);
    expect(survivor).toMatchObject({ crashes: 0, retired: false });

    const deviceSummary = summarizeDevices(stats, pool.elapsedMs());
    expect(deviceSummary.speedupVsOneDevice).toBeGreaterThan(0);
    const store = openStore(join(dir, 'retire.db'));
    try {
      recordDeviceSummary(store, summary.runId, deviceSummary, null);
      const perf = perfRows(store.db, {}).filter((p) => p.bench === 'run-devices');
      expect(perf.find((p) => p.case_name === `device ${victim}` && p.metric === 'crashes')!.value).toBe(2);
      expect(perf.find((p) => p.metric === 'samples_per_s' && p.case_name === `device ${survivor.device}`)!.value).toBeGreaterThan(0);
    } finally { store.close(); }
  }, 120_000);
});
