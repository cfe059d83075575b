// Temperature + top-p (nucleus) sampling in one workgroup, no sort: p_i = exp((l_i − max)/T); the nucleus is
// {p_i ≥ τ} for the largest τ whose mass reaches top_p·Σp (bisection on τ ∈ [0, 1]); the token is the first,
// in id order, whose running nucleus mass passes u·mass, u ∈ [0, 1) read from a GPU buffer each step.
// Candidates: tokens with p < τc = (Σp − goal) / (2V) hold under half the mass outside the nucleus, so τ ≥ τc and
// the bisection only needs the tokens at or above τc. When at most CAP are (peaked distributions), they are
// copied in id order to `cand` and the 40 bisection steps read only them; otherwise every step reads the whole
// vocabulary (40 passes over 163840 logits took 3.8 ms of a decode step on the H100). top_p = 1 needs no search.
struct Params { vocab: u32, row: u32, out_index: u32, pad: u32, inv_temperature: f32, top_p: f32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> uniform_draw: array<f32>;
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;
// Candidate pairs (p bits, id), CAP of them.
@group(0) @binding(4) var<storage, read_write> cand: array<u32>;
#if SEQ_LEN
// Replayed decode lists: the sampled token goes to position seq_len + out_index (the next input).
@group(0) @binding(5) var<storage, read> seq_len: array<u32>;
#endif

const WG = {{WG}}u;
const CAP = {{CAP}}u;
var<workgroup> partial: array<f32, {{WG}}>;
// Each invocation's first candidate slot (exclusive prefix of the per-invocation counts), then the count.
var<workgroup> candStart: array<u32, {{WG}}>;
var<workgroup> candCount: u32;

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
  var tau = 0.0;
  var fromCand = false;
  if (params.top_p < 1.0) {
    let tauc = 0.5 * (total - goal) / f32(V);
    var c = 0u;
    for (var i = lo; i < hi; i++) { if (prob(base, i, m) >= tauc) { c++; } }
    candStart[li] = c;
    workgroupBarrier();
    if (li == 0u) {
      var run = 0u;
      for (var b = 0u; b < WG; b++) { let n = candStart[b]; candStart[b] = run; run += n; }
      candCount = run;
    }
    let n = workgroupUniformLoad(&candCount);
    var t_lo = 0.0;
    var t_hi = 1.0;
    if (n <= CAP) {
      var at = candStart[li];
      for (var i = lo; i < hi; i++) {
        let p = prob(base, i, m);
        if (p >= tauc) { cand[2u * at] = bitcast<u32>(p); cand[2u * at + 1u] = i; at++; }
      }
      storageBarrier();
      workgroupBarrier();
      for (var it = 0u; it < 40u; it++) {
        let mid = 0.5 * (t_lo + t_hi);
        var mass = 0.0;
        for (var k = li; k < n; k += WG) { let p = bitcast<f32>(cand[2u * k]); if (p >= mid) { mass += p; } }
        if (reduce_sum(li, mass) >= goal) { t_lo = mid; } else { t_hi = mid; }
      }
      fromCand = true;
    } else {
      for (var it = 0u; it < 40u; it++) {
        let mid = 0.5 * (t_lo + t_hi);
        var mass = 0.0;
        for (var i = lo; i < hi; i++) { let p = prob(base, i, m); if (p >= mid) { mass += p; } }
        if (reduce_sum(li, mass) >= goal) { t_lo = mid; } else { t_hi = mid; }
      }
    }
    tau = t_lo;
  }
  // This invocation's share of the nucleus mass: its candidates, or its block of the vocabulary.
  let segEnd = select(candStart[min(li + 1u, WG - 1u)], candCount, li == WG - 1u);
  var mine = 0.0;
  if (fromCand) {
    for (var k = candStart[li]; k < segEnd; k++) { let p = bitcast<f32>(cand[2u * k]); if (p >= tau) { mine += p; } }
  } else {
    for (var i = lo; i < hi; i++) { let p = prob(base, i, m); if (p >= tau) { mine += p; } }
  }
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
      if (fromCand) {
        let kEnd = select(candStart[min(b + 1u, WG - 1u)], candCount, b == WG - 1u);
        for (var k = candStart[b]; k < kEnd; k++) {
          let p = bitcast<f32>(cand[2u * k]);
          if (p >= tau) {
            last = cand[2u * k + 1u];
            running += p;
            if (running > wanted) { chosen = last; break; }
          }
        }
        continue;
      }
      let blo = min(b * block, V);
      let bhi = min(blo + block, V);
      for (var i = blo; i < bhi; i++) {
        let p = prob(base, i, m);
        // p > 0: with top_p = 1 (τ = 0) a logit that underflows is still never the rounding fallback's pick.
        if (p >= tau && p > 0.0) {
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
