// `ctxbench run --default` (what `npm start` runs): a short offline evaluation of the bundled model on the
// built-in WebGPU engine. Short lengths and few samples so it finishes on a laptop-class GPU or lavapipe.
import { existsSync } from 'node:fs';
import type { RunPlanConfig } from './plan.js';
import { RunConfigError } from './plan.js';

export const DEFAULT_MODEL_DIR = 'models/ctxbench-hybrid';

export interface PresetRun {
  /** Run name in the store; rerunning `npm start` resumes these. */
  name: string;
  plan: RunPlanConfig;
  /** Generation budget override (the preset's only departure from the tasks' reference budgets). */
  maxTokens?: number;
}

// Sized with the bundled model's own tokenizer (as RULER sizes for the tested model), so "2k" means 2k of its tokens.
const common = { seed: 42, needles: null, tokenizer: DEFAULT_MODEL_DIR, backend: 'webgpu', taskOptions: {} } as const;

/**
 * Short enough for lavapipe (CPU) in a few minutes, long enough to show a length slope: the bundled models were
 * trained on 2k-token rows (stage 2; 4k in stage 1), so RULER at 1k/1.5k/2k (4k+ costs minutes per sample on lavapipe), one MRCR
 * conversation in the first official bin, and two MMLU-Pro questions with a 64-token budget (the reference's
 * 2048 would be most of the run on a CPU).
 */
export const DEFAULT_PRESET: PresetRun[] = [
  {
    name: 'default-ruler',
    plan: {
      ...common, models: [DEFAULT_MODEL_DIR], taskOptions: {}, tasks: ['ruler'], lengths: [1024, 1536, 2048], count: 2,
      subtasks: ['niah_single_1', 'niah_single_2', 'niah_multikey_1', 'vt'],
    },
  },
  {
    name: 'default-mrcr-2needle',
    plan: { ...common, models: [DEFAULT_MODEL_DIR], taskOptions: {}, tasks: ['mrcr'], subtasks: ['2needle'], lengths: [4096], count: 1 },
  },
  {
    name: 'default-mmlu-pro',
    plan: { ...common, models: [DEFAULT_MODEL_DIR], taskOptions: {}, tasks: ['mmlu-pro'], subtasks: ['math', 'history'], lengths: [], count: 1 },
    maxTokens: 64,
  },
];

/** The default evaluation needs the bundled model; say so in one line while it is absent. */
export function checkDefaultModel(): void {
  if (!existsSync(`${DEFAULT_MODEL_DIR}/config.json`)) {
    throw new RunConfigError(`the default evaluation needs the bundled model at ${DEFAULT_MODEL_DIR}/ (not present yet); run a backend explicitly, e.g. ctxbench run --task ruler --backend openai --model NAME --base-url URL`);
  }
}
