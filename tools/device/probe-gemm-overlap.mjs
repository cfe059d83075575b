// Can staging overlap the MMAs in our tensor-core GEMM? The session-6 ablation timed MMAs alone at 465 TFLOP/s
// and staging alone at ~505-equivalent, together ~100: one 256-thread workgroup per SM runs them in turn. This
// probe times complete GEMMs that try to overlap them, each checked on sampled rows against an f64 CPU product:
//  prod …   the production kernel (engine dispatch) with its default tiles (baseline) and other tile options it
//           already takes: smaller register footprints (TILE_K 32, fewer fragments per subgroup) may let two
//           workgroups share an SM, so one multiplies while the other stages;
//  sync …   the production schedule regenerated (sanity row), and with x already f16 in storage;
//  dbuf …   two workgroup tiles, one barrier per K tile (stores of tile t+1 beside MMAs of tile t);
//  ws …     warp-specialized: extra producer subgroups stage (double-buffered) while the compute subgroups only
//           multiply.
// Cases: 4096³ and the 48B projections 8192×4096×2304 (up) and 8192×2304×4096 (down). One line per variant and
// case: name, ms, TFLOP/s, max rel err, PASS/FAIL. A variant that fails to compile or validate prints its error.
// Usage (after `npm run build`): node tools/device/probe-gemm-overlap.mjs [filter substring]
// SYNTAX_ONLY=1 compiles the generated variants with stand-ins for the subgroup matrices (lavapipe check);
// EMULATE=1 runs small versions of each schedule with emulated subgroup matrices and checks them (lavapipe).
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { timeDispatches } from '../../dist/bench/gpu-timer.js';
import { makeTensorCoreLinear, probeTensorCoreGemm, TENSOR_CORE_TILES } from '../../dist/kernels/linalg/gemm-subgroup-matrix.js';
import { gemmOverlapShader, variantProblem, variantShape, withEmulatedSubgroupMatrices, withoutSubgroupMatrices } from './gemm-overlap-shader.mjs';

const ctx = await GpuContext.create();
// Dawn's pending promises do not hold the event loop open: on lavapipe the process left silently while awaiting
// a long pipeline compile. A timer keeps it alive until process.exit.
setInterval(() => undefined, 1000);
const SG = ctx.caps.subgroupSize;
const maxBytes = ctx.caps.maxWorkgroupStorageBytes;
const filter = process.argv[2] ?? '';
const T = TENSOR_CORE_TILES;

/** Production kernel tile options (TensorCoreTiles): the engine's own dispatch, edge scratch included. */
const PROD = [
  ['prod 128x128 2x4 k64 (default)', T],
  ['prod 128x128 2x4 k32', { ...T, TILE_K: 32 }],
  ['prod 128x128 4x4 k32 (2x2 frags, 512 thr)', { ...T, TILE_K: 32, SG_M: 4 }],
  ['prod 128x64 2x2 k64 (4x2 frags, 128 thr)', { ...T, TILE_N: 64, SG_N: 2 }],
  ['prod 64x128 2x4 k64 (2x2 frags)', { ...T, TILE_M: 64 }],
  ['prod 256x128 4x4 k32 (4x2 frags, 512 thr)', { ...T, TILE_M: 256, TILE_K: 32, SG_M: 4 }],
];
/** Generated schedules (gemm-overlap-shader.mjs); PROD = producer subgroups of a warp-specialized variant. */
const GEN = [
  ['sync 128x128 2x4 k64 (production replica)', { mode: 'sync' }],
  ['sync 128x128 2x4 k64, x f16', { mode: 'sync', xf16: true }],
  ['dbuf 128x128 2x4 k32', { mode: 'dbuf', TK: 32 }],
  ['dbuf 128x128 2x4 k32, x f16', { mode: 'dbuf', TK: 32, xf16: true }],
  ['dbuf 128x64 2x2 k32', { mode: 'dbuf', TK: 32, TN: 64, SGN: 2 }],
  ['dbuf 256x128 4x4 k16 (4x2 frags)', { mode: 'dbuf', TM: 256, TK: 16, SGM: 4 }],
  ['ws 128x128 2x4+4 k32', { mode: 'ws', TK: 32, PROD: 4 }],
  ['ws 128x128 2x4+2 k32', { mode: 'ws', TK: 32, PROD: 2 }],
  ['ws 128x128 2x4+8 k32', { mode: 'ws', TK: 32, PROD: 8 }],
  ['ws 128x128 2x4+4 k32, x f16', { mode: 'ws', TK: 32, PROD: 4, xf16: true }],
  ['ws 128x64 2x2+2 k32', { mode: 'ws', TK: 32, TN: 64, SGN: 2, PROD: 2 }],
  ['ws 256x128 4x4+4 k16', { mode: 'ws', TM: 256, TK: 16, SGM: 4, PROD: 4 }],
];
const CASES = [[4096, 4096, 4096], [8192, 4096, 2304], [8192, 2304, 4096]];
const SAMPLE_ROWS = 4;

console.log(`${ctx.caps.adapterDescription}: subgroup ${SG}, workgroup storage limit ${maxBytes}, timestamps ${ctx.caps.hasTimestamps}`);

if (process.env.SYNTAX_ONLY) {
  for (const [name, v] of GEN) {
    const error = await compileError(withoutSubgroupMatrices(gemmOverlapShader(v, SG)));
    console.log(`gemm-overlap syntax | ${name} | ${variantShape(v, SG).bytes} B | ${error ? `error: ${error}` : 'compiles'}`);
  }
  process.exit(0);
}

/** Small versions of every schedule that fit lavapipe's 32 KiB, run with emulated matrices (EMULATE=1). */
const EMULATED = [
  ['sync 64x64 2x2 k64', { mode: 'sync', TM: 64, TN: 64, SGN: 2 }],
  ['sync 64x64 2x2 k64, x f16', { mode: 'sync', TM: 64, TN: 64, SGN: 2, xf16: true }],
  ['dbuf 64x64 2x2 k32', { mode: 'dbuf', TM: 64, TN: 64, SGN: 2, TK: 32 }],
  ['dbuf 128x64 2x2 k32', GEN.find(([n]) => n.startsWith('dbuf 128x64'))[1]],
  ['ws 64x64 2x2+4 k32', { mode: 'ws', TM: 64, TN: 64, SGN: 2, TK: 32, PROD: 4 }],
  ['ws 64x64 2x2+1 k32, x f16', { mode: 'ws', TM: 64, TN: 64, SGN: 2, TK: 32, PROD: 1, xf16: true }],
  ['ws 128x64 2x2+4 k32', { mode: 'ws', TM: 128, TN: 64, SGN: 2, TK: 32, PROD: 4 }],
]; // ws with 2 producers (48 threads at subgroup 8) hangs lavapipe; 40 and 64 threads pass (unexplained)
const emulate = Boolean(process.env.EMULATE);
const shader = emulate ? (v) => withEmulatedSubgroupMatrices(gemmOverlapShader(v, SG)) : (v) => gemmOverlapShader(v, SG);
const choice = emulate ? { path: 'scalar', reason: 'EMULATE' } : await probeTensorCoreGemm(ctx);
let warmed = false;
const pipelines = new Map();
// Warp-specialized variants go last, after every case of the others: a hang there must not cost the rest.
for (const wsPass of [false, true]) for (const [M, N, K] of emulate ? [[128, 192, 192]] : CASES) {
  const picked = ([name]) => name.includes(filter) && name.startsWith('ws ') === wsPass;
  if (![...(emulate ? [] : PROD), ...(emulate ? EMULATED : GEN)].some(picked)) continue;
  const xVals = randomValues(M * K, 1), wVals = randomValues(N * K, 2);
  const x32 = ctx.tensor([M, K], 'f32', 'overlap.x32', xVals);
  const x16 = ctx.tensor([M, K], 'f16', 'overlap.x16', xVals);
  const w = ctx.tensor([N, K], 'f16', 'overlap.w', wVals);
  const out = ctx.tensor([M, N], 'f32', 'overlap.out');
  const dims = ctx.tensor([4], 'u32', 'overlap.dims', new Uint32Array([M, N, K, 0]));
  const rows = Array.from({ length: SAMPLE_ROWS }, (_, r) => Math.min(M - 1, Math.floor((r + 0.37) * M / SAMPLE_ROWS) + r * 13));
  const refs = reference(await ctx.read(x16), await ctx.read(w), rows, N, K);
  const shape = `${M}x${N}x${K}`;
  const flops = 2 * M * N * K;

  const variants = [
    ...(emulate ? [] : PROD).map(([name, tiles]) => [name, () => makeTensorCoreLinear(ctx, x32, w, out, choice, tiles)]),
    ...(emulate ? EMULATED : GEN).map(([name, v]) => [name, () => generated(v, name, x32, x16, w, out, dims, M, N, K)]),
  ].filter(picked);
  for (const [name, make] of variants) {
    let line;
    try {
      ctx.device.pushErrorScope('validation');
      let specs;
      try { specs = make(); } finally {
        const err = await ctx.device.popErrorScope();
        if (err) throw new Error(firstError(err.message));
      }
      ctx.clear(out);
      // Clocks ramp up under load: 2 s of work before the first timing, 0.3 s before each later one.
      const t = await timeDispatches(ctx, specs, { inner: 3, outer: 7, warmMs: emulate ? 0 : warmed ? 300 : 2000, ...(emulate ? { inner: 1, outer: 1 } : {}) });
      warmed = true;
      const err = await sampledError(out, rows, refs, N);
      line = `${t.ms.toFixed(3)} ms | ${(flops / t.ms / 1e9).toFixed(1)} TFLOP/s | max rel err ${err.toExponential(2)} | ${err < 1e-4 ? 'PASS' : 'FAIL'}`;
    } catch (e) {
      line = `skipped: ${String(e.message ?? e).split('\n')[0].slice(0, 240)}`;
    }
    console.log(`gemm-overlap | ${shape} | ${name} | ${line}`);
  }
  for (const t of [x32, x16, w, out, dims]) ctx.arena.free(t);
}
process.exit(0);

/** A generated variant's dispatch (throws with the reason when it cannot run on this shape). */
function generated(v, name, x32, x16, w, out, dims, M, N, K) {
  const problem = variantProblem(v, SG, M, N, K, maxBytes);
  if (problem) throw new Error(problem);
  const s = variantShape(v, SG);
  if (s.threads > ctx.caps.maxInvocationsPerWorkgroup) throw new Error(`${s.threads} threads > ${ctx.caps.maxInvocationsPerWorkgroup}`);
  // Dims are runtime values, so one pipeline per variant serves every case (compiles are most of the run).
  let pipeline = pipelines.get(name);
  if (!pipeline) {
    const module = ctx.device.createShaderModule({ code: shader(v), label: name });
    pipeline = ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name });
    pipelines.set(name, pipeline);
  }
  const bind = (t, i) => ({ binding: i, resource: { buffer: t.buffer, offset: t.offset, size: t.bytes } });
  const bindGroup = ctx.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [v.xf16 ? x16 : x32, w, out, dims].map(bind) });
  return [{ label: name, pipeline, bindGroup, workgroups: [N / s.TN, M / s.TM, 1] }];
}

async function compileError(code) {
  ctx.device.pushErrorScope('validation');
  const module = ctx.device.createShaderModule({ code });
  ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const err = await ctx.device.popErrorScope();
  return err ? firstError(err.message) : undefined;
}

function firstError(message) {
  const lines = message.split('\n');
  return (lines.find((l) => /error/i.test(l)) ?? lines[0]).slice(0, 240);
}

function randomValues(n, seed) {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; out[i] = ((s >>> 8) / 2 ** 24 - 0.5) * 0.5; }
  return out;
}

/** f64 products of the sampled rows (x and W as f16, as every variant stages them) and their magnitude scales. */
function reference(xh, wh, rows, N, K) {
  return rows.map((m) => {
    const value = new Float64Array(N), scale = new Float64Array(N);
    for (let n = 0; n < N; n++) {
      let acc = 0, mag = 0;
      for (let k = 0; k < K; k++) { const p = xh[m * K + k] * wh[n * K + k]; acc += p; mag += Math.abs(p); }
      value[n] = acc; scale[n] = mag;
    }
    return { value, scale };
  });
}

/** Largest |out − ref| / Σ|products| over the sampled rows (NaN or an unwritten row counts as a failure). */
async function sampledError(out, rows, refs, N) {
  let worst = 0;
  for (let r = 0; r < rows.length; r++) {
    const bytes = await ctx.readBytes(out, rows[r] * N * 4, N * 4);
    const got = new Float32Array(bytes.buffer, bytes.byteOffset, N);
    for (let n = 0; n < N; n++) {
      const err = Math.abs(got[n] - refs[r].value[n]) / Math.max(refs[r].scale[n], 1e-30);
      worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
    }
  }
  return worst;
}
