// Shared CLI plumbing: the exit-code contract (0 ok, 1 check failed, 2 usage/input error).
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Prints a one-line message to stderr and exits 2. */
export function failUsage(message: string): never {
  process.stderr.write(`ctxbench: ${message}\n`);
  process.exit(2);
}

/** Wraps a command action: known input errors become one line + exit 2; anything else a crash report. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void) {
  return async (...args: A): Promise<void> => {
    try {
      await fn(...args);
    } catch (err) {
      const e = err as Error;
      if (['UsageError', 'TaskInputError', 'TokenizerLoadError', 'ModelLoadError', 'EngineCapacityError'].includes(e.name)) failUsage(e.message);
      throw err;
    }
  };
}

/** A whole-number flag value in [min, max]; anything else is a usage error naming the flag and the range. */
export function integerFlag(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new UsageError(`${flag} must be an integer ${range}, got "${text}"`);
  }
  return n;
}

export function notBuilt(command: string, issue: string): never {
  failUsage(`${command}: not built yet (${issue})`);
}
