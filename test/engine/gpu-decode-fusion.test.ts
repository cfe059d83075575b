// Fused decode projections (kimi-linear-weights FusedProjection): the recorded decode step of the tiny hybrid
// has exactly the expected number of dispatches fewer with fusion on, and gives the same logits bit for bit as
// one GEMV per member (CTXBENCH_DECODE_FUSION=off) over the same weights, for f32 and f16 storage.
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { fusedRowLayout } from '../../src/engine/models/kimi-linear-weights.js';
import { loadOnAndOff, prefillThenDecode } from './decode-replay.js';

const V = 97;
const engines: Engine[] = [];
afterAll(async () => { for (const e of engines) await e.close(); });

describe('fused decode projections', () => {
  it.each(['f32', 'f16'] as const)('%s weights: fewer dispatches per decode step, identical logits', async (dtype) => {
    const seed = Math.floor(Math.random() * 1e6);
    const [fused, plain] = await loadOnAndOff('CTXBENCH_DECODE_FUSION', seed, { matmulDtype: dtype, pieceTokens: 32 }, engines);
    expect(fused.graph.decodeFusion).toBe(true);
    expect(plain.graph.decodeFusion).toBe(false);
    const c = fused.config;
    fused.weights.layers.forEach((l) => {
      expect(l.mixer.inProj).toBeDefined();
      expect(l.mlp.kind === 'dense' ? l.mlp.gateUp : l.mlp.shared?.gateUp).toBeDefined();
    });
    const prompt = Array.from({ length: 13 }, () => Math.floor(Math.random() * (V - 1)));
    const a = await prefillThenDecode(fused, prompt, [9], V, false);
    const b = await prefillThenDecode(plain, prompt, [9], V, false);
    // Saved per step: KDA 6 input projections → 1, MLA 2 → 1, dense gate+up and shared gate+up 2 → 1.
    const kda = c.layerKinds.filter((k) => k === 'kda').length, mla = c.layerKinds.length - kda;
    expect(b.dispatches - a.dispatches).toBe(5 * kda + mla + c.numLayers);
    expect(a.logits.length).toBe(4);
    a.logits.forEach((row, j) => {
      expect(row.every(Number.isFinite)).toBe(true);
      expect(Array.from(row)).toEqual(Array.from(b.logits[j]));
    });
  });
});

describe('fusedRowLayout', () => {
  it('places the 48B KDA projections back to back, the unaligned b_proj last', () => {
    // q, k, v, f_a, b, g_a of the 48B shape, f16 over H = 2304 at 256-byte offsets.
    const layout = fusedRowLayout([4096, 4096, 4096, 128, 32, 128], 2304, 'f16', 256, 2 ** 31);
    expect(layout).toEqual({ starts: [0, 4096, 8192, 12288, 12544, 12416], totalRows: 12576 });
  });

  it('pads odd members to bindable starts and refuses stacks over one binding', () => {
    for (let trial = 0; trial < 20; trial++) {
      const rows = Array.from({ length: 1 + Math.floor(Math.random() * 6) }, () => 1 + Math.floor(Math.random() * 300));
      const K = 1 + Math.floor(Math.random() * 99);
      const dtype = Math.random() < 0.5 ? 'f16' as const : 'f32' as const;
      const bytes = dtype === 'f16' ? 2 : 4;
      const layout = fusedRowLayout(rows, K, dtype, 256, 2 ** 30)!;
      const spans = rows.map((n, i) => [layout.starts[i], layout.starts[i] + n]).sort((x, y) => x[0] - y[0]);
      spans.forEach(([start], i) => {
        expect((start * 4) % 256).toBe(0);
        expect((start * K * bytes) % 256).toBe(0);
        if (i > 0) expect(start).toBeGreaterThanOrEqual(spans[i - 1][1]);
      });
      expect(layout.totalRows).toBe(spans[spans.length - 1][1]);
      expect(fusedRowLayout(rows, K, dtype, 256, layout.totalRows * K * bytes - 4)).toBeUndefined();
    }
  });
});
