// Device-side twin of test/kernels/mla-f16.test.ts (vitest does not fit the device pack): pack + tensor-core flash vs f64 reference.
import { GpuContext } from '../../dist/engine/gpu/context.js';
import { f16BitsToF32, f32ToF16Bits } from '../../dist/engine/gpu/half.js';
import { mlaAttentionReference } from '../../dist/kernels/mla/mla-reference.js';
import { mlaPackF16 } from '../../dist/kernels/mla/mla-pack-f16.js';
import { MLA_FLASH_F16_PLAN, mlaFlashPrefillF16, probeMlaFlashF16, roundUpRows } from '../../dist/kernels/mla/mla-flash-prefill-f16.js';
const ctx = await GpuContext.create();
const why = await probeMlaFlashF16(ctx, 128, 64, 128);
console.log('probe:', why ?? 'tensor cores OK');
const half = (x) => f16BitsToF32(f32ToF16Bits(x));
const rnd = (n) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
const ri = (a, b) => a + Math.floor(Math.random() * (b - a + 1));
function relErr(a, b) { let d = 0, r = 1e-6; for (let i = 0; i < b.length; i++) { const e = Math.abs(a[i] - b[i]); d = Number.isNaN(e) ? Infinity : Math.max(d, e); r = Math.max(r, Math.abs(b[i])); } return d / r; }
async function check(name, { H, Dn, Dr, Dv }, Tq, Tk, { growth = 0, scale, plan, zeroQ = false } = {}) {
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
if (!why && process.argv.includes('--sweep')) {
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
} else if (!why) {
  const d48 = { H: 2, Dn: 128, Dr: 64, Dv: 128 };
  for (let n = 0; n < 3; n++) { const Tq = ri(40, 150); await check('48B dims continued', { ...d48, H: ri(1, 3) }, Tq, Tq + ri(0, 90)); }
  const T = ri(65, 200);
  await check('small dims', { H: 2, Dn: 32, Dr: 16, Dv: 48 }, T, T);
  await check('no rope', { H: 1, Dn: 64, Dr: 0, Dv: 32 }, T - 17, T);
  for (const plan of [{ subgroups: 8, keyRows: 32, tau: 8 }, { subgroups: 4, keyRows: 32, tau: 8 }, { subgroups: 2, keyRows: 64, tau: 8 }]) await check('plan', d48, T, T + 5, { plan });
  const G = ri(150, 260);
  await check('growing keys', d48, G, G, { growth: 0.05, scale: 0.5 });
  await check('growing keys tau0', { ...d48, H: 1 }, G, G, { growth: 0.05, scale: 0.5, plan: { ...MLA_FLASH_F16_PLAN, tau: 0 } });
}
await ctx.device.queue.onSubmittedWorkDone();
process.exit(0);
