// Greedy sampling: token[out_index] = argmax(logits[row]), ties to the lower id. One workgroup.
struct Params { vocab: u32, row: u32, out_index: u32, pad: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> tokens: array<u32>;
#if SEQ_LEN
// Replayed decode lists: the sampled token goes to position seq_len + out_index (the next input).
@group(0) @binding(3) var<storage, read> seq_len: array<u32>;
#endif

const WG = {{WG}}u;
#include "workgroup-argmax.part.wgsl"
#include "out-slot.part.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(local_invocation_index) li: u32) {
  let base = params.row * params.vocab;
  var bv = -3.4e38;
  var bi = 0xffffffffu;
  for (var i = li; i < params.vocab; i += WG) {
    let v = logits[base + i];
    if (v > bv) { bv = v; bi = i; }
  }
  let best = workgroup_argmax(li, bv, bi);
  if (li == 0u) { tokens[out_slot()] = best; }
}
