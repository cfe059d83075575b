// Tensor-core GEMM through chromium-experimental-subgroup-matrix: out[m, col_offset + n] = Σ_k x[src(m), k] · W[n, k].
// x is f32 (the engine's activations) rounded to f16 while staging; W is f16; products accumulate in f32
// result matrices (M16 N16 K16 f16→f32). MOE/GATHER as in matmul.wgsl (sort-and-pad rows, one expert per tile).
// One workgroup owns a TILE_M × TILE_N output tile; its SG_M × SG_N subgroups each own (TILE_M/SG_M) ×
// (TILE_N/SG_N) outputs as a grid of 16×16 result matrices. x is staged in workgroup memory (it may be gathered
// and must be converted); W is staged too, or with W_DIRECT read by subgroupMatrixLoad straight from the
// weight buffer (as a K×N matrix, W[n, k] is column-major with stride K). The next K tile's global loads are
// issued before the current tile is multiplied (register prefetch).
enable f16;
enable chromium_experimental_subgroup_matrix;
// Subgroup index comes from local_invocation_index (NVIDIA and Mesa lay subgroups out linearly); the
// subgroup-matrix calls sit in subgroup-uniform control flow, which the analysis cannot see.
diagnostic(off, chromium.subgroup_matrix_uniformity);

#include "linear-bindings.part.wgsl"
#if VEC4
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
#endif
#if W_DIRECT
@group(0) @binding(2) var<storage, read> w: array<f16>;
#else
#if VEC4
@group(0) @binding(2) var<storage, read> w: array<vec4<f16>>;
#else
@group(0) @binding(2) var<storage, read> w: array<f16>;
#endif
#endif

const TILE_M = {{TILE_M}}u;
const TILE_N = {{TILE_N}}u;
const TILE_K = {{TILE_K}}u;
const SG_M = {{SG_M}}u;
const SG_N = {{SG_N}}u;
const SG = {{SUBGROUP_SIZE}}u;
const ROW = TILE_K + {{PAD}}u;
const FRAG_M = TILE_M / SG_M / 16u;
const FRAG_N = TILE_N / SG_N / 16u;
const THREADS = SG_M * SG_N * SG;
const QUADS = TILE_K / 4u; // 4-wide column groups per staged row
const A_LOADS = TILE_M * QUADS / THREADS;
// Names tile-rows.part.wgsl reads.
const TILE_ROWS = TILE_M;
const ROW_LOADS = A_LOADS;
const STAGE_PER_ROW = QUADS;
const B_LOADS = TILE_N * QUADS / THREADS;

var<workgroup> tile_a: array<f16, TILE_M * ROW>;
#if W_DIRECT
#else
var<workgroup> tile_b: array<f16, TILE_N * ROW>;
#endif
// Edge tiles go out through a per-subgroup 16×16 f32 scratch so stores can be bounds-checked per element.
var<workgroup> edge: array<f32, SG_M * SG_N * 256u>;

// Four x values of row src_row from column k (zeros past K or for padding rows).
fn load_x4(src_row: u32, k: u32) -> vec4<f32> {
  if (src_row == NONE) { return vec4<f32>(0.0); }
#if VEC4
  // K and x_stride are multiples of 4 here, so k < K covers all four.
  if (k >= params.K) { return vec4<f32>(0.0); }
  return x[(src_row * params.x_stride + k) / 4u];
#else
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (k + c < params.K) { v[c] = x[src_row * params.x_stride + k + c]; }
  }
  return v;
#endif
}

#if W_DIRECT
#else
fn load_w4(w_base: u32, n: u32, k: u32) -> vec4<f16> {
  if (n >= params.N) { return vec4<f16>(0.0); }
#if VEC4
  if (k >= params.K) { return vec4<f16>(0.0); }
  return w[(w_base + n * params.K + k) / 4u];
#else
  var v = vec4<f16>(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (k + c < params.K) { v[c] = w[w_base + n * params.K + k + c]; }
  }
  return v;
#endif
}
#endif

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * TILE_M;
  let n0 = wg.x * TILE_N;
  if (m0 >= params.M) { return; }
#include "tile-rows.part.wgsl"
  let sg = li / SG;
  let sub_m = (sg / SG_N) * (TILE_M / SG_M);
  let sub_n = (sg % SG_N) * (TILE_N / SG_N);

  var acc: array<array<subgroup_matrix_result<f32, 16, 16>, FRAG_N>, FRAG_M>;
  for (var i = 0u; i < FRAG_M; i++) {
    for (var j = 0u; j < FRAG_N; j++) { acc[i][j] = subgroup_matrix_result<f32, 16, 16>(); }
  }
  var pa: array<vec4<f32>, A_LOADS>;
  for (var s = 0u; s < A_LOADS; s++) { pa[s] = load_x4(src[s], ((li + s * THREADS) % QUADS) * 4u); }
#if W_DIRECT
#else
  var pb: array<vec4<f16>, B_LOADS>;
  for (var s = 0u; s < B_LOADS; s++) {
    let u = li + s * THREADS;
    pb[s] = load_w4(w_base, n0 + u / QUADS, (u % QUADS) * 4u);
  }
#endif

  for (var k0 = 0u; k0 < params.K; k0 += TILE_K) {
    workgroupBarrier();
    for (var s = 0u; s < A_LOADS; s++) {
      let u = li + s * THREADS;
      let at = (u / QUADS) * ROW + (u % QUADS) * 4u;
      let h = vec4<f16>(pa[s]);
      tile_a[at] = h.x; tile_a[at + 1u] = h.y; tile_a[at + 2u] = h.z; tile_a[at + 3u] = h.w;
    }
#if W_DIRECT
#else
    for (var s = 0u; s < B_LOADS; s++) {
      let u = li + s * THREADS;
      let at = (u / QUADS) * ROW + (u % QUADS) * 4u;
      tile_b[at] = pb[s].x; tile_b[at + 1u] = pb[s].y; tile_b[at + 2u] = pb[s].z; tile_b[at + 3u] = pb[s].w;
    }
#endif
    workgroupBarrier();
    let k1 = k0 + TILE_K;
    if (k1 < params.K) {
      for (var s = 0u; s < A_LOADS; s++) { pa[s] = load_x4(src[s], k1 + ((li + s * THREADS) % QUADS) * 4u); }
#if W_DIRECT
#else
      for (var s = 0u; s < B_LOADS; s++) {
        let u = li + s * THREADS;
        pb[s] = load_w4(w_base, n0 + u / QUADS, k1 + (u % QUADS) * 4u);
      }
#endif
    }
    for (var kk = 0u; kk < TILE_K; kk += 16u) {
      var right: array<subgroup_matrix_right<f16, 16, 16>, FRAG_N>;
      for (var j = 0u; j < FRAG_N; j++) {
#if W_DIRECT
        right[j] = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(
          &w, w_base + (n0 + sub_n + j * 16u) * params.K + k0 + kk, true, params.K);
#else
        // B tile rows are output columns: as a K×N matrix it is column-major with stride ROW.
        right[j] = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&tile_b, (sub_n + j * 16u) * ROW + kk, true, ROW);
#endif
      }
      for (var i = 0u; i < FRAG_M; i++) {
        if (sub_m + i * 16u >= valid) { break; }
        let left = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&tile_a, (sub_m + i * 16u) * ROW + kk, false, ROW);
        for (var j = 0u; j < FRAG_N; j++) {
          acc[i][j] = subgroupMatrixMultiplyAccumulate(left, right[j], acc[i][j]);
        }
      }
    }
  }

  let inside = m0 + TILE_M <= params.M && n0 + TILE_N <= params.N;
  let lane = li % SG;
  for (var i = 0u; i < FRAG_M; i++) {
    for (var j = 0u; j < FRAG_N; j++) {
      let row = m0 + sub_m + i * 16u;
      let col = n0 + sub_n + j * 16u;
      if (inside) {
        subgroupMatrixStore(&out, row * params.out_stride + params.col_offset + col, acc[i][j], false, params.out_stride);
      } else {
        subgroupMatrixStore(&edge, sg * 256u, acc[i][j], false, 16u);
        workgroupBarrier();
        for (var e = lane; e < 256u; e += SG) {
          let r = row + e / 16u;
          let c = col + e % 16u;
          if (r < params.M && c < params.N) { out[r * params.out_stride + params.col_offset + c] = edge[sg * 256u + e]; }
        }
        workgroupBarrier();
      }
    }
  }
}
