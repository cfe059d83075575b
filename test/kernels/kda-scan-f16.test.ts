// The f16-operand KDA scan (kda-chunk-scan-f16 + kda-chunk-out-f16, plan.scanOperands 'f16') on lavapipe, its
// subgroup-matrix builtins emulated in scalar code over the same f16 operands, staging, scales and barriers:
// against the f64 recurrence (fresh random inputs, ragged chunks, several heads, NaN-poisoned scratch and outputs).
// Its operands are f16 (as FLA's bf16 kernels), so the bound is f16-sized, not the split scan's 1e-5; the state
// stays f32, so a long prompt must not drift more than a short one. The real builtins run on the GPU machine
// (tools/device/kda-scan-tc-check.mjs).
import { afterEach, describe, expect, it } from 'vitest';
import { kdaRecurrentReference } from '../../src/kernels/kda/kda-reference.js';
import { planKdaChunk } from '../../src/kernels/kda/kda-chunk.js';
import { inputs, runScan, type ScanCase } from './kda-scan-cases.js';
import { gpu, randomInt, relativeError } from '../gpu/context.js';

/** f16 keeps 11 significant bits: a few roundings per product, relative to the largest output or state entry. */
const F16_BOUND = 4e-3;

async function compareF16(c: ScanCase) {
  const ctx = await gpu();
  const x = inputs(c);
  const f16 = await runScan(ctx, c, x, 'emulated', { scanOperands: 'f16' });
  expect([f16.plan.scan, f16.plan.scanOperands]).toEqual(['emulated', 'f16']);
  const ref = kdaRecurrentReference(x.prep, x.v, x.s0, c.T, c.H, c.dk, c.dv);
  expect(f16.out.some(Number.isNaN)).toBe(false);
  expect(f16.state.some(Number.isNaN)).toBe(false);
  const eo = relativeError(f16.out, ref.o), es = relativeError(f16.state, ref.state);
  expect(eo).toBeLessThan(F16_BOUND);
  expect(es).toBeLessThan(F16_BOUND);
  return { eo, es };
}

describe('kda f16-operand scan (emulated on lavapipe)', () => {
  afterEach(() => { delete process.env.CTXBENCH_KDA_SCAN_OPERANDS; });

  const cases: [string, () => ScanCase][] = [
    // dk below the chunk (16 < 32): V̂' [C × 16] outgrows Ŝ [dk × 16] in the region they share (the H100 check
    // caught an overflow there at dk 16, chunk 64).
    ['one token', () => ({ T: 1, H: 1, dk: 16, dv: 16, chunk: 32, stateScale: 1 })],
    ['ragged tail, two heads, dv 48', () => ({ T: 32 + randomInt(1, 31), H: 2, dk: 16, dv: 48, chunk: 32, stateScale: 1 })],
    ['large state and values (per-slice scales)', () => ({ T: randomInt(40, 80), H: 1, dk: 16, dv: 32, chunk: 32, stateScale: 1e5, vScale: 3e4 })],
  ];
  for (const [name, make] of cases) it(`matches the f64 recurrence to f16 accuracy (${name})`, () => compareF16(make()));
  // Other dk and chunk sizes compile their own emulated pipelines (about a minute each on 2 cores).
  const wide: [string, () => ScanCase][] = [
    ['dk 32, dv 48, three heads, three chunks', () => ({ T: 32 + randomInt(1, 15), H: 3, dk: 32, dv: 48, chunk: 16, stateScale: 1 })],
    ['chunk 16, dk 16', () => ({ T: 32 + randomInt(1, 15), H: 2, dk: 16, dv: 16, chunk: 16, stateScale: 1 })],
  ];
  for (const [name, make] of wide) {
    it.runIf(process.env.CTXBENCH_KDA_EMULATE === '1')(`matches the f64 recurrence to f16 accuracy (${name})`, () => compareF16(make()), 900_000);
  }

  it('a long prompt drifts no more than a short one (the state stays f32)', async () => {
    const short = await compareF16({ T: 32, H: 1, dk: 16, dv: 16, chunk: 32, stateScale: 1, slowGates: true, gate: 0.05 });
    const long = await compareF16({ T: 32 * 8 + 5, H: 1, dk: 16, dv: 16, chunk: 32, stateScale: 1, slowGates: true, gate: 0.05 });
    expect(long.es).toBeLessThan(Math.max(4 * short.es, 1e-3));
  });

  it('is the default where it fits, split where not or when asked, and refuses bad values in one line', async () => {
    const ctx = await gpu();
    expect(planKdaChunk(ctx, 16, 16, 16, { scan: 'emulated' }).scanOperands).toBe('f16');
    expect(planKdaChunk(ctx, 96, 96, 64, { scan: 'emulated' }).scanOperands).toBe('split');
    expect(planKdaChunk(ctx, 16, 16, 16, { scan: 'scalar', scanOperands: 'f16' }).scanOperands).toBe('split');
    process.env.CTXBENCH_KDA_SCAN_OPERANDS = 'split';
    expect(planKdaChunk(ctx, 16, 16, 16, { scan: 'emulated' }).scanOperands).toBe('split');
    process.env.CTXBENCH_KDA_SCAN_OPERANDS = 'half';
    expect(() => planKdaChunk(ctx, 16, 16, 16, { scan: 'emulated' })).toThrow(/CTXBENCH_KDA_SCAN_OPERANDS='half' must be split or f16/);
    delete process.env.CTXBENCH_KDA_SCAN_OPERANDS;
    // lavapipe's 32 KiB holds the split scan at dk 96 but not two staged 64-row chunks of 96 channels.
    expect(() => planKdaChunk(ctx, 96, 96, 64, { scan: 'emulated', scanOperands: 'f16' })).toThrow(/f16 scan cannot run here: .*workgroup memory/);
  });
});
