// NoPE MLA decode in the absorbed form (spec §5): one query token attends to the latent cache as MQA with
// H query heads and one 576-wide (R + Dr) key whose first R numbers are also the value. Four passes, chosen
// by define:
//  ABSORB:   qAbs[h] = [W_UK(h)ᵀ q_nope(h) | q_pe(h)]                       grid (ceil((R+Dr)/CB), H)
//  SPLIT:    per key range s and head block: unnormalised Σ p·c, running max and sum (split-K over the
//            sequence; range length from the live Tk, so a fixed grid serves every step)   grid (S, ceil(H/HB))
//  SPLIT_SG: the same with one subgroup per head, no workgroup memory (where subgroups have a fixed size)
//  REDUCE:   o_lat[h] = Σ_s e^(m_s − m) O_s / Σ_s e^(m_s − m) l_s              grid (ceil(R/CB), H)
//  UNABSORB: o[h] = W_UV(h) o_lat[h]                                        grid (ceil(Dv/RB), H)
// Tk is the uniform, or with SEQ_LEN the first word of a GPU counter (bounded by the uniform, which is then
// the cache capacity), so one recorded dispatch list serves every decode step.
// dn and r repeat DN and R as runtime loop bounds where a loop should stay a loop (constant ones are unrolled;
// slow compiles on lavapipe); the absorb, reduce and unabsorb passes write their few loads per lane out.
// F16: both split passes read an f16 cache (latent-f16.part.wgsl); all arithmetic stays f32.
#if QT16
enable f16;
#endif
#if SPLIT_SG
enable subgroups;
// Every subgroupAdd sits where all lanes of the subgroup agree (h and the key range are per subgroup).
diagnostic(off, subgroup_uniformity);
#endif
struct Params { Tk: u32, H: u32, nSplits: u32, scale: f32, dn: u32, r: u32 }
@group(0) @binding(0) var<uniform> params: Params;

const DN: u32 = {{DN}}u;
const DR: u32 = {{DR}}u;
const DV: u32 = {{DV}}u;
const R: u32 = {{R}}u;
const DC: u32 = R + DR;          // cache row width
const WKVB_ROWS: u32 = DN + DV;  // kv_b_proj rows per head
const WG: u32 = {{WG}}u;
const MASKED: f32 = -3.0e38;

#if ABSORB
@group(0) @binding(1) var<storage, read> q: array<f32>;      // [H, DN + DR]
@group(0) @binding(2) var<storage, read> wkvb: array<f32>;   // [H·(DN+DV), R]
@group(0) @binding(3) var<storage, read_write> qAbs: array<f32>; // [H, DC]
// A workgroup owns CB columns of one head; its DP lane groups split the DN-long sum (coalesced CB-wide row
// reads, DP loads in flight per column) and meet in workgroup memory.
const DP: u32 = {{DP}}u;
const CB: u32 = WG / DP;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let h = wg.y;
  let c = wg.x * CB + lane % CB;
  let part = lane / CB;
  let qRow = h * (DN + DR);
  var acc = 0.0;
  // Written out (ABSORB_STEPS = DN / DP per lane) so every load is in flight at once; a loop waited on each.
  let cc = min(c, R - 1u);
#unroll j ABSORB_STEPS
  let d{{j}} = min(part + {{j}}u * DP, DN - 1u);
  let w{{j}} = wkvb[(h * WKVB_ROWS + d{{j}}) * R + cc] * q[qRow + d{{j}}];
#endunroll
#unroll j ABSORB_STEPS
  acc += select(0.0, w{{j}}, part + {{j}}u * DP < params.dn); // params.dn = DN (and keeps the uniform bound)
#endunroll
  if (c >= R) { acc = 0.0; }
  partial[lane] = acc;
  workgroupBarrier();
  if (part == 0u && c < DC) {
    var sum = 0.0;
    for (var p = 0u; p < DP; p++) { sum += partial[p * CB + lane]; }
    if (c < R) { qAbs[h * DC + c] = sum; } else { qAbs[h * DC + c] = q[qRow + DN + c - R]; }
  }
}
#endif

#if QT16
// For the tensor-core split pass: Qᵀ [DC, H] as f16, each head scaled by a power of two that puts its largest
// |value| in [2^13, 2^14) (absorbed queries can exceed f16's 65504; a power of two loses no bits), and
// qScale[h] = scale · log2(e) / that power, which turns the pass's raw scores into log2-unit logits.
@group(0) @binding(1) var<storage, read> qAbs: array<f32>;        // [H, DC]
@group(0) @binding(2) var<storage, read_write> qT: array<f16>;    // [DC, H]
@group(0) @binding(3) var<storage, read_write> qScale: array<f32>; // [H]
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let h = wg.x;
  var m = 0.0;
  for (var c = lane; c < DC; c += WG) { m = max(m, abs(qAbs[h * DC + c])); }
  partial[lane] = m;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) { partial[lane] = max(partial[lane], partial[lane + stride]); }
    workgroupBarrier();
  }
  let top = partial[0];
  // exponent e with top · 2^-e in [2^13, 2^14); an all-zero row keeps e = 0.
  var e = 0.0;
  if (top > 0.0) { e = floor(log2(top)) - 13.0; }
  let down = exp2(-e);
  for (var c = lane; c < DC; c += WG) { qT[c * params.H + h] = f16(qAbs[h * DC + c] * down); }
  if (lane == 0u) { qScale[h] = params.scale * 1.4426950408889634 * exp2(e); }
}
#endif

#if SPLIT_ANY
// Shared by both split passes (the wrapper sets SPLIT_ANY with either): partials out, the live key count in.
@group(0) @binding(1) var<storage, read> qAbs: array<f32>;
@group(0) @binding(3) var<storage, read_write> oPart: array<f32>; // [S, H, R]
@group(0) @binding(4) var<storage, read_write> mPart: array<f32>; // [S, H]
@group(0) @binding(5) var<storage, read_write> lPart: array<f32>; // [S, H]
const HB: u32 = {{HB}}u;
const BK: u32 = {{BK}}u;
#if SEQ_LEN
@group(0) @binding(6) var<storage, read> seqLen: array<u32>;
fn keyCount() -> u32 { return min(seqLen[0], params.Tk); }
#else
fn keyCount() -> u32 { return params.Tk; }
#endif
#endif

// Scalar cache reads (the staged pass, and the subgroup pass without VEC4): column `col` of row `row` as f32.
#if SCALAR_CACHE
#if F16
@group(0) @binding(2) var<storage, read> cache: array<u32>;      // [capacity, DCP / 2] f16 pairs
#include "latent-f16.part.wgsl"
fn cacheAt(row: u32, col: u32) -> f32 { return latentHalf(row, col); }
#else
@group(0) @binding(2) var<storage, read> cache: array<f32>;      // [capacity, DC]
fn cacheAt(row: u32, col: u32) -> f32 { return cache[row * DC + col]; }
#endif
#endif

#if SPLIT
const LANES_PER_SCORE: u32 = {{LPS}}u;
const OUT_PER_THREAD: u32 = (HB * R + WG - 1u) / WG;
// Padded rows: rows DC apart would share one memory bank when DC is a multiple of the bank count.
const ROW: u32 = DC + 1u;

var<workgroup> qTile: array<f32, HB * ROW>;
var<workgroup> kTile: array<f32, BK * ROW>;
var<workgroup> scores: array<f32, HB * BK>;
var<workgroup> partial: array<f32, WG>;
var<workgroup> rowMax: array<f32, HB>;
var<workgroup> rowSum: array<f32, HB>;
var<workgroup> rowRescale: array<f32, HB>;
#include "online-softmax-row.part.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let split = wg.x;
  let h0 = wg.y * HB;
  let nh = min(HB, params.H - h0);
  let Tk = keyCount();
  let perSplit = (Tk + params.nSplits - 1u) / params.nSplits;
  let kStart = min(Tk, split * perSplit);
  let kEnd = min(Tk, kStart + perSplit);
  for (var p = lane; p < HB * DC; p += WG) {
    var x = 0.0;
    if (p / DC < nh) { x = qAbs[h0 * DC + p]; }
    qTile[(p / DC) * ROW + p % DC] = x;
  }
  if (lane < HB) {
    rowMax[lane] = MASKED;
    rowSum[lane] = 0.0;
  }
  var acc: array<f32, OUT_PER_THREAD>;
  for (var m = 0u; m < OUT_PER_THREAD; m++) { acc[m] = 0.0; }
  for (var k0 = kStart; k0 < kEnd; k0 += BK) {
    let nk = min(BK, kEnd - k0);
    workgroupBarrier();
    for (var p = lane; p < BK * DC; p += WG) {
      var x = 0.0;
      if (p / DC < nk) { x = cacheAt(k0 + p / DC, p % DC); }
      kTile[(p / DC) * ROW + p % DC] = x;
    }
    workgroupBarrier();
    // Each score is a DC-long dot split over LANES_PER_SCORE lanes, then summed through `partial`.
    for (var base = 0u; base < HB * BK * LANES_PER_SCORE; base += WG) {
      let slot = base + lane;
      let pair = slot / LANES_PER_SCORE;
      let part = slot % LANES_PER_SCORE;
      var dot = 0.0;
      if (pair < HB * BK) {
        let i = pair / BK;
        let j = pair % BK;
        for (var d = part; d < DC; d += LANES_PER_SCORE) { dot += qTile[i * ROW + d] * kTile[j * ROW + d]; }
      }
      partial[lane] = dot;
      workgroupBarrier();
      if (part == 0u && pair < HB * BK) {
        var s = 0.0;
        for (var x = 0u; x < LANES_PER_SCORE; x++) { s += partial[lane + x]; }
        var score = MASKED;
        if (pair / BK < nh && pair % BK < nk) { score = s * params.scale; }
        scores[pair] = score;
      }
      workgroupBarrier();
    }
    if (lane < HB) { online_softmax_row(lane); }
    workgroupBarrier();
    for (var m = 0u; m < OUT_PER_THREAD; m++) {
      let p = lane + m * WG;
      if (p < HB * R) {
        let i = p / R;
        let c = p % R;
        var a = acc[m] * rowRescale[i];
        for (var j = 0u; j < nk; j++) { a += scores[i * BK + j] * kTile[j * ROW + c]; }
        acc[m] = a;
      }
    }
  }
  workgroupBarrier();
  for (var m = 0u; m < OUT_PER_THREAD; m++) {
    let p = lane + m * WG;
    if (p < HB * R && p / R < nh) { oPart[(split * params.H + h0) * R + p] = acc[m]; }
  }
  if (lane < nh) {
    mPart[split * params.H + h0 + lane] = rowMax[lane];
    lPart[split * params.H + h0 + lane] = rowSum[lane];
  }
}
#endif

#if SPLIT_SG
// The split pass with one subgroup per head and no workgroup memory: each lane keeps its share of the absorbed
// query (column groups lane, lane + SG, … of W floats: vec4 where R and Dr allow) in registers, reads the same
// columns of each cache row straight from storage (the heads of a workgroup read the same rows, so they share
// them through the cache), and subgroupAdd turns the per-lane partial dots into scores. A tile of BK keys is
// loaded and scored first, then at most one rescale and the P·C update from the same registers. Assumes
// subgroups are consecutive runs of SG invocations (the plan only picks this pass where the size is fixed).
// keyAt(k, u): the u-th group of W floats of key row k (f16 caches widen 4 halves from 8 bytes with VEC4).
#if VEC4
alias V = vec4<f32>;
const W: u32 = 4u;
#if F16
@group(0) @binding(2) var<storage, read> cache: array<vec2<u32>>; // [capacity, DC / 4] f16 quads
fn keyAt(k: u32, u: u32) -> V {
  let w = cache[k * (DC / 4u) + u];
  return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}
#else
@group(0) @binding(2) var<storage, read> cache: array<vec4<f32>>; // [capacity, DC / 4]
fn keyAt(k: u32, u: u32) -> V { return cache[k * (DC / 4u) + u]; }
#endif
fn dotv(a: V, b: V) -> f32 { return dot(a, b); }
#else
alias V = f32;
const W: u32 = 1u;
fn keyAt(k: u32, u: u32) -> V { return cacheAt(k, u); }
fn dotv(a: V, b: V) -> f32 { return a * b; }
#endif
const SG: u32 = {{SUBGROUP_SIZE}}u;
const RW: u32 = R / W;
const DRW: u32 = DR / W;
const NR: u32 = (RW + SG - 1u) / SG;
const NP: u32 = max(1u, (DRW + SG - 1u) / SG); // at least one slot: WGSL arrays cannot be empty (Dr = 0)

// W absorbed-query floats from column W·v of head h's row.
fn queryAt(at: u32) -> V {
#if VEC4
  return vec4<f32>(qAbs[at], qAbs[at + 1u], qAbs[at + 2u], qAbs[at + 3u]);
#else
  return qAbs[at];
#endif
}

@compute @workgroup_size(HB * SG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
  let split = wg.x;
  let h = wg.y * HB + li / SG;
  if (h >= params.H) { return; } // whole subgroups only: h is the same on every lane of one
  let Tk = keyCount();
  let perSplit = (Tk + params.nSplits - 1u) / params.nSplits;
  let kStart = min(Tk, split * perSplit);
  let kEnd = min(Tk, kStart + perSplit);
  var qr: array<V, NR>;
  var acc: array<V, NR>;
  for (var i = 0u; i < NR; i++) {
    let v = lane + SG * i;
    qr[i] = select(V(0.0), queryAt(h * DC + W * min(v, RW - 1u)), v < RW);
    acc[i] = V(0.0);
  }
  var qp: array<V, NP>;
  for (var i = 0u; i < NP; i++) {
    let v = lane + SG * i;
    qp[i] = select(V(0.0), queryAt(h * DC + R + W * min(v, max(DRW, 1u) - 1u)), v < DRW);
  }
  var m = MASKED;
  var l = 0.0;
  for (var k0 = kStart; k0 < kEnd; k0 += BK) {
    // Keys past kEnd read the last live row and are masked.
    var cv: array<V, BK * NR>;
    var s: array<f32, BK>;
    var tileMax = MASKED;
    for (var j = 0u; j < BK; j++) {
      let row = min(k0 + j, kEnd - 1u);
      var dot = 0.0;
      for (var i = 0u; i < NR; i++) {
        let v = lane + SG * i;
        let x = select(V(0.0), keyAt(row, min(v, RW - 1u)), v < RW);
        cv[j * NR + i] = x;
        dot += dotv(qr[i], x);
      }
      for (var i = 0u; i < NP; i++) {
        let v = lane + SG * i;
        if (v < DRW) { dot += dotv(qp[i], keyAt(row, RW + v)); }
      }
      s[j] = select(MASKED, subgroupAdd(dot) * params.scale, k0 + j < kEnd);
      tileMax = max(tileMax, s[j]);
    }
    if (tileMax > m) {
      let rescale = exp(m - tileMax);
      l *= rescale;
      for (var i = 0u; i < NR; i++) { acc[i] *= rescale; }
      m = tileMax;
    }
    for (var j = 0u; j < BK; j++) {
      let p = select(0.0, exp(s[j] - m), k0 + j < kEnd);
      l += p;
      for (var i = 0u; i < NR; i++) { acc[i] += p * cv[j * NR + i]; }
    }
  }
  let base = (split * params.H + h) * R;
  for (var i = 0u; i < NR; i++) {
    let v = lane + SG * i;
    if (v < RW) {
#if VEC4
      for (var e = 0u; e < 4u; e++) { oPart[base + 4u * v + e] = acc[i][e]; }
#else
      oPart[base + v] = acc[i];
#endif
    }
  }
  if (lane == 0u) {
    mPart[split * params.H + h] = m;
    lPart[split * params.H + h] = l;
  }
}
#endif

#if REDUCE
@group(0) @binding(1) var<storage, read> oPart: array<f32>;
@group(0) @binding(2) var<storage, read> mPart: array<f32>;
@group(0) @binding(3) var<storage, read> lPart: array<f32>;
@group(0) @binding(4) var<storage, read_write> oLat: array<f32>; // [H, R]
// A workgroup owns CB latent columns of one head; its SP lane groups take every SP-th split (STEPS each, the
// plan's split count being fixed) and meet in workgroup memory. Two passes over a lane's splits, each written
// out so all of its loads are in flight at once: the max, then the weighted sums (an online merge chained two
// dependent loads per split: ~75 µs per layer over 512 splits at 1M on the H100). Empty splits (past Tk) carry
// m = MASKED and take no part, whatever their partials hold.
const SP: u32 = {{SP}}u;
const CB: u32 = WG / SP;
var<workgroup> partM: array<f32, WG>;
var<workgroup> partL: array<f32, WG>;
var<workgroup> partO: array<f32, WG>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let h = wg.y;
  let c = wg.x * CB + lane % CB;
  let cc = min(c, R - 1u);
  let part = lane / CB;
  let last = params.nSplits - 1u;
#unroll j STEPS
  let s{{j}} = part + {{j}}u * SP;
  let m{{j}} = select(MASKED, mPart[min(s{{j}}, last) * params.H + h], s{{j}} <= last);
#endunroll
  var m = MASKED;
#unroll j STEPS
  m = max(m, m{{j}});
#endunroll
  var l = 0.0;
  var o = 0.0;
#unroll j STEPS
  {
    let at = min(s{{j}}, last) * params.H + h;
    let lv = lPart[at];
    let ov = oPart[at * R + cc];
    let live = m{{j}} > MASKED;
    let w = exp(m{{j}} - m);
    l = select(l, fma(w, lv, l), live);
    o = select(o, fma(w, ov, o), live);
  }
#endunroll
  partM[lane] = m;
  partL[lane] = l;
  partO[lane] = o;
  workgroupBarrier();
  if (part == 0u && c < R) {
    var mAll = MASKED;
    for (var p = 0u; p < SP; p++) { mAll = max(mAll, partM[p * CB + lane]); }
    var lAll = 0.0;
    var oAll = 0.0;
    for (var p = 0u; p < SP; p++) {
      let w = exp(partM[p * CB + lane] - mAll);
      lAll += w * partL[p * CB + lane];
      oAll += w * partO[p * CB + lane];
    }
    oLat[h * R + c] = oAll / lAll;
  }
}
#endif

#if UNABSORB
@group(0) @binding(1) var<storage, read> oLat: array<f32>;
@group(0) @binding(2) var<storage, read> wkvb: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // [H, DV]
// A workgroup owns RB output rows of one head; PARTS lanes share each R-long row (coalesced reads) and a
// tree in workgroup memory adds their partial sums (PARTS is a power of two).
const PARTS: u32 = {{PARTS}}u;
const RB: u32 = WG / PARTS;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let h = wg.y;
  let e = wg.x * RB + lane / PARTS;
  let part = lane % PARTS;
  var acc = 0.0;
  // Written out (UNABSORB_STEPS = R / PARTS per lane) so every load is in flight at once; a loop waited on each.
  let row = (min(h, params.H - 1u) * WKVB_ROWS + DN + min(e, DV - 1u)) * R;
  let oRow = min(h, params.H - 1u) * R;
#unroll j UNABSORB_STEPS
  let c{{j}} = min(part + {{j}}u * PARTS, R - 1u);
  let p{{j}} = wkvb[row + c{{j}}] * oLat[oRow + c{{j}}];
#endunroll
#unroll j UNABSORB_STEPS
  acc += select(0.0, p{{j}}, part + {{j}}u * PARTS < R);
#endunroll
  if (e >= DV || h >= params.H) { acc = 0.0; }
  partial[lane] = acc;
  workgroupBarrier();
  for (var stride = PARTS / 2u; stride > 0u; stride /= 2u) {
    if (part < stride) { partial[lane] += partial[lane + stride]; }
    workgroupBarrier();
  }
  if (part == 0u && e < DV && h < params.H) { out[h * DV + e] = partial[lane]; }
}
#endif
