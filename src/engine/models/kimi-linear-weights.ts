// Kimi Linear weights on the GPU: allocation from KimiConfig (every size from the config) and filling from a
// checkpoint (upload) or from seeded random values generated on the GPU (speed runs at full 48B shapes).
import type { Checkpoint, KimiConfig } from '../checkpoint.js';
import { tensorName } from '../checkpoint.js';
import type { GpuContext } from '../gpu/context.js';
import { DTYPE_BYTES, tensorBytes, type GpuDtype, type GpuRowSplit, type GpuTensor } from '../gpu/arena.js';
import { makeRandomFill } from '../../kernels/elementwise/random-fill.js';
import { allocQ8, q8View, uploadQ8, type Q8Weight } from '../../kernels/linalg/q8-format.js';
import { makeRandomFillQ8 } from '../../kernels/linalg/random-fill-q8.js';

/** Storage of the big matmul weights: f32, f16, or q8 (int8 per group of 32 + f16 scales, linalg/q8-format.ts). */
export type MatmulDtype = 'f32' | 'f16' | 'q8';

/** A matmul weight: one binding, a row view into a fused stack, split over rows when bigger than a binding, or q8. */
export type MatmulWeight = GpuTensor | GpuRowSplit | Q8Weight;

/**
 * Projections that read the same input, stacked row-wise in one allocation so a decode step runs one GEMV for
 * all of them. Each member weight is a row view into `weight` (same buffer), so prefill still multiplies per
 * member. Members start at rows whose weight and f32-output byte offsets the device can bind; the rows between
 * (padding, only for sizes that are not a multiple of that step) are computed in decode but never read.
 */
export interface FusedProjection {
  weight: GpuTensor | Q8Weight;
  members: { weight: GpuTensor | Q8Weight; row: number }[];
}

export interface KdaLayerWeights {
  kind: 'kda';
  q: MatmulWeight; k: MatmulWeight; v: MatmulWeight;
  qConv: GpuTensor; kConv: GpuTensor; vConv: GpuTensor;
  fa: MatmulWeight; fb: MatmulWeight; b: MatmulWeight; ga: MatmulWeight; gb: MatmulWeight; o: MatmulWeight;
  aLog: GpuTensor; dtBias: GpuTensor; oNorm: GpuTensor;
  /** q, k, v, f_a, g_a, b stacked (all read the normed hidden state); absent when they exceed one binding. */
  inProj?: FusedProjection;
}

export interface MlaLayerWeights {
  kind: 'mla';
  q: MatmulWeight; kva: MatmulWeight; kvaNorm: GpuTensor;
  /** f32 always: the absorbed decode kernel multiplies with it directly. */
  kvb: GpuTensor;
  o: MatmulWeight;
  /** q and kv_a stacked. */
  inProj?: FusedProjection;
}

export interface DenseMlpWeights { kind: 'dense'; gate: MatmulWeight; up: MatmulWeight; down: MatmulWeight; gateUp?: FusedProjection }

export interface MoeWeights {
  kind: 'moe';
  /** Router in f32 (the references compute it in f32). */
  router: GpuTensor; bias: GpuTensor;
  /** Stacked experts [E, I, H] (w1 gate, w3 up) and [E, H, I] (w2 down), split along E when too big. */
  w1: MatmulWeight; w3: MatmulWeight; w2: MatmulWeight;
  shared?: { gate: MatmulWeight; up: MatmulWeight; down: MatmulWeight; gateUp?: FusedProjection };
}

export interface LayerWeights {
  inputNorm: GpuTensor;
  postNorm: GpuTensor;
  mixer: KdaLayerWeights | MlaLayerWeights;
  mlp: DenseMlpWeights | MoeWeights;
}

export interface KimiGpuWeights {
  embed: GpuRowSplit;
  finalNorm: GpuTensor;
  lmHead: GpuRowSplit | Q8Weight;
  layers: LayerWeights[];
  bytes: number;
}

/** How a tensor is initialised when the weights are random (ignored when loading a checkpoint). */
export type InitKind = 'linear' | 'norm' | 'conv' | 'alog' | 'dtbias' | 'bias' | 'embed';

export interface WeightSource {
  /** Fills `target` with one canonical tensor, or with one tensor per stacked expert (names[e] → row e). */
  fill(target: GpuTensor | GpuRowSplit, names: string[], init: InitKind): void;
  /** The same for a q8 weight (quantised on the CPU from a checkpoint; drawn as int8 on the GPU when random). */
  fillQ8(target: Q8Weight, names: string[]): void;
}

export function checkpointSource(ctx: GpuContext, checkpoint: Checkpoint): WeightSource {
  return {
    fill(target, names) {
      names.forEach((name, row) => {
        const data = checkpoint.tensor(name).toFloat32();
        if ('parts' in target) ctx.uploadRows(target, names.length === 1 ? 0 : row, data);
        else ctx.upload(target, data);
      });
    },
    fillQ8(target, names) {
      names.forEach((name, entry) => uploadQ8(ctx, target, names.length === 1 ? 0 : entry, checkpoint.tensor(name).toFloat32()));
    },
  };
}

/** Seeded random weights, generated on the GPU with ranges that keep activations finite. */
export function randomSource(ctx: GpuContext, seed: number): WeightSource {
  let counter = 0;
  return {
    fill(target, _names, init) {
      const parts = 'parts' in target ? target.parts : [target];
      const fanIn = target.shape[target.shape.length - 1];
      for (const part of parts) {
        const s = (seed * 1000003 + counter++) >>> 0;
        const opts = init === 'linear' ? { seed: s, scale: Math.sqrt(3 / fanIn) }
          : init === 'norm' ? { seed: s, scale: 0.1, offset: 1 }
          : init === 'conv' ? { seed: s, scale: 0.5 }
          : init === 'alog' ? { seed: s, scale: 7.5, offset: 8.5, logSpace: true } // ln U(1, 16)
          : init === 'dtbias' ? { seed: s, scale: 2.3, offset: -4.6 } // ≈ inverse softplus of dt ∈ [1e-3, 1e-1]
          : init === 'bias' ? { seed: s, scale: 0.01 }
          : { seed: s, scale: 1 };
        ctx.run([makeRandomFill(ctx, part, opts)]);
      }
    },
    fillQ8(target) {
      const s = (seed * 1000003 + counter++) >>> 0;
      ctx.run(makeRandomFillQ8(ctx, target, s, Math.sqrt(3 / target.shape[target.shape.length - 1])));
    },
  };
}

/**
 * Row starts of members (`rows` each, K columns) stacked in one allocation. Every start is a multiple of the
 * step at which both the member's weight rows and its f32 outputs (one per row) begin on a bindable offset.
 * Members whose row count is a multiple of the step go first, so padding follows only the others (the 48B
 * shape needs none). Undefined when the stack would exceed one binding: the members then stay separate.
 */
export function fusedRowLayout(rows: readonly number[], K: number, dtype: GpuDtype, align: number, maxBindingBytes: number):
  { starts: number[]; totalRows: number } | undefined {
  const step = lcm(align / gcd(4, align), align / gcd(K * DTYPE_BYTES[dtype], align));
  const padded = (i: number) => (rows[i] % step === 0 ? 0 : 1);
  const order = rows.map((_, i) => i).sort((a, b) => padded(a) - padded(b) || a - b);
  const starts = new Array<number>(rows.length);
  let at = 0;
  for (const i of order) {
    at = Math.ceil(at / step) * step;
    starts[i] = at;
    at += rows[i];
  }
  if (tensorBytes([at, K], dtype) > maxBindingBytes) return undefined;
  return { starts, totalRows: at };
}

export function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/**
 * Allocates every weight for `config` and fills it from `source`. Matmul weights use `matmulDtype`; with q8 the
 * embedding stays f16 (a gather reads one row per token) and everything in f32 today stays f32.
 */
export function loadKimiWeights(ctx: GpuContext, config: KimiConfig, source: WeightSource, matmulDtype: MatmulDtype): KimiGpuWeights {
  const before = ctx.arena.liveBytes;
  const H = config.hiddenSize;
  const L = tensorName.layer;
  const q8 = matmulDtype === 'q8';
  const valueDtype: GpuDtype = q8 ? 'f16' : matmulDtype;
  const table = (name: string, shape: number[], init: InitKind): GpuRowSplit => {
    const t = ctx.rowSplit(shape, valueDtype, name);
    source.fill(t, [name], init);
    return t;
  };
  const quantized = (names: string[], shape: number[]): Q8Weight => {
    const t = allocQ8(ctx, shape, names[0]);
    source.fillQ8(t, names);
    return t;
  };
  const matrix = (name: string, shape: number[]): MatmulWeight => (q8 ? quantized([name], shape) : table(name, shape, 'linear'));
  const small = (name: string, shape: number[], init: InitKind): GpuTensor => {
    const t = ctx.tensor(shape, 'f32', name);
    source.fill(t, [name], init);
    return t;
  };
  const stacked = (names: string[], shape: number[]): MatmulWeight => {
    if (q8) return quantized(names, shape);
    const t = ctx.arena.allocRowSplit(shape, valueDtype, names[0], 1);
    source.fill(t, names, 'linear');
    return t;
  };
  // One allocation for projections of the same input (FusedProjection); members are filled when taken, in the
  // same order as unfused weights, so random weights draw the same numbers either way.
  const fused = (label: string, K: number, rows: number[]) => {
    // q8 members are row offsets into one block (the kernels take the offset), so only the f32 outputs need the
    // bindable row step: lay out as if rows were K bytes of u32 words, and keep the stack in one binding.
    const layout = q8
      ? fusedRowLayout(rows, Math.ceil(K / 4), 'u32', ctx.caps.minStorageOffsetAlignment, ctx.caps.maxBindingBytes)
      : fusedRowLayout(rows, K, valueDtype, ctx.caps.minStorageOffsetAlignment, ctx.caps.maxBindingBytes);
    const q8Stack = q8 && layout ? allocQ8(ctx, [layout.totalRows, K], label) : undefined;
    const group: FusedProjection | undefined = layout && (!q8Stack || q8Stack.blocks.length === 1)
      ? { weight: q8Stack ?? ctx.tensor([layout.totalRows, K], valueDtype, label), members: [] } : undefined;
    if (q8Stack && !group) for (const b of q8Stack.blocks) { ctx.arena.free(b.values); ctx.arena.free(b.scales); }
    const member = (i: number, name: string): MatmulWeight => {
      if (!group || !layout) return matrix(name, [rows[i], K]);
      const row = layout.starts[i];
      if (q8Stack) {
        const view = q8View(q8Stack.blocks[0], row, [rows[i], K], name);
        source.fillQ8(view, [name]);
        group.members.push({ weight: view, row });
        return view;
      }
      const weight = group.weight as GpuTensor;
      const view: GpuTensor = {
        buffer: weight.buffer, offset: weight.offset + row * K * DTYPE_BYTES[valueDtype],
        bytes: tensorBytes([rows[i], K], valueDtype), shape: [rows[i], K], dtype: valueDtype, label: name,
      };
      source.fill(view, [name], 'linear');
      group.members.push({ weight: view, row });
      return view;
    };
    return { group, member };
  };
  const { numHeads: Hk, headDim: Dk, convKernelSize: K } = config.kda;
  const P = Hk * Dk;
  const m = config.mla;
  const moe = config.moe;
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const a = (rest: string) => L(i, `self_attn.${rest}`);
    let mixer: KdaLayerWeights | MlaLayerWeights;
    if (config.layerKinds[i] === 'kda') {
      // Member order q, k, v, f_a, b, g_a.
      const f = fused(a('in_proj[q|k|v|f_a|b|g_a]'), H, [P, P, P, Dk, Hk, Dk]);
      mixer = {
        kind: 'kda',
        q: f.member(0, a('q_proj.weight')), k: f.member(1, a('k_proj.weight')), v: f.member(2, a('v_proj.weight')),
        qConv: small(a('q_conv1d.weight'), [P, 1, K], 'conv'), kConv: small(a('k_conv1d.weight'), [P, 1, K], 'conv'),
        vConv: small(a('v_conv1d.weight'), [P, 1, K], 'conv'),
        fa: f.member(3, a('f_a_proj.weight')), fb: matrix(a('f_b_proj.weight'), [P, Dk]),
        b: f.member(4, a('b_proj.weight')), ga: f.member(5, a('g_a_proj.weight')), gb: matrix(a('g_b_proj.weight'), [P, Dk]),
        o: matrix(a('o_proj.weight'), [H, P]),
        aLog: small(a('A_log'), [1, 1, Hk, 1], 'alog'), dtBias: small(a('dt_bias'), [P], 'dtbias'),
        oNorm: small(a('o_norm.weight'), [Dk], 'norm'),
        inProj: f.group,
      };
    } else {
      const f = fused(a('in_proj[q|kv_a]'), H, [m.numHeads * (m.qkNopeHeadDim + m.qkRopeHeadDim), m.kvLoraRank + m.qkRopeHeadDim]);
      mixer = {
        kind: 'mla',
        q: f.member(0, a('q_proj.weight')),
        kva: f.member(1, a('kv_a_proj_with_mqa.weight')),
        kvaNorm: small(a('kv_a_layernorm.weight'), [m.kvLoraRank], 'norm'),
        kvb: small(a('kv_b_proj.weight'), [m.numHeads * (m.qkNopeHeadDim + m.vHeadDim), m.kvLoraRank], 'linear'),
        o: matrix(a('o_proj.weight'), [H, m.numHeads * m.vHeadDim]),
        inProj: f.group,
      };
    }
    let mlp: DenseMlpWeights | MoeWeights;
    if (config.mlpKinds[i] === 'dense') {
      const F = config.denseIntermediateSize;
      const f = fused(L(i, 'mlp.gate_up[gate|up]'), H, [F, F]);
      mlp = {
        kind: 'dense', gate: f.member(0, L(i, 'mlp.gate_proj.weight')), up: f.member(1, L(i, 'mlp.up_proj.weight')),
        down: matrix(L(i, 'mlp.down_proj.weight'), [H, F]), gateUp: f.group,
      };
    } else {
      const M = (rest: string) => L(i, `block_sparse_moe.${rest}`);
      const I = moe.intermediateSize;
      const experts = Array.from({ length: moe.numExperts }, (_, e) => e);
      const S = moe.numSharedExperts * I;
      const sharedMatrices = () => {
        const f = fused(M('shared_experts.gate_up[gate|up]'), H, [S, S]);
        return {
          gate: f.member(0, M('shared_experts.gate_proj.weight')), up: f.member(1, M('shared_experts.up_proj.weight')),
          down: matrix(M('shared_experts.down_proj.weight'), [H, S]), gateUp: f.group,
        };
      };
      mlp = {
        kind: 'moe',
        router: small(M('gate.weight'), [moe.numExperts, H], 'linear'),
        bias: small(M('gate.e_score_correction_bias'), [moe.numExperts], 'bias'),
        w1: stacked(experts.map((e) => tensorName.expert(i, e, 'w1')), [moe.numExperts, I, H]),
        w3: stacked(experts.map((e) => tensorName.expert(i, e, 'w3')), [moe.numExperts, I, H]),
        w2: stacked(experts.map((e) => tensorName.expert(i, e, 'w2')), [moe.numExperts, H, I]),
        shared: S > 0 ? sharedMatrices() : undefined,
      };
    }
    layers.push({
      inputNorm: small(L(i, 'input_layernorm.weight'), [H], 'norm'),
      postNorm: small(L(i, 'post_attention_layernorm.weight'), [H], 'norm'),
      mixer, mlp,
    });
  }
  const embed = table('model.embed_tokens.weight', [config.vocabSize, H], 'embed');
  // A tied checkpoint answers lm_head with the embedding: reuse the same GPU buffer (q8: a quantised copy).
  const lmHead = q8 ? quantized([config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'], [config.vocabSize, H])
    : config.tieWordEmbeddings ? embed : table('lm_head.weight', [config.vocabSize, H], 'linear');
  const finalNorm = small('model.norm.weight', [H], 'norm');
  return { embed, finalNorm, lmHead, layers, bytes: ctx.arena.liveBytes - before };
}
