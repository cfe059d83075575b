// Decode-step kernel cases for `ctxbench bench`: the absorbed MLA decode over a long latent cache and the
// per-slot MoE expert GEMVs (moe-cases.ts). Both should stream their bytes at copy bandwidth (issue #8: ≥ 0.85× device copy).
import type { GpuContext } from '../engine/gpu/context.js';
import { allocMlaDecodeScratch, mlaAbsorbedDecode, mlaDecodeCacheRows, mlaDecodeTensorCoresUnsupported, planMlaDecode, type MlaDecodeDims } from '../kernels/mla/mla-absorbed-decode.js';
import { latentRowHalves } from '../kernels/mla/mla-latent-append.js';
import { COPY_ANCHOR, filled, relativeErrorOf, releaser, type KernelCase, type SizeClass } from './kernel-cases.js';
import type { GpuTensor } from '../engine/gpu/arena.js';

/**
 * One decode token of one MLA layer over Tk cached rows: bytes = the latent cache read (its true bytes: 4 per
 * value in f32, 2 in f16) + kv_b_proj read twice.
 */
export function mlaDecodeCases(ctx: GpuContext, size: SizeClass): KernelCase[] {
  const d = size === 'small' ? { H: 3, Dn: 8, Dr: 4, Dv: 6, R: 12 } : { H: 32, Dn: 128, Dr: 64, Dv: 128, R: 512 };
  const lengths = size === 'small' ? [40] : [8192, 131072];
  // Both split passes at every length, so one run gives their ratio (the staged pass is the fallback), and at
  // the longest length a few subgroup-pass tilings (heads per workgroup × keys per tile × splits) beside the
  // default (32 heads × 1 key × 256 splits at 128k). Each pass also reads an f16 cache (what f16-weight engines
  // keep), for the f32/f16 ratio at the same length.
  type Variant = { Tk: number; subgroupHeads: boolean; cache: 'f32' | 'f16'; tiling?: { headsPerGroup: number; keyRows: number; splits: number } };
  const variants: Variant[] = lengths.flatMap((Tk) => (['f32', 'f16'] as const).flatMap((cache) => [true, false].map((subgroupHeads) => ({ Tk, subgroupHeads, cache }))));
  if (size === '48b') {
    for (const [headsPerGroup, keyRows, splits] of [[4, 1, 256], [8, 1, 256], [16, 1, 256], [8, 2, 256], [8, 1, 512], [8, 1, 1024]]) {
      variants.push({ Tk: 131072, subgroupHeads: true, cache: 'f32', tiling: { headsPerGroup, keyRows, splits } });
    }
  }
  const cases = variants.map(({ Tk, subgroupHeads, cache: cacheDtype, tiling }): KernelCase => {
    const planned = planMlaDecode(ctx, d, Tk, undefined, { subgroupHeads, tensorCores: false });
    const plan = tiling && planned.subgroupHeads ? { ...planned, ...tiling, workgroupSize: tiling.headsPerGroup * ctx.caps.subgroupSize } : planned;
    const { q, wkvb, cache, out } = decodeInputs(ctx, d, Tk, cacheDtype);
    const scratch = allocMlaDecodeScratch(ctx, d, plan);
    return {
      kernel: 'mla-decode', name: `mla-absorbed-decode ${plan.subgroupHeads ? 'subgroup-heads' : 'staged'}${tiling ? ` ${plan.headsPerGroup}h×${plan.keyRows}k×${plan.splits}s` : ''} Tk=${Tk} H=${d.H} R=${d.R}${cacheDtype === 'f16' ? ' f16-cache' : ''}`, dtype: `${cacheDtype} cache`,
      specs: mlaAbsorbedDecode(ctx, { ...d, q, wkvb, cache, Tk, out }, scratch, plan),
      bytes: decodeBytes(cache, d), anchor: size === '48b' ? COPY_ANCHOR : undefined,
      params: { Tk, ...d, cache: cacheDtype, pass: plan.subgroupHeads ? 'subgroup-heads' : 'staged', splits: plan.splits, headsPerGroup: plan.headsPerGroup, keyRows: plan.keyRows, lanesPerScore: plan.lanesPerScore },
      release: releaser(ctx, [q, wkvb, cache, out, ...Object.values(scratch)]),
    };
  });
  return size === '48b' ? [...cases, ...tensorCoreDecodeCases(ctx, d)] : cases;
}

/**
 * The tensor-core split pass (f16 cache) at 8k, 128k and 1M keys, plus split-count variants at 128k and 1M; at 1M
 * also the subgroup-heads pass for the ratio. Each tensor-core case checks its output against the subgroup-heads
 * pass on the same inputs (f32 arithmetic over the same f16 cache).
 */
function tensorCoreDecodeCases(ctx: GpuContext, d: MlaDecodeDims): KernelCase[] {
  if (mlaDecodeTensorCoresUnsupported(ctx, d) !== undefined) return [];
  const DC = d.R + d.Dr;
  // 'large-q': queries whose absorbed form exceeds f16's range (the f16 Qᵀ is scaled per head) and whose sharp
  // softmax keeps raising the running max (lazy rescales).
  const runs: { Tk: number; splits?: number; tensorCores: boolean; qAmplitude?: number; chains?: number; keyRows?: number }[] = [
    { Tk: 8192, tensorCores: true }, { Tk: 8192, tensorCores: true, qAmplitude: 3e5 }, { Tk: 131072, tensorCores: true }, { Tk: 131072, splits: 256, tensorCores: true },
    { Tk: 1048576, tensorCores: false }, { Tk: 1048576, tensorCores: true }, { Tk: 1048576, splits: 256, tensorCores: true },
    { Tk: 1048576, splits: 1024, tensorCores: true }, { Tk: 1048576, tensorCores: true, chains: 1 },
    // 16-key blocks: half the workgroup memory; four chains of the DC reduction keep 8 subgroups busy.
    { Tk: 131072, tensorCores: true, chains: 4, keyRows: 16 }, { Tk: 1048576, tensorCores: true, chains: 4, keyRows: 16 },
    { Tk: 1048576, splits: 1024, tensorCores: true, chains: 4, keyRows: 16 }, { Tk: 1048576, tensorCores: true, chains: 2, keyRows: 16 },
  ];
  return runs.map(({ Tk, splits, tensorCores, qAmplitude, chains, keyRows }) => {
    const plan = planMlaDecode(ctx, d, Tk, splits, { cacheF16: true, tensorCores, subgroupHeads: true, keyRows, scoreChains: chains });
    const reference = tensorCores ? planMlaDecode(ctx, d, Tk, undefined, { cacheF16: true, tensorCores: false, subgroupHeads: true }) : undefined;
    const { q, wkvb, cache, out } = decodeInputs(ctx, d, mlaDecodeCacheRows(plan, Tk), 'f16', qAmplitude);
    const scratch = allocMlaDecodeScratch(ctx, d, plan);
    const pass = tensorCores ? 'tensor-cores' : 'subgroup-heads';
    const verify = reference && (async () => {
      const refOut = ctx.tensor([d.H, d.Dv], 'f32', 'bench.mla.refOut');
      const refScratch = allocMlaDecodeScratch(ctx, d, reference);
      ctx.run(mlaAbsorbedDecode(ctx, { ...d, q, wkvb, cache, Tk, out: refOut }, refScratch, reference));
      const [got, want] = [await ctx.readF32(out), await ctx.readF32(refOut)];
      [refOut, ...Object.values(refScratch)].forEach((t) => ctx.arena.free(t));
      return relativeErrorOf(got, want);
    });
    return {
      kernel: 'mla-decode' as const, name: `mla-absorbed-decode ${pass}${splits ? ` ${splits}s` : ''}${qAmplitude ? ' large-q' : ''}${chains ? ` ${chains}-chain` : ''}${keyRows ? ` ${keyRows}k` : ''} Tk=${Tk} H=${d.H} R=${d.R} f16-cache`, dtype: 'f16 cache',
      specs: mlaAbsorbedDecode(ctx, { ...d, q, wkvb, cache, Tk, out }, scratch, plan),
      bytes: decodeBytes(2 * Tk * latentRowHalves(DC), d), anchor: COPY_ANCHOR, verify,
      params: { Tk, ...d, cache: 'f16', pass, splits: plan.splits, keyRows: plan.keyRows },
      release: releaser(ctx, [q, wkvb, cache, out, ...Object.values(scratch)]),
    };
  });
}

/** The query, kv_b_proj and output of one decode case, and a random cache of `rows` rows. */
function decodeInputs(ctx: GpuContext, d: MlaDecodeDims, rows: number, cacheDtype: 'f32' | 'f16', qAmplitude = 1) {
  const DC = d.R + d.Dr;
  return {
    q: filled(ctx, [d.H, d.Dn + d.Dr], 'f32', 'bench.mla.q', 21, qAmplitude),
    wkvb: filled(ctx, [d.H * (d.Dn + d.Dv), d.R], 'f32', 'bench.mla.wkvb', 22, 0.05),
    cache: filled(ctx, [rows, cacheDtype === 'f16' ? latentRowHalves(DC) : DC], cacheDtype, 'bench.mla.cache', 23),
    out: ctx.tensor([d.H, d.Dv], 'f32', 'bench.mla.out'),
  };
}

/** Bytes one decode step moves: the live cache (a tensor, or its live bytes) plus kv_b_proj read twice. */
function decodeBytes(cache: GpuTensor | number, d: MlaDecodeDims): number {
  return (typeof cache === 'number' ? cache : cache.bytes) + 2 * d.H * (d.Dn + d.Dv) * d.R * 4;
}

// The MoE decode cases live in moe-cases.ts (several kernels and tilings per run).
export { moeDecodeCases } from './moe-cases.js';
