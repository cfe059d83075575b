// `ctxbench bench --decode-at`: TPOT at a context length from a random state (no prefill) for the tiny hybrid and
// its all-MLA twin on lavapipe, rows in a real SQLite file; the roofline's byte count against a hand count.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { copyBandwidth, decodeReadBytes } from '../../src/bench/decode-at-context.js';
import type { BenchRow } from '../../src/bench/harness.js';
import { randomShapeConfig } from '../../src/engine/models/kimi-linear-shapes.js';

const cli = (args: string[]) => spawnSync('npx', ['tsx', 'src/cli.ts', 'bench', ...args], { encoding: 'utf8', timeout: 120_000 });

describe('decode-at-context bench (tiny shapes, lavapipe)', () => {
  it('writes TPOT, roofline, memory and ratio rows for the shape and its twin, and a skipped row for a length that cannot be allocated', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctxbench-decode-at-'));
    const db = join(dir, 'perf.db');
    const anchors = join(dir, 'anchors.json');
    writeFileSync(anchors, JSON.stringify({ device: 'test device', rows: [{ case: 'device-copy 1GiB', metric: 'gbps', value: 2000, unit: 'GB/s' }] }));
    // 6m: the tiny latent cache (16 values a row) of 6M tokens is, even in f16, over lavapipe's 128 MiB binding limit.
    const r = cli(['--decode-at', '24,70,6m', '--decode-tokens', '3', '--ingest-anchors', anchors, '--copy-gbps', '5', '--db', db]);
    expect(r.status, r.stderr).toBe(0);
    const rows = new Database(db, { readonly: true }).prepare("SELECT * FROM perf WHERE bench = 'decode-at-context'").all() as Record<string, unknown>[];
    expect(Object.keys(rows[0]).sort()).toEqual(expect.arrayContaining(['bench', 'case_name', 'metric', 'value', 'unit', 'device', 'git_commit', 'params_json', 'created_at']));
    const keys = new Set(rows.map((row) => `${row.case_name}|${row.metric}`));
    for (const model of ['kimi-linear-tiny', 'kimi-linear-tiny-mla']) {
      for (const length of [24, 70]) {
        for (const metric of ['tpot_ms', 'tpot_p50_ms', 'tpot_p90_ms', 'decode_read_bytes', 'kv_state_bytes', 'peak_arena_bytes', 'roofline_ms', 'tpot_vs_roofline']) {
          expect(keys, `${model} ${length}|${metric}`).toContain(`${model} ${length}|${metric}`);
        }
      }
      expect(keys).toContain(`${model} 6291456|skipped`);
    }
    for (const length of [24, 70]) expect(keys).toContain(`kimi-linear-tiny-mla / kimi-linear-tiny ${length}|tpot_ratio_mla_over_hybrid`);

    const measured = rows.filter((row) => row.metric !== 'skipped');
    expect(measured.every((row) => Number.isFinite(row.value) && (row.value as number) > 0)).toBe(true);
    const tpot = rows.find((row) => row.case_name === 'kimi-linear-tiny 70' && row.metric === 'tpot_p50_ms')!;
    const params = JSON.parse(tpot.params_json as string);
    expect(params.mode).toBe('decode-at-context');
    expect(params.state).toBe('random state, no prefill');
    expect(params.length).toBe(70);
    expect(params.decodeTokens).toBe(3);
    // The ingested anchor wins over the flag.
    expect(params.copySource).toBe('anchor device-copy 1GiB');
    expect(params.copyGbps).toBe(2000);
    const roofline = rows.find((row) => row.case_name === 'kimi-linear-tiny 70' && row.metric === 'roofline_ms')!;
    expect(roofline.value).toBeCloseTo(params.reads.total / 2000e9 * 1000, 12);
    const ratio = rows.find((row) => row.case_name === 'kimi-linear-tiny 70' && row.metric === 'tpot_vs_roofline')!;
    expect(ratio.value).toBeCloseTo((tpot.value as number) / (roofline.value as number), 6);
    expect(tpot.device).toMatch(/llvmpipe|lavapipe|mesa/i);
    expect(tpot.git_commit).toMatch(/^[0-9a-f]{40}$/);

    const skipped = rows.find((row) => row.case_name === 'kimi-linear-tiny 6291456' && row.metric === 'skipped')!;
    expect(JSON.parse(skipped.params_json as string).skipped).toMatch(/cannot allocate.*binding limit/);
    expect(r.stdout).toMatch(/TPOT\/roofline/);
    expect(r.stdout).toMatch(/6291456 +skipped: decode at 6291456 tokens: cannot allocate/);
    expect(r.stdout).toMatch(/70: MLA\/hybrid TPOT \d+\.\d\d×/);
  }, 120_000);

  it('bad --decode-at / --copy-gbps values are one line and exit 2', () => {
    for (const args of [['--decode-at', '4q'], ['--decode-at', '1'], ['--decode-at', '8', '--copy-gbps', '-3']]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ctxbench:'))).toHaveLength(1);
    }
  }, 120_000);

  it('counts the bytes of one decode step of the tiny config as a hand count does', () => {
    const c = randomShapeConfig('kimi-linear-tiny');
    // Tiny: V 97, H 40; KDA Hk 3, Dk 16 (P 48), K 4; MLA Hm 3, Dn 8, Dr 4, Dv 6, R 12; dense F 24; MoE E 7, top-2, 1 shared, I 10.
    // Layers: 0 KDA+dense, 1 KDA+MoE, 2 KDA+MoE, 3 MLA+MoE. f16 matmul weights (2 B), f32 kv_b and latent cache.
    const embedRow = 40 * 2, lmHead = 97 * 40 * 2, finalNorm = 40 * 4, norms = 4 * 2 * 40 * 4;
    const kda = (3 * 48 * 40 + 16 * 40 + 48 * 16 + 3 * 40 + 16 * 40 + 48 * 16 + 40 * 48) * 2 + (3 * 48 * 4 + 3 + 48 + 16) * 4; // 23804
    const mla = (3 * 12 * 40 + 16 * 40 + 40 * 18) * 2 + 12 * 4 + 3 * 14 * 12 * 4; // 7664
    const dense = 3 * 24 * 40 * 2;
    const moe = (7 * 40 + 7) * 4 + (2 + 1) * 3 * 10 * 40 * 2; // router + bias, two routed + one shared expert
    const weights = embedRow + lmHead + finalNorm + norms + 3 * kda + mla + dense + 3 * moe;
    expect(weights).toBe(119160);
    const N = 100;
    const latent = N * 16 * 4;
    const kdaState = 2 * 3 * 4 * (3 * 16 * 16 + 3 * 3 * 48); // read and written
    expect(decodeReadBytes(c, { matmul: 2, kvb: 4, latent: 4 }, N)).toEqual({ weights, latentCache: latent, kdaState, total: weights + latent + kdaState });
    // An f16 latent cache halves the cache term only.
    expect(decodeReadBytes(c, { matmul: 2, kvb: 4, latent: 2 }, N).latentCache).toBe(latent / 2);
  });

  it('takes the copy bandwidth from the anchor, else the measured copy case, else the flag', () => {
    const row = (bench: string, caseName: string, value: number, params: Record<string, unknown> = {}): BenchRow =>
      ({ bench, caseName, metric: 'gbps', value, unit: 'GB/s', params });
    const anchor = row('anchor', 'device-copy 1GiB', 3000);
    const copy = row('kernel', 'device-copy 1MiB', 2500, { kernel: 'copy' });
    expect(copyBandwidth([copy, anchor], 9)).toEqual({ gbps: 3000, source: 'anchor device-copy 1GiB' });
    expect(copyBandwidth([copy], 9)).toEqual({ gbps: 2500, source: 'measured device-copy 1MiB' });
    expect(copyBandwidth([], 9)).toEqual({ gbps: 9, source: '--copy-gbps' });
    expect(copyBandwidth([])).toBeUndefined();
  });
});
