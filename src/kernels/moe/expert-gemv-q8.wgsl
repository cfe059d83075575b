// Routed expert projections for decode over q8 experts (int8 per group of 32, f16 scales; linalg/q8-format.ts):
// out[s, n] = Σ_k x[src(s), k] · q[ids[s]][n, k] · scale. The layout of expert-gemv-subgroup.wgsl: one
// subgroup owns ROWS rows of one slot, its lanes stride the row in 16-byte chunks (16 int8, half a group)
// from a constant-trip loop, partials meet in one subgroupAdd, no workgroup memory and no barrier. Each chunk
// reads one scale (a word shared by 4 lanes). With SWIGLU the subgroup also reads the up row of the same n and
// writes silu(g) · u. Without SUBGROUPS the "subgroup" is one thread walking the whole row (SG = 1: devices
// whose subgroup size varies); correct, not fast.
// A slot whose expert lies outside this binding block [expert_lo, expert_hi) reads chunk 0 over and over (a
// cache hit) and writes nothing; control flow never depends on the expert id.
#if SUBGROUPS
enable subgroups;
#endif

struct Params {
  N: u32, K: u32, top_k: u32, expert_lo: u32, expert_hi: u32, entry_offset: u32, scale_stride: u32, pad0: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
#if X_VEC4
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
#endif
@group(0) @binding(2) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> scales: array<u32>;
#if SWIGLU
@group(0) @binding(4) var<storage, read> q_up: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> scales_up: array<u32>;
@group(0) @binding(6) var<storage, read> ids: array<u32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(4) var<storage, read> ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
#endif

const SG = {{SG}}u;
const SUBGROUPS = {{SUBGROUPS_PER_WG}}u;
const ROWS = {{ROWS}}u;
// 16-byte chunks per (padded) row and per lane, rounded up.
const CHUNKS = {{CHUNKS}}u;
const LOADS = {{LOADS}}u;

#include "../linalg/q8.part.wgsl"


// x[src, 4i .. 4i + 3], 0 past K.
fn x_quad(src: u32, i: u32) -> vec4<f32> {
#if X_VEC4
  let quads = params.K / 4u;
  return select(vec4<f32>(0.0), x[src * quads + min(i, quads - 1u)], i < quads);
#else
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let k = 4u * i + j;
    v[j] = select(0.0, x[src * params.K + min(k, params.K - 1u)], k < params.K);
  }
  return v;
#endif
}

@compute @workgroup_size(SG * SUBGROUPS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
#include "expert-slot.part.wgsl"
  let row0 = (expert - params.expert_lo + params.entry_offset) * params.N;
  var acc: array<f32, ROWS>;
#if SWIGLU
  var acc_up: array<f32, ROWS>;
#endif
  for (var i = 0u; i < LOADS; i++) {
    // A ragged last step re-reads the row's last chunk and weighs it 0 (no branch around the loads).
    let c_raw = lane + i * SG;
    let c = min(c_raw, CHUNKS - 1u);
    let keep = select(0.0, 1.0, c_raw < CHUNKS);
    let x0 = x_quad(src, 4u * c);
    let x1 = x_quad(src, 4u * c + 1u);
    let x2 = x_quad(src, 4u * c + 2u);
    let x3 = x_quad(src, 4u * c + 3u);
    for (var r = 0u; r < ROWS; r++) {
      let row = row0 + min(n0 + r, params.N - 1u);
      let wc = (row * CHUNKS + c) & mask;
      let h = (row * params.scale_stride + c / 2u) & mask;
      acc[r] += keep * q8_half(scales[h / 2u], h) * int8_dot(q[wc], x0, x1, x2, x3);
#if SWIGLU
      acc_up[r] += keep * q8_half(scales_up[h / 2u], h) * int8_dot(q_up[wc], x0, x1, x2, x3);
#endif
    }
  }
  for (var r = 0u; r < ROWS; r++) {
#if SUBGROUPS
    let g = subgroupAdd(acc[r]);
#else
    let g = acc[r];
#endif
#if SWIGLU
#if SUBGROUPS
    let u = subgroupAdd(acc_up[r]);
#else
    let u = acc_up[r];
#endif
    let value = g / (1.0 + exp(-g)) * u;
#else
    let value = g;
#endif
    if (lane == r % SG && live && n0 + r < params.N) { out[slot * params.N + n0 + r] = value; }
  }
}
