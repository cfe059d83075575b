// Times candidate plans of the tensor-core MLA flash prefill (mla-flash-prefill-f16) side by side, warm, at the 48B
// head shape (H = 32, d = 192/128) for each T given (session 8 timed K/V double buffering and Q in workgroup memory
// this way: both slower, docs/perf.md); check the same plans first with
// `node tools/device/mla-f16-check.mjs --plans JSON`. A plan the device rejects prints an error line, the rest go on.
// Usage (after `npm run build`): node tools/device/probe-flash-variants.mjs 'JSON list of plans' [T ...]
import { GpuContext, f32 } from '../../dist/engine/gpu/context.js';
import { timeDispatches } from '../../dist/bench/gpu-timer.js';
import { makeRandomFill } from '../../dist/kernels/elementwise/random-fill.js';
import { mlaFlashF16WorkgroupBytes, mlaFlashPrefillF16, roundUpRows } from '../../dist/kernels/mla/mla-flash-prefill-f16.js';

const ctx = await GpuContext.create();
const plans = JSON.parse(process.argv[2]);
const lengths = process.argv.slice(3).map(Number);
const H = 32, Dn = 128, Dr = 64, Dv = 128, Dq = Dn + Dr;
console.log(ctx.caps.adapterDescription);
let warmMs = 2000;
for (const T of lengths.length ? lengths : [8192, 16384]) {
  const rows = roundUpRows(T);
  const [q, kNope, kRope, v] = [[rows, H, Dq], [rows, H, Dn], [rows, Dr], [rows, H, Dv]].map((shape, i) => ctx.tensor(shape, 'f16', `t${i}`));
  ctx.run([q, kNope, kRope, v].map((t, i) => makeRandomFill(ctx, t, { seed: 11 + i, scale: 1 })));
  const out = ctx.tensor([T, H, Dv], 'f32', 'out');
  const causalFlops = H * T * T * (Dq + Dv); // 2 flop per MAC over the causal half
  for (const plan of plans) {
    let verdict;
    ctx.device.pushErrorScope('validation');
    try {
      const spec = mlaFlashPrefillF16(ctx, { q, kNope, kRope, v, out, Tq: T, Tk: T, H, Dn, Dr, Dv }, plan);
      const t = await timeDispatches(ctx, [spec], { inner: 2, outer: 5, warmMs });
      warmMs = 300;
      verdict = `${(causalFlops / t.ms / 1e9).toFixed(1)} TFLOP/s (${t.ms.toFixed(2)} ms)`;
    } catch (e) {
      verdict = `error: ${String(e.message ?? e).split('\n')[0].slice(0, 200)}`;
    }
    const error = await ctx.device.popErrorScope();
    if (error) verdict = `rejected: ${error.message.split('\n')[0].slice(0, 200)}`;
    console.log(`flash-variant | T=${T} | ${JSON.stringify(plan)} | ${(mlaFlashF16WorkgroupBytes(plan) / 1024).toFixed(1)} KiB | ${verdict}`);
  }
  for (const t of [q, kNope, kRope, v, out]) ctx.arena.free(t);
}
await ctx.device.queue.onSubmittedWorkDone();
process.exit(0);
