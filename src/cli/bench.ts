// `ctxbench bench`: kernel-level timings (timestamp queries, else wall clock, labelled), end-to-end prefill and
// TPOT through the Engine with random weights, and ingested PyTorch anchors, into the store's perf table.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_DB_PATH, openStore } from '../store/store.js';
import { formatTable, runBench, storeRows } from '../bench/harness.js';
import { formatDecodeAtContext } from '../bench/decode-at-context.js';
import { KERNEL_NAMES, type KernelName, type SizeClass } from '../bench/kernel-cases.js';
import { RANDOM_SHAPES } from '../engine/models/kimi-linear-shapes.js';
import { action, integerFlag, UsageError } from './usage.js';

interface BenchFlags {
  kernels?: string;
  e2e?: boolean;
  lengths: string;
  shape: string;
  db: string;
  repeat: string;
  experts?: string;
  decodeTokens: string;
  maxSeconds: string;
  ingestAnchors?: string;
  json?: string;
  decodeAt?: string;
  copyGbps?: string;
  weights: string;
}

// 'small' (CI, lavapipe) runs the tiny model end to end and tiny kernel sizes.
const SHAPE_ALIASES: Record<string, string> = { small: 'kimi-linear-tiny', SMALL: 'kimi-linear-tiny' };

/** "4k,16k,1m,300" → [4096, 16384, 1048576, 300]. */
export function parseLengths(text: string, flag = '--lengths'): number[] {
  return text.split(',').map((part) => {
    const m = /^\s*(\d+)\s*([kKmM]?)\s*$/.exec(part);
    if (!m) throw new UsageError(`${flag}: "${part}" is not a length (e.g. 4k, 16k, 1m, 300)`);
    const value = Number(m[1]) * (m[2].toLowerCase() === 'k' ? 1024 : m[2].toLowerCase() === 'm' ? 1 << 20 : 1);
    if (value < 2) throw new UsageError(`${flag}: ${part} is too short (at least 2 tokens)`);
    return value;
  });
}


function parseKernels(text: string | undefined, e2e: boolean, anchorsOnly: boolean): KernelName[] {
  if (text === undefined) return e2e || anchorsOnly ? [] : [...KERNEL_NAMES];
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(KERNEL_NAMES as readonly string[]).includes(n)) throw new UsageError(`--kernels: unknown kernel "${n}" (known: ${KERNEL_NAMES.join(', ')})`);
  }
  return names as KernelName[];
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('kernel and end-to-end benchmarks into the perf table (with PyTorch anchors from bench/anchors.py)')
    .option('--kernels <list>', `kernel-level cases, comma-separated (${KERNEL_NAMES.join(', ')}); default all with a case unless --e2e`)
    .option('--e2e', 'end-to-end prefill tok/s and TPOT for the shape and its all-MLA twin (random f16 weights)')
    .option('--lengths <list>', 'prompt lengths for --e2e (k = 1024, m = 1048576)', '4k,16k')
    .option('--shape <name>', `model shape: ${Object.keys(RANDOM_SHAPES).join(', ')} or small`, 'small')
    .option('--experts <n>', 'routed experts kept in the random model (layer shapes unchanged)')
    .option('--decode-at <list>', 'TPOT at these context lengths for the shape and its all-MLA twin from a seeded random state (no prefill), with the memory roofline')
    .option('--weights <dtype>', 'f16 or int8: int8 runs --e2e / --decode-at on q8 weights (int8 per group of 32 + f16 scales) and adds q8 gemv/moe kernel cases', 'f16')
    .option('--copy-gbps <n>', 'copy bandwidth for the --decode-at roofline when no device-copy anchor or copy case is in the run')
    .option('--decode-tokens <n>', 'decode steps per --e2e / --decode-at case (TPOT)', '16')
    .option('--max-seconds <s>', 'skip an --e2e length whose predicted prefill exceeds this', '120')
    .option('--repeat <n>', 'timed blocks per kernel case (median reported)', '5')
    .option('--ingest-anchors <file>', 'JSON from bench/anchors.py: stored as anchor rows, ratios printed')
    .option('--json <file>', 'also write the rows as JSON')
    .option('--db <path>', 'SQLite result store', DEFAULT_DB_PATH)
    .action(action(async (flags: BenchFlags) => {
      const shape = SHAPE_ALIASES[flags.shape] ?? flags.shape;
      if (!RANDOM_SHAPES[shape]) throw new UsageError(`--shape: unknown "${flags.shape}" (known: ${Object.keys(RANDOM_SHAPES).join(', ')}, small)`);
      const size: SizeClass = shape === 'kimi-linear-tiny' ? 'small' : '48b';
      const e2e = Boolean(flags.e2e);
      const decodeAt = flags.decodeAt === undefined ? [] : parseLengths(flags.decodeAt, '--decode-at');
      if (flags.weights !== 'f16' && flags.weights !== 'int8') throw new UsageError(`--weights must be f16 or int8, got "${flags.weights}"`);
      const copyGbps = flags.copyGbps === undefined ? undefined : Number(flags.copyGbps);
      if (copyGbps !== undefined && !(Number.isFinite(copyGbps) && copyGbps > 0)) throw new UsageError(`--copy-gbps: "${flags.copyGbps}" is not a positive number`);
      const rows = await runBench({
        kernels: parseKernels(flags.kernels, e2e || decodeAt.length > 0, Boolean(flags.ingestAnchors)),
        decodeAt,
        copyGbps,
        weights: flags.weights === 'int8' ? 'q8' : 'f16',
        e2e,
        lengths: parseLengths(flags.lengths),
        shape,
        size,
        repeat: integerFlag('--repeat', flags.repeat, 1),
        experts: flags.experts === undefined ? undefined : integerFlag('--experts', flags.experts, 1),
        decodeTokens: integerFlag('--decode-tokens', flags.decodeTokens, 1),
        maxSecondsPerCase: integerFlag('--max-seconds', flags.maxSeconds, 1),
        anchorsFile: flags.ingestAnchors,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const store = openStore(flags.db);
      try {
        storeRows(store, rows);
      } finally {
        store.close();
      }
      if (flags.json) writeFileSync(flags.json, JSON.stringify(rows, null, 1));
      const decodeTable = formatDecodeAtContext(rows);
      process.stdout.write(`${formatTable(rows)}\n${decodeTable ? `\n${decodeTable}\n\n` : ''}${rows.length} perf rows → ${flags.db}\n`);
    }));
}
