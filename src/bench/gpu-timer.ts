// Times a list of dispatches on the GPU. With `timestamp-query` each repetition block is its own compute pass
// with begin/end timestamps (WebGPU only stamps pass boundaries); without it, the wall clock around submit +
// onSubmittedWorkDone, which also counts queue latency — the result says which method produced it.
import { encodeDispatches, type DispatchSpec, type GpuContext } from '../engine/gpu/context.js';
import { timedBlocksMs } from '../engine/gpu/dispatch-profile.js';

export type TimingMethod = 'timestamp' | 'wall';

export interface KernelTiming {
  /** Median milliseconds of one run of the dispatch list. */
  ms: number;
  /** Fastest block's milliseconds per run (least disturbed by other work). */
  bestMs: number;
  method: TimingMethod;
  samples: number;
}

export interface TimingOptions {
  /** Runs of the list encoded back to back inside one timed block (amortises timestamp quantisation). */
  inner?: number;
  /** Timed blocks; the median block is reported. */
  outer?: number;
  /**
   * Milliseconds of back-to-back runs before timing. An idle H100 sits at 345 MHz and takes a while to reach
   * its 1980 MHz boost: after one warm-up run, a 4096³ GEMM timed 3.7× slower than after 2 s of load
   * (tools/device/probe-gemm-ablation.mjs, 2026-11-24). Leave 0 on CPU adapters, where clocks do not ramp.
   */
  warmMs?: number;
}

function encodeRuns(pass: GPUComputePassEncoder, specs: readonly DispatchSpec[], runs: number): void {
  for (let r = 0; r < runs; r++) encodeDispatches(pass, specs);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Warm-up runs (pipelines, first-touch, clocks: at least one, `warmMs` long), then `outer` timed blocks of `inner` runs each. */
export async function timeDispatches(ctx: GpuContext, specs: readonly DispatchSpec[], opts: TimingOptions = {}): Promise<KernelTiming> {
  const inner = Math.max(1, opts.inner ?? 4);
  const outer = Math.max(1, opts.outer ?? 5);
  const warmStart = performance.now();
  do {
    ctx.run(specs);
    await ctx.sync();
  } while (performance.now() - warmStart < (opts.warmMs ?? 0));
  const perRun = ctx.caps.hasTimestamps
    ? await timestampBlocks(ctx, specs, inner, outer)
    : await wallBlocks(ctx, specs, inner, outer);
  return { ms: median(perRun), bestMs: Math.min(...perRun), method: ctx.caps.hasTimestamps ? 'timestamp' : 'wall', samples: outer };
}

async function timestampBlocks(ctx: GpuContext, specs: readonly DispatchSpec[], inner: number, outer: number): Promise<number[]> {
  const blocks = await timedBlocksMs(ctx, outer, (encoder, querySet, b) => {
    const pass = encoder.beginComputePass({
      timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * b, endOfPassWriteIndex: 2 * b + 1 },
    });
    encodeRuns(pass, specs, inner);
    pass.end();
  });
  return blocks.map((ms) => ms / inner);
}

async function wallBlocks(ctx: GpuContext, specs: readonly DispatchSpec[], inner: number, outer: number): Promise<number[]> {
  const out: number[] = [];
  for (let b = 0; b < outer; b++) {
    const t0 = performance.now();
    const encoder = ctx.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    encodeRuns(pass, specs, inner);
    pass.end();
    ctx.queue.submit([encoder.finish()]);
    await ctx.sync();
    out.push((performance.now() - t0) / inner);
  }
  return out;
}

/**
 * Device copy bandwidth through copyBufferToBuffer (bytes read + written), the GEMV roofline we hold to. Copies
 * live outside passes, so with `timestamp-query` each block sits between two empty timed compute passes; the
 * wall clock (dawn.node's submit→callback latency is milliseconds) is the fallback and is labelled so.
 */
export async function timeBufferCopy(ctx: GpuContext, bytes: number, outer = 5): Promise<KernelTiming> {
  const src = ctx.tensor([bytes / 4], 'u32', 'bench.copy.src');
  const dst = ctx.tensor([bytes / 4], 'u32', 'bench.copy.dst');
  const copies = 4;
  const encodeCopies = (encoder: GPUCommandEncoder) => {
    for (let r = 0; r < copies; r++) encoder.copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, bytes);
  };
  try {
    ctx.copy(src, dst);
    await ctx.sync();
    const out = ctx.caps.hasTimestamps ? await timestampCopyBlocks(ctx, encodeCopies, outer) : [];
    for (let b = 0; !ctx.caps.hasTimestamps && b < outer; b++) {
      const t0 = performance.now();
      const encoder = ctx.device.createCommandEncoder();
      encodeCopies(encoder);
      ctx.queue.submit([encoder.finish()]);
      await ctx.sync();
      out.push(performance.now() - t0);
    }
    const perCopy = out.map((ms) => ms / copies);
    return { ms: median(perCopy), bestMs: Math.min(...perCopy), method: ctx.caps.hasTimestamps ? 'timestamp' : 'wall', samples: outer };
  } finally {
    ctx.arena.free(src);
    ctx.arena.free(dst);
  }
}

/** Copies live outside passes: each block sits between two empty compute passes that carry its timestamps. */
function timestampCopyBlocks(ctx: GpuContext, encodeBlock: (e: GPUCommandEncoder) => void, outer: number): Promise<number[]> {
  return timedBlocksMs(ctx, outer, (encoder, querySet, b) => {
    encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * b } }).end();
    encodeBlock(encoder);
    encoder.beginComputePass({ timestampWrites: { querySet, endOfPassWriteIndex: 2 * b + 1 } }).end();
  });
}
