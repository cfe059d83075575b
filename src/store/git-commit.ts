// The commit a run or bench row was made from. CTXBENCH_GIT_COMMIT wins: the GPU machine's copy of the tree may
// carry an older .git than the code it runs (tools/device-pack.sh writes the packed commit into .device/setup.sh).
import { execFileSync } from 'node:child_process';

export function gitCommit(): string | null {
  if (process.env.CTXBENCH_GIT_COMMIT) return process.env.CTXBENCH_GIT_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}
