// Appends T tokens to the MLA latent cache: row = [RMSNorm(c; kv_a_layernorm, eps) | k_pe raw] (spec §5;
// eps 1e-6 as transformers builds it). One workgroup per token; the sum of squares reduces in workgroup memory.
// pos is the uniform, or with SEQ_LEN (sequence length counting these T tokens, on the GPU) seqLen[0] − T;
// rows at or past `capacity` are never written. With F16 the cache holds halves (latent-f16.part.wgsl), each
// word written whole by one lane (no two tokens share a word); values past the f16 range clamp to ±65504.
struct Params { T: u32, pos: u32, eps: f32, kvaOffset: u32, kvaStride: u32, capacity: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> kva: array<f32>;    // kv_a_proj_with_mqa output [T, R + DR]
@group(0) @binding(2) var<storage, read> weight: array<f32>; // [R]
#if F16
@group(0) @binding(3) var<storage, read_write> cache: array<u32>; // [capacity, DCP / 2] f16 pairs
#else
@group(0) @binding(3) var<storage, read_write> cache: array<f32>; // [capacity, R + DR]
#endif

#if SEQ_LEN
@group(0) @binding(4) var<storage, read> seqLen: array<u32>;
#endif

const R: u32 = {{R}}u;
const DC: u32 = R + {{DR}}u;
var<workgroup> partial: array<f32, {{WG}}>;

#if F16
#include "latent-f16.part.wgsl"
// Column c of token t's row (0 in the pad column), clamped to the f16 range.
fn rowValue(src: u32, c: u32, inv: f32) -> f32 {
  if (c >= DC) { return 0.0; }
  var x = kva[src + c];
  if (c < R) { x = x * inv * weight[c]; }
  return clamp(x, -65504.0, 65504.0);
}
#endif

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
  let t = wg.x + wg.y * grid.x;
#if SEQ_LEN
  if (seqLen[0] < params.T) { return; }
  let pos = seqLen[0] - params.T;
#else
  let pos = params.pos;
#endif
  if (t >= params.T || pos + t >= params.capacity) { return; }
  let src = params.kvaOffset + t * params.kvaStride;
  var acc = 0.0;
  for (var c = lane; c < R; c += {{WG}}u) { acc += kva[src + c] * kva[src + c]; }
  partial[lane] = acc;
  workgroupBarrier();
  for (var stride = {{WG}}u / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) { partial[lane] += partial[lane + stride]; }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(partial[0] / f32(R) + params.eps);
#if F16
  let dst = (pos + t) * (DCP / 2u);
  for (var w = lane; w < DCP / 2u; w += {{WG}}u) {
    cache[dst + w] = pack2x16float(vec2<f32>(rowValue(src, 2u * w, inv), rowValue(src, 2u * w + 1u, inv)));
  }
#else
  let dst = (pos + t) * DC;
  for (var c = lane; c < DC; c += {{WG}}u) {
    var x = kva[src + c];
    if (c < R) { x = x * inv * weight[c]; }
    cache[dst + c] = x;
  }
#endif
}
