// Wrapper for mla-flash-prefill-f16.wgsl: causal NoPE MLA prefill on tensor cores (subgroup matrices, f16
// operands from mla-pack-f16, f32 accumulation). Used where the adapter offers f16 16×16×16 → f32 subgroup
// matrices and the model's weights are f16 anyway; everywhere else (lavapipe, f32 parity runs) the exact f32
// kernel mla-flash-prefill stays the path.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { f32 } from '../../engine/gpu/context.js';
import { numel, type GpuTensor } from '../../engine/gpu/arena.js';
import { requireF32Elements, requirePositiveInts } from '../kda/row-view.js';
import { hasF16MatrixConfig } from '../linalg/gemm-subgroup-matrix.js';
import { checkedKeyBlock, type MlaKeyBlock, type MlaPrefillShape } from './mla-flash-prefill.js';

const kernel = { name: 'mla/mla-flash-prefill-f16', url: new URL('./mla-flash-prefill-f16.wgsl', import.meta.url) };

export interface MlaFlashF16Plan {
  /** Subgroups per workgroup; each owns 16 query rows. */
  subgroups: number;
  /** Keys per block (a multiple of 16). */
  keyRows: number;
  /** A row may keep its running max until a block's max exceeds it by this much (log2 units). */
  tau: number;
  /** P lives in the K rows' workgroup memory (dead once the scores are stored): 128×32 then fits in 48 KiB. */
  pInKeyTile?: boolean;
  /** Every lane of a subgroup works in the softmax: each weighs keyRows / (subgroup size / 16) columns of its row. */
  splitRows?: boolean;
  /** Diagnostics only (tools/device/mla-f16-check.mjs): 1 scores, 2 weights, 3 unnormalised output, 4 row sum. */
  dump?: 0 | 1 | 2 | 3 | 4;
}

/**
 * 128 query rows (8 subgroups) against 32-key blocks, P kept in the dead K rows (39 KiB of workgroup memory at
 * d = 192/128) and every lane in the softmax. On the H100 (2026-11-24, session 9, probe-flash-variants.mjs, all
 * plans passing mla-f16-check --plans): 115.2 / 129.4 TFLOP/s at T = 8k / 16k against 104.4 / 116.9 for 128×16
 * (one lane per row, separate P tile; 128×32 did not fit 48 KiB that way). 64×32 (4 subgroups): 47. In a long
 * prompt's chunk-major middle calls (8192 queries × a 16k-key block, carry in and out): 106.1 against 103.2. Its
 * four variants take ~14–18 s to build cold (128×16: 2.4 s), so the engine builds them at load (buildKernels).
 */
export const MLA_FLASH_F16_PLAN: MlaFlashF16Plan = { subgroups: 8, keyRows: 32, tau: 8, pInKeyTile: true, splitRows: true };

/** The engine's plan: MLA_FLASH_F16_PLAN, or CTXBENCH_MLA_FLASH_PLAN (JSON) for before/after runs of whole prefills. */
export function engineMlaFlashF16Plan(): MlaFlashF16Plan {
  const raw = process.env.CTXBENCH_MLA_FLASH_PLAN;
  if (!raw) return MLA_FLASH_F16_PLAN;
  let plan: MlaFlashF16Plan;
  try {
    plan = JSON.parse(raw) as MlaFlashF16Plan;
  } catch {
    throw new Error(`CTXBENCH_MLA_FLASH_PLAN is not JSON: ${raw}`);
  }
  if (![plan.subgroups, plan.keyRows, plan.tau].every((x) => typeof x === 'number' && x > 0)) {
    throw new Error(`CTXBENCH_MLA_FLASH_PLAN needs positive subgroups, keyRows and tau (got ${raw})`);
  }
  return plan;
}

/** Rows every packed operand must be padded to: whole query tiles and key blocks of any plan used. */
export const MLA_F16_ROW_MULTIPLE = 256;

export const queryRowsOf = (plan: MlaFlashF16Plan) => 16 * plan.subgroups;
export const roundUpRows = (n: number, multiple = MLA_F16_ROW_MULTIPLE) => Math.ceil(n / multiple) * multiple;

/** Scores, weights, and the staged K and V rows of one key block. */
export function mlaFlashF16WorkgroupBytes(plan: MlaFlashF16Plan, Dq = 192, Dv = 128): number {
  const bq = queryRowsOf(plan), bk = plan.keyRows;
  const pTile = bq * (bk + 8), kTile = bk * (Dq + 8);
  const pk = plan.pInKeyTile ? Math.max(pTile, kTile) : pTile + kTile;
  return 4 * (bq * (bk + 4) + 4) + 2 * pk + 2 * bk * (Math.ceil(Dv / bk) * bk + 8);
}

/** Why the tensor-core prefill cannot run here for these head dims, or undefined when it can. */
export function mlaFlashF16Unsupported(ctx: GpuContext, Dn: number, Dr: number, Dv: number, plan = MLA_FLASH_F16_PLAN): string | undefined {
  const sg = ctx.caps.subgroupSize;
  if (!ctx.caps.hasF16) return 'no shader-f16';
  if (!ctx.caps.hasSubgroups) return 'no subgroups';
  if (!hasF16MatrixConfig(ctx)) return 'no f16→f32 16×16×16 subgroup-matrix config';
  if (sg < 16 || sg % 16 !== 0 || (sg / 16) & (sg / 16 - 1)) return `subgroup size ${sg} is not 16·2^k`;
  if ([Dn, Dr, Dv].some((d) => d % 16 !== 0) || Dn < 16 || Dv < 16) return `head dims ${Dn}/${Dr}/${Dv} are not multiples of 16`;
  if (plan.keyRows % 16 !== 0 || MLA_F16_ROW_MULTIPLE % plan.keyRows !== 0 || MLA_F16_ROW_MULTIPLE % queryRowsOf(plan) !== 0) {
    return `plan ${queryRowsOf(plan)}×${plan.keyRows} does not tile ${MLA_F16_ROW_MULTIPLE} rows`;
  }
  if ((plan.keyRows / (sg / 16)) < 1) return 'key block narrower than the lanes of a row';
  if (plan.splitRows && plan.keyRows % (sg / 16) !== 0) return `key block of ${plan.keyRows} does not split over ${sg / 16} lanes per row`;
  if (mlaFlashF16WorkgroupBytes(plan, Dn + Dr, Dv) > ctx.caps.maxWorkgroupStorageBytes) return 'tiles exceed workgroup memory';
  if (plan.subgroups * sg > ctx.caps.maxInvocationsPerWorkgroup) return 'workgroup too large';
  return undefined;
}

/** Compiles the kernel once under an error scope: a Dawn that rejects it gets the reason, not a lost device. */
export async function probeMlaFlashF16(ctx: GpuContext, Dn: number, Dr: number, Dv: number, plan = MLA_FLASH_F16_PLAN): Promise<string | undefined> {
  const why = mlaFlashF16Unsupported(ctx, Dn, Dr, Dv, plan);
  if (why) return why;
  return ctx.shaderRejection(() => {
    for (const block of [undefined, { first: true, last: false }, { first: false, last: false }, { first: false, last: true }]) {
      ctx.pipelines.get(kernel, mlaFlashF16Defines(Dn, Dr, Dv, plan, block, ctx.caps.subgroupSize));
    }
  });
}

/** Storage bindings in order: q, kNope, [kRope], v, [out unless storing a carry], [carry]. */
export function mlaFlashF16Defines(Dn: number, Dr: number, Dv: number, plan: MlaFlashF16Plan, block?: { first: boolean; last: boolean }, subgroupSize = 32) {
  const carryIn = block ? !block.first : false, carryOut = block ? !block.last : false;
  const vBinding = Dr > 0 ? 4 : 3;
  const outBinding = vBinding + 1;
  return {
    DN: Dn, DR: Dr, DV: Dv, SGS: plan.subgroups, BK: plan.keyRows, TAU: plan.tau.toFixed(1), DUMP: plan.dump ?? 0,
    P_IN_K: Boolean(plan.pInKeyTile), P_TILE: plan.pInKeyTile ? 'kTile' : 'pTile',
    SPLIT_ROWS: Boolean(plan.splitRows), CPL: plan.splitRows ? plan.keyRows / Math.max(1, subgroupSize / 16) : plan.keyRows,
    // Unroll counts: Q fragments, key fragments per block, V column chunks of one key block's width.
    NQ_FRAGS: (Dn + Dr) / 16, NK_FRAGS: plan.keyRows / 16, V_CHUNKS: Math.ceil(Dv / plan.keyRows),
    V_BINDING: vBinding, OUT_BINDING: outBinding, CARRY_BINDING: carryOut ? outBinding : outBinding + 1,
    CARRY: carryIn || carryOut, CARRY_IN: carryIn, CARRY_OUT: carryOut,
  };
}

export interface MlaFlashPrefillF16Args extends MlaPrefillShape {
  /** f16 [≥ roundUpRows(Tq), H, Dn+Dr]. */
  q: GpuTensor;
  /** f16 [≥ keys rounded up to whole key blocks, H, Dn] (keys = Tk, or the key block's length). */
  kNope: GpuTensor;
  /** f16 [≥ keys rounded up, Dr], shared by heads; absent when Dr = 0. */
  kRope?: GpuTensor;
  /** f16 [≥ keys rounded up, H, Dv]; rows past the keys must be finite (mla-pack-f16 zeroes them). */
  v: GpuTensor;
  /**
   * Only keys [start, start + length) this call, the K/V operands holding them from row 0 (as in
   * mlaFlashPrefill; the carry's running max is in this kernel's log2 units, so carries do not mix kernels).
   */
  keyBlock?: MlaKeyBlock;
}

export function mlaFlashPrefillF16(ctx: GpuContext, a: MlaFlashPrefillF16Args, plan = MLA_FLASH_F16_PLAN): DispatchSpec {
  const name = 'mlaFlashPrefillF16';
  requirePositiveInts(name, { Tq: a.Tq, Tk: a.Tk, H: a.H, Dn: a.Dn, Dv: a.Dv });
  if (a.Tk < a.Tq) throw new Error(`${name}: ${a.Tk} keys cannot serve ${a.Tq} causal queries`);
  const why = mlaFlashF16Unsupported(ctx, a.Dn, a.Dr, a.Dv, plan);
  if (why) throw new Error(`${name}: unavailable here (${why})`);
  if (a.Dr > 0 && !a.kRope) throw new Error(`${name}: Dr = ${a.Dr} needs kRope`);
  const Dq = a.Dn + a.Dr;
  const qRows = Math.ceil(a.Tq / queryRowsOf(plan)) * queryRowsOf(plan);
  const { block, carrying } = checkedKeyBlock(name, a);
  const kRows = Math.ceil(block.length / plan.keyRows) * plan.keyRows;
  const need = (label: string, t: GpuTensor, halves: number) => {
    if (t.dtype !== 'f16') throw new Error(`${name}: ${label} (${t.label}) is ${t.dtype}, expected f16`);
    if (numel(t.shape) < halves) throw new Error(`${name}: ${label} (${t.label}) holds ${numel(t.shape)} halves, padded rows need ${halves}`);
  };
  need('q', a.q, qRows * a.H * Dq);
  need('kNope', a.kNope, kRows * a.H * a.Dn);
  if (a.kRope && a.Dr > 0) need('kRope', a.kRope, kRows * a.Dr);
  need('v', a.v, kRows * a.H * a.Dv);
  if (block.last) requireF32Elements(name, 'out', a.out, a.Tq * a.H * a.Dv);
  const qTiles = qRows / queryRowsOf(plan);
  if (qTiles > ctx.caps.maxWorkgroupsPerDimension) throw new Error(`${name}: ${a.Tq} queries exceed one dispatch; split the prefill`);
  const scale = a.scale ?? 1 / Math.sqrt(Dq);
  return ctx.dispatch({
    kernel,
    defines: mlaFlashF16Defines(a.Dn, a.Dr, a.Dv, plan, block, ctx.caps.subgroupSize),
    params: [a.Tq, a.Tk, a.H, a.Tk - a.Tq, f32(scale * Math.LOG2E), block.start, block.start + block.length, 0],
    bindings: [a.q, a.kNope, ...(a.Dr > 0 && a.kRope ? [a.kRope] : []), a.v, ...(block.last ? [a.out] : []), ...(carrying ? [block.carry!] : [])],
    workgroups: [qTiles, a.H],
  });
}
