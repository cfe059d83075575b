// Wrapper for the f16-operand form of the chunked KDA prefill's second half (plan.scanOperands 'f16'): the
// sequential scan kda-chunk-scan-f16 (states and V' only, operands staged through workgroup memory), then
// kda-chunk-out-f16 (every chunk's outputs at once). Both read the hi parts of the split operands the intra pass
// (or the split passes) wrote, so they follow the same intra pass as kda-chunk-scan-tc.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import { numel, type GpuTensor } from '../../engine/gpu/arena.js';

const scanF16Kernel = { name: 'kda/kda-chunk-scan-f16', url: new URL('./kda-chunk-scan-f16.wgsl', import.meta.url) };
const outF16Kernel = { name: 'kda/kda-chunk-out-f16', url: new URL('./kda-chunk-out-f16.wgsl', import.meta.url) };

/** Subgroups of an output-pass workgroup (each takes 16-column slices of a chunk's output). */
const OUT_SUBGROUPS = 8;

/** The scan's f16 hand-over to the output pass: each chunk's entry state, V' and their slice scales. */
export interface KdaScanF16Scratch {
  /** Ŝ at each chunk's entry [chunks, H, dk, dv] f16. */
  sEntry: GpuTensor;
  /** V̂' [chunk rows, H, dv] f16. */
  vNew: GpuTensor;
  /** [chunks, H, dv / 16, 2] f32: the inverse scales of Ŝ and V̂' (with the intra pass's 2^−8). */
  scales: GpuTensor;
}

/** Workgroup bytes of the f16 scan: staged W and kG rows, Ŝ / V̂' halves, the f32 products and the max slots. */
export function scanF16Bytes(dk: number, chunk: number): number {
  return 2 * 2 * chunk * (dk + 8) + 2 * Math.max(dk, chunk) * 16 + 4 * (Math.max(2 * chunk * 16, dk * 16) + chunk / 8);
}

/** Workgroup bytes of the output pass: the chunk's staged q̃ and P rows, then two f32 tiles per subgroup. */
export function outF16Bytes(dk: number, chunk: number): number {
  return 2 * chunk * (dk + 8) + 2 * chunk * (chunk + 8) + 4 * OUT_SUBGROUPS * 512;
}

/** Why the f16 scan cannot run these dims here (after the tensor-core scan's own checks), or undefined. */
export function kdaScanF16Problem(ctx: GpuContext, dk: number, chunk: number): string | undefined {
  if (scanF16Bytes(dk, chunk) > ctx.caps.maxWorkgroupStorageBytes) return `the f16 scan needs ${scanF16Bytes(dk, chunk)} B of workgroup memory`;
  if (outF16Bytes(dk, chunk) > ctx.caps.maxWorkgroupStorageBytes) return `the f16 output pass needs ${outF16Bytes(dk, chunk)} B of workgroup memory`;
  if (OUT_SUBGROUPS * ctx.caps.subgroupSize > ctx.caps.maxInvocationsPerWorkgroup) return 'output-pass workgroup too large';
  return undefined;
}

/** Compiles both kernels (the tensor-core probe calls this under its error scope). */
export function buildKdaScanF16(ctx: GpuContext, dk: number, chunk: number): void {
  ctx.pipelines.get(scanF16Kernel, { DK: dk, C: chunk, EMULATE: false });
  ctx.pipelines.get(outF16Kernel, { DK: dk, C: chunk, RT: chunk / 16, NSG: OUT_SUBGROUPS, EMULATE: false });
}

/** Bytes of the hand-over for prefills of up to maxTokens (sEntry dominates: dk·dv halves per chunk and head). */
export function kdaScanF16ScratchBytes(maxTokens: number, H: number, dk: number, dv: number, chunk: number): number {
  const chunks = Math.ceil(maxTokens / chunk);
  return 2 * chunks * H * dk * dv + 2 * chunks * chunk * H * dv + 4 * chunks * H * (dv / 16) * 2;
}

export function allocKdaScanF16Scratch(ctx: GpuContext, maxTokens: number, H: number, dk: number, dv: number, chunk: number): KdaScanF16Scratch {
  const chunks = Math.ceil(maxTokens / chunk);
  return {
    sEntry: ctx.tensor([chunks, H, dk, dv], 'f16', 'kda.sEntry'),
    vNew: ctx.tensor([chunks * chunk, H, dv], 'f16', 'kda.vNew'),
    scales: ctx.tensor([chunks, H, dv / 16, 2], 'f32', 'kda.scales'),
  };
}

export interface KdaScanF16Inputs {
  T: number; H: number; dk: number; dv: number; chunk: number; emulate: boolean;
  /** Split q̃G, kG, W and P (f16 hi/lo pairs in f32-sized tensors), U and e^G_last, as the intra pass left them. */
  qG: GpuTensor; kG: GpuTensor; w: GpuTensor; u: GpuTensor; p: GpuTensor; decayLast: GpuTensor;
  state: GpuTensor; out: GpuTensor;
}

/** The scan (dv/16 × H workgroups, sequential over chunks) and the output pass (chunks × H workgroups). */
export function kdaScanF16Passes(ctx: GpuContext, x: KdaScanF16Inputs, hand: KdaScanF16Scratch): DispatchSpec[] {
  const chunks = Math.ceil(x.T / x.chunk);
  const need: [GpuTensor, number][] = [
    [hand.sEntry, chunks * x.H * x.dk * x.dv], [hand.vNew, chunks * x.chunk * x.H * x.dv], [hand.scales, chunks * x.H * (x.dv / 16) * 2],
  ];
  for (const [t, n] of need) {
    if (numel(t.shape) < n) throw new Error(`kdaChunkPrefill: f16 scan scratch ${t.label} holds ${numel(t.shape)} values, needs ${n}`);
  }
  const scan = ctx.dispatch({
    kernel: scanF16Kernel, params: [x.T, x.H, x.dv, chunks, 0, 0, x.dk], defines: { DK: x.dk, C: x.chunk, EMULATE: x.emulate },
    bindings: [x.kG, x.w, x.u, x.decayLast, x.state, hand.sEntry, hand.vNew, hand.scales],
    workgroups: [x.dv / 16, x.H],
  });
  const out = ctx.dispatch({
    kernel: outF16Kernel, params: [x.T, x.H, x.dv, chunks, x.dk, 0, 0, 0], defines: { DK: x.dk, C: x.chunk, RT: x.chunk / 16, NSG: OUT_SUBGROUPS, EMULATE: x.emulate },
    bindings: [x.qG, x.p, hand.sEntry, hand.vNew, hand.scales, x.out],
    workgroups: [chunks, x.H],
  });
  return [scan, out];
}
