// Causal NoPE MLA prefill attention on tensor cores (subgroup matrices, f16 operands, f32 accumulation).
// Inputs are dense f16 rows packed by mla-pack-f16: q [rowsQ, H, DN+DR], kNope [rowsK, H, DN], the shared
// kRope [rowsK, DR] and v [rowsK, H, DV], each padded to whole tiles so fragments never read past a buffer.
// A workgroup owns BQ = 16·SGS query rows of one head; subgroup s owns rows 16s..16s+15 and keeps its Q
// fragments and its 16×DV output accumulator in registers for the whole key loop. Each key block of BK keys
// is staged once in workgroup memory (K rows [key][DN+DR], V rows [key][DV]) with coalesced 8-byte loads:
// fragments read straight from storage held this kernel at ~25 TFLOP/s on the H100, as they held the GEMM
// (tools/device/probe-gemm-ablation.mjs). S = Q·Kᵀ is stored as f32, one lane per query row turns it into
// f16 weights P, and O += P·V reads P back as a left fragment. Every fragment loop is written out (#unroll):
// accumulators indexed by loop counters cost the GEMM 1.6×. Every workgroup array is a whole number of
// 16-byte words (see RESCALE_AT).
// Lazy rescaling: a row keeps using its old running max until a block's max exceeds it by TAU (log2 units,
// so weights stay ≤ 2^TAU, well inside f16); only then does the opaque accumulator go through workgroup
// memory to be rescaled, which for most blocks never happens. The row sum uses the same f16-rounded weights.
// Key blocks (as mla-flash-prefill.wgsl): one call may cover only keys [kStart, kEnd), the K/V operands then
// holding just those keys from row 0, padded to whole BK blocks. Between calls `carry` [Tq, H, DV + 2] f32 holds
// each row's unnormalised output, the running max it is scaled against (log2 units, this kernel's own) and the
// row sum (CARRY_IN: resume from it; CARRY_OUT: store to it instead of writing the normalised output).
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// Subgroup index comes from local_invocation_index and every subgroup-matrix call sits in workgroup-uniform
// control flow, which the analysis cannot see.
diagnostic(off, chromium.subgroup_matrix_uniformity);

struct Params { Tq: u32, Tk: u32, H: u32, qPos0: u32, scaleLog2: f32, kStart: u32, kEnd: u32, pad0: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f16>;
@group(0) @binding(2) var<storage, read> kNope: array<vec4<f16>>;
#if DR
@group(0) @binding(3) var<storage, read> kRope: array<vec4<f16>>;
#endif
@group(0) @binding({{V_BINDING}}) var<storage, read> v: array<vec4<f16>>;
#if CARRY_OUT
#else
@group(0) @binding({{OUT_BINDING}}) var<storage, read_write> out: array<f32>;
#endif
#if CARRY
@group(0) @binding({{CARRY_BINDING}}) var<storage, read_write> carry: array<f32>;
#endif

const DN = {{DN}}u;
const DR = {{DR}}u;
const DV = {{DV}}u;
const DQ = DN + DR;
const SGS = {{SGS}}u;
const SG = {{SUBGROUP_SIZE}}u;
const BK = {{BK}}u;
const BQ = 16u * SGS;
// Row pads keep fragment rows 16-byte aligned while moving neighbouring rows to other banks.
const SROW = BK + 4u;
const PROW = BK + 8u;
const KROW = DQ + 8u;
// V rows span V_CHUNKS · BK columns (≥ DV): Tint checks every fragment load against the array's size, also
// those in the constant-false branches past NV.
const VROW = {{V_CHUNKS}}u * BK + 8u;
// Softmax columns per lane: all BK (one lane per row) or a share of them (SPLIT_ROWS).
const CPL = {{CPL}}u;
const SPLIT_ROWS = {{SPLIT_ROWS}};
const NK = BK / 16u; // = {{NK_FRAGS}}, the unroll count
const NV = DV / 16u;  // ≤ V_CHUNKS · NK: written-out fragments past NV fold away as constant-false branches
const THREADS = SGS * SG;
// One key block's K and V rows in vec4 loads, and each thread's share (fetched one block ahead into registers).
// The nope, rope and V parts are separate item spaces, so a thread's key and column come from divisions by
// DN / 4, DR / 4 and DV / 4 (shifts at the 48B shape) instead of by DQ / 4 = 48, which the compiler redid every
// block.
const KN_ITEMS = BK * (DN / 4u);
const KR_ITEMS = BK * (DR / 4u);
const V_ITEMS = BK * (DV / 4u);
const KN_LOADS = (KN_ITEMS + THREADS - 1u) / THREADS;
const KR_LOADS = max(1u, (KR_ITEMS + THREADS - 1u) / THREADS);
const V_LOADS = (V_ITEMS + THREADS - 1u) / THREADS;
const MASKED: f32 = -3.0e38;
const TAU: f32 = {{TAU}};
// Diagnostic dumps for the device check (0 in every real dispatch): 1 = scaled scores, 2 = f16 weights P of
// the last key block, 3 = the unnormalised output, 4 = the row sum, written to out's first columns.
const DUMP = {{DUMP}}u;

// scores[RESCALE_AT] holds the key block (1-based, as f32) in which some row asked for a rescale, read back
// uniformly by every subgroup. It lives in the scores array, not in a u32 variable of its own: on the H100
// (Dawn/Vulkan) a 4-byte workgroup variable shifted the addresses the subgroup-matrix loads and stores used
// against the lanes' own accesses by 4 bytes, which made every output wrong; scores is padded to 16 bytes.
const RESCALE_AT = BQ * SROW;
var<workgroup> scores: array<f32, BQ * SROW + 4u>;
#if P_IN_K
// P (and the Q fragments' staging) reuse the K rows: a block's K is dead once every subgroup has stored its
// scores (the barrier after the score stores), and the next block's staging waits for the P·V loads.
var<workgroup> kTile: array<f16, max(BK * KROW, BQ * PROW)>;
#else
var<workgroup> pTile: array<f16, BQ * PROW>;
var<workgroup> kTile: array<f16, BK * KROW>;
#endif
var<workgroup> vTile: array<f16, BK * VROW>;

// Item e of the nope (or rope) K columns of the block whose first key is operand row kRel: 4 halves of one key.
fn loadKNope(kRel: u32, e: u32, h: u32) -> vec4<f16> {
  return kNope[((kRel + e / (DN / 4u)) * params.H * DN + h * DN) / 4u + e % (DN / 4u)];
}

#if DR
fn loadKRope(kRel: u32, e: u32) -> vec4<f16> {
  return kRope[(kRel + e / (DR / 4u)) * (DR / 4u) + e % (DR / 4u)];
}
#endif

fn loadV(kRel: u32, e: u32, h: u32) -> vec4<f16> {
  return v[((kRel + e / (DV / 4u)) * params.H * DV + h * DV) / 4u + e % (DV / 4u)];
}

// This thread's share of one key block's K and V rows, into registers.
fn fetchBlock(pk: ptr<function, array<vec4<f16>, KN_LOADS>>, pr: ptr<function, array<vec4<f16>, KR_LOADS>>,
              pv: ptr<function, array<vec4<f16>, V_LOADS>>, kRel: u32, li: u32, h: u32) {
  for (var i = 0u; i < KN_LOADS; i++) { if (li + i * THREADS < KN_ITEMS) { (*pk)[i] = loadKNope(kRel, li + i * THREADS, h); } }
#if DR
  for (var i = 0u; i < KR_LOADS; i++) { if (li + i * THREADS < KR_ITEMS) { (*pr)[i] = loadKRope(kRel, li + i * THREADS); } }
#endif
  for (var i = 0u; i < V_LOADS; i++) { if (li + i * THREADS < V_ITEMS) { (*pv)[i] = loadV(kRel, li + i * THREADS, h); } }
}

@compute @workgroup_size(SGS * SG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let h = wg.y;
  let q0 = wg.x * BQ;
  let sg = li / SG;
  let lane = li % SG;
  let rowBase = sg * 16u;
  // Softmax and output: one lane per query row (lanes 16.. of the subgroup only join the matrix work, unless
  // SPLIT_ROWS), so row reductions need no cross-lane shuffles (a two-lanes-per-row form with subgroupShuffleXor
  // failed on the H100 even with q = 0).
  let owner = lane < 16u;
  let r = rowBase + lane % 16u;
  // SPLIT_ROWS: lane part·16 + i takes columns c0 .. c0 + CPL of row i's softmax.
  let part = lane / 16u;
  let c0 = part * CPL;
  let qi = q0 + r;
  let rowLive = qi < params.Tq;
  let qPos = params.qPos0 + qi;
  let qStride = params.H * DQ;

  // Q fragments go through workgroup memory (this subgroup's rows of the P tile, 16 columns at a time), the left-load
  // pattern the tensor-core GEMM verified; a direct row-major left load from storage gave wrong scores on the H100.
  // Each lane writes two neighbouring halves (one whole 32-bit word), as every staging store here does.
#unroll d NQ_FRAGS
  for (var e = 2u * lane; e < 256u; e += 2u * SG) {
    let at = (q0 + rowBase + e / 16u) * qStride + h * DQ + {{d}}u * 16u + e % 16u;
    {{P_TILE}}[(rowBase + e / 16u) * PROW + e % 16u] = q[at];
    {{P_TILE}}[(rowBase + e / 16u) * PROW + e % 16u + 1u] = q[at + 1u];
  }
  workgroupBarrier();
  let qf_{{d}} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&{{P_TILE}}, rowBase * PROW, false, PROW);
  workgroupBarrier();
#endunroll
#unroll c V_CHUNKS
#unroll j NK_FRAGS
  var o_{{c}}_{{j}} = subgroup_matrix_result<f32, 16, 16>();
#endunroll
#endunroll
  var mUsed = MASKED;
  var rowSum = 0.0;
#if CARRY_IN
  // Resume: the accumulator comes back through the scores tile (the store/load pattern of the rescale below).
  let carryRow = (qi * params.H + h) * (DV + 2u);
  // Every lane of a row needs the running max; the carried sum goes to one part of a split row.
  if (rowLive) {
    mUsed = carry[carryRow + DV];
    if (owner) { rowSum = carry[carryRow + DV + 1u]; }
  }
#unroll c V_CHUNKS
  if (owner) {
    for (var col = 0u; col < BK; col++) {
      var x = 0.0;
      if (rowLive && {{c}}u * BK + col < DV) { x = carry[carryRow + {{c}}u * BK + col]; }
      scores[r * SROW + col] = x;
    }
  }
  workgroupBarrier();
#unroll j NK_FRAGS
  if ({{c}}u * NK + {{j}}u < NV) { o_{{c}}_{{j}} = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>>(&scores, rowBase * SROW + {{j}}u * 16u, false, SROW); }
#endunroll
  workgroupBarrier();
#endunroll
#endif

  let nq = min(BQ, params.Tq - q0);
  let keyEnd = min(params.kEnd, params.qPos0 + q0 + nq);
  var blk = 0u;
  var pk: array<vec4<f16>, KN_LOADS>;
  var pr: array<vec4<f16>, KR_LOADS>;
  var pv: array<vec4<f16>, V_LOADS>;
  if (params.kStart < keyEnd) {
    fetchBlock(&pk, &pr, &pv, 0u, li, h);
  }
  for (var k0 = params.kStart; k0 < keyEnd; k0 += BK) {
    blk += 1u;
    let kRel = k0 - params.kStart; // operand rows start at key kStart
    // Stage this block's K and V rows from the registers fetched during the previous block, then fetch the next
    // block's (the loads' latency hides behind this block's products; staging was a quarter of the time).
    workgroupBarrier(); // the previous block's fragment loads are done
    for (var i = 0u; i < KN_LOADS; i++) {
      let e = li + i * THREADS;
      if (e < KN_ITEMS) {
        let at = (e / (DN / 4u)) * KROW + (e % (DN / 4u)) * 4u;
        kTile[at] = pk[i].x; kTile[at + 1u] = pk[i].y; kTile[at + 2u] = pk[i].z; kTile[at + 3u] = pk[i].w;
      }
    }
#if DR
    for (var i = 0u; i < KR_LOADS; i++) {
      let e = li + i * THREADS;
      if (e < KR_ITEMS) {
        let at = (e / (DR / 4u)) * KROW + DN + (e % (DR / 4u)) * 4u;
        kTile[at] = pr[i].x; kTile[at + 1u] = pr[i].y; kTile[at + 2u] = pr[i].z; kTile[at + 3u] = pr[i].w;
      }
    }
#endif
    for (var i = 0u; i < V_LOADS; i++) {
      let e = li + i * THREADS;
      if (e < V_ITEMS) {
        let at = (e / (DV / 4u)) * VROW + (e % (DV / 4u)) * 4u;
        vTile[at] = pv[i].x; vTile[at + 1u] = pv[i].y; vTile[at + 2u] = pv[i].z; vTile[at + 3u] = pv[i].w;
      }
    }
    workgroupBarrier();
    if (k0 + BK < keyEnd) {
      fetchBlock(&pk, &pr, &pv, kRel + BK, li, h);
    }
#unroll j NK_FRAGS
    var s_{{j}} = subgroup_matrix_result<f32, 16, 16>();
#endunroll
    // Kᵀ as d × key fragments: each staged key row is a column, contiguous in d.
#unroll d NQ_FRAGS
#unroll j NK_FRAGS
    s_{{j}} = subgroupMatrixMultiplyAccumulate(qf_{{d}},
      subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&kTile, {{j}}u * 16u * KROW + {{d}}u * 16u, true, KROW), s_{{j}});
#endunroll
#endunroll
#unroll j NK_FRAGS
    subgroupMatrixStore(&scores, rowBase * SROW + {{j}}u * 16u, s_{{j}}, false, SROW);
#endunroll
    workgroupBarrier();

    var rescale = 1.0;
    // One lane per row (its CPL = BK columns), or with SPLIT_ROWS every lane of the subgroup: each reads the whole
    // row for its max (the same value in each) and weighs only its own CPL columns; the row sum stays split until
    // the end (no shuffles: those failed here on the H100). The scaled scores stay in registers between the max
    // and the weights (one pass over workgroup memory).
    if (SPLIT_ROWS || owner) {
      // Columns [0, live) of this block are keys the row may see (before kEnd, not after its own position): one
      // compare per score instead of three.
      let live = select(0, clamp(i32(min(params.kEnd, qPos + 1u)) - i32(k0), 0, i32(BK)), rowLive);
      var xs: array<f32, CPL>;
      var tileMax = MASKED;
      for (var c = 0u; c < CPL; c++) {
        let col = c0 + c;
        xs[c] = select(MASKED, scores[r * SROW + col] * params.scaleLog2, i32(col) < live);
        tileMax = max(tileMax, xs[c]);
      }
      for (var c = CPL; c < BK; c++) {
        let col = (c0 + c) % BK;
        tileMax = max(tileMax, select(MASKED, scores[r * SROW + col] * params.scaleLog2, i32(col) < live));
      }
      if (tileMax > mUsed + TAU) {
        // A row's first live block only sets the max: its accumulator and sum are still zero.
        if (mUsed > MASKED) {
          rescale = exp2(mUsed - tileMax);
          scores[RESCALE_AT] = f32(blk);
        }
        mUsed = tileMax;
      }
      var sum = 0.0;
      for (var c = 0u; c < CPL; c++) {
        let hw = f16(select(0.0, exp2(xs[c] - mUsed), xs[c] > MASKED));
        {{P_TILE}}[r * PROW + c0 + c] = hw;
        sum += f32(hw);
      }
      rowSum = rowSum * rescale + sum;
    }

    // Also the barrier that publishes the P tile and frees the scores for reuse.
    let rescaleAt = workgroupUniformLoad(&scores[RESCALE_AT]);
#if CARRY_OUT
#else
    if ((DUMP == 1u || DUMP == 2u) && owner && rowLive) {
      for (var col = 0u; col < min(BK, DV); col++) {
        let x = select(f32({{P_TILE}}[r * PROW + col]), scores[r * SROW + col] * params.scaleLog2, DUMP == 1u);
        out[(qi * params.H + h) * DV + col] = x;
      }
    }
#endif
    if (rescaleAt == f32(blk)) {
#unroll c V_CHUNKS
#unroll j NK_FRAGS
      if ({{c}}u * NK + {{j}}u < NV) { subgroupMatrixStore(&scores, rowBase * SROW + {{j}}u * 16u, o_{{c}}_{{j}}, false, SROW); }
#endunroll
      workgroupBarrier();
      if (owner) {
        for (var col = 0u; col < BK; col++) { scores[r * SROW + col] *= rescale; }
      }
      workgroupBarrier();
#unroll j NK_FRAGS
      if ({{c}}u * NK + {{j}}u < NV) { o_{{c}}_{{j}} = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>>(&scores, rowBase * SROW + {{j}}u * 16u, false, SROW); }
#endunroll
      workgroupBarrier();
#endunroll
    }

#unroll kk NK_FRAGS
    {
      let pf = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&{{P_TILE}}, rowBase * PROW + {{kk}}u * 16u, false, PROW);
#unroll c V_CHUNKS
#unroll j NK_FRAGS
      if ({{c}}u * NK + {{j}}u < NV) {
        o_{{c}}_{{j}} = subgroupMatrixMultiplyAccumulate(pf,
          subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&vTile, {{kk}}u * 16u * VROW + ({{c}}u * NK + {{j}}u) * 16u, false, VROW), o_{{c}}_{{j}});
      }
#endunroll
#endunroll
    }
#endunroll
  }

#if SPLIT_ROWS
  // The parts of a split row add their sums through the scores tile (free: no subgroup is still in a softmax).
  workgroupBarrier();
  scores[r * SROW + part] = rowSum;
  workgroupBarrier();
  rowSum = 0.0;
  for (var p = 0u; p < SG / 16u; p++) { rowSum += scores[r * SROW + p]; }
  workgroupBarrier();
#endif
  // Normalise on the way out (or store the carry), BK columns of the accumulator at a time through the scores tile.
  if (DUMP == 1u || DUMP == 2u) { return; }
#if CARRY_OUT
  let carryAt = (qi * params.H + h) * (DV + 2u);
  if (owner && rowLive) {
    carry[carryAt + DV] = mUsed;
    carry[carryAt + DV + 1u] = rowSum;
  }
#unroll c V_CHUNKS
#unroll j NK_FRAGS
  if ({{c}}u * NK + {{j}}u < NV) { subgroupMatrixStore(&scores, rowBase * SROW + {{j}}u * 16u, o_{{c}}_{{j}}, false, SROW); }
#endunroll
  workgroupBarrier();
  if (owner && rowLive) {
    for (var col = 0u; col < BK && {{c}}u * BK + col < DV; col++) { carry[carryAt + {{c}}u * BK + col] = scores[r * SROW + col]; }
  }
  workgroupBarrier();
#endunroll
#else
  var inv = select(0.0, 1.0 / rowSum, rowSum > 0.0);
  if (DUMP == 3u) { inv = 1.0; }
  if (DUMP == 4u) {
    if (owner && rowLive) { for (var e = 0u; e < DV; e++) { out[(qi * params.H + h) * DV + e] = rowSum; } }
    return;
  }
#unroll c V_CHUNKS
#unroll j NK_FRAGS
  if ({{c}}u * NK + {{j}}u < NV) { subgroupMatrixStore(&scores, rowBase * SROW + {{j}}u * 16u, o_{{c}}_{{j}}, false, SROW); }
#endunroll
  workgroupBarrier();
  if (owner && rowLive) {
    for (var col = 0u; col < BK && {{c}}u * BK + col < DV; col++) { out[(qi * params.H + h) * DV + {{c}}u * BK + col] = scores[r * SROW + col] * inv; }
  }
  workgroupBarrier();
#endunroll
#endif
}
