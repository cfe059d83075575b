// Tensor-core GEMM through chromium-experimental-subgroup-matrix: out[m, col_offset + n] = Σ_k x[src(m), k] · W[n, k].
// x is f32 (the engine's activations) rounded to f16 while staging; W is f16; products accumulate in f32
// result matrices (M16 N16 K16 f16→f32). MOE/GATHER as in matmul.wgsl (sort-and-pad rows, one expert per tile).
// One workgroup owns a TILE_M × TILE_N output tile; its SG_M × SG_N subgroups each own FRAG_M × FRAG_N result
// matrices. Per K tile, x is staged m-major and W k-major (tile_b[k][n], so the right operand loads row-major),
// both through registers fetched one tile ahead. Shapes measured on the H100 (probe-gemm-ablation.mjs,
// 4096³): TILE_K 64 and k-major W 101 TFLOP/s against 43 for TILE_K 32 with W read from storage; the MMA
// code is written out by #unroll (loops over accumulator arrays: 64); no early exit for padding rows (they
// are staged as zeros, and a runtime break around the MMAs cost 8 %).
enable f16;
enable chromium_experimental_subgroup_matrix;
// Subgroup index comes from local_invocation_index (NVIDIA and Mesa lay subgroups out linearly); the
// subgroup-matrix calls sit in subgroup-uniform control flow, which the analysis cannot see.
diagnostic(off, chromium.subgroup_matrix_uniformity);

#include "linear-bindings.part.wgsl"
#if VEC4
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f16>>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f16>;
#endif

const TILE_M = {{TILE_M}}u;
const TILE_N = {{TILE_N}}u;
const TILE_K = {{TILE_K}}u;
const SG_M = {{SG_M}}u;
const SG_N = {{SG_N}}u;
const SG = {{SUBGROUP_SIZE}}u;
const ROW_A = TILE_K + {{PAD}}u; // x tile row (padding spreads the fragment rows over the banks)
const ROW_B = TILE_N + {{PAD}}u; // W tile row: one k, TILE_N output columns
const THREADS = SG_M * SG_N * SG;
const QUADS = TILE_K / 4u; // 4-wide k groups per staged row
const A_LOADS = TILE_M * QUADS / THREADS;
const B_LOADS = TILE_N * QUADS / THREADS;
// Names tile-rows.part.wgsl reads.
const TILE_ROWS = TILE_M;
const ROW_LOADS = A_LOADS;
// Tile row of staged x item u (its quad is u % QUADS). At TILE_K 32 a row is 8 quads of 8 bytes and rows are 80
// bytes apart, so rows r and r + 1 in one half-subgroup's store would share banks; each 64 items instead give
// half-subgroups the rows r and r + 4 (320 bytes apart: the other 16 banks). Wider K tiles keep plain order.
fn stagedRow(u: u32) -> u32 {
  if (QUADS != 8u || ROW_A != 40u) { return u / QUADS; }
  let i = u % 16u;
  return 8u * (u / 64u) + (u / 16u) % 4u + 4u * (i / 8u);
}

var<workgroup> tile_a: array<f16, TILE_M * ROW_A>;
var<workgroup> tile_b: array<f16, TILE_K * ROW_B>;
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

// Four W values of output column n from k (zeros past N or K, so partial tiles need no other guard).
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

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * TILE_M;
  let n0 = wg.x * TILE_N;
  if (m0 >= params.M) { return; }
#include "tile-rows.part.wgsl"
  _ = valid; // padding rows are zeros; no row block is skipped
  let sg = li / SG;
  let sub_m = (sg / SG_N) * (TILE_M / SG_M);
  let sub_n = (sg % SG_N) * (TILE_N / SG_N);

#unroll i FRAG_M
#unroll j FRAG_N
  var acc_{{i}}_{{j}} = subgroup_matrix_result<f32, 16, 16>();
#endunroll
#endunroll
  var pa: array<vec4<f32>, A_LOADS>;
  var pb: array<vec4<f16>, B_LOADS>;
  for (var s = 0u; s < A_LOADS; s++) { pa[s] = load_x4(src[s], ((li + s * THREADS) % QUADS) * 4u); }
  for (var s = 0u; s < B_LOADS; s++) {
    let u = li + s * THREADS;
    pb[s] = load_w4(w_base, n0 + u / QUADS, (u % QUADS) * 4u);
  }

  for (var k0 = 0u; k0 < params.K; k0 += TILE_K) {
    workgroupBarrier();
    for (var s = 0u; s < A_LOADS; s++) {
      let u = li + s * THREADS;
      let at = stagedRow(u) * ROW_A + (u % QUADS) * 4u;
      let h = vec4<f16>(pa[s]);
      tile_a[at] = h.x; tile_a[at + 1u] = h.y; tile_a[at + 2u] = h.z; tile_a[at + 3u] = h.w;
    }
    for (var s = 0u; s < B_LOADS; s++) {
      let u = li + s * THREADS;
      let q = u % QUADS;
      let at = q * 4u * ROW_B + u / QUADS;
      // The four k rows in an order rotated by q / 2: with ROW_B ≡ 8 (mod 64) halves, rows 4q + c of a subgroup's
      // 8 quads fell on 4 banks in plain order (4-way conflicts on every 2-byte store); rotated, on 16.
      let rot = (q / 2u) % 4u;
      for (var c = 0u; c < 4u; c++) {
        let r = (c + rot) % 4u;
        tile_b[at + r * ROW_B] = pb[s][r];
      }
    }
    workgroupBarrier();
    let k1 = k0 + TILE_K;
    if (k1 < params.K) {
      for (var s = 0u; s < A_LOADS; s++) { pa[s] = load_x4(src[s], k1 + ((li + s * THREADS) % QUADS) * 4u); }
      for (var s = 0u; s < B_LOADS; s++) {
        let u = li + s * THREADS;
        pb[s] = load_w4(w_base, n0 + u / QUADS, k1 + (u % QUADS) * 4u);
      }
    }
#unroll s K_STEPS
    {
#unroll j FRAG_N
      let right_{{j}} = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&tile_b, {{s}}u * 16u * ROW_B + sub_n + {{j}}u * 16u, false, ROW_B);
#endunroll
#unroll i FRAG_M
      let left_{{i}} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&tile_a, (sub_m + {{i}}u * 16u) * ROW_A + {{s}}u * 16u, false, ROW_A);
#unroll j FRAG_N
      acc_{{i}}_{{j}} = subgroupMatrixMultiplyAccumulate(left_{{i}}, right_{{j}}, acc_{{i}}_{{j}});
#endunroll
#endunroll
    }
#endunroll
  }

  let inside = m0 + TILE_M <= params.M && n0 + TILE_N <= params.N;
  let lane = li % SG;
#unroll i FRAG_M
#unroll j FRAG_N
  {
    let row = m0 + sub_m + {{i}}u * 16u;
    let col = n0 + sub_n + {{j}}u * 16u;
    if (inside) {
      subgroupMatrixStore(&out, row * params.out_stride + params.col_offset + col, acc_{{i}}_{{j}}, false, params.out_stride);
    } else {
      subgroupMatrixStore(&edge, sg * 256u, acc_{{i}}_{{j}}, false, 16u);
      workgroupBarrier();
      for (var e = lane; e < 256u; e += SG) {
        let r = row + e / 16u;
        let c = col + e % 16u;
        if (r < params.M && c < params.N) { out[r * params.out_stride + params.col_offset + c] = edge[sg * 256u + e]; }
      }
      workgroupBarrier();
    }
  }
#endunroll
#endunroll
}
