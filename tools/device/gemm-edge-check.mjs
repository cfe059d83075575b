// Device-side twin of test/kernels/tensor-core-linalg.test.ts's tensor-core cases (vitest does not fit the
// device pack): every tile variant at random M, N (partial tiles) and odd K, through makeLinear's
// own decision too, against the f64 reference of f16-rounded operands.
// Usage (after `npm run build`): node tools/device/gemm-edge-check.mjs
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { TENSOR_CORE_VARIANTS, makeTensorCoreLinear, probeTensorCoreGemm, tensorCoreLinearReference } from '../../dist/kernels/linalg/gemm-subgroup-matrix.js';
import { makeLinear } from '../../dist/kernels/linalg/matmul.js';

const ctx = await GpuContext.create();
const choice = await probeTensorCoreGemm(ctx);
console.log(`path: ${choice.path}${choice.reason ? ` (${choice.reason})` : ''}`);
const ri = (a, b) => a + Math.floor(Math.random() * (b - a + 1));
const rnd = (n) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
function relErr(a, b) { let d = 0, r = 1e-6; for (let i = 0; i < b.length; i++) { const e = Math.abs(a[i] - b[i]); d = Number.isNaN(e) ? Infinity : Math.max(d, e); r = Math.max(r, Math.abs(b[i])); } return d / r; }
async function check(name, M, N, K, build) {
  const x = rnd(M * K), w = rnd(N * K);
  const out = ctx.tensor([M, N], 'f32', 'out');
  ctx.fill(out, NaN);
  const specs = build(ctx.tensor([M, K], 'f32', 'x', x), ctx.tensor([N, K], 'f16', 'w', w), out);
  ctx.run(specs);
  const e = relErr(await ctx.readF32(out), tensorCoreLinearReference(x, w, M, N, K));
  console.log(`${e < 2e-5 ? 'PASS' : 'FAIL'} ${name} M=${M} N=${N} K=${K} kernel=${specs[0].label} relErr=${e.toExponential(2)}`);
}
if (choice.path === 'subgroup-matrix') {
  for (const [name, tiles] of Object.entries(TENSOR_CORE_VARIANTS)) {
    for (let n = 0; n < 2; n++) {
      const M = ri(1, 3 * tiles.TILE_M), N = ri(1, 2 * tiles.TILE_N), K = n ? ri(40, 200) | 1 : 16 * ri(3, 12);
      await check(name, M, N, K, (x, w, out) => makeTensorCoreLinear(ctx, x, w, out, choice, tiles));
    }
  }
  // The engine's own decision (makeLinear) at prefill-like shapes: a last piece of odd length.
  for (const [M, N, K] of [[200, 2304, 2304], [1000, 4096, 2304], [129, 1024, 2304], [300, 72, 2304], [640, 2304, 72]]) {
    await check('makeLinear', M, N, K, (x, w, out) => makeLinear(ctx, x, w, out));
  }
}
await ctx.device.queue.onSubmittedWorkDone();
process.exit(0);
