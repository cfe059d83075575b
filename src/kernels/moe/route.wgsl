// MoE router: s = sigmoid(logits); top-k by s + bias (bias only selects); weights = s renormalised over the
// chosen experts (+1e-20) times routed_scaling_factor. One workgroup per token.
// Selection by rank, not k rounds of a workgroup argmax (8 rounds of a barrier tree cost ~12 µs per decode layer
// on the H100): each expert counts the experts ahead of it (higher select score, ties to the lower index) and,
// when fewer than k are, writes itself at that rank, which is the order the rounds produced. A NaN score ranks
// last, as -3.4e38.
struct Params { tokens: u32, experts: u32, top_k: u32, renormalize: u32, scale: f32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;

const WG = {{WG}}u;
var<workgroup> score: array<f32, {{E}}>;
var<workgroup> select_score: array<f32, {{E}}>;
var<workgroup> chosen: array<u32, {{K}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let t = wg.x + wg.y * grid.x;
  if (t >= params.tokens) { return; }
  let E = params.experts;
  for (var e = li; e < E; e += WG) {
    let s = 1.0 / (1.0 + exp(-logits[t * E + e]));
    score[e] = s;
    let key = s + bias[e];
    select_score[e] = select(-3.4e38, key, key == key);
  }
  workgroupBarrier();
  for (var e = li; e < E; e += WG) {
    let v = select_score[e];
    var ahead = 0u;
    for (var o = 0u; o < E; o++) {
      let w = select_score[o];
      if (w > v || (w == v && o < e)) { ahead++; }
    }
    if (ahead < params.top_k) { chosen[ahead] = e; }
  }
  workgroupBarrier();
  if (li == 0u) {
    var total = 0.0;
    for (var j = 0u; j < params.top_k; j++) { total += score[chosen[j]]; }
    for (var j = 0u; j < params.top_k; j++) {
      var w = score[chosen[j]];
      if (params.renormalize != 0u) { w = w / (total + 1e-20); }
      ids[t * params.top_k + j] = chosen[j];
      weights[t * params.top_k + j] = w * params.scale;
    }
  }
}
