// Does a request pay one-time costs? One engine, the same prompt several times: TTFT, prefill tok/s and TPOT per
// request (first request vs warm ones), then the GPU time of the prefill alone (each piece submitted and awaited).
// Usage (after `npm run build`): node tools/device/probe-ttft-repeat.mjs [tokens=8192] [requests=3] [experts=64] [warm]
// (warm: the engine warms up with one full piece at load, EngineOptions.warmupPiece)
import { Engine } from '../../dist/engine/engine.js';
import { randomShapeConfig } from '../../dist/engine/models/kimi-linear-shapes.js';

const tokens = Number(process.argv[2] ?? 8192), requests = Number(process.argv[3] ?? 3), experts = Number(process.argv[4] ?? 64);
const config = randomShapeConfig('kimi-linear-48b', experts);
const engine = await Engine.load({ randomConfig: config, seed: 0 }, { matmulDtype: 'f16', pieceTokens: 8192, warmupPiece: process.argv[5] === 'warm' });
let x = 12345;
const ids = Array.from({ length: tokens }, () => (x = (x * 1103515245 + 12345) % 2 ** 31) % config.vocabSize);
for (let r = 0; r < requests; r++) {
  const pieces = [];
  let last = performance.now();
  const res = await engine.generate(ids, {
    maxTokens: 8, temperature: 0, stopIds: [],
    onPrefillProgress: (done) => { const now = performance.now(); pieces.push((now - last).toFixed(0)); last = now; },
  });
  const s = res.stats;
  console.log(`request ${r + 1}: TTFT ${s.ttftMs.toFixed(1)} ms (pieces awaited: ${pieces.join(' + ')} ms), ${s.prefillTokPerS.toFixed(0)} tok/s, TPOT p50 ${s.tpotP50Ms?.toFixed(2)} ms`);
  const plain = await engine.generate(ids, { maxTokens: 8, temperature: 0, stopIds: [] });
  console.log(`request ${r + 1}b (no per-piece wait): TTFT ${plain.stats.ttftMs.toFixed(1)} ms`);
}
await engine.close();
process.exit(0);
