// The report reads stores written by other ctxbench versions: an older schema is brought up to date (as any run
// would) and read, a newer one is refused in one line through the CLI (exit 2), never read with wrong columns.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { listRuns } from '../../src/store/queries.js';
import { openStoreReadOnly } from '../../src/reports/load.js';
import { SCHEMA_VERSION } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/store.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('ctxbench-report-versions-');

function storeWithRun(name: string): string {
  const path = join(dir, `${name}.db`);
  const store = openStore(path);
  store.openRun({ name, config: {}, gitCommit: null, model: 'm', backend: 'openai', host: 'h' });
  store.close();
  return path;
}

describe('report on stores of other versions', () => {
  it('brings a schema-1 store up to date and reads its runs', () => {
    const path = storeWithRun('old');
    const raw = new Database(path);
    raw.exec('ALTER TABLE runs DROP COLUMN random_weights; DELETE FROM schema_migrations WHERE version = 2;');
    raw.close();
    const db = openStoreReadOnly(path);
    try {
      expect(listRuns(db).map((r) => [r.name, r.random_weights])).toEqual([['old', 0]]);
      expect((db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v).toBe(SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it('refuses a store from a newer schema in one line, exit 2', async () => {
    const path = storeWithRun('newer');
    const raw = new Database(path);
    raw.prepare("INSERT INTO schema_migrations VALUES (999, 'future', 'x')").run();
    raw.close();
    const r = await runCli(['report', '--db', path, '--out', join(dir, 'out')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/schema version 999 is newer than this ctxbench understands/);
  }, 60_000);
});
