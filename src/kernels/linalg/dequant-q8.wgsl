// Prefill with q8 weights: rows [row0, row0 + rows) of a q8 binding expanded to f16 [rows, K] (halves packed
// two per u32) in a scratch buffer the f16 GEMM then reads. One thread per output word; a word whose halves
// fall in two rows (odd K) reads each from its own row. The memory pass costs ~3 bytes per weight, small
// beside a prefill piece's GEMM over the same weight.
struct Params { rows: u32, K: u32, row0: u32, padded_k: u32, scale_stride: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> values: array<u32>;
@group(0) @binding(2) var<storage, read> scales: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

#include "q8.part.wgsl"

fn weight(e: u32) -> f32 {
  if (e >= params.rows * params.K) { return 0.0; }
  let row = params.row0 + e / params.K;
  let k = e % params.K;
  let word = values[(row * params.padded_k + k) / 4u];
  let v = extractBits(bitcast<i32>(word), 8u * (k % 4u), 8u);
  return f32(v) * q8_scale(row, k / 16u, params.scale_stride);
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * grid.x) * {{WG}}u + li;
  if (2u * i >= params.rows * params.K) { return; }
  out[i] = pack2x16float(vec2<f32>(weight(2u * i), weight(2u * i + 1u)));
}
