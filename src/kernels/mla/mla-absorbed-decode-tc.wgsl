// MLA absorbed decode, the split pass on tensor cores (launched by mla-absorbed-decode.ts in place of its
// SPLIT passes where the latent cache is f16 and the adapter has f16 16×16×16 → f32 subgroup matrices).
// A workgroup owns one key range and all H heads, so each cache row is read from memory once for every head.
// Per block of BK keys, staged once in workgroup memory with coalesced 8-byte loads (fragments read straight
// from storage held this pass at ~25 TFLOP/s on the H100, as they held the GEMM; probe-gemm-ablation.mjs):
//   1. Sᵀ [BK keys × H heads] = C [BK × DC] · Qᵀ [DC × H]: staged cache rows are row-major left operands, the
//      absorbed query (f16, transposed and power-of-two scaled by the QT16 pass) the right operand. Each 16 × 16
//      fragment is owned by CHAINS subgroups that split its DC-long reduction (no MMA waits on the previous one
//      for long) and store their partial tiles to workgroup memory; the softmax adds them.
//   2. Online softmax, LPH lanes per head (subgroupShuffleXor within the head's lanes), weights P as f16.
//      Lazy rescale as in mla-flash-prefill-f16: a head keeps its running max until a block's max exceeds it by
//      TAU (log2 units), so P ≤ 2^TAU and the opaque accumulators rarely need the round trip to be rescaled.
//   3. O [H × R] += P [H × BK] · C [BK × R], the same staged rows now as right operands; every subgroup owns
//      OF column fragments of one head fragment.
// Every fragment loop is written out (#unroll): accumulators indexed by loop counters cost the GEMM 1.6×.
// Row loads (bench trials): ROW_LOADS_MODE 0 = a strided load/store loop; else each thread's ROW_LOADS 8-byte
// words go through registers, issued together, the first PREFETCH_LOADS of them one block ahead so they are in
// flight during the previous block's math (what made the tensor-core prefill 1.5×); 0 = batch, ROW_LOADS = all.
// A block's rows are contiguous in the cache: word k0·DC/4 + e.
// Partials go out as the SPLIT passes write them (natural-log running max), so the REDUCE pass is shared.
// Each split's range is a whole number of blocks: rows up to Tk rounded up to BK are read, so the engine
// allocates the cache that long and zero-fills it (a weight of 0 times a NaN would still be NaN).
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// Subgroup index comes from local_invocation_index; every subgroup-matrix call and shuffle sits in
// workgroup-uniform control flow, which the analyses cannot see.
diagnostic(off, chromium.subgroup_matrix_uniformity);
diagnostic(off, subgroup_uniformity);

struct Params { Tk: u32, H: u32, nSplits: u32, scale: f32, dn: u32, r: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qT: array<f16>;     // [DC, H], each head scaled by a power of two
@group(0) @binding(2) var<storage, read> cache: array<vec4<f16>>;  // [rows, DC] (DC a multiple of 16)
@group(0) @binding(3) var<storage, read_write> oPart: array<f32>; // [S, H, R]
@group(0) @binding(4) var<storage, read_write> mPart: array<f32>; // [S, H]
@group(0) @binding(5) var<storage, read_write> lPart: array<f32>; // [S, H]
@group(0) @binding(6) var<storage, read> qScale: array<f32>;      // [H]: raw score → log2-unit logit
#if SEQ_LEN
@group(0) @binding(7) var<storage, read> seqLen: array<u32>;
fn keyCount() -> u32 { return min(seqLen[0], params.Tk); }
#else
fn keyCount() -> u32 { return params.Tk; }
#endif

const H: u32 = {{H}}u;
const R: u32 = {{R}}u;
const DR: u32 = {{DR}}u;
const DC: u32 = R + DR;
const CROW: u32 = DC + 8u;         // staged cache row: 16-byte aligned, neighbouring rows on other banks
const SG: u32 = {{SUBGROUP_SIZE}}u;
const BK: u32 = {{BK}}u;
const KF: u32 = BK / 16u;          // key fragments per block (= {{KF_FRAGS}})
const HF: u32 = H / 16u;           // head fragments
const CHAINS: u32 = {{CHAINS}}u;   // subgroups sharing one Sᵀ fragment's reduction
const NSG: u32 = CHAINS * KF * HF;
const THREADS: u32 = NSG * SG;
const DF: u32 = DC / 16u;          // reduction steps of Sᵀ, DF / CHAINS (= {{DF_PER_CHAIN}}) per subgroup
#if PV_ALL_HEADS
// PV_ALL_HEADS (bench trial): in step 3 every subgroup owns OF column fragments for all HF head fragments, so
// each staged value fragment is loaded once per block instead of once per head fragment (same accumulators).
const COL_GROUPS: u32 = NSG;
#else
const COL_GROUPS: u32 = NSG / HF;  // subgroups sharing one head fragment's R columns in step 3
#endif
const OF: u32 = R / 16u / COL_GROUPS; // = {{OF}}
const LPH: u32 = THREADS / H;      // softmax lanes per head (a power of two dividing SG)
const KPL: u32 = BK / LPH;         // keys per softmax lane
const SROW: u32 = H + 4u;          // Sᵀ rows (keys) padded: 16-byte aligned, neighbours on other banks
const PROW: u32 = BK;              // P rows unpadded: the staged cache takes the workgroup memory
const TAU: f32 = {{TAU}};
const LN2: f32 = 0.6931471805599453;
const MASKED: f32 = -3.0e38;
const ROW_ITEMS: u32 = BK * (DC / 4u);  // 8-byte words of one block's rows; ROW_LOADS = ceil(ROW_ITEMS / THREADS)
const PREFETCH_LOADS: u32 = {{PREFETCH_LOADS}}u;
// One f32 array holds Sᵀ, then (rescale blocks only) one 16×16 scratch per subgroup, then the rescale flag and
// the per-head factors: a separate u32 workgroup variable beside subgroup-matrix arrays shifted their
// addresses on the H100 (see mla-flash-prefill-f16.wgsl).
const S_AREA: u32 = BK * SROW;
const SCRATCH: u32 = max(CHAINS * S_AREA, NSG * 256u);
const RESCALE_AT: u32 = SCRATCH;
const FACTOR_AT: u32 = SCRATCH + 1u;
// Sizes in whole 16-byte words (see above).
var<workgroup> scores: array<f32, (SCRATCH + 1u + H + 3u) / 4u * 4u>;
var<workgroup> pTile: array<f16, H * PROW>;
var<workgroup> cTile: array<f16, BK * CROW>;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let split = wg.x;
  let sg = li / SG;
  let Tk = keyCount();
  // Whole blocks per split, so every block starts BK-aligned and never reads past Tk rounded up to BK.
  let perSplit = ((Tk + params.nSplits - 1u) / params.nSplits + BK - 1u) / BK * BK;
  let kStart = min(Tk, split * perSplit);
  let kEnd = min(Tk, kStart + perSplit);
  let hf = sg % HF;                // this subgroup's head fragment (steps 1 and 3)
  let kf = (sg / HF) % KF;         // step 1: its key fragment
  let chain = sg / (HF * KF);      // step 1: its share of the DC reduction
#if PV_ALL_HEADS
  let col0 = sg * OF * 16u;        // step 3: its OF column fragments of every head fragment
#else
  let col0 = (sg / HF) * OF * 16u; // step 3: its OF column fragments
#endif
  let head = li / LPH;    // step 2: this lane's head and its share of the block's keys
  let sub = li % LPH;
  let scaleLog2 = qScale[head];

#if PV_ALL_HEADS
#unroll h HF_FRAGS
#unroll f OF
  var o_{{h}}_{{f}} = subgroup_matrix_result<f32, 16, 16>();
#endunroll
#endunroll
#else
#unroll f OF
  var o_{{f}} = subgroup_matrix_result<f32, 16, 16>();
#endunroll
#endif
  // This subgroup's Qᵀ fragments stay in registers for the whole key range (the same for every block).
  let d0 = chain * {{DF_PER_CHAIN}}u;
#unroll d DF_PER_CHAIN
  let qf_{{d}} = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&qT, (d0 + {{d}}u) * 16u * H + hf * 16u, false, H);
#endunroll
  var mUsed = MASKED;
  var rowSum = 0.0;
  if (li == 0u) { scores[RESCALE_AT] = 0.0; } // workgroup memory starts undefined
#if ROW_LOADS_MODE
  // This thread's share of one block's rows, in registers (plain variables: constant indices only). The first
  // PREFETCH_LOADS of them travel one block ahead, during the previous block's math.
#unroll i ROW_LOADS
  var rows_{{i}} = vec4<f16>();
#endunroll
  if (kStart < kEnd) {
#unroll i ROW_LOADS
    if ({{i}}u < PREFETCH_LOADS && li + {{i}}u * THREADS < ROW_ITEMS) { rows_{{i}} = cache[kStart * (DC / 4u) + li + {{i}}u * THREADS]; }
#endunroll
  }
#endif
  var blk = 0u;
  for (var k0 = kStart; k0 < kEnd; k0 += BK) {
    blk += 1u;
    workgroupBarrier(); // the previous block's step 3 is done with cTile and pTile
#if ROW_LOADS_MODE
#unroll i ROW_LOADS
    if ({{i}}u >= PREFETCH_LOADS && li + {{i}}u * THREADS < ROW_ITEMS) { rows_{{i}} = cache[k0 * (DC / 4u) + li + {{i}}u * THREADS]; }
#endunroll
#unroll i ROW_LOADS
    {
      let e = li + {{i}}u * THREADS;
      if (e < ROW_ITEMS) {
        let at = (e / (DC / 4u)) * CROW + (e % (DC / 4u)) * 4u;
        cTile[at] = rows_{{i}}.x; cTile[at + 1u] = rows_{{i}}.y; cTile[at + 2u] = rows_{{i}}.z; cTile[at + 3u] = rows_{{i}}.w;
      }
    }
#endunroll
#else
    for (var e = li; e < BK * (DC / 4u); e += THREADS) {
      let key = e / (DC / 4u);
      let c = (e % (DC / 4u)) * 4u;
      let x = cache[((k0 + key) * DC + c) / 4u];
      let at = key * CROW + c;
      cTile[at] = x.x; cTile[at + 1u] = x.y; cTile[at + 2u] = x.z; cTile[at + 3u] = x.w;
    }
#endif
    workgroupBarrier();
#if ROW_LOADS_MODE
    // The next block's first PREFETCH_LOADS words travel while this block's scores, softmax and P·V run.
    if (k0 + BK < kEnd) {
#unroll i ROW_LOADS
      if ({{i}}u < PREFETCH_LOADS && li + {{i}}u * THREADS < ROW_ITEMS) { rows_{{i}} = cache[(k0 + BK) * (DC / 4u) + li + {{i}}u * THREADS]; }
#endunroll
    }
#endif
    let cRow = kf * 16u * CROW;
    var s0 = subgroup_matrix_result<f32, 16, 16>();
#unroll d DF_PER_CHAIN
    s0 = subgroupMatrixMultiplyAccumulate(
      subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&cTile, cRow + (d0 + {{d}}u) * 16u, false, CROW), qf_{{d}}, s0);
#endunroll
    subgroupMatrixStore(&scores, chain * S_AREA + kf * 16u * SROW + hf * 16u, s0, false, SROW);
    workgroupBarrier();

    // Keys sub, sub + LPH, …: neighbouring lanes read rows SROW apart, which land on different banks.
    var x: array<f32, KPL>;
    var tileMax = MASKED;
    for (var j = 0u; j < KPL; j++) {
      let key = sub + j * LPH;
      var raw = 0.0;
      for (var c = 0u; c < CHAINS; c++) { raw += scores[c * S_AREA + key * SROW + head]; }
      x[j] = select(MASKED, raw * scaleLog2, k0 + key < kEnd);
      tileMax = max(tileMax, x[j]);
    }
    for (var w = 1u; w < LPH; w *= 2u) { tileMax = max(tileMax, subgroupShuffleXor(tileMax, w)); }
    var factor = 1.0;
    if (tileMax > mUsed + TAU) {
      // A head's first live block only sets the max: its accumulator and sum are still zero.
      if (mUsed > MASKED) {
        factor = exp2(mUsed - tileMax);
        scores[RESCALE_AT] = f32(blk);
      }
      mUsed = tileMax;
    }
    var sum = 0.0;
    for (var j = 0u; j < KPL; j++) {
      let hw = f16(select(0.0, exp2(x[j] - mUsed), x[j] > MASKED));
      pTile[head * PROW + sub + j * LPH] = hw;
      sum += f32(hw);
    }
    for (var w = 1u; w < LPH; w *= 2u) { sum += subgroupShuffleXor(sum, w); }
    rowSum = rowSum * factor + sum;
    if (sub == 0u) { scores[FACTOR_AT + head] = factor; }

    // Also the barrier that publishes P and the factors (Sᵀ has been read into registers by now).
    if (workgroupUniformLoad(&scores[RESCALE_AT]) == f32(blk)) {
#if PV_ALL_HEADS
#unroll h HF_FRAGS
#unroll f OF
      subgroupMatrixStore(&scores, sg * 256u, o_{{h}}_{{f}}, false, 16u);
      workgroupBarrier();
      for (var e = li % SG; e < 256u; e += SG) { scores[sg * 256u + e] *= scores[FACTOR_AT + {{h}}u * 16u + e / 16u]; }
      workgroupBarrier();
      o_{{h}}_{{f}} = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>>(&scores, sg * 256u, false, 16u);
#endunroll
#endunroll
#else
#unroll f OF
      subgroupMatrixStore(&scores, sg * 256u, o_{{f}}, false, 16u);
      workgroupBarrier();
      for (var e = li % SG; e < 256u; e += SG) { scores[sg * 256u + e] *= scores[FACTOR_AT + hf * 16u + e / 16u]; }
      workgroupBarrier();
      o_{{f}} = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>>(&scores, sg * 256u, false, 16u);
#endunroll
#endif
      workgroupBarrier(); // the next block's Sᵀ overwrites the scratch
    }

#if PV_ALL_HEADS
#unroll kk KF_FRAGS
    {
#unroll h HF_FRAGS
      let pf_{{h}} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&pTile, {{h}}u * 16u * PROW + {{kk}}u * 16u, false, PROW);
#endunroll
#unroll f OF
      {
        let vf = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&cTile, {{kk}}u * 16u * CROW + col0 + {{f}}u * 16u, false, CROW);
#unroll h HF_FRAGS
        o_{{h}}_{{f}} = subgroupMatrixMultiplyAccumulate(pf_{{h}}, vf, o_{{h}}_{{f}});
#endunroll
      }
#endunroll
    }
#endunroll
#else
#unroll kk KF_FRAGS
    {
      let pf = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&pTile, hf * 16u * PROW + {{kk}}u * 16u, false, PROW);
#unroll f OF
      o_{{f}} = subgroupMatrixMultiplyAccumulate(pf,
        subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&cTile, {{kk}}u * 16u * CROW + col0 + {{f}}u * 16u, false, CROW), o_{{f}});
#endunroll
    }
#endunroll
#endif
  }

#if PV_ALL_HEADS
#unroll h HF_FRAGS
#unroll f OF
  subgroupMatrixStore(&oPart, (split * H + {{h}}u * 16u) * R + col0 + {{f}}u * 16u, o_{{h}}_{{f}}, false, R);
#endunroll
#endunroll
#else
#unroll f OF
  subgroupMatrixStore(&oPart, (split * H + hf * 16u) * R + col0 + {{f}}u * 16u, o_{{f}}, false, R);
#endunroll
#endif
  if (sub == 0u) {
    mPart[split * H + head] = select(MASKED, mUsed * LN2, mUsed > MASKED);
    lPart[split * H + head] = rowSum;
  }
}
