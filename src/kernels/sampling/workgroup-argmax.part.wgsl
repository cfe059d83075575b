// Included by sampling/argmax.wgsl (#include at module scope; the kernel defines WG): the
// arg-max over one (value, index) candidate per invocation of the workgroup, ties to the lower index. Call it
// from uniform control flow; it ends on a barrier, so it may be called again right away.
var<workgroup> best_value: array<f32, WG>;
var<workgroup> best_index: array<u32, WG>;

fn workgroup_argmax(li: u32, value: f32, index: u32) -> u32 {
  best_value[li] = value;
  best_index[li] = index;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) {
      let ov = best_value[li + s];
      let oi = best_index[li + s];
      if (ov > best_value[li] || (ov == best_value[li] && oi < best_index[li])) {
        best_value[li] = ov;
        best_index[li] = oi;
      }
    }
    workgroupBarrier();
  }
  let best = best_index[0];
  workgroupBarrier();
  return best;
}
