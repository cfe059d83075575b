// Chunked KDA prefill, the outputs after kda-chunk-scan-f16, every chunk at once:
//   O = (q̃ ⊙ e^G) Ŝ·2^−s + P V̂'·2^−t   (Ŝ the chunk's entry state and V̂' its V', f16 with their slice scales).
// Grid: chunks × heads; subgroup s takes the 16-column slices s, s + NSG, … and every 16-row tile of the chunk.
// q̃ ⊙ e^G and P are the hi parts of the split layout the intra pass writes (carrying its 2^8), staged once per
// workgroup in workgroup memory with coalesced 16-byte loads (all NSG subgroups read every one of their tiles);
// Ŝ and V̂' fragments, each read by one subgroup, come straight from storage.
// The two products keep separate accumulators (different scales) and meet in f32 through workgroup memory.
#include "subgroup-matrix-enable.part.wgsl"

struct Params { T: u32, H: u32, dv: u32, nChunks: u32, dk: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> Q16: array<vec4<u32>>; // q̃ ⊙ e^G, split [rows, H, dk]
@group(0) @binding(2) var<storage, read> P16: array<vec4<u32>>; // P, split [chunks, H, C, C]
@group(0) @binding(3) var<storage, read> sEntry: array<f16>; // [chunks, H, dk, dv]
@group(0) @binding(4) var<storage, read> vNew: array<f16>;   // [rows, H, dv]
@group(0) @binding(5) var<storage, read> scales: array<f32>; // [chunks, H, dv/16, 2]
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

const DK: u32 = {{DK}}u;
const C: u32 = {{C}}u;
const SG: u32 = {{SUBGROUP_SIZE}}u;
const NSG: u32 = {{NSG}}u;
const RT: u32 = {{RT}}u; // = C / 16, the unroll count
const KT: u32 = DK / 16u;
const QROW: u32 = DK + 8u; // staged row pitches in halves (16-byte rows, neighbours on other banks)
const PROW: u32 = C + 8u;
var<workgroup> Qs: array<f16, C * QROW>;
var<workgroup> Ps: array<f16, C * PROW>;
var<workgroup> F: array<f32, NSG * 512u>;

#include "subgroup-matrix-ops.part.wgsl"
#if EMULATE
fn ldQ(off: u32) -> Left { var t: Left; for (var e = 0u; e < 256u; e++) { t[e] = f32(Qs[off + (e / 16u) * QROW + e % 16u]); } return t; }
fn ldP(off: u32) -> Left { var t: Left; for (var e = 0u; e < 256u; e++) { t[e] = f32(Ps[off + (e / 16u) * PROW + e % 16u]); } return t; }
fn ldS(off: u32, stride: u32) -> Right { var t: Right; for (var e = 0u; e < 256u; e++) { t[e] = f32(sEntry[off + (e / 16u) * stride + e % 16u]); } return t; }
fn ldV(off: u32, stride: u32) -> Right { var t: Right; for (var e = 0u; e < 256u; e++) { t[e] = f32(vNew[off + (e / 16u) * stride + e % 16u]); } return t; }
fn st(acc: Acc, off: u32) {
  for (var i = 0u; i < EPL; i++) { let e = sgLane + i * SG; F[off + e] = acc[i]; }
}
#else
fn ldQ(off: u32) -> Left { return subgroupMatrixLoad<Left>(&Qs, off, false, QROW); }
fn ldP(off: u32) -> Left { return subgroupMatrixLoad<Left>(&Ps, off, false, PROW); }
fn ldS(off: u32, stride: u32) -> Right { return subgroupMatrixLoad<Right>(&sEntry, off, false, stride); }
fn ldV(off: u32, stride: u32) -> Right { return subgroupMatrixLoad<Right>(&vNew, off, false, stride); }
fn st(acc: Acc, off: u32) { subgroupMatrixStore(&F, off, acc, false, 16u); }
#endif

// Stores the 8 halves of a 16-byte load at `at` of a staged array.
fn putQ(at: u32, x: vec4<u32>) {
  for (var i = 0u; i < 4u; i++) { let h2 = bitcast<vec2<f16>>(x[i]); Qs[at + 2u * i] = h2.x; Qs[at + 2u * i + 1u] = h2.y; }
}
fn putP(at: u32, x: vec4<u32>) {
  for (var i = 0u; i < 4u; i++) { let h2 = bitcast<vec2<f16>>(x[i]); Ps[at + 2u * i] = h2.x; Ps[at + 2u * i + 1u] = h2.y; }
}

@compute @workgroup_size(NSG * SG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  sgLane = li % SG;
  let sg = li / SG;
  let chunk = wg.x;
  let h = wg.y;
  let H = params.H;
  let dv = params.dv;
  let nSlices = dv / 16u;
  let c0 = chunk * C;
  let n = min(C, params.T - c0);
  let pBase = (chunk * H + h) * C * C;
  let sBase = (chunk * H + h) * DK * dv;
  // Stage the hi parts: in the split layout a group of 16 values is 16 hi halves then 16 lo halves (4 vec4s,
  // the first 2 hi). Rows past T are zero there already (the intra pass writes whole chunks).
  let threads = NSG * SG;
  for (var e = li; e < C * DK / 8u; e += threads) {
    let r = e / (DK / 8u);
    let q = e % (DK / 8u);
    putQ(r * QROW + 8u * q, Q16[((c0 + r) * H + h) * (DK / 4u) + (q / 2u) * 4u + q % 2u]);
  }
  for (var e = li; e < C * C / 8u; e += threads) {
    let r = e / (C / 8u);
    let q = e % (C / 8u);
    putP(r * PROW + 8u * q, P16[(pBase + r * C) / 4u + (q / 2u) * 4u + q % 2u]);
  }
  workgroupBarrier();
  for (var j0 = 0u; j0 < nSlices; j0 += NSG) {
    let j = j0 + sg;
    let live = j < nSlices;
    var invS = 0.0;
    var invV = 0.0;
    if (live) {
      let at = ((chunk * H + h) * nSlices + j) * 2u;
      invS = scales[at];
      invV = scales[at + 1u];
    }
    // All RT row tiles at once (accumulators written out): each Ŝ fragment is read from storage once for the RT
    // q̃ tiles and each V̂' fragment once for the P tiles at or below it, instead of once per row tile.
#unroll r RT
    var accQ_{{r}} = zeroAcc();
    var accP_{{r}} = zeroAcc();
#endunroll
    if (live) {
      for (var d = 0u; d < KT; d++) {
        let s = ldS(sBase + d * 16u * dv + j * 16u, dv);
#unroll r RT
        accQ_{{r}} = mma(ldQ({{r}}u * 16u * QROW + d * 16u), s, accQ_{{r}});
#endunroll
      }
      // P is zero above the diagonal: V̂' tile c feeds row tiles r ≥ c only.
#unroll c RT
      {
        let v = ldV(((c0 + {{c}}u * 16u) * H + h) * dv + j * 16u, H * dv);
#unroll r RT
        if ({{r}}u >= {{c}}u) { accP_{{r}} = mma(ldP({{r}}u * 16u * PROW + {{c}}u * 16u), v, accP_{{r}}); }
#endunroll
      }
#endunroll
    }
#unroll r RT
    if (live) {
      st(accQ_{{r}}, sg * 512u);
      st(accP_{{r}}, sg * 512u + 256u);
    }
    workgroupBarrier();
    if (live) {
      for (var i = 0u; i < EPL; i++) {
        let e = sgLane + i * SG;
        let r = {{r}}u * 16u + e / 16u;
        if (r < n) { out[((c0 + r) * H + h) * dv + j * 16u + e % 16u] = invS * F[sg * 512u + e] + invV * F[sg * 512u + 256u + e]; }
      }
    }
    workgroupBarrier();
#endunroll
  }
}
