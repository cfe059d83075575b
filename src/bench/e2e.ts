// End-to-end speed through the Engine with seeded random weights: prefill tok/s, TTFT and TPOT per prompt
// length, for a shape and its all-MLA twin (same sizes, every layer MLA), so the hybrid's gain is measured.
import { Engine } from '../engine/engine.js';
import type { KimiConfig } from '../engine/checkpoint.js';
import { RANDOM_SHAPES } from '../engine/models/kimi-linear-shapes.js';
import { parseKimiConfig } from '../engine/loader/config.js';

export interface E2eOptions {
  /** Matmul weight storage (default f16). */
  weights?: 'f16' | 'q8';
  /** A RANDOM_SHAPES name; its twin is measured too. */
  shape: string;
  /** Routed experts kept (layer shapes unchanged); default the shape's own. */
  experts?: number;
  lengths: number[];
  decodeTokens: number;
  /** Skip a length whose predicted prefill (quadratic from the last one) exceeds this. */
  maxSecondsPerCase: number;
  log?: (line: string) => void;
}

export interface E2eResult {
  model: string;
  length: number;
  prefillTokPerS: number;
  ttftMs: number;
  tpotMs: number | null;
  tpotP50Ms: number | null;
  kvCacheBytes: number;
  kdaStateBytes: number;
  peakArenaBytes: number;
  weightsDtype: 'f16' | 'q8';
  decodeTokens: number;
}

/** The twin of a shape: its all-MLA twin (`<shape>-mla`), or the hybrid for an `-mla` shape. */
export function twinShapeName(shape: string): string {
  return shape.endsWith('-mla') ? shape.slice(0, -4) : `${shape}-mla`;
}

/** The shape's config and the same config with every layer MLA (a hybrid's twin) or the hybrid (an MLA's twin). */
export function shapeAndTwin(shape: string, experts?: number): { name: string; config: KimiConfig }[] {
  const make = RANDOM_SHAPES[shape];
  if (!make) throw new Error(`unknown shape "${shape}" (known: ${Object.keys(RANDOM_SHAPES).join(', ')})`);
  const base = make();
  const twinName = twinShapeName(shape);
  const twin = RANDOM_SHAPES[twinName]?.() ?? allMla(base);
  return [[shape, base], [twinName, twin]].map(([name, raw]) => {
    const r = raw as Record<string, unknown>;
    if (experts !== undefined) r.num_experts = experts;
    return { name: name as string, config: parseKimiConfig(r, `shape ${name as string}`) };
  });
}

function allMla(raw: Record<string, unknown>): Record<string, unknown> {
  const layers = raw.num_hidden_layers as number;
  const lac = raw.linear_attn_config as Record<string, unknown>;
  return { ...raw, linear_attn_config: { ...lac, kda_layers: [], full_attn_layers: Array.from({ length: layers }, (_, i) => i + 1) } };
}

/** Deterministic prompt ids in the vocabulary (content does not change speed; length does). */
function promptIds(length: number, vocab: number): number[] {
  const ids = new Array<number>(length);
  let s = 12345;
  for (let i = 0; i < length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    ids[i] = s % Math.max(1, vocab - 1);
  }
  return ids;
}

export async function runE2e(opts: E2eOptions): Promise<E2eResult[]> {
  const log = opts.log ?? (() => undefined);
  const results: E2eResult[] = [];
  for (const { name, config } of shapeAndTwin(opts.shape, opts.experts)) {
    const engine = await Engine.load({ randomConfig: config, seed: 7 }, { matmulDtype: opts.weights ?? 'f16', warmupPiece: true });
    try {
      let last: { length: number; seconds: number } | undefined;
      for (const length of [...opts.lengths].sort((a, b) => a - b)) {
        const predicted = last ? last.seconds * (length / last.length) ** 2 : 0;
        if (predicted > opts.maxSecondsPerCase) {
          log(`e2e ${name} ${length}: skipped (predicted prefill ${predicted.toFixed(0)} s > ${opts.maxSecondsPerCase} s)`);
          continue;
        }
        try {
          const r = await engine.generate(promptIds(length, config.vocabSize), { maxTokens: opts.decodeTokens, temperature: 0, stopIds: [] });
          const s = r.stats;
          // Random weights may emit eos early; TPOT then covers fewer steps (stated in the row's params).
          results.push({
            model: name, length, prefillTokPerS: s.prefillTokPerS, ttftMs: s.ttftMs, tpotMs: s.tpotMeanMs, tpotP50Ms: s.tpotP50Ms,
            kvCacheBytes: s.kvCacheBytes, kdaStateBytes: s.kdaStateBytes, peakArenaBytes: s.peakArenaBytes, weightsDtype: opts.weights ?? 'f16', decodeTokens: s.decodeTokens,
          });
          log(`e2e ${name} ${length}: prefill ${s.prefillTokPerS.toFixed(0)} tok/s, TPOT ${s.tpotMeanMs?.toFixed(2) ?? '-'} ms (${s.decodeTokens} tokens)`);
          last = { length, seconds: s.ttftMs / 1000 };
        } catch (err) {
          log(`e2e ${name} ${length}: failed: ${(err as Error).message.split('\n')[0]}`);
          break;
        }
      }
    } finally {
      await engine.close();
    }
  }
  return results;
}
