// The per-slice power-of-two scales of the tensor-core KDA scans (an f16 copy of an unbounded slice must stay
// below 2^15). Needs F (f32 workgroup array) with NSG free slots from MAX_SLOTS, NSG and sgLane.

// Max over the workgroup of each thread's m (subgroup max, one slot per subgroup, one barrier).
fn sliceMax(m: f32, sg: u32) -> f32 {
  let sm = subgroupMax(m);
  if (sgLane == 0u) { F[MAX_SLOTS + sg] = sm; }
  workgroupBarrier();
  var all = 0.0;
  for (var s = 0u; s < NSG; s++) { all = max(all, F[MAX_SLOTS + s]); }
  return all;
}

// Power of two 2^s with max·2^s < 2^15 (1 for an all-zero slice; s ≤ 120 so 2^s and 2^−s stay finite).
fn upScale(m: f32) -> f32 {
  if (!(m > 0.0)) { return 1.0; }
  return ldexp(1.0, min(15 - frexp(m).exp, 120));
}
