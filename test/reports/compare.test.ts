// `ctxbench compare` through the real CLI on a real store: identical results pass (exit 0), an injected score
// drop in one bin fails (exit 1) and is the only failing cell, an injected slowdown fails, bad input exits 2.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareMarkdown, compareRuns } from '../../src/reports/compare.js';
import { openStoreReadOnly } from '../../src/reports/load.js';
import { openStore } from '../../src/store/store.js';
import type { Sample } from '../../src/tasks/types.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';
import { generateFixtureSamples, HYBRID, writeRun } from './fixture-store.js';

const dir = tempDir('ctxbench-compare-');
const db = join(dir, 'store.db');
const inBrokenBin = (s: Sample) => s.task === 'mrcr' && s.subtask === '2needle' && s.target_length === 32768;

beforeAll(async () => {
  const fx = await generateFixtureSamples();
  const all = [...fx.mrcr, ...fx.ruler, ...fx.mmluPro];
  const store = openStore(db);
  try {
    writeRun(store, 'baseline', { model: HYBRID }, all);
    writeRun(store, 'same', { model: HYBRID }, all);
    writeRun(store, 'odd|<b>name', { model: HYBRID }, all);
    writeRun(store, 'broken-bin', { model: HYBRID, breaks: inBrokenBin }, all);
    writeRun(store, 'slower', { model: HYBRID, slowdown: 1.5 }, all);
    // Two RULER samples of one cell crash in the candidate (an engine error), the rest unchanged.
    const crashed = new Set(fx.ruler.slice(0, 2).map((s) => s.id));
    writeRun(store, 'crashing', { model: HYBRID, errors: (s) => (crashed.has(s.id) ? 'engine_error' : null) }, all);
  } finally {
    store.close();
  }
}, 120_000);

describe('ctxbench compare', () => {
  it('exits 0 when baseline and candidate are the same results', async () => {
    const r = await runCli(['compare', 'baseline', 'same', '--db', db]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No significant regression');
    expect(r.stdout).toContain('| mrcr 2needle @ 32k | 3 |');
    expect(r.stdout).not.toContain('FAIL');
  }, 60_000);

  it('exits 1 on a candidate whose scores drop in one bin, and flags only that bin', async () => {
    const r = await runCli(['compare', 'baseline', 'broken-bin', '--db', db]);
    expect(r.code).toBe(1);
    const failing = r.stdout.split('\n').filter((line) => line.includes('**FAIL**'));
    expect(failing).toHaveLength(1);
    expect(failing[0]).toMatch(/^\| mrcr 2needle @ 32k \| 3 \|/);
    expect(r.stdout).toContain('Regression: 1 of');
  }, 60_000);

  it('computes the paired difference on the same sample ids', () => {
    const handle = openStoreReadOnly(db);
    try {
      const result = compareRuns(handle, 'baseline', 'broken-bin', { maxDropPoints: 2, maxSlowdown: 0.1 });
      const cell = result.cells.find((c) => c.cell === 'mrcr 2needle @ 32k')!;
      // The broken answers lack the required prefix, so every candidate score is 0: Δ = −(baseline mean).
      expect(cell.candidate_mean).toBe(0);
      expect(cell.diff).toBeCloseTo(-(cell.baseline_mean as number), 10);
      expect(cell.diff_high).toBeLessThan(0);
      const same = compareRuns(handle, 'baseline', 'baseline', { maxDropPoints: 0, maxSlowdown: 0 });
      expect(same.failed).toBe(false);
      for (const c of same.cells) expect([c.diff, c.diff_low, c.diff_high, c.tpot?.ratio]).toEqual([0, c.pairs > 1 ? 0 : null, c.pairs > 1 ? 0 : null, 1]);
    } finally {
      handle.close();
    }
  });

  it('exits 1 on a significant slowdown past --max-slowdown, 0 when the threshold allows it', async () => {
    const slow = await runCli(['compare', 'baseline', 'slower', '--db', db, '--max-slowdown', '0.2']);
    expect(slow.code).toBe(1);
    expect(slow.stdout).toMatch(/FAIL\*\*: TPOT ×1\.5/);
    const allowed = await runCli(['compare', 'baseline', 'slower', '--db', db, '--max-slowdown', '0.6']);
    expect(allowed.code).toBe(0);
  }, 60_000);

  it('exits 1 when samples the baseline scored now end in errors, unless --max-new-errors allows them', async () => {
    const r = await runCli(['compare', 'baseline', 'crashing', '--db', db]);
    expect(r.code).toBe(1);
    const failing = r.stdout.split('\n').filter((line) => line.includes('**FAIL**'));
    expect(failing.length).toBeGreaterThanOrEqual(1);
    expect(failing.join('\n')).toMatch(/FAIL\*\*: \d new errors > 0/);
    const allowed = await runCli(['compare', 'baseline', 'crashing', '--db', db, '--max-new-errors', '2']);
    expect(allowed.code).toBe(0);
    const bad = await runCli(['compare', 'baseline', 'crashing', '--db', db, '--max-new-errors', '-1']);
    expect(bad.code).toBe(2);
  }, 60_000);

  it('escapes run names in the Markdown, so a pipe or a tag cannot break the table or inject HTML', () => {
    const handle = openStoreReadOnly(db);
    try {
      const options = { maxDropPoints: 2, maxSlowdown: 0.1 };
      const md = compareMarkdown(compareRuns(handle, 'baseline', 'odd|<b>name', options), options);
      expect(md.split('\n')[0]).toBe('## ctxbench compare: baseline → odd\\|\\<b\\>name');
    } finally {
      handle.close();
    }
  });

  it('exits 2 with one line on an unknown run or a bad threshold', async () => {
    const missing = await runCli(['compare', 'baseline', 'nope', '--db', db]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toEqual(['ctxbench: no run named "nope" in the result store']);
    const bad = await runCli(['compare', 'baseline', 'same', '--db', db, '--max-drop', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-drop must be a number');
  }, 60_000);
});
