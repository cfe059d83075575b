// Seeded random q8 values for random-weight speed runs (the 48B shape cannot pass through the CPU quantiser):
// every byte an int8 drawn uniformly from [-127, 127] by the same 32-bit hash random-fill.wgsl uses, so with a
// constant scale s the weights are uniform in [-127 s, 127 s] like the f32 'linear' init.
struct Params { words: u32, seed: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> values: array<u32>;

fn hash(x: u32) -> u32 {
  var s = x * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * grid.x) * {{WG}}u + li;
  if (i >= params.words) { return; }
  let seed = hash(params.seed);
  var bytes = vec4<i32>();
  for (var j = 0u; j < 4u; j++) {
    // 255 values: h % 255 is uniform enough over a 32-bit hash (bias < 2^-24).
    bytes[j] = i32(hash((4u * i + j) ^ seed) % 255u) - 127;
  }
  values[i] = pack4xI8(bytes);
}
