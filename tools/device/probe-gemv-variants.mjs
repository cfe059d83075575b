// Times the decode GEMV and MoE expert GEMV variants side by side (f16 and q8: tilings, the 'magic' int8
// conversion, the dependent-copy floor of a short dispatch pair) with the bench's own cases, warm, and prints one
// line per case: name | ms | GB/s | × copy | max rel. error | PASS/FAIL. A case the device rejects prints an
// error line and the rest go on. The 1 GiB copy kernel is timed first as the anchor.
// Usage (after `npm run build`): node tools/device/probe-gemv-variants.mjs [48b|small] [kernels, default moe,gemv]
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { timeDispatches } from '../../dist/bench/gpu-timer.js';
import { buildKernelCases } from '../../dist/bench/kernel-cases.js';
import { moeDecodeCases } from '../../dist/bench/moe-cases.js';
import { q8KernelCases } from '../../dist/bench/q8-cases.js';

const size = process.argv[2] ?? '48b';
const kernels = (process.argv[3] ?? 'moe,gemv').split(',');
const ctx = await GpuContext.create();
const cpu = ctx.caps.isFallbackAdapter;
console.log(`${ctx.caps.adapterDescription}; subgroup size ${ctx.caps.subgroupSize}; timestamps ${ctx.caps.hasTimestamps}`);
let warmMs = cpu ? 0 : 2000;
let copyGbps;

/** Times one case and prints its line; the q8 checks compare against f16-expanded weights, hence their looser bound. */
async function run(c) {
  let line;
  ctx.device.pushErrorScope('validation');
  try {
    const t = await timeDispatches(ctx, c.specs, { inner: 3, outer: cpu ? 1 : 5, warmMs });
    warmMs = cpu ? 0 : 300;
    const gbps = c.bytes / (t.ms / 1000) / 1e9;
    const err = c.verify ? await c.verify() : undefined;
    const bound = c.dtype.startsWith('q8') ? 1e-2 : 1e-4;
    const verdict = err === undefined ? 'unchecked' : err <= bound ? 'PASS' : 'FAIL';
    line = `${(t.ms * 1000).toFixed(2)} µs | ${gbps.toFixed(0)} GB/s | ${copyGbps ? (gbps / copyGbps).toFixed(3) : '-'}× copy | err ${err === undefined ? '-' : err.toExponential(2)} | ${verdict}`;
    copyGbps ??= gbps; // the first case run is the copy anchor
  } catch (e) {
    line = `error: ${String(e.message ?? e).split('\n')[0].slice(0, 200)}`;
  }
  const error = await ctx.device.popErrorScope();
  if (error) line = `rejected: ${error.message.split('\n')[0].slice(0, 200)}`;
  console.log(`${c.name} | ${line}`);
}

const copies = await buildKernelCases(ctx, 'copy', size);
await run(copies[0]);
copies.forEach((c) => c.release());
for (const kernel of kernels) {
  const cases = kernel === 'moe' ? moeDecodeCases(ctx, size) : await buildKernelCases(ctx, kernel, size);
  cases.push(...q8KernelCases(ctx, kernel, size));
  for (const c of cases) {
    await run(c);
    c.release();
  }
}
await ctx.device.queue.onSubmittedWorkDone();
process.exit(0);
