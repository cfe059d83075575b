// Bench-trial variants of the tensor-core MLA decode split pass (rowLoads, pvAllHeads; issue #8). Lavapipe has
// no subgroup matrices, so it cannot run them: here the plan options, the wrapper's refusals and the defines are
// checked, and each variant's WGSL is compiled with the four subgroup-matrix builtins replaced by plain stand-ins
// (the rest of the code, row loads and prefetch included, is what the device compiles). The device check against
// the f32 subgroup-heads pass is tools/device/probe-mla-decode-variants.mjs.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { preprocessWgsl } from '../../src/engine/gpu/pipelines.js';
import {
  allocMlaDecodeScratch, mlaAbsorbedDecode, tcDefaultRowOptions, tcRowLoadDefines, tcSplitDefines, type MlaDecodeDims, type MlaDecodePlan, type TcRowLoads,
} from '../../src/kernels/mla/mla-absorbed-decode.js';
import { gpu, randomInt } from '../gpu/context.js';

const ctxPromise = gpu();
const dims: MlaDecodeDims = { H: 32, Dn: 128, Dr: 64, Dv: 128, R: 512 };
const source = readFileSync(new URL('../../src/kernels/mla/mla-absorbed-decode-tc.wgsl', import.meta.url), 'utf8');

/** The kernel with subgroup matrices as vec4 stand-ins that read and write the same arrays. */
function withoutSubgroupMatrices(code: string): string {
  return code.replace('enable chromium_experimental_subgroup_matrix;', '')
    .replace('diagnostic(off, chromium.subgroup_matrix_uniformity);', '')
    .replace(/subgroupMatrixLoad<subgroup_matrix_(\w+)<\w+, 16, 16>>\(&(\w+), /g, 'load_$1_$2(')
    .replace(/subgroupMatrixStore\(&(\w+), /g, 'store_$1(')
    .replace(/subgroupMatrixMultiplyAccumulate\(/g, 'mma(')
    .replace(/subgroup_matrix_result<f32, 16, 16>\(\)/g, 'vec4<f32>()') + `
fn load_right_qT(o: u32, t: bool, s: u32) -> vec4<f16> { return vec4<f16>(qT[o + s]); }
fn load_left_cTile(o: u32, t: bool, s: u32) -> vec4<f16> { return vec4<f16>(cTile[o + s]); }
fn load_right_cTile(o: u32, t: bool, s: u32) -> vec4<f16> { return vec4<f16>(cTile[o + s]); }
fn load_left_pTile(o: u32, t: bool, s: u32) -> vec4<f16> { return vec4<f16>(pTile[o + s]); }
fn load_result_scores(o: u32, t: bool, s: u32) -> vec4<f32> { return vec4<f32>(scores[o + s]); }
fn store_scores(o: u32, m: vec4<f32>, t: bool, s: u32) { scores[o + s] = m.x; }
fn store_oPart(o: u32, m: vec4<f32>, t: bool, s: u32) { oPart[o + s] = m.x; }
fn mma(a: vec4<f16>, b: vec4<f16>, c: vec4<f32>) -> vec4<f32> { return c + vec4<f32>(a * b); }
`;
}

const trialPlan = (keyRows: number, scoreChains: number, rowLoads?: TcRowLoads, pvAllHeads?: boolean): MlaDecodePlan => ({
  splits: randomInt(1, 9), tensorCores: true, scoreChains, rowLoads, pvAllHeads, subgroupHeads: false, headsPerGroup: dims.H, keyRows,
  lanesPerScore: 0, workgroupSize: scoreChains * (keyRows / 16) * (dims.H / 16) * 32,
});

describe('mla/mla-absorbed-decode-tc bench-trial variants', () => {
  it('row-load defines: every word of a block has a thread, and the prefetched share is all, half or none', () => {
    for (const [words, threads] of [[32 * 144, 256], [16 * 144, 256], [randomInt(1, 5000), 32 * randomInt(1, 16)]]) {
      const loads = Math.ceil(words / threads);
      expect(tcRowLoadDefines('loop', words, threads)).toEqual({ ROW_LOADS_MODE: false, ROW_LOADS: loads, PREFETCH_LOADS: 0 });
      expect(tcRowLoadDefines('batch', words, threads)).toEqual({ ROW_LOADS_MODE: true, ROW_LOADS: loads, PREFETCH_LOADS: 0 });
      expect(tcRowLoadDefines('prefetch', words, threads).PREFETCH_LOADS).toBe(loads);
      expect(tcRowLoadDefines('prefetch-half', words, threads).PREFETCH_LOADS).toBe(Math.ceil(loads / 2));
    }
  });

  it('defaults to prefetched rows and all-heads P·V where R allows; the split defines give each subgroup whole fragments', async () => {
    expect(tcDefaultRowOptions(dims)).toEqual({ rowLoads: 'prefetch', pvAllHeads: true });
    // 8 subgroups (2 chains × 2 key fragments × 2 head fragments) cannot share R / 16 = 36 column fragments.
    expect(tcDefaultRowOptions({ ...dims, R: 576 })).toEqual({ rowLoads: 'prefetch', pvAllHeads: false });
    const base = tcSplitDefines(dims, trialPlan(32, 2), 32, false);
    expect(base).toMatchObject({ OF: 8, ROW_LOADS_MODE: false, PV_ALL_HEADS: false, DF_PER_CHAIN: 18 });
    // All heads per subgroup in P·V: the same accumulators per subgroup (HF_FRAGS × OF), spread over all columns.
    const all = tcSplitDefines(dims, trialPlan(32, 2, 'prefetch', true), 32, false);
    expect(all).toMatchObject({ OF: 4, HF_FRAGS: 2, PV_ALL_HEADS: true, ROW_LOADS: 18, PREFETCH_LOADS: 18 });
  });

  it('refuses an unknown row-load mode and all-heads P·V whose column groups do not divide R', async () => {
    const ctx = await ctxPromise;
    const cache = ctx.tensor([64, dims.R + dims.Dr], 'f16', 'cache');
    const io = {
      q: ctx.tensor([dims.H, dims.Dn + dims.Dr], 'f32', 'q'), wkvb: ctx.tensor([dims.H * (dims.Dn + dims.Dv), dims.R], 'f32', 'wkvb'),
      out: ctx.tensor([dims.H, dims.Dv], 'f32', 'out'), cache, Tk: 40, ...dims,
    };
    const bad = trialPlan(32, 2, 'sideways' as TcRowLoads);
    expect(() => mlaAbsorbedDecode(ctx, io, allocMlaDecodeScratch(ctx, dims, bad), bad)).toThrow(/rowLoads sideways/);
    // 16 subgroups (32 keys × 4 chains) over R / 16 = 8 column fragments of a 128-wide latent.
    const narrow = { ...dims, R: 128, Dn: 16, Dv: 16 };
    const plan = { ...trialPlan(32, 4, 'batch', true) };
    const narrowIo = { ...io, ...narrow, cache: ctx.tensor([64, 192], 'f16', 'cache'), wkvb: ctx.tensor([narrow.H * 32, 128], 'f32', 'wkvb'), q: ctx.tensor([narrow.H, 80], 'f32', 'q'), out: ctx.tensor([narrow.H, 16], 'f32', 'out') };
    expect(() => mlaAbsorbedDecode(ctx, narrowIo, allocMlaDecodeScratch(ctx, narrow, plan), plan)).toThrow(/whole fragments/);
  });

  it('every trial variant compiles with the subgroup-matrix builtins stood in for', async () => {
    const ctx = await ctxPromise;
    if (!ctx.caps.hasF16 || !ctx.caps.hasSubgroups) return;
    const variants: [number, number, TcRowLoads | undefined, boolean][] = [
      [32, 2, undefined, false], [32, 2, 'batch', false], [32, 2, 'prefetch', false], [32, 2, 'prefetch-half', false],
      [32, 2, undefined, true], [32, 2, 'prefetch', true], [16, 4, 'batch', false], [16, 4, 'prefetch', true],
    ];
    for (const [keyRows, chains, rowLoads, pvAllHeads] of variants) {
      const defines = { SUBGROUP_SIZE: 32, ...tcSplitDefines(dims, trialPlan(keyRows, chains, rowLoads, pvAllHeads), 32, randomInt(0, 1) === 1) };
      const code = withoutSubgroupMatrices(preprocessWgsl(source, defines, 'mla-absorbed-decode-tc'));
      ctx.device.pushErrorScope('validation');
      const module = ctx.device.createShaderModule({ code });
      const messages = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}: ${m.message}`);
      const error = await ctx.device.popErrorScope();
      expect({ variant: JSON.stringify(defines), messages, error: error?.message }).toEqual({ variant: JSON.stringify(defines), messages: [], error: undefined });
    }
  });
});
