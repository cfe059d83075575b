// Chunked KDA prefill, pass 1 of 2: everything that is parallel over (chunk, head) (spec §4). Grid: chunks × heads.
//   the strictly lower L and lower P matrices (decay taken per channel inside the dot products, exponentiating
//   only G_r − G_j for j ≤ r, which is ≤ 0: spec §4.2); T = (I + L)^-1 by forward substitution in f32; then
//   W = T·β·(K ⊙ e^G), U = T·β·V, q̃ ⊙ e^G, k ⊙ e^(G_last − G) and e^G_last, all factors ≤ 1. P is written
//   whole, zeros above the diagonal, so the scan needs no mask.
// k, q and g pass through workgroup memory SW channels at a time (twice: once for L and P, once for the
// outputs), with the in-chunk cumulative log-decay G summed there, so no storage read sits in an inner loop.
// A ragged last chunk just has fewer rows n: equal to zero padding, which is the identity (spec §3.2).
// dk repeats DK as a runtime loop bound: constant bounds get fully unrolled, which makes lavapipe's compile
// take tens of seconds.
#include "kda-intra-bindings.part.wgsl"

const DK: u32 = {{DK}}u;
const C: u32 = {{C}}u;
const WG: u32 = {{WG}}u;

var<workgroup> A: array<f32, C * C>; // L, turned row by row into T = (I + L)^-1 (unit diagonal implicit)
var<workgroup> rowNext: array<f32, C>;
// Slices of k, q and g (then G) for SW channels, rows padded to SW + 1 so lanes reading neighbouring rows hit
// different banks; each thread keeps its (r, j) pairs' partial sums in registers across slices.
const SW: u32 = {{SW}}u;
const SWP: u32 = SW + 1u;
const PAIRS: u32 = (C * C + WG - 1u) / WG;
const SI: u32 = (C * SW + WG - 1u) / WG; // slice elements per thread
var<workgroup> kSlice: array<f32, C * SWP>;
var<workgroup> qSlice: array<f32, C * SWP>;
var<workgroup> gSlice: array<f32, C * SWP>;

// Stages channels d0 .. d0 + w of k, q and g for the chunk's n rows (zeros elsewhere), every load of a thread
// in flight before its stores, then turns g into the in-chunk cumulative sum G, one thread per channel.
fn stageSlice(rowBase: u32, n: u32, d0: u32, w: u32, lane: u32) {
  var kv: array<f32, SI>;
  var qv: array<f32, SI>;
  var gv: array<f32, SI>;
  for (var it = 0u; it < SI; it++) {
    let p = lane + it * WG;
    let r = p / SW;
    let c = p % SW;
    kv[it] = 0.0;
    qv[it] = 0.0;
    gv[it] = 0.0;
    if (r < n && c < w) {
      let at = (rowBase + r * params.H) * DK + d0 + c;
      kv[it] = k[at];
      qv[it] = q[at];
      gv[it] = g[at];
    }
  }
  for (var it = 0u; it < SI; it++) {
    let p = lane + it * WG;
    if (p < C * SW) {
      let at = (p / SW) * SWP + p % SW;
      kSlice[at] = kv[it];
      qSlice[at] = qv[it];
      gSlice[at] = gv[it];
    }
  }
  workgroupBarrier();
  if (lane < w) {
    // Summed in the blocked pass's order (4-row quad prefixes plus the sums of the quads before), so both
    // passes produce the same G to the bit; a plain running sum differs by f32 rounding that e^(G_last − G)
    // turns into ~4e-5 at strong decay.
    var before = 0.0;
    for (var r0 = 0u; r0 < n; r0 += 4u) {
      var local = 0.0;
      for (var r = r0; r < min(r0 + 4u, n); r++) {
        local += gSlice[r * SWP + lane];
        gSlice[r * SWP + lane] = local + before;
      }
      before += local;
    }
  }
  workgroupBarrier();
}

// Entry (r, c) of T · X, X staged in qSlice (which 0) or kSlice (which 1); T's unit diagonal is implicit.
fn rowOfTX(which: u32, r: u32, c: u32) -> f32 {
  var acc = select(kSlice[r * SWP + c], qSlice[r * SWP + c], which == 0u);
  for (var j = 0u; j < r; j++) {
    let x = select(kSlice[j * SWP + c], qSlice[j * SWP + c], which == 0u);
    acc += A[r * C + j] * x;
  }
  return acc;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let chunk = wg.x;
  let h = wg.y;
  let H = params.H;
  let dk = params.dk;
  let dv = params.dv;
  let c0 = chunk * C;
  let n = min(C, params.T - c0);
  let rowBase = c0 * H + h; // token row r of this chunk and head is rowBase + r·H

  // Step 1: L (into A) and P (to global), only for j ≤ r so no masked exponent is ever evaluated.
  let pBase = (chunk * H + h) * C * C;
  var kkAcc: array<f32, PAIRS>;
  var qkAcc: array<f32, PAIRS>;
  for (var m = 0u; m < PAIRS; m++) {
    kkAcc[m] = 0.0;
    qkAcc[m] = 0.0;
  }
  for (var d0 = 0u; d0 < dk; d0 += SW) {
    let w = min(SW, dk - d0);
    workgroupBarrier(); // the previous slice is fully consumed
    stageSlice(rowBase, n, d0, w, lane);
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

  // Step 2b: per channel slice (restaged), q̃ ⊙ e^G and k ⊙ e^(G_last − G) straight to storage, e^G_last, and
  // W = T · (β K ⊙ e^G) with that right-hand side kept in qSlice (q is consumed first).
  for (var d0 = 0u; d0 < dk; d0 += SW) {
    let w = min(SW, dk - d0);
    workgroupBarrier();
    stageSlice(rowBase, n, d0, w, lane);
    for (var it = 0u; it < SI; it++) {
      let p = lane + it * WG;
      let r = p / SW;
      let c = p % SW;
      if (r < n && c < w) {
        let at = r * SWP + c;
        let G = gSlice[at];
        let kx = kSlice[at];
        let out = (rowBase + r * H) * DK + d0 + c;
        qG[out] = qSlice[at] * exp(G);
        kG[out] = kx * exp(gSlice[(n - 1u) * SWP + c] - G);
        qSlice[at] = beta[rowBase + r * H] * kx * exp(G);
      } else if (p < C * SW) {
        qSlice[r * SWP + c] = 0.0;
      }
    }
    if (lane < w) { decayLast[(chunk * H + h) * DK + d0 + lane] = exp(gSlice[(n - 1u) * SWP + lane]); }
    workgroupBarrier();
    for (var p = lane; p < n * SW; p += WG) {
      let r = p / SW;
      let c = p % SW;
      if (c < w) {
        W[(rowBase + r * H) * DK + d0 + c] = rowOfTX(0u, r, c);
      }
    }
  }
  // U = T · β V, SW value columns at a time through kSlice.
  for (var d0 = 0u; d0 < dv; d0 += SW) {
    let w = min(SW, dv - d0);
    workgroupBarrier();
    var vv: array<f32, SI>;
    for (var it = 0u; it < SI; it++) {
      let p = lane + it * WG;
      let r = p / SW;
      let c = p % SW;
      vv[it] = 0.0;
      if (r < n && c < w) { vv[it] = beta[rowBase + r * H] * v[params.vOffset + (c0 + r) * params.vStride + h * dv + d0 + c]; }
    }
    for (var it = 0u; it < SI; it++) {
      let p = lane + it * WG;
      if (p < C * SW) { kSlice[(p / SW) * SWP + p % SW] = vv[it]; }
    }
    workgroupBarrier();
    for (var p = lane; p < n * SW; p += WG) {
      let r = p / SW;
      let c = p % SW;
      if (c < w) {
        U[(rowBase + r * H) * dv + d0 + c] = rowOfTX(1u, r, c);
      }
    }
  }
}
