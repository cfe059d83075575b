// Device check of the tensor-core KDA scan (kda-chunk-split16 + kda-chunk-scan-tc; lavapipe has no subgroup matrices,
// so test/kernels/kda-scan-tc.test.ts only runs its emulation): fresh random inputs at odd T and several head counts,
// realistic magnitudes plus a large-state case, poisoned outputs; the tensor-core scan's outputs and final state vs
// the scalar scan on the same device (relative error, PASS/FAIL), then both timed at T = 16384, H = 32, d = 128.
// Usage: node tools/device/kda-scan-tc-check.mjs [--no-timing]
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { allocKdaChunkScratch, freeKdaChunkScratch, kdaChunkPasses, planKdaChunk, probeKdaScanTensorCores } from '../../dist/kernels/kda/kda-chunk.js';
import { kdaPrepareReference } from '../../dist/kernels/kda/kda-reference.js';

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

function setup(T, H, dk, dv, x, scan) {
  const plan = planKdaChunk(ctx, dk, dv, 64, { scan });
  const state = ctx.tensor([H, dk, dv], 'f32', 'S', x.s0);
  const out = ctx.tensor([T, H, dv], 'f32', 'o');
  ctx.fill(out, NaN);
  const scratch = allocKdaChunkScratch(ctx, T, H, dk, dv, plan);
  for (const t of [scratch.qG, scratch.kG, scratch.w, scratch.u, scratch.p, scratch.decayLast]) ctx.fill(t, NaN);
  const up = (shape, data, label) => ctx.tensor(shape, 'f32', label, data);
  const args = {
    q: up([T, H, dk], x.prep.q, 'q'), k: up([T, H, dk], x.prep.k, 'k'), g: up([T, H, dk], x.prep.g, 'g'), beta: up([T, H], x.prep.beta, 'beta'),
    v: up([T, H * dv], x.v, 'v'), state, out, T, H, dk, dv,
  };
  const passes = kdaChunkPasses(ctx, args, scratch, plan);
  const free = () => { freeKdaChunkScratch(ctx, scratch); for (const t of [args.q, args.k, args.g, args.beta, args.v, state, out]) ctx.arena.free(t); };
  return { plan, args, passes, free };
}

let failed = 0;
async function check(name, T, H, dk, dv, opts) {
  const x = inputs(T, H, dk, dv, opts);
  const res = {};
  for (const scan of ['scalar', 'tensor-cores']) {
    const s = setup(T, H, dk, dv, x, scan);
    ctx.run([s.passes.intra, ...s.passes.scan]);
    res[scan] = { out: await ctx.readF32(s.args.out), state: await ctx.readF32(s.args.state), plan: s.plan };
    s.free();
  }
  const eo = relErr(res['tensor-cores'].out, res.scalar.out), es = relErr(res['tensor-cores'].state, res.scalar.state);
  const ok = eo < 2e-5 && es < 2e-5 && res['tensor-cores'].plan.scan === 'tensor-cores';
  if (!ok) failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name} T=${T} H=${H} dk=${dk} dv=${dv} out relErr=${eo.toExponential(2)} state relErr=${es.toExponential(2)}`);
}

for (const T of [1, 63, 65, 1000, 4097]) await check('48B dims', T, 1 + Math.floor(Math.random() * 3), 128, 128);
await check('odd head count, 16-wide dims', 777, 5, 16, 48);
await check('dk 64, dv 32', 321, 3, 64, 32);
await check('large state (|S| ~ 1e5)', 1000, 2, 128, 128, { stateScale: 1e5 });
await check('large values (|v| ~ 3e4: V̂ scale)', 1000, 2, 128, 128, { vScale: 3e4, stateScale: 1e4 });
await check('slow gates (state grows over 4k tokens)', 4097, 2, 128, 128, { gate: 0.05 });
console.log(failed ? `${failed} FAILED` : 'ALL PASS');

if (!process.argv.includes('--no-timing')) {
  const T = 16384, H = 32, d = 128, reps = 10;
  const x = inputs(T, H, d, d);
  for (const scan of ['scalar', 'tensor-cores']) {
    const s = setup(T, H, d, d, x, scan);
    // The split passes rewrite the scratch in place: re-run intra before each scan so every timed scan reads f32
    // operands freshly split (the intra pass is timed apart and subtracted).
    const time = async (specs) => {
      ctx.run(specs); await ctx.sync();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) ctx.run(specs);
      await ctx.sync();
      return (performance.now() - t0) / reps;
    };
    const intra = await time([s.passes.intra]);
    const whole = await time([s.passes.intra, ...s.passes.scan]);
    const scanMs = whole - intra;
    console.log(`TIME ${scan} T=${T} H=${H} d=${d}: intra ${intra.toFixed(2)} ms, scan ${scanMs.toFixed(2)} ms` +
      ` (${s.passes.scan.length} dispatches), chunk ${whole.toFixed(2)} ms = ${(T / whole / 1e3).toFixed(2)} Mtok/s`);
    s.free();
  }
}
process.exit(failed ? 1 : 0);
