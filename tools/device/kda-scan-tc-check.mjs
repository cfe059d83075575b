// Device check of the tensor-core KDA scan (kda-chunk-scan-tc; lavapipe has no subgroup matrices, so
// test/kernels/kda-scan-tc.test.ts and kda-split-fused.test.ts only run its emulation) with its split operands made
// both ways: 'fused' (the blocked intra pass writes them, SPLIT_OUT) and 'separate' (f32 intra + four
// kda-chunk-split16 passes). Fresh random inputs at odd T and several head counts, realistic magnitudes plus a
// large-state case, poisoned outputs; each variant's outputs and final state vs the scalar scan on the same device
// (relative error, PASS/FAIL, 2e-5, f16 variants 4e-3; fused vs separate should agree exactly), then each timed at T = 16384,
// H = 32, d = 128 after ~2 s of warm-up: intra, split passes and scan each on GPU timestamps, and the whole chunk
// (intra + split + scan back to back) measured as one. A variant whose shaders fail to compile prints SKIP.
// Usage: node tools/device/kda-scan-tc-check.mjs [--no-timing]
import { encodeDispatches, GpuContext } from '../../dist/engine/gpu/context.js';
import { allocKdaChunkScratch, freeKdaChunkScratch, kdaChunkPasses, planKdaChunk, probeKdaScanTensorCores } from '../../dist/kernels/kda/kda-chunk.js';
import { kdaPrepareReference } from '../../dist/kernels/kda/kda-reference.js';
import { timedBlocksMs } from '../../dist/engine/gpu/dispatch-profile.js';
import { timeDispatches } from '../../dist/bench/gpu-timer.js';

const ctx = await GpuContext.create();
const why = await probeKdaScanTensorCores(ctx, 128, 128, 64);
console.log('probe:', why ?? 'tensor cores OK');
if (why) process.exit(1);
const rnd = (n, s = 1) => Float32Array.from({ length: n }, () => (Math.random() * 2 - 1) * s);
function relErr(a, b) { let d = 0, r = 1e-30; for (let i = 0; i < b.length; i++) { const e = Math.abs(a[i] - b[i]); d = Number.isNaN(e) ? Infinity : Math.max(d, e); r = Math.max(r, Math.abs(b[i])); } return d / r; }

/** Prepared delta-rule inputs as the model makes them (L2-normed q, k; softplus gates; sigmoid β). */
function inputs(T, H, dk, dv, { gate = 4, vScale = 2, stateScale = 1 } = {}) {
  const prep = kdaPrepareReference(rnd(T * H * dk), rnd(T * H * dk), rnd(T * H * dk, gate), rnd(T * H, 3), rnd(H, Math.log(16)), rnd(H * dk, 2), T, H, dk);
  return { prep, v: rnd(T * H * dv, vScale), s0: rnd(H * dk * dv, stateScale) };
}

const variants = [
  { name: 'scalar', tiles: { scan: 'scalar' } },
  { name: 'tc-separate', tiles: { scan: 'tensor-cores', splitPass: 'separate', scanOperands: 'split' } },
  { name: 'tc-fused', tiles: { scan: 'tensor-cores', splitPass: 'fused', scanOperands: 'split' } },
  // f16 operands (kda-chunk-scan-f16 + kda-chunk-out-f16): f16-sized errors against the scalar scan, not 2e-5.
  { name: 'tc-f16', tiles: { scan: 'tensor-cores', splitPass: 'fused', scanOperands: 'f16', intraProducts: 'scalar' }, bound: 4e-3 },
  // The same with the intra pass's W = T·X and U = T·βV on subgroup matrices (TX_MMA, f16 T and X).
  { name: 'tc-f16-mma', tiles: { scan: 'tensor-cores', splitPass: 'fused', scanOperands: 'f16', intraProducts: 'tensor-cores' }, bound: 4e-3 },
];
const broken = new Set(); // variants whose pipelines failed: skipped from then on

function setup(T, H, dk, dv, x, tiles) {
  const plan = planKdaChunk(ctx, dk, dv, 64, tiles);
  const state = ctx.tensor([H, dk, dv], 'f32', 'S', x.s0);
  const out = ctx.tensor([T, H, dv], 'f32', 'o');
  ctx.fill(out, NaN);
  const scratch = allocKdaChunkScratch(ctx, T, H, dk, dv, plan);
  for (const t of [scratch.qG, scratch.kG, scratch.w, scratch.u, scratch.p, scratch.decayLast, ...Object.values(scratch.f16 ?? {})]) ctx.fill(t, NaN);
  const up = (shape, data, label) => ctx.tensor(shape, 'f32', label, data);
  const args = {
    q: up([T, H, dk], x.prep.q, 'q'), k: up([T, H, dk], x.prep.k, 'k'), g: up([T, H, dk], x.prep.g, 'g'), beta: up([T, H], x.prep.beta, 'beta'),
    v: up([T, H * dv], x.v, 'v'), state, out, T, H, dk, dv,
  };
  ctx.device.pushErrorScope('validation');
  const passes = kdaChunkPasses(ctx, args, scratch, plan);
  const free = () => { freeKdaChunkScratch(ctx, scratch); for (const t of [args.q, args.k, args.g, args.beta, args.v, state, out]) ctx.arena.free(t); };
  return { plan, args, passes, free, compiled: ctx.device.popErrorScope() };
}

/** setup() under an error scope: undefined (and the variant marked broken) if its shaders do not compile. */
async function setupChecked(variant, T, H, dk, dv, x) {
  if (broken.has(variant.name)) return undefined;
  let s;
  try {
    s = setup(T, H, dk, dv, x, variant.tiles);
  } catch (e) {
    console.log(`SKIP ${variant.name}: ${String(e.message ?? e).split('\n')[0].slice(0, 200)}`);
    broken.add(variant.name);
    return undefined;
  }
  const error = await s.compiled;
  if (error) {
    console.log(`SKIP ${variant.name}: shader rejected: ${error.message.split('\n')[0].slice(0, 200)}`);
    broken.add(variant.name);
    s.free();
    return undefined;
  }
  return s;
}

let failed = 0;
async function check(name, T, H, dk, dv, opts) {
  const x = inputs(T, H, dk, dv, opts);
  const res = {};
  for (const variant of variants) {
    const s = await setupChecked(variant, T, H, dk, dv, x);
    if (!s) continue;
    ctx.run([s.passes.intra, ...s.passes.scan]);
    res[variant.name] = { out: await ctx.readF32(s.args.out), state: await ctx.readF32(s.args.state), plan: s.plan };
    s.free();
  }
  if (!res.scalar) { failed++; return; }
  for (const variant of variants.slice(1)) {
    const r = res[variant.name];
    if (!r) { failed++; console.log(`FAIL ${variant.name} ${name}: did not run`); continue; }
    const eo = relErr(r.out, res.scalar.out), es = relErr(r.state, res.scalar.state);
    const bound = variant.bound ?? 2e-5;
    const ok = eo < bound && es < bound && r.plan.scan === 'tensor-cores' && r.plan.splitPass === variant.tiles.splitPass
      && r.plan.scanOperands === (variant.tiles.scanOperands ?? 'split') && r.plan.intraProducts === (variant.tiles.intraProducts ?? 'scalar');
    if (!ok) failed++;
    let same = '';
    if (variant.name === 'tc-fused' && res['tc-separate']) {
      const sep = res['tc-separate'];
      same = ` vs separate: out ${relErr(r.out, sep.out).toExponential(1)}, state ${relErr(r.state, sep.state).toExponential(1)}`;
    }
    console.log(`${ok ? 'PASS' : 'FAIL'} ${variant.name} ${name} T=${T} H=${H} dk=${dk} dv=${dv} out relErr=${eo.toExponential(2)} state relErr=${es.toExponential(2)}${same}`);
  }
}

for (const T of [1, 63, 65, 1000, 4097]) await check('48B dims', T, 1 + Math.floor(Math.random() * 3), 128, 128);
await check('odd head count, 16-wide dims', 777, 5, 16, 48);
await check('dk 64, dv 32', 321, 3, 64, 32);
await check('large state (|S| ~ 1e5)', 1000, 2, 128, 128, { stateScale: 1e5 });
await check('large values (|v| ~ 3e4: V̂ scale)', 1000, 2, 128, 128, { vScale: 3e4, stateScale: 1e4 });
await check('slow gates (state grows over 4k tokens)', 4097, 2, 128, 128, { gate: 0.05 });
console.log(failed ? `${failed} FAILED` : 'ALL PASS');

if (!process.argv.includes('--no-timing')) {
  if (!ctx.caps.hasTimestamps) {
    console.log('TIME skipped: this adapter has no timestamp-query');
  } else {
    const T = 16384, H = 32, d = 128, blocks = 10;
    const x = inputs(T, H, d, d);
    const med = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
    for (const variant of variants) {
      const s = await setupChecked(variant, T, H, d, d, x);
      if (!s) continue;
      // An idle H100 sits at 345 MHz: ~2 s of back-to-back chunks first (src/bench/gpu-timer.ts warmMs).
      const warm = performance.now();
      do { ctx.run([s.passes.intra, ...s.passes.scan]); await ctx.sync(); } while (performance.now() - warm < 2000);
      const intra = await timeDispatches(ctx, [s.passes.intra], { inner: 4, outer: blocks });
      // The split passes rewrite the scratch in place, so each timed scan follows an untimed intra pass (its own
      // compute pass, so the scan reads freshly written operands). Even blocks: split passes (none when fused); odd: the scan.
      const nSplit = s.plan.scan !== 'scalar' && s.plan.splitPass === 'separate' ? 4 : 0;
      const split = s.passes.scan.slice(0, nSplit), last = s.passes.scan.slice(nSplit);
      const ms = await timedBlocksMs(ctx, 2 * blocks, (encoder, querySet, b) => {
        const stamp = { querySet, beginningOfPassWriteIndex: 2 * b, endOfPassWriteIndex: 2 * b + 1 };
        if (b % 2 === 0) {
          const pre = encoder.beginComputePass();
          encodeDispatches(pre, [s.passes.intra]);
          pre.end();
          const p = encoder.beginComputePass({ timestampWrites: stamp });
          encodeDispatches(p, split);
          p.end();
        } else {
          const p = encoder.beginComputePass({ timestampWrites: stamp });
          encodeDispatches(p, last);
          p.end();
        }
      });
      const splitMs = split.length ? med(ms.filter((_, b) => b % 2 === 0)) : 0, scanMs = med(ms.filter((_, b) => b % 2 === 1));
      const sum = intra.ms + splitMs + scanMs;
      // The whole chunk as the engine issues it (one compute pass, no host gap between intra, split and scan).
      const whole = await timeDispatches(ctx, [s.passes.intra, ...s.passes.scan], { inner: 2, outer: blocks });
      console.log(`TIME ${variant.name} T=${T} H=${H} d=${d} (SW=${s.plan.channelSlice} XW=${s.plan.productSlice}): intra ${intra.ms.toFixed(2)} ms, split ${splitMs.toFixed(2)} ms` +
        ` (${split.length} dispatches), scan ${scanMs.toFixed(2)} ms (${last.length} dispatches), sum ${sum.toFixed(2)} ms, whole chunk ${whole.ms.toFixed(2)} ms` +
        ` = ${(T / whole.ms / 1e3).toFixed(2)} Mtok/s`);
      s.free();
    }
  }
}
process.exit(failed ? 1 : 0);
