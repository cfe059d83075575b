// NoPE MLA prefill attention, expanded form (spec §5), flash-style: a workgroup owns BQ query rows of one
// head and streams BK-key tiles through workgroup memory with an online softmax, so T×T scores never exist.
// key = [k_nope (per head, Dn) | k_pe (shared by heads, Dr)], value per head Dv; query i is at absolute
// position qPos0 + i and sees keys 0..qPos0+i (tiles past the diagonal are never loaded).
// Key blocks: one call may cover only keys [kStart, kEnd) (the k/v views then start at key kStart), carrying
// each row's unnormalised output, running max and sum in `carry` [Tq, H, DV + 2] between calls
// (CARRY_IN: resume from it; CARRY_OUT: store to it instead of writing the normalised output). Long prompts
// thus never need every key expanded at once.
struct Params {
  Tq: u32, Tk: u32, H: u32, qPos0: u32, scale: f32, kStart: u32, kEnd: u32,
  qOffset: u32, qToken: u32, qHead: u32,
  knOffset: u32, knToken: u32, knHead: u32,
  krOffset: u32, krToken: u32,
  vOffset: u32, vToken: u32, vHead: u32,
  dq4: u32, // DQ4 as a runtime loop bound (a constant one is unrolled and slows lavapipe's compile badly)
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kNope: array<f32>;
#if DR
@group(0) @binding(3) var<storage, read> kRope: array<f32>;
#endif
@group(0) @binding({{V_BINDING}}) var<storage, read> v: array<f32>;
#if CARRY_OUT
#else
@group(0) @binding({{OUT_BINDING}}) var<storage, read_write> out: array<f32>;
#endif
#if CARRY
@group(0) @binding({{CARRY_BINDING}}) var<storage, read_write> carry: array<f32>;
#endif

const DN: u32 = {{DN}}u;
const DR: u32 = {{DR}}u;
const DQ: u32 = DN + DR;
const DV: u32 = {{DV}}u;
const BQ: u32 = {{BQ}}u;
const BK: u32 = {{BK}}u;
// Register tiles: a thread scores RQ query rows × RK keys and accumulates RQ rows × RE value columns, so each
// workgroup-memory load feeds several multiply-adds. Threads form TQ × TK; keys and value columns are
// interleaved across the TK lanes so neighbouring lanes touch neighbouring rows/columns.
const RQ: u32 = {{RQ}}u;
const RK: u32 = {{RK}}u;
const TQ: u32 = BQ / RQ;
const TK: u32 = BK / RK;
const WG: u32 = TQ * TK;
const RE: u32 = (DV + TK - 1u) / TK;
// Q and K rows as vec4s (zero-padded to DQ4·4) so a score needs a quarter of the loads; one extra vec4 per
// row keeps rows a multiple of the bank count apart from landing in the same banks.
const DQ4: u32 = (DQ + 3u) / 4u;
const ROW4: u32 = DQ4 + 1u;
const MASKED: f32 = -3.0e38;

var<workgroup> qTile: array<vec4<f32>, BQ * ROW4>;
var<workgroup> kTile: array<vec4<f32>, BK * ROW4>;
var<workgroup> vTile: array<f32, BK * DV>;
var<workgroup> scores: array<f32, BQ * BK>;
var<workgroup> rowMax: array<f32, BQ>;
var<workgroup> rowSum: array<f32, BQ>;
var<workgroup> rowRescale: array<f32, BQ>;
#include "online-softmax-row.part.wgsl"

@compute @workgroup_size(TQ * TK)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let h = wg.y;
  let q0 = wg.x * BQ;
  let nq = min(BQ, params.Tq - q0);
  let ty = lane / TK;
  let tx = lane % TK;
  for (var p = lane; p < BQ * DQ4; p += WG) {
    let i = p / DQ4;
    var x = vec4<f32>(0.0);
    for (var c = 0u; c < 4u; c++) {
      let d = (p % DQ4) * 4u + c;
      if (i < nq && d < DQ) { x[c] = q[params.qOffset + (q0 + i) * params.qToken + h * params.qHead + d]; }
    }
    qTile[i * ROW4 + p % DQ4] = x;
  }
  var acc: array<f32, RQ * RE>;
  for (var m = 0u; m < RQ * RE; m++) { acc[m] = 0.0; }
  if (lane < BQ) {
    rowMax[lane] = MASKED;
    rowSum[lane] = 0.0;
  }
#if CARRY_IN
  if (lane < nq) {
    let at = ((q0 + lane) * params.H + h) * (DV + 2u) + DV;
    rowMax[lane] = carry[at];
    rowSum[lane] = carry[at + 1u];
  }
  for (var a = 0u; a < RQ; a++) {
    let i = ty * RQ + a;
    for (var c = 0u; c < RE; c++) {
      let e = tx + c * TK;
      if (i < nq && e < DV) { acc[a * RE + c] = carry[((q0 + i) * params.H + h) * (DV + 2u) + e]; }
    }
  }
#endif
  let keyEnd = min(params.kEnd, params.qPos0 + q0 + nq);
  for (var k0 = params.kStart; k0 < keyEnd; k0 += BK) {
    let nk = min(BK, keyEnd - k0);
    let kRel = k0 - params.kStart; // views start at key kStart
    workgroupBarrier();
    for (var p = lane; p < BK * DQ4; p += WG) {
      let j = p / DQ4;
      var x = vec4<f32>(0.0);
      for (var c = 0u; c < 4u; c++) {
        let d = (p % DQ4) * 4u + c;
        if (j < nk) {
          if (d < DN) {
            x[c] = kNope[params.knOffset + (kRel + j) * params.knToken + h * params.knHead + d];
          } else if (d < DQ) {
#if DR
            x[c] = kRope[params.krOffset + (kRel + j) * params.krToken + d - DN];
#endif
          }
        }
      }
      kTile[j * ROW4 + p % DQ4] = x;
    }
    for (var p = lane; p < BK * DV; p += WG) {
      let j = p / DV;
      var x = 0.0;
      if (j < nk) { x = v[params.vOffset + (kRel + j) * params.vToken + h * params.vHead + p % DV]; }
      vTile[p] = x;
    }
    workgroupBarrier();
    var s: array<f32, RQ * RK>;
    for (var m = 0u; m < RQ * RK; m++) { s[m] = 0.0; }
    for (var d4 = 0u; d4 < params.dq4; d4++) {
      var qv: array<vec4<f32>, RQ>;
      for (var a = 0u; a < RQ; a++) { qv[a] = qTile[(ty * RQ + a) * ROW4 + d4]; }
      for (var b = 0u; b < RK; b++) {
        let kv = kTile[(tx + b * TK) * ROW4 + d4];
        for (var a = 0u; a < RQ; a++) { s[a * RK + b] += dot(qv[a], kv); }
      }
    }
    for (var a = 0u; a < RQ; a++) {
      let i = ty * RQ + a;
      for (var b = 0u; b < RK; b++) {
        let j = tx + b * TK;
        var x = MASKED;
        if (i < nq && j < nk && k0 + j <= params.qPos0 + q0 + i) { x = s[a * RK + b] * params.scale; }
        scores[i * BK + j] = x;
      }
    }
    workgroupBarrier();
    // Online softmax: one thread per query row rescales its running sum and turns scores into weights.
    if (lane < BQ) { online_softmax_row(lane); }
    workgroupBarrier();
    for (var a = 0u; a < RQ; a++) {
      let r = rowRescale[ty * RQ + a];
      for (var c = 0u; c < RE; c++) { acc[a * RE + c] *= r; }
    }
    for (var j = 0u; j < nk; j++) {
      var w: array<f32, RQ>;
      for (var a = 0u; a < RQ; a++) { w[a] = scores[(ty * RQ + a) * BK + j]; }
      for (var c = 0u; c < RE; c++) {
        let e = tx + c * TK;
        if (e < DV) {
          let x = vTile[j * DV + e];
          for (var a = 0u; a < RQ; a++) { acc[a * RE + c] += w[a] * x; }
        }
      }
    }
  }
  workgroupBarrier();
  for (var a = 0u; a < RQ; a++) {
    let i = ty * RQ + a;
    for (var c = 0u; c < RE; c++) {
      let e = tx + c * TK;
#if CARRY_OUT
      if (i < nq && e < DV) { carry[((q0 + i) * params.H + h) * (DV + 2u) + e] = acc[a * RE + c]; }
#else
      if (i < nq && e < DV) { out[((q0 + i) * params.H + h) * DV + e] = acc[a * RE + c] / rowSum[i]; }
#endif
    }
  }
#if CARRY_OUT
  if (lane < nq) {
    let at = ((q0 + lane) * params.H + h) * (DV + 2u) + DV;
    carry[at] = rowMax[lane];
    carry[at + 1u] = rowSum[lane];
  }
#endif
}
