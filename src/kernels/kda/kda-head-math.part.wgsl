// Shared by kda-prepare.wgsl, kda-recurrent.wgsl (PREPARE) and kda-decode-step.wgsl (#include): transformers'
// softplus (beta 1, threshold 20, log(1+e^x) rather than log1p), KDA's per-channel log-decay
// g = −e^A_log[h] · softplus(f + dt_bias[c]) (the kernel declares aLog and dtBias), and the tree sum of two
// {{WG}}-lane workgroup arrays declared here (each lane writes sumA[lane], sumB[lane] first).
var<workgroup> sumA: array<f32, {{WG}}>;
var<workgroup> sumB: array<f32, {{WG}}>;

fn softplus(x: f32) -> f32 {
  if (x > 20.0) { return x; }
  return log(1.0 + exp(x));
}

fn logDecay(fv: f32, h: u32, c: u32) -> f32 {
  return -exp(aLog[h]) * softplus(fv + dtBias[c]);
}

// From uniform control flow: the totals land in sumA[0] and sumB[0], published by the last barrier.
fn reducePair(lane: u32) {
  workgroupBarrier();
  for (var stride = {{WG}}u / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      sumA[lane] += sumA[lane + stride];
      sumB[lane] += sumB[lane + stride];
    }
    workgroupBarrier();
  }
}
