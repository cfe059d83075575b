// Device-side twin of test/kernels/mla-f16.test.ts and the f16 part of test/kernels/mla-key-blocks.test.ts (vitest does
// not fit the device pack): pack + tensor-core flash vs f64 reference; --blocks runs only the key-block (carry) checks;
// --plans JSON runs continued, growing-key and key-block checks for each of a list of candidate plans.
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { f16BitsToF32, f32ToF16Bits } from '../../dist/engine/gpu/half.js';
import { mlaAttentionReference } from '../../dist/kernels/mla/mla-reference.js';
import { mlaPackF16 } from '../../dist/kernels/mla/mla-pack-f16.js';
import { MLA_FLASH_F16_PLAN, mlaFlashPrefillF16, probeMlaFlashF16, roundUpRows } from '../../dist/kernels/mla/mla-flash-prefill-f16.js';
import { keyBlocks } from '../../dist/engine/models/mla-prefill.js';
const ctx = await GpuContext.create();
const why = await probeMlaFlashF16(ctx, 128, 64, 128);
console.log('probe:', why ?? 'tensor cores OK');
const half = (x) => f16BitsToF32(f32ToF16Bits(x));
const rnd = (n) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
const ri = (a, b) => a + Math.floor(Math.random() * (b - a + 1));
function relErr(a, b) { let d = 0, r = 1e-6; for (let i = 0; i < b.length; i++) { const e = Math.abs(a[i] - b[i]); d = Number.isNaN(e) ? Infinity : Math.max(d, e); r = Math.max(r, Math.abs(b[i])); } return d / r; }
// A check that throws (an unsupported plan, a rejected shader) prints a FAIL line and the rest go on.
const guarded = (fn) => async (name, ...args) => {
  try { await fn(name, ...args); } catch (e) { console.log(`FAIL ${name}: ${String(e.message ?? e).split('\n')[0].slice(0, 300)}`); }
};
const check = guarded(checkOnce);
const checkBlocks = guarded(checkBlocksOnce);
async function checkOnce(name, { H, Dn, Dr, Dv }, Tq, Tk, { growth = 0, scale, plan, zeroQ = false } = {}) {
  const Dq = Dn + Dr;
  const q = zeroQ ? new Float32Array(Tq * H * Dq) : rnd(Tq * H * Dq), kNope = rnd(Tk * H * Dn).map((x, i) => x * (1 + growth * Math.floor(i / (H * Dn))));
  const kRope = rnd(Tk * Dr).map((x, i) => x * (1 + growth * Math.floor(i / Math.max(Dr, 1)))), v = rnd(Tk * H * Dv);
  const qR = roundUpRows(Tq), kR = roundUpRows(Tk);
  const P = (shape, dt, l) => { const t = ctx.tensor(shape, dt, l); ctx.fill(t, NaN); return t; };
  const q16 = P([qR, H, Dq], 'f16', 'q16'), kn16 = P([kR, H, Dn], 'f16', 'kn16'), kr16 = P([kR, Math.max(Dr, 2)], 'f16', 'kr16'), v16 = P([kR, H, Dv], 'f16', 'v16');
  const out = P([Tq, H, Dv], 'f32', 'out');
  const up = (d, s, l) => ctx.tensor(s, 'f32', l, d);
  ctx.run([
    mlaPackF16(ctx, { src: up(q, [Tq, H, Dq], 'q'), dst: q16, T: Tq, H, D: Dq, padRows: qR - Tq }),
    mlaPackF16(ctx, { src: up(kNope, [Tk, H, Dn], 'kn'), dst: kn16, T: Tk, H, D: Dn, padRows: kR - Tk }),
    ...(Dr > 0 ? [mlaPackF16(ctx, { src: up(kRope, [Tk, 1, Dr], 'kr'), dst: kr16, T: Tk, H: 1, D: Dr, padRows: kR - Tk })] : []),
    mlaPackF16(ctx, { src: up(v, [Tk, H, Dv], 'v'), dst: v16, T: Tk, H, D: Dv, padRows: kR - Tk }),
    mlaFlashPrefillF16(ctx, { q: q16, kNope: kn16, kRope: Dr > 0 ? kr16 : undefined, v: v16, out, Tq, Tk, H, Dn, Dr, Dv, scale }, plan),
  ]);
  const h = (a) => a.map(half);
  const ref = mlaAttentionReference(h(q), { kNope: h(kNope), kRope: h(kRope), v: h(v) }, Tq, Tk - Tq, H, Dn, Dr, Dv, scale ?? 1 / Math.sqrt(Dq));
  const e = relErr(await ctx.readF32(out), ref);
  console.log(`${e < 4e-3 ? 'PASS' : 'FAIL'} ${name} Tq=${Tq} Tk=${Tk} H=${H} d=${Dn}+${Dr}/${Dv} plan=${JSON.stringify(plan ?? MLA_FLASH_F16_PLAN)} relErr=${e.toExponential(2)}`);
}
// Chunk-major: keys in blocks of KB written into ONE f16 scratch per block (as the engine does), the online-softmax
// state carried in an f32 carry between blocks; reference over all keys at once on the same halves.
async function checkBlocksOnce(name, { H, Dn, Dr, Dv }, Tq, Tk, KB, { growth = 0, scale, plan } = {}) {
  const Dq = Dn + Dr;
  const q = rnd(Tq * H * Dq), kNope = rnd(Tk * H * Dn).map((x, i) => x * (1 + growth * Math.floor(i / (H * Dn))));
  const kRope = rnd(Tk * Dr).map((x, i) => x * (1 + growth * Math.floor(i / Math.max(Dr, 1)))), v = rnd(Tk * H * Dv);
  const P = (shape, dt, l) => { const t = ctx.tensor(shape, dt, l); ctx.fill(t, NaN); return t; };
  const kR = roundUpRows(KB);
  const q16 = P([roundUpRows(Tq), H, Dq], 'f16', 'q16'), kn16 = P([kR, H, Dn], 'f16', 'kn16'), kr16 = P([kR, Math.max(Dr, 2)], 'f16', 'kr16'), v16 = P([kR, H, Dv], 'f16', 'v16');
  const out = P([Tq, H, Dv], 'f32', 'out'), carry = P([Tq, H, Dv + 2], 'f32', 'carry');
  const up = (d, s, l) => ctx.tensor(s, 'f32', l, d);
  const rows = (a, w, s, n) => a.subarray(s * w, (s + n) * w);
  ctx.run([mlaPackF16(ctx, { src: up(q, [Tq, H, Dq], 'q'), dst: q16, T: Tq, H, D: Dq, padRows: roundUpRows(Tq) - Tq })]);
  const blocks = keyBlocks(Tk, KB);
  for (const [b, { start, length }] of blocks.entries()) {
    const pad = roundUpRows(length) - length;
    ctx.run([
      mlaPackF16(ctx, { src: up(rows(kNope, H * Dn, start, length), [length, H, Dn], 'kn'), dst: kn16, T: length, H, D: Dn, padRows: pad }),
      ...(Dr > 0 ? [mlaPackF16(ctx, { src: up(rows(kRope, Dr, start, length), [length, 1, Dr], 'kr'), dst: kr16, T: length, H: 1, D: Dr, padRows: pad })] : []),
      mlaPackF16(ctx, { src: up(rows(v, H * Dv, start, length), [length, H, Dv], 'v'), dst: v16, T: length, H, D: Dv, padRows: pad }),
      mlaFlashPrefillF16(ctx, { q: q16, kNope: kn16, kRope: Dr > 0 ? kr16 : undefined, v: v16, out, Tq, Tk, H, Dn, Dr, Dv, scale, keyBlock: { start, length, carry, first: b === 0, last: b === blocks.length - 1 } }, plan),
    ]);
  }
  const h = (a) => a.map(half);
  const ref = mlaAttentionReference(h(q), { kNope: h(kNope), kRope: h(kRope), v: h(v) }, Tq, Tk - Tq, H, Dn, Dr, Dv, scale ?? 1 / Math.sqrt(Dq));
  const e = relErr(await ctx.readF32(out), ref);
  console.log(`${e < 4e-3 ? 'PASS' : 'FAIL'} blocks: ${name} Tq=${Tq} Tk=${Tk} KB=${KB} (${blocks.length} blocks) H=${H} d=${Dn}+${Dr}/${Dv} plan=${JSON.stringify(plan ?? MLA_FLASH_F16_PLAN)} relErr=${e.toExponential(2)}`);
}
async function blockChecks() {
  const d48 = { H: 2, Dn: 128, Dr: 64, Dv: 128 };
  for (const KB of [128, 256, 384]) { const Tq = ri(40, 300); await checkBlocks('48B dims', { ...d48, H: ri(1, 3) }, Tq, Tq + ri(KB + 1, 3 * KB), KB); }
  const T = ri(300, 700);
  await checkBlocks('piece spanning blocks', d48, T, T + ri(0, 200), 128);
  await checkBlocks('no rope', { H: 1, Dn: 64, Dr: 0, Dv: 32 }, ri(20, 120), ri(400, 600), 128);
  for (const plan of [{ subgroups: 8, keyRows: 16, tau: 8 }, { subgroups: 2, keyRows: 32, tau: 8 }]) await checkBlocks('plan', d48, T, T + 129, 128, { plan });
  await checkBlocks('growing keys (rescale across blocks)', d48, T, T + 200, 128, { growth: 0.05, scale: 0.5 });
  await checkBlocks('growing keys tau0', { ...d48, H: 1 }, T, T + 200, 128, { growth: 0.05, scale: 0.5, plan: { ...MLA_FLASH_F16_PLAN, tau: 0 } });
}
// One key block (16 keys, d 16/0/16, one subgroup): each stage of the kernel dumped and compared with its CPU twin,
// so a failure names the first wrong stage (scores, f16 weights, row sums, unnormalised P·V).
async function dumpStages(Tq, zeroQ) {
  const H = 1, D = 16, Tk = 16, plan = { subgroups: 1, keyRows: 16, tau: 8 };
  const q = zeroQ ? new Float32Array(Tq * D) : rnd(Tq * D).map(half), k = rnd(Tk * D).map(half), v = rnd(Tk * D).map(half);
  const scaleLog2 = (1 / Math.sqrt(D)) * Math.LOG2E;
  const want = { 1: [], 2: [], 3: [], 4: [] };
  for (let i = 0; i < Tq; i++) {
    const pos = Tk - Tq + i, s = [];
    for (let j = 0; j < Tk; j++) { let d = 0; for (let c = 0; c < D; c++) d += q[i * D + c] * k[j * D + c]; s.push(d * scaleLog2); }
    const m = Math.max(...s.slice(0, pos + 1));
    const p = s.map((x, j) => (j <= pos ? half(2 ** (x - m)) : 0));
    const sum = p.reduce((a, b) => a + b, 0);
    want[1].push(...s); want[2].push(...p); want[4].push(...new Array(D).fill(sum));
    for (let c = 0; c < D; c++) { let o = 0; for (let j = 0; j < Tk; j++) o += p[j] * v[j * D + c]; want[3].push(o); }
  }
  for (const dump of [1, 2, 4, 3]) {
    const rows = roundUpRows(Tq), kR = roundUpRows(Tk);
    const P = (shape, l) => { const t = ctx.tensor(shape, 'f16', l); ctx.fill(t, 0); return t; };
    const q16 = P([rows, 1, D], 'q16'), k16 = P([kR, 1, D], 'k16'), v16 = P([kR, 1, D], 'v16');
    const out = ctx.tensor([Tq, 1, D], 'f32', 'out'); ctx.fill(out, NaN);
    const up = (d, s2, l) => ctx.tensor(s2, 'f32', l, d);
    ctx.run([
      mlaPackF16(ctx, { src: up(q, [Tq, 1, D], 'q'), dst: q16, T: Tq, H: 1, D, padRows: rows - Tq }),
      mlaPackF16(ctx, { src: up(k, [Tk, 1, D], 'k'), dst: k16, T: Tk, H: 1, D, padRows: kR - Tk }),
      mlaPackF16(ctx, { src: up(v, [Tk, 1, D], 'v'), dst: v16, T: Tk, H: 1, D, padRows: kR - Tk }),
      mlaFlashPrefillF16(ctx, { q: q16, kNope: k16, v: v16, out, Tq, Tk, H, Dn: D, Dr: 0, Dv: D }, { ...plan, dump }),
    ]);
    if (dump === 1) {
      // The packed operands themselves, read back: is the f16 pack right on this device?
      for (const [label, t, x, n] of [['q16', q16, q, Tq * D], ['k16', k16, k, Tk * D], ['v16', v16, v, Tk * D]]) {
        const all = await ctx.read(t);
        console.log(`DUMP pack ${label} relErr=${relErr(all.slice(0, n), x).toExponential(2)} pad nonzero=${all.slice(n).some((b) => b !== 0)}`);
      }
    }
    const got = await ctx.readF32(out), w = Float32Array.from(want[dump]);
    const name = { 1: 'scores', 2: 'weights', 3: 'P·V', 4: 'row sum' }[dump];
    const fmt = (a) => Array.from(a.slice(0, 6), (x) => x.toFixed(3)).join(' ');
    console.log(`DUMP ${name} Tq=${Tq} q=${zeroQ ? 0 : 'rand'} relErr=${relErr(got, w).toExponential(2)}\n  got  row0: ${fmt(got)} | last row: ${fmt(got.slice((Tq - 1) * D))}\n  want row0: ${fmt(w)} | last row: ${fmt(w.slice((Tq - 1) * D))}`);
  }
}
// Index maps: q = identity, K[j][d] = V[j][d] = (16j + d)/256 (exact in f16). Then scores S[i][j] = K[j][i], so the
// dumped scores show which K element the kernel multiplied where; with q = 0, output row 0 is V row 0.
async function indexMaps() {
  const D = 16, T = 16, plan = { subgroups: 1, keyRows: 16, tau: 8 };
  const eye = new Float32Array(T * D).map((_, i) => (Math.floor(i / D) === i % D ? 1 : 0));
  const idx = new Float32Array(T * D).map((_, i) => i / 256);
  const scaleLog2 = (1 / Math.sqrt(D)) * Math.LOG2E;
  for (const [what, q, dump] of [['scores (q = I)', eye, 1], ['P·V (q = 0)', new Float32Array(T * D), 3]]) {
    const rows = roundUpRows(T);
    const P = (l) => { const t = ctx.tensor([rows, 1, D], 'f16', l); ctx.fill(t, 0); return t; };
    const q16 = P('q16'), k16 = P('k16'), v16 = P('v16');
    const out = ctx.tensor([T, 1, D], 'f32', 'out'); ctx.fill(out, NaN);
    const up = (d, l) => ctx.tensor([T, 1, D], 'f32', l, d);
    ctx.run([
      mlaPackF16(ctx, { src: up(q, 'q'), dst: q16, T, H: 1, D, padRows: rows - T }),
      mlaPackF16(ctx, { src: up(idx, 'k'), dst: k16, T, H: 1, D, padRows: rows - T }),
      mlaPackF16(ctx, { src: up(idx, 'v'), dst: v16, T, H: 1, D, padRows: rows - T }),
      mlaFlashPrefillF16(ctx, { q: q16, kNope: k16, v: v16, out, Tq: T, Tk: T, H: 1, Dn: D, Dr: 0, Dv: D }, { ...plan, dump }),
    ]);
    const got = await ctx.readF32(out);
    const decode = (x) => (dump === 1 ? Math.round((x / scaleLog2) * 256) : Math.round(x * 256));
    console.log(`MAP ${what}: row i lists the decoded element index per column (want scores: 16j + i; P·V row 0: 0..15)`);
    for (let i = 0; i < (dump === 1 ? T : 2); i++) console.log(`MAP row ${i}: ${Array.from(got.slice(i * D, i * D + D), decode).join(' ')}`);
  }
}
if (!why && process.argv.includes('--map')) await indexMaps();
if (!why && process.argv.includes('--blocks')) await blockChecks();
if (!why && process.argv.includes('--dump')) {
  await dumpStages(16, true);
  await dumpStages(1, false);
  await dumpStages(16, false);
}
const plansAt = process.argv.indexOf('--plans');
if (!why && plansAt > 0) {
  // Candidate plans (tools/device/probe-flash-variants.mjs times the same list): continued prefill, growing keys, key blocks.
  const d48 = { H: 2, Dn: 128, Dr: 64, Dv: 128 };
  for (const plan of JSON.parse(process.argv[plansAt + 1])) {
    const Tq = ri(40, 300);
    await check('48B dims continued', { ...d48, H: ri(1, 3) }, Tq, Tq + ri(0, 300), { plan });
    const G = ri(150, 260);
    await check('growing keys', d48, G, G, { growth: 0.05, scale: 0.5, plan });
    await checkBlocks('48B dims', d48, Tq, Tq + ri(257, 500), 128, { plan });
  }
} else if (!why && process.argv.includes('--sweep')) {
  // Localise the error: the smallest configuration first, then one change at a time.
  const one = { subgroups: 1, keyRows: 16, tau: 8 };
  const d = { H: 1, Dn: 16, Dr: 0, Dv: 16 };
  await check('S0 minimal, q = 0 (uniform weights)', d, 16, 16, { plan: one, zeroQ: true });
  await check('S1 minimal', d, 16, 16, { plan: one });
  await check('S2 two key blocks (queries after 16 keys)', d, 16, 32, { plan: one });
  await check('S3 one query row', d, 1, 16, { plan: one });
  await check('S4 Dn 32', { ...d, Dn: 32 }, 16, 16, { plan: one });
  await check('S5 Dv 32', { ...d, Dv: 32 }, 16, 16, { plan: one });
  await check('S6 two heads', { ...d, H: 2 }, 16, 16, { plan: one });
  await check('S7 rope slot 16', { ...d, Dr: 16 }, 16, 16, { plan: one });
  await check('S8 two subgroups', d, 32, 32, { plan: { ...one, subgroups: 2 } });
  await check('S9 key block 32', d, 16, 32, { plan: { ...one, keyRows: 32 } });
  await check('S10 no lazy rescale (tau 0)', d, 16, 32, { plan: { ...one, tau: 0 } });
  await check('S11 default plan, minimal dims', d, 64, 64, {});
} else if (!why && !['--dump', '--map', '--blocks', '--plans'].some((flag) => process.argv.includes(flag))) {
  const d48 = { H: 2, Dn: 128, Dr: 64, Dv: 128 };
  for (let n = 0; n < 3; n++) { const Tq = ri(40, 150); await check('48B dims continued', { ...d48, H: ri(1, 3) }, Tq, Tq + ri(0, 90)); }
  const T = ri(65, 200);
  await check('small dims', { H: 2, Dn: 32, Dr: 16, Dv: 48 }, T, T);
  await check('no rope', { H: 1, Dn: 64, Dr: 0, Dv: 32 }, T - 17, T);
  for (const plan of [{ subgroups: 8, keyRows: 16, tau: 8 }, { subgroups: 4, keyRows: 16, tau: 8 }, { subgroups: 2, keyRows: 32, tau: 8 }]) await check('plan', d48, T, T + 5, { plan });
  const G = ri(150, 260);
  await check('growing keys', d48, G, G, { growth: 0.05, scale: 0.5 });
  await check('growing keys tau0', { ...d48, H: 1 }, G, G, { growth: 0.05, scale: 0.5, plan: { ...MLA_FLASH_F16_PLAN, tau: 0 } });
  await blockChecks();
}
await ctx.device.queue.onSubmittedWorkDone();
process.exit(0);
