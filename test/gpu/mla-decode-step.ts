// Shared by the MLA decode tests (f32 and f16 caches): one recorded append + absorbed-decode list over `cache`,
// replayed per step with fresh random kv_a / q rows and the sequence length in a GPU counter.
import type { GpuContext } from '../../src/engine/gpu/context.js';
import type { GpuTensor } from '../../src/engine/gpu/arena.js';
import { mlaLatentAppend } from '../../src/kernels/mla/mla-latent-append.js';
import { allocMlaDecodeScratch, mlaAbsorbedDecode, planMlaDecode, type MlaDecodeDims } from '../../src/kernels/mla/mla-absorbed-decode.js';
import { randomArray } from './context.js';

export function recordedAppendDecode(ctx: GpuContext, d: MlaDecodeDims, cache: GpuTensor, capacity: number, subgroupHeads: boolean) {
  const DC = d.R + d.Dr;
  const wkvb = randomArray(d.H * (d.Dn + d.Dv) * d.R, 0.5), norm = randomArray(d.R);
  const seqLen = ctx.tensor([1], 'u32', 'seq len');
  const kva = ctx.tensor([1, DC], 'f32', 'kva step'), q = ctx.tensor([d.H, d.Dn + d.Dr], 'f32', 'q step');
  const out = ctx.tensor([d.H, d.Dv], 'f32', 'decode out');
  const plan = planMlaDecode(ctx, d, capacity, 2, { subgroupHeads });
  const list = [
    mlaLatentAppend(ctx, { kva, weight: ctx.tensor([d.R], 'f32', 'norm', norm), cache, pos: 0, T: 1, R: d.R, Dr: d.Dr, eps: 1e-6, seqLen }),
    ...mlaAbsorbedDecode(ctx, { q, wkvb: ctx.tensor([d.H * (d.Dn + d.Dv), d.R], 'f32', 'wkvb', wkvb), cache, Tk: capacity, out, seqLen, ...d },
      allocMlaDecodeScratch(ctx, d, plan), plan),
  ];
  /** Runs the list for a sequence of Tk tokens (the new one last), output poisoned first; returns the new rows. */
  const step = (Tk: number) => {
    const kvaRow = randomArray(DC, 2), qRow = randomArray(d.H * (d.Dn + d.Dr), 3);
    ctx.upload(kva, kvaRow);
    ctx.upload(q, qRow);
    ctx.upload(seqLen, [Tk]);
    ctx.fill(out, NaN);
    ctx.run(list);
    return { kvaRow, qRow };
  };
  return { wkvb, norm, out, step };
}
