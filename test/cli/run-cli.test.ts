// `ctxbench run` as a real process: SIGKILL and SIGINT mid-run, then resume; a real server and SQLite file.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiServer, type TestServer } from '../helpers/openai-server.js';
import { niahOracle } from '../helpers/niah-oracle.js';
import { runCli, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
let server: TestServer;
beforeAll(async () => {
  // Slow enough (three pieces 40 ms apart) that a 20-sample run is still going when the test strikes.
  server = await startOpenAiServer((req) => ({ kind: 'text', text: `The number is ${niahOracle(req.promptText)}`, pieceDelayMs: 40 }));
});
afterAll(() => server.close());

function runArgs(db: string, name: string): string[] {
  return ['run', '--task', 'ruler', '--subtask', 'niah_single_1', '--length', '4k', '--count', '20', '--model', 'oracle',
    '--base-url', server.baseUrl, '--db', db, '--name', name, '--concurrency', '2', '--timeout-s', '30'];
}

function resultCount(db: string): number {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try { return (conn.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number }).n; } finally { conn.close(); }
}

/** Polls the store (read-only, beside the writer) until at least `n` results are committed. */
async function waitForResults(db: string, n: number): Promise<number> {
  for (;;) {
    try { const count = resultCount(db); if (count >= n) return count; } catch { /* not created yet */ }
    await new Promise((r) => setTimeout(r, 15));
  }
}

function check(db: string) {
  const conn = new Database(db, { readonly: true });
  try {
    return {
      integrity: conn.pragma('integrity_check', { simple: true }),
      rows: conn.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number },
      distinct: conn.prepare('SELECT COUNT(DISTINCT sample_row_id || model) AS n FROM results').get() as { n: number },
      samples: conn.prepare('SELECT COUNT(*) AS n FROM samples').get() as { n: number },
      scores: conn.prepare('SELECT score, error_kind FROM results').all() as { score: number | null; error_kind: string | null }[],
    };
  } finally {
    conn.close();
  }
}

describe('ctxbench run (process)', () => {
  it('survives SIGKILL mid-run: the rerun ends with exactly 20 results, no duplicates, integrity ok', async () => {
    const db = join(dir, 'kill.db');
    const requestsBefore = server.requests.length;
    const { child, done } = startCli(runArgs(db, 'kill'));
    const seen = await waitForResults(db, 5);
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');
    const partial = check(db);
    expect(partial.integrity).toBe('ok');
    expect(partial.rows.n).toBeGreaterThanOrEqual(seen);
    expect(partial.rows.n).toBeLessThan(20);

    const rerun = await runCli([...runArgs(db, 'kill'), '--json']);
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    const summary = JSON.parse(rerun.stdout);
    expect(summary).toMatchObject({ resumed: true, planned: 20, skipped: partial.rows.n, written: 20 - partial.rows.n });
    expect(summary.aggregates).toHaveLength(1);
    expect(summary.aggregates[0]).toMatchObject({ model: 'oracle', aggregate: { task: 'ruler', overall: { n: 20, n_errors: 0, score: 100 } } });
    const final = check(db);
    expect(final).toMatchObject({ integrity: 'ok', rows: { n: 20 }, distinct: { n: 20 }, samples: { n: 20 } });
    expect(final.scores.every((r) => r.score === 1 && r.error_kind === null)).toBe(true);
    // At most the in-flight requests (concurrency 2) were lost and asked again.
    expect(server.requests.length - requestsBefore).toBeLessThanOrEqual(22);
  });

  it('on SIGINT finishes its writes and exits 130; the rerun completes the run', async () => {
    const db = join(dir, 'int.db');
    const { child, done } = startCli(runArgs(db, 'int'));
    await waitForResults(db, 3);
    child.kill('SIGINT');
    const interrupted = await done;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toMatch(/interrupted; finishing in-flight writes/);
    expect(interrupted.stdout).toMatch(/run "int" interrupted/);
    const partial = check(db);
    expect(partial.integrity).toBe('ok');
    expect(partial.rows.n).toBeLessThan(20);
    const rerun = await runCli([...runArgs(db, 'int'), '--progress']);
    expect(rerun.code).toBe(0);
    // Asked for explicitly, the bar reaches stderr even though it is a pipe here.
    expect(rerun.stderr).toMatch(/20\/20 \| ETA \S+ \| mean score 1\.000 \| errors 0/);
    expect(rerun.stdout).toMatch(/run "int" done: 20 planned/);
    expect(rerun.stdout).toMatch(/overall\s+100\.00\s+n=20\s+errors=0/);
    expect(check(db)).toMatchObject({ integrity: 'ok', rows: { n: 20 }, distinct: { n: 20 } });
  });

  it('rejects bad input with one line and exit 2', async () => {
    const gone = await startOpenAiServer(() => ({ kind: 'text', text: '' }));
    await gone.close();
    const cases: [string[], RegExp][] = [
      [['run', '--task', 'ruler', '--model', 'm', '--base-url', gone.baseUrl, '--db', join(dir, 'y.db'), '--length', '4k', '--count', '1'], /cannot reach/],
      [['run', '--task', 'ruler', '--model', 'm', '--length', '4q'], /invalid length "4q"/],
      [['run', '--task', 'nope', '--model', 'm'], /unknown task "nope"/],
      [['run', '--task', 'ruler'], /give --model/],
      [['run', '--task', 'ruler', '--model', 'm', '--length', '4k', '--prefill-checkpoint-every', '4096'], /--prefill-checkpoint-every needs --backend webgpu/],
      [['run', '--task', 'ruler', '--model', 'm', '--backend', 'webgpu', '--prefill-checkpoint-every', '0'], /--prefill-checkpoint-every/],
      [['run', '--task', 'ruler', '--model', 'm', '--backend', 'webgpu', '--db', join(dir, 'x.db'), '--length', '4k', '--count', '1'], /webgpu|config\.json/],
    ];
    // Until the bundled model lands, the default evaluation must say so in one line.
    if (!existsSync('models/ctxbench-hybrid/config.json')) cases.push([['run', '--default'], /models\/ctxbench-hybrid/]);
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
