// `ctxbench infer` end to end in a child process on real WebGPU (random tiny weights), plus its input errors.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'infer', ...args], { encoding: 'utf8' });

describe('ctxbench infer', () => {
  it('generates from --ids, writes --logits-out and reports stats as JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infer-'));
    writeFileSync(join(dir, 'ids.json'), JSON.stringify([5, 17, 3, 88, 41, 2, 9]));
    const logits = join(dir, 'logits.f32');
    const run = cli('--random-weights', 'kimi-linear-tiny', '--ids', join(dir, 'ids.json'), '--max-tokens', '4', '--json', '--logits-out', logits);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(report.randomWeights).toBe(true);
    expect(report.promptTokens).toBe(7);
    expect(report.ids.length).toBeGreaterThan(0);
    expect(report.ids.length).toBeLessThanOrEqual(4);
    expect(report.peakArenaBytes).toBeGreaterThan(0);
    expect(statSync(logits).size).toBe(7 * 97 * 4);
    const bytes = readFileSync(logits);
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    expect(values.every(Number.isFinite)).toBe(true);
    // Greedy: the first generated id is the argmax of the last prompt position.
    const last = Array.from(values.subarray(6 * 97));
    expect(report.ids[0]).toBe(last.indexOf(Math.max(...last)));
    // Same seed, same weights, same ids, also when the prompt runs in 3-token pieces with progress lines.
    const pieced = cli('--random-weights', 'kimi-linear-tiny', '--ids', join(dir, 'ids.json'), '--max-tokens', '4', '--json', '--piece', '3', '--progress');
    expect(pieced.status, pieced.stderr).toBe(0);
    expect(JSON.parse(pieced.stdout.trim().split('\n').pop()!).ids).toEqual(report.ids);
    const progress = pieced.stderr.split('\n').filter((l) => l.startsWith('prefill '));
    expect(progress.map((l) => l.split(' ')[1])).toEqual(['3/7', '6/7', '7/7']);
    expect(progress[2]).toMatch(/^prefill 7\/7 tokens, [\d.]+ s, \d+ tok\/s$/);
  });

  it('--prefill-checkpoint keeps the state every --checkpoint-every tokens and a rerun resumes from it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infer-ck-'));
    const args = ['--random-weights', 'kimi-linear-tiny', '--random-prompt', '300', '--piece', '64', '--max-tokens', '4', '--json',
      '--prefill-checkpoint', dir, '--checkpoint-every', '64', '--keep-checkpoint'];
    const first = cli(...args);
    expect(first.status, first.stderr).toBe(0);
    const resumed = cli(...args);
    expect(resumed.status, resumed.stderr).toBe(0);
    const [a, b] = [first, resumed].map((r) => JSON.parse(r.stdout.trim().split('\n').pop()!));
    // Pieces end at 64, 128, 192, 256 and 300: the last checkpoint is at 256.
    expect([a.resumedFromTokens, b.resumedFromTokens]).toEqual([0, 256]);
    expect(b.priorPrefillMs).toBeGreaterThan(0);
    expect(b.ids).toEqual(a.ids);
    const bad = cli(...args.slice(0, -3), '--checkpoint-every', '0');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--checkpoint-every/);
  });

  it('--profile-decode times one decode step per kernel (MLA decode passes named apart)', () => {
    const run = cli('--random-weights', 'kimi-linear-tiny', '--random-prompt', '9', '--max-tokens', '3', '--json', '--profile-decode');
    expect(run.status, run.stderr).toBe(0);
    const { decodeProfile } = JSON.parse(run.stdout.trim().split('\n').pop()!) as { decodeProfile: { kernel: string; dispatches: number; ms: number; share: number }[] };
    expect(decodeProfile.length).toBeGreaterThan(3);
    for (const k of decodeProfile) expect(k.ms).toBeGreaterThanOrEqual(0);
    expect(decodeProfile.reduce((a, k) => a + k.share, 0)).toBeCloseTo(1, 5);
    const kernels = decodeProfile.map((k) => k.kernel);
    for (const pass of ['absorb', 'reduce', 'unabsorb']) expect(kernels).toContain(`mla/mla-absorbed-decode:${pass}`);
    expect(kernels.some((k) => k.startsWith('mla/mla-absorbed-decode:split-'))).toBe(true);
    expect(run.stderr).toMatch(/decode step by kernel \([\d.]+ ms/);
  });

  it('--profile-prefill times the last prefill piece per kernel and prints the table', () => {
    const run = cli('--random-weights', 'kimi-linear-tiny', '--random-prompt', '21', '--piece', '8', '--max-tokens', '2', '--json', '--profile-prefill');
    expect(run.status, run.stderr).toBe(0);
    const stats = JSON.parse(run.stdout.trim().split('\n').pop()!) as { prefillProfileTokens: number; prefillProfile: { kernel: string; ms: number; share: number }[] };
    expect(stats.prefillProfileTokens).toBe(5); // pieces of 8, 8 and 5
    expect(stats.prefillProfile.reduce((a, k) => a + k.share, 0)).toBeCloseTo(1, 5);
    expect(stats.prefillProfile.map((k) => k.kernel)).toContain('embedding/embedding');
    expect(run.stderr).toMatch(/last prefill piece \(5 tokens\) by kernel \([\d.]+ ms/);
  });

  it('answers bad input with one line and exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infer-'));
    writeFileSync(join(dir, 'bad.json'), '{"x": 1}');
    for (const [args, message] of [
      [['--random-weights', 'nope', '--random-prompt', '3'], /unknown --random-weights shape "nope"/],
      [['--random-weights', 'kimi-linear-tiny', '--ids', join(dir, 'bad.json')], /expected a non-empty JSON array/],
      [['--random-weights', 'kimi-linear-tiny', '--prompt', 'hi'], /--prompt needs a tokenizer/],
      [['--random-prompt', '3'], /exactly one of --model DIR or --random-weights/],
      [['--random-weights', 'kimi-linear-tiny', '--random-prompt', '3', '--max-tokens', 'x'], /--max-tokens must be an integer/],
    ] as const) {
      const run = cli(...args);
      expect(run.status).toBe(2);
      expect(run.stderr.trim().split('\n').filter((l) => !l.startsWith('Warning')).join('\n')).toMatch(message);
    }
  });

  it('a sequence the device cannot hold (no position limit in config.json) is one line and exit 2, not a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infer-nolimit-'));
    cpSync(join(import.meta.dirname, '../fixtures/golden/odd'), dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    delete config.max_position_embeddings;
    delete config.model_max_length;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    writeFileSync(join(dir, 'ids.json'), '[1, 2, 3]');
    for (const [args, message] of [
      [['--model', dir, '--ids', join(dir, 'ids.json'), '--max-tokens', '200000000'], /a sequence of 200000003 tokens does not fit this device: .*binding limit/],
    ] as const) {
      const run = cli(...args);
      expect(run.status).toBe(2);
      expect(run.stderr.trim().split('\n').filter((l) => !l.startsWith('Warning')).join('\n')).toMatch(message);
    }
  });
});
