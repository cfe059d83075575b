// Copies rows of n values between element offsets and row strides inside a compute pass: e.g. the last hidden
// row before lm_head, or one head group's attention output into its columns of the full output. With VEC4 the
// counts are in 16-byte units (vec4<u32>, bits kept as they are). Each thread loads its PER values before it
// stores any, PER·16 bytes in flight per thread: the bench's device-copy case is this kernel at 1 GiB.
struct Params { n: u32, rows: u32, src_offset: u32, dst_offset: u32, src_stride: u32, dst_stride: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> params: Params;
#if VEC4
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;
alias Value = vec4<u32>;
#else
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
alias Value = f32;
#endif

const WG = {{WG}}u;
const PER = {{PER}}u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let r = wg.y;
  if (r >= params.rows) { return; }
  // Consecutive threads take consecutive values in each of the PER steps (coalesced), a block of WG·PER apart.
  let first = wg.x * WG * PER + lane;
  let src_row = params.src_offset + r * params.src_stride;
  let dst_row = params.dst_offset + r * params.dst_stride;
  var values: array<Value, PER>;
  for (var j = 0u; j < PER; j++) { values[j] = src[src_row + min(first + j * WG, params.n - 1u)]; }
  for (var j = 0u; j < PER; j++) {
    let i = first + j * WG;
    if (i < params.n) { dst[dst_row + i] = values[j]; }
  }
}
