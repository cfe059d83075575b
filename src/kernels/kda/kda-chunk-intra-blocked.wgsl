// Chunked KDA prefill, pass 1 of 2, blocked form (spec §4.1–4.2): same outputs as kda-chunk-intra.wgsl (L and P,
// T = (I + L)^-1, W, U, q̃ ⊙ e^G, k ⊙ e^(G_last − G), e^G_last), but with few serial chains per thread:
//  * the chunk's CP rows are cut into 16-row sub-chunks. A pair (r, j) in different sub-chunks factors through
//    the first row a0 of r's sub-chunk: k_r ⊙ e^(G_r − G_a0) times k_j ⊙ e^(G_a0 − G_j), both ≤ 1 since g ≤ 0
//    makes G non-increasing, so those pairs are plain dot products on staged operands (4×4 register blocks);
//    pairs inside a sub-chunk keep the exact per-pair e^(G_r − G_j), evaluated only for j ≤ r (1×4 groups);
//  * T: the 16×16 diagonal blocks by forward substitution, one thread per column (no barrier per row), then the
//    off-diagonal blocks block row by block row, T_ac = −T_aa Σ_b L_ab T_bc (two barriers per block row);
//  * W and U are T·X with 4×4 register blocks over XW-column slices. X = β K ⊙ e^G is parked in W itself
//    (storage, this chunk's rows only, f32 bits) between the pair pass and the product, so k, q and g are read once.
// Threads: 256. With CP = 64 the 96 cross-sub-chunk 4×4 blocks and the 160 in-sub-chunk 1×4 groups are exactly
// one thread each, in whole warps. A ragged chunk's missing rows are zeros, which is the identity (spec §3.2).
// SPLIT_OUT (tensor-core scan; needs C, DK and XW multiples of 16): q̃G, kG, W and P go out already split the way
// kda-chunk-split16.wgsl splits them (same arithmetic, so the same bytes), and the rows that pass zeroes are
// written as zeros here: rows n..C−1 of a ragged last chunk in q̃G, kG and W, P entries with row or column ≥ n.
// X stays parked as exact f32 bits in W (bound as u32): each XW-column slice of W is read whole (stageX) before
// the product overwrites the same 16-column groups with their split form, so no group is split half-parked.
// TX_MMA (with SPLIT_OUT only): step 3 on subgroup matrices, f16 T and X (kda-intra-tx-mma.part.wgsl).
#if TX_MMA
#include "subgroup-matrix-enable.part.wgsl"
#elif SPLIT_OUT
enable f16;
#endif
#include "kda-intra-bindings.part.wgsl"

const DK: u32 = {{DK}}u;
const C: u32 = {{C}}u;
const CP: u32 = {{CP}}u;    // C rounded up to whole 16-row sub-chunks
const SW: u32 = {{SW}}u;    // channels per slice of the pair pass
const XW: u32 = {{XW}}u;    // columns per slice of the T·X products (a multiple of 4)
const SV: u32 = {{SV}}u;    // vec4s of the shared scratch S (the largest of its three uses)
const WG: u32 = 256u;
#if SPLIT_OUT
const SPLIT: bool = true;
#else
const SPLIT: bool = false;
#endif
const NB: u32 = CP / 16u;
const RQ: u32 = CP / 4u;    // vec4s per channel (rows side by side)
const XQ: u32 = XW / 4u;
const KCQ: u32 = 2u * NB * (NB - 1u); // vec4s per channel of the column operands: 16a rows for each a ≥ 1
// Channel strides padded by one vec4: staging lanes walk channels, and an unpadded stride of 16 vec4s would put
// them all on the same banks.
const RQP: u32 = RQ + 1u;
const KCP: u32 = KCQ + 1u;
const NX: u32 = 8u * NB * (NB - 1u);  // 4×4 blocks of pairs in different sub-chunks
const ND: u32 = 40u * NB;             // 1×4 groups on or below the diagonal inside the sub-chunks
const SI: u32 = (SW * RQ + WG - 1u) / WG;
const XI: u32 = (CP * XW + WG - 1u) / WG;

// L, then T in place, column-major so a thread reads four rows of one column as one vec4: (r, j) at A[j·RQ + r/4].
// TX_MMA: the same bytes as scalars (subgroup-matrix stores need an f32 array), reused for the T·X result tiles.
#if TX_MMA
var<workgroup> A: array<f32, CP * CP>;
fn aGet(r: u32, j: u32) -> f32 { return A[j * CP + r]; }
fn aSet(r: u32, j: u32, x: f32) { A[j * CP + r] = x; }
#else
var<workgroup> A: array<vec4<f32>, CP * RQ>;
fn aGet(r: u32, j: u32) -> f32 { return A[j * RQ + r / 4u][r % 4u]; }
fn aSet(r: u32, j: u32, x: f32) { A[j * RQ + r / 4u][r % 4u] = x; }
#endif
// Pair pass: k, q, G, k and q scaled to their sub-chunk's first row, column operands per reference row (channel
// major, rows side by side). Inverse: the Σ_b L_ab T_bc blocks. Products: X row-major.
var<workgroup> S: array<vec4<f32>, SV>;
var<workgroup> quadSum: array<f32, SW * RQP>;
var<workgroup> betaRow: array<f32, CP>;

const K_AT: u32 = 0u;
const Q_AT: u32 = SW * RQP;
const G_AT: u32 = 2u * SW * RQP;
const KR_AT: u32 = 3u * SW * RQP;
const QR_AT: u32 = 4u * SW * RQP;
const KC_AT: u32 = 5u * SW * RQP;

fn sGet(i: u32) -> f32 { return S[i / 4u][i % 4u]; }
fn sSet(i: u32, x: f32) { S[i / 4u][i % 4u] = x; }

#if SPLIT_OUT
#include "f16-split.part.wgsl"
// f32 element o of a split tensor: hi at half 32·(o/16) + o%16 of its 64-byte group, lo 16 halves later.
fn hiHalfAt(o: u32) -> u32 { return 32u * (o / 16u) + o % 16u; }
// (hi, lo) of 2^8·x packed as kda-chunk-split16 packs them.
fn splitBits(x: f32) -> u32 {
  let s = 256.0 * x;
  let hi = f16HiPart(s);
  return pack2x16float(vec2<f32>(hi, s - hi));
}
fn putQ(o: u32, x: f32) {
  let hl = bitcast<vec2<f16>>(splitBits(x));
  qG[hiHalfAt(o)] = hl.x;
  qG[hiHalfAt(o) + 16u] = hl.y;
}
fn putK(o: u32, x: f32) {
  let hl = bitcast<vec2<f16>>(splitBits(x));
  kG[hiHalfAt(o)] = hl.x;
  kG[hiHalfAt(o) + 16u] = hl.y;
}
// Zeros as f16 literals: putQ(o, 0.0) came out as −0 halves on lavapipe (the constant-folded split), not the
// split pass's +0 bytes.
fn zeroQK(o: u32) {
  qG[hiHalfAt(o)] = 0.0h;
  qG[hiHalfAt(o) + 16u] = 0.0h;
  kG[hiHalfAt(o)] = 0.0h;
  kG[hiHalfAt(o) + 16u] = 0.0h;
}
// Four neighbouring values from f32 index o (o % 4 == 0): hi words at 16·(o/16) + (o%16)/2 and the next, lo words 8 on.
fn splitQuad(x: vec4<f32>) -> vec4<u32> {
  let s = 256.0 * x;
  let hi = vec4(f16HiPart(s.x), f16HiPart(s.y), f16HiPart(s.z), f16HiPart(s.w));
  let lo = s - hi;
  return vec4(pack2x16float(hi.xy), pack2x16float(hi.zw), pack2x16float(lo.xy), pack2x16float(lo.zw));
}
fn quadWordAt(o: u32) -> u32 { return 16u * (o / 16u) + (o % 16u) / 2u; }
// Elements o .. o + 3 of W or P in the split layout: two hi words, then the two lo words 8 words on.
fn putSplit(toP: bool, o: u32, x: vec4<f32>) {
  let s = splitQuad(x);
  let at = quadWordAt(o);
  let word = vec4(at, at + 1u, at + 8u, at + 9u);
  for (var i = 0u; i < 4u; i++) { if (toP) { P[word[i]] = s[i]; } else { W[word[i]] = s[i]; } }
}
fn putW(o: u32, x: vec4<f32>) { putSplit(false, o, x); }
fn putP(o: u32, x: vec4<f32>) { putSplit(true, o, x); }
#endif

// This thread's share of channels d0 .. d0 + w of k, q and g (one channel and 4-row quad per item), every global
// load issued together. The main loop fetches the next slice this way before deriving the current one, so the
// loads travel during its exps and products.
struct SliceRows { k: array<vec4<f32>, SI>, q: array<vec4<f32>, SI>, g: array<vec4<f32>, SI> }

fn loadSlice(rowBase: u32, n: u32, d0: u32, w: u32, lane: u32) -> SliceRows {
  var rows: SliceRows;
  for (var it = 0u; it < SI; it++) {
    let p = lane + it * WG;
    let c = p % SW;
    let rq = p / SW;
    for (var i = 0u; i < 4u; i++) {
      let r = rq * 4u + i;
      if (r < n && c < w) {
        let at = (rowBase + r * params.H) * DK + d0 + c;
        rows.k[it][i] = k[at];
        rows.q[it][i] = q[at];
        rows.g[it][i] = g[at];
      }
    }
  }
  return rows;
}

// Stages loaded rows of k, q and the in-chunk cumulative G (local quad sums, then each quad adds the sums of the
// quads before it).
fn stageSlice(rows: SliceRows, lane: u32) {
  var g4: array<vec4<f32>, SI>;
  for (var it = 0u; it < SI; it++) {
    let p = lane + it * WG;
    let c = p % SW;
    let rq = p / SW;
    var gv = rows.g[it];
    gv.y += gv.x;
    gv.z += gv.y;
    gv.w += gv.z;
    g4[it] = gv;
    if (rq < RQ) { quadSum[c * RQP + rq] = gv.w; }
  }
  workgroupBarrier();
  for (var it = 0u; it < SI; it++) {
    let p = lane + it * WG;
    let c = p % SW;
    let rq = p / SW;
    if (rq < RQ) {
      var before = 0.0;
      for (var m = 0u; m < rq; m++) { before += quadSum[c * RQP + m]; }
      S[K_AT + c * RQP + rq] = rows.k[it];
      S[Q_AT + c * RQP + rq] = rows.q[it];
      S[G_AT + c * RQP + rq] = g4[it] + before;
    }
  }
  workgroupBarrier();
}

// Per staged element: the scaled row operands, the column operands for every later sub-chunk's reference row, and
// the outputs that need only this row: q̃ ⊙ e^G, k ⊙ e^(G_last − G), X = β k ⊙ e^G (into W), e^G_last.
fn deriveSlice(rowBase: u32, n: u32, d0: u32, w: u32, lane: u32, decayAt: u32) {
  for (var it = 0u; it < SI; it++) {
    let p = lane + it * WG;
    let c = p % SW;
    let rq = p / SW;
    if (rq < RQ) {
      let kv = S[K_AT + c * RQP + rq];
      let qv = S[Q_AT + c * RQP + rq];
      let G = S[G_AT + c * RQP + rq];
      let a = rq / 4u;
      let rowScale = exp(G - S[G_AT + c * RQP + 4u * a].x);
      S[KR_AT + c * RQP + rq] = kv * rowScale;
      S[QR_AT + c * RQP + rq] = qv * rowScale;
      for (var a2 = a + 1u; a2 < NB; a2++) {
        S[KC_AT + c * KCP + 2u * a2 * (a2 - 1u) + rq] = kv * exp(S[G_AT + c * RQP + 4u * a2].x - G);
      }
      if (c < w) {
        let gLast = S[G_AT + c * RQP + (n - 1u) / 4u][(n - 1u) % 4u];
        let eG = exp(G);
        let toLast = exp(gLast - G);
        for (var i = 0u; i < 4u; i++) {
          let r = rq * 4u + i;
          let out = (rowBase + r * params.H) * DK + d0 + c;
#if SPLIT_OUT
          if (r < n) {
            putQ(out, qv[i] * eG[i]);
            putK(out, kv[i] * toLast[i]);
            W[out] = bitcast<u32>(betaRow[r] * kv[i] * eG[i]);
          } else if (r < C) { // past T: the scan reads whole 16-row tiles
            zeroQK(out);
          }
#else
          if (r < n) {
            qG[out] = qv[i] * eG[i];
            kG[out] = kv[i] * toLast[i];
            W[out] = betaRow[r] * kv[i] * eG[i];
          }
#endif
        }
        if (rq == 0u) { decayLast[decayAt + d0 + c] = exp(gLast); }
      }
    }
  }
}

// One row r of L (into A) and P (to storage) for columns 4·jb .. 4·jb + 3, masked to j < r and j ≤ r.
// Under SPLIT_OUT, P entries with row or column ≥ n are written as zeros (as the split pass leaves them).
fn writeRow(r: u32, jb: u32, kk: vec4<f32>, qk: vec4<f32>, pBase: u32, n: u32) {
  var pRow = vec4(0.0);
  for (var i = 0u; i < 4u; i++) {
    let j = 4u * jb + i;
    aSet(r, j, select(0.0, betaRow[r] * kk[i], j < r));
    pRow[i] = select(0.0, qk[i], j <= r && (!SPLIT || (r < n && j < n)));
#if SPLIT_OUT
  }
  if (r < C && 4u * jb < C) { putP(pBase + r * C + 4u * jb, pRow); }
#else
    if (r < C && j < C) { P[pBase + r * C + j] = pRow[i]; }
  }
#endif
}

// Stages CP rows × w columns of the right-hand side X row-major: X = W's parked β K ⊙ e^G, or β V.
fn stageX(fromV: bool, rowBase: u32, n: u32, c0: u32, h: u32, d0: u32, w: u32, lane: u32) {
  var xs: array<f32, XI>;
  for (var it = 0u; it < XI; it++) {
    let p = lane + it * WG;
    let r = p / XW;
    let c = p % XW;
    var x = 0.0;
    if (r < n && c < w) {
      if (fromV) {
        x = betaRow[r] * v[params.vOffset + (c0 + r) * params.vStride + h * params.dv + d0 + c];
      } else {
#if SPLIT_OUT
        x = bitcast<f32>(W[(rowBase + r * params.H) * DK + d0 + c]);
#else
        x = W[(rowBase + r * params.H) * DK + d0 + c];
#endif
      }
    }
    xs[it] = x;
  }
  workgroupBarrier();
  storageBarrier(); // every parked X of this slice is read before any thread overwrites it with T·X
  for (var it = 0u; it < XI; it++) {
    let p = lane + it * WG;
#if TX_MMA
    if (p < CP * XW) { X16[(p / XW) * XP + p % XW] = f16(xs[it]); }
#else
    if (p < CP * XW) { sSet(p, xs[it]); }
#endif
  }
  workgroupBarrier();
}

// Row r, columns 4·cq .. 4·cq + 3 of this slice of T·X to W (split under SPLIT_OUT) or U.
fn storeTX(toU: bool, rowBase: u32, n: u32, d0: u32, w: u32, r: u32, cq: u32, o: vec4<f32>) {
#if SPLIT_OUT
  // W rows past T as zeros; XW and w are multiples of 16, so this block's groups hold only staged columns.
  if (!toU && r < C && 4u * cq < w) { putW((rowBase + r * params.H) * DK + d0 + 4u * cq, select(vec4(0.0), o, r < n)); }
#endif
  for (var m = 0u; m < 4u; m++) {
    let c = 4u * cq + m;
    if (r < n && c < w) {
      if (toU) { U[(rowBase + r * params.H) * params.dv + d0 + c] = o[m]; }
#if SPLIT_OUT
#else
      else { W[(rowBase + r * params.H) * DK + d0 + c] = o[m]; }
#endif
    }
  }
}

#if TX_MMA
#include "kda-intra-tx-mma.part.wgsl"
#else
// T·X for the staged slice, a 4-row × 4-column register block per thread (T lower triangular: j < 4·rb + 4).
fn productTX(toU: bool, rowBase: u32, n: u32, d0: u32, w: u32, lane: u32) {
  for (var it = lane; it < RQ * XQ; it += WG) {
    let rb = it / XQ;
    let cq = it % XQ;
    var o0 = vec4(0.0);
    var o1 = vec4(0.0);
    var o2 = vec4(0.0);
    var o3 = vec4(0.0);
    for (var j = 0u; j < 4u * rb + 4u; j++) {
      let t4 = A[j * RQ + rb];
      let x = S[j * XQ + cq];
      o0 += t4.x * x;
      o1 += t4.y * x;
      o2 += t4.z * x;
      o3 += t4.w * x;
    }
    for (var i = 0u; i < 4u; i++) {
      let r = 4u * rb + i;
      var o = o3;
      if (i == 0u) { o = o0; } else if (i == 1u) { o = o1; } else if (i == 2u) { o = o2; }
      storeTX(toU, rowBase, n, d0, w, r, cq, o);
    }
  }
}
#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let chunk = wg.x;
  let h = wg.y;
  let H = params.H;
  let dk = params.dk;
  let dv = params.dv;
  let c0 = chunk * C;
  let n = min(C, params.T - c0);
  let rowBase = c0 * H + h; // token row r of this chunk and head is rowBase + r·H
  let pBase = (chunk * H + h) * C * C;
  for (var r = lane; r < CP; r += WG) {
    var b = 0.0;
    if (r < n) { b = beta[rowBase + r * H]; }
    betaRow[r] = b;
  }

  // This thread's share of the pairs: a cross-sub-chunk 4×4 block (rows 4·rb.., columns 4·jb..) or an in-sub-chunk
  // group (row r, columns 4·jb..).
  let isCross = lane < NX;
  let isDiag = !isCross && lane < NX + ND;
  var rb = 0u;
  var jb = 0u;
  var kcAt = 0u;
  var r = 0u;
  if (isCross) {
    var pair = lane / 16u;
    var a = 1u;
    while (pair >= a) { pair -= a; a++; }
    rb = 4u * a + (lane % 16u) / 4u;
    jb = 4u * pair + lane % 4u;
    kcAt = 2u * a * (a - 1u) + jb;
  } else if (isDiag) {
    let u = lane - NX;
    var left = u % 40u;
    var s = 0u;
    while (left >= 4u * (s + 1u)) { left -= 4u * (s + 1u); s++; }
    let i = 4u * s + left / (s + 1u);
    r = 16u * (u / 40u) + i;
    jb = 4u * (u / 40u) + left % (s + 1u);
  }
  var kk0 = vec4(0.0);
  var kk1 = vec4(0.0);
  var kk2 = vec4(0.0);
  var kk3 = vec4(0.0);
  var qk0 = vec4(0.0);
  var qk1 = vec4(0.0);
  var qk2 = vec4(0.0);
  var qk3 = vec4(0.0);
  workgroupBarrier();

  // Step 1: L, P and the row-wise outputs, SW channels at a time.
  var rows = loadSlice(rowBase, n, 0u, min(SW, dk), lane);
  for (var d0 = 0u; d0 < dk; d0 += SW) {
    let w = min(SW, dk - d0);
    workgroupBarrier(); // the previous slice is fully consumed
    stageSlice(rows, lane);
    if (d0 + SW < dk) { rows = loadSlice(rowBase, n, d0 + SW, min(SW, dk - d0 - SW), lane); }
    deriveSlice(rowBase, n, d0, w, lane, (chunk * H + h) * DK);
    workgroupBarrier();
    if (isCross) {
      for (var c = 0u; c < w; c++) {
        let rk = S[KR_AT + c * RQP + rb];
        let rq = S[QR_AT + c * RQP + rb];
        let ck = S[KC_AT + c * KCP + kcAt];
        kk0 += rk.x * ck;
        kk1 += rk.y * ck;
        kk2 += rk.z * ck;
        kk3 += rk.w * ck;
        qk0 += rq.x * ck;
        qk1 += rq.y * ck;
        qk2 += rq.z * ck;
        qk3 += rq.w * ck;
      }
    } else if (isDiag) {
      let valid = vec4(4u * jb, 4u * jb + 1u, 4u * jb + 2u, 4u * jb + 3u) <= vec4(r);
      for (var c = 0u; c < w; c++) {
        let kr = S[K_AT + c * RQP + r / 4u][r % 4u];
        let qr = S[Q_AT + c * RQP + r / 4u][r % 4u];
        let gr = S[G_AT + c * RQP + r / 4u][r % 4u];
        let kd = S[K_AT + c * RQP + jb] * exp(select(vec4(0.0), vec4(gr) - S[G_AT + c * RQP + jb], valid));
        kk0 += kr * kd;
        qk0 += qr * kd;
      }
    }
  }
  if (isCross) {
    writeRow(4u * rb, jb, kk0, qk0, pBase, n);
    writeRow(4u * rb + 1u, jb, kk1, qk1, pBase, n);
    writeRow(4u * rb + 2u, jb, kk2, qk2, pBase, n);
    writeRow(4u * rb + 3u, jb, kk3, qk3, pBase, n);
  } else if (isDiag) {
    writeRow(r, jb, kk0, qk0, pBase, n);
  }
  // P entries no thread covered (above the 4×4 diagonal of each sub-chunk, and above the sub-chunk diagonal).
#if SPLIT_OUT
  for (var p = 4u * lane; p < C * C; p += 4u * WG) { // whole 4-column quads, which the condition never cuts
#else
  for (var p = lane; p < C * C; p += WG) {
#endif
    let pr = p / C;
    let pj = p % C;
    if (pj / 16u > pr / 16u || (pj / 16u == pr / 16u && pj / 4u > pr / 4u)) {
#if SPLIT_OUT
      putP(pBase + p, vec4(0.0));
#else
      P[pBase + p] = 0.0;
#endif
    }
  }
  workgroupBarrier();

  // Step 2a: each diagonal block's inverse, one thread per column j held in registers (column j of T needs only L
  // and itself; written out by #unroll, so constant indices keep col in registers): T[i][j] = δ_ij − Σ_{m<i}
  // L[i][m] T[m][j], which gives zeros above the diagonal and ones on it. Written back once every thread has read
  // its block of L.
  var col: array<f32, 16>;
  let diagAt = 16u * (lane / 16u);
  let diagCol = lane % 16u;
  if (lane < 16u * NB) {
#unroll i 16
    {
      var acc = select(0.0, 1.0, {{i}}u == diagCol);
#unroll m 16
      if ({{m}}u < {{i}}u) { acc -= aGet(diagAt + {{i}}u, diagAt + {{m}}u) * col[{{m}}u]; }
#endunroll
      col[{{i}}u] = acc;
    }
#endunroll
  }
  workgroupBarrier();
  if (lane < 16u * NB) {
    for (var i = 0u; i < 16u; i++) { aSet(diagAt + i, diagAt + diagCol, col[i]); }
  }
  workgroupBarrier();
  // Step 2b: block row a from the rows above it, one thread per (i, j) of a 16×16 block and all of its column
  // blocks c < a (at most 3) at once: Y_ac = Σ_{c≤b<a} L_ab T_bc (in S), then T_ac = −T_aa Y_ac.
  let bi = lane % 16u; // lanes of a warp differ in the row: neighbouring words of column-major A, no bank conflicts
  let bj = lane / 16u;
  for (var a = 1u; a < NB; a++) {
    var y0 = 0.0;
    var y1 = 0.0;
    var y2 = 0.0;
    // 16 terms at a time (a constant trip count the compiler can unroll), in the same order as one loop.
    for (var mb = 0u; mb < a; mb++) {
      for (var mi = 0u; mi < 16u; mi++) {
        let m = 16u * mb + mi;
        let l = aGet(16u * a + bi, m);
        y0 += l * aGet(m, bj);
        if (mb >= 1u) { y1 += l * aGet(m, 16u + bj); }
        if (mb >= 2u) { y2 += l * aGet(m, 32u + bj); }
      }
    }
    sSet(bi * 16u + bj, y0);
    sSet(256u + bi * 16u + bj, y1);
    sSet(512u + bi * 16u + bj, y2);
    workgroupBarrier();
    var t0 = 0.0;
    var t1 = 0.0;
    var t2 = 0.0;
    // All 16 columns of T_aa (step 2a wrote its zeros above the diagonal): one trip count for every lane.
    for (var m = 0u; m < 16u; m++) {
      let t = aGet(16u * a + bi, 16u * a + m);
      t0 -= t * sGet(m * 16u + bj);
      t1 -= t * sGet(256u + m * 16u + bj);
      t2 -= t * sGet(512u + m * 16u + bj);
    }
    aSet(16u * a + bi, bj, t0);
    if (a > 1u) { aSet(16u * a + bi, 16u + bj, t1); }
    if (a > 2u) { aSet(16u * a + bi, 32u + bj, t2); }
    workgroupBarrier();
  }

  // Step 3: W = T · X in place (X parked by step 1), then U = T · β V.
  storageBarrier();
#if TX_MMA
  stageT16(lane);
  workgroupBarrier(); // A now takes the result tiles
#endif
  for (var d0 = 0u; d0 < dk; d0 += XW) {
    let w = min(XW, dk - d0);
    stageX(false, rowBase, n, c0, h, d0, w, lane);
    productTX(false, rowBase, n, d0, w, lane);
    workgroupBarrier();
  }
  for (var d0 = 0u; d0 < dv; d0 += XW) {
    let w = min(XW, dv - d0);
    stageX(true, rowBase, n, c0, h, d0, w, lane);
    productTX(true, rowBase, n, d0, w, lane);
    workgroupBarrier();
  }
}
