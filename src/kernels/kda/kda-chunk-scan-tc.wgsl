// Chunked KDA prefill, the sequential state scan on tensor cores (16×16×16 f16 → f32 subgroup matrices). Same
// recurrence as kda-chunk-scan.wgsl, per chunk:
//   V' = U − W S,   O = (q̃ ⊙ e^G) S + P V',   S ← e^G_last ⊙ S + (k ⊙ e^(G_last − G))ᵀ V'.
// Grid: dv/16 value slices × heads (256 workgroups for the 48B's 32 heads × 128), one 16-column slice each.
// Subgroups: phase A gives one 16-row tile of W·S or q̃G·S to each of the 2·C/16 subgroups; phase B deals the dk/16
// tiles of kGᵀ·V' and the C/16 tiles of P·V' round-robin. Six barriers per chunk.
//
// Precision (f32-class, so the engine may use it with f32 weights): every product is split hi/lo on BOTH sides,
//   A·B ≈ A_hi·B_hi + A_hi·B_lo + A_lo·B_hi   (f32 accumulation; the dropped A_lo·B_lo is ≤ 2⁻²²·|A||B|).
//  * W, q̃G, kG, P come from storage already split (by the blocked intra pass with SPLIT_OUT, or kda-chunk-split16.wgsl:
//    same bytes) and scaled by 2^8 (OPS undoes it):
//    they are bounded (see there), and the scale keeps their lo parts out of f16 subnormals.
//  * S is unbounded (it accumulates values): it stays f32 in workgroup memory, and each chunk its f16 copy is
//    Ŝ = S·2^s with one power of two per slice chosen so max|Ŝ| < 2^15 (no f16 overflow); the products are
//    scaled back by 2^−s exactly. V' (U − W S, as large as v) gets its own per-slice power of two the same way.
//  * Error per split element: |x − 2^−s(hi + lo)| ≤ 2⁻²³|x| + 2⁻³⁹·max|slice| (lo's rounding and its subnormal
//    step at the 2^15 scale), so each product term is within ~2⁻²¹ of f32 relative to the slice's largest
//    magnitude: outputs and states agree with the scalar scan to ~1e-6 relative (tools/device/kda-scan-tc-check.mjs).
//  * hi parts are rounded with integer ops (f16-split.part.wgsl), never as f32(f16(x)): compilers fold that round
//    trip to x, so every lo part came out zero and the first version was only f16-accurate (relErr 2.3e-4 vs the
//    scalar scan at T = 1 on the H100 and in the emulation; 1e-7 after the fix, emulated).
//  * Known floor: a split left operand (W, q̃G, kG, P at 2^8) has lo's f16 subnormal step 2^−32 as an absolute
//    error, so entries under ~2^−10 lose relative accuracy, ~2^−32·|S| or |V'| per product. It shows only when
//    a state ~1e6 decays to O(1) within a chunk (then ~1e-4 of the final state; the scalar scan keeps 1e-6).
// EMULATE replaces the subgroup-matrix builtins with scalar code over the same operands (same layouts, same
// splits, same barriers), so lavapipe, which has no subgroup matrices, can test everything around them.
// Requires dk % 16 == 0, dv % 16 == 0, C % 16 == 0; operand rows are read in whole 16-row tiles, so the scratch
// holds whole chunks and the split (fused or separate) has zeroed rows past T.
#include "subgroup-matrix-enable.part.wgsl"

struct Params { T: u32, H: u32, dv: u32, nChunks: u32, vOffset: u32, vStride: u32, dk: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> Q16: array<f16>;  // q̃ ⊙ e^G, split
@group(0) @binding(2) var<storage, read> K16: array<f16>;  // k ⊙ e^(G_last − G), split
@group(0) @binding(3) var<storage, read> W16: array<f16>;  // split
@group(0) @binding(4) var<storage, read> U: array<f32>;
@group(0) @binding(5) var<storage, read> P16: array<f16>;  // [chunks, H, C, C], split
@group(0) @binding(6) var<storage, read> decayLast: array<f32>;
@group(0) @binding(7) var<storage, read_write> state: array<f32>;
@group(0) @binding(8) var<storage, read_write> out: array<f32>;

#include "kda-scan-geometry.part.wgsl"
// f16 right operands: Ŝ hi, Ŝ lo [DK × VS], V̂' hi, V̂' lo [C × VS].
const SH: u32 = 0u;
const SL: u32 = DK * VS;
const VH: u32 = 2u * DK * VS;
const VL: u32 = VH + C * VS;
var<workgroup> halves: array<f16, 2u * DK * VS + 2u * C * VS>;
// f32 results: W·Ŝ (then P·V̂'), q̃G·Ŝ, kGᵀ·V̂', then one max per subgroup (f32 slots: no u32 workgroup variables
// beside subgroup matrices, see docs/contributing.md).
const VF: u32 = 0u;
const OF: u32 = C * VS;
const UF: u32 = 2u * C * VS;
const MAX_SLOTS: u32 = UF + DK * VS;
var<workgroup> F: array<f32, MAX_SLOTS + NSG>;
var<workgroup> St: array<f32, DK * VS>; // the state slice, f32
const OPS: f32 = 1.0 / 256.0; // undoes the split pass's 2^8 on W, q̃G, kG and P

#include "subgroup-matrix-ops.part.wgsl"
#if EMULATE
fn ldW(off: u32, stride: u32) -> Left { var t: Left; for (var e = 0u; e < 256u; e++) { t[e] = f32(W16[off + (e / 16u) * stride + e % 16u]); } return t; }
fn ldQ(off: u32, stride: u32) -> Left { var t: Left; for (var e = 0u; e < 256u; e++) { t[e] = f32(Q16[off + (e / 16u) * stride + e % 16u]); } return t; }
fn ldKt(off: u32, stride: u32) -> Left { var t: Left; for (var e = 0u; e < 256u; e++) { t[e] = f32(K16[off + (e % 16u) * stride + e / 16u]); } return t; }
fn ldP(off: u32, stride: u32) -> Left { var t: Left; for (var e = 0u; e < 256u; e++) { t[e] = f32(P16[off + (e / 16u) * stride + e % 16u]); } return t; }
fn ldR(off: u32) -> Right { var t: Right; for (var e = 0u; e < 256u; e++) { t[e] = f32(halves[off + (e / 16u) * VS + e % 16u]); } return t; }
fn st(acc: Acc, off: u32) {
  for (var i = 0u; i < EPL; i++) { let e = sgLane + i * SG; F[off + (e / 16u) * VS + e % 16u] = acc[i]; }
}
#else
fn ldW(off: u32, stride: u32) -> Left { return subgroupMatrixLoad<Left>(&W16, off, false, stride); }
fn ldQ(off: u32, stride: u32) -> Left { return subgroupMatrixLoad<Left>(&Q16, off, false, stride); }
fn ldKt(off: u32, stride: u32) -> Left { return subgroupMatrixLoad<Left>(&K16, off, true, stride); }
fn ldP(off: u32, stride: u32) -> Left { return subgroupMatrixLoad<Left>(&P16, off, false, stride); }
fn ldR(off: u32) -> Right { return subgroupMatrixLoad<Right>(&halves, off, false, VS); }
fn st(acc: Acc, off: u32) { subgroupMatrixStore(&F, off, acc, false, VS); }
#endif

// Three MMAs of a split product: hi·hi + hi·lo + lo·hi into one accumulator.
fn mma3(ah: Left, al: Left, bHi: u32, bLo: u32, c: Acc) -> Acc {
  let bh = ldR(bHi);
  let bl = ldR(bLo);
  return mma(al, bh, mma(ah, bl, mma(ah, bh, c)));
}

// Rows rt·16.. of a chunk operand (W or q̃G: split rows at aOff, RS halves apart) times Ŝ.
fn wTimesS(aOff: u32, RS: u32) -> Acc {
  var acc = zeroAcc();
  for (var d = 0u; d < KT; d++) { acc = mma3(ldW(aOff + d * 32u, RS), ldW(aOff + d * 32u + 16u, RS), SH + d * 16u * VS, SL + d * 16u * VS, acc); }
  return acc;
}
fn qTimesS(aOff: u32, RS: u32) -> Acc {
  var acc = zeroAcc();
  for (var d = 0u; d < KT; d++) { acc = mma3(ldQ(aOff + d * 32u, RS), ldQ(aOff + d * 32u + 16u, RS), SH + d * 16u * VS, SL + d * 16u * VS, acc); }
  return acc;
}

#include "slice-scale.part.wgsl"

#include "f16-split.part.wgsl"

fn putSplit(hiAt: u32, loAt: u32, x: f32) {
  let hi = f16HiPart(x);
  halves[hiAt] = f16(hi);
  halves[loAt] = f16(x - hi);
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  sgLane = li % SG;
  let sg = li / SG;
  let h = wg.y;
  let e0 = wg.x * VS;
  let H = params.H;
  let dv = params.dv;
  let RS = 2u * H * DK; // halves between a head's consecutive token rows in the split operands
  var m = 0.0;
  for (var i = 0u; i < SE; i++) {
    let p = li + i * THREADS;
    if (p < DK * VS) {
      let s = state[(h * DK + p / VS) * dv + e0 + p % VS];
      St[p] = s;
      m = max(m, abs(s));
    }
  }
  var sS = upScale(sliceMax(m, sg));
  for (var i = 0u; i < SE; i++) {
    let p = li + i * THREADS;
    if (p < DK * VS) { putSplit(SH + p, SL + p, St[p] * sS); }
  }
  workgroupBarrier();

  for (var chunk = 0u; chunk < params.nChunks; chunk++) {
    let c0 = chunk * C;
    let n = min(C, params.T - c0);
    let rowBase = c0 * H + h;
    // This thread's U and decay, fetched before the MMAs so their latency hides behind phase A.
    var u: array<f32, VE>;
    for (var i = 0u; i < VE; i++) {
      let p = li + i * THREADS;
      let r = p / VS;
      if (r < n) { u[i] = U[(rowBase + r * H) * dv + e0 + p % VS]; } else { u[i] = 0.0; }
    }
    var decay: array<f32, SE>;
    let dBase = (chunk * H + h) * DK;
    for (var i = 0u; i < SE; i++) {
      let p = li + i * THREADS;
      if (p < DK * VS) { decay[i] = decayLast[dBase + p / VS]; }
    }

    // Phase A: W·Ŝ (subgroups 0..RT−1) and q̃G·Ŝ (RT..2RT−1), both from the chunk's entry state.
    let rt = sg % RT;
    let aOff = 2u * (rowBase + rt * 16u * H) * DK;
    if (sg < RT) { st(wTimesS(aOff, RS), VF + rt * 16u * VS); } else { st(qTimesS(aOff, RS), OF + rt * 16u * VS); }
    workgroupBarrier();

    // V' = U − W S in f32, then split with the slice's own power of two.
    let invS = OPS / sS;
    var vp: array<f32, VE>;
    m = 0.0;
    for (var i = 0u; i < VE; i++) {
      vp[i] = u[i] - invS * F[VF + li + i * THREADS];
      m = max(m, abs(vp[i]));
    }
    let sV = upScale(sliceMax(m, sg));
    for (var i = 0u; i < VE; i++) {
      let p = li + i * THREADS;
      putSplit(VH + p, VL + p, vp[i] * sV);
    }
    workgroupBarrier();

    // Phase B: kGᵀ·V̂' (tiles 0..KT−1, channels t·16..) and P·V̂' (row tile t − KT; P is zero above the diagonal).
    let pBase = (chunk * H + h) * C * C;
    for (var t = sg; t < KT + RT; t += NSG) {
      var acc = zeroAcc();
      if (t < KT) {
        for (var r = 0u; r < RT; r++) {
          let off = 2u * (rowBase + r * 16u * H) * DK + t * 32u;
          acc = mma3(ldKt(off, RS), ldKt(off + 16u, RS), VH + r * 16u * VS, VL + r * 16u * VS, acc);
        }
        st(acc, UF + t * 16u * VS);
      } else {
        let pr = t - KT;
        for (var j = 0u; j < RT; j++) {
          let off = 2u * (pBase + pr * 16u * C) + j * 32u;
          acc = mma3(ldP(off, 2u * C), ldP(off + 16u, 2u * C), VH + j * 16u * VS, VL + j * 16u * VS, acc);
        }
        st(acc, VF + pr * 16u * VS);
      }
    }
    workgroupBarrier();

    // O = (q̃G S + P V'), each product scaled back; then S ← e^G_last ⊙ S + kGᵀ V' in f32.
    let invV = OPS / sV;
    for (var i = 0u; i < VE; i++) {
      let p = li + i * THREADS;
      let r = p / VS;
      if (r < n) { out[(rowBase + r * H) * dv + e0 + p % VS] = invS * F[OF + p] + invV * F[VF + p]; }
    }
    m = 0.0;
    for (var i = 0u; i < SE; i++) {
      let p = li + i * THREADS;
      if (p < DK * VS) {
        let s = decay[i] * St[p] + invV * F[UF + p];
        St[p] = s;
        m = max(m, abs(s));
      }
    }
    sS = upScale(sliceMax(m, sg));
    for (var i = 0u; i < SE; i++) {
      let p = li + i * THREADS;
      if (p < DK * VS) { putSplit(SH + p, SL + p, St[p] * sS); }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < SE; i++) {
    let p = li + i * THREADS;
    if (p < DK * VS) { state[(h * DK + p / VS) * dv + e0 + p % VS] = St[p]; }
  }
}
