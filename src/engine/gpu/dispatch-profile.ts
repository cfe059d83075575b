// Per-dispatch GPU times of a dispatch list: each dispatch in its own compute pass with begin/end timestamps
// (WebGPU stamps only pass boundaries), summed per kernel label. This is how a decode step is taken apart
// (`ctxbench infer --profile-decode`); pass boundaries add a little time of their own, so the parts sum to a bit
// more than the step.
import type { DispatchSpec, GpuContext } from './context.js';

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

/** GPU milliseconds of each dispatch, in list order. Needs the timestamp-query feature. */
export async function timeEachDispatch(ctx: GpuContext, specs: readonly DispatchSpec[]): Promise<number[]> {
  if (!ctx.caps.hasTimestamps) throw new Error('dispatch profile: this adapter has no timestamp-query feature');
  const out: number[] = [];
  for (let start = 0; start < specs.length; start += CHUNK) {
    const chunk = specs.slice(start, start + CHUNK);
    const n = chunk.length;
    const querySet = ctx.device.createQuerySet({ type: 'timestamp', count: 2 * n });
    const resolve = ctx.device.createBuffer({ size: 16 * n, usage: QUERY_RESOLVE | COPY_SRC });
    const readback = ctx.device.createBuffer({ size: 16 * n, usage: MAP_READ | COPY_DST });
    try {
      const encoder = ctx.device.createCommandEncoder();
      chunk.forEach((spec, i) => {
        const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        pass.setPipeline(spec.pipeline);
        pass.setBindGroup(0, spec.bindGroup);
        pass.dispatchWorkgroups(spec.workgroups[0], spec.workgroups[1], spec.workgroups[2]);
        pass.end();
      });
      encoder.resolveQuerySet(querySet, 0, 2 * n, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, readback, 0, 16 * n);
      ctx.queue.submit([encoder.finish()]);
      await readback.mapAsync(MAP_READ);
      const stamps = new BigUint64Array(readback.getMappedRange().slice(0));
      readback.unmap();
      for (let i = 0; i < n; i++) out.push(Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6);
    } finally {
      querySet.destroy();
      resolve.destroy();
      readback.destroy();
    }
  }
  return out;
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
