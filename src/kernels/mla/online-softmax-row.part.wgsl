// Shared by mla-flash-prefill.wgsl and mla-absorbed-decode.wgsl (#include at module scope): one online-softmax
// step for row i of the workgroup `scores` tile (BK columns; MASKED marks no key). Scores become weights
// against the row's new running max, the running sum is rescaled and extended, and rowRescale[i] tells the
// caller how much to shrink the row's accumulated output. The kernel declares scores, rowMax, rowSum,
// rowRescale, BK and MASKED.
fn online_softmax_row(i: u32) {
  var tileMax = MASKED;
  for (var j = 0u; j < BK; j++) { tileMax = max(tileMax, scores[i * BK + j]); }
  let newMax = max(rowMax[i], tileMax);
  var rescale = 1.0;
  if (rowMax[i] > MASKED) { rescale = exp(rowMax[i] - newMax); }
  var sum = 0.0;
  for (var j = 0u; j < BK; j++) {
    let x = scores[i * BK + j];
    var w = 0.0;
    if (x > MASKED) { w = exp(x - newMax); }
    scores[i * BK + j] = w;
    sum += w;
  }
  rowSum[i] = rowSum[i] * rescale + sum;
  rowMax[i] = newMax;
  rowRescale[i] = rescale;
}
