// Chunked KDA prefill, pass 2 of 2: the sequential state scan (spec §4). Grid: value-column slices × heads.
// Each workgroup keeps its DK × VS slice of the state in workgroup memory and walks the chunks in order:
//   V' = U − W S,   O = (q̃ ⊙ e^G) S + P V',   S ← e^G_last ⊙ S + (k ⊙ e^(G_last − G))ᵀ V'.
// Every operand of a chunk is first staged through workgroup memory with coalesced loads, KS channels at a
// time (reading W, q̃ and k̃ from storage inside the inner loops made each multiply-add wait on a load: about
// 600 µs per chunk on an H100). Each thread then owns a register block of 4 rows × 2 value columns.
// Rows of a ragged last chunk and channels past dk are staged as zeros, which is the identity (spec §3.2).
struct Params { T: u32, H: u32, dv: u32, nChunks: u32, vOffset: u32, vStride: u32, dk: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qG: array<f32>;
@group(0) @binding(2) var<storage, read> kG: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
@group(0) @binding(4) var<storage, read> U: array<f32>;
@group(0) @binding(5) var<storage, read> P: array<f32>;
@group(0) @binding(6) var<storage, read> decayLast: array<f32>;
@group(0) @binding(7) var<storage, read_write> state: array<f32>;
@group(0) @binding(8) var<storage, read_write> out: array<f32>;

const DK: u32 = {{DK}}u;
const C: u32 = {{C}}u;
const CP: u32 = {{CP}}u;      // C rounded up to a multiple of 4 (register blocks are 4 rows)
const KS: u32 = CP;           // channels per staged slice, so one tile shape serves every operand
const DKP: u32 = {{DKP}}u;    // dk rounded up to KS: the state's padding rows stay zero
const VS: u32 = {{VS}}u;      // value columns per workgroup (even)
const WG: u32 = {{WG}}u;      // (CP / 4) · (VS / 2): one thread per register block
const COLS: u32 = VS / 2u;    // register blocks across the value columns
const TQ: u32 = CP / 4u + 1u; // vec4s per channel of a transposed tile (one vec4 of padding against bank conflicts)
const KQ: u32 = KS / 4u + 1u; // vec4s per row of a row-major tile

var<workgroup> S: array<f32, DKP * VS>;
var<workgroup> Vp: array<f32, CP * VS>;
// One tile, two layouts: transposed (tile[c·TQ + r/4][r%4], rows of a channel side by side) for the products
// over channels, row-major (tile[r·KQ + c/4][c%4]) for the state update's product over rows.
var<workgroup> tile: array<vec4<f32>, KS * TQ>;

const STAGE: u32 = CP * KS / WG; // staging loads per thread per tile (8·CP / VS, a whole number)

fn operand(which: u32, at: u32) -> f32 {
  switch which {
    case 0u: { return W[at]; }
    case 1u: { return qG[at]; }
    case 2u: { return kG[at]; }
    default: { return P[at]; }
  }
}

// Stages a CP-row × KS-column block of operand `which` (element (r, c) at base + r·rowStride + c, valid for
// r < n and c < cols) into the tile, transposed or row-major. All of a thread's loads are issued before its
// stores, so they are in flight together instead of each waiting on the previous one.
fn stage(which: u32, base: u32, rowStride: u32, n: u32, cols: u32, lane: u32, transposed: bool) {
  var vals: array<f32, STAGE>;
  for (var it = 0u; it < STAGE; it++) {
    let p = lane + it * WG;
    let r = p / KS;
    let c = p % KS;
    var val = 0.0;
    if (r < n && c < cols) { val = operand(which, base + r * rowStride + c); }
    vals[it] = val;
  }
  for (var it = 0u; it < STAGE; it++) {
    let p = lane + it * WG;
    let r = p / KS;
    let c = p % KS;
    if (transposed) { tile[c * TQ + r / 4u][r % 4u] = vals[it]; } else { tile[r * KQ + c / 4u][c % 4u] = vals[it]; }
  }
}

// Two columns (ec, ec + 1) of a 4-row register block: acc + Σ_m tile[m·stride + rb] · V'[m][ec..ec+1] over
// m < n (P·V' with the transposed tile, k̃ᵀ·V' with the row-major one).
struct Pair { a: vec4<f32>, b: vec4<f32> }

fn tileTimesVp(stride: u32, rb: u32, ec: u32, n: u32, acc: Pair) -> Pair {
  var out = acc;
  for (var m = 0u; m < n; m++) {
    let t4 = tile[m * stride + rb];
    let at = m * VS + ec;
    out.a += t4 * Vp[at];
    out.b += t4 * Vp[at + 1u];
  }
  return out;
}

// acc + operand · S for this thread's block (rows rb·4 .. +3, state columns ec, ec + 1), the operand (W or
// q̃ ⊙ e^G of the chunk's rows from rowBase) staged transposed KS channels at a time. Call in uniform control flow.
fn operandTimesS(which: u32, rowBase: u32, n: u32, lane: u32, rb: u32, ec: u32, acc: Pair) -> Pair {
  var out = acc;
  let dk = params.dk;
  for (var s0 = 0u; s0 < dk; s0 += KS) {
    workgroupBarrier(); // the tile's previous contents are fully consumed
    stage(which, rowBase * DK + s0, params.H * DK, n, dk - s0, lane, true);
    workgroupBarrier();
    let cw = min(KS, dk - s0);
    for (var c = 0u; c < cw; c++) {
      let t4 = tile[c * TQ + rb];
      let at = (s0 + c) * VS + ec;
      out.a += t4 * S[at];
      out.b += t4 * S[at + 1u];
    }
  }
  return out;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let h = wg.y;
  let e0 = wg.x * VS;
  let width = min(VS, params.dv - e0);
  let H = params.H;
  let dv = params.dv;
  let dk = params.dk;
  // This thread's block: rows rb·4 .. +3 (channels ib·4 .. +3 in the state update), columns ec, ec + 1.
  let rb = lane / COLS;
  let ec = (lane % COLS) * 2u;
  for (var p = lane; p < DKP * VS; p += WG) {
    let i = p / VS;
    let e = p % VS;
    var s = 0.0;
    if (i < dk && e < width) { s = state[(h * DK + i) * dv + e0 + e]; }
    S[p] = s;
  }
  for (var chunk = 0u; chunk < params.nChunks; chunk++) {
    let c0 = chunk * C;
    let n = min(C, params.T - c0);
    let rowBase = c0 * H + h; // token row r of this chunk and head is rowBase + r·H

    // V' = U − W S.
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    for (var x = 0u; x < 4u; x++) {
      let r = rb * 4u + x;
      if (r < n) {
        let at = (rowBase + r * H) * dv + e0 + ec;
        if (ec < width) { a0[x] = U[at]; }
        if (ec + 1u < width) { a1[x] = U[at + 1u]; }
      }
    }
    // Accumulated from −U and negated back: the same sums as subtracting W S from U term by term (negation is exact).
    let ws = operandTimesS(0u, rowBase, n, lane, rb, ec, Pair(-a0, -a1));
    a0 = -ws.a;
    a1 = -ws.b;
    for (var x = 0u; x < 4u; x++) {
      let at = (rb * 4u + x) * VS + ec;
      Vp[at] = a0[x];
      Vp[at + 1u] = a1[x];
    }

    // O = (q̃ ⊙ e^G) S + P V', with S still the chunk's entry state.
    let qs = operandTimesS(1u, rowBase, n, lane, rb, ec, Pair(vec4<f32>(0.0), vec4<f32>(0.0)));
    var o0 = qs.a;
    var o1 = qs.b;
    workgroupBarrier();
    // P is lower triangular (the intra pass writes zeros above the diagonal); column j of it is staged like a channel.
    let pBase = (chunk * H + h) * C * C;
    stage(3u, pBase, C, n, n, lane, true);
    workgroupBarrier();
    let pv = tileTimesVp(TQ, rb, ec, n, Pair(o0, o1));
    o0 = pv.a;
    o1 = pv.b;
    for (var x = 0u; x < 4u; x++) {
      let r = rb * 4u + x;
      if (r < n) {
        let at = (rowBase + r * H) * dv + e0 + ec;
        if (ec < width) { out[at] = o0[x]; }
        if (ec + 1u < width) { out[at + 1u] = o1[x]; }
      }
    }

    // S ← e^G_last ⊙ S + (k ⊙ e^(G_last − G))ᵀ V', one KS-channel slice at a time; each thread updates only
    // its own 4 × 2 entries of the slice, so no other thread reads them before the next chunk.
    let dBase = (chunk * H + h) * DK;
    for (var s0 = 0u; s0 < dk; s0 += KS) {
      workgroupBarrier();
      stage(2u, rowBase * DK + s0, H * DK, n, dk - s0, lane, false);
      workgroupBarrier();
      let i0 = s0 + rb * 4u;
      var decay = vec4<f32>(0.0);
      for (var x = 0u; x < 4u; x++) {
        if (i0 + x < dk) { decay[x] = decayLast[dBase + i0 + x]; }
      }
      let s0v = decay * vec4<f32>(S[i0 * VS + ec], S[(i0 + 1u) * VS + ec], S[(i0 + 2u) * VS + ec], S[(i0 + 3u) * VS + ec]);
      let s1v = decay * vec4<f32>(S[i0 * VS + ec + 1u], S[(i0 + 1u) * VS + ec + 1u], S[(i0 + 2u) * VS + ec + 1u], S[(i0 + 3u) * VS + ec + 1u]);
      let u = tileTimesVp(KQ, rb, ec, n, Pair(s0v, s1v));
      let u0 = u.a;
      let u1 = u.b;
      for (var x = 0u; x < 4u; x++) {
        let at = (i0 + x) * VS + ec;
        S[at] = u0[x];
        S[at + 1u] = u1[x];
      }
    }
  }
  workgroupBarrier();
  for (var p = lane; p < DKP * VS; p += WG) {
    let i = p / VS;
    let e = p % VS;
    if (i < dk && e < width) { state[(h * DK + i) * dv + e0 + e] = S[p]; }
  }
}
