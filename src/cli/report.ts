// `ctxbench report`: charts (SVG + PNG), leaderboards (Markdown, CSV, JSON) and a self-contained index.html from
// the result store. Reads only; a missing store, run or task is a one-line error (exit 2).
import type { Command } from 'commander';
import { join } from 'node:path';
import { DEFAULT_DB_PATH } from '../store/store.js';
import { TASK_NAMES } from '../tasks/registry.js';
import { action, UsageError } from './usage.js';

interface ReportFlags {
  run: string[];
  task: string[];
  db: string;
  out?: string;
}

const collectList = (value: string, previous: string[]) => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

/** reports/<name>/: the run names joined, or "all" when every run is reported. */
export function defaultReportDir(runs: string[]): string {
  const name = runs.length ? runs.join('+').replace(/[^A-Za-z0-9._+-]+/g, '_').slice(0, 120) : 'all';
  // A name of only dots ("..", ".") would resolve to reports/ itself or above it.
  return join('reports', /^\.+$/.test(name) ? name.replace(/\./g, '_') : name);
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('render charts and leaderboards from the store (index.html, SVG/PNG charts, CSV/JSON/Markdown tables)')
    .option('--run <names>', 'run(s) to report (repeatable or comma list; default: every run in the store)', collectList, [])
    .option('--task <names>', `task(s) to report: ${TASK_NAMES.join(', ')} (default: all)`, collectList, [])
    .option('--db <path>', 'SQLite result store', DEFAULT_DB_PATH)
    .option('--out <dir>', 'output folder (default: reports/<run names>/)')
    .action(action(async (flags: ReportFlags) => {
      for (const task of flags.task) {
        if (!TASK_NAMES.includes(task)) throw new UsageError(`unknown task "${task}" (known: ${TASK_NAMES.join(', ')})`);
      }
      await renderReport(flags.db, flags.run, flags.task, flags.out ?? defaultReportDir(flags.run));
    }));
}

/** Renders the report of `runs` (all when empty) into `outDir`; chart warnings to stderr, one summary line to `say`. */
export async function renderReport(
  dbPath: string, runs: string[], tasks: string[], outDir: string, say = (line: string) => process.stdout.write(line),
): Promise<void> {
  // Lazy: vega, vega-lite and resvg load only when a report is drawn.
  const { loadReportData, openStoreReadOnly } = await import('../reports/load.js');
  const { writeReport } = await import('../reports/report.js');
  const db = openStoreReadOnly(dbPath);
  try {
    const data = loadReportData(db, dbPath, { runs, tasks });
    const out = await writeReport(data, outDir);
    for (const chart of out.charts) {
      for (const warning of chart.warnings) process.stderr.write(`ctxbench report: chart ${chart.id}: ${warning}\n`);
    }
    say(`${out.charts.length} charts, ${out.tables.length} tables → ${out.indexPath}\n`);
  } finally {
    db.close();
  }
}
