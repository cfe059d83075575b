// KDA output gate + per-head RMSNorm (spec §3 step 9, FusedRMSNormGated with sigmoid), all f32:
// y = o / sqrt(mean(o²) + eps) ⊙ w ⊙ sigmoid(z), weight w [dv] shared by every head. Workgroup per (token, head).
// With LOWRANK (decode), z is computed per channel as g_b · (g_a h) (kda-low-rank-fold.part.wgsl): binding 2
// then holds the low-rank row g_a h and zOffset/zStride address it.
struct Params { T: u32, H: u32, dv: u32, eps: f32, zOffset: u32, zStride: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> o: array<f32>;
#if LOWRANK
@group(0) @binding(2) var<storage, read> lowRankIn: array<f32>;
#include "kda-low-rank-fold.part.wgsl"
#else
@group(0) @binding(2) var<storage, read> z: array<f32>;
#endif
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
  let row = wg.x + wg.y * grid.x;
  if (row >= params.T * params.H) { return; }
  let base = row * params.dv;
  var acc = 0.0;
  for (var e = lane; e < params.dv; e += {{WG}}u) { acc += o[base + e] * o[base + e]; }
  partial[lane] = acc;
  let t = row / params.H;
#if LOWRANK
  stageLowRankRow(params.zOffset + t * params.zStride, lane);
#endif
  workgroupBarrier();
  for (var stride = {{WG}}u / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) { partial[lane] += partial[lane + stride]; }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(partial[0] / f32(params.dv) + params.eps);
  let col = (row % params.H) * params.dv;
  let zBase = params.zOffset + t * params.zStride + col;
  for (var e = lane; e < params.dv; e += {{WG}}u) {
#if LOWRANK
    let ze = lowRankDot(col + e);
#else
    let ze = z[zBase + e];
#endif
    let gate = 1.0 / (1.0 + exp(-ze));
    y[base + e] = o[base + e] * inv * weight[e] * gate;
  }
}
