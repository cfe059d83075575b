// The worker pool's failure paths as a user meets them: a model that does not load, and Ctrl-C while the workers
// are still loading. Real worker processes on lavapipe; the CLI as a real process in its own process group.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();

function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)]).toString().split('\n').filter((l) => l.trim()).map(Number);
  } catch { return []; } // ps exits 1 when there are none
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

describe('--devices worker pool failures', () => {
  it('a model that does not load: one line, exit 2, for every attempt (no EPIPE crash of the parent)', async () => {
    const model = join(dir, 'no-such-model');
    mkdirSync(model);
    // Each worker answered start_failed and was killed; closing the pool then wrote 'close' into the dead worker's
    // channel, and the unhandled EPIPE crashed the parent with a stack trace (exit 1). Whether the write lands
    // before the kernel closes the channel is a race (about half the runs from dist/), hence a few attempts.
    for (let attempt = 0; attempt < 4; attempt++) {
      const res = await runCli(['run', '--task', 'mmlu-pro', '--count', '1', '--backend', 'webgpu', '--model', model,
        '--devices', '2', '--db', join(dir, 'bad.db'), '--name', 'bad']);
      expect(res.stderr).toBe(`ctxbench: no engine worker started: no config.json in ${model}\n`);
      expect(res.code).toBe(2);
    }
  });

  it('Ctrl-C while the workers are still loading ends the run as interrupted (130), and no worker is left', async () => {
    // The sources through tsx, so the test never runs a stale dist/.
    const args = ['--import', 'tsx', 'src/cli.ts', 'run', '--backend', 'webgpu', '--model', 'random:kimi-linear-tiny', '--task', 'mmlu-pro',
      '--subtask', 'math', '--count', '2', '--max-tokens', '2', '--devices', '2', '--db', join(dir, 'int.db'), '--name', 'int'];
    // Its own process group, as a shell gives a foreground job: a terminal Ctrl-C is SIGINT to the whole group.
    const cli = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    cli.stderr!.on('data', (d) => { stderr += d; });
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    let workers: number[] = [];
    while (workers.length < 2) {
      await new Promise((r) => setTimeout(r, 20));
      workers = childPids(cli.pid!);
    }
    process.kill(-cli.pid!, 'SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).not.toMatch(/no engine worker started|exited during start/);
    expect(stderr).toMatch(/interrupted/);
    for (let i = 0; i < 100 && workers.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
    expect(workers.filter(alive)).toEqual([]);
  });
});
