// How long Dawn + the driver take to build the tensor-core MLA flash prefill pipelines (its four key-block variants)
// for each plan given, in one process, first build cold: a long prompt's TTFT pays this once unless the engine builds
// them at load. Usage (after `npm run build`): node tools/device/time-flash-compile.mjs 'JSON list of plans'
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { probeMlaFlashF16 } from '../../dist/kernels/mla/mla-flash-prefill-f16.js';

const ctx = await GpuContext.create();
for (const plan of JSON.parse(process.argv[2])) {
  const t0 = performance.now();
  const why = await probeMlaFlashF16(ctx, 128, 64, 128, plan);
  console.log(`flash-compile | ${JSON.stringify(plan)} | ${(performance.now() - t0).toFixed(0)} ms | ${why ?? 'ok'}`);
}
await ctx.device.queue.onSubmittedWorkDone();
process.exit(0);
