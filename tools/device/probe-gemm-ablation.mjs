// Which stage holds our tensor-core GEMM at ~30 TFLOP/s when bare MMAs reach 911? This probe generates
// 4096³ GEMM variants that differ in one thing each from a production-like kernel (128×128 tile, TILE_K 32,
// 2×4 subgroups of 4×2 result matrices, A staged through workgroup memory with register prefetch, W read
// straight from storage, accumulators in loop-indexed arrays, a runtime break on partial row tiles) and times
// them with timestamp queries. Variants: the break removed; W staged; MMAs removed (staging alone); staging
// only on the first K tile (MMAs fed from workgroup memory alone); the code unrolled by the generator with
// named accumulators; both operands from storage; larger K tiles. One line per variant: TFLOP/s and ms; the
// production-like variant is also checked against a CPU product on sampled entries.
// Usage (after `npm run build`): node tools/device/probe-gemm-ablation.mjs [size]
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { timeDispatches } from '../../dist/bench/gpu-timer.js';

const ctx = await GpuContext.create();
const SG = ctx.caps.subgroupSize;
const S = Number(process.argv[2] ?? 4096);

/** WGSL for one variant. All shapes are whole tiles here (the probe times the interior path). */
function gemmShader(v) {
  const { TM = 128, TN = 128, TK = 32, SGM = 2, SGN = 4, PAD = 8, PADB = 8, aFeed = 'stage32', bFeed = 'direct',
    style = 'array', brk = true, mma = true, once = false, dbuf = false } = v;
  const FM = TM / SGM / 16, FN = TN / SGN / 16, THREADS = SGM * SGN * SG, ROW = TK + PAD, Q = TK / 4;
  const ROWB = TN + PADB; // row length of a k-major ('stageT') W tile
  const aLoads = TM * Q / THREADS, bLoads = TN * Q / THREADS;
  const A_SIZE = TM * ROW, B_SIZE = bFeed === 'stageT' ? TK * ROWB : TN * ROW, BUFS = dbuf ? 2 : 1;
  const L = 'subgroup_matrix_left<f16, 16, 16>', R = 'subgroup_matrix_right<f16, 16, 16>', C = 'subgroup_matrix_result<f32, 16, 16>';
  const leftAt = (i, kk) => aFeed === 'global'
    ? `subgroupMatrixLoad<${L}>(&a16, (m0 + sub_m + ${i} * 16u) * K + k0 + ${kk}, false, K)`
    : `subgroupMatrixLoad<${L}>(&tile_a, abase + (sub_m + ${i} * 16u) * ${ROW}u + ${kk}, false, ${ROW}u)`;
  const rightAt = (j, kk) => bFeed === 'direct'
    ? `subgroupMatrixLoad<${R}>(&b16, (n0 + sub_n + ${j} * 16u) * K + k0 + ${kk}, true, K)`
    : bFeed === 'stageT'
      ? `subgroupMatrixLoad<${R}>(&tile_b, bbase + ${kk} * ${ROWB}u + sub_n + ${j} * 16u, false, ${ROWB}u)`
      : `subgroupMatrixLoad<${R}>(&tile_b, bbase + (sub_n + ${j} * 16u) * ${ROW}u + ${kk}, true, ${ROW}u)`;
  const staged = (feed) => feed.startsWith('stage');
  // Register prefetch of the next K tile, as the production kernel does.
  const fetchA = (k) => aFeed === 'stage32'
    ? `for (var s = 0u; s < ${aLoads}u; s++) { let u = li + s * ${THREADS}u; pa[s] = vec4<f16>(a32[((m0 + u / ${Q}u) * K + ${k} + (u % ${Q}u) * 4u) / 4u]); }`
    : `for (var s = 0u; s < ${aLoads}u; s++) { let u = li + s * ${THREADS}u; pa[s] = a16v[((m0 + u / ${Q}u) * K + ${k} + (u % ${Q}u) * 4u) / 4u]; }`;
  const fetchB = (k) => `for (var s = 0u; s < ${bLoads}u; s++) { let u = li + s * ${THREADS}u; pb[s] = b16v[((n0 + u / ${Q}u) * K + ${k} + (u % ${Q}u) * 4u) / 4u]; }`;
  const store = (tile, reg, n, base) => `for (var s = 0u; s < ${n}u; s++) {
      let u = li + s * ${THREADS}u; let at = ${base} + (u / ${Q}u) * ${ROW}u + (u % ${Q}u) * 4u;
      ${tile}[at] = ${reg}[s].x; ${tile}[at + 1u] = ${reg}[s].y; ${tile}[at + 2u] = ${reg}[s].z; ${tile}[at + 3u] = ${reg}[s].w;
    }`;
  // W tile stored k-major (tile_b[k][n]) so the right operand loads row-major.
  const storeT = (base) => `for (var s = 0u; s < ${bLoads}u; s++) {
      let u = li + s * ${THREADS}u; let at = ${base} + (u % ${Q}u) * 4u * ${ROWB}u + u / ${Q}u;
      tile_b[at] = pb[s].x; tile_b[at + ${ROWB}u] = pb[s].y; tile_b[at + ${2 * ROWB}u] = pb[s].z; tile_b[at + ${3 * ROWB}u] = pb[s].w;
    }`;
  const stageStores = (which) => {
    let out = '';
    const ab = which === 'next' ? `((t + 1u) & 1u) * ${A_SIZE}u` : '0u', bb = which === 'next' ? `((t + 1u) & 1u) * ${B_SIZE}u` : '0u';
    if (staged(aFeed)) out += store('tile_a', 'pa', aLoads, ab) + '\n';
    if (bFeed === 'stage16') out += store('tile_b', 'pb', bLoads, bb) + '\n';
    if (bFeed === 'stageT') out += storeT(bb) + '\n';
    return out;
  };
  const fetches = (k) => (staged(aFeed) ? fetchA(k) + '\n' : '') + (staged(bFeed) ? fetchB(k) + '\n' : '');
  let first = fetches('0u'), stageBlock = '', afterBody = '';
  const anyStaged = staged(aFeed) || staged(bFeed);
  if (anyStaged && !dbuf) {
    stageBlock = `workgroupBarrier();\n${stageStores('this')}workgroupBarrier();\nlet k1 = k0 + ${TK}u;\nif (k1 < K) {\n${fetches('k1')}}`;
  } else if (anyStaged) {
    // Double buffer: tile t+1 is stored while other subgroups may still read tile t; one barrier per K tile.
    first += `${stageStores('this')}workgroupBarrier();\nif (${TK}u < K) {\n${fetches(`${TK}u`)}}\n`;
    afterBody = `let k1 = k0 + ${TK}u;\nif (k1 < K) {\n${stageStores('next')}let k2 = k1 + ${TK}u;\nif (k2 < K) {\n${fetches('k2')}}\n}\nworkgroupBarrier();`;
  }
  let body = '';
  if (!mma) {
    // Staging alone: no fragment loads either.
  } else if (style === 'array') {
    body = `for (var kk = 0u; kk < ${TK}u; kk += 16u) {
      var right: array<${R}, ${FN}>;
      for (var j = 0u; j < ${FN}u; j++) { right[j] = ${rightAt('j', 'kk')}; }
      for (var i = 0u; i < ${FM}u; i++) {
        ${brk ? 'if (sub_m + i * 16u >= valid) { break; }' : ''}
        let left = ${leftAt('i', 'kk')};
        for (var j = 0u; j < ${FN}u; j++) { acc[i][j] = subgroupMatrixMultiplyAccumulate(left, right[j], acc[i][j]); }
      }
    }`;
  } else {
    const lines = [];
    for (let kk = 0; kk < TK; kk += 16) {
      for (let j = 0; j < FN; j++) lines.push(`let r${kk}_${j} = ${rightAt(`${j}u`, `${kk}u`)};`);
      for (let i = 0; i < FM; i++) {
        lines.push(`let l${kk}_${i} = ${leftAt(`${i}u`, `${kk}u`)};`);
        for (let j = 0; j < FN; j++) lines.push(`c${i}_${j} = subgroupMatrixMultiplyAccumulate(l${kk}_${i}, r${kk}_${j}, c${i}_${j});`);
      }
    }
    body = lines.join('\n');
  }
  const accDecl = style === 'array'
    ? `var acc: array<array<${C}, ${FN}>, ${FM}>;`
    : Array.from({ length: FM * FN }, (_, e) => `var c${Math.floor(e / FN)}_${e % FN} = ${C}();`).join('\n');
  const accAt = (i, j) => style === 'array' ? `acc[${i}][${j}]` : `c${i}_${j}`;
  const stores = [];
  for (let i = 0; i < FM; i++) for (let j = 0; j < FN; j++) {
    stores.push(`subgroupMatrixStore(&out, (m0 + sub_m + ${i * 16}u) * N + n0 + sub_n + ${j * 16}u, ${accAt(i, j)}, false, N);`);
  }
  return `enable f16;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
@group(0) @binding(0) var<storage, read> a32: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> a16v: array<vec4<f16>>;
@group(0) @binding(2) var<storage, read> a16: array<f16>;
@group(0) @binding(3) var<storage, read> b16v: array<vec4<f16>>;
@group(0) @binding(4) var<storage, read> b16: array<f16>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read> dims: array<u32>;
var<workgroup> tile_a: array<f16, ${BUFS * A_SIZE}>;
var<workgroup> tile_b: array<f16, ${bFeed === 'direct' ? 8 : BUFS * B_SIZE}>;
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  _ = a32[0]; _ = a16v[0]; _ = a16[0]; _ = b16v[0]; _ = b16[0]; _ = tile_a[0]; _ = tile_b[0];
  let M = dims[0]; let N = dims[1]; let K = dims[2];
  let m0 = wg.y * ${TM}u; let n0 = wg.x * ${TN}u;
  let valid = min(${TM}u, M - m0);
  let sg = li / ${SG}u;
  let sub_m = (sg / ${SGN}u) * ${TM / SGM}u;
  let sub_n = (sg % ${SGN}u) * ${TN / SGN}u;
  ${accDecl}
  var pa: array<vec4<f16>, ${Math.max(1, aLoads)}>;
  var pb: array<vec4<f16>, ${Math.max(1, bLoads)}>;
  ${first}
  for (var k0 = 0u; k0 < K; k0 += ${TK}u) {
    let t = k0 / ${TK}u;
    let abase = ${dbuf ? `(t & 1u) * ${A_SIZE}u` : '0u'};
    let bbase = ${dbuf ? `(t & 1u) * ${B_SIZE}u` : '0u'};
    ${once && stageBlock ? `if (k0 == 0u) {\n${stageBlock}\n}` : stageBlock}
    ${body}
    ${afterBody}
  }
  ${mma ? '' : `${accAt(0, 0)} = subgroupMatrixMultiplyAccumulate(${leftAt('0u', '0u').replace('k0', '0u').replace('abase', '0u')}, ${rightAt('0u', '0u').replace('k0', '0u').replace('bbase', '0u')}, ${accAt(0, 0)});`}
  ${stores.join('\n  ')}
}`;
}

const ROUND1 = [
  ['production-like (A f32 staged, W from storage, arrays, break)', {}],
  ['W staged, no break', { bFeed: 'stage16', brk: false }],
  ['staging only (no MMA)', { mma: false }],
  ['unrolled, W staged, first tile only', { style: 'named', bFeed: 'stage16', once: true }],
  ['no pad (ROW = TILE_K), unrolled, W staged', { PAD: 0, style: 'named', bFeed: 'stage16' }],
];
const U = { style: 'named' };
const ROUND2 = [
  ['TK64 unrolled, W storage', { ...U, TK: 64 }],
  ['TK64 unrolled, W storage, A f16', { ...U, TK: 64, aFeed: 'stage16' }],
  ['TK128 unrolled, W storage', { ...U, TK: 128 }],
  ['TK128 unrolled, W storage, A f16', { ...U, TK: 128, aFeed: 'stage16' }],
  ['TK64 unrolled, W storage, double-buffered A', { ...U, TK: 64, dbuf: true }],
  ['TK64 unrolled, W staged k-major', { ...U, TK: 64, bFeed: 'stageT' }],
  ['TK32 unrolled, W staged, double-buffered', { ...U, TK: 32, bFeed: 'stage16', dbuf: true }],
  ['TK32 unrolled, W staged k-major, double-buffered', { ...U, TK: 32, bFeed: 'stageT', dbuf: true }],
  ['TK64 2×2 subgroups of 4×4 frags, W storage', { ...U, TK: 64, SGN: 2 }],
  ['TK128 2×2 subgroups of 4×4 frags, W storage', { ...U, TK: 128, SGN: 2 }],
  ['TK32 2×2 subgroups of 4×4 frags, W k-major, double-buffered', { ...U, TK: 32, SGN: 2, bFeed: 'stageT', dbuf: true }],
  ['first tile only, 2×2 subgroups of 4×4 frags, TK64, W staged', { ...U, TK: 64, SGN: 2, bFeed: 'stage16', once: true }],
  ['first tile only, 2×4 subgroups, TK64, W staged', { ...U, TK: 64, bFeed: 'stage16', once: true }],
  ['first tile only, 2×4 subgroups, TK64, W k-major', { ...U, TK: 64, bFeed: 'stageT', once: true }],
  ['TK64 W storage, 64×128 tile 1×4 subgroups', { ...U, TK: 64, TM: 64, SGM: 1 }],
  ['TK128 W storage, 128×64 tile 2×2 subgroups (4×2 frags)', { ...U, TK: 128, TN: 64, SGN: 2 }],
];
const KM = { style: 'named', TK: 64, bFeed: 'stageT' };
const ROUND3 = [
  ['R3 TK64 W k-major, 2×4 subgroups (4×2 frags)', KM],
  ['R3 same, loop arrays, no break', { ...KM, style: 'array', brk: false }],
  ['R3 same, loop arrays, break', { ...KM, style: 'array', brk: true }],
  ['R3 same, A f16', { ...KM, aFeed: 'stage16' }],
  ['R3 64×128 tile, 1×4 subgroups', { ...KM, TM: 64, SGM: 1 }],
  ['R3 128×128, 4×4 subgroups (2×2 frags)', { ...KM, SGM: 4, SGN: 4 }],
  ['R3 128×128, 2×2 subgroups (4×4 frags)', { ...KM, SGN: 2 }],
  ['R3 TK32', { ...KM, TK: 32 }],
  ['R3 64×64 tile, 2×2 subgroups', { ...KM, TM: 64, TN: 64, SGN: 2 }],
  ['R3 pads 16', { ...KM, PAD: 16, PADB: 16 }],
  ['R3 128×64 tile, 2×2 subgroups (4×2 frags)', { ...KM, TN: 64, SGN: 2 }],
  ['R3 64×128 tile, 2×2 subgroups (2×4 frags)', { ...KM, TM: 64, SGN: 2 }],
];
const variants = process.env.ROUND === '3' ? ROUND3 : process.env.ROUND === '1' ? ROUND1 : process.env.ROUND === 'all' ? [...ROUND1, ...ROUND2] : ROUND2;

const half = (n, seed) => { let s = seed; return Float32Array.from({ length: n }, () => { s = (s * 1103515245 + 12345) >>> 0; return ((s >>> 8) / 2 ** 24 - 0.5) * 0.5; }); };
const aVals = half(S * S, 1), bVals = half(S * S, 2);
const A32 = ctx.tensor([S * S], 'f32', 'a32', aVals);
const A16 = ctx.tensor([S * S], 'f16', 'a16', aVals);
const B16 = ctx.tensor([S * S], 'f16', 'b16', bVals);
const OUT = ctx.tensor([S * S], 'f32', 'out');
const DIMS = ctx.tensor([4], 'u32', 'dims', new Uint32Array([S, S, S, 0]));
const bind = (t, i) => ({ binding: i, resource: { buffer: t.buffer, offset: t.offset, size: t.bytes } });
const a16Host = await ctx.read(A16), b16Host = await ctx.read(B16);
console.log(`${ctx.caps.adapterDescription}: subgroup ${SG}, ${S}³, workgroup storage limit ${ctx.caps.maxWorkgroupStorageBytes}`);
// Clocks ramp up under load: the first variant used to time low. Keep the GPU busy ~2 s before the first timing,
// and time the whole list PASSES times (order effects and other tenants show up as disagreement).
const PASSES = Number(process.env.PASSES ?? 2);
let warmed = false;
for (let pass = 0; pass < PASSES; pass++) for (const [name, v] of variants) {
  let verdict;
  try {
    ctx.device.pushErrorScope('validation');
    const module = ctx.device.createShaderModule({ code: gemmShader(v) });
    const pipeline = ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const err = await ctx.device.popErrorScope();
    if (err) throw new Error(err.message.split('\n').filter((l) => /error/.test(l))[0] ?? err.message.slice(0, 200));
    const bindGroup = ctx.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [A32, A16, A16, B16, B16, OUT, DIMS].map(bind) });
    const TM = v.TM ?? 128, TN = v.TN ?? 128;
    const spec = { label: name, pipeline, bindGroup, workgroups: [S / TN, S / TM, 1] };
    if (!warmed) { const t0 = performance.now(); while (performance.now() - t0 < 2000) { ctx.run([spec]); await ctx.sync(); } warmed = true; }
    const t = await timeDispatches(ctx, [spec], { inner: 3, outer: 7 });
    verdict = `${(2 * S ** 3 / t.ms / 1e9).toFixed(1)} TFLOP/s (${t.ms.toFixed(3)} ms, best ${t.bestMs.toFixed(3)}, ${t.method})`;
    if (v.mma !== false && !v.once) verdict += ` maxRelErr ${(await sampledError()).toExponential(2)}`;
  } catch (e) {
    verdict = `error: ${String(e.message ?? e).slice(0, 300)}`;
  }
  console.log(`gemm-ablation | pass ${pass} | ${name} | ${verdict}`);
}

/** Largest relative error of 64 sampled outputs against an f64 product of the f16-rounded operands. */
async function sampledError() {
  const out = await ctx.read(OUT);
  let worst = 0;
  for (let e = 0; e < 64; e++) {
    const m = (e * 977) % S, n = (e * 1511 + 7) % S;
    let ref = 0, scale = 0;
    for (let k = 0; k < S; k++) {
      const p = a16Host[m * S + k] * b16Host[n * S + k];
      ref += p; scale += Math.abs(p);
    }
    const err = Math.abs(out[m * S + n] - ref) / Math.max(scale, 1e-30);
    worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
  }
  return worst;
}
process.exit(0);
