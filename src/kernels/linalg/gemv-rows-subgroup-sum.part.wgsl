// Shared end of gemv-f16.wgsl and gemv-q8.wgsl (#include inside main): each lane holds ROWS partial dot products in
// acc; subgroupAdd sums them per subgroup, one slot per subgroup in `partial`, and ROWS lanes add the slots and
// write out[col_offset + n0 + r]. The including kernel defines ROWS, SLOTS, WG, partial, lane, sg_size and n0
// (and, with NORM, squares and params.eps).
  // Subgroups are laid out linearly over local_invocation_index on the drivers we run (NVIDIA, Mesa).
  let slot = li / sg_size;
  for (var r = 0u; r < ROWS; r++) {
    let s = subgroupAdd(acc[r]);
    if (lane == 0u) { partial[r * SLOTS + slot] = s; }
  }
  workgroupBarrier();
  if (li < ROWS && n0 + li < params.N) {
    var total = 0.0;
    for (var s = 0u; s < WG / sg_size; s++) { total += partial[li * SLOTS + s]; }
#if NORM
    // gemv-f16's folded RMSNorm: its squares were published by the same barrier.
    var sqTotal = 0.0;
    for (var s = 0u; s < WG / sg_size; s++) { sqTotal += squares[s]; }
    total *= inverseSqrt(sqTotal / f32(params.K) + params.eps);
#endif
    out[params.col_offset + n0 + li] = total;
  }
