// The decode MoE expert FFN in one dispatch: partial[s, slice, n] = Σ_{i in slice} Wd[e][n, i] · h[i], where
// h[i] = silu(x·Wg[e][i]) · (x·Wu[e][i]) for the slice's BI intermediate rows (e = ids[s]). One workgroup per
// (slice, slot); the combine sums a slot's slices (combine.wgsl SLICED). Replaces the dependent pair
// gate|up|SwiGLU → down, whose second dispatch waits for the first one's tail (two dependent dispatches of this
// size floor at ~0.88× copy on the H100).
// Phase 1 is expert-gemv-subgroup.wgsl's SWIGLU pass: a subgroup owns ROWS rows, lanes stride the row in 16-byte
// chunks, one subgroupAdd per row; h lands in workgroup memory behind one barrier.
// Phase 2: C = BI / (values per chunk) consecutive lanes own one down row's slice (C 16-byte chunks, contiguous
// bytes), so a subgroup reads SG / C rows per load; GROUP rows per lane are loaded before the first sum, and the C
// lanes' sums meet in subgroupShuffleXor. Each lane keeps its own h chunk in registers for the whole phase.
// SHARED: slot top_k of each token reads source 1 (the shared expert); the branch depends on the workgroup id
// only, so barrier and subgroup operations stay in uniform control flow.
enable subgroups;

struct Params { N: u32, K: u32, top_k: u32, expert_lo: u32, expert_hi: u32, shared_live: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
#if W_F16
// 8 halves per chunk, as one vec4<u32>.
#unroll SOURCE SOURCES
@group(0) @binding({{B_W{{SOURCE}}}}) var<storage, read> w{{SOURCE}}: array<vec4<u32>>;
@group(0) @binding({{B_W{{SOURCE}}_UP}}) var<storage, read> w{{SOURCE}}_up: array<vec4<u32>>;
@group(0) @binding({{B_W{{SOURCE}}_DOWN}}) var<storage, read> w{{SOURCE}}_down: array<vec4<u32>>;
#endunroll
#else
#unroll SOURCE SOURCES
@group(0) @binding({{B_W{{SOURCE}}}}) var<storage, read> w{{SOURCE}}: array<vec4<f32>>;
@group(0) @binding({{B_W{{SOURCE}}_UP}}) var<storage, read> w{{SOURCE}}_up: array<vec4<f32>>;
@group(0) @binding({{B_W{{SOURCE}}_DOWN}}) var<storage, read> w{{SOURCE}}_down: array<vec4<f32>>;
#endunroll
#endif
@group(0) @binding({{B_IDS}}) var<storage, read> ids: array<u32>;
@group(0) @binding({{B_OUT}}) var<storage, read_write> partials: array<f32>;

const SG = {{SG}}u;
const SUBGROUPS = {{SUBGROUPS}}u;
const ROWS = {{ROWS}}u;
const BI = SUBGROUPS * ROWS;
// Phase 1: chunks per gate/up row (D / values per chunk) and per lane, rounded up.
const CHUNKS = {{CHUNKS}}u;
const LOADS = {{LOADS}}u;
// Phase 2: model width D, chunks per down row (I / values per chunk), lanes per down row (the slice's chunks),
// down rows per pass of the workgroup, passes rounded up to whole groups of GROUP loads.
const D = {{D}}u;
const I_CHUNKS = {{I_CHUNKS}}u;
const C = {{C}}u;
const ROWS_PER_PASS = SG * SUBGROUPS / C;
const PASSES = {{PASSES}}u;
const GROUP = {{GROUP}}u;

var<workgroup> h: array<f32, BI>;

#if W_F16
fn chunk_dot(word: vec4<u32>, xc: u32) -> f32 {
  let lo = vec4<f32>(unpack2x16float(word.x), unpack2x16float(word.y));
  let hi = vec4<f32>(unpack2x16float(word.z), unpack2x16float(word.w));
  return dot(lo, x[2u * xc]) + dot(hi, x[2u * xc + 1u]);
}
fn h_dot(word: vec4<u32>, h_lo: vec4<f32>, h_hi: vec4<f32>) -> f32 {
  let lo = vec4<f32>(unpack2x16float(word.x), unpack2x16float(word.y));
  let hi = vec4<f32>(unpack2x16float(word.z), unpack2x16float(word.w));
  return dot(lo, h_lo) + dot(hi, h_hi);
}
#else
fn chunk_dot(word: vec4<f32>, xc: u32) -> f32 {
  return dot(word, x[xc]);
}
fn h_dot(word: vec4<f32>, h_lo: vec4<f32>, h_hi: vec4<f32>) -> f32 {
  return dot(word, h_lo);
}
#endif

@compute @workgroup_size(SG * SUBGROUPS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
#include "expert-slot.part.wgsl"
#if SHARED
  let source = select(0u, 1u, from_shared);
  let expert_row = select(expert - params.expert_lo, 0u, from_shared);
#else
  let source = 0u;
  let expert_row = expert - params.expert_lo;
#endif
  // Phase 1: h for this slice's rows n0 .. n0 + ROWS of the intermediate (n0 from the slot part).
  let row0 = expert_row * params.N;
  var acc: array<f32, ROWS>;
  var acc_up: array<f32, ROWS>;
#unroll SOURCE SOURCES
  if (source == {{SOURCE}}u) {
    for (var i = 0u; i < LOADS; i++) {
      // A ragged last step re-reads the row's last chunk and weighs it 0 (no branch around the loads).
      let c_raw = lane + i * SG;
      let c = min(c_raw, CHUNKS - 1u);
      let keep = select(0.0, 1.0, c_raw < CHUNKS);
      for (var r = 0u; r < ROWS; r++) {
        let n = min(n0 + r, params.N - 1u);
        let wc = ((row0 + n) * CHUNKS + c) & mask;
        acc[r] += keep * chunk_dot(w{{SOURCE}}[wc], src * CHUNKS + c);
        acc_up[r] += keep * chunk_dot(w{{SOURCE}}_up[wc], src * CHUNKS + c);
      }
    }
  }
#endunroll
  for (var r = 0u; r < ROWS; r++) {
    let g = subgroupAdd(acc[r]);
    let u = subgroupAdd(acc_up[r]);
    // Rows past I (a ragged last slice) weigh 0 in phase 2.
    if (lane == 0u) { h[(li / SG) * ROWS + r] = select(0.0, g / (1.0 + exp(-g)) * u, n0 + r < params.N); }
  }
  workgroupBarrier();

  // Phase 2: this lane's chunk of the slice (clamped in a ragged last slice, where its h is 0).
  let part = li % C;
  let row_in_pass = li / C;
  let ic = min(wg.x * C + part, I_CHUNKS - 1u);
#if W_F16
  let h_lo = vec4<f32>(h[8u * part], h[8u * part + 1u], h[8u * part + 2u], h[8u * part + 3u]);
  let h_hi = vec4<f32>(h[8u * part + 4u], h[8u * part + 5u], h[8u * part + 6u], h[8u * part + 7u]);
#else
  let h_lo = vec4<f32>(h[4u * part], h[4u * part + 1u], h[4u * part + 2u], h[4u * part + 3u]);
  let h_hi = h_lo;
#endif
  let down0 = expert_row * D;
  let out0 = (slot * grid.x + wg.x) * D;
#unroll SOURCE SOURCES
  if (source == {{SOURCE}}u) {
    for (var p0 = 0u; p0 < PASSES; p0 += GROUP) {
#if W_F16
      var words: array<vec4<u32>, GROUP>;
#else
      var words: array<vec4<f32>, GROUP>;
#endif
      for (var u = 0u; u < GROUP; u++) {
        let n = min((p0 + u) * ROWS_PER_PASS + row_in_pass, D - 1u);
        words[u] = w{{SOURCE}}_down[((down0 + n) * I_CHUNKS + ic) & mask];
      }
      for (var u = 0u; u < GROUP; u++) {
        var s = h_dot(words[u], h_lo, h_hi);
        for (var o = 1u; o < C; o *= 2u) { s += subgroupShuffleXor(s, o); }
        let n = (p0 + u) * ROWS_PER_PASS + row_in_pass;
        if (part == 0u && live && n < D) { partials[out0 + n] = s; }
      }
    }
  }
#endunroll
}
