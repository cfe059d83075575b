// The generate and score contracts other tools depend on, through the real CLI.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const CONTRACT_FIELDS = ['id', 'task', 'subtask', 'seed', 'target_length', 'n_tokens', 'tokenizer', 'messages', 'gold', 'meta'];

describe('ctxbench generate / score', () => {
  it('generate ruler --subtask niah_single_1 --length 8k writes one contract sample per line, deterministically', async () => {
    const out = join(dir, 'niah.jsonl');
    const result = await runCli(['generate', 'ruler', '--subtask', 'niah_single_1', '--length', '8k', '--count', '3', '--seed', '7', '--tokenizer', 'o200k_base', '--out', out]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/wrote 3 ruler samples/);
    const text = readFileSync(out, 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    for (const s of lines) {
      expect(Object.keys(s).slice(0, CONTRACT_FIELDS.length)).toEqual(CONTRACT_FIELDS);
      expect(s).toMatchObject({ task: 'ruler', subtask: 'niah_single_1', seed: 7, target_length: 8192, tokenizer: 'o200k_base' });
      expect(s.n_tokens).toBeGreaterThan(7000);
      expect(s.n_tokens).toBeLessThanOrEqual(8192);
      expect(s.messages[0].role).toBe('user');
      expect(s.gold).toHaveLength(1);
    }
    expect(new Set(lines.map((s) => s.id)).size).toBe(3);
    const again = join(dir, 'niah-again.jsonl');
    await runCli(['generate', 'ruler', '--subtask', 'niah_single_1', '--length', '8k', '--count', '3', '--seed', '7', '--out', again]);
    expect(readFileSync(again, 'utf8')).toBe(text);
  });

  it('score ruler --input adds score and metrics per line and prints exactly one JSON aggregate with --json', async () => {
    const samples = readFileSync(join(dir, 'niah.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const responses = [` ${samples[0].gold[0]}.`, 'I could not find it.', null];
    const input = join(dir, 'responses.jsonl');
    writeFileSync(input, samples.map((s, i) => JSON.stringify({ ...s, response: responses[i], ...(i === 2 ? { error_kind: 'timeout' } : {}) })).join('\n'));
    const out = join(dir, 'scored.jsonl');
    const result = await runCli(['score', 'ruler', '--input', input, '--out', out, '--json']);
    expect(result.code).toBe(0);
    const stdout = result.stdout.trim();
    expect(stdout.split('\n')).toHaveLength(1);
    const aggregate = JSON.parse(stdout);
    expect(aggregate.task).toBe('ruler');
    expect(aggregate.overall).toMatchObject({ n: 3, n_errors: 1 });
    expect(aggregate.overall.score).toBe(50); // RULER reports ×100: one right, one wrong, the timeout apart
    const scored = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(scored.map((s) => s.score)).toEqual([1, 0, null]);
    expect(scored[0].metrics.string_match_all).toBe(1);
    expect(scored[2].error_kind).toBe('timeout');
    expect(scored[1].id).toBe(samples[1].id);
    expect(scored[1].response).toBe('I could not find it.');
  });

  it('score accepts the official dataset\'s own rows (MRCR fields) plus response', async () => {
    // Official rows carry the conversation as a JSON string in `prompt` and the row fields at the top level.
    const generated = join(dir, 'mrcr-for-official.jsonl');
    expect((await runCli(['generate', 'mrcr', '--needles', '2', '--length', '8k', '--count', '2', '--seed', '5', '--out', generated])).code).toBe(0);
    const officialRows = readFileSync(generated, 'utf8').trim().split('\n').map((line, i) => {
      const sample = JSON.parse(line);
      const { random_string_to_prepend, n_needles, desired_msg_index, total_messages, n_chars } = sample.meta;
      return JSON.stringify({
        prompt: JSON.stringify(sample.messages), answer: sample.gold, random_string_to_prepend, n_needles,
        desired_msg_index, total_messages, n_chars, response: i === 0 ? sample.gold : 'Violets',
      });
    });
    const input = join(dir, 'mrcr-official.jsonl');
    writeFileSync(input, `${officialRows.join('\n')}\n`);
    const result = await runCli(['score', 'mrcr', '--input', input, '--json']);
    expect(result.code).toBe(0);
    const aggregate = JSON.parse(result.stdout);
    expect(aggregate).toMatchObject({ task: 'mrcr', overall: { n: 2, n_errors: 0, score: 0.5 } });
  });

  it('score rejects an official MRCR row that breaks the dataset\'s invariants, naming the line and the reason', async () => {
    const input = join(dir, 'mrcr-invalid.jsonl');
    writeFileSync(input, `${JSON.stringify({
      prompt: JSON.stringify([{ role: 'user', content: 'write a poem' }]), answer: 'k9Roses are red',
      random_string_to_prepend: 'k9', n_needles: 2, desired_msg_index: 1, total_messages: 2, n_chars: 12, response: 'x',
    })}\n`);
    const result = await runCli(['score', 'mrcr', '--input', input]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/sample 1: .*invalid MRCR row/);
  });

  it('score mrcr runs generated rows through the task\'s own input hook: bins come from o200k counts', async () => {
    const generated = join(dir, 'mrcr-generated.jsonl');
    const made = await runCli(['generate', 'mrcr', '--needles', '2', '--length', '8k', '--count', '2', '--seed', '3', '--out', generated]);
    expect(made.code).toBe(0);
    const rows = readFileSync(generated, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    rows[0].response = rows[0].gold;
    rows[1].response = 'not the reply';
    const input = join(dir, 'mrcr-responses.jsonl');
    writeFileSync(input, rows.map((row) => JSON.stringify(row)).join('\n'));
    const result = await runCli(['score', 'mrcr', '--input', input, '--json']);
    expect(result.code).toBe(0);
    const aggregate = JSON.parse(result.stdout);
    expect(aggregate.overall).toMatchObject({ n: 2, n_errors: 0, score: 0.5 });
    // Both rows land in the 8k bin (the hook recounts with o200k), not in "unbinned".
    const binned = aggregate.rows.filter((row: { group: Record<string, unknown> }) => row.group.bin !== undefined);
    expect(binned.map((row: { group: Record<string, unknown>; n: number }) => [row.group.bin, row.n])).toContainEqual(['8k', 2]);
  });

  it('generate mmlu-pro --stats prints the per-category counts of both splits', async () => {
    const result = await runCli(['generate', 'mmlu-pro', '--stats']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/test: 12032 rows/);
    expect(result.stdout).toMatch(/validation: 70 rows/);
    expect(result.stdout).toMatch(/biology\s+717/);
    const noStats = await runCli(['generate', 'ruler', '--stats']);
    expect(noStats.code).toBe(2);
    expect(noStats.stderr.trim().split('\n')).toHaveLength(1);
    // Options are parsed as generate parses them: kebab-case works, an unknown key is refused (never the bundled data).
    const kebab = await runCli(['generate', 'mmlu-pro', '--stats', '--option', `data-path=${join(dir, 'no-such-folder')}`]);
    expect([kebab.code, kebab.stderr]).toEqual([2, expect.stringMatching(/data_path .*no-such-folder is not a directory/)]);
    const unknown = await runCli(['generate', 'mmlu-pro', '--stats', '--option', 'datapath=x']);
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringMatching(/unknown option "datapath"/)]);
  });

  it('score prints a readable table without --json', async () => {
    const result = await runCli(['score', 'ruler', '--input', join(dir, 'responses.jsonl')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ruler \(/);
    expect(result.stdout).toMatch(/overall\s+50\.00\s+n=3\s+errors=1/);
  });

  it('bad input: one line on stderr, exit 2, nothing written', async () => {
    const broken = join(dir, 'broken.jsonl');
    writeFileSync(broken, '{"id": "a", "response": "x"}\n{not json\n');
    const noResponse = join(dir, 'no-response.jsonl');
    writeFileSync(noResponse, readFileSync(join(dir, 'niah.jsonl')));
    const cases: [string[], RegExp][] = [
      [['score', 'ruler', '--input', broken], /broken\.jsonl:2: not valid JSON/],
      [['score', 'ruler', '--input', noResponse], /no "response" field/],
      [['score', 'ruler', '--input', join(dir, 'missing.jsonl')], /cannot read .*missing\.jsonl: ENOENT/],
      [['score', 'nope', '--input', broken], /unknown task "nope"/],
      [['generate', 'ruler', '--subtask', 'niah_single_1'], /target length is required/],
      [['generate', 'ruler', '--subtask', 'bogus', '--length', '4k'], /unknown subtask "bogus"/],
      [['generate', 'ruler', '--subtask', 'niah_single_1', '--length', '4k', '--out', join(dir, 'no', 'such', 'dir.jsonl')], /cannot write/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stdout).toBe('');
    }
  });

  it('every subcommand answers --help', async () => {
    for (const command of ['run', 'generate', 'score']) {
      const result = await runCli([command, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`Usage: ctxbench ${command}`));
    }
  });
});
