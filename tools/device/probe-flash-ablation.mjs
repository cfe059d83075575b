// Which stage bounds the tensor-core MLA flash prefill (~134 TFLOP/s at 8k on the H100, SDPA 590)? Times the
// production kernel beside copies of its WGSL with one stage made a no-op by a runtime-false condition
// (params.pad0 is always 0, so the compiler keeps the code shape): the K/V staging, the S = Q·Kᵀ MMAs, the
// softmax, the P·V MMAs, and pairs of them. Outputs are garbage in the ablated rows; only time is read.
// Usage (after `npm run build`): node tools/device/probe-flash-ablation.mjs [T]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GpuContext, f32 } from '../../dist/engine/gpu/context.js';
import { loadSource } from '../../dist/engine/gpu/pipelines.js';
import { timeDispatches } from '../../dist/bench/gpu-timer.js';
import { makeRandomFill } from '../../dist/kernels/elementwise/random-fill.js';
import { MLA_FLASH_F16_PLAN, mlaFlashF16Defines, roundUpRows } from '../../dist/kernels/mla/mla-flash-prefill-f16.js';

const ctx = await GpuContext.create();
const T = Number(process.argv[2] ?? 8192), H = 32, Dn = 128, Dr = 64, Dv = 128, Dq = Dn + Dr;
const source = loadSource({ name: 'flash', url: new URL('../../dist/kernels/mla/mla-flash-prefill-f16.wgsl', import.meta.url) });
const OFF = 'params.pad0 == 12345u';
const edits = {
  staging: [...['KN_ITEMS', 'KR_ITEMS', 'V_ITEMS'].map((items) => [`      if (e < ${items}) {`, `      if (e < ${items} && ${OFF}) {`]),
    ['    if (k0 + BK < keyEnd) {', `    if (k0 + BK < keyEnd && ${OFF}) {`]],
  S: [['    s_{{j}} = subgroupMatrixMultiplyAccumulate(qf_{{d}},', `    if (${OFF}) { s_{{j}} = subgroupMatrixMultiplyAccumulate(qf_{{d}},`], ['KROW), s_{{j}});', 'KROW), s_{{j}}); }']],
  softmax: [['    if (SPLIT_ROWS || owner) {', `    if ((SPLIT_ROWS || owner) && ${OFF}) {`]],
  PV: [['        o_{{c}}_{{j}} = subgroupMatrixMultiplyAccumulate(pf,', `        if (${OFF}) { o_{{c}}_{{j}} = subgroupMatrixMultiplyAccumulate(pf,`], ['VROW), o_{{c}}_{{j}});', 'VROW), o_{{c}}_{{j}}); }']],
};
const variants = process.env.FULL ? [[], ['staging'], ['S'], ['softmax'], ['PV'], ['S', 'PV'], ['staging', 'softmax'], ['S', 'PV', 'softmax'], ['S', 'PV', 'staging', 'softmax']] : [[], ['staging'], ['softmax'], ['staging', 'softmax']];
const dir = mkdtempSync(join(tmpdir(), 'flash-'));

function kernelFor(off) {
  let text = source;
  for (const stage of off) {
    for (const [from, to] of edits[stage]) {
      if (!text.includes(from)) throw new Error(`edit for ${stage} no longer matches the kernel: ${from.slice(0, 60)}`);
      text = text.split(from).join(to);
    }
  }
  const file = join(dir, `flash-${off.join('-') || 'full'}.wgsl`);
  writeFileSync(file, text);
  return { name: `probe/flash-${off.join('-') || 'full'}`, url: pathToFileURL(file) };
}

const rows = roundUpRows(T);
const tensors = [[rows, H, Dq], [rows, H, Dn], [rows, Dr], [rows, H, Dv]].map((shape, i) => ctx.tensor(shape, 'f16', `t${i}`));
ctx.run(tensors.map((t, i) => makeRandomFill(ctx, t, { seed: 11 + i, scale: 1 })));
const out = ctx.tensor([T, H, Dv], 'f32', 'out');
const flops = H * T * T * (Dq + Dv);
console.log(`${ctx.caps.adapterDescription}: T=${T} H=${H} d=${Dq}/${Dv}`);
let warm = 2000;
for (const plan of [MLA_FLASH_F16_PLAN]) {
  for (const off of variants) {
    let verdict;
    try {
      const bq = 16 * plan.subgroups;
      const spec = ctx.dispatch({
        kernel: kernelFor(off), defines: mlaFlashF16Defines(Dn, Dr, Dv, plan),
        params: [T, T, H, 0, f32(Math.LOG2E / Math.sqrt(Dq)), 0, T, 0],
        bindings: [...tensors, out], workgroups: [Math.ceil(T / bq), H],
      });
      const t = await timeDispatches(ctx, [spec], { inner: 2, outer: 5, warmMs: warm });
      warm = 300;
      verdict = `${(flops / t.ms / 1e9).toFixed(1)} TFLOP/s-equivalent (${t.ms.toFixed(2)} ms)`;
    } catch (e) {
      verdict = `error: ${String(e.message ?? e).split('\n')[0].slice(0, 200)}`;
    }
    console.log(`flash-ablation | ${16 * plan.subgroups}x${plan.keyRows} | off: ${off.join('+') || 'none'} | ${verdict}`);
  }
}
process.exit(0);
