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
// Runtime copies of the constants (offset, stride, 1, 0), so variants can use values the compiler cannot fold.
@group(0) @binding(4) var<storage, read> dims: array<u32>;
const SG = ${SG}u;
var<workgroup> wg32: array<f32, ${sgs} * 16 * 24 + 64>;
var<workgroup> wg16: array<f16, ${sgs} * 16 * 24 + 64>;
var<workgroup> flag: u32;
var<workgroup> flagArray: array<u32, 1>;
var<workgroup> flagAtomic: atomic<u32>;
var<workgroup> flagAtomicArray: array<atomic<u32>, 2>;
@compute @workgroup_size(${sgs} * ${SG})
fn main(@builtin(local_invocation_index) li: u32) {
  // Every binding statically used, so the 'auto' layout keeps all four.
  _ = a[0];
  _ = b[0];
  _ = bt[0];
  _ = dims[0];
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
  // The two kernels that fail both coop-load f16 from one workgroup array and coop-store f32 to another.
  'mixed: left from workgroup f16, result stored to workgroup f32, lanes copy': () => `  for (var e = lane; e < 256u; e += SG) { wg16[sg * 16u * 24u + (e / 16u) * 24u + e % 16u] = a[${AO}u + (e / 16u) * ${AS}u + e % 16u]; }
  workgroupBarrier();
  let l2 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&wg16, sg * 16u * 24u, false, 24u);
  c = subgroupMatrixMultiplyAccumulate(l2, right, subgroup_matrix_result<f32, 16, 16>());
  subgroupMatrixStore(&wg32, sg * 256u, c, false, 16u);
${copyOut(16, 0)}`,
  'mixed, f32 store first: result of storage operands to workgroup f32, then left from workgroup f16': () => `  subgroupMatrixStore(&wg32, sg * 256u, c, false, 16u);
  workgroupBarrier();
  for (var e = lane; e < 256u; e += SG) { wg16[sg * 16u * 24u + (e / 16u) * 24u + e % 16u] = a[${AO}u + (e / 16u) * ${AS}u + e % 16u]; }
  workgroupBarrier();
  let l2 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&wg16, sg * 16u * 24u, false, 24u);
  let c2 = subgroupMatrixMultiplyAccumulate(l2, right, subgroup_matrix_result<f32, 16, 16>());
  for (var e = lane; e < 256u; e += SG) { wg32[sg * 256u + e] -= 0.0; }
  subgroupMatrixStore(&out, sg * 256u, c2, false, 16u);
}`,
  'mixed, lanes touch both: wg32 written by lanes, left from workgroup f16': () => `  for (var e = lane; e < 256u; e += SG) { wg32[sg * 256u + e] = 1.0; wg16[sg * 16u * 24u + (e / 16u) * 24u + e % 16u] = a[${AO}u + (e / 16u) * ${AS}u + e % 16u]; }
  workgroupBarrier();
  let l2 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&wg16, sg * 16u * 24u, false, 24u);
  c = subgroupMatrixMultiplyAccumulate(l2, right, subgroup_matrix_result<f32, 16, 16>());
  subgroupMatrixStore(&out, sg * 256u, c, false, 16u);
}`,
  // The MLA kernel's third workgroup variable (a u32 written by one lane, read back uniformly).
  'mixed + a u32 workgroup variable: left from workgroup f16, result to workgroup f32, lanes copy': () => `  if (lane == 0u) { flag = 1u; }
  for (var e = lane; e < 256u; e += SG) { wg16[sg * 16u * 24u + (e / 16u) * 24u + e % 16u] = a[${AO}u + (e / 16u) * ${AS}u + e % 16u]; }
  let f = workgroupUniformLoad(&flag);
  let l2 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&wg16, sg * 16u * 24u, false, 24u);
  c = subgroupMatrixMultiplyAccumulate(l2, right, subgroup_matrix_result<f32, 16, 16>());
  subgroupMatrixStore(&wg32, sg * 256u, c, false, 16u);
  workgroupBarrier();
  for (var e = lane; e < 256u; e += SG) { out[sg * 256u + e] = wg32[sg * 256u + e] * f32(f); }
}`,
  'result to workgroup f32 + a u32 workgroup variable, lanes copy': () => `  if (lane == 0u) { flag = 1u; }
  let f = workgroupUniformLoad(&flag);
  subgroupMatrixStore(&wg32, sg * 256u, c, false, 16u);
  workgroupBarrier();
  for (var e = lane; e < 256u; e += SG) { out[sg * 256u + e] = wg32[sg * 256u + e] * f32(f); }
}`,
  'result to workgroup f32 + a one-element u32 array': () => `  if (lane == 0u) { flagArray[0] = 1u; }
  let f = workgroupUniformLoad(&flagArray[0]);
  subgroupMatrixStore(&wg32, sg * 256u, c, false, 16u);
  workgroupBarrier();
  for (var e = lane; e < 256u; e += SG) { out[sg * 256u + e] = wg32[sg * 256u + e] * f32(f); }
}`,
  'result to workgroup f32 + an atomic u32': () => `  if (lane == 0u) { atomicStore(&flagAtomic, 1u); }
  workgroupBarrier();
  let f = atomicLoad(&flagAtomic);
  subgroupMatrixStore(&wg32, sg * 256u, c, false, 16u);
  workgroupBarrier();
  for (var e = lane; e < 256u; e += SG) { out[sg * 256u + e] = wg32[sg * 256u + e] * f32(f); }
}`,
  'result to workgroup f32 + an array of two atomics': () => `  if (lane == 0u) { atomicStore(&flagAtomicArray[1], 1u); }
  workgroupBarrier();
  let f = atomicLoad(&flagAtomicArray[1]);
  subgroupMatrixStore(&wg32, sg * 256u, c, false, 16u);
  workgroupBarrier();
  for (var e = lane; e < 256u; e += SG) { out[sg * 256u + e] = wg32[sg * 256u + e] * f32(f); }
}`,
  'result to workgroup f32 + flag in the f32 array tail (the MLA fix)': () => `  if (lane == 0u) { wg32[400u] = 1.0; }
  let f = workgroupUniformLoad(&wg32[400u]);
  subgroupMatrixStore(&wg32, sg * 256u, c, false, 16u);
  workgroupBarrier();
  for (var e = lane; e < 256u; e += SG) { out[sg * 256u + e] = wg32[sg * 256u + e] * f; }
}`,
  // Steps of the MLA prefill, one at a time, with runtime offsets and strides.
  'runtime offset and stride (from a buffer) for storage loads': () => `  let l3 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&a, dims[0], false, dims[1]);
  let r3 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&b, dims[0], false, dims[1]);
  c = subgroupMatrixMultiplyAccumulate(l3, r3, subgroup_matrix_result<f32, 16, 16>());
  subgroupMatrixStore(&out, sg * 256u, c, false, 16u);\n}`,
  'accumulator array, runtime-bound loop (1 trip), dynamic index': () => `  var acc: array<subgroup_matrix_result<f32, 16, 16>, 2>;
  for (var e = 0u; e < 2u; e++) { acc[e] = subgroup_matrix_result<f32, 16, 16>(); }
  for (var t = 0u; t < dims[2]; t++) {
    for (var e = 0u; e < 2u; e++) { acc[e] = subgroupMatrixMultiplyAccumulate(left, right, acc[e]); }
  }
  subgroupMatrixStore(&out, sg * 256u, acc[dims[3]], false, 16u);\n}`,
  'MLA P·V step: lanes 0..15 write one row each (wg16 stride 24), result via wg32 stride 20, lanes 0..15 copy rows': () => `  if (lane < 16u) {
    for (var col = 0u; col < 16u; col++) { wg16[(sg * 16u + lane) * 24u + col] = a[dims[0] + lane * dims[1] + col]; }
  }
  workgroupBarrier();
  let pf = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&wg16, sg * 16u * 24u, false, 24u);
  var o: array<subgroup_matrix_result<f32, 16, 16>, 1>;
  o[0] = subgroup_matrix_result<f32, 16, 16>();
  for (var t = 0u; t < dims[2]; t++) {
    let vf = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&b, dims[0] + t * 16u * dims[1], false, dims[1]);
    o[0] = subgroupMatrixMultiplyAccumulate(pf, vf, o[0]);
  }
  subgroupMatrixStore(&wg32, sg * 16u * 20u, o[0], false, 20u);
  workgroupBarrier();
  if (lane < 16u) {
    for (var col = 0u; col < 16u; col++) { out[sg * 256u + lane * 16u + col] = wg32[(sg * 16u + lane) * 20u + col]; }
  }
}`,
};

const tA = ctx.tensor([AO + 16 * AS], 'f16', 'a', strided(A));
const tB = ctx.tensor([AO + 16 * AS], 'f16', 'b', strided(B));
const tDims = ctx.tensor([4], 'u32', 'dims', new Uint32Array([AO, AS, 1, 0]));
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
      const bindGroup = ctx.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [tA, tB, tBt, out, tDims].map(bind) });
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
