// Temperature + top-p (nucleus) sampling in one workgroup, no sort: p_i = exp((l_i − max)/T); the nucleus is
// {p_i ≥ τ} for the largest τ whose mass reaches top_p·Σp (bisection on τ ∈ [0, 1]); the token is the first,
// in id order, whose running nucleus mass passes u·mass, u ∈ [0, 1) read from a GPU buffer each step.
struct Params { vocab: u32, row: u32, out_index: u32, pad: u32, inv_temperature: f32, top_p: f32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> uniform_draw: array<f32>;
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;
#if SEQ_LEN
// Replayed decode lists: the sampled token goes to position seq_len + out_index (the next input).
@group(0) @binding(4) var<storage, read> seq_len: array<u32>;
#endif

const WG = {{WG}}u;
var<workgroup> partial: array<f32, {{WG}}>;
var<workgroup> bcast: f32;
var<workgroup> picked: u32;

fn reduce_sum(li: u32, v: f32) -> f32 {
  partial[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { partial[li] += partial[li + s]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

fn prob(base: u32, i: u32, m: f32) -> f32 {
  return exp((logits[base + i] - m) * params.inv_temperature);
}

#include "out-slot.part.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(local_invocation_index) li: u32) {
  let V = params.vocab;
  let base = params.row * V;
  // Contiguous blocks per lane so the final walk is in id order.
  let block = (V + WG - 1u) / WG;
  let lo = min(li * block, V);
  let hi = min(lo + block, V);
  var m = -3.4e38;
  for (var i = lo; i < hi; i++) { m = max(m, logits[base + i]); }
  partial[li] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { partial[li] = max(partial[li], partial[li + s]); }
    workgroupBarrier();
  }
  m = partial[0];
  workgroupBarrier();
  var z = 0.0;
  for (var i = lo; i < hi; i++) { z += prob(base, i, m); }
  let total = reduce_sum(li, z);
  let goal = params.top_p * total;
  var t_lo = 0.0;
  var t_hi = 1.0;
  for (var it = 0u; it < 40u; it++) {
    let mid = 0.5 * (t_lo + t_hi);
    var mass = 0.0;
    for (var i = lo; i < hi; i++) { let p = prob(base, i, m); if (p >= mid) { mass += p; } }
    if (reduce_sum(li, mass) >= goal) { t_lo = mid; } else { t_hi = mid; }
  }
  let tau = t_lo;
  var mine = 0.0;
  for (var i = lo; i < hi; i++) { let p = prob(base, i, m); if (p >= tau) { mine += p; } }
  partial[li] = mine;
  workgroupBarrier();
  if (li == 0u) {
    var nucleus = 0.0;
    for (var b = 0u; b < WG; b++) { nucleus += partial[b]; }
    let wanted = uniform_draw[0] * nucleus;
    var running = 0.0;
    var chosen = 0xffffffffu;
    var last = 0xffffffffu;
    for (var b = 0u; b < WG && chosen == 0xffffffffu; b++) {
      if (running + partial[b] <= wanted) { running += partial[b]; continue; }
      let blo = min(b * block, V);
      let bhi = min(blo + block, V);
      for (var i = blo; i < bhi; i++) {
        let p = prob(base, i, m);
        if (p >= tau) {
          last = i;
          running += p;
          if (running > wanted) { chosen = i; break; }
        }
      }
    }
    // Rounding can leave the draw at the very top of the mass: take the last nucleus token seen.
    if (chosen == 0xffffffffu) { chosen = last; }
    tokens[out_slot()] = chosen;
  }
}
