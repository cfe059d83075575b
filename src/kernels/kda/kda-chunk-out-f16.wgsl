// Chunked KDA prefill, the outputs after kda-chunk-scan-f16, every chunk at once:
//   O = (q̃ ⊙ e^G) Ŝ·2^−s + P V̂'·2^−t   (Ŝ the chunk's entry state and V̂' its V', f16 with their slice scales).
// Grid: chunks × heads; subgroup s takes the 16-column slices s, s + NSG, … and every 16-row tile of the chunk.
// q̃ ⊙ e^G and P are the hi parts of the split layout the intra pass writes (carrying its 2^8); fragments are read
// straight from storage: with chunks × heads workgroups in flight their latency hides, unlike in the scan.
// The two products keep separate accumulators (different scales) and meet in f32 through workgroup memory.
enable f16;
enable subgroups;
#if EMULATE
#else
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
#endif
diagnostic(off, subgroup_uniformity);

struct Params { T: u32, H: u32, dv: u32, nChunks: u32, dk: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> Q16: array<f16>;    // q̃ ⊙ e^G, split [rows, H, dk]
@group(0) @binding(2) var<storage, read> P16: array<f16>;    // P, split [chunks, H, C, C]
@group(0) @binding(3) var<storage, read> sEntry: array<f16>; // [chunks, H, dk, dv]
@group(0) @binding(4) var<storage, read> vNew: array<f16>;   // [rows, H, dv]
@group(0) @binding(5) var<storage, read> scales: array<f32>; // [chunks, H, dv/16, 2]
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

const DK: u32 = {{DK}}u;
const C: u32 = {{C}}u;
const SG: u32 = {{SUBGROUP_SIZE}}u;
const NSG: u32 = {{NSG}}u;
const RT: u32 = C / 16u;
const KT: u32 = DK / 16u;
const EPL: u32 = 256u / SG;
var<workgroup> F: array<f32, NSG * 512u>;
var<private> lane: u32;

#if EMULATE
alias Left = array<f32, 256>;
alias Right = array<f32, 256>;
alias Acc = array<f32, EPL>;
fn zeroAcc() -> Acc { return Acc(); }
fn ldQ(off: u32, stride: u32) -> Left { var t: Left; for (var e = 0u; e < 256u; e++) { t[e] = f32(Q16[off + (e / 16u) * stride + e % 16u]); } return t; }
fn ldP(off: u32, stride: u32) -> Left { var t: Left; for (var e = 0u; e < 256u; e++) { t[e] = f32(P16[off + (e / 16u) * stride + e % 16u]); } return t; }
fn ldS(off: u32, stride: u32) -> Right { var t: Right; for (var e = 0u; e < 256u; e++) { t[e] = f32(sEntry[off + (e / 16u) * stride + e % 16u]); } return t; }
fn ldV(off: u32, stride: u32) -> Right { var t: Right; for (var e = 0u; e < 256u; e++) { t[e] = f32(vNew[off + (e / 16u) * stride + e % 16u]); } return t; }
fn mma(a: Left, b: Right, c: Acc) -> Acc {
  var o = c;
  for (var i = 0u; i < EPL; i++) {
    let e = lane + i * SG;
    var s = 0.0;
    for (var k = 0u; k < 16u; k++) { s += a[(e / 16u) * 16u + k] * b[k * 16u + e % 16u]; }
    o[i] += s;
  }
  return o;
}
fn st(acc: Acc, off: u32) {
  for (var i = 0u; i < EPL; i++) { let e = lane + i * SG; F[off + e] = acc[i]; }
}
#else
alias Left = subgroup_matrix_left<f16, 16, 16>;
alias Right = subgroup_matrix_right<f16, 16, 16>;
alias Acc = subgroup_matrix_result<f32, 16, 16>;
fn zeroAcc() -> Acc { return Acc(); }
fn ldQ(off: u32, stride: u32) -> Left { return subgroupMatrixLoad<Left>(&Q16, off, false, stride); }
fn ldP(off: u32, stride: u32) -> Left { return subgroupMatrixLoad<Left>(&P16, off, false, stride); }
fn ldS(off: u32, stride: u32) -> Right { return subgroupMatrixLoad<Right>(&sEntry, off, false, stride); }
fn ldV(off: u32, stride: u32) -> Right { return subgroupMatrixLoad<Right>(&vNew, off, false, stride); }
fn mma(a: Left, b: Right, c: Acc) -> Acc { return subgroupMatrixMultiplyAccumulate(a, b, c); }
fn st(acc: Acc, off: u32) { subgroupMatrixStore(&F, off, acc, false, 16u); }
#endif

@compute @workgroup_size(NSG * SG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  lane = li % SG;
  let sg = li / SG;
  let chunk = wg.x;
  let h = wg.y;
  let H = params.H;
  let dv = params.dv;
  let nSlices = dv / 16u;
  let c0 = chunk * C;
  let n = min(C, params.T - c0);
  let RS = 2u * H * DK; // halves between a head's consecutive token rows in the split operands
  let pBase = (chunk * H + h) * C * C;
  let sBase = (chunk * H + h) * DK * dv;
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
    for (var rt = 0u; rt < RT; rt++) {
      if (live) {
        var accQ = zeroAcc();
        let qOff = 2u * ((c0 + rt * 16u) * H + h) * DK;
        for (var d = 0u; d < KT; d++) { accQ = mma(ldQ(qOff + d * 32u, RS), ldS(sBase + d * 16u * dv + j * 16u, dv), accQ); }
        // P is zero above the diagonal: tiles r ≤ rt only.
        var accP = zeroAcc();
        for (var r = 0u; r <= rt; r++) {
          accP = mma(ldP(2u * (pBase + rt * 16u * C) + r * 32u, 2u * C), ldV(((c0 + r * 16u) * H + h) * dv + j * 16u, H * dv), accP);
        }
        st(accQ, sg * 512u);
        st(accP, sg * 512u + 256u);
      }
      workgroupBarrier();
      if (live) {
        for (var i = 0u; i < EPL; i++) {
          let e = lane + i * SG;
          let r = rt * 16u + e / 16u;
          if (r < n) { out[((c0 + r) * H + h) * dv + j * 16u + e % 16u] = invS * F[sg * 512u + e] + invV * F[sg * 512u + 256u + e]; }
        }
      }
      workgroupBarrier();
    }
  }
}
