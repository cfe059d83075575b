// Causal NoPE MLA prefill attention on tensor cores (subgroup matrices, f16 operands, f32 accumulation).
// Inputs are dense f16 rows packed by mla-pack-f16: q [rowsQ, H, DN+DR], kNope [rowsK, H, DN], the shared
// kRope [rowsK, DR] and v [rowsK, H, DV], each padded to whole tiles so fragments never read past a buffer.
// A workgroup owns BQ = 16·SGS query rows of one head; subgroup s owns rows 16s..16s+15 and keeps its Q
// fragments and its 16×DV output accumulator in registers for the whole key loop. K and V fragments come
// straight from storage (the workgroup's subgroups share them through the cache), so per key block of BK
// only the scores make a round trip through workgroup memory: S = Q·Kᵀ is stored as f32, one lane per
// query row turns it into f16 weights P, and O += P·V reads P back as a left fragment.
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
@group(0) @binding(2) var<storage, read> kNope: array<f16>;
#if DR
@group(0) @binding(3) var<storage, read> kRope: array<f16>;
#endif
@group(0) @binding({{V_BINDING}}) var<storage, read> v: array<f16>;
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
const NK = BK / 16u;
const NV = DV / 16u;
const NQ = DQ / 16u;
const MASKED: f32 = -3.0e38;
const TAU: f32 = {{TAU}};
// Diagnostic dumps for the device check (0 in every real dispatch): 1 = scaled scores, 2 = f16 weights P of
// the last key block, 3 = the unnormalised output, 4 = the row sum, written to out's first columns.
const DUMP = {{DUMP}}u;

// scores[RESCALE_AT] holds the key block (1-based, as f32) in which some row asked for a rescale, read back
// uniformly by every subgroup. It lives in the scores array, not in a u32 variable of its own: on the H100
// (Dawn/Vulkan) a third workgroup variable shifted the addresses the subgroup-matrix loads and stores used
// against the lanes' own accesses by 4 bytes, which made every output wrong.
const RESCALE_AT = BQ * SROW;
var<workgroup> scores: array<f32, BQ * SROW + 1u>;
var<workgroup> pTile: array<f16, BQ * PROW>;

@compute @workgroup_size(SGS * SG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let h = wg.y;
  let q0 = wg.x * BQ;
  let sg = li / SG;
  let lane = li % SG;
  let rowBase = sg * 16u;
  // Softmax and output: one lane per query row (lanes 16.. of the subgroup only join the matrix work), so row
  // reductions need no cross-lane shuffles. (The two-lanes-per-row form with subgroupShuffleXor failed on the H100
  // even with q = 0; this form has not run there yet.)
  let owner = lane < 16u;
  let r = rowBase + lane % 16u;
  let qi = q0 + r;
  let rowLive = qi < params.Tq;
  let qPos = params.qPos0 + qi;
  let qStride = params.H * DQ;
  let knStride = params.H * DN;
  let vStride = params.H * DV;

  // Q fragments go through workgroup memory (this subgroup's pTile rows, BK columns at a time), the left-load
  // pattern the tensor-core GEMM verified; a direct row-major left load from storage gave wrong scores on the H100.
  var qf: array<subgroup_matrix_left<f16, 16, 16>, NQ>;
  for (var c0 = 0u; c0 < NQ; c0 += NK) {
    // Each lane writes two neighbouring halves (one whole 32-bit word): see the P store below.
    for (var e = 2u * lane; e < 16u * BK; e += 2u * SG) {
      let row = e / BK;
      let col = c0 * 16u + e % BK;
      var x0 = f16(0.0);
      var x1 = f16(0.0);
      if (col < DQ) { x0 = q[(q0 + rowBase + row) * qStride + h * DQ + col]; }
      if (col + 1u < DQ) { x1 = q[(q0 + rowBase + row) * qStride + h * DQ + col + 1u]; }
      pTile[(rowBase + row) * PROW + e % BK] = x0;
      pTile[(rowBase + row) * PROW + e % BK + 1u] = x1;
    }
    workgroupBarrier();
    for (var j = 0u; j < NK; j++) {
      if (c0 + j < NQ) { qf[c0 + j] = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&pTile, rowBase * PROW + j * 16u, false, PROW); }
    }
    workgroupBarrier();
  }
  var o: array<subgroup_matrix_result<f32, 16, 16>, NV>;
  for (var e = 0u; e < NV; e++) { o[e] = subgroup_matrix_result<f32, 16, 16>(); }
  var mUsed = MASKED;
  var rowSum = 0.0;
#if CARRY_IN
  // Resume: the accumulator comes back through the scores tile (the store/load pattern of the rescale below).
  let carryRow = (qi * params.H + h) * (DV + 2u);
  if (owner && rowLive) {
    mUsed = carry[carryRow + DV];
    rowSum = carry[carryRow + DV + 1u];
  }
  for (var c0 = 0u; c0 < NV; c0 += NK) {
    if (owner) {
      for (var col = 0u; col < BK; col++) {
        let e = c0 * 16u + col;
        var x = 0.0;
        if (rowLive && e < DV) { x = carry[carryRow + e]; }
        scores[r * SROW + col] = x;
      }
    }
    workgroupBarrier();
    for (var j = 0u; j < NK; j++) {
      if (c0 + j < NV) { o[c0 + j] = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>>(&scores, rowBase * SROW + j * 16u, false, SROW); }
    }
    workgroupBarrier();
  }
#endif

  let nq = min(BQ, params.Tq - q0);
  let keyEnd = min(params.kEnd, params.qPos0 + q0 + nq);
  var blk = 0u;
  for (var k0 = params.kStart; k0 < keyEnd; k0 += BK) {
    blk += 1u;
    let kRel = k0 - params.kStart; // operand rows start at key kStart
    var s: array<subgroup_matrix_result<f32, 16, 16>, NK>;
    for (var j = 0u; j < NK; j++) { s[j] = subgroup_matrix_result<f32, 16, 16>(); }
    for (var d = 0u; d < DN / 16u; d++) {
      for (var j = 0u; j < NK; j++) {
        // Kᵀ as a d × key fragment: each key's row is a column, contiguous in d.
        let kf = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&kNope, (kRel + j * 16u) * knStride + h * DN + d * 16u, true, knStride);
        s[j] = subgroupMatrixMultiplyAccumulate(qf[d], kf, s[j]);
      }
    }
#if DR
    for (var d = 0u; d < DR / 16u; d++) {
      for (var j = 0u; j < NK; j++) {
        let kf = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&kRope, (kRel + j * 16u) * DR + d * 16u, true, DR);
        s[j] = subgroupMatrixMultiplyAccumulate(qf[DN / 16u + d], kf, s[j]);
      }
    }
#endif
    for (var j = 0u; j < NK; j++) {
      subgroupMatrixStore(&scores, rowBase * SROW + j * 16u, s[j], false, SROW);
    }
    workgroupBarrier();

    var rescale = 1.0;
    if (owner) {
      var tileMax = MASKED;
      for (var col = 0u; col < BK; col++) {
        if (rowLive && k0 + col < params.kEnd && k0 + col <= qPos) { tileMax = max(tileMax, scores[r * SROW + col] * params.scaleLog2); }
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
      for (var col = 0u; col < BK; col++) {
        var w = 0.0;
        if (rowLive && k0 + col < params.kEnd && k0 + col <= qPos) { w = exp2(scores[r * SROW + col] * params.scaleLog2 - mUsed); }
        let hw = f16(w);
        pTile[r * PROW + col] = hw;
        sum += f32(hw);
      }
      rowSum = rowSum * rescale + sum;
#if CARRY_OUT
#else
      if ((DUMP == 1u || DUMP == 2u) && rowLive) {
        for (var col = 0u; col < min(BK, DV); col++) {
          let x = select(f32(pTile[r * PROW + col]), scores[r * SROW + col] * params.scaleLog2, DUMP == 1u);
          out[(qi * params.H + h) * DV + col] = x;
        }
      }
#endif
    }

    // Also the barrier that publishes pTile and frees the scores for reuse.
    if (workgroupUniformLoad(&scores[RESCALE_AT]) == f32(blk)) {
      for (var c0 = 0u; c0 < NV; c0 += NK) {
        for (var j = 0u; j < NK; j++) {
          if (c0 + j < NV) { subgroupMatrixStore(&scores, rowBase * SROW + j * 16u, o[c0 + j], false, SROW); }
        }
        workgroupBarrier();
        if (owner) {
          for (var col = 0u; col < BK; col++) { scores[r * SROW + col] *= rescale; }
        }
        workgroupBarrier();
        for (var j = 0u; j < NK; j++) {
          if (c0 + j < NV) { o[c0 + j] = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>>(&scores, rowBase * SROW + j * 16u, false, SROW); }
        }
        workgroupBarrier();
      }
    }

    for (var kk = 0u; kk < NK; kk++) {
      let pf = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&pTile, rowBase * PROW + kk * 16u, false, PROW);
      for (var e = 0u; e < NV; e++) {
        let vf = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&v, (kRel + kk * 16u) * vStride + h * DV + e * 16u, false, vStride);
        o[e] = subgroupMatrixMultiplyAccumulate(pf, vf, o[e]);
      }
    }
  }

  // Normalise on the way out (or store the carry), BK columns of the accumulator at a time through the scores tile.
  if (DUMP == 1u || DUMP == 2u) { return; }
#if CARRY_OUT
  let carryAt = (qi * params.H + h) * (DV + 2u);
  if (owner && rowLive) {
    carry[carryAt + DV] = mUsed;
    carry[carryAt + DV + 1u] = rowSum;
  }
  for (var c0 = 0u; c0 < NV; c0 += NK) {
    for (var j = 0u; j < NK; j++) {
      if (c0 + j < NV) { subgroupMatrixStore(&scores, rowBase * SROW + j * 16u, o[c0 + j], false, SROW); }
    }
    workgroupBarrier();
    if (owner) {
      for (var col = 0u; col < BK; col++) {
        let e = c0 * 16u + col;
        if (rowLive && e < DV) { carry[carryAt + e] = scores[r * SROW + col]; }
      }
    }
    workgroupBarrier();
  }
#else
  var inv = select(0.0, 1.0 / rowSum, rowSum > 0.0);
  if (DUMP == 3u) { inv = 1.0; }
  if (DUMP == 4u) {
    if (owner && rowLive) { for (var e = 0u; e < DV; e++) { out[(qi * params.H + h) * DV + e] = rowSum; } }
    return;
  }
  for (var c0 = 0u; c0 < NV; c0 += NK) {
    for (var j = 0u; j < NK; j++) {
      if (c0 + j < NV) { subgroupMatrixStore(&scores, rowBase * SROW + j * 16u, o[c0 + j], false, SROW); }
    }
    workgroupBarrier();
    if (owner) {
      for (var col = 0u; col < BK; col++) {
        let e = c0 * 16u + col;
        if (rowLive && e < DV) { out[(qi * params.H + h) * DV + e] = scores[r * SROW + col] * inv; }
      }
    }
    workgroupBarrier();
  }
#endif
}
