// Register-tiled GEMM for PyTorch linears: out[m, col_offset + n] = Σ_k x[src(m), k] · W[n, k], in f32.
// W is f32 or packed f16 (two halves per u32, widened in the shader so shader-f16 is not needed).
// MOE: rows come from a sort-and-pad list (one expert per row tile) and W is the stacked [E, N, K] experts
// tensor (or the slice of experts this binding holds); padding rows produce zeros.
// Each thread owns RM consecutive rows × RN columns (RN/4 groups of 4, one group per TN*4/RN columns), so
// the inner loop reads workgroup memory as vec4s that neighbouring lanes take from neighbouring banks.
// Tiles are stored k-major with one vec4 of padding per k row: the transposing stores then spread over banks.
#include "linear-bindings.part.wgsl"
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if W_F16
@group(0) @binding(2) var<storage, read> w: array<u32>;
#else
@group(0) @binding(2) var<storage, read> w: array<f32>;
#endif

const TM = {{TM}}u;
const TN = {{TN}}u;
const TK = {{TK}}u;
const RM = {{RM}}u;
const RN = {{RN}}u;
const THREADS = (TM / RM) * (TN / RN);
const COLS_PER_GROUP = TN * 4u / RN;
const XV = TM / 4u + 1u; // vec4s per k row of tile_x (one of padding)
const WV = TN / 4u + 1u;
const X_LOADS = TM * TK / THREADS;
// Names tile-rows.part.wgsl reads.
const TILE_ROWS = TM;
const ROW_LOADS = X_LOADS;
fn stagedRow(u: u32) -> u32 { return u / TK; } // TK staged loads per x row
const W_LOADS = TN * TK / THREADS;

var<workgroup> tile_x: array<vec4<f32>, TK * XV>;
var<workgroup> tile_w: array<vec4<f32>, TK * WV>;

fn weight_at(i: u32) -> f32 {
#if W_F16
  return unpack2x16float(w[i >> 1u])[i & 1u];
#else
  return w[i];
#endif
}

// Staged element e of a K tile: x row e / TK (through its source row), column k0 + e % TK.
fn load_x(src_row: u32, e: u32, k0: u32) -> f32 {
  let k = k0 + e % TK;
  if (src_row == NONE || k >= params.K) { return 0.0; }
  return x[src_row * params.x_stride + k];
}

fn load_w(w_base: u32, n0: u32, e: u32, k0: u32) -> f32 {
  let n = n0 + e / TK;
  let k = k0 + e % TK;
  if (n >= params.N || k >= params.K) { return 0.0; }
  return weight_at(w_base + n * params.K + k);
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * TM;
  let n0 = wg.x * TN;
  if (m0 >= params.M) { return; }
#include "tile-rows.part.wgsl"
  let tx = li % (TN / RN);
  let ty = li / (TN / RN);
  // Whole warps whose rows are all padding skip the arithmetic (most of a decode-time MoE tile).
  let busy = ty * RM < valid;

  // Register prefetch: the next K tile's global loads are in flight while this tile is multiplied.
  var px: array<f32, X_LOADS>;
  var pw: array<f32, W_LOADS>;
  for (var s = 0u; s < X_LOADS; s++) { px[s] = load_x(src[s], li + s * THREADS, 0u); }
  for (var s = 0u; s < W_LOADS; s++) { pw[s] = load_w(w_base, n0, li + s * THREADS, 0u); }
  var acc: array<array<f32, RN>, RM>;
  for (var k0 = 0u; k0 < params.K; k0 += TK) {
    workgroupBarrier();
    for (var s = 0u; s < X_LOADS; s++) {
      let e = li + s * THREADS;
      let r = e / TK;
      tile_x[(e % TK) * XV + r / 4u][r % 4u] = px[s];
    }
    for (var s = 0u; s < W_LOADS; s++) {
      let e = li + s * THREADS;
      let c = e / TK;
      tile_w[(e % TK) * WV + c / 4u][c % 4u] = pw[s];
    }
    workgroupBarrier();
    if (k0 + TK < params.K) {
      for (var s = 0u; s < X_LOADS; s++) { px[s] = load_x(src[s], li + s * THREADS, k0 + TK); }
      for (var s = 0u; s < W_LOADS; s++) { pw[s] = load_w(w_base, n0, li + s * THREADS, k0 + TK); }
    }
    if (busy) {
      for (var kk = 0u; kk < TK; kk++) {
        var a: array<vec4<f32>, RM / 4u>;
        var b: array<vec4<f32>, RN / 4u>;
        for (var i = 0u; i < RM / 4u; i++) { a[i] = tile_x[kk * XV + ty * (RM / 4u) + i]; }
        for (var g = 0u; g < RN / 4u; g++) { b[g] = tile_w[kk * WV + g * (COLS_PER_GROUP / 4u) + tx]; }
        for (var i = 0u; i < RM; i++) {
          let av = a[i / 4u][i % 4u];
          for (var j = 0u; j < RN; j++) { acc[i][j] = fma(av, b[j / 4u][j % 4u], acc[i][j]); }
        }
      }
    }
  }
  for (var i = 0u; i < RM; i++) {
    let m = m0 + ty * RM + i;
    if (m >= params.M) { continue; }
    for (var j = 0u; j < RN; j++) {
      let n = n0 + (j / 4u) * COLS_PER_GROUP + tx * 4u + j % 4u;
      if (n < params.N) { out[m * params.out_stride + params.col_offset + n] = acc[i][j]; }
    }
  }
}
