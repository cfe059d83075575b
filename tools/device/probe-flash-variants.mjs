// Times candidate plans of the tensor-core MLA flash prefill (mla-flash-prefill-f16) side by side, warm, at the 48B
// head shape (H = 32, d = 192/128) for each T given (session 8 timed K/V double buffering and Q in workgroup memory
// this way: both slower, docs/perf.md); check the same plans first with
// `node tools/device/mla-f16-check.mjs --plans JSON`. A plan the device rejects prints an error line, the rest go on.
// Usage (after `npm run build`): node tools/device/probe-flash-variants.mjs 'JSON list of plans' [T | mid:Tq:KB ...]
// mid:Tq:KB times a chunk-major middle call instead: Tq queries after every key of one KB-key block (a full
// rectangle, carry read and written), what most of a long prefill's flash time is.
import { GpuContext, f32 } from '../../dist/engine/gpu/context.js';
import { timeDispatches } from '../../dist/bench/gpu-timer.js';
import { makeRandomFill } from '../../dist/kernels/elementwise/random-fill.js';
import { mlaFlashF16WorkgroupBytes, mlaFlashPrefillF16, roundUpRows } from '../../dist/kernels/mla/mla-flash-prefill-f16.js';

const ctx = await GpuContext.create();
const plans = JSON.parse(process.argv[2]);
const lengths = process.argv.slice(3).map(Number);
// PROBE_HEADS dispatches fewer heads: with a middle call's equal workgroups, time against head count shows how
// many workgroups an SM runs at once (64 workgroups per head at Tq = 8192 and 128 query rows).
const H = Number(process.env.PROBE_HEADS ?? 32), Dn = 128, Dr = 64, Dv = 128, Dq = Dn + Dr;
console.log(ctx.caps.adapterDescription);
let warmMs = 2000;
for (const spec of lengths.length ? process.argv.slice(3) : ['8192', '16384']) {
  const mid = spec.startsWith('mid:') ? spec.split(':').slice(1).map(Number) : undefined;
  const T = mid ? Math.max(mid[0], mid[1]) : Number(spec);
  const rows = roundUpRows(T);
  const [q, kNope, kRope, v] = [[rows, H, Dq], [rows, H, Dn], [rows, Dr], [rows, H, Dv]].map((shape, i) => ctx.tensor(shape, 'f16', `t${i}`));
  ctx.run([q, kNope, kRope, v].map((t, i) => makeRandomFill(ctx, t, { seed: 11 + i, scale: 1 })));
  const out = ctx.tensor([T, H, Dv], 'f32', 'out');
  const causalFlops = mid ? 2 * H * mid[0] * mid[1] * (Dq + Dv) : H * T * T * (Dq + Dv); // 2 flop per MAC (causal: half)
  const carry = mid ? ctx.tensor([mid[0], H, Dv + 2], 'f32', 'carry') : undefined;
  if (carry) ctx.run([makeRandomFill(ctx, carry, { seed: 5, scale: 1 })]);
  const shape = mid
    ? { Tq: mid[0], Tk: mid[0] + 2 * mid[1], keyBlock: { start: 0, length: mid[1], carry, first: false, last: false } }
    : { Tq: T, Tk: T };
  for (const plan of plans) {
    let verdict;
    ctx.device.pushErrorScope('validation');
    try {
      const dispatch = mlaFlashPrefillF16(ctx, { q, kNope, kRope, v, out, H, Dn, Dr, Dv, ...shape }, plan);
      const t = await timeDispatches(ctx, [dispatch], { inner: 2, outer: 5, warmMs });
      warmMs = 300;
      verdict = `${(causalFlops / t.ms / 1e9).toFixed(1)} TFLOP/s (${t.ms.toFixed(2)} ms)`;
    } catch (e) {
      verdict = `error: ${String(e.message ?? e).split('\n')[0].slice(0, 200)}`;
    }
    const error = await ctx.device.popErrorScope();
    if (error) verdict = `rejected: ${error.message.split('\n')[0].slice(0, 200)}`;
    console.log(`flash-variant | H=${H} | ${mid ? `mid Tq=${mid[0]} KB=${mid[1]}` : `T=${T}`} | ${JSON.stringify(plan)} | ${(mlaFlashF16WorkgroupBytes(plan) / 1024).toFixed(1)} KiB | ${verdict}`);
  }
  for (const t of [q, kNope, kRope, v, out, ...(carry ? [carry] : [])]) ctx.arena.free(t);
}
await ctx.device.queue.onSubmittedWorkDone();
process.exit(0);
