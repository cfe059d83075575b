// `ctxbench bench` end to end on lavapipe with tiny sizes: rows land in a temp SQLite store (no timing asserts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { parseLengths } from '../../src/cli/bench.js';

const cli = (args: string[]) => spawnSync('npx', ['tsx', 'src/cli.ts', 'bench', ...args], { encoding: 'utf8', timeout: 120_000 });

describe('ctxbench bench (small shapes, lavapipe)', () => {
  it('kernel cases, e2e for the tiny hybrid and its all-MLA twin, and ingested anchors land in the perf table', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctxbench-bench-'));
    const db = join(dir, 'perf.db');
    const anchors = join(dir, 'anchors.json');
    writeFileSync(anchors, JSON.stringify({ device: 'test device', rows: [{ case: 'device-copy 1GiB', metric: 'gbps', value: 3000, unit: 'GB/s' }] }));
    const r = cli(['--kernels', 'gemm,gemv,copy,kda,mla-prefill,mla-decode,moe', '--e2e', '--lengths', '12,20', '--decode-tokens', '3', '--repeat', '2',
      '--ingest-anchors', anchors, '--db', db]);
    expect(r.status, r.stderr).toBe(0);
    const rows = new Database(db, { readonly: true }).prepare('SELECT * FROM perf').all() as Record<string, unknown>[];
    const keys = new Set(rows.map((row) => `${row.bench}|${row.case_name}|${row.metric}`));
    for (const key of ['kernel|gemm-scalar 64x72x40|tflops', 'kernel|gemv-f16-subgroup 96x64|gbps', 'kernel|device-copy 1MiB|gbps',
      'kernel|kda-chunk T=40 H=2 d=16|mtok_s', 'kernel|mla-absorbed-decode subgroup-heads Tk=40 H=3 R=12|gbps', 'kernel|mla-absorbed-decode staged Tk=40 H=3 R=12|gbps', 'kernel|moe-expert-gemv top-2 of 7 24→16→24|gbps', 'e2e|kimi-linear-tiny 12|prefill_tok_s', 'e2e|kimi-linear-tiny-mla 20|tpot_ms',
      'anchor|device-copy 1GiB|gbps']) expect(keys, key).toContain(key);
    const gemm = rows.find((row) => row.case_name === 'gemm-scalar 64x72x40' && row.metric === 'ms')!;
    const params = JSON.parse(gemm.params_json as string);
    expect(params.path).toBe('scalar');
    // lavapipe has no subgroup matrices: no tensor-core variant is timed, and the row says why.
    expect(params.tensorCoreReason).toMatch(/subgroup-matrix/);
    expect([...keys].some((k) => k.includes('gemm-tensor-core'))).toBe(false);
    expect(['timestamp', 'wall']).toContain(params.timing);
    expect(gemm.device).toMatch(/llvmpipe|lavapipe|mesa/i);
    // Other work may commit meanwhile, so only the form of HEAD's hash is checked.
    expect(gemm.git_commit).toMatch(/^[0-9a-f]{40}$/);
    expect(rows.every((row) => Number.isFinite(row.value) && (row.value as number) > 0)).toBe(true);
    expect(r.stdout).toMatch(/perf rows →/);
  }, 120_000);

  it('bad input is one line and exit 2', () => {
    for (const args of [['--kernels', 'fft'], ['--shape', 'nope'], ['--lengths', '4q'], ['--ingest-anchors', '/nonexistent.json']]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ctxbench:'))).toHaveLength(1);
    }
  }, 120_000);

  it('parses lengths with k/m suffixes', () => {
    expect(parseLengths('4k,16k,1m,300')).toEqual([4096, 16384, 1048576, 300]);
  });
});
