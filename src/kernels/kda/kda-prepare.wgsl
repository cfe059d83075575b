// Per (token, head) row of KDA inputs (spec §3 steps 4–7), all in f32 as transformers computes them:
// q ← q / sqrt(Σq² + 1e-6) · dk^-1/2, k ← k / sqrt(Σk² + 1e-6), g = −exp(A_log[h]) · softplus(f + dt_bias),
// β = sigmoid(b). One workgroup per row; the two sums of squares reduce through workgroup memory.
// With LOWRANK (decode), f is not read but computed per channel as f_b · (f_a h) (kda-low-rank-fold.part.wgsl):
// binding 3 then holds the low-rank row f_a h and fOffset/fStride address it.
struct Params {
  T: u32, H: u32, dk: u32, qScale: f32,
  qOffset: u32, qStride: u32, kOffset: u32, kStride: u32,
  fOffset: u32, fStride: u32, bOffset: u32, bStride: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
#include "kda-prepare-inputs.part.wgsl"
@group(0) @binding(7) var<storage, read_write> qOut: array<f32>;
@group(0) @binding(8) var<storage, read_write> kOut: array<f32>;
@group(0) @binding(9) var<storage, read_write> gOut: array<f32>;
@group(0) @binding(10) var<storage, read_write> betaOut: array<f32>;

#include "kda-head-math.part.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
  let row = wg.x + wg.y * grid.x;
  if (row >= params.T * params.H) { return; } // whole workgroup leaves together: barriers stay uniform
  let t = row / params.H;
  let h = row % params.H;
  let col = h * params.dk;
  let qBase = params.qOffset + t * params.qStride + col;
  let kBase = params.kOffset + t * params.kStride + col;
  var sq = 0.0;
  var sk = 0.0;
  for (var i = lane; i < params.dk; i += {{WG}}u) {
    let qi = q[qBase + i];
    let ki = k[kBase + i];
    sq += qi * qi;
    sk += ki * ki;
  }
  sumA[lane] = sq;
  sumB[lane] = sk;
#if LOWRANK
  stageLowRankRow(params.fOffset + t * params.fStride, lane);
#endif
  reducePair(lane);
  let rq = params.qScale / sqrt(sumA[0] + 1e-6);
  let rk = 1.0 / sqrt(sumB[0] + 1e-6);
#if LOWRANK
#else
  let fBase = params.fOffset + t * params.fStride + col;
#endif
  let out = row * params.dk;
  for (var i = lane; i < params.dk; i += {{WG}}u) {
    qOut[out + i] = q[qBase + i] * rq;
    kOut[out + i] = k[kBase + i] * rk;
#if LOWRANK
    let fi = lowRankDot(col + i);
#else
    let fi = f[fBase + i];
#endif
    gOut[out + i] = logDecay(fi, h, col + i);
  }
  if (lane == 0u) {
    betaOut[row] = 1.0 / (1.0 + exp(-b[params.bOffset + t * params.bStride + h]));
  }
}
