// MMLU-Pro (TIGER-Lab): 5-shot chain-of-thought multiple choice over 14 categories, with the reference prompts,
// the official three-level answer extraction, and strict / official (random-guess) accuracy.
import { loadTokenizer, type TextTokenizer } from '../../tokenize/tokenizer.js';
import { TaskInputError, type GenerateSpec, type Sample, type TaskModule } from '../types.js';
import { CATEGORIES, loadSplit, visibleOptions, type MmluProRow } from './dataset.js';
import { parseOptions, type MmluProOptions } from './options.js';
import { FORMAT_DEFAULTS, renderPrompt } from './prompts.js';
import { aggregateScores, scoreSample } from './scoring.js';

export { mmluProStats, formatStats } from './dataset.js';

/** Bumped whenever prompts, extraction or scoring change in a way that moves scores. */
export const MMLU_PRO_TASK_VERSION = '1';

/** Reference tokenizer for counting when the spec names none (the harness default). */
const DEFAULT_TOKENIZER = 'o200k_base';

/**
 * Which questions `count` selects, deterministically and independent of the seed: each category gets a share
 * proportional to its size (largest remainder, ties to the earlier category), taken evenly spaced through the
 * category in dataset order (index ⌊j·size/share⌋), so a small count still spans every category and source.
 * Count ≥ the pool size selects everything. Output order: categories sorted, then dataset order, the order the
 * local reference evaluates in.
 */
export function selectQuestions(byCategory: Map<string, MmluProRow[]>, count: number): Map<string, MmluProRow[]> {
  const categories = [...byCategory.keys()].sort();
  const total = categories.reduce((sum, c) => sum + (byCategory.get(c)?.length ?? 0), 0);
  if (count >= total) return new Map(categories.map((c) => [c, byCategory.get(c) ?? []]));
  const exact = categories.map((c) => (count * (byCategory.get(c)?.length ?? 0)) / total);
  const shares = exact.map(Math.floor);
  let left = count - shares.reduce((sum, s) => sum + s, 0);
  const byRemainder = categories.map((_, i) => i).sort((a, b) => (exact[b] - shares[b]) - (exact[a] - shares[a]) || a - b);
  for (const i of byRemainder) {
    if (left === 0) break;
    shares[i]++;
    left--;
  }
  const selected = new Map<string, MmluProRow[]>();
  categories.forEach((category, i) => {
    const rows = byCategory.get(category) ?? [];
    const picks = Array.from({ length: shares[i] }, (_, j) => rows[Math.floor((j * rows.length) / shares[i])]);
    if (picks.length > 0) selected.set(category, picks);
  });
  return selected;
}

function groupByCategory(rows: MmluProRow[], wanted: string[] | null): Map<string, MmluProRow[]> {
  const groups = new Map<string, MmluProRow[]>();
  for (const row of rows) {
    if (wanted && !wanted.includes(row.category)) continue;
    const list = groups.get(row.category) ?? [];
    list.push(row);
    groups.set(row.category, list);
  }
  return groups;
}

function checkCount(count: number): void {
  if (!(count === Infinity || (Number.isSafeInteger(count) && count > 0))) {
    throw new TaskInputError(`mmlu-pro: count must be a positive integer (got ${count})`);
  }
}

async function generate(spec: GenerateSpec): Promise<Sample[]> {
  checkCount(spec.count);
  const options: MmluProOptions = parseOptions(spec.options, spec.subtask, spec.length);
  const [evaluated, fewShot] = await Promise.all([
    loadSplit(options.split, options.dataPath),
    loadSplit('validation', options.dataPath),
  ]);
  const present = new Set(evaluated.rows.map((row) => row.category));
  for (const category of options.categories ?? []) {
    if (!present.has(category)) {
      throw new TaskInputError(`mmlu-pro: unknown category "${category}" (known: ${[...present].sort().join(', ')})`);
    }
  }
  const rowIndex = new Map(evaluated.rows.map((row, i) => [row, i]));
  const selected = selectQuestions(groupByCategory(evaluated.rows, options.categories), spec.count);
  const pools = groupByCategory(fewShot.rows, null);
  const tokenizer: TextTokenizer = spec.tokenizer ?? (await loadTokenizer(DEFAULT_TOKENIZER));
  const countTokens = (text: string) => tokenizer.count(text) + options.addedTokens;
  const defaults = FORMAT_DEFAULTS[options.format];

  const samples: Sample[] = [];
  for (const [category, rows] of selected) {
    for (const question of rows) {
      // Evaluating the validation split itself: a question never serves as its own shot (lm-eval's rule).
      const pool = (pools.get(category) ?? []).filter((shot) => shot.question_id !== question.question_id || options.split === 'test');
      const rendered = renderPrompt({
        question, pool, shots: options.shots, format: options.format, render: options.render, keepNa: options.keepNa,
        budget: options.format === 'local'
          ? { countTokens, maxModelLength: options.maxModelLength, maxNewTokens: options.maxNewTokens }
          : undefined,
      });
      samples.push({
        id: `mmlu-pro:${options.format}:${options.split}:${question.question_id}`,
        task: 'mmlu-pro',
        subtask: category,
        seed: spec.seed,
        target_length: options.format === 'local' ? options.maxModelLength : null,
        n_tokens: countTokens(rendered.countedText),
        tokenizer: tokenizer.id,
        ...(rendered.messages ? { messages: rendered.messages } : { prompt: rendered.prompt }),
        gold: { answer: question.answer, answer_index: question.answer_index },
        meta: {
          max_new_tokens: options.maxNewTokens,
          stop: [...defaults.stop],
          task_version: MMLU_PRO_TASK_VERSION,
          format: options.format,
          render: options.render,
          split: options.split,
          question_id: question.question_id,
          row_index: rowIndex.get(question) ?? -1,
          src: question.src,
          n_options: visibleOptions(question, options.keepNa).length,
          keep_na: options.keepNa,
          shots: rendered.shots,
          // false: even zero shots leave no room for max_new_tokens within max_model_length (local format only).
          fits_budget: rendered.fits,
          dataset_source: evaluated.source,
          dataset_revision: evaluated.revision,
        },
      });
    }
  }
  return samples;
}

export const mmluProTask: TaskModule = {
  name: 'mmlu-pro',
  description: 'MMLU-Pro (TIGER-Lab): 12,032 ten-option questions, 5-shot CoT, official extraction; strict and official accuracy',
  subtasks: CATEGORIES,
  defaultLengths: [],
  generate,
  score: scoreSample,
  aggregate: aggregateScores,
  datasetStats: async (options) => {
    const { mmluProStats, formatStats } = await import('./dataset.js');
    // Parsed like generate's options: kebab-case keys work and an unknown key is an error, not the bundled data.
    const { dataPath } = parseOptions(options);
    return formatStats(await mmluProStats({ data_path: dataPath }));
  },
};
