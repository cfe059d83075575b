// Shared opening of main() in matmul.wgsl and gemm-subgroup-matrix.wgsl (#include): for the M tile at row m0,
// the source row of each x element this thread stages (NONE: padding or past M, fixed across the K loop), the
// weight base of the tile's expert (MOE), and `valid`, the tile's live row prefix (sort-and-pad puts padding
// last), so row blocks past it skip their products. The including kernel defines TILE_ROWS, ROW_LOADS (x
// loads per thread), THREADS, stagedRow(u) (the tile row of staged x item u) and the MOE bindings.
  var w_base = 0u;
  var src: array<u32, ROW_LOADS>;
#if MOE
  if (li == 0u) { shared_expert = tile_expert[wg.y]; }
  let expert = workgroupUniformLoad(&shared_expert);
  if (expert == NONE || expert < params.expert_lo || expert >= params.expert_hi) { return; }
  w_base = (expert - params.expert_lo) * params.N * params.K;
  for (var r = li; r < TILE_ROWS; r += THREADS) {
    if (rows[m0 + r] != NONE) { atomicMax(&shared_valid, r + 1u); }
  }
  for (var s = 0u; s < ROW_LOADS; s++) {
    let m = m0 + stagedRow(li + s * THREADS);
#if GATHER
    src[s] = rows[m];
#else
    src[s] = select(m, NONE, rows[m] == NONE);
#endif
  }
  workgroupBarrier();
  let valid = atomicLoad(&shared_valid);
#else
  for (var s = 0u; s < ROW_LOADS; s++) {
    let m = m0 + stagedRow(li + s * THREADS);
    src[s] = select(NONE, m, m < params.M);
  }
  let valid = min(TILE_ROWS, params.M - m0);
#endif
