// Greedy sampling: token[out_index] = argmax(logits[row]), ties to the lower id, in two passes. A single workgroup
// over a 163840-word vocabulary cost 0.26 ms of an 11.7 ms decode step on the H100 (640 dependent loads per lane).
// PARTIAL: workgroup g takes the contiguous block [g·BLOCK, (g+1)·BLOCK) and writes its best id to partial[g];
// final: one workgroup picks among those ids. Blocks are in id order, so ties still go to the lower id.
struct Params { vocab: u32, row: u32, out_index: u32, blocks: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
#if PARTIAL
@group(0) @binding(2) var<storage, read_write> partial: array<u32>;
#else
@group(0) @binding(2) var<storage, read> partial: array<u32>;
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;
#if SEQ_LEN
// Replayed decode lists: the sampled token goes to position seq_len + out_index (the next input).
@group(0) @binding(4) var<storage, read> seq_len: array<u32>;
#endif
#include "out-slot.part.wgsl"
#endif

const WG = {{WG}}u;
const BLOCK = {{BLOCK}}u;
#include "workgroup-argmax.part.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let base = params.row * params.vocab;
  var bv = -3.4e38;
  var bi = 0xffffffffu;
#if PARTIAL
  let end = min((wg.x + 1u) * BLOCK, params.vocab);
  for (var i = wg.x * BLOCK + li; i < end; i += WG) {
    let v = logits[base + i];
    if (v > bv) { bv = v; bi = i; }
  }
#else
  for (var b = li; b < params.blocks; b += WG) {
    let i = partial[b];
    // A block of only NaN has no candidate (0xffffffff).
    if (i < params.vocab) {
      let v = logits[base + i];
      if (v > bv || (v == bv && i < bi)) { bv = v; bi = i; }
    }
  }
#endif
  let best = workgroup_argmax(li, bv, bi);
#if PARTIAL
  if (li == 0u) { partial[wg.x] = best; }
#else
  if (li == 0u) { tokens[out_slot()] = best; }
#endif
}
