// Widens rows row0 .. row0+T-1 of an f16 latent cache to dense f32 rows [T, DC], for the prefill kernels that
// read latent rows as f32 (the kv_b_proj expansion GEMM and k_pe). One invocation per output value.
struct Params { T: u32, row0: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> cache: array<u32>;      // [capacity, DCP / 2] f16 pairs
@group(0) @binding(2) var<storage, read_write> out: array<f32>;  // [T, DC]

const DC: u32 = {{DC}}u;
#include "latent-f16.part.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
  let i = (wg.x + wg.y * grid.x) * {{WG}}u + lane;
  if (i >= params.T * DC) { return; }
  out[i] = latentHalf(params.row0 + i / DC, i % DC);
}
