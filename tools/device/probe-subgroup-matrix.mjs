// Subgroup-matrix behaviours on the GPU machine, one 16×16×16 f16→f32 product per subgroup, each variant
// checked against the CPU product. Written to find why the tensor-core GEMM's edge tiles and the f16 MLA
// prefill were wrong while whole-tile GEMMs were right: every variant differs from the verified pattern
// (loads from storage or workgroup memory, result stored to storage) in one respect.
// Usage (after `npm run build`): node tools/device/probe-subgroup-matrix.mjs
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { f16BitsToF32, f32ToF16Bits } from '../../dist/engine/gpu/half.js';

const ctx = await GpuContext.create();
const SG = ctx.caps.subgroupSize;
const half = (x) => f16BitsToF32(f32ToF16Bits(x));
const rand = (n) => Float32Array.from({ length: n }, () => half(Math.random() * 2 - 1));

// A and B live in storage with row stride AS (and an element offset AO) so strided loads are exercised too.
const AS = 40, AO = 8;
const A = rand(16 * 16), B = rand(16 * 16);
const expected = new Float32Array(256);
for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) {
  let s = 0;
  for (let k = 0; k < 16; k++) s += A[i * 16 + k] * B[k * 16 + j];
  expected[i * 16 + j] = s;
}
const strided = (m) => { const o = new Float32Array(AO + 16 * AS); for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) o[AO + i * AS + j] = m[i * 16 + j]; return o; };
const transposedStrided = (m) => { const o = new Float32Array(AO + 16 * AS); for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) o[AO + j * AS + i] = m[i * 16 + j]; return o; };

const head = (sgs) => `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
@group(0) @binding(0) var<storage, read> a: array<f16>;
@group(0) @binding(1) var<storage, read> b: array<f16>;
@group(0) @binding(2) var<storage, read> bt: array<f16>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
const SG = ${SG}u;
var<workgroup> wg32: array<f32, ${sgs} * 16 * 24 + 64>;
var<workgroup> wg16: array<f16, ${sgs} * 16 * 24 + 64>;
@compute @workgroup_size(${sgs} * ${SG})
fn main(@builtin(local_invocation_index) li: u32) {
  // Every binding statically used, so the 'auto' layout keeps all four.
  _ = a[0];
  _ = b[0];
  _ = bt[0];
  let sg = li / SG;
  let lane = li % SG;
  let left = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&a, ${AO}u, false, ${AS}u);
  let right = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&b, ${AO}u, false, ${AS}u);
  var c = subgroupMatrixMultiplyAccumulate(left, right, subgroup_matrix_result<f32, 16, 16>());
`;
const copyOut = (stride, offset) => `  workgroupBarrier();
  for (var e = lane; e < 256u; e += SG) { out[sg * 256u + e] = wg32[sg * 16u * ${stride}u + ${offset}u + (e / 16u) * ${stride}u + e % 16u]; }
}`;

const variants = {
  'baseline: result stored to storage': () => `  subgroupMatrixStore(&out, sg * 256u, c, false, 16u);\n}`,
  'right loaded column-major from storage (B^T rows)': () => `  let r2 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&bt, ${AO}u, true, ${AS}u);
  c = subgroupMatrixMultiplyAccumulate(left, r2, subgroup_matrix_result<f32, 16, 16>());
  subgroupMatrixStore(&out, sg * 256u, c, false, 16u);\n}`,
  'result stored to workgroup (stride 16), lanes copy': () => `  subgroupMatrixStore(&wg32, sg * 256u, c, false, 16u);\n${copyOut(16, 0)}`,
  'result stored to workgroup (stride 20, offset 4), lanes copy': () => `  subgroupMatrixStore(&wg32, sg * 16u * 20u + 4u, c, false, 20u);\n${copyOut(20, 4)}`,
  'result to workgroup, loaded back as result, stored to storage': () => `  subgroupMatrixStore(&wg32, sg * 256u, c, false, 16u);
  workgroupBarrier();
  let back = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>>(&wg32, sg * 256u, false, 16u);
  subgroupMatrixStore(&out, sg * 256u, back, false, 16u);\n}`,
  'lanes write A halves one each into workgroup, left loaded from there': () => `  for (var e = lane; e < 256u; e += SG) { wg16[sg * 16u * 24u + (e / 16u) * 24u + e % 16u] = a[${AO}u + (e / 16u) * ${AS}u + e % 16u]; }
  workgroupBarrier();
  let l2 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&wg16, sg * 16u * 24u, false, 24u);
  c = subgroupMatrixMultiplyAccumulate(l2, right, subgroup_matrix_result<f32, 16, 16>());
  subgroupMatrixStore(&out, sg * 256u, c, false, 16u);\n}`,
  'lanes write A halves in pairs into workgroup, left loaded from there': () => `  for (var e = 2u * lane; e < 256u; e += 2u * SG) {
    let at = sg * 16u * 24u + (e / 16u) * 24u + e % 16u;
    wg16[at] = a[${AO}u + (e / 16u) * ${AS}u + e % 16u];
    wg16[at + 1u] = a[${AO}u + (e / 16u) * ${AS}u + e % 16u + 1u];
  }
  workgroupBarrier();
  let l2 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&wg16, sg * 16u * 24u, false, 24u);
  c = subgroupMatrixMultiplyAccumulate(l2, right, subgroup_matrix_result<f32, 16, 16>());
  subgroupMatrixStore(&out, sg * 256u, c, false, 16u);\n}`,
};

const tA = ctx.tensor([AO + 16 * AS], 'f16', 'a', strided(A));
const tB = ctx.tensor([AO + 16 * AS], 'f16', 'b', strided(B));
const tBt = ctx.tensor([AO + 16 * AS], 'f16', 'bt', transposedStrided(B));
console.log(`${ctx.caps.adapterDescription}: subgroup size ${SG}`);
const rows = [];
for (const sgs of [1, 4]) {
  for (const [name, body] of Object.entries(variants)) {
    const out = ctx.tensor([sgs * 256], 'f32', 'out');
    ctx.fill(out, NaN);
    let verdict;
    try {
      ctx.device.pushErrorScope('validation');
      const module = ctx.device.createShaderModule({ code: head(sgs) + body() });
      const pipeline = ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const err = await ctx.device.popErrorScope();
      if (err) throw new Error(err.message.split('\n')[0]);
      const bind = (t, i) => ({ binding: i, resource: { buffer: t.buffer, offset: t.offset, size: t.bytes } });
      const bindGroup = ctx.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [tA, tB, tBt, out].map(bind) });
      ctx.run([{ label: name, pipeline, bindGroup, workgroups: [1, 1, 1] }]);
      const got = await ctx.readF32(out);
      let worst = 0, nan = 0;
      for (let s = 0; s < sgs; s++) for (let e = 0; e < 256; e++) {
        const g = got[s * 256 + e];
        if (!Number.isFinite(g)) nan++;
        else worst = Math.max(worst, Math.abs(g - expected[e]));
      }
      verdict = nan ? `WRONG (${nan} non-finite)` : worst < 1e-2 ? `ok (max abs err ${worst.toExponential(1)})` : `WRONG (max abs err ${worst.toFixed(3)})`;
    } catch (e) {
      verdict = `error: ${e.message}`;
    }
    rows.push(`${sgs} subgroup(s) | ${name} | ${verdict}`);
    ctx.arena.free(out);
  }
}
console.log(rows.join('\n'));
process.exit(0);
