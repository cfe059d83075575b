// `ctxbench compare BASELINE CANDIDATE`: the regression check for kernel and engine changes. Markdown summary on
// stdout; exit 1 when a cell's drop or slowdown is past the threshold and significant, or it has more new errors
// than allowed; 0 otherwise; 2 on bad input.
import type { Command } from 'commander';
import { DEFAULT_DB_PATH } from '../store/store.js';
import type { CompareOptions } from '../reports/compare.js';
import { DEFAULT_BOOTSTRAP_SEED } from '../reports/stats.js';
import { action, integerFlag, UsageError } from './usage.js';

interface CompareFlags {
  maxDrop: string;
  maxSlowdown: string;
  maxNewErrors: string;
  seed: string;
  db: string;
}

function nonNegative(text: string, flag: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new UsageError(`${flag} must be a number ≥ 0, got "${text}"`);
  return value;
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('regression check: paired score differences and speed ratios between two runs (exit 1 on a significant regression)')
    .argument('<baseline>', 'baseline run name')
    .argument('<candidate>', 'candidate run name')
    .option('--max-drop <points>', 'largest tolerated mean score drop per cell, in percentage points', '2')
    .option('--max-slowdown <fraction>', 'largest tolerated TPOT or prefill slowdown per cell, as a fraction (0.1 = 10%)', '0.1')
    .option('--max-new-errors <n>', 'largest tolerated count per cell of samples the baseline scored and the candidate errored on', '0')
    .option('--seed <n>', 'bootstrap seed', String(DEFAULT_BOOTSTRAP_SEED))
    .option('--db <path>', 'SQLite result store', DEFAULT_DB_PATH)
    .action(action(async (baseline: string, candidate: string, flags: CompareFlags) => {
      const seed = Number(flags.seed);
      if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${flags.seed}"`);
      const options: CompareOptions = {
        maxDropPoints: nonNegative(flags.maxDrop, '--max-drop'), maxSlowdown: nonNegative(flags.maxSlowdown, '--max-slowdown'), seed,
        maxNewErrors: integerFlag('--max-new-errors', flags.maxNewErrors, 0),
      };
      const { compareMarkdown, compareRuns } = await import('../reports/compare.js');
      const { openStoreReadOnly } = await import('../reports/load.js');
      const db = openStoreReadOnly(flags.db);
      let failed: boolean;
      try {
        const result = compareRuns(db, baseline, candidate, options);
        process.stdout.write(compareMarkdown(result, options));
        failed = result.failed;
      } finally {
        db.close();
      }
      if (failed) process.exitCode = 1;
    }));
}
