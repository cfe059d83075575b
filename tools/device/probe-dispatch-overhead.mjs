// What one dispatch costs in a decode-like list, apart from its work: N tiny dispatches (a 2304-float add) in ONE
// compute pass, timed at the pass boundaries. "chain": each reads what the previous wrote (Dawn must put a barrier
// between them, as between the layers of a decode step); "independent": each writes its own buffer. Also the
// decode step's own list through the engine (infer --profile-decode) for comparison is in long-context.sh.
// Usage (after `npm run build`): node tools/device/probe-dispatch-overhead.mjs [N]
import { encodeDispatches, GpuContext } from '../../dist/engine/gpu/context.js';
import { timedBlocksMs } from '../../dist/engine/gpu/dispatch-profile.js';
import { makeAdd } from '../../dist/kernels/elementwise/add.js';

const ctx = await GpuContext.create();
const N = Number(process.argv[2] ?? 600), D = 2304;
const a = ctx.tensor([D], 'f32', 'a', new Float32Array(D).fill(1));
const x = ctx.tensor([D], 'f32', 'x', new Float32Array(D));
const outs = Array.from({ length: N }, (_, i) => ctx.tensor([D], 'f32', `o${i}`));
const lists = {
  chain: Array.from({ length: N }, () => makeAdd(ctx, x, a)),
  independent: outs.map((o) => makeAdd(ctx, a, a, o)),
  one: [makeAdd(ctx, x, a)],
};
console.log(ctx.caps.adapterDescription);
for (let round = 0; round < 3; round++) {
  for (const [name, specs] of Object.entries(lists)) {
    const ms = await timedBlocksMs(ctx, 5, (encoder, querySet, b) => {
      const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * b, endOfPassWriteIndex: 2 * b + 1 } });
      encodeDispatches(pass, specs);
      pass.end();
    });
    const best = Math.min(...ms);
    console.log(`dispatch-overhead | round ${round} | ${name} | ${specs.length} dispatches | ${best.toFixed(3)} ms | ${(1000 * best / specs.length).toFixed(2)} µs each`);
  }
}
process.exit(0);
