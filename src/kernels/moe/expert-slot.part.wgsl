// Shared opening of main() in expert-gemv-subgroup.wgsl and expert-gemv-q8.wgsl (#include): the routed slot of
// this workgroup, its expert and whether that expert lies in this binding part (mask then zeroes every weight
// index, so control flow never depends on it), the x row it reads (GATHER: slot / top_k), the lane, and the
// first of this subgroup's ROWS output rows. The including kernel defines SG, SUBGROUPS, ROWS, ids and params.
  let slot = wg.y;
  let expert = ids[slot];
  let live = expert >= params.expert_lo && expert < params.expert_hi;
  let mask = select(0u, 0xffffffffu, live);
#if GATHER
  let src = slot / params.top_k;
#else
  let src = slot;
#endif
  // Subgroups are laid out linearly over local_invocation_index on the drivers we run (NVIDIA, Mesa).
  let lane = li % SG;
  let n0 = (wg.x * SUBGROUPS + li / SG) * ROWS;
