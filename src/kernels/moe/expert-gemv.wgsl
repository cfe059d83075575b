// Routed expert projections for decode: out[s, n] = Σ_k x[src(s), k] · W[ids[s]][n, k] over the few (token,
// expert) slots of a decode step. Only the chosen experts' rows are read, once per slot; the grouped GEMM would
// pad every routed expert to a whole TM-row tile and so do TM times the work for one token.
// src(s) = s / top_k when GATHER (gate/up read the token's hidden state), else s (down reads the slot's row).
// The stacked weight [E, N, K] may be split along E over bindings; a call serves experts [expert_lo, expert_hi).
#if SUBGROUPS
enable subgroups;
#endif

struct Params { N: u32, K: u32, top_k: u32, expert_lo: u32, expert_hi: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> params: Params;
// Chunks of CH elements: 8 halves as one vec4<u32> (F16_VEC), 4 floats as one vec4<f32> (F32_VEC), or single
// elements when K does not divide.
#if F16_VEC
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
#elif F32_VEC
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
#elif W_F16
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
#endif
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const WG = {{WG}}u;
const ROWS = {{ROWS}}u;
const CH = {{CH}}u;
#if SUBGROUPS
// One partial per subgroup per row; subgroups are at least MIN_SG lanes wide.
const SLOTS = WG / {{MIN_SG}}u;
#else
const SLOTS = WG;
#endif
var<workgroup> partial: array<f32, SLOTS * ROWS>;
var<workgroup> shared_expert: u32;

// Dot product of weight chunk `wc` with x chunk `xc`.
fn chunk_dot(wc: u32, xc: u32) -> f32 {
#if F16_VEC
  let word = w[wc];
  let lo = vec4<f32>(unpack2x16float(word.x), unpack2x16float(word.y));
  let hi = vec4<f32>(unpack2x16float(word.z), unpack2x16float(word.w));
  return dot(lo, x[2u * xc]) + dot(hi, x[2u * xc + 1u]);
#elif F32_VEC
  return dot(w[wc], x[xc]);
#elif W_F16
  return unpack2x16float(w[wc >> 1u])[wc & 1u] * x[xc];
#else
  return w[wc] * x[xc];
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32
#if SUBGROUPS
        , @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32
#endif
) {
  let slot = wg.y;
  if (li == 0u) { shared_expert = ids[slot]; }
  let expert = workgroupUniformLoad(&shared_expert);
  if (expert < params.expert_lo || expert >= params.expert_hi) { return; }
#if GATHER
  let src = slot / params.top_k;
#else
  let src = slot;
#endif
  let chunks = params.K / CH;
  let n0 = wg.x * ROWS;
  let row0 = (expert - params.expert_lo) * params.N;
  var acc: array<f32, ROWS>;
  for (var c = li; c < chunks; c += WG) {
    for (var r = 0u; r < ROWS; r++) {
      let n = min(n0 + r, params.N - 1u);
      acc[r] += chunk_dot((row0 + n) * chunks + c, src * chunks + c);
    }
  }
#if SUBGROUPS
  // Subgroups are laid out linearly over local_invocation_index on the drivers we run (NVIDIA, Mesa).
  let sg = li / sg_size;
  for (var r = 0u; r < ROWS; r++) {
    let s = subgroupAdd(acc[r]);
    if (lane == 0u) { partial[r * SLOTS + sg] = s; }
  }
  workgroupBarrier();
  let used = WG / sg_size;
#else
  for (var r = 0u; r < ROWS; r++) { partial[r * SLOTS + li] = acc[r]; }
  workgroupBarrier();
  for (var half = WG / 2u; half >= 8u; half /= 2u) {
    if (li < half) {
      for (var r = 0u; r < ROWS; r++) { partial[r * SLOTS + li] += partial[r * SLOTS + li + half]; }
    }
    workgroupBarrier();
  }
  let used = min(WG, 8u);
#endif
  if (li < ROWS && n0 + li < params.N) {
    var total = 0.0;
    for (var s = 0u; s < used; s++) { total += partial[li * SLOTS + s]; }
    out[slot * params.N + n0 + li] = total;
  }
}
