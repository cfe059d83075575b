// Routed expert projections for decode at memory bandwidth: out[s, n] = Σ_k x[src(s), k] · W[ids[s]][n, k].
// One subgroup owns ROWS rows of one slot: its lanes stride the row in 16-byte chunks (a subgroup reads
// consecutive bytes), every lane's LOADS chunks per row come from a constant-trip loop the compiler unrolls,
// so all of a row's loads are issued before the first sum, and the lanes' partials meet in one subgroupAdd.
// No workgroup memory and no barrier: a decode MoE dispatch moves only ~40 MB, so the grid must reach full
// bandwidth at once and finish without a reduction tail (the workgroup-reduce kernel, expert-gemv.wgsl,
// reached 0.70× copy on the H100).
// With SWIGLU the subgroup reads the gate row and the up row of the same n and writes silu(g) · u (the
// fused gate|up|SwiGLU of the expert FFN, one pass over x).
// The expert id is read by every lane (one broadcast load); control flow never depends on it, so the
// subgroupAdd stays in uniform control flow. A slot whose expert lies outside this binding part
// [expert_lo, expert_hi) reads chunk 0 over and over (a cache hit) and writes nothing.
// SHARED: weight source 1 (w1, w1_up: the shared expert, shaped as one routed expert) serves each token's
// last slot, source 0 (w0, w0_up: the routed stack) the others. The source depends only on the workgroup id,
// so the branch between the two copies of the loop is uniform and the subgroupAdd after it stays legal.
// NORM (decode gate|up): x is the raw residual-stream row and the RMSNorm in front is applied here: each chunk of
// x is scaled by γ and its squares summed, and the subgroup's dot products are scaled by 1/rms (every subgroup
// reads all of its row's x anyway). RESIDUAL: x is read as x + residual (the combine stores that sum).
enable subgroups;

struct Params { N: u32, K: u32, top_k: u32, expert_lo: u32, expert_hi: u32, shared_live: u32, eps: f32, pad2: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
#if W_F16
// 8 halves per chunk, as one vec4<u32>.
#unroll SOURCE SOURCES
@group(0) @binding({{B_W{{SOURCE}}}}) var<storage, read> w{{SOURCE}}: array<vec4<u32>>;
#if SWIGLU
@group(0) @binding({{B_W{{SOURCE}}_UP}}) var<storage, read> w{{SOURCE}}_up: array<vec4<u32>>;
#endif
#endunroll
#else
// 4 floats per chunk.
#unroll SOURCE SOURCES
@group(0) @binding({{B_W{{SOURCE}}}}) var<storage, read> w{{SOURCE}}: array<vec4<f32>>;
#if SWIGLU
@group(0) @binding({{B_W{{SOURCE}}_UP}}) var<storage, read> w{{SOURCE}}_up: array<vec4<f32>>;
#endif
#endunroll
#endif
@group(0) @binding({{B_IDS}}) var<storage, read> ids: array<u32>;
@group(0) @binding({{B_OUT}}) var<storage, read_write> out: array<f32>;
#if NORM
@group(0) @binding({{B_GAMMA}}) var<storage, read> gamma: array<vec4<f32>>;
#if RESIDUAL
@group(0) @binding({{B_RESIDUAL}}) var<storage, read> residual: array<vec4<f32>>;
fn rawX(i: u32) -> vec4<f32> { return x[i] + residual[i]; }
#else
fn rawX(i: u32) -> vec4<f32> { return x[i]; }
#endif
#endif

// Lanes per subgroup: the device has one fixed size (the wrapper checks), so the host grid matches.
const SG = {{SG}}u;
const SUBGROUPS = {{SUBGROUPS}}u;
const ROWS = {{ROWS}}u;
// Chunks per row (K / 8 for f16, K / 4 for f32) and per lane, rounded up.
const CHUNKS = {{CHUNKS}}u;
const LOADS = {{LOADS}}u;

// One chunk of the input row (8 values for f16 weights, 4 for f32): xc its index in x, c its index in the row.
struct XChunk { lo: vec4<f32>, hi: vec4<f32> }
#if W_F16
fn x_chunk(xc: u32, c: u32, sq: ptr<function, f32>, keep: f32) -> XChunk {
#if NORM
  let lo = rawX(2u * xc);
  let hi = rawX(2u * xc + 1u);
  *sq += keep * (dot(lo, lo) + dot(hi, hi));
  return XChunk(lo * gamma[2u * c], hi * gamma[2u * c + 1u]);
#else
  return XChunk(x[2u * xc], x[2u * xc + 1u]);
#endif
}
fn chunk_dot(word: vec4<u32>, xv: XChunk) -> f32 {
  let lo = vec4<f32>(unpack2x16float(word.x), unpack2x16float(word.y));
  let hi = vec4<f32>(unpack2x16float(word.z), unpack2x16float(word.w));
  return dot(lo, xv.lo) + dot(hi, xv.hi);
}
#else
fn x_chunk(xc: u32, c: u32, sq: ptr<function, f32>, keep: f32) -> XChunk {
#if NORM
  let v = rawX(xc);
  *sq += keep * dot(v, v);
  return XChunk(v * gamma[c], vec4<f32>());
#else
  return XChunk(x[xc], vec4<f32>());
#endif
}
fn chunk_dot(word: vec4<f32>, xv: XChunk) -> f32 {
  return dot(word, xv.lo);
}
#endif

@compute @workgroup_size(SG * SUBGROUPS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
#include "expert-slot.part.wgsl"
#if SHARED
  let source = select(0u, 1u, from_shared);
  let row0 = select((expert - params.expert_lo) * params.N, 0u, from_shared);
#else
  let source = 0u;
  let row0 = (expert - params.expert_lo) * params.N;
#endif
  var acc: array<f32, ROWS>;
  var sq = 0.0;
#if SWIGLU
  var acc_up: array<f32, ROWS>;
#endif
#unroll SOURCE SOURCES
  if (source == {{SOURCE}}u) {
    for (var i = 0u; i < LOADS; i++) {
      // A ragged last step re-reads the row's last chunk and weighs it 0 (no branch around the loads).
      let c_raw = lane + i * SG;
      let c = min(c_raw, CHUNKS - 1u);
      let keep = select(0.0, 1.0, c_raw < CHUNKS);
      let xv = x_chunk(src * CHUNKS + c, c, &sq, keep);
      for (var r = 0u; r < ROWS; r++) {
        let n = min(n0 + r, params.N - 1u);
        let wc = ((row0 + n) * CHUNKS + c) & mask;
        acc[r] += keep * chunk_dot(w{{SOURCE}}[wc], xv);
#if SWIGLU
        acc_up[r] += keep * chunk_dot(w{{SOURCE}}_up[wc], xv);
#endif
      }
    }
  }
#endunroll
#if NORM
  let inv = inverseSqrt(subgroupAdd(sq) / f32(params.K) + params.eps);
#else
  let inv = 1.0;
#endif
  for (var r = 0u; r < ROWS; r++) {
    let g = subgroupAdd(acc[r]) * inv;
#if SWIGLU
    let u = subgroupAdd(acc_up[r]) * inv;
    let value = g / (1.0 + exp(-g)) * u;
#else
    let value = g;
#endif
    if (lane == r % SG && live && n0 + r < params.N) { out[slot * params.N + n0 + r] = value; }
  }
}
