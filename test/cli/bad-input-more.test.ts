// More careless-user input through the real CLI: each must be one line on stderr and exit 2, never a stack trace.
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startOpenAiServer, type TestServer } from '../helpers/openai-server.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
let server: TestServer;
beforeAll(async () => { server = await startOpenAiServer(() => ({ kind: 'text', text: 'The number is 1' })); });
afterAll(() => server.close());

function expectOneLineUsageError(result: CliResult, message: RegExp): void {
  expect(result.stderr).toMatch(message);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.code).toBe(2);
}

describe('careless input', () => {
  it('run --timeout-s past what a Node timer holds is refused (it used to time out every request after 1 ms)', async () => {
    const result = await runCli(['run', '--task', 'ruler', '--subtask', 'niah_single_1', '--length', '1k', '--count', '1',
      '--model', 'm', '--base-url', server.baseUrl, '--db', join(dir, 't.db'), '--timeout-s', '1e9']);
    expectOneLineUsageError(result, /--timeout-s must be a positive number of seconds up to 2147483 \(got "1e9"\)/);
    expect(server.requests).toHaveLength(0);
  });

  it('run --db under a path that is a file is a one-line store error, not an EEXIST crash', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'not a folder');
    const result = await runCli(['run', '--task', 'ruler', '--subtask', 'niah_single_1', '--length', '1k', '--count', '1',
      '--model', 'm', '--base-url', server.baseUrl, '--db', join(file, 'x.db')]);
    expectOneLineUsageError(result, /cannot open result store .*plain-file.*(EEXIST|ENOTDIR)/);
  });

  it('a task option for a task that is not run (a typo) is refused, not dropped silently', async () => {
    const run = await runCli(['run', '--task', 'ruler', '--subtask', 'niah_single_1', '--length', '1k', '--count', '1',
      '--model', 'm', '--base-url', server.baseUrl, '--db', join(dir, 'o.db'), '--task-option', 'rulr.format=completion']);
    expectOneLineUsageError(run, /task option "rulr\.format=completion" is for "rulr", which is not among the tasks run \(ruler\)/);
    expect(server.requests).toHaveLength(0);
    const generate = await runCli(['generate', 'ruler', '--subtask', 'niah_single_1', '--length', '1k', '--option', 'mrcr.path=x.parquet']);
    expectOneLineUsageError(generate, /task option "mrcr\.path=x\.parquet" is for "mrcr"/);
  });

  it('score --input with a .gz that is not gzip is a one-line error', async () => {
    const input = join(dir, 'responses.jsonl.gz');
    writeFileSync(input, '{"response": "plain text, not gzip"}\n');
    expectOneLineUsageError(await runCli(['score', 'ruler', '--input', input]), /responses\.jsonl\.gz: not a readable gzip file/);
  });

  it('score mrcr with meta.needle_indices pointing past the conversation names the line instead of crashing', async () => {
    const generated = join(dir, 'mrcr.jsonl');
    expect((await runCli(['generate', 'mrcr', '--length', '4k', '--count', '1', '--out', generated])).code).toBe(0);
    const sample = JSON.parse(readFileSync(generated, 'utf8').trim());
    const input = join(dir, 'mrcr-bad.jsonl');
    writeFileSync(input, `${JSON.stringify({ ...sample, meta: { ...sample.meta, needle_indices: [999] }, response: sample.gold })}\n`);
    expectOneLineUsageError(await runCli(['score', 'mrcr', '--input', input]),
      /mrcr-bad\.jsonl: sample 1: MRCR sample .*needle_indices entry 999 has no reply/);
  });
});
