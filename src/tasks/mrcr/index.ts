// OpenAI MRCR as a ctxbench task: seeded generator or official parquet loader, the official strict grader
// with diagnostics, and Context Arena aggregation. See docs/task-mrcr.md.
import type { GenerateSpec, Sample, SampleScore, ScoredSample, TaskModule } from '../types.js';
import { TaskInputError } from '../types.js';
import { loadTokenizer, type TextTokenizer } from '../../tokenize/tokenizer.js';
import { aggregateMrcr } from './aggregate.js';
import { BIN_EDGES, officialBin } from './bins.js';
import { generateMrcrSamples } from './generator.js';
import { gradeMrcr } from './grade.js';
import { MRCR_SUBTASKS, countPromptTokens, mrcrSampleFromInput as mrcrSampleFromInputSync } from './mrcr-sample.js';
import { checkOfficialRow } from './official-row.js';
import { loadOfficialMrcr } from './official-parquet.js';

export { mrcrSampleFromInput, sampleToOfficialRow } from './mrcr-sample.js';
export { sequenceMatcherRatio } from './sequence-matcher.js';

/** Typed GenerateSpec.options for MRCR. */
export interface MrcrOptions {
  /** 'generated' (default) or 'official' (parquet shards at `path`). */
  source?: 'generated' | 'official';
  /** Parquet file(s) of openai/mrcr for source 'official'. */
  path?: string | string[];
  /** Dataset revision the parquet came from, recorded per sample. */
  revision?: string;
  /** Tokenizer (id or path) for an extra re-bin, stored apart from the official o200k bin. */
  rebinTokenizer?: string;
  /** Where rejected official rows are reported (default: one line each on stderr). */
  onReject?: (rejected: { file: string; row: number; reason: string }) => void;
}

function readOptions(raw: Record<string, unknown> | undefined): MrcrOptions {
  const o = raw ?? {};
  const known = ['source', 'path', 'revision', 'rebinTokenizer', 'onReject'];
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new TaskInputError(`unknown MRCR option(s): ${unknown.join(', ')} (known: ${known.join(', ')})`);
  if (o.source !== undefined && o.source !== 'generated' && o.source !== 'official') {
    throw new TaskInputError(`MRCR source must be "generated" or "official" (got ${String(o.source)})`);
  }
  return o as MrcrOptions;
}

function needlesFrom(spec: GenerateSpec): number | undefined {
  if (spec.subtask !== undefined) {
    if (!(MRCR_SUBTASKS as readonly string[]).includes(spec.subtask)) {
      throw new TaskInputError(`unknown MRCR subtask "${spec.subtask}" (known: ${MRCR_SUBTASKS.join(', ')})`);
    }
    const fromSubtask = Number.parseInt(spec.subtask, 10);
    if (spec.needles !== undefined && spec.needles !== fromSubtask) {
      throw new TaskInputError(`--needles ${spec.needles} contradicts subtask ${spec.subtask}`);
    }
    return fromSubtask;
  }
  return spec.needles;
}

/** Adds the re-bin under the tested model's tokenizer (whole conversation counted once), apart from `bin`. */
function addRebin(samples: Sample[], tokenizer: TextTokenizer): void {
  for (const s of samples) {
    const n = countPromptTokens(s.messages ?? [], tokenizer) + tokenizer.count(String(s.gold));
    s.meta.rebin = { tokenizer: tokenizer.id, n_tokens: n, bin: officialBin(n) };
  }
}

async function generate(spec: GenerateSpec): Promise<Sample[]> {
  const options = readOptions(spec.options);
  const o200k = await loadTokenizer('o200k_base');
  const needles = needlesFrom(spec);
  const rebinId = options.rebinTokenizer ?? (spec.tokenizer && spec.tokenizer.id !== 'o200k_base' ? spec.tokenizer.id : undefined);
  let samples: Sample[];
  if (options.source === 'official') {
    const paths = typeof options.path === 'string' ? [options.path] : options.path;
    if (!paths || paths.length === 0) throw new TaskInputError('MRCR source "official" needs options.path (the openai/mrcr parquet shard(s))');
    let bin;
    if (spec.length !== undefined) {
      bin = officialBin(spec.length);
      if (!bin) throw new TaskInputError(`length ${spec.length} is outside the official bins (${BIN_EDGES[0]}..${BIN_EDGES[BIN_EDGES.length - 1]})`);
    }
    const onReject = options.onReject
      ?? ((r) => process.stderr.write(`ctxbench: mrcr: skipped row ${r.row} of ${r.file}: ${r.reason}\n`));
    const result = await loadOfficialMrcr({
      paths, tokenizer: o200k, needles, bin, limit: spec.count, revision: options.revision ?? null, onReject,
    });
    samples = result.samples;
  } else {
    if (spec.length === undefined) throw new TaskInputError('MRCR generation needs a target length (e.g. --length 128k)');
    samples = generateMrcrSamples({ needles: needles ?? 2, length: spec.length, seed: spec.seed, count: spec.count, tokenizer: o200k });
  }
  if (rebinId) addRebin(samples, spec.tokenizer?.id === rebinId ? spec.tokenizer : await loadTokenizer(rebinId));
  return samples;
}

/** The reply after each needle request; indices that do not point at a reply are a broken input line, not a crash. */
function needleRepliesOf(sample: Sample, indices: unknown[]): string[] {
  const messages = sample.messages!;
  return indices.map((k) => {
    const reply = Number.isInteger(k) && (k as number) >= 0 ? messages[(k as number) + 1] : undefined;
    if (typeof reply?.content !== 'string') {
      throw new TaskInputError(`MRCR sample ${sample.id ?? ''}: meta.needle_indices entry ${JSON.stringify(k)} has no reply message after it`);
    }
    return reply.content;
  });
}

/** Grades a generated/official Sample, or an official row's own fields passed as the sample. */
function score(sample: Sample, response: string): SampleScore {
  const raw = sample as unknown as Record<string, unknown>;
  const meta = (sample.meta ?? {}) as Record<string, unknown>;
  const nonce = meta.random_string_to_prepend ?? raw.random_string_to_prepend;
  const answer = sample.gold ?? raw.answer;
  if (typeof nonce !== 'string' || typeof answer !== 'string') {
    throw new TaskInputError(`MRCR sample ${sample.id ?? ''} lacks random_string_to_prepend or the answer`);
  }
  let needleReplies: string[] | undefined;
  let targetNeedle: number | undefined;
  if (sample.messages && Array.isArray(meta.needle_indices) && typeof meta.target_needle === 'number') {
    needleReplies = needleRepliesOf(sample, meta.needle_indices as unknown[]);
    targetNeedle = meta.target_needle;
  } else if (typeof raw.prompt === 'string') {
    const check = checkOfficialRow(raw);
    if (check.ok) {
      needleReplies = check.row.needleIndices.map((k) => check.row.messages[k + 1].content);
      targetNeedle = check.row.targetNeedle;
    }
  }
  const grade = gradeMrcr({ response, answer, nonce, needleReplies, targetNeedle });
  return { score: grade.strict, metrics: { ...grade } };
}

/**
 * One `score --input` line (a generated sample, or an official row's own fields) → a checked Sample with
 * its o200k bin (the TaskModule `sampleFromInput` hook).
 */
async function sampleFromInput(line: Record<string, unknown>, lineIndex = 0): Promise<Sample> {
  return mrcrSampleFromInputSync(line, await loadTokenizer('o200k_base'), lineIndex);
}

export const mrcrTask: TaskModule = {
  name: 'mrcr',
  description: 'OpenAI MRCR: reproduce the i-th of 2/4/8 identical requests in a long chat (official strict SequenceMatcher grade)',
  subtasks: MRCR_SUBTASKS,
  defaultLengths: BIN_EDGES.slice(1),
  generate,
  score,
  aggregate: (scored: ScoredSample[]) => aggregateMrcr(scored),
  sampleFromInput,
};
