// Issue #8: variants of the absorbed MLA decode's tensor-core split pass (mla-absorbed-decode-tc.wgsl) at long
// context, each checked against the f32 subgroup-heads pass on the same f16 cache. One line per variant:
// name, split-pass ms, GB/s of f16 latent cache, whole decode ms, max relative error, PASS (≤ 5e-4; 2e-3 for q × 20) / FAIL.
// First a correctness-only pass at 8k keys with sharp queries (q × 20, q × 3e5: the running max keeps rising, so
// the lazy-rescale path runs), then the timed lengths. A variant that does not compile or validate prints FAIL with the error and the rest go on.
// Usage (after `npm run -s build`): node tools/device/probe-mla-decode-variants.mjs [Tk ...]   (default 131072 1048576);
// PROBE_VARIANTS=a,b keeps the variants whose names contain a or b.
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { timeDispatches } from '../../dist/bench/gpu-timer.js';
import { relativeErrorOf as relativeError } from '../../dist/bench/kernel-cases.js';
import { makeRandomFill } from '../../dist/kernels/elementwise/random-fill.js';
import { latentRowHalves } from '../../dist/kernels/mla/mla-latent-append.js';
import {
  allocMlaDecodeScratch, mlaAbsorbedDecode, mlaDecodeCacheRows, mlaDecodeTensorCoresUnsupported, planMlaDecode,
} from '../../dist/kernels/mla/mla-absorbed-decode.js';

const ctx = await GpuContext.create();
const d = { H: 32, Dn: 128, Dr: 64, Dv: 128, R: 512 };
const DC = d.R + d.Dr;
const lengths = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [131072, 1048576];
const PASS_AT = 5e-4;
// q × 20: a sharp softmax whose f16-rounded weights P carry more relative error; every variant, the session-6
// kernel included, measured 1.27e-3 – 1.31e-3 there on the H100 (2026-11-24).
const SHARP_PASS_AT = 2e-3;
// splits: undefined = the plan's default (ceil(Tk / 1024), at most 512); a function of Tk otherwise.
// 132 SMs on the H100 SXM: whole waves of one workgroup per SM.
const wholeWaves = (Tk) => 132 * Math.max(1, Math.min(4, Math.round(Tk / 1024 / 132)));
const variants = [
  { name: 'default (prefetch 32k×2ch pv-all-heads)', opts: {} },
  { name: 'loop 32k×2ch (session 6)', opts: { rowLoads: 'loop', pvAllHeads: false } },
  { name: 'batch 32k×2ch', opts: { rowLoads: 'batch', pvAllHeads: false } },
  { name: 'prefetch 32k×2ch', opts: { rowLoads: 'prefetch', pvAllHeads: false } },
  { name: 'prefetch-half 32k×2ch', opts: { rowLoads: 'prefetch-half', pvAllHeads: false } },
  { name: 'loop 32k×2ch pv-all-heads', opts: { rowLoads: 'loop', pvAllHeads: true } },
  { name: 'prefetch 32k×2ch pv-all-heads', opts: { rowLoads: 'prefetch', pvAllHeads: true } },
  { name: 'batch 32k×2ch pv-all-heads', opts: { rowLoads: 'batch', pvAllHeads: true } },
  { name: 'prefetch-half 32k×2ch pv-all-heads', opts: { rowLoads: 'prefetch-half', pvAllHeads: true } },
  { name: 'prefetch 32k×2ch 132·n splits', opts: { rowLoads: 'prefetch', pvAllHeads: false }, splits: wholeWaves },
  { name: 'prefetch 32k×2ch 256 splits', opts: { rowLoads: 'prefetch', pvAllHeads: false }, splits: () => 256 },
  { name: 'batch 16k×4ch', opts: { rowLoads: 'batch', keyRows: 16, scoreChains: 4, pvAllHeads: false } },
  { name: 'prefetch 16k×4ch', opts: { rowLoads: 'prefetch', keyRows: 16, scoreChains: 4, pvAllHeads: false } },
  { name: 'prefetch 16k×4ch pv-all-heads', opts: { rowLoads: 'prefetch', keyRows: 16, scoreChains: 4, pvAllHeads: true } },
].filter((v) => !process.env.PROBE_VARIANTS || process.env.PROBE_VARIANTS.split(',').some((part) => v.name.includes(part)));

/** Runs fn inside validation + internal error scopes; returns the first error's message, or undefined. */
async function scoped(fn) {
  ctx.device.pushErrorScope('validation');
  ctx.device.pushErrorScope('internal');
  let thrown;
  try { await fn(); } catch (e) { thrown = e; }
  const internal = await ctx.device.popErrorScope();
  const validation = await ctx.device.popErrorScope();
  const error = thrown ?? internal ?? validation;
  return error ? String(error.message ?? error).split('\n').filter(Boolean).slice(0, 3).join(' | ').slice(0, 300) : undefined;
}

const why = mlaDecodeTensorCoresUnsupported(ctx, d);
console.log(`${ctx.caps.adapterDescription}: subgroup ${ctx.caps.subgroupSize}, workgroup storage ${ctx.caps.maxWorkgroupStorageBytes} B; tensor cores: ${why ?? 'yes'}`);
if (why) process.exit(1);

let warmMs = 2000;
const cases = [{ Tk: 8192, qAmp: 20, timed: false }, { Tk: 8192, qAmp: 3e5, timed: false }, ...lengths.map((Tk) => ({ Tk, qAmp: 1, timed: true }))];
for (const { Tk, qAmp, timed } of cases) {
  const tag = `Tk=${Tk}${qAmp !== 1 ? ` q×${qAmp}` : ''}`;
  const rows = Math.ceil(Tk / 64) * 64;
  const cache = ctx.tensor([rows, latentRowHalves(DC)], 'f16', 'probe.cache');
  const q = ctx.tensor([d.H, d.Dn + d.Dr], 'f32', 'probe.q');
  const wkvb = ctx.tensor([d.H * (d.Dn + d.Dv), d.R], 'f32', 'probe.wkvb');
  // Latent rows of unit size (after kv_a_layernorm), query O(1), kv_b_proj entries ~0.05 (as the bench's cases).
  ctx.run([makeRandomFill(ctx, cache, { seed: 23, scale: 1 }), makeRandomFill(ctx, q, { seed: 21, scale: qAmp }), makeRandomFill(ctx, wkvb, { seed: 22, scale: 0.05 })]);
  const cacheBytes = Tk * DC * 2;

  const refPlan = planMlaDecode(ctx, d, Tk, undefined, { cacheF16: true, tensorCores: false, subgroupHeads: true });
  const refScratch = allocMlaDecodeScratch(ctx, d, refPlan);
  const refOut = ctx.tensor([d.H, d.Dv], 'f32', 'probe.refOut');
  const refSpecs = mlaAbsorbedDecode(ctx, { ...d, q, wkvb, cache, Tk, out: refOut }, refScratch, refPlan);
  ctx.run(refSpecs);
  const want = await ctx.readF32(refOut);
  const refT = timed ? await timeDispatches(ctx, refSpecs, { inner: 2, outer: 3, warmMs }) : { ms: NaN };
  if (timed) warmMs = 200;
  console.log(`mla-decode-variant | ${tag} | reference subgroup-heads f32 | ${timed ? `whole ${refT.ms.toFixed(3)} ms | ${(cacheBytes / refT.ms / 1e6).toFixed(0)} GB/s (whole pass)` : 'check only'} | ref`);

  for (const v of variants) {
    let line, scratch, out;
    const error = await scoped(async () => {
      const plan = planMlaDecode(ctx, d, Tk, v.splits?.(Tk), { cacheF16: true, tensorCores: true, ...v.opts });
      if (!plan.tensorCores) throw new Error('planned without tensor cores');
      if (mlaDecodeCacheRows(plan, Tk) > rows) throw new Error(`plan reads ${mlaDecodeCacheRows(plan, Tk)} rows`);
      scratch = allocMlaDecodeScratch(ctx, d, plan);
      for (const t of Object.values(scratch)) ctx.fill(t, NaN);
      out = ctx.tensor([d.H, d.Dv], 'f32', 'probe.out');
      ctx.fill(out, NaN);
      const specs = mlaAbsorbedDecode(ctx, { ...d, q, wkvb, cache, Tk, out }, scratch, plan);
      ctx.run(specs);
      await ctx.sync();
      const err = relativeError(await ctx.readF32(out), want);
      // The split pass alone: the f16 query pass and the tensor-core pass (absorb, reduce, unabsorb left out).
      if (!timed) { line = `check only | ${plan.splits} splits | relErr ${err.toExponential(2)} | ${err <= (qAmp === 20 ? SHARP_PASS_AT : PASS_AT) ? 'PASS' : 'FAIL'}`; return; }
      const split = await timeDispatches(ctx, specs.slice(1, specs.length - 2), { inner: 2, outer: 5, warmMs });
      const whole = await timeDispatches(ctx, specs, { inner: 2, outer: 3, warmMs: 0 });
      line = `split ${split.ms.toFixed(3)} ms (best ${split.bestMs.toFixed(3)}) | ${(cacheBytes / split.ms / 1e6).toFixed(0)} GB/s | whole ${whole.ms.toFixed(3)} ms | ${plan.splits} splits | relErr ${err.toExponential(2)} | ${err <= PASS_AT ? 'PASS' : 'FAIL'}`;
    });
    console.log(`mla-decode-variant | ${tag} | ${v.name} | ${error ? `FAIL (error: ${error})` : line}`);
    for (const t of [...Object.values(scratch ?? {}), ...(out ? [out] : [])]) ctx.arena.free(t);
  }
  for (const t of [cache, q, wkvb, refOut, ...Object.values(refScratch)]) ctx.arena.free(t);
}
process.exit(0);
