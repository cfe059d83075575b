// Which stage bounds the chunked KDA prefill on the H100 (intra ~4.9 ms + split ~0.8 + tensor-core scan ~5.9 at
// 16k, against FLA's 2.3 ms for all of it)? Times the production kernels beside copies of their WGSL with one
// stage made a no-op by a runtime-false condition (the compiler keeps the code shape). Ablated outputs are garbage;
// only time is read. Scan stages: the output products (q̃G·S, P·V' and the stores: what moving O out of the
// sequential scan, as FLA does, would save), the hi/lo split (one MMA per product instead of three), the two
// slice-max barriers, and the operands' memory latency (every chunk reads chunk 0's rows: L1/L2 hits).
// Intra stages (of the f16-operand plan's fused intra pass): the T·X products (W and U), all of step 3 (staging X and
// the products), step 1's cross-sub-chunk and in-sub-chunk pair products, step 2's inverse.
// Usage (after `npm run build`): node tools/device/probe-kda-ablation.mjs [T]   (EMULATE=1 … 256 on lavapipe)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { loadSource } from '../../dist/engine/gpu/pipelines.js';
import { timeDispatches } from '../../dist/bench/gpu-timer.js';
import { makeRandomFill } from '../../dist/kernels/elementwise/random-fill.js';
import { allocKdaChunkScratch, freeKdaChunkScratch, kdaChunkPasses, planKdaChunk, probeKdaScanTensorCores } from '../../dist/kernels/kda/kda-chunk.js';

const ctx = await GpuContext.create();
// Dawn's pending callbacks do not keep node alive: without a timer a long (lavapipe) compile ends the process.
setInterval(() => undefined, 1000);
// EMULATE=1: the scan's emulated form (lavapipe has no subgroup matrices), to check the probe itself off the GPU.
const emulate = process.env.EMULATE === '1';
// lavapipe's 32 KiB of workgroup memory cannot hold the scan at d = 128.
const T = Number(process.argv[2] ?? 16384), H = emulate ? 2 : 32, dk = emulate ? 64 : 128, dv = dk;
const why = emulate ? undefined : await probeKdaScanTensorCores(ctx, dk, dv, 64);
if (why) { console.log(`kda-ablation | tensor-core scan unavailable: ${why}`); process.exit(1); }
const plan = planKdaChunk(ctx, dk, dv, 64, { scan: emulate ? 'emulated' : 'tensor-cores', scanOperands: 'split', splitPass: 'separate' });
// The f16-operand scan and its output pass, timed apart (not ablated).
const planF16 = planKdaChunk(ctx, dk, dv, 64, { scan: emulate ? 'emulated' : 'tensor-cores', scanOperands: 'f16' });
const dir = mkdtempSync(join(tmpdir(), 'kda-'));

const SCAN_OFF = 'params.vOffset == 12345u';
const INTRA_OFF = 'params.dk == 7u';
const scanEdits = {
  out: [
    ['} else { st(qTimesS(aOff, RS), OF + rt * 16u * VS); }', `} else if (${SCAN_OFF}) { st(qTimesS(aOff, RS), OF + rt * 16u * VS); }`],
    ['for (var t = sg; t < KT + RT; t += NSG)', 'for (var t = sg; t < KT; t += NSG)'],
    ['if (r < n) { out[', `if (r < n && ${SCAN_OFF}) { out[`],
  ],
  split: [['return mma(al, bh, mma(ah, bl, mma(ah, bh, c)));', 'return mma(ah, bh, c);']],
  maxBarrier: [['  if (sgLane == 0u) { F[MAX_SLOTS + sg] = sm; }\n  workgroupBarrier();', '  if (sgLane == 0u) { F[MAX_SLOTS + sg] = sm; }']],
  latency: [['let rowBase = c0 * H + h;', 'let rowBase = h;'], ['let pBase = (chunk * H + h) * C * C;', 'let pBase = h * C * C;']],
};
// The f16-operand scan (kda-chunk-scan-f16, the default), stage by stage: phase A's W·Ŝ MMAs, phase B's kGᵀ·V̂′
// MMAs, the global stores of V̂′ and Ŝ, the workgroup slice maxima (each thread's own max instead), staging the
// next chunk's operands, and the operands' latency (every chunk fetches chunk 0's rows).
const f16ScanEdits = {
  phaseA: [['for (var d = kh; d < KT; d += 2u) {', `for (var d = kh; d < KT && ${SCAN_OFF}; d += 2u) {`]],
  phaseB: [['for (var r = 0u; r < RT; r++) { acc = mma(ldKt(', `for (var r = 0u; r < RT && ${SCAN_OFF}; r++) { acc = mma(ldKt(`]],
  stores: [['      vNew[(rowBase + r * H) * dv + e0 + p % VS] = x;', `      if (${SCAN_OFF}) { vNew[(rowBase + r * H) * dv + e0 + p % VS] = x; }`],
    ['          sEntry[(((chunk + 1u) * H + h) * DK + p / VS) * dv + e0 + p % VS] = x;', `          if (${SCAN_OFF}) { sEntry[(((chunk + 1u) * H + h) * DK + p / VS) * dv + e0 + p % VS] = x; }`]],
  maxes: [['let sV = upScale(sliceMax(m, sg));', 'let sV = upScale(m);'], ['    sS = upScale(sliceMax(m, sg));', '    sS = upScale(m);']],
  staging: [['    if (chunk + 1u < nChunks) {\n      for (var i = 0u; i < LOADS; i++) {', `    if (chunk + 1u < nChunks) {\n      for (var i = 0u; i < LOADS && ${SCAN_OFF}; i++) {`]],
  latency: [['wR[i] = opLoad(0u, c2 * H + h, e, n2); kR[i] = opLoad(1u, c2 * H + h, e, n2);', 'wR[i] = opLoad(0u, h, e, n2); kR[i] = opLoad(1u, h, e, n2);']],
};
const intraEdits = {
  products: [['    productTX(false, rowBase, n, d0, w, lane);', `    if (${INTRA_OFF}) { productTX(false, rowBase, n, d0, w, lane); }`],
    ['    productTX(true, rowBase, n, d0, w, lane);', `    if (${INTRA_OFF}) { productTX(true, rowBase, n, d0, w, lane); }`]],
  step3: [['  for (var d0 = 0u; d0 < dk; d0 += XW) {', `  for (var d0 = 0u; d0 < dk && ${INTRA_OFF}; d0 += XW) {`],
    ['  for (var d0 = 0u; d0 < dv; d0 += XW) {', `  for (var d0 = 0u; d0 < dv && ${INTRA_OFF}; d0 += XW) {`]],
  // Step 1's products: the cross-sub-chunk 4×4 blocks, and the in-sub-chunk groups with their per-pair exps.
  cross: [['    if (isCross) {\n      for (var c = 0u; c < w; c++) {', `    if (isCross && ${INTRA_OFF}) {\n      for (var c = 0u; c < w; c++) {`]],
  diag: [['    } else if (isDiag) {\n      let valid', `    } else if (isDiag && ${INTRA_OFF}) {\n      let valid`]],
  // Step 2: the diagonal blocks' forward substitution and the off-diagonal block rows.
  inverseDiag: [['  if (lane < 16u * NB) {\n#unroll i 16', `  if (lane < 16u * NB && ${INTRA_OFF}) {\n#unroll i 16`]],
  inverseRows: [['  for (var a = 1u; a < NB; a++) {\n    var y0', `  for (var a = 1u; a < NB && ${INTRA_OFF}; a++) {\n    var y0`]],
};

/** A copy of the kernel's WGSL with the named stages switched off (its #includes resolve from dist/, so it sits there). */
function edited(kernel, edits, off) {
  const source = loadSource(kernel);
  let text = source;
  for (const stage of off) {
    for (const [from, to] of edits[stage]) {
      if (!text.includes(from)) throw new Error(`edit for ${stage} no longer matches ${kernel.name}: ${from.slice(0, 60)}`);
      text = text.split(from).join(to);
    }
  }
  const file = join(dir, `${kernel.name.replace(/\W/g, '-')}-${off.join('-') || 'full'}.wgsl`);
  writeFileSync(file, text);
  return { name: `probe/${kernel.name}-${off.join('-') || 'full'}`, url: pathToFileURL(file) };
}

const filled = (shape, seed, scale, offset = 0) => {
  const t = ctx.tensor(shape, 'f32', `in${seed}`);
  ctx.run([makeRandomFill(ctx, t, { seed, scale, offset })]);
  return t;
};
const q = filled([T, H, dk], 9, 0.1), k = filled([T, H, dk], 10, 0.1), g = filled([T, H, dk], 11, 0.02, -0.05);
const beta = filled([T, H], 12, 0.4, 0.5), v = filled([T, H * dv], 13, 1);
const state = ctx.tensor([H, dk, dv], 'f32', 'state');
ctx.fill(state, 0);
const out = ctx.tensor([T, H, dv], 'f32', 'out');
const scratch = allocKdaChunkScratch(ctx, T, H, dk, dv, planF16);
// The wrapper resolves its dispatches; record the requests it makes so the edited kernels get the same defines,
// params, bindings and grid.
const dispatch = ctx.dispatch.bind(ctx);
function recordedPasses(p, s = scratch) {
  const requests = [];
  ctx.dispatch = (request) => { requests.push(request); return dispatch(request); };
  try {
    return { ...kdaChunkPasses(ctx, { q, k, g, beta, v, state, out, T, H, dk, dv }, s, p), requests };
  } finally {
    ctx.dispatch = dispatch;
  }
}
const passes = recordedPasses(plan);
const scanRequest = passes.requests[passes.requests.length - 1];
ctx.run([passes.intra, ...passes.scan]);
await ctx.sync();
console.log(`${ctx.caps.adapterDescription}: T=${T} H=${H} dk=${dk} dv=${dv} chunk=${plan.chunk}`);

let warm = 2000;
async function time(label, specs) {
  let verdict;
  try {
    ctx.device.pushErrorScope('validation');
    const t = await timeDispatches(ctx, specs(), { inner: 2, outer: 5, warmMs: warm });
    const error = await ctx.device.popErrorScope();
    warm = 300;
    verdict = error ? `error: ${error.message.split('\n')[0].slice(0, 200)}` : `${t.ms.toFixed(3)} ms (${(T / t.ms / 1e3).toFixed(2)} Mtok/s)`;
  } catch (e) {
    verdict = `error: ${String(e.message ?? e).split('\n')[0].slice(0, 200)}`;
  }
  console.log(`kda-ablation | ${label} | ${verdict}`);
}

await time('whole chunk (intra, 4 splits, scan)', () => [passes.intra, ...passes.scan]);
await time('split passes (4)', () => passes.scan.slice(0, -1));
for (const off of [[], ['out'], ['split'], ['maxBarrier'], ['latency'], ['out', 'split'], ['out', 'split', 'maxBarrier'], ['out', 'split', 'maxBarrier', 'latency']]) {
  await time(`scan-tc off: ${off.join('+') || 'none'}`, () => [dispatch({ ...scanRequest, kernel: edited(scanRequest.kernel, scanEdits, off) })]);
}
const f16 = recordedPasses(planF16);
const f16IntraRequest = f16.requests[0];
const f16ScanRequest = f16.requests.find((r) => r.kernel.name.includes('scan-f16'));
ctx.run([f16.intra, ...f16.scan]);
await time('f16 operands: whole chunk (fused intra, scan, outputs)', () => [f16.intra, ...f16.scan]);
await time('f16 operands: intra (fused split)', () => [f16.intra]);
await time('f16 operands: scan', () => [f16.scan[0]]);
await time('f16 operands: output pass', () => [f16.scan[1]]);
for (const off of [[], ['phaseA'], ['phaseB'], ['phaseA', 'phaseB'], ['stores'], ['maxes'], ['staging'], ['latency'], ['phaseA', 'phaseB', 'stores', 'maxes', 'staging', 'latency']]) {
  await time(`scan-f16 off: ${off.join('+') || 'none'}`, () => [dispatch({ ...f16ScanRequest, kernel: edited(f16ScanRequest.kernel, f16ScanEdits, off) })]);
}
// The production (f16-operand, fused split) intra pass, stage by stage.
for (const off of [[], ['products'], ['step3'], ['cross'], ['diag'], ['cross', 'diag'], ['inverseDiag'], ['inverseRows'], ['inverseDiag', 'inverseRows'],
  ['cross', 'diag', 'inverseDiag', 'inverseRows', 'step3']]) {
  await time(`intra off: ${off.join('+') || 'none'}`, () => [dispatch({ ...f16IntraRequest, kernel: edited(f16IntraRequest.kernel, intraEdits, off) })]);
}
// Other slicings of the same intra pass (the planner shrinks a channel slice that does not fit workgroup memory).
for (const tiles of [{ channelSlice: 8 }, { intraProducts: 'tensor-cores' }]) {
  const p = planKdaChunk(ctx, dk, dv, 64, { scan: emulate ? 'emulated' : 'tensor-cores', scanOperands: 'f16', ...tiles });
  const s = allocKdaChunkScratch(ctx, T, H, dk, dv, p);
  const variant = recordedPasses(p, s);
  await time(`f16 operands: intra ${JSON.stringify(tiles)} (channel slice ${p.channelSlice}, product slice ${p.productSlice})`, () => [variant.intra]);
  freeKdaChunkScratch(ctx, s);
}
process.exit(0);
