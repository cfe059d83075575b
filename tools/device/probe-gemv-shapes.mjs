// Times the f16 decode GEMV (gemv-f16.wgsl) at every weight shape of a 48B decode step, for a few workgroup
// sizes and rows per workgroup, warm, 20 runs back to back in one pass (so launch gaps count as in a decode step).
// One line per shape and plan: µs per GEMV | GB/s | × copy | dispatches per step | µs per step | max rel. diff
// against the default plan. Usage (after `npm run build`): node tools/device/probe-gemv-shapes.mjs [small]
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { timeDispatches } from '../../dist/bench/gpu-timer.js';
import { makeRandomFill } from '../../dist/kernels/elementwise/random-fill.js';
import { makeGemvF16, planGemvF16 } from '../../dist/kernels/linalg/gemv-f16.js';
import { makeCopy } from '../../dist/kernels/elementwise/copy.js';

const ctx = await GpuContext.create();
// [N, K, per step, what]: 48B hybrid decode with the session-9 fusions (shared expert inside the expert kernel).
const shapes = process.argv[2] === 'small' ? [[100, 128, 1, 'small'], [33, 2304, 1, 'small']] : [
  [12576, 2304, 20, 'KDA q|k|v|fa|b|ga'], [4096, 128, 40, 'KDA fb, gb'], [2304, 4096, 27, 'o_proj (KDA, MLA)'],
  [6720, 2304, 7, 'MLA q|kv_a'], [18432, 2304, 1, 'dense gate|up'], [2304, 9216, 1, 'dense down'], [163840, 2304, 1, 'lm_head'],
];
const plans = [[256, 4], [256, 8], [128, 4], [128, 8], [128, 16], [64, 8], [64, 16]];
let warmMs = ctx.caps.isFallbackAdapter ? 0 : 2000;
const n = process.argv[2] === 'small' ? 1 << 16 : 1 << 24; // one dispatch's rows; 128 MiB moved
const a = ctx.tensor([n], 'f32', 'copy.a'), b = ctx.tensor([n], 'f32', 'copy.b');
const copy = await timeDispatches(ctx, [makeCopy(ctx, a, b, n)], { inner: 3, outer: 5, warmMs });
if (warmMs) warmMs = 300;
const copyGbps = 2 * 4 * n / (copy.ms / 1000) / 1e9;
console.log(`copy ${(8 * n / 2 ** 20).toFixed(0)} MiB moved: ${copy.ms.toFixed(3)} ms, ${copyGbps.toFixed(0)} GB/s`);
ctx.arena.free(a); ctx.arena.free(b);
for (const [N, K, perStep, what] of shapes) {
  const w = ctx.tensor([N, K], 'f16', 'w'), x = ctx.tensor([K], 'f32', 'x');
  const outs = plans.map(() => ctx.tensor([N], 'f32', 'out'));
  ctx.run([makeRandomFill(ctx, w, { seed: 3, scale: 1 }), makeRandomFill(ctx, x, { seed: 4, scale: 1 })]);
  let ref;
  for (const [i, [wg, rows]] of plans.entries()) {
    let line;
    ctx.device.pushErrorScope('validation');
    try {
      const plan = { ...planGemvF16(ctx, K), workgroupSize: wg, rowsPerWorkgroup: rows };
      const specs = makeGemvF16(ctx, x, w, outs[i], plan);
      const t = await timeDispatches(ctx, specs, { inner: 20, outer: 5, warmMs });
      const got = await ctx.read(outs[i]);
      ref ??= got;
      let diff = 0;
      for (let j = 0; j < N; j++) diff = Math.max(diff, Math.abs(got[j] - ref[j]) / Math.max(1e-3, Math.abs(ref[j])));
      const gbps = 2 * N * K / (t.ms / 1000) / 1e9;
      line = `${(t.ms * 1000).toFixed(2)} µs | ${gbps.toFixed(0)} GB/s | ${(gbps / copyGbps).toFixed(3)}× copy | ${perStep}/step ${(perStep * t.ms * 1000).toFixed(0)} µs | diff ${diff.toExponential(1)}`;
    } catch (e) {
      line = `error: ${String(e.message ?? e).split('\n')[0].slice(0, 160)}`;
    }
    const err = await ctx.device.popErrorScope();
    if (err) line = `rejected: ${err.message.split('\n')[0].slice(0, 160)}`;
    console.log(`gemv-shape | ${N}×${K} ${what} | wg ${wg} rows ${rows} | ${line}`);
  }
  for (const t of [w, x, ...outs]) ctx.arena.free(t);
}
await ctx.device.queue.onSubmittedWorkDone();
process.exit(0);
