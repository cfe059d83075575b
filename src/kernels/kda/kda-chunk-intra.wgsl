// Chunked KDA prefill, pass 1 of 2: everything that is parallel over (chunk, head) (spec §4). Grid: chunks × heads.
//   In-chunk cumulative log-decay G; the strictly lower L and lower P matrices (decay taken per channel inside
//   the dot products, exponentiating only G_r − G_j for j ≤ r, which is ≤ 0: spec §4.2); T = (I + L)^-1 by
//   forward substitution in f32; then W = T·β·(K ⊙ e^G), U = T·β·V, q̃ ⊙ e^G, k ⊙ e^(G_last − G) and e^G_last,
//   all factors ≤ 1. P is written whole, zeros above the diagonal, so the scan needs no mask.
// A ragged last chunk just has fewer rows n: equal to zero padding, which is the identity (spec §3.2).
// dk repeats DK as a runtime loop bound: constant bounds get fully unrolled, which makes lavapipe's compile
// take tens of seconds.
struct Params { T: u32, H: u32, dv: u32, nChunks: u32, vOffset: u32, vStride: u32, dk: u32 }
@group(0) @binding(0) var<uniform> params: Params;

const DK: u32 = {{DK}}u;
const C: u32 = {{C}}u;
const WG: u32 = {{WG}}u;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;
@group(0) @binding(6) var<storage, read_write> qG: array<f32>;
@group(0) @binding(7) var<storage, read_write> kG: array<f32>;
@group(0) @binding(8) var<storage, read_write> W: array<f32>;
@group(0) @binding(9) var<storage, read_write> U: array<f32>;
@group(0) @binding(10) var<storage, read_write> P: array<f32>;
@group(0) @binding(11) var<storage, read_write> decayLast: array<f32>;

var<workgroup> A: array<f32, C * C>; // L, turned row by row into T = (I + L)^-1 (unit diagonal implicit)
var<workgroup> rowNext: array<f32, C>;
var<workgroup> gLast: array<f32, DK>;
// Step 1 reads the chunk's k, q and G through SW-channel slices staged here (rows padded to SW + 1 so lanes
// reading neighbouring rows hit different banks); each thread keeps its pairs' partial sums in registers.
const SW: u32 = {{SW}}u;
const SWP: u32 = SW + 1u;
const PAIRS: u32 = (C * C + WG - 1u) / WG;
var<workgroup> kSlice: array<f32, C * SWP>;
var<workgroup> qSlice: array<f32, C * SWP>;
var<workgroup> gSlice: array<f32, C * SWP>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let chunk = wg.x;
  let h = wg.y;
  let H = params.H;
  let dv = params.dv;
  let c0 = chunk * C;
  let n = min(C, params.T - c0);
  let rowBase = c0 * H + h; // token row r of this chunk and head is rowBase + r·H

  // Step 0: G (in-chunk cumulative log-decay), kept in kG until the last phase overwrites it.
  for (var i = lane; i < params.dk; i += WG) {
    var acc = 0.0;
    for (var r = 0u; r < n; r++) {
      let at = (rowBase + r * H) * DK + i;
      acc += g[at];
      kG[at] = acc;
    }
    gLast[i] = acc;
  }
  storageBarrier();
  workgroupBarrier();

  // Step 1: L (into A) and P (to global), only for j ≤ r so no masked exponent is ever evaluated.
  let pBase = (chunk * H + h) * C * C;
  var kkAcc: array<f32, PAIRS>;
  var qkAcc: array<f32, PAIRS>;
  for (var m = 0u; m < PAIRS; m++) {
    kkAcc[m] = 0.0;
    qkAcc[m] = 0.0;
  }
  for (var d0 = 0u; d0 < params.dk; d0 += SW) {
    let w = min(SW, params.dk - d0);
    workgroupBarrier(); // the previous slice is fully consumed
    for (var p = lane; p < C * SW; p += WG) {
      let r = p / SW;
      let c = p % SW;
      var kx = 0.0;
      var qx = 0.0;
      var gx = 0.0;
      if (r < n && c < w) {
        let at = (rowBase + r * H) * DK + d0 + c;
        kx = k[at];
        qx = q[at];
        gx = kG[at];
      }
      kSlice[r * SWP + c] = kx;
      qSlice[r * SWP + c] = qx;
      gSlice[r * SWP + c] = gx;
    }
    workgroupBarrier();
    for (var m = 0u; m < PAIRS; m++) {
      let p = lane + m * WG;
      let r = p / C;
      let j = p % C;
      if (p < C * C && r < n && j <= r) {
        var kk = 0.0;
        var qk = 0.0;
        for (var c = 0u; c < w; c++) {
          let kd = kSlice[j * SWP + c] * exp(gSlice[r * SWP + c] - gSlice[j * SWP + c]);
          kk += kSlice[r * SWP + c] * kd;
          qk += qSlice[r * SWP + c] * kd;
        }
        kkAcc[m] += kk;
        qkAcc[m] += qk;
      }
    }
  }
  for (var m = 0u; m < PAIRS; m++) {
    let p = lane + m * WG;
    if (p < C * C) {
      let r = p / C;
      let j = p % C;
      var l = 0.0;
      var pv = 0.0;
      if (r < n && j <= r) {
        if (j < r) { l = beta[rowBase + r * H] * kkAcc[m]; }
        pv = qkAcc[m];
      }
      P[pBase + p] = pv;
      A[p] = l;
    }
  }
  workgroupBarrier();

  // Step 2a: forward substitution, T[r][j] = −L[r][j] − Σ_{j<m<r} L[r][m] T[m][j]; rows above r already hold T.
  for (var r = 1u; r < n; r++) {
    for (var j = lane; j < r; j += WG) {
      var acc = -A[r * C + j];
      for (var m = j + 1u; m < r; m++) { acc -= A[r * C + m] * A[m * C + j]; }
      rowNext[j] = acc;
    }
    workgroupBarrier();
    for (var j = lane; j < r; j += WG) { A[r * C + j] = rowNext[j]; }
    workgroupBarrier();
  }

  // Step 2b: W = T · (β K ⊙ e^G) and U = T · β V, SW channels at a time: each slice of the right-hand side is
  // staged in kSlice so the products over j read workgroup memory, not storage.
  for (var d0 = 0u; d0 < params.dk; d0 += SW) {
    let w = min(SW, params.dk - d0);
    workgroupBarrier();
    for (var p = lane; p < C * SW; p += WG) {
      let r = p / SW;
      let c = p % SW;
      var x = 0.0;
      if (r < n && c < w) {
        let at = (rowBase + r * H) * DK + d0 + c;
        x = beta[rowBase + r * H] * k[at] * exp(kG[at]);
      }
      kSlice[r * SWP + c] = x;
    }
    workgroupBarrier();
    for (var p = lane; p < n * SW; p += WG) {
      let r = p / SW;
      let c = p % SW;
      if (c < w) {
        var acc = kSlice[r * SWP + c];
        for (var j = 0u; j < r; j++) { acc += A[r * C + j] * kSlice[j * SWP + c]; }
        W[(rowBase + r * H) * DK + d0 + c] = acc;
      }
    }
  }
  for (var d0 = 0u; d0 < dv; d0 += SW) {
    let w = min(SW, dv - d0);
    workgroupBarrier();
    for (var p = lane; p < C * SW; p += WG) {
      let r = p / SW;
      let c = p % SW;
      var x = 0.0;
      if (r < n && c < w) { x = beta[rowBase + r * H] * v[params.vOffset + (c0 + r) * params.vStride + h * dv + d0 + c]; }
      kSlice[r * SWP + c] = x;
    }
    workgroupBarrier();
    for (var p = lane; p < n * SW; p += WG) {
      let r = p / SW;
      let c = p % SW;
      if (c < w) {
        var acc = kSlice[r * SWP + c];
        for (var j = 0u; j < r; j++) { acc += A[r * C + j] * kSlice[j * SWP + c]; }
        U[(rowBase + r * H) * dv + d0 + c] = acc;
      }
    }
  }
  storageBarrier();
  workgroupBarrier();

  // Step 3 inputs, every factor ≤ 1: q̃ ⊙ e^G, k ⊙ e^(G_last − G) (replacing G in place), e^G_last.
  for (var p = lane; p < n * params.dk; p += WG) {
    let i = p % DK;
    let at = (rowBase + (p / DK) * H) * DK + i;
    let G = kG[at];
    qG[at] = q[at] * exp(G);
    kG[at] = k[at] * exp(gLast[i] - G);
  }
  for (var i = lane; i < params.dk; i += WG) { decayLast[(chunk * H + h) * DK + i] = exp(gLast[i]); }
}
