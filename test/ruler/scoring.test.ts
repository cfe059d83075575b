import { describe, expect, it } from 'vitest';
import { rulerTask } from '../../src/tasks/ruler/index.js';
import { postprocessPrediction, roundPercent, stringMatchAll, stringMatchPart, stripReasoning } from '../../src/tasks/ruler/scoring.js';
import { rulerHeadline } from '../../src/tasks/ruler/aggregate.js';
import type { Sample, ScoredSample } from '../../src/tasks/types.js';

describe('RULER post-processing (evaluate.py: strip, [\\x00-\\x1f] → \\n, strip)', () => {
  it('strips Python whitespace incl. NBSP and ideographic space, and maps control chars', () => {
    expect(postprocessPrediction('  \t 1234567 \n')).toBe('1234567');
    expect(postprocessPrediction('\u00a0\u3000answer\u2003')).toBe('answer');
    expect(postprocessPrediction('a\x00b\x1bc\td')).toBe('a\nb\nc\nd');
    expect(postprocessPrediction('\x01\x02 x \x03')).toBe('x');
    expect(postprocessPrediction('')).toBe('');
    expect(postprocessPrediction('\x7f')).toBe('\x7f'); // DEL is not in [\x00-\x1f]
  });
  it('matches python3 on the edges of str.isspace() (values from python3 3.11)', () => {
    // \x1c-\x1f and \x85 are Python whitespace: stripped at the ends.
    expect(postprocessPrediction(' \x1c\x1d\x1e\x1f x \x85')).toBe('x');
    // BOM, Mongolian vowel separator and zero-width space are not (JS trim() would drop the BOM).
    expect(postprocessPrediction('\ufeffx\ufeff')).toBe('\ufeffx\ufeff');
    expect(postprocessPrediction('\u180ex\u180e')).toBe('\u180ex\u180e');
    expect(postprocessPrediction('\u200bx\u200b')).toBe('\u200bx\u200b');
    // Inside the text, every control character becomes its own newline (\r\n → two).
    expect(postprocessPrediction('one\x0btwo')).toBe('one\ntwo');
    expect(postprocessPrediction('A\r\nB')).toBe('A\n\nB');
  });
});

describe('string_match_all / string_match_part', () => {
  it('is a case-insensitive substring fraction', () => {
    expect(stringMatchAll('The numbers are 1234567 and 7654321.', ['1234567', '7654321'])).toBe(1);
    expect(stringMatchAll('only 1234567', ['1234567', '7654321'])).toBe(0.5);
    expect(stringMatchAll('ZXCVB and qwert', ['zxcvb', 'QWERT', 'asdfg', 'hjklm'])).toBe(0.5);
    expect(stringMatchAll('', ['x'])).toBe(0);
    // Substring, not token match: a longer number containing the gold still counts (RULER's leniency).
    expect(stringMatchAll('12345678', ['1234567'])).toBe(1);
  });
  it('handles unicode case folding like Python lower()', () => {
    expect(stringMatchAll('ÉCOLE ΣΟΦΊΑ', ['école', 'σοφία'])).toBe(1);
    expect(stringMatchPart('Answer: STRASSE', ['strasse'])).toBe(1);
    // Final sigma: Python and JS both lower a word-final Σ to ς, so σ-spelled gold does not match.
    expect(stringMatchAll('ΟΔΟΣ', ['οδος', 'οδοσ'])).toBe(0.5);
  });
  it('treats gold strings literally (no regex): metacharacters match only themselves', () => {
    expect(stringMatchAll('it is a.b*c (x)', ['a.b*c', '(x)'])).toBe(1);
    expect(stringMatchAll('aXbc', ['a.b*c'])).toBe(0);
  });
  it('string_match_part is 1 if any gold matches', () => {
    expect(stringMatchPart('Paris, France', ['London', 'paris'])).toBe(1);
    expect(stringMatchPart('Berlin', ['London', 'Paris'])).toBe(0);
    expect(stringMatchPart('', ['x'])).toBe(0);
  });
  it('rounds ×100 to 2 places half-to-even on the binary value, like Python round()', () => {
    expect(roundPercent(1 / 3)).toBe(33.33);
    expect(roundPercent(2 / 3)).toBe(66.67);
    expect(roundPercent(0.02675)).toBe(2.67); // 2.675 is 2.67499… in binary: Python gives 2.67
    expect(roundPercent(0.00125)).toBe(0.12); // 0.125 exact: half-to-even
    expect(roundPercent(1)).toBe(100);
  });
});

describe('reasoning stripping', () => {
  it('removes closed and orphan-closed think blocks, and flags unclosed ones', () => {
    expect(stripReasoning('<think>1111111</think> 2222222')).toEqual({ text: ' 2222222', stripped: true, unclosed: false });
    expect(stripReasoning('plan 1111111</think>2222222').text).toBe('2222222');
    expect(stripReasoning('<think>never finished 1234567')).toEqual({ text: '', stripped: true, unclosed: true });
    expect(stripReasoning('plain')).toEqual({ text: 'plain', stripped: false, unclosed: false });
  });
});

function fakeSample(subtask: string, length: number, gold: string[]): Sample {
  return { id: `${subtask}/${length}`, task: 'ruler', subtask, seed: 0, target_length: length, n_tokens: null, tokenizer: null, gold, meta: {} };
}

describe('rulerTask.score', () => {
  it('uses string_match_all for niah and part for qa, after stripping reasoning', () => {
    const niah = fakeSample('niah_multivalue', 4096, ['1111111', '2222222']);
    expect(rulerTask.score(niah, '<think>1111111 2222222</think>\n1111111').score).toBe(0.5);
    const r = rulerTask.score(niah, '<think>1111111 2222222</think>\n1111111');
    expect(r.metrics.score_without_stripping).toBe(1);
    expect(r.metrics.reasoning_stripped).toBe(true);
    const qa = fakeSample('qa_1', 4096, ['Denver Broncos', 'Broncos']);
    expect(rulerTask.score(qa, ' the broncos\x00').score).toBe(1);
    expect(rulerTask.score(qa, '').metrics.empty).toBe(true);
  });
});

describe('RULER aggregation', () => {
  it('reproduces the README row for GPT-4-1106-preview (Avg 91.6, wAvg inc 89.0, dec 94.1, effective 64K)', () => {
    // NVIDIA/RULER README main table: 96.6, 96.3, 95.2, 93.2, 87.0, 81.2 at 4K…128K.
    const perLength = new Map([[4096, 96.6], [8192, 96.3], [16384, 95.2], [32768, 93.2], [65536, 87.0], [131072, 81.2]]);
    const h = rulerHeadline(perLength);
    expect(h.avg!.toFixed(1)).toBe('91.6');
    expect(h.wavg_inc!.toFixed(1)).toBe('89.0');
    expect(h.wavg_dec!.toFixed(1)).toBe('94.1');
    expect(h.effective_length).toBe(65536);
  });

  it('averages task scores per length, counts errors apart and nulls', () => {
    const scored: ScoredSample[] = [];
    const add = (subtask: string, length: number, score: number | null, error: ScoredSample['error_kind'] = null, response = 'x') =>
      scored.push({ sample: fakeSample(subtask, length, ['x']), response, error_kind: error, score, metrics: {} });
    add('niah_single_1', 4096, 1); add('niah_single_1', 4096, 0, null, '  '); add('niah_single_1', 4096, null, 'timeout', null as unknown as string);
    add('vt', 4096, 1); add('vt', 4096, 1);
    add('niah_single_1', 8192, 0);
    const agg = rulerTask.aggregate(scored);
    const cell = agg.rows.find((r) => r.group.subtask === 'niah_single_1' && r.group.length === 4096)!;
    expect(cell).toMatchObject({ n: 3, n_errors: 1, score: 50 });
    expect(cell.metrics.nulls).toBe(1);
    expect(cell.metrics.error_timeout).toBe(1);
    const len4k = agg.rows.find((r) => r.group.subtask === undefined && r.group.length === 4096)!;
    expect(len4k.score).toBe(75); // mean of 50 (niah_single_1) and 100 (vt)
    expect(agg.overall.metrics.avg).toBeNull(); // not all six standard lengths
    expect(agg.overall.metrics.effective_length).toBeNull(); // 75 and 0 are both ≤ 85.6
    expect(agg.overall.n_errors).toBe(1);
  });
});
