import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type TextTokenizer } from '../../src/tokenize/tokenizer.js';
import { mrcrSampleFromInput, mrcrTask, sampleToOfficialRow } from '../../src/tasks/mrcr/index.js';
import { gradeMrcr, normalizeResponse, officialGrade } from '../../src/tasks/mrcr/grade.js';
import { sequenceMatcherRatio } from '../../src/tasks/mrcr/sequence-matcher.js';
import type { Sample } from '../../src/tasks/types.js';

const NONCE = 'mWEa9DrPT3';
const TARGET = '**Verse 1** 🔬 Exciting tapirs wander through the misty rainforest at dawn.';
const ANSWER = NONCE + TARGET;

describe('official strict grade', () => {
  it('is the ratio of the rests when the raw response starts with the nonce', () => {
    expect(officialGrade(ANSWER, ANSWER, NONCE)).toBe(1);
    const response = `${NONCE}**Verse 1** 🔬 Exciting tapirs wander through the rainforest.`;
    // a = response rest, b = answer rest (argument order matters once len(b) >= 200).
    expect(officialGrade(response, ANSWER, NONCE)).toBe(sequenceMatcherRatio(response.slice(10), TARGET));
    // CPython: SequenceMatcher(None, "🔬 Exciting", "🔬 Exciting!").ratio()
    expect(officialGrade(`${NONCE}🔬 Exciting`, `${NONCE}🔬 Exciting!`, NONCE)).toBe(0.9523809523809523);
  });

  it('scores 0 without the exact, case-sensitive prefix on the raw response', () => {
    expect(officialGrade(TARGET, ANSWER, NONCE)).toBe(0);
    expect(officialGrade(` ${ANSWER}`, ANSWER, NONCE)).toBe(0);
    expect(officialGrade(NONCE.toLowerCase() + TARGET, ANSWER, NONCE)).toBe(0);
    expect(officialGrade(`\uFEFF${ANSWER}`, ANSWER, NONCE)).toBe(0);
  });

  it('strips the nonce once only', () => {
    const doubled = NONCE + NONCE + TARGET;
    expect(officialGrade(doubled, ANSWER, NONCE)).toBe(sequenceMatcherRatio(NONCE + TARGET, TARGET));
    expect(officialGrade(doubled, ANSWER, NONCE)).toBeLessThan(1);
  });

  it('compares code points as they are, with no normalisation (values from CPython 3.11)', () => {
    // Both rests empty: ratio() is 1.0; an empty response rest against a non-empty answer is 0.0.
    expect(officialGrade(NONCE, NONCE, NONCE)).toBe(1);
    expect(officialGrade(NONCE, `${NONCE}x`, NONCE)).toBe(0);
    // NFD "e + U+0301" against NFC "é" shares no code point; CRLF against LF is not folded.
    expect(officialGrade(`${NONCE}e\u0301`, `${NONCE}\u00e9`, NONCE)).toBe(0);
    expect(officialGrade(`${NONCE}a\r\nb`, `${NONCE}a\nb`, NONCE)).toBe(0.8571428571428571);
  });
});

describe('diagnostics', () => {
  it('normalizes reasoning blocks, BOM, zero-width and leading whitespace only in the normalized score', () => {
    expect(normalizeResponse(`<think>the 2nd one</think>\n\n\uFEFF\u200B ${ANSWER}`)).toBe(ANSWER);
    const g = gradeMrcr({ response: `<think>hmm</think>\n${ANSWER}`, answer: ANSWER, nonce: NONCE });
    expect(g).toMatchObject({ strict: 0, normalized: 1, prefix_missing: true, exact: false, picked_right_needle: null });
  });

  it('tells whether the response copied the right needle or another one', () => {
    const needleReplies = ['A first poem about tapirs, short and bright.', TARGET, 'A third, completely different text about rivers.'];
    const right = gradeMrcr({ response: ANSWER, answer: ANSWER, nonce: NONCE, needleReplies, targetNeedle: 1 });
    expect(right).toMatchObject({ strict: 1, exact: true, picked_right_needle: true, prefix_missing: false });
    const wrong = gradeMrcr({ response: NONCE + needleReplies[0], answer: ANSWER, nonce: NONCE, needleReplies, targetNeedle: 1 });
    expect(wrong.picked_right_needle).toBe(false);
    expect(wrong.exact).toBe(false);
    expect(wrong.strict).toBeLessThan(1);
  });
});

describe('mrcrTask.score on generated samples and official rows', () => {
  let o200k: TextTokenizer;
  let sample: Sample;
  beforeAll(async () => {
    o200k = await loadTokenizer('o200k_base');
    [sample] = await mrcrTask.generate({ needles: 4, length: 8192, seed: 9, count: 1 });
  });

  it('gives 1 to the gold answer, 0 to a missing prefix, with every diagnostic in metrics', () => {
    const gold = String(sample.gold);
    expect(mrcrTask.score(sample, gold)).toEqual({
      score: 1, metrics: { strict: 1, normalized: 1, prefix_missing: false, exact: true, picked_right_needle: true },
    });
    const nonce = sample.meta.random_string_to_prepend as string;
    const bare = mrcrTask.score(sample, gold.slice(nonce.length));
    expect(bare.score).toBe(0);
    expect(bare.metrics).toMatchObject({ prefix_missing: true, normalized: 0, picked_right_needle: true });
  });

  it('accepts an official row with a response, as `ctxbench score mrcr` reads it', () => {
    const row = { ...sampleToOfficialRow(sample), n_tokens: undefined } as unknown as Record<string, unknown>;
    const wrongNeedle = sample.messages![(sample.meta.needle_indices as number[]).find((k) => k !== sample.meta.desired_msg_index)! + 1].content;
    const response = (sample.meta.random_string_to_prepend as string) + wrongNeedle;
    const direct = mrcrTask.score(row as never, response);
    const converted = mrcrSampleFromInput(row, o200k);
    expect(mrcrTask.score(converted, response)).toEqual(direct);
    expect(direct.metrics.picked_right_needle).toBe(false);
    expect(converted.n_tokens).toBe(sample.n_tokens);
    expect(converted.meta.bin).toBe(sample.meta.bin);
    // A carried n_tokens is used instead of recounting.
    expect(mrcrSampleFromInput({ ...row, n_tokens: 9000 }, o200k).meta.bin).toBe('16k');
  });

  it('rejects a broken row in one line that says why', () => {
    const row = { ...sampleToOfficialRow(sample), answer: 'nope' } as unknown as Record<string, unknown>;
    expect(() => mrcrSampleFromInput(row, o200k, 6)).toThrow(/^line 7: invalid MRCR row: answer is not random_string_to_prepend/);
    expect(() => mrcrSampleFromInput({ foo: 1 }, o200k)).toThrow(/neither an MRCR sample/);
    expect(() => mrcrTask.score({ id: 'x' } as never, 'r')).toThrow(/lacks random_string_to_prepend/);
  });
});
