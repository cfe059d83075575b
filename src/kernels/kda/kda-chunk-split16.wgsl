// Chunked KDA prefill on tensor cores with splitPass 'separate' (the pairs intra pass, or CTXBENCH_KDA_SPLIT=separate;
// by default the blocked intra pass writes this same form itself, SPLIT_OUT), between the intra pass and
// kda-chunk-scan-tc: rewrites an f32 chunk operand
// (q̃ ⊙ e^G, k ⊙ e^(G_last − G), W: [rows, H, dk]; or P: [chunks, H, C, C]) IN PLACE as f16 hi/lo pairs, so the
// scan's subgroup-matrix loads read f16 straight from storage. Each group of 16 consecutive f32 (64 bytes, never
// straddling a row since dk and C are multiples of 16) becomes 16 f16 hi parts then 16 f16 lo parts in the same 64
// bytes: x = hi + lo with |x − hi − lo| ≤ 2⁻²³·|x| + 2⁻²⁴ (the lo part's own rounding, or its subnormal step). One
// thread owns a group: it reads all of it before writing, so no other thread can see a half-written group.
// The same pass zeroes what lies past the prompt (rows of the last chunk at or after T; P entries of the last
// chunk whose row or column is at or after T), so the scan's fixed-size 16-row loads meet zeros (spec §3.2).
// Values are scaled by 2^8 first (undone in the scan), so the lo parts of O(1) values are normal f16, not
// subnormals that a device may flush. hi comes from f16HiPart (integer rounding): with f32(f16(x)) the compiler
// folded the round trip and lo was zero. Bound: |x| < 65504·2^−8 ≈ 255. q̃ ⊙ e^G and k ⊙ e^(G_last − G) are at most
// the L2-normed q̃ and k; P entries at most |q̃||k|; W = T·(β K ⊙ e^G) is bounded by the rows of T = (I + L)⁻¹.
struct Params { T: u32, H: u32, dk: u32, C: u32, groups: u32, nx: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> data: array<vec4<u32>>;

fn halfPair(a: f32, b: f32) -> u32 { return pack2x16float(vec2<f32>(a, b)); }
#include "f16-split.part.wgsl"

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = (wg.y * params.nx + wg.x) * 256u + li;
  if (g >= params.groups) { return; }
  var x: array<f32, 16>;
  for (var i = 0u; i < 4u; i++) {
    let w = bitcast<vec4<f32>>(data[4u * g + i]);
    x[4u * i] = w.x; x[4u * i + 1u] = w.y; x[4u * i + 2u] = w.z; x[4u * i + 3u] = w.w;
  }
  let o = 16u * g; // f32 offset of the group
#if P_MATRIX
  let C = params.C;
  let chunk = o / (params.H * C * C);
  let n = min(C, params.T - min(params.T, chunk * C));
  let r = (o / C) % C;
  let j0 = o % C;
  for (var e = 0u; e < 16u; e++) { if (r >= n || j0 + e >= n) { x[e] = 0.0; } }
#else
  if (o / (params.H * params.dk) >= params.T) { for (var e = 0u; e < 16u; e++) { x[e] = 0.0; } }
#endif
  for (var e = 0u; e < 16u; e++) { x[e] *= 256.0; }
  var hi: array<f32, 16>;
  var lo: array<f32, 16>;
  for (var e = 0u; e < 16u; e++) {
    hi[e] = f16HiPart(x[e]);
    lo[e] = x[e] - hi[e]; // exact in f32; packing rounds it to f16
  }
  for (var i = 0u; i < 2u; i++) {
    let b = 8u * i;
    data[4u * g + i] = vec4<u32>(halfPair(hi[b], hi[b + 1u]), halfPair(hi[b + 2u], hi[b + 3u]), halfPair(hi[b + 4u], hi[b + 5u]), halfPair(hi[b + 6u], hi[b + 7u]));
    data[4u * g + 2u + i] = vec4<u32>(halfPair(lo[b], lo[b + 1u]), halfPair(lo[b + 2u], lo[b + 3u]), halfPair(lo[b + 4u], lo[b + 5u]), halfPair(lo[b + 6u], lo[b + 7u]));
  }
}
