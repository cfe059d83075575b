// Step 3 of kda-chunk-intra-blocked.wgsl under TX_MMA (#include at module scope, after A, S and the SPLIT_OUT
// helpers): W = T·X and U = T·βV on 16×16×16 subgroup matrices, f16 operands and f32 accumulation. T is staged
// once as f16 (row-major T16) after the inverse, X per XW-column slice as f16 (X16); each subgroup takes whole
// 16×16 output tiles below T's block diagonal and stores them into A, which is free once T16 holds T (A is a
// scalar f32 array under TX_MMA, CP × CP ≥ CP × XW). Then all 256 threads move the slice out through storeTX,
// the same stores as the f32 product (W hi/lo of the f32 result, U f32): only the operands' precision changes.
// Tiles are dealt by local_invocation_index / SG (subgroup-uniform, which the analysis cannot see); with NB
// dividing the subgroup count, odd rounds take the row tiles in reverse so every subgroup does about as many
// products (row tile a costs a + 1). EMULATE does the builtins in scalar code over the same operands (lavapipe).
const SG: u32 = {{SUBGROUP_SIZE}}u;
const NSG: u32 = WG / SG;
const TP: u32 = CP + 8u;  // T16 row pitch in halves (16-byte rows, neighbouring rows on other banks)
const XP: u32 = XW + 8u;  // X16 row pitch
const CT: u32 = XW / 16u; // column tiles per slice
const NT: u32 = NB * CT;
const ROUNDS: u32 = (NT + NSG - 1u) / NSG;
const FLIP: bool = NSG % NB == 0u;
var<workgroup> T16: array<f16, CP * TP>;
var<workgroup> X16: array<f16, CP * XP>;

#include "subgroup-matrix-ops.part.wgsl"
#if EMULATE
fn ldT(off: u32) -> Left { var t: Left; for (var e = 0u; e < 256u; e++) { t[e] = f32(T16[off + (e / 16u) * TP + e % 16u]); } return t; }
fn ldX(off: u32) -> Right { var t: Right; for (var e = 0u; e < 256u; e++) { t[e] = f32(X16[off + (e / 16u) * XP + e % 16u]); } return t; }
fn st(acc: Acc, off: u32) {
  for (var i = 0u; i < EPL; i++) { let e = sgLane + i * SG; A[off + (e / 16u) * XW + e % 16u] = acc[i]; }
}
#else
fn ldT(off: u32) -> Left { return subgroupMatrixLoad<Left>(&T16, off, false, TP); }
fn ldX(off: u32) -> Right { return subgroupMatrixLoad<Right>(&X16, off, false, XP); }
fn st(acc: Acc, off: u32) { subgroupMatrixStore(&A, off, acc, false, XW); }
#endif

// T (f32, column-major in A) as row-major f16; the caller's barrier then frees A for the result tiles.
fn stageT16(lane: u32) {
  for (var p = lane; p < CP * CP; p += WG) { T16[(p % CP) * TP + p / CP] = f16(A[p]); }
}

// The blocked pass's productTX under TX_MMA: T·X for the slice staged in X16, tile (a, c) = Σ_{b ≤ a} T_ab X_bc
// (T's tiles above the diagonal are zero).
fn productTX(toU: bool, rowBase: u32, n: u32, d0: u32, w: u32, lane: u32) {
  let sg = lane / SG;
  sgLane = lane % SG;
  for (var round = 0u; round < ROUNDS; round++) {
    let t = round * NSG + sg;
    if (t < NT) {
      var a = t % NB;
      let c = t / NB;
      if (FLIP && round % 2u == 1u) { a = NB - 1u - a; }
      var acc = zeroAcc();
      for (var b = 0u; b <= a; b++) { acc = mma(ldT(16u * a * TP + 16u * b), ldX(16u * b * XP + 16u * c), acc); }
      st(acc, 16u * a * XW + 16u * c);
    }
  }
  workgroupBarrier();
  // One row quad per thread and step: neighbouring threads write neighbouring columns.
  for (var it = lane; it < CP * XQ; it += WG) {
    let r = it / XQ;
    let cq = it % XQ;
    let at = r * XW + 4u * cq;
    storeTX(toU, rowBase, n, d0, w, r, cq, vec4(A[at], A[at + 1u], A[at + 2u], A[at + 3u]));
  }
}
