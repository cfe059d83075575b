// MoE combine into the residual stream: x[t] += Σ_j w[t, j] · expert_out[slot_pos[t, j]] (+ shared[t]).
// DIRECT: expert_out holds one row per slot in slot order (the decode path), so slot_pos is the identity.
// SHARED_SLOT (DIRECT only): each token has top_k + 1 rows there, the last its shared expert's (added with
// weight 1, after the routed sum as a separate shared_out would be).
struct Params { tokens: u32, dim: u32, top_k: u32, pad: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> expert_out: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
#if DIRECT
#else
@group(0) @binding(4) var<storage, read> slot_pos: array<u32>;
#endif
#if SHARED
@group(0) @binding({{SHARED_BINDING}}) var<storage, read> shared_out: array<f32>;
#endif
#if RESIDUAL
// The attention branch not yet in x (its norm was folded into the MoE GEMVs): x ← (x + residual) + the sum,
// the same two f32 adds as the norm's residual add followed by this combine.
@group(0) @binding({{RESIDUAL_BINDING}}) var<storage, read> residual: array<f32>;
#endif

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  // One element per invocation, a token's row spread over ceil(dim / WG) workgroups: at decode (one token) a
  // single workgroup looping over the row cost ~20 µs, latency-bound.
  let g = wg.x + wg.y * grid.x;
  let chunks = (params.dim + {{WG}}u - 1u) / {{WG}}u;
  let t = g / chunks;
  let i = (g % chunks) * {{WG}}u + li;
  if (t >= params.tokens || i >= params.dim) { return; }
  var acc = 0.0;
#if SHARED_SLOT
  let rows_per_token = params.top_k + 1u;
#else
  let rows_per_token = params.top_k;
#endif
  for (var j = 0u; j < params.top_k; j++) {
    let slot = t * params.top_k + j;
#if DIRECT
    let row = t * rows_per_token + j;
#else
    let row = slot_pos[slot];
#endif
    acc = fma(weights[slot], expert_out[row * params.dim + i], acc);
  }
#if SHARED
  acc += shared_out[t * params.dim + i];
#endif
#if SHARED_SLOT
  acc += expert_out[(t * rows_per_token + params.top_k) * params.dim + i];
#endif
#if RESIDUAL
  x[t * params.dim + i] = (x[t * params.dim + i] + residual[t * params.dim + i]) + acc;
#else
  x[t * params.dim + i] += acc;
#endif
}
