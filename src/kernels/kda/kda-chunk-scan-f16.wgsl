// Chunked KDA prefill, the sequential state scan with f16 operands (FLA's split of the work): per chunk only
//   V' = U − W S,   S ← e^G_last ⊙ S + (k ⊙ e^(G_last − G))ᵀ V',
// and it hands each chunk's entry state Ŝ and V̂' (f16, one power-of-two scale per 16-column slice) to
// kda-chunk-out-f16, which forms O = (q̃ ⊙ e^G) S + P V' for all chunks in parallel. The state itself stays f32
// (registers); only its operand copy is f16, as in FLA's bf16 kernels, so errors do not compound through S.
// Why this form (probe-kda-ablation.mjs, H100, T = 16k): the f32-class scan (kda-chunk-scan-tc) spent 1.4 ms of
// 5.8 on the output products, 1.2 on the hi/lo splits and ~1.7 on loading operand fragments from storage. Here
// each chunk's W and kG rows (the hi parts of the split layout the intra pass writes) are fetched into registers
// one chunk ahead with coalesced 16-byte loads and staged in workgroup memory, where the fragments are read.
// Grid: dv/16 value slices × heads. Subgroups (2·C/16): phase A deals W·Ŝ's row tiles × two halves of dk; phase B
// deals the dk/16 tiles of kGᵀ·V̂'. Six barriers per chunk.
// Scales: Ŝ = S·2^s and V̂' = V'·2^t with max|·| < 2^15 per slice (no f16 overflow); W and kG carry the intra
// pass's 2^8. EMULATE does the subgroup-matrix builtins in scalar code over the same operands (lavapipe tests).
#include "subgroup-matrix-enable.part.wgsl"

struct Params { T: u32, H: u32, dv: u32, nChunks: u32, vOffset: u32, vStride: u32, dk: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> K16: array<vec4<u32>>; // k ⊙ e^(G_last − G), split (hi | lo per 16)
@group(0) @binding(2) var<storage, read> W16: array<vec4<u32>>; // W, split
@group(0) @binding(3) var<storage, read> U: array<f32>;
@group(0) @binding(4) var<storage, read> decayLast: array<f32>;
@group(0) @binding(5) var<storage, read_write> state: array<f32>;
@group(0) @binding(6) var<storage, read_write> sEntry: array<f16>; // [chunks, H, dk, dv]: Ŝ at each chunk's entry
@group(0) @binding(7) var<storage, read_write> vNew: array<f16>;   // [chunk rows, H, dv]: V̂'
@group(0) @binding(8) var<storage, read_write> scales: array<f32>; // [chunks, H, dv/16, 2]: 2^−8/2^s, 2^−8/2^t

#include "kda-scan-geometry.part.wgsl"
const ROW: u32 = DK + 8u;          // staged row pitch in halves (16-byte aligned rows, neighbours on other banks)
const ITEMS: u32 = C * DK / 8u;    // 16-byte loads per operand per chunk (8 hi halves each)
const LOADS: u32 = (ITEMS + THREADS - 1u) / THREADS;
var<workgroup> Wt: array<f16, C * ROW>;
var<workgroup> Kt: array<f16, C * ROW>;
// Ŝ [DK × VS] for phase A, then V̂' [C × VS] for phase B (Ŝ is dead once phase A's products are stored).
var<workgroup> halves: array<f16, max(DK, C) * VS>;
// f32 results: phase A's two partial W·Ŝ [2 × C × VS], then kGᵀ·V̂' [DK × VS]; then one max per subgroup.
const FN: u32 = max(2u * C * VS, DK * VS);
var<workgroup> F: array<f32, FN + NSG>;
const MAX_SLOTS: u32 = FN;
const OPS: f32 = 1.0 / 256.0; // undoes the intra pass's 2^8 on W and kG

#include "subgroup-matrix-ops.part.wgsl"
#if EMULATE
fn ldW(off: u32) -> Left { var t: Left; for (var e = 0u; e < 256u; e++) { t[e] = f32(Wt[off + (e / 16u) * ROW + e % 16u]); } return t; }
fn ldKt(off: u32) -> Left { var t: Left; for (var e = 0u; e < 256u; e++) { t[e] = f32(Kt[off + (e % 16u) * ROW + e / 16u]); } return t; }
fn ldR(off: u32) -> Right { var t: Right; for (var e = 0u; e < 256u; e++) { t[e] = f32(halves[off + (e / 16u) * VS + e % 16u]); } return t; }
fn st(acc: Acc, off: u32) {
  for (var i = 0u; i < EPL; i++) { let e = sgLane + i * SG; F[off + (e / 16u) * VS + e % 16u] = acc[i]; }
}
#else
fn ldW(off: u32) -> Left { return subgroupMatrixLoad<Left>(&Wt, off, false, ROW); }
fn ldKt(off: u32) -> Left { return subgroupMatrixLoad<Left>(&Kt, off, true, ROW); }
fn ldR(off: u32) -> Right { return subgroupMatrixLoad<Right>(&halves, off, false, VS); }
fn st(acc: Acc, off: u32) { subgroupMatrixStore(&F, off, acc, false, VS); }
#endif

#include "slice-scale.part.wgsl"

// Load e of a chunk operand: 8 hi halves of one row (row e / (DK/8), channels 8·(e % (DK/8)) ..), as 16 bytes.
// In the split layout a group of 16 channels is 16 hi halves then 16 lo halves: 4 vec4s, the first 2 are hi.
fn opLoad(src: u32, rowBase: u32, e: u32, n: u32) -> vec4<u32> {
  let r = e / (DK / 8u);
  let q = e % (DK / 8u);
  if (r >= n) { return vec4<u32>(0u); }
  let at = (rowBase + r * params.H) * (DK / 4u) + (q / 2u) * 4u + q % 2u;
  if (src == 0u) { return W16[at]; }
  return K16[at];
}

fn opStage(toK: bool, e: u32, x: vec4<u32>) {
  let at = (e / (DK / 8u)) * ROW + (e % (DK / 8u)) * 8u;
  for (var i = 0u; i < 4u; i++) {
    let h2 = bitcast<vec2<f16>>(x[i]);
    if (toK) { Kt[at + 2u * i] = h2.x; Kt[at + 2u * i + 1u] = h2.y; } else { Wt[at + 2u * i] = h2.x; Wt[at + 2u * i + 1u] = h2.y; }
  }
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  sgLane = li % SG;
  let sg = li / SG;
  let h = wg.y;
  let slice = wg.x;
  let e0 = slice * VS;
  let H = params.H;
  let dv = params.dv;
  let nChunks = params.nChunks;
  let nSlices = dv / VS;

  // The f32 state slice in registers: element p = li + i·THREADS is (channel p / VS, column p % VS).
  var St: array<f32, SE>;
  var m = 0.0;
  for (var i = 0u; i < SE; i++) {
    let p = li + i * THREADS;
    if (p < DK * VS) {
      St[i] = state[(h * DK + p / VS) * dv + e0 + p % VS];
      m = max(m, abs(St[i]));
    }
  }
  var sS = upScale(sliceMax(m, sg));
  for (var i = 0u; i < SE; i++) {
    let p = li + i * THREADS;
    if (p < DK * VS) {
      let x = f16(St[i] * sS);
      halves[p] = x;
      sEntry[(h * DK + p / VS) * dv + e0 + p % VS] = x;
    }
  }
  // Chunk 0's operands straight to workgroup memory, chunk 1's into registers.
  var wR: array<vec4<u32>, LOADS>;
  var kR: array<vec4<u32>, LOADS>;
  var n0 = min(C, params.T);
  for (var i = 0u; i < LOADS; i++) {
    let e = li + i * THREADS;
    if (e < ITEMS) { opStage(false, e, opLoad(0u, h, e, n0)); opStage(true, e, opLoad(1u, h, e, n0)); }
  }
  if (nChunks > 1u) {
    let n1 = min(C, params.T - C);
    for (var i = 0u; i < LOADS; i++) {
      let e = li + i * THREADS;
      if (e < ITEMS) { wR[i] = opLoad(0u, C * H + h, e, n1); kR[i] = opLoad(1u, C * H + h, e, n1); }
    }
  }
  var u: array<f32, VE>;
  for (var i = 0u; i < VE; i++) {
    let p = li + i * THREADS;
    let r = p / VS;
    u[i] = select(0.0, U[(h + r * H) * dv + e0 + p % VS], r < n0);
  }
  workgroupBarrier();

  for (var chunk = 0u; chunk < nChunks; chunk++) {
    let c0 = chunk * C;
    let n = min(C, params.T - c0);
    let rowBase = c0 * H + h;
    var decay: array<f32, SE>;
    for (var i = 0u; i < SE; i++) {
      let p = li + i * THREADS;
      if (p < DK * VS) { decay[i] = decayLast[(chunk * H + h) * DK + p / VS]; }
    }

    // Phase A: W·Ŝ, row tile sg % RT over the channel tiles of parity sg / RT (two partial sums).
    {
      let rt = sg % RT;
      let kh = sg / RT;
      var acc = zeroAcc();
      for (var d = kh; d < KT; d += 2u) { acc = mma(ldW(rt * 16u * ROW + d * 16u), ldR(d * 16u * VS), acc); }
      st(acc, kh * C * VS + rt * 16u * VS);
    }
    workgroupBarrier();

    // V' = U − W S in f32, scaled into f16 with the slice's own power of two.
    let invS = OPS / sS;
    var vp: array<f32, VE>;
    m = 0.0;
    for (var i = 0u; i < VE; i++) {
      let p = li + i * THREADS;
      vp[i] = u[i] - invS * (F[p] + F[C * VS + p]);
      m = max(m, abs(vp[i]));
    }
    let sV = upScale(sliceMax(m, sg));
    let scaleAt = ((chunk * H + h) * nSlices + slice) * 2u;
    if (li == 0u) { scales[scaleAt] = invS; scales[scaleAt + 1u] = OPS / sV; }
    for (var i = 0u; i < VE; i++) {
      let p = li + i * THREADS;
      let r = p / VS;
      // Rows past T are zero (U is zero there and W's rows are zeroed), so the output pass may read whole tiles.
      let x = f16(select(0.0, vp[i] * sV, r < n));
      halves[p] = x;
      vNew[(rowBase + r * H) * dv + e0 + p % VS] = x;
    }
    workgroupBarrier();

    // Phase B: kGᵀ·V̂', channel tiles dealt round-robin.
    for (var t = sg; t < KT; t += NSG) {
      var acc = zeroAcc();
      for (var r = 0u; r < RT; r++) { acc = mma(ldKt(r * 16u * ROW + t * 16u), ldR(r * 16u * VS), acc); }
      st(acc, t * 16u * VS);
    }
    workgroupBarrier();

    // S ← e^G_last ⊙ S + kGᵀ V' in f32; the next chunk's operands go to workgroup memory (every fragment load of
    // this chunk is done) and the one after into registers, with the next chunk's U.
    let invV = OPS / sV;
    m = 0.0;
    for (var i = 0u; i < SE; i++) {
      let p = li + i * THREADS;
      if (p < DK * VS) {
        St[i] = decay[i] * St[i] + invV * F[p];
        m = max(m, abs(St[i]));
      }
    }
    if (chunk + 1u < nChunks) {
      for (var i = 0u; i < LOADS; i++) {
        let e = li + i * THREADS;
        if (e < ITEMS) { opStage(false, e, wR[i]); opStage(true, e, kR[i]); }
      }
      let c2 = c0 + 2u * C;
      if (c2 < params.T) {
        let n2 = min(C, params.T - c2);
        for (var i = 0u; i < LOADS; i++) {
          let e = li + i * THREADS;
          if (e < ITEMS) { wR[i] = opLoad(0u, c2 * H + h, e, n2); kR[i] = opLoad(1u, c2 * H + h, e, n2); }
        }
      }
      let n1 = min(C, params.T - c0 - C);
      for (var i = 0u; i < VE; i++) {
        let p = li + i * THREADS;
        let r = p / VS;
        u[i] = select(0.0, U[((c0 + C) * H + h + r * H) * dv + e0 + p % VS], r < n1);
      }
    }
    sS = upScale(sliceMax(m, sg));
    if (chunk + 1u < nChunks) {
      for (var i = 0u; i < SE; i++) {
        let p = li + i * THREADS;
        if (p < DK * VS) {
          let x = f16(St[i] * sS);
          halves[p] = x;
          sEntry[(((chunk + 1u) * H + h) * DK + p / VS) * dv + e0 + p % VS] = x;
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < SE; i++) {
    let p = li + i * THREADS;
    if (p < DK * VS) { state[(h * DK + p / VS) * dv + e0 + p % VS] = St[i]; }
  }
}
