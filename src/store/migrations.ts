// Versioned schema. Each migration runs once, in its own transaction, and is recorded in schema_migrations.
// Append new migrations; never edit one that has shipped (existing result files depend on it).
import type Database from 'better-sqlite3';

interface Migration {
  version: number;
  description: string;
  sql: string;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'runs, blobs, samples, results, perf',
    sql: `
      CREATE TABLE runs (
        id             INTEGER PRIMARY KEY,
        name           TEXT NOT NULL UNIQUE,
        config_json    TEXT NOT NULL,
        git_commit     TEXT,
        model          TEXT NOT NULL,
        backend        TEXT NOT NULL,
        engine_version TEXT,
        kernel_version TEXT,
        device         TEXT,
        host           TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL
      );

      CREATE TABLE blobs (
        hash       TEXT PRIMARY KEY,
        encoding   TEXT NOT NULL,
        raw_bytes  INTEGER NOT NULL,
        data       BLOB NOT NULL
      );

      CREATE TABLE samples (
        id             INTEGER PRIMARY KEY,
        run_id         INTEGER NOT NULL REFERENCES runs(id),
        sample_key     TEXT NOT NULL,
        sample_id      TEXT NOT NULL,
        task           TEXT NOT NULL,
        subtask        TEXT NOT NULL,
        target_length  INTEGER,
        n_tokens       INTEGER,
        tokenizer      TEXT,
        bin            TEXT,
        seed           INTEGER NOT NULL,
        prompt_form    TEXT NOT NULL CHECK (prompt_form IN ('messages', 'prompt')),
        prompt_hash    TEXT NOT NULL REFERENCES blobs(hash),
        gold_json      TEXT NOT NULL,
        meta_json      TEXT NOT NULL,
        UNIQUE (run_id, sample_key)
      );
      CREATE INDEX samples_task ON samples (task, subtask, target_length);

      CREATE TABLE results (
        id                 INTEGER PRIMARY KEY,
        run_id             INTEGER NOT NULL REFERENCES runs(id),
        sample_row_id      INTEGER NOT NULL REFERENCES samples(id),
        model              TEXT NOT NULL,
        backend            TEXT NOT NULL,
        response           TEXT,
        finish_reason      TEXT,
        error_kind         TEXT,
        error_message      TEXT,
        score              REAL,
        metrics_json       TEXT NOT NULL,
        prompt_tokens      INTEGER,
        completion_tokens  INTEGER,
        ttft_ms            REAL,
        prefill_tok_per_s  REAL,
        tpot_ms            REAL,
        tpot_p50_ms        REAL,
        tpot_p90_ms        REAL,
        peak_memory_bytes  INTEGER,
        kv_state_bytes     INTEGER,
        wall_ms            REAL,
        attempts           INTEGER NOT NULL DEFAULT 1,
        created_at         TEXT NOT NULL,
        UNIQUE (sample_row_id, model),
        CHECK ((error_kind IS NULL) = (score IS NOT NULL))
      );
      CREATE INDEX results_run ON results (run_id);

      CREATE TABLE perf (
        id           INTEGER PRIMARY KEY,
        run_id       INTEGER REFERENCES runs(id),
        bench        TEXT NOT NULL,
        case_name    TEXT NOT NULL,
        metric       TEXT NOT NULL,
        value        REAL NOT NULL,
        unit         TEXT NOT NULL,
        device       TEXT,
        git_commit   TEXT,
        params_json  TEXT NOT NULL DEFAULT '{}',
        created_at   TEXT NOT NULL
      );
      CREATE INDEX perf_bench ON perf (bench, case_name, metric);
    `,
  },
  {
    version: 2,
    description: 'runs.random_weights: speed runs on random weights must never be reported as scores',
    sql: 'ALTER TABLE runs ADD COLUMN random_weights INTEGER NOT NULL DEFAULT 0;',
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** A store written by a newer ctxbench may have moved columns: neither migrated nor read. */
export function refuseNewerSchema(version: number): void {
  if (version > SCHEMA_VERSION) {
    throw new StoreError(`database schema version ${version} is newer than this ctxbench understands (${SCHEMA_VERSION}); upgrade ctxbench`);
  }
}

export function migrate(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  refuseNewerSchema(Math.max(0, ...applied));
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)')
        .run(migration.version, migration.description, new Date().toISOString());
    })();
  }
}

export class StoreError extends Error {
  override name = 'StoreError';
}
