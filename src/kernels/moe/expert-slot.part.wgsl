// Shared opening of main() in expert-gemv-subgroup.wgsl and expert-gemv-q8.wgsl (#include): the routed slot of
// this workgroup, its expert and whether that expert lies in this binding part (mask then zeroes every weight
// index, so control flow never depends on it), the x row it reads (GATHER: slot / top_k), the lane, and the
// first of this subgroup's ROWS output rows. The including kernel defines SG, SUBGROUPS, ROWS, ids and params.
// SHARED (subgroup kernel only): the grid runs top_k + 1 slots per token, the last being the shared expert
// (from_shared; computed by the dispatch whose params.shared_live is set, its expert id is unused).
  let slot = wg.y;
#if SHARED
  let token = slot / (params.top_k + 1u);
  let pick = slot % (params.top_k + 1u);
  let from_shared = pick == params.top_k;
  let expert = ids[token * params.top_k + min(pick, params.top_k - 1u)];
  let live = select(expert >= params.expert_lo && expert < params.expert_hi, params.shared_live != 0u, from_shared);
#else
  let token = slot / params.top_k;
  let expert = ids[slot];
  let live = expert >= params.expert_lo && expert < params.expert_hi;
#endif
  let mask = select(0u, 0xffffffffu, live);
#if GATHER
  let src = token;
#else
  let src = slot;
#endif
  // Subgroups are laid out linearly over local_invocation_index on the drivers we run (NVIDIA, Mesa).
  let lane = li % SG;
  let n0 = (wg.x * SUBGROUPS + li / SG) * ROWS;
