// WGSL generator for probe-gemm-overlap.mjs: complete whole-tile GEMMs out[M, N] = x[M, K] · W[N, K]ᵀ (x f32 or
// f16, W f16, f32 accumulators in 16×16×16 subgroup matrices) in three K-loop schedules:
//  'sync' – the production kernel's schedule: registers fetched one K tile ahead, 2 barriers per tile;
//  'dbuf' – two workgroup tiles: every thread stores tile t+1 into the other buffer before its MMAs on tile t,
//           so one barrier per tile and one warp's stores can run beside another warp's MMAs;
//  'ws'   – warp-specialized: PROD extra subgroups only fetch and store (double-buffered), the SG_M × SG_N
//           compute subgroups only load fragments and multiply; one barrier per tile.
// Fragment offsets are constants: the double-buffered loops handle two K tiles per iteration (K / TK even).
// M, N, K come from a storage buffer (as the production kernel's params) so loop bounds are not folded.

/** Shape of one variant; `threads`, `stagers` and the workgroup bytes follow from it. */
export function variantShape(v, SG) {
  const { TM = 128, TN = 128, TK = 64, SGM = 2, SGN = 4, PAD = 8, mode = 'sync', PROD = 0 } = v;
  const compute = SGM * SGN, threads = (compute + (mode === 'ws' ? PROD : 0)) * SG;
  const stagers = mode === 'ws' ? PROD * SG : threads;
  const bufs = mode === 'sync' ? 1 : 2;
  const ROW_A = TK + PAD, ROW_B = TN + PAD;
  const bytes = 2 * bufs * (TM * ROW_A + TK * ROW_B);
  return { TM, TN, TK, SGM, SGN, PAD, mode, PROD, compute, threads, stagers, bufs, ROW_A, ROW_B, bytes };
}

/** Why this variant cannot run on this shape, or undefined. */
export function variantProblem(v, SG, M, N, K, maxBytes) {
  const s = variantShape(v, SG);
  const Q = s.TK / 4;
  if (s.TM % (16 * s.SGM) || s.TN % (16 * s.SGN) || s.TK % 16) return 'tiles not multiples of 16 per subgroup';
  if (M % s.TM || N % s.TN || K % s.TK) return 'shape not whole tiles';
  if (s.mode !== 'sync' && (K / s.TK) % 2) return 'double buffer needs an even K tile count';
  if ((s.TM * Q) % s.stagers || (s.TN * Q) % s.stagers) return 'staging does not divide over the staging threads';
  if (s.bytes > maxBytes) return `workgroup memory ${s.bytes} > ${maxBytes}`;
  return undefined;
}

export function gemmOverlapShader(v, SG) {
  const s = variantShape(v, SG);
  const { TM, TN, TK, SGM, SGN, mode, compute, threads, stagers, ROW_A, ROW_B } = s;
  const FM = TM / SGM / 16, FN = TN / SGN / 16, Q = TK / 4;
  const A_LOADS = TM * Q / stagers, B_LOADS = TN * Q / stagers;
  const A_SIZE = TM * ROW_A, B_SIZE = TK * ROW_B;
  const XT = v.xf16 ? 'f16' : 'f32';
  const lane = mode === 'ws' ? `(li - ${compute * SG}u)` : 'li';
  const L = 'subgroup_matrix_left<f16, 16, 16>', R = 'subgroup_matrix_right<f16, 16, 16>', C = 'subgroup_matrix_result<f32, 16, 16>';

  // Next K tile from storage into registers (x kept in its storage type until the store, as production does).
  const fetch = (k) => `for (var s = 0u; s < ${A_LOADS}u; s++) { let u = sl + s * ${stagers}u; pa[s] = x[((m0 + u / ${Q}u) * K + ${k} + (u % ${Q}u) * 4u) / 4u]; }
    for (var s = 0u; s < ${B_LOADS}u; s++) { let u = sl + s * ${stagers}u; pb[s] = w[((n0 + u / ${Q}u) * K + ${k} + (u % ${Q}u) * 4u) / 4u]; }`;
  // Registers into workgroup buffer `buf`: x m-major, W k-major (tile_b[k][n]) so the right operand loads row-major.
  const store = (buf) => `for (var s = 0u; s < ${A_LOADS}u; s++) {
      let u = sl + s * ${stagers}u; let at = ${buf * A_SIZE}u + (u / ${Q}u) * ${ROW_A}u + (u % ${Q}u) * 4u;
      let h = vec4<f16>(pa[s]);
      tile_a[at] = h.x; tile_a[at + 1u] = h.y; tile_a[at + 2u] = h.z; tile_a[at + 3u] = h.w;
    }
    for (var s = 0u; s < ${B_LOADS}u; s++) {
      let u = sl + s * ${stagers}u; let at = ${buf * B_SIZE}u + (u % ${Q}u) * ${4 * ROW_B}u + u / ${Q}u;
      tile_b[at] = pb[s].x; tile_b[at + ${ROW_B}u] = pb[s].y; tile_b[at + ${2 * ROW_B}u] = pb[s].z; tile_b[at + ${3 * ROW_B}u] = pb[s].w;
    }`;
  // One K tile of MMAs from buffer `buf`, written out (loops over matrix arrays cost 1.6× in the ablation).
  const mmas = (buf) => {
    const lines = [];
    for (let kk = 0; kk < TK; kk += 16) {
      for (let j = 0; j < FN; j++) lines.push(`let r${kk}_${j} = subgroupMatrixLoad<${R}>(&tile_b, ${buf * B_SIZE + kk * ROW_B}u + sub_n + ${j * 16}u, false, ${ROW_B}u);`);
      for (let i = 0; i < FM; i++) {
        lines.push(`let l${kk}_${i} = subgroupMatrixLoad<${L}>(&tile_a, ${buf * A_SIZE + kk}u + (sub_m + ${i * 16}u) * ${ROW_A}u, false, ${ROW_A}u);`);
        for (let j = 0; j < FN; j++) lines.push(`c${i}_${j} = subgroupMatrixMultiplyAccumulate(l${kk}_${i}, r${kk}_${j}, c${i}_${j});`);
      }
    }
    return `{\n      ${lines.join('\n      ')}\n    }`;
  };

  let loop;
  if (mode === 'sync') {
    loop = `${fetch('0u')}
  for (var k0 = 0u; k0 < K; k0 += ${TK}u) {
    workgroupBarrier();
    ${store(0)}
    workgroupBarrier();
    if (k0 + ${TK}u < K) { ${fetch(`k0 + ${TK}u`)} }
    ${mmas(0)}
  }`;
  } else if (mode === 'dbuf') {
    // Registers always hold the tile after the one being stored, so each load has a K tile of MMAs to land.
    loop = `${fetch('0u')}
  ${store(0)}
  if (${TK}u < K) { ${fetch(`${TK}u`)} }
  workgroupBarrier();
  for (var k0 = 0u; k0 < K; k0 += ${2 * TK}u) {
    ${store(1)}
    if (k0 + ${2 * TK}u < K) { ${fetch(`k0 + ${2 * TK}u`)} }
    ${mmas(0)}
    workgroupBarrier();
    if (k0 + ${2 * TK}u < K) {
      ${store(0)}
      if (k0 + ${3 * TK}u < K) { ${fetch(`k0 + ${3 * TK}u`)} }
    }
    ${mmas(1)}
    workgroupBarrier();
  }`;
  } else {
    // Barriers stay outside the role branches (workgroup-uniform); the branches are subgroup-uniform.
    loop = `let producer = sg >= ${compute}u;
  if (producer) {
    ${fetch('0u')}
    ${store(0)}
    if (${TK}u < K) { ${fetch(`${TK}u`)} }
  }
  workgroupBarrier();
  for (var k0 = 0u; k0 < K; k0 += ${2 * TK}u) {
    if (producer) {
      ${store(1)}
      if (k0 + ${2 * TK}u < K) { ${fetch(`k0 + ${2 * TK}u`)} }
    } else ${mmas(0)}
    workgroupBarrier();
    if (producer) {
      if (k0 + ${2 * TK}u < K) {
        ${store(0)}
        if (k0 + ${3 * TK}u < K) { ${fetch(`k0 + ${3 * TK}u`)} }
      }
    } else ${mmas(1)}
    workgroupBarrier();
  }`;
  }
  const accs = [], stores = [];
  for (let i = 0; i < FM; i++) for (let j = 0; j < FN; j++) {
    accs.push(`var c${i}_${j} = ${C}();`);
    stores.push(`subgroupMatrixStore(&out, (m0 + sub_m + ${i * 16}u) * N + n0 + sub_n + ${j * 16}u, c${i}_${j}, false, N);`);
  }
  const storeOut = mode === 'ws' ? `if (!producer) {\n    ${stores.join('\n    ')}\n  }` : stores.join('\n  ');
  return `enable f16;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
@group(0) @binding(0) var<storage, read> x: array<vec4<${XT}>>;
@group(0) @binding(1) var<storage, read> w: array<vec4<f16>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> dims: array<u32>;
var<workgroup> tile_a: array<f16, ${s.bufs * A_SIZE}>;
var<workgroup> tile_b: array<f16, ${s.bufs * B_SIZE}>;
@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let M = dims[0]; let N = dims[1]; let K = dims[2];
  let m0 = wg.y * ${TM}u; let n0 = wg.x * ${TN}u;
  let sg = li / ${SG}u;
  let cs = min(sg, ${compute - 1}u); // compute subgroup (producers alias the last one; they never multiply)
  let sub_m = (cs / ${SGN}u) * ${TM / SGM}u;
  let sub_n = (cs % ${SGN}u) * ${TN / SGN}u;
  let sl = ${lane};
  _ = M;
  ${accs.join('\n  ')}
  var pa: array<vec4<${XT}>, ${A_LOADS}>;
  var pb: array<vec4<f16>, ${B_LOADS}>;
  ${loop}
  ${storeOut}
}`;
}

/**
 * The same shader with every subgroup-matrix construct replaced by vec4<f32> stand-ins, so a device without
 * subgroup matrices (lavapipe) can still compile the staging, loops and indexing. Checks syntax and types only.
 */
export function withoutSubgroupMatrices(code) {
  return code
    .replace('enable chromium_experimental_subgroup_matrix;\n', '')
    .replace('diagnostic(off, chromium.subgroup_matrix_uniformity);\n', '')
    .replace(/subgroupMatrixLoad<[^(]*>\(&(\w+), ([^,]+), (?:true|false), ([^)]+)\)/g, 'vec4<f32>(f32($1[$2]) + f32($3))')
    .replace(/subgroupMatrixMultiplyAccumulate\(([^,]+), ([^,]+), ([^)]+)\)/g, '($1 * $2 + $3)')
    .replace(/subgroupMatrixStore\(&out, ([^,]+), ([^,]+), false, N\)/g, 'out[$1] = $2.x')
    .replace(/subgroup_matrix_result<f32, 16, 16>\(\)/g, 'vec4<f32>()')
    // Halved workgroup tiles fit lavapipe's 32 KiB; indices are runtime values, so this only changes the limit.
    .replace(/var<workgroup> (\w+): array<f16, (\d+)>/g, (_, name, n) => `var<workgroup> ${name}: array<f16, ${Number(n) / 2}>`);
}

/**
 * The same shader with each subgroup matrix emulated as a 16×16 f32 array that every lane of the subgroup
 * computes whole (slow, exact up to f32 sums): lets lavapipe check the schedules' staging, buffers and barriers.
 */
export function withEmulatedSubgroupMatrices(code) {
  const load = (tile) => `fn load_${tile}(off: u32, stride: u32) -> Mat {
  var m: Mat;
  for (var r = 0u; r < 16u; r++) { for (var c = 0u; c < 16u; c++) { m[r * 16u + c] = f32(${tile}[off + r * stride + c]); } }
  return m;
}`;
  const helpers = `alias Mat = array<f32, 256>;
${load('tile_a')}
${load('tile_b')}
fn mma(a: Mat, b: Mat, c: Mat) -> Mat {
  var o = c;
  for (var r = 0u; r < 16u; r++) {
    for (var n = 0u; n < 16u; n++) {
      var s = 0.0;
      for (var k = 0u; k < 16u; k++) { s += a[r * 16u + k] * b[k * 16u + n]; }
      o[r * 16u + n] += s;
    }
  }
  return o;
}
fn store_out(off: u32, m: Mat, stride: u32) {
  for (var r = 0u; r < 16u; r++) { for (var c = 0u; c < 16u; c++) { out[off + r * stride + c] = m[r * 16u + c]; } }
}
@compute`;
  return code
    .replace('enable chromium_experimental_subgroup_matrix;\n', '')
    .replace('diagnostic(off, chromium.subgroup_matrix_uniformity);\n', '')
    .replace('@compute', helpers)
    .replace(/subgroupMatrixLoad<[^(]*>\(&(\w+), ([^,]+), (?:true|false), ([^)]+)\)/g, 'load_$1($2, $3)')
    .replace(/subgroupMatrixMultiplyAccumulate\(/g, 'mma(')
    .replace(/subgroupMatrixStore\(&out, ([^,]+), ([^,]+), false, N\)/g, 'store_out($1, $2, N)')
    .replace(/subgroup_matrix_result<f32, 16, 16>\(\)/g, 'Mat()');
}
