// Shared by the tensor-core KDA scan tests (split and f16 operands): prepared delta-rule inputs as the model makes
// them and one chunked prefill with a given scan, scratch and outputs poisoned with NaN.
import type { GpuContext } from '../../src/engine/gpu/context.js';
import { kdaPrepareReference } from '../../src/kernels/kda/kda-reference.js';
import { allocKdaChunkScratch, freeKdaChunkScratch, kdaChunkPrefill, planKdaChunk, type KdaScanVariant, type KdaTileOverrides } from '../../src/kernels/kda/kda-chunk.js';
import { randomArray } from '../gpu/context.js';

// slowGates: decay rate 1 and dt_bias ≈ −6, so every step decays by e^−(0.002…0.004): the state keeps its
// scale across the chunk. (The gate input alone does not make gates slow: A up to 16 and dt_bias up to ±2 can
// decay a state to nothing in one step.)
export interface ScanCase { T: number; H: number; dk: number; dv: number; chunk: number; stateScale: number; vScale?: number; gate?: number; slowGates?: boolean }

export function inputs(c: ScanCase) {
  const { T, H, dk } = c;
  const aLog = c.slowGates ? new Float32Array(H) : randomArray(H, Math.log(16));
  const dtBias = c.slowGates ? randomArray(H * dk, 0.5).map((x) => x - 6) : randomArray(H * dk, 2);
  const prep = kdaPrepareReference(randomArray(T * H * dk), randomArray(T * H * dk), randomArray(T * H * dk, c.gate ?? 4),
    randomArray(T * H, 3), aLog, dtBias, T, H, dk);
  return { prep, v: randomArray(T * H * c.dv, c.vScale ?? 2), s0: randomArray(H * dk * c.dv, c.stateScale) };
}

/**
 * One chunked prefill set up: its plan, the scratch and output NaN-poisoned (the arena hands back used memory),
 * the inputs uploaded; free() returns every tensor to the arena.
 */
export function prepareChunk(ctx: GpuContext, c: ScanCase, x: ReturnType<typeof inputs>, tiles: KdaTileOverrides) {
  const { T, H, dk, dv } = c;
  const plan = planKdaChunk(ctx, dk, dv, c.chunk, tiles);
  const state = ctx.tensor([H, dk, dv], 'f32', 'S', x.s0);
  const out = ctx.tensor([T, H, dv], 'f32', 'o');
  ctx.fill(out, NaN);
  const scratch = allocKdaChunkScratch(ctx, T, H, dk, dv, plan);
  for (const t of Object.values(scratch)) if (typeof t === 'object' && 'shape' in t) ctx.fill(t, NaN);
  for (const t of Object.values(scratch.f16 ?? {})) ctx.fill(t, NaN);
  const args = {
    q: ctx.tensor([T, H, dk], 'f32', 'q', x.prep.q), k: ctx.tensor([T, H, dk], 'f32', 'k', x.prep.k), g: ctx.tensor([T, H, dk], 'f32', 'g', x.prep.g),
    beta: ctx.tensor([T, H], 'f32', 'beta', x.prep.beta), v: ctx.tensor([T, H * dv], 'f32', 'v', x.v), state, out, T, H, dk, dv,
  };
  const free = () => {
    freeKdaChunkScratch(ctx, scratch);
    for (const t of [args.q, args.k, args.g, args.beta, args.v, state, out]) ctx.arena.free(t);
  };
  return { plan, scratch, args, free };
}

export async function runScan(ctx: GpuContext, c: ScanCase, x: ReturnType<typeof inputs>, scan: KdaScanVariant, tiles: KdaTileOverrides = {}) {
  const { plan, scratch, args, free } = prepareChunk(ctx, c, x, { ...tiles, scan });
  ctx.run(kdaChunkPrefill(ctx, args, scratch, plan));
  const result = { plan, out: await ctx.readF32(args.out), state: await ctx.readF32(args.state) };
  free();
  return result;
}
