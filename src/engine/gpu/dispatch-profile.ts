// Timestamped GPU blocks (shared with the bench's kernel timer) and per-dispatch GPU times of a dispatch list:
// each dispatch in its own compute pass with begin/end timestamps (WebGPU stamps only pass boundaries), summed
// per kernel label. This is how a decode step is taken apart
// (`ctxbench infer --profile-decode`); pass boundaries add a little time of their own, so the parts sum to a bit
// more than the step.
import { encodeDispatches, type DispatchSpec, type GpuContext } from './context.js';

// GPUBufferUsage / GPUMapMode as numbers: the globals exist only once dawn's globals are installed.
const QUERY_RESOLVE = 0x0200;
const COPY_SRC = 0x0004;
const COPY_DST = 0x0008;
const MAP_READ = 0x0001;
/** Dispatches per query set (two stamps each; WebGPU caps a query set at 4096 entries). */
const CHUNK = 2048;

export interface KernelTime {
  kernel: string;
  dispatches: number;
  ms: number;
  /** Fraction of the summed time. */
  share: number;
}

/** Encodes one timed block: it must write timestamps 2b (start) and 2b + 1 (end) of `querySet`. */
export type TimedBlockEncoder = (encoder: GPUCommandEncoder, querySet: GPUQuerySet, block: number) => void;

/** Runs `blocks` timed blocks in one submission and returns each block's GPU time in ms from its two stamps. */
export async function timedBlocksMs(ctx: GpuContext, blocks: number, encodeBlock: TimedBlockEncoder): Promise<number[]> {
  const { device } = ctx;
  const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * blocks });
  const resolve = device.createBuffer({ size: 16 * blocks, usage: QUERY_RESOLVE | COPY_SRC });
  const readback = device.createBuffer({ size: 16 * blocks, usage: MAP_READ | COPY_DST });
  try {
    const encoder = device.createCommandEncoder();
    for (let b = 0; b < blocks; b++) encodeBlock(encoder, querySet, b);
    encoder.resolveQuerySet(querySet, 0, 2 * blocks, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, readback, 0, 16 * blocks);
    ctx.queue.submit([encoder.finish()]);
    await readback.mapAsync(MAP_READ);
    const stamps = new BigUint64Array(readback.getMappedRange().slice(0));
    readback.unmap();
    return Array.from({ length: blocks }, (_, b) => Number(stamps[2 * b + 1] - stamps[2 * b]) / 1e6);
  } finally {
    querySet.destroy();
    resolve.destroy();
    readback.destroy();
  }
}

/** GPU milliseconds of each dispatch, in list order. Needs the timestamp-query feature. */
export async function timeEachDispatch(ctx: GpuContext, specs: readonly DispatchSpec[]): Promise<number[]> {
  if (!ctx.caps.hasTimestamps) throw new Error('dispatch profile: this adapter has no timestamp-query feature');
  const out: number[] = [];
  for (let start = 0; start < specs.length; start += CHUNK) {
    const chunk = specs.slice(start, start + CHUNK);
    out.push(...await timedBlocksMs(ctx, chunk.length, (encoder, querySet, i) => {
      const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      encodeDispatches(pass, [chunk[i]]);
      pass.end();
    }));
  }
  return out;
}

/**
 * GPU milliseconds of the whole list replayed in one compute pass (median of `repeats` passes): what a step costs
 * the GPU, launch gaps included, without the per-pass stamps that inflate timeEachDispatch's small kernels.
 */
export async function timeWholeList(ctx: GpuContext, specs: readonly DispatchSpec[], repeats = 5): Promise<number> {
  if (!ctx.caps.hasTimestamps) throw new Error('dispatch profile: this adapter has no timestamp-query feature');
  const ms = await timedBlocksMs(ctx, repeats, (encoder, querySet, b) => {
    const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * b, endOfPassWriteIndex: 2 * b + 1 } });
    encodeDispatches(pass, specs);
    pass.end();
  });
  return ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)];
}

/** Host milliseconds to encode and submit the list once (median of `repeats`; the GPU work is awaited after each). */
export async function timeHostEncode(ctx: GpuContext, specs: readonly DispatchSpec[], repeats = 5): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    ctx.run(specs);
    ms.push(performance.now() - t0);
    await ctx.sync();
  }
  return ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)];
}

/** Times per kernel label, largest first. */
export function sumByKernel(specs: readonly DispatchSpec[], ms: readonly number[]): KernelTime[] {
  const byKernel = new Map<string, { dispatches: number; ms: number }>();
  specs.forEach((spec, i) => {
    const entry = byKernel.get(spec.label) ?? { dispatches: 0, ms: 0 };
    entry.dispatches += 1;
    entry.ms += ms[i];
    byKernel.set(spec.label, entry);
  });
  const total = ms.reduce((a, b) => a + b, 0);
  return [...byKernel].map(([kernel, e]) => ({ kernel, ...e, share: total > 0 ? e.ms / total : 0 })).sort((a, b) => b.ms - a.ms);
}
