// KDA delta-rule recurrence, token by token (spec §3 step 8): the decode step, and a reference path for
// short inputs. A workgroup owns CB value columns of one head's state S [dk, dv]; each column is shared by P
// threads that keep DKP = dk / P of its rows in registers (so the state never spills and 32× more threads run
// than with one thread per column). Per token: S ← Diag(α)S, v' = β(v − Sᵀk), S += k v'ᵀ, o = Sᵀq̃ from the
// updated S; the two sums over dk meet through workgroup memory.
// PREPARE (decode, T = 1): the inputs arrive as kdaPrepare takes them (post-conv q, k; the gate f or, LOWRANK,
// f_a h with f_b; b; A_log; dt_bias) and each workgroup prepares its head's q̃, k̂, α and β itself, by
// kdaPrepare's formulas (the head's dv / CB workgroups each redo 3·dk values; with dk ≤ kdaPrepare's workgroup,
// as at 128 on the H100, its sums too): one dispatch fewer per KDA layer.
#if PREPARE
struct Params { T: u32, H: u32, dv: u32, vOffset: u32, vStride: u32, qOffset: u32, kOffset: u32, fOffset: u32, bOffset: u32, qScale: f32 }
#else
struct Params { T: u32, H: u32, dv: u32, vOffset: u32, vStride: u32 }
#endif
@group(0) @binding(0) var<uniform> params: Params;
#if PREPARE
#include "kda-prepare-inputs.part.wgsl"
@group(0) @binding(7) var<storage, read> v: array<f32>;
@group(0) @binding(8) var<storage, read_write> state: array<f32>;
@group(0) @binding(9) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;
@group(0) @binding(6) var<storage, read_write> state: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;
#endif

const DK: u32 = {{DK}}u;
const P: u32 = {{P}}u;
const CB: u32 = {{CB}}u;
const DKP: u32 = DK / P;
const WG: u32 = CB * P;
var<workgroup> qRow: array<f32, DK>;
var<workgroup> kRow: array<f32, DK>;
var<workgroup> alphaRow: array<f32, DK>;
var<workgroup> partial: array<f32, WG>;
#if PREPARE
#include "kda-head-math.part.wgsl"

// Stages the head's q̃, k̂ (normalised as kdaPrepare does: a tree over the lanes' sums) and α = exp(g); returns β.
fn prepareHead(h: u32, lane: u32) -> f32 {
  var sq = 0.0;
  var sk = 0.0;
  for (var i = lane; i < DK; i += WG) {
    let qi = q[params.qOffset + h * DK + i];
    let ki = k[params.kOffset + h * DK + i];
    qRow[i] = qi;
    kRow[i] = ki;
    sq += qi * qi;
    sk += ki * ki;
#if LOWRANK
#else
    alphaRow[i] = exp(logDecay(f[params.fOffset + h * DK + i], h, h * DK + i));
#endif
  }
  sumA[lane] = sq;
  sumB[lane] = sk;
#if LOWRANK
  stageLowRankRow(params.fOffset, lane);
#endif
  reducePair(lane);
  let rq = params.qScale / sqrt(sumA[0] + 1e-6);
  let rk = 1.0 / sqrt(sumB[0] + 1e-6);
  for (var i = lane; i < DK; i += WG) {
#if LOWRANK
    alphaRow[i] = exp(logDecay(lowRankDot(h * DK + i), h, h * DK + i));
#endif
    qRow[i] = qRow[i] * rq;
    kRow[i] = kRow[i] * rk;
  }
  workgroupBarrier();
  return 1.0 / (1.0 + exp(-b[params.bOffset + h]));
}
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let h = wg.y;
  let col = lane % CB;
  let part = lane / CB;
  let e = wg.x * CB + col;
  let i0 = part * DKP;
  let ownsColumn = e < params.dv;
  let sBase = h * DK * params.dv + e;
  var s: array<f32, DKP>;
  for (var i = 0u; i < DKP; i++) { s[i] = select(0.0, state[sBase + (i0 + i) * params.dv], ownsColumn); }
  for (var t = 0u; t < params.T; t++) {
    let row = t * params.H + h;
#if PREPARE
    let betaRow = prepareHead(h, lane); // T = 1 (the wrapper checks)
#else
    for (var i = lane; i < DK; i += WG) {
      qRow[i] = q[row * DK + i];
      kRow[i] = k[row * DK + i];
      alphaRow[i] = exp(g[row * DK + i]);
    }
    workgroupBarrier();
    let betaRow = beta[row];
#endif
    var kS = 0.0;
    for (var i = 0u; i < DKP; i++) {
      s[i] *= alphaRow[i0 + i];
      kS += s[i] * kRow[i0 + i];
    }
    partial[lane] = kS;
    workgroupBarrier();
    kS = 0.0;
    for (var p = 0u; p < P; p++) { kS += partial[p * CB + col]; }
    var vPrime = 0.0;
    if (ownsColumn) { vPrime = betaRow * (v[params.vOffset + t * params.vStride + h * params.dv + e] - kS); }
    var o = 0.0;
    for (var i = 0u; i < DKP; i++) {
      s[i] += kRow[i0 + i] * vPrime;
      o += s[i] * qRow[i0 + i];
    }
    // Everyone has read the kS partials (and the staged rows) before they are overwritten.
    workgroupBarrier();
    partial[lane] = o;
    workgroupBarrier();
    if (part == 0u && ownsColumn) {
      var sum = 0.0;
      for (var p = 0u; p < P; p++) { sum += partial[p * CB + col]; }
      out[row * params.dv + e] = sum;
    }
    workgroupBarrier();
  }
  if (ownsColumn) {
    for (var i = 0u; i < DKP; i++) { state[sBase + (i0 + i) * params.dv] = s[i]; }
  }
}
