// The SQLite run store (better-sqlite3, WAL). Every write is one short transaction, so a SIGKILL at any moment
// leaves a consistent file that loses at most the samples that were in flight.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { ErrorKind, Sample } from '../tasks/types.js';
import { compressText, decompressText, sha256Hex } from './blobs.js';
import { migrate, StoreError } from './migrations.js';

export const DEFAULT_DB_PATH = 'results/ctxbench.db';

export interface RunInput {
  name: string;
  config: Record<string, unknown>;
  gitCommit: string | null;
  model: string;
  backend: string;
  engineVersion?: string | null;
  kernelVersion?: string | null;
  device?: string | null;
  host: string;
  /** The backend ran random weights (engine speed runs): its scores mean nothing. */
  randomWeights?: boolean;
}

export interface RunRow {
  id: number;
  name: string;
  config_json: string;
  git_commit: string | null;
  model: string;
  backend: string;
  engine_version: string | null;
  kernel_version: string | null;
  device: string | null;
  host: string;
  created_at: string;
  updated_at: string;
  /** 1 when the backend ran random weights; reports must not show such scores. */
  random_weights: number;
}

export interface ResultInput {
  runId: number;
  sampleRowId: number;
  model: string;
  backend: string;
  response: string | null;
  finishReason: string | null;
  errorKind: ErrorKind | null;
  errorMessage: string | null;
  score: number | null;
  metrics: Record<string, unknown>;
  perf: StoredPerf;
  attempts: number;
}

/** The perf columns of a result (the backends' GenerationPerf extends it: the store stays a leaf). */
export interface StoredPerf {
  promptTokens?: number;
  completionTokens?: number;
  ttftMs?: number;
  prefillTokPerS?: number;
  tpotMs?: number;
  tpotP50Ms?: number;
  tpotP90Ms?: number;
  peakMemoryBytes?: number;
  kvStateBytes?: number;
  wallMs?: number;
}

export interface PerfInput {
  runId?: number | null;
  bench: string;
  caseName: string;
  metric: string;
  value: number;
  unit: string;
  device?: string | null;
  gitCommit?: string | null;
  params?: Record<string, unknown>;
}

/** The text a sample's prompt hash covers: the raw prompt, or the messages as JSON. */
export function promptText(sample: Sample): string {
  if (sample.prompt !== undefined) return sample.prompt;
  return JSON.stringify(sample.messages ?? []);
}

/** Unique within a run: task ids need only be unique inside one (subtask, length) group. */
export function sampleKey(sample: Sample): string {
  return `${sample.task}:${sample.subtask}:${sample.target_length ?? '-'}:${sample.id}`;
}

/** Opens (creating directories and schema as needed) the store at `path`. */
export function openStore(path: string = DEFAULT_DB_PATH): ResultStore {
  const file = resolve(path);
  let db: Database.Database;
  try {
    // Inside the try: a folder that cannot be made (a file in the way, no permission) is a store error, not a crash.
    mkdirSync(dirname(file), { recursive: true });
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    // NORMAL is crash-safe in WAL mode against process death (SIGKILL); only power loss can drop the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 10000');
    migrate(db);
  } catch (err) {
    if ((err as Error).name === 'StoreError') throw err;
    throw new StoreError(`cannot open result store ${file}: ${(err as Error).message}`);
  }
  return new ResultStore(db, file);
}

export class ResultStore {
  constructor(readonly db: Database.Database, readonly path: string) {}

  findRun(name: string): RunRow | undefined {
    return this.db.prepare('SELECT * FROM runs WHERE name = ?').get(name) as RunRow | undefined;
  }

  /** Creates the run, or returns the existing one of that name (the caller checks the config matches). */
  openRun(input: RunInput): { run: RunRow; resumed: boolean } {
    const existing = this.findRun(input.name);
    const now = new Date().toISOString();
    if (existing) {
      this.db.prepare('UPDATE runs SET updated_at = ? WHERE id = ?').run(now, existing.id);
      return { run: { ...existing, updated_at: now }, resumed: true };
    }
    this.db.prepare(`INSERT INTO runs (name, config_json, git_commit, model, backend, engine_version, kernel_version,
        device, host, created_at, updated_at, random_weights) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(input.name, JSON.stringify(input.config), input.gitCommit, input.model, input.backend,
        input.engineVersion ?? null, input.kernelVersion ?? null, input.device ?? null, input.host, now, now,
        input.randomWeights ? 1 : 0);
    return { run: this.findRun(input.name)!, resumed: false };
  }

  /**
   * Replaces the plan of a run that has no results yet (e.g. its first attempt failed on bad options), dropping
   * its stored samples. Returns false, changing nothing, once any result exists.
   */
  replaceEmptyRunConfig(runId: number, config: Record<string, unknown>): boolean {
    return this.db.transaction(() => {
      const hasResults = this.db.prepare('SELECT 1 FROM results WHERE run_id = ? LIMIT 1').get(runId);
      if (hasResults) return false;
      this.db.prepare('DELETE FROM samples WHERE run_id = ?').run(runId);
      this.db.prepare('UPDATE runs SET config_json = ? WHERE id = ?').run(JSON.stringify(config), runId);
      return true;
    })();
  }

  /** Stores `text` once under its SHA-256; returns the hash. Compression is skipped when the blob exists. */
  putBlob(text: string): string {
    const hash = sha256Hex(text);
    const known = this.db.prepare('SELECT 1 FROM blobs WHERE hash = ?').get(hash);
    if (!known) {
      this.db.prepare("INSERT OR IGNORE INTO blobs (hash, encoding, raw_bytes, data) VALUES (?, 'br', ?, ?)")
        .run(hash, Buffer.byteLength(text, 'utf8'), compressText(text));
    }
    return hash;
  }

  getBlob(hash: string): string | undefined {
    const row = this.db.prepare('SELECT encoding, data FROM blobs WHERE hash = ?').get(hash) as
      { encoding: string; data: Buffer } | undefined;
    if (!row) return undefined;
    if (row.encoding !== 'br') throw new StoreError(`blob ${hash} has unknown encoding ${row.encoding}`);
    return decompressText(row.data);
  }

  /**
   * Records a run's samples (prompt in blobs) and returns each sample key's row id. A sample already stored
   * under the same key must have the same prompt: a changed prompt means the plan changed under this run name.
   */
  putSamples(runId: number, samples: Sample[]): Map<string, number> {
    const ids = new Map<string, number>();
    const select = this.db.prepare('SELECT id, prompt_hash FROM samples WHERE run_id = ? AND sample_key = ?');
    const insert = this.db.prepare(`INSERT INTO samples (run_id, sample_key, sample_id, task, subtask, target_length,
        n_tokens, tokenizer, bin, seed, prompt_form, prompt_hash, gold_json, meta_json)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const sample of samples) {
      const key = sampleKey(sample);
      const hash = this.putBlob(promptText(sample));
      const existing = select.get(runId, key) as { id: number; prompt_hash: string } | undefined;
      if (existing) {
        if (existing.prompt_hash !== hash) {
          throw new StoreError(`sample ${key} of this run was stored with a different prompt; the plan changed, so use a new --name`);
        }
        ids.set(key, existing.id);
        continue;
      }
      const info = insert.run(runId, key, sample.id, sample.task, sample.subtask, sample.target_length,
        sample.n_tokens, sample.tokenizer, sample.meta.bin ?? null, sample.seed,
        sample.prompt !== undefined ? 'prompt' : 'messages', hash, JSON.stringify(sample.gold ?? null),
        JSON.stringify(sample.meta));
      ids.set(key, Number(info.lastInsertRowid));
    }
    return ids;
  }

  /** Existing results of a run: `${sampleRowId}|${model}` → its error_kind (null = scored) and score. */
  resultStates(runId: number): Map<string, { errorKind: ErrorKind | null; score: number | null }> {
    const rows = this.db.prepare('SELECT sample_row_id, model, error_kind, score FROM results WHERE run_id = ?').all(runId) as
      { sample_row_id: number; model: string; error_kind: ErrorKind | null; score: number | null }[];
    return new Map(rows.map((r) => [`${r.sample_row_id}|${r.model}`, { errorKind: r.error_kind, score: r.score }]));
  }

  /** One result, in its own transaction; a retried sample replaces its earlier (errored) row. */
  writeResult(r: ResultInput): void {
    if ((r.errorKind === null) === (r.score === null)) {
      throw new StoreError('a result carries either a score or an error_kind, never both or neither');
    }
    const p = r.perf;
    this.db.prepare(`INSERT INTO results (run_id, sample_row_id, model, backend, response, finish_reason, error_kind,
        error_message, score, metrics_json, prompt_tokens, completion_tokens, ttft_ms, prefill_tok_per_s, tpot_ms,
        tpot_p50_ms, tpot_p90_ms, peak_memory_bytes, kv_state_bytes, wall_ms, attempts, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (sample_row_id, model) DO UPDATE SET
          backend = excluded.backend, response = excluded.response, finish_reason = excluded.finish_reason,
          error_kind = excluded.error_kind, error_message = excluded.error_message, score = excluded.score,
          metrics_json = excluded.metrics_json, prompt_tokens = excluded.prompt_tokens,
          completion_tokens = excluded.completion_tokens, ttft_ms = excluded.ttft_ms,
          prefill_tok_per_s = excluded.prefill_tok_per_s, tpot_ms = excluded.tpot_ms,
          tpot_p50_ms = excluded.tpot_p50_ms, tpot_p90_ms = excluded.tpot_p90_ms,
          peak_memory_bytes = excluded.peak_memory_bytes, kv_state_bytes = excluded.kv_state_bytes,
          wall_ms = excluded.wall_ms, attempts = results.attempts + excluded.attempts,
          created_at = excluded.created_at`)
      .run(r.runId, r.sampleRowId, r.model, r.backend, r.response, r.finishReason, r.errorKind, r.errorMessage,
        r.score, JSON.stringify(r.metrics), p.promptTokens ?? null, p.completionTokens ?? null, p.ttftMs ?? null,
        p.prefillTokPerS ?? null, p.tpotMs ?? null, p.tpotP50Ms ?? null, p.tpotP90Ms ?? null,
        p.peakMemoryBytes ?? null, p.kvStateBytes ?? null, p.wallMs ?? null, r.attempts, new Date().toISOString());
  }

  /** One benchmark row (used by `ctxbench bench`). */
  insertPerf(row: PerfInput): number {
    const info = this.db.prepare(`INSERT INTO perf (run_id, bench, case_name, metric, value, unit, device, git_commit,
        params_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(row.runId ?? null, row.bench, row.caseName, row.metric, row.value, row.unit, row.device ?? null,
        row.gitCommit ?? null, JSON.stringify(row.params ?? {}), new Date().toISOString());
    return Number(info.lastInsertRowid);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
