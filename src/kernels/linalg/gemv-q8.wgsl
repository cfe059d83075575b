// Decode GEMV over q8 weights (int8 per group of 32 with an f16 scale): out[n] = Σ_k x[k] · q[n, k] · s[n, k / 32].
// Each workgroup owns ROWS rows; every lane walks the row in 16-byte chunks (16 int8 values, half a group) so
// a subgroup reads consecutive bytes, the chunk's 16 x values are loaded once for all ROWS rows, the int8
// dot is scaled once per chunk, and partials reduce with subgroupAdd then across subgroups through workgroup
// memory (a tree through workgroup memory where the device has no subgroups). x past K reads as 0 (rows are
// padded to whole groups with zeros). A row-split weight writes its rows at col_offset; row0 is the weight's
// first row inside the binding (fused projections).
#if SUBGROUPS
enable subgroups;
#endif

struct Params { N: u32, K: u32, col_offset: u32, row0: u32, chunks: u32, scale_stride: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> params: Params;
#if X_VEC4
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
#endif
@group(0) @binding(2) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> scales: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

#include "q8.part.wgsl"

const WG = {{WG}}u;
const ROWS = {{ROWS}}u;
#if SUBGROUPS
// One partial per subgroup per row; subgroups are at least MIN_SG lanes wide.
const SLOTS = WG / {{MIN_SG}}u;
var<workgroup> partial: array<f32, SLOTS * ROWS>;
#else
var<workgroup> partial: array<f32, WG * ROWS>;
#endif

// x[4i .. 4i + 3], 0 past K.
fn x_quad(i: u32) -> vec4<f32> {
#if X_VEC4
  return select(vec4<f32>(0.0), x[min(i, params.K / 4u - 1u)], 4u * i < params.K);
#else
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let k = 4u * i + j;
    v[j] = select(0.0, x[min(k, params.K - 1u)], k < params.K);
  }
  return v;
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
#if SUBGROUPS
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32,
#endif
        @builtin(local_invocation_index) li: u32) {
  let n0 = (wg.x + wg.y * grid.x) * ROWS;
  var acc: array<f32, ROWS>;
  for (var c = li; c < params.chunks; c += WG) {
    let x0 = x_quad(4u * c);
    let x1 = x_quad(4u * c + 1u);
    let x2 = x_quad(4u * c + 2u);
    let x3 = x_quad(4u * c + 3u);
    for (var r = 0u; r < ROWS; r++) {
      let row = params.row0 + min(n0 + r, params.N - 1u);
      acc[r] += q8_scale(row, c, params.scale_stride) * int8_dot(q[row * params.chunks + c], x0, x1, x2, x3);
    }
  }
#if SUBGROUPS
#include "gemv-rows-subgroup-sum.part.wgsl"
#else
  for (var r = 0u; r < ROWS; r++) { partial[r * WG + li] = acc[r]; }
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (li < width) {
      for (var r = 0u; r < ROWS; r++) { partial[r * WG + li] += partial[r * WG + li + width]; }
    }
  }
  workgroupBarrier();
  if (li < ROWS && n0 + li < params.N) { out[params.col_offset + n0 + li] = partial[li * WG]; }
#endif
}
