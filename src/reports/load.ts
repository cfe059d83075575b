// Reads a store's results back into the tasks' ScoredSample shape (what `aggregate` takes), with each result's
// perf columns, grouped by task and by series (one model of one run). Read-only, apart from bringing an older
// store's schema up to date as any run would.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { refuseNewerSchema, SCHEMA_VERSION } from '../store/migrations.js';
import { openStore } from '../store/store.js';
import { getRun, listRuns, resultsWithSamples, type ResultWithSampleRow, type RunRow } from '../store/queries.js';
import type { ScoredSample } from '../tasks/types.js';

export class ReportInputError extends Error {
  override name = 'UsageError';
}

export interface ResultPerf {
  promptTokens: number | null;
  ttftMs: number | null;
  prefillTokPerS: number | null;
  tpotMs: number | null;
  peakMemoryBytes: number | null;
  kvStateBytes: number | null;
}

export interface ReportResult {
  run: string;
  model: string;
  /** The label a chart legend shows: the model, or "model @ run" when one model appears in several runs. */
  series: string;
  scored: ScoredSample;
  perf: ResultPerf;
}

export interface ReportData {
  dbPath: string;
  runs: RunRow[];
  /** task → series → results, in store order. */
  byTask: Map<string, Map<string, ReportResult[]>>;
}

/** Opens an existing store read-only; a missing file is an input error (a report never creates one). */
export function openStoreReadOnly(path: string): Database.Database {
  const file = resolve(path);
  if (!existsSync(file)) throw new ReportInputError(`no result store at ${file} (run \`ctxbench run\` first, or pass --db)`);
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    const probe = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'results'").get();
    if (!probe) throw new Error('it has no results table');
    // The queries assume this build's schema: a newer store may have moved columns (refused); an older one lacks
    // some, so it gets the additive migrations every `ctxbench run` would apply, then is reopened read-only.
    const version = (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
    if (version === SCHEMA_VERSION) return db;
    db.close();
    refuseNewerSchema(version);
    openStore(file).close();
    return new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new ReportInputError(`cannot read result store ${file}: ${(err as Error).message}`);
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ReportInputError(`corrupt ${what} in the result store: not JSON`);
  }
}

export function toScoredSample(row: ResultWithSampleRow): ScoredSample {
  return {
    sample: {
      id: row.sample_id, task: row.task, subtask: row.subtask, seed: row.seed, target_length: row.target_length,
      n_tokens: row.n_tokens, tokenizer: row.tokenizer, gold: parseJson(row.gold_json, `gold of sample ${row.sample_id}`),
      meta: parseJson(row.meta_json, `meta of sample ${row.sample_id}`) as ScoredSample['sample']['meta'],
    },
    response: row.response,
    error_kind: row.error_kind,
    score: row.score,
    metrics: parseJson(row.metrics_json, `metrics of result ${row.result_id}`) as Record<string, unknown>,
  };
}

/** A run name as JSON: a name with a newline or quote still makes a one-line error. */
const quoted = (name: string) => JSON.stringify(name);

export interface LoadOptions {
  runs?: string[];
  tasks?: string[];
}

export function loadReportData(db: Database.Database, dbPath: string, options: LoadOptions = {}): ReportData {
  const known = listRuns(db);
  let runs = known;
  if (options.runs && options.runs.length > 0) {
    // A run named twice (--run a --run a) would have every result counted twice.
    runs = [...new Set(options.runs)].map((name) => {
      const run = getRun(db, name);
      if (!run) throw new ReportInputError(`no run named ${quoted(name)} in ${dbPath} (runs: ${known.map((r) => quoted(r.name)).join(', ') || 'none'})`);
      return run;
    });
  }
  if (runs.length === 0) throw new ReportInputError(`the result store ${dbPath} has no runs`);
  const rows: ResultWithSampleRow[] = [];
  for (const run of runs) {
    for (const row of resultsWithSamples(db, { run: run.name })) {
      if (!options.tasks || options.tasks.length === 0 || options.tasks.includes(row.task)) rows.push(row);
    }
  }
  if (rows.length === 0) {
    throw new ReportInputError(`no results for run(s) ${runs.map((r) => quoted(r.name)).join(', ')}${options.tasks?.length ? ` and task(s) ${options.tasks.join(', ')}` : ''}`);
  }
  const runsOfModel = new Map<string, Set<string>>();
  for (const row of rows) {
    const set = runsOfModel.get(row.model) ?? new Set<string>();
    set.add(row.run_name);
    runsOfModel.set(row.model, set);
  }
  const byTask = new Map<string, Map<string, ReportResult[]>>();
  for (const row of rows) {
    const series = (runsOfModel.get(row.model)?.size ?? 1) > 1 ? `${row.model} @ ${row.run_name}` : row.model;
    let bySeries = byTask.get(row.task);
    if (!bySeries) byTask.set(row.task, (bySeries = new Map()));
    const list = bySeries.get(series) ?? [];
    list.push({
      run: row.run_name, model: row.model, series, scored: toScoredSample(row),
      perf: {
        promptTokens: row.prompt_tokens, ttftMs: row.ttft_ms, prefillTokPerS: row.prefill_tok_per_s, tpotMs: row.tpot_ms,
        peakMemoryBytes: row.peak_memory_bytes, kvStateBytes: row.kv_state_bytes,
      },
    });
    bySeries.set(series, list);
  }
  return { dbPath, runs, byTask };
}

