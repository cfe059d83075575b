// One KDA decode token for one head per workgroup, fused (spec §3 steps 4–9): q/k L2 norm (+ q scale),
// per-channel gate α = exp(−e^A_log · softplus(f + dt_bias)), β = σ(b), the delta-rule update of the
// [dk, dv] state, o = Sᵀq̃, then the gated per-head RMSNorm. Thread = one value column; sums of squares
// reduce through workgroup memory. Same state layout as kdaRecurrentStep and kdaChunkPrefill.
struct Params {
  H: u32, dk: u32, dv: u32, qScale: f32, eps: f32,
  qOffset: u32, kOffset: u32, fOffset: u32, bOffset: u32, vOffset: u32, zOffset: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> f: array<f32>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(5) var<storage, read> aLog: array<f32>;
@group(0) @binding(6) var<storage, read> dtBias: array<f32>;
@group(0) @binding(7) var<storage, read> v: array<f32>;
@group(0) @binding(8) var<storage, read> z: array<f32>;
@group(0) @binding(9) var<storage, read> normWeight: array<f32>;
@group(0) @binding(10) var<storage, read_write> state: array<f32>;
@group(0) @binding(11) var<storage, read_write> y: array<f32>;

const WG: u32 = {{WG}}u;
const DK: u32 = {{DK}}u;
var<workgroup> qRow: array<f32, DK>;
var<workgroup> kRow: array<f32, DK>;
var<workgroup> alphaRow: array<f32, DK>;
#include "kda-head-math.part.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let h = wg.x;
  let dk = params.dk;
  let dv = params.dv;
  let col = h * dk;
  var sq = 0.0;
  var sk = 0.0;
  for (var i = lane; i < dk; i += WG) {
    let qi = q[params.qOffset + col + i];
    let ki = k[params.kOffset + col + i];
    qRow[i] = qi;
    kRow[i] = ki;
    alphaRow[i] = exp(logDecay(f[params.fOffset + col + i], h, col + i));
    sq += qi * qi;
    sk += ki * ki;
  }
  sumA[lane] = sq;
  sumB[lane] = sk;
  reducePair(lane);
  let rq = params.qScale / sqrt(sumA[0] + 1e-6);
  let rk = 1.0 / sqrt(sumB[0] + 1e-6);
  let beta = 1.0 / (1.0 + exp(-b[params.bOffset + h]));
  workgroupBarrier(); // everyone has read sumA[0]/sumB[0] before they are reused below

  let e = lane;
  let ownsColumn = e < dv;
  var o = 0.0;
  if (ownsColumn) {
    let sBase = h * dk * dv + e;
    var kS = 0.0;
    for (var i = 0u; i < dk; i++) { kS += alphaRow[i] * state[sBase + i * dv] * kRow[i]; }
    let vPrime = beta * (v[params.vOffset + h * dv + e] - kS * rk);
    for (var i = 0u; i < dk; i++) {
      let s = alphaRow[i] * state[sBase + i * dv] + kRow[i] * rk * vPrime;
      state[sBase + i * dv] = s;
      o += s * qRow[i];
    }
    o *= rq;
  }
  sumA[lane] = o * o;
  sumB[lane] = 0.0;
  reducePair(lane);
  if (ownsColumn) {
    let inv = 1.0 / sqrt(sumA[0] / f32(dv) + params.eps);
    let gate = 1.0 / (1.0 + exp(-z[params.zOffset + h * dv + e]));
    y[h * dv + e] = o * inv * normWeight[e] * gate;
  }
}
