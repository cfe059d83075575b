// Packs a strided f32 per-head operand [T, H, D] (a HeadView) into dense f16 rows [.., H, D] starting at row
// `dstRow`, two halves per u32 word, for the tensor-core prefill. Rows T .. T + padRows are written as zeros:
// the flash kernel reads whole key blocks, and a NaN left in a padded value row would survive P = 0.
struct Params {
  T: u32, H: u32, halfD: u32, padRows: u32,
  srcOffset: u32, srcToken: u32, srcHead: u32, dstRow: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
  let i = (wg.x + wg.y * grid.x) * {{WG}}u + lane;
  let rowWords = params.H * params.halfD;
  if (i >= (params.T + params.padRows) * rowWords) { return; }
  let t = i / rowWords;
  let h = (i % rowWords) / params.halfD;
  let d = 2u * (i % params.halfD);
  var x = vec2<f32>(0.0);
  if (t < params.T) {
    let at = params.srcOffset + t * params.srcToken + h * params.srcHead + d;
    x = vec2<f32>(src[at], src[at + 1u]);
  }
  dst[params.dstRow * rowWords + i] = pack2x16float(x);
}
