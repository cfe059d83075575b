// Shared by matmul.wgsl and gemm-subgroup-matrix.wgsl (#include at module scope, with tile-rows.part.wgsl in
// main): the linear's parameters, its output, the MoE row plan bindings and the tile's shared state. Each
// kernel declares x (binding 1) and w (binding 2) in its own layout.
struct Params {
  M: u32, N: u32, K: u32, out_stride: u32,
  col_offset: u32, x_stride: u32, expert_lo: u32, expert_hi: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#if MOE
@group(0) @binding(4) var<storage, read> rows: array<u32>;
@group(0) @binding(5) var<storage, read> tile_expert: array<u32>;
#endif
const NONE = 0xffffffffu;
#if MOE
// Only grouped (MoE) tiles share state: their tiles are always whole, so the tensor-core kernel never takes its
// edge-store path with these scalars present. (On the H100, a scalar workgroup variable beside the edge scratch
// shifted the subgroup-matrix store against the lanes' reads by 4 bytes; see mla-flash-prefill-f16.wgsl.)
var<workgroup> shared_expert: u32;
var<workgroup> shared_valid: atomic<u32>;
#endif
