// Where is the tensor-core ceiling through Dawn → Vulkan cooperative matrices? Our GEMM and MLA prefill sit at
// 25–30 TFLOP/s whatever the tiling, so this probe times the pieces alone: MMAs on register-resident fragments
// (the ceiling; identical chains get merged by the compiler, so it is not timed), then MMAs fed by workgroup-memory loads and by storage loads, for each f16 config the adapter
// lists. Each variant keeps 8 independent accumulators per subgroup so the MMA latency is hidden.
// Usage (after `npm run build`): node tools/device/probe-mma-throughput.mjs [iterations] [feed,feed,…]
import { GpuContext } from '../../dist/engine/gpu/context.js';

const ctx = await GpuContext.create();
const SG = ctx.caps.subgroupSize;
const ITER = Number(process.argv[2] ?? 4096);
const SUBGROUPS = 4, ACC = 8;

// [name, left type, right type, result type, M, N, K]
const configs = [
  // (f16→f16 results fail to compile with this Dawn's deprecated-builtin diagnostics; the engine uses f32 results.)
  ['16x16x16 f16→f32', 'subgroup_matrix_left<f16, 16, 16>', 'subgroup_matrix_right<f16, 16, 16>', 'subgroup_matrix_result<f32, 16, 16>', 16, 16, 16],
  ['16x8x16 f16→f32', 'subgroup_matrix_left<f16, 16, 16>', 'subgroup_matrix_right<f16, 8, 16>', 'subgroup_matrix_result<f32, 8, 16>', 16, 8, 16],
];

const accNames = Array.from({ length: ACC }, (_, i) => `c${i}`);
// feed: how the operands of each step arrive. 'regs' loads once; 'workgroup' and 'storage' load per step from an
// offset that depends on the trip count, so the compiler cannot hoist the loads out of the loop.
function shader(cfg, feed) {
  const [, L, R, C] = cfg;
  const load = (type, src, at) => `subgroupMatrixLoad<${type}>(&${src}, ${at}, false, 16u)`;
  // Accumulators held in an array indexed by loop counters, as the GEMM and MLA kernels do ('array'), and the
  // same with a runtime early exit like the GEMM's partial-tile break ('array-break').
  const arrayStep = (brk) => `    let base = (t & 7u) * 512u + sg * 64u;
    for (var i = 0u; i < ${ACC}u; i++) {
      ${brk ? 'if (i >= dims[2]) { break; }' : ''}
      acc[i] = subgroupMatrixMultiplyAccumulate(${load(L, 'wl', 'base + (i % 4u) * 16u')}, ${load(R, 'wr', 'base + (i / 4u) * 16u')}, acc[i]);
    }`;
  if (feed.startsWith('array')) {
    return preamble(cfg) + `  var acc: array<${C}, ${ACC}>;
  for (var t = 0u; t < dims[0]; t++) {
${arrayStep(feed === 'array-break')}
  }
  var c0 = acc[0];
  for (var i = 1u; i < ${ACC}u; i++) { c0 = subgroupMatrixMultiplyAccumulate(l, r, acc[i]); }
  if (dims[1] == 12345u) { subgroupMatrixStore(&out, (wg.x * ${SUBGROUPS}u + sg) * 256u, c0, false, 16u); }
}`;
  }
  // 'workgroup-lt' / 'workgroup-rt': the left / right operand loaded column-major (transpose = true), as the
  // flash prefill loads Kᵀ; both at the padded row stride 40 the staged tiles use, against 'workgroup-40'.
  // 'workgroup-sN': plain loads at row stride N halves.
  const wg = feed.startsWith('workgroup');
  const stride = feed === 'workgroup' ? 16 : feed.startsWith('workgroup-s') ? Number(feed.slice(11)) : 40;
  const wload = (type, src, at, t) => `subgroupMatrixLoad<${type}>(&${src}, ${at}, ${t}, ${stride}u)`;
  const step = feed === 'regs'
    ? accNames.map((c) => `    ${c} = subgroupMatrixMultiplyAccumulate(l, r, ${c});`).join('\n')
    : `    let base = (t & 7u) * ${wg && stride > 16 ? 16 : 512}u + sg * 64u;\n` + accNames.map((c, i) => wg
      ? `    ${c} = subgroupMatrixMultiplyAccumulate(${wload(L, 'wl', `base + ${(i % 4) * 16}u`, feed === 'workgroup-lt')}, ${wload(R, 'wr', `base + ${(i >> 2) * 16}u`, feed === 'workgroup-rt')}, ${c});`
      : `    ${c} = subgroupMatrixMultiplyAccumulate(${load(L, 'a', `base + ${(i % 4) * 16}u`)}, ${load(R, 'b', `base + ${(i >> 2) * 16}u`)}, ${c});`).join('\n');
  return preamble(cfg) + `${accNames.map((c) => `  var ${c} = ${C}();`).join('\n')}
  for (var t = 0u; t < dims[0]; t++) {
${step}
  }
  // Sum the accumulators so none is dead code; one store per subgroup.
${accNames.slice(1).map((c) => `  c0 = subgroupMatrixMultiplyAccumulate(l, r, ${c});`).join('\n')}
  if (dims[1] == 12345u) { subgroupMatrixStore(&out, (wg.x * ${SUBGROUPS}u + sg) * 256u, c0, false, 16u); }
}`;
}

function preamble(cfg) {
  const [, L, R] = cfg;
  const load = (type, src, at) => `subgroupMatrixLoad<${type}>(&${src}, ${at}, false, 16u)`;
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
@group(0) @binding(0) var<storage, read> a: array<f16>;
@group(0) @binding(1) var<storage, read> b: array<f16>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> dims: array<u32>;
var<workgroup> wl: array<f16, 8192>;
var<workgroup> wr: array<f16, 8192>;
@compute @workgroup_size(${SUBGROUPS * SG})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  _ = out[0];
  let sg = li / ${SG}u;
  for (var e = li; e < 8192u; e += ${SUBGROUPS * SG}u) { wl[e] = a[e]; wr[e] = b[e]; }
  workgroupBarrier();
  let l = ${load(L, 'a', 'sg * 16u')};
  let r = ${load(R, 'b', 'sg * 16u')};
`;
}

const rand = (n) => Float32Array.from({ length: n }, () => Math.random() * 0.01);
const tA = ctx.tensor([8192], 'f16', 'a', rand(8192));
const tB = ctx.tensor([8192], 'f16', 'b', rand(8192));
const groups = 132 * 16;
const tOut = ctx.tensor([groups * SUBGROUPS * 256], 'f32', 'out');
const tDims = ctx.tensor([4], 'u32', 'dims', new Uint32Array([ITER, 0, ACC, 0]));
console.log(`${ctx.caps.adapterDescription}: subgroup size ${SG}, ${groups} workgroups × ${SUBGROUPS} subgroups, ${ITER} steps × ${ACC} MMAs`);
for (const cfg of configs) {
  for (const feed of (process.argv[3] ?? 'workgroup,workgroup-40,workgroup-lt,workgroup-rt,storage,array,array-break').split(',')) {
    let verdict;
    try {
      ctx.device.pushErrorScope('validation');
      const module = ctx.device.createShaderModule({ code: shader(cfg, feed) });
      const pipeline = ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const err = await ctx.device.popErrorScope();
      if (err) throw new Error(err.message.split('\n').filter((l) => /error/.test(l))[0] ?? err.message.slice(0, 200));
      const bind = (t, i) => ({ binding: i, resource: { buffer: t.buffer, offset: t.offset, size: t.bytes } });
      const bindGroup = ctx.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [tA, tB, tOut, tDims].map(bind) });
      const spec = { label: feed, pipeline, bindGroup, workgroups: [groups, 1, 1] };
      ctx.run([spec]); await ctx.sync();
      const times = [];
      for (let rep = 0; rep < 3; rep++) {
        const t0 = performance.now(); ctx.run([spec]); await ctx.sync(); times.push(performance.now() - t0);
      }
      const ms = Math.min(...times);
      const [, , , , M, N, K] = cfg;
      const flop = groups * SUBGROUPS * ITER * ACC * 2 * M * N * K;
      verdict = `${(flop / ms / 1e9).toFixed(1)} TFLOP/s (${ms.toFixed(2)} ms)`;
    } catch (e) {
      verdict = `error: ${e.message}`;
    }
    console.log(`mma-probe | ${cfg[0]} | ${feed} | ${verdict}`);
  }
}
process.exit(0);
