// Per-sample scoring and per-category aggregation for MMLU-Pro (tasks-spec §3.4).
// Primary: acc_strict (no extracted letter = wrong). acc_official reproduces the TIGER local script's random guess.
import { TaskInputError, type AggregateRow, type Sample, type SampleScore, type ScoredSample, type TaskAggregate } from '../types.js';
import { ANSWER_LETTERS } from './dataset.js';
import { extractAnswer, extractLmEval, stripThinking, textForExtraction, type ExtractionLevel } from './extract.js';
import { PythonRandom } from './python-random.js';

/** `random.seed(12345)` in every TIGER evaluation script. */
export const OFFICIAL_GUESS_SEED = 12345;

export interface MmluProGold {
  answer: string;
  answer_index: number;
}

interface GradedFields {
  gold: MmluProGold;
  nOptions: number;
  format: string;
}

function gradedFields(sample: Sample): GradedFields {
  const gold = sample.gold as Partial<MmluProGold> | null;
  const nOptions = sample.meta.n_options;
  if (!gold || typeof gold.answer !== 'string' || !ANSWER_LETTERS.includes(gold.answer) || gold.answer.length !== 1 ||
      !Number.isInteger(gold.answer_index) || (gold.answer_index as number) < 0) {
    throw new TaskInputError(`mmlu-pro sample ${sample.id}: gold must be {answer: "A".."J", answer_index: int ≥ 0}`);
  }
  if (typeof nOptions !== 'number' || !Number.isInteger(nOptions) || nOptions < 1) {
    throw new TaskInputError(`mmlu-pro sample ${sample.id}: meta.n_options must be a positive integer`);
  }
  return { gold: gold as MmluProGold, nOptions, format: String(sample.meta.format ?? 'local') };
}

/**
 * The guess a null prediction gets when the generator is re-seeded before every draw, as
 * evaluate_from_local.py did until commit 996df13 (2025-02-23): the first `randint(0, n - 1)` after seeding.
 */
export function reseededGuess(nOptions: number): number {
  return new PythonRandom(OFFICIAL_GUESS_SEED).randint(0, nOptions - 1);
}

export function scoreSample(sample: Sample, response: string): SampleScore {
  const { gold, nOptions, format } = gradedFields(sample);
  // evaluate_from_api.py removes "**" before extracting; the local and lm-eval references do not.
  const scoredText = textForExtraction(response, format === 'api');
  const { pred, level } = extractAnswer(scoredText);
  const strict = pred !== null && pred === gold.answer ? 1 : 0;
  const official = pred !== null ? strict : reseededGuess(nOptions) === gold.answer_index ? 1 : 0;
  const lmEvalExactMatch = extractLmEval(stripThinking(response)) === gold.answer ? 1 : 0;
  const metrics: Record<string, unknown> = {
    pred,
    level,
    strict,
    official,
    lm_eval_exact_match: lmEvalExactMatch,
  };
  if (scoredText !== response) metrics.scored_text = scoredText;
  return { score: strict, metrics };
}

interface Graded {
  category: string;
  order: number;
  questionId: number;
  pred: string | null;
  level: ExtractionLevel | null;
  strict: number;
  officialPerQuestion: number;
  lmEval: number;
  nOptions: number;
  answerIndex: number;
}

function graded(scored: ScoredSample): Graded {
  const { gold, nOptions } = gradedFields(scored.sample);
  const metrics = 'pred' in scored.metrics ? scored.metrics : scoreSample(scored.sample, scored.response ?? '').metrics;
  const meta = scored.sample.meta;
  return {
    category: scored.sample.subtask,
    order: typeof meta.row_index === 'number' ? meta.row_index : Number(meta.question_id ?? 0),
    questionId: Number(meta.question_id ?? 0),
    pred: (metrics.pred as string | null) ?? null,
    level: (metrics.level as ExtractionLevel | null) ?? null,
    strict: Number(metrics.strict ?? scored.score ?? 0),
    officialPerQuestion: Number(metrics.official ?? 0),
    lmEval: Number(metrics.lm_eval_exact_match ?? 0),
    nOptions,
    answerIndex: gold.answer_index,
  };
}

/**
 * The current local script (996df13 onward): seed once per run, then categories in sorted order, questions in
 * dataset order; `save_res` runs twice per category, each pass drawing for every null prediction, and the second
 * pass is the one reported. Returns the official correct flag per question.
 */
export function officialRunCorrect(byCategory: Map<string, Graded[]>): Map<Graded, number> {
  const rng = new PythonRandom(OFFICIAL_GUESS_SEED);
  const correct = new Map<Graded, number>();
  for (const category of [...byCategory.keys()].sort(comparePythonStrings)) {
    const items = byCategory.get(category) ?? [];
    for (let pass = 0; pass < 2; pass++) {
      for (const item of items) {
        if (item.pred !== null) {
          correct.set(item, item.strict);
        } else {
          const guess = rng.randint(0, item.nOptions - 1);
          correct.set(item, guess === item.answerIndex ? 1 : 0);
        }
      }
    }
  }
  return correct;
}

/** Python sorts str by code point; JS `<` compares UTF-16 units (they differ only above U+FFFF). */
function comparePythonStrings(a: string, b: string): number {
  const left = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const right = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(left.length, right.length); i++) if (left[i] !== right[i]) return left[i] - right[i];
  return left.length - right.length;
}

function mean(values: number[]): number | null {
  return values.length === 0 ? null : values.reduce((sum, v) => sum + v, 0) / values.length;
}

function row(group: Record<string, string>, n: number, items: Graded[], official: Map<Graded, number>): AggregateRow {
  const rate = (test: (item: Graded) => boolean) => mean(items.map((item) => (test(item) ? 1 : 0)));
  const accStrict = mean(items.map((item) => item.strict));
  return {
    group,
    n,
    n_errors: n - items.length,
    score: accStrict,
    metrics: {
      n_scored: items.length,
      acc_strict: accStrict,
      acc_official: mean(items.map((item) => official.get(item) ?? 0)),
      acc_official_reseeded: mean(items.map((item) => item.officialPerQuestion)),
      none_rate: rate((item) => item.pred === null),
      level1_rate: rate((item) => item.level === 1),
      level2_rate: rate((item) => item.level === 2),
      level3_rate: rate((item) => item.level === 3),
      lm_eval_exact_match: mean(items.map((item) => item.lmEval)),
    },
  };
}

/** Per category and overall (a micro-average over questions, as every reference reports). Errors count apart. */
export function aggregateScores(scored: ScoredSample[]): TaskAggregate {
  const byCategory = new Map<string, Graded[]>();
  // Scored questions plus empty responses: the reference extracts None from an empty response and draws a
  // guess for it, so it takes its place in the random stream (and every later draw stays aligned) while
  // still counting as an error here, never as a score.
  const draws = new Map<string, Graded[]>();
  const totals = new Map<string, number>();
  const all: Graded[] = [];
  const push = (map: Map<string, Graded[]>, category: string, g: Graded) => {
    const list = map.get(category) ?? [];
    list.push(g);
    map.set(category, list);
  };
  for (const item of scored) {
    const category = item.sample.subtask;
    totals.set(category, (totals.get(category) ?? 0) + 1);
    if (item.error_kind === 'empty' && typeof item.response === 'string') {
      push(draws, category, graded({ ...item, metrics: {} }));
      continue;
    }
    if (item.error_kind !== null || item.response === null) continue;
    const g = graded(item);
    all.push(g);
    push(byCategory, category, g);
    push(draws, category, g);
  }
  const byOrder = (a: Graded, b: Graded) => a.order - b.order || a.questionId - b.questionId;
  for (const list of byCategory.values()) list.sort(byOrder);
  for (const list of draws.values()) list.sort(byOrder);
  const official = officialRunCorrect(draws);
  const rows = [...totals.keys()].sort(comparePythonStrings)
    .map((category) => row({ category }, totals.get(category) ?? 0, byCategory.get(category) ?? [], official));
  return {
    task: 'mmlu-pro',
    primary_metric: 'acc_strict',
    overall: row({}, scored.length, all, official),
    rows,
  };
}
