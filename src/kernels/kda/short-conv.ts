// Wrapper for short-conv.wgsl: KDA's causal depthwise conv (kernel K, no bias) + SiLU with a decode cache.
import type { DispatchSpec, GpuContext } from '../../engine/gpu/context.js';
import type { GpuTensor } from '../../engine/gpu/arena.js';
import { requireF32Elements, requirePositiveInts, resolveRows, type ResolvedRows, type RowView } from './row-view.js';

const kernel = { name: 'kda/short-conv', url: new URL('./short-conv.wgsl', import.meta.url) };

export interface ShortConvArgs {
  /** Pre-conv projections [T, D] (D = channels, e.g. P for one of q/k/v or 3·P for a fused q|k|v). */
  x: GpuTensor | RowView;
  /** Depthwise weights [D, 1, K] (tap K-1 multiplies the current token). */
  weight: GpuTensor;
  /** Decode cache [K-1, D], oldest row first; zeros for a fresh sequence. Updated in place. */
  cache: GpuTensor;
  /** Output SiLU(conv(x)) [T, D], dense. */
  y: GpuTensor;
  T: number;
  D: number;
  K: number;
}

/**
 * y = SiLU(causal depthwise conv(x)), then the cache is rolled to hold the last K-1 inputs: one dispatch when
 * one thread covers all T tokens of a channel (T ≤ 16, e.g. decode), else two in this order (the roll must not
 * run before every conv thread has read the old cache).
 */
export function shortConv(ctx: GpuContext, a: ShortConvArgs): DispatchSpec[] {
  return shortConvGroups(ctx, [a]);
}

/**
 * Several independent short convs of the same T, D and K (KDA's q, k and v) in the dispatches of one: each group
 * keeps its own x, weight, cache and y. Groups are packed as many to a dispatch as the storage-binding limit
 * allows (4 bindings per group), so a device with 8 takes q|k then v.
 */
export function shortConvGroups(ctx: GpuContext, groups: readonly ShortConvArgs[]): DispatchSpec[] {
  if (groups.length === 0) return [];
  const { T, D, K } = groups[0];
  requirePositiveInts('shortConv', { T, D, K });
  if (K < 2) throw new Error(`shortConv: kernel size ${K} < 2 leaves nothing to cache`);
  if (groups.some((g) => g.T !== T || g.D !== D || g.K !== K)) throw new Error('shortConv: grouped convs need the same T, D and K');
  const resolved = groups.map((a) => {
    const x = resolveRows('shortConv', 'x', a.x, T, D);
    requireF32Elements('shortConv', 'weight', a.weight, D * K);
    requireF32Elements('shortConv', 'cache', a.cache, (K - 1) * D);
    requireF32Elements('shortConv', 'y', a.y, T * D);
    return { ...a, x };
  });
  // A written buffer may appear in no other binding of the dispatch (WebGPU's per-buffer usage rule).
  const written = resolved.flatMap((g) => [g.cache.buffer, g.y.buffer]);
  const read = new Set(resolved.flatMap((g) => [g.x.tensor.buffer, g.weight.buffer]));
  if (new Set(written).size !== written.length || written.some((b) => read.has(b))) {
    throw new Error('shortConv: every cache and y needs a buffer of its own, apart from every x and weight');
  }

  const perDispatch = Math.max(1, Math.floor(ctx.caps.maxStorageBuffersPerStage / 4));
  const specs: DispatchSpec[] = [];
  for (let first = 0; first < resolved.length; first += perDispatch) {
    specs.push(...shortConvDispatches(ctx, resolved.slice(first, first + perDispatch), T, D, K));
  }
  return specs;
}

type ResolvedGroup = ShortConvArgs & { x: ResolvedRows };

function shortConvDispatches(ctx: GpuContext, groups: readonly ResolvedGroup[], T: number, D: number, K: number): DispatchSpec[] {
  const wg = Math.min(ctx.caps.maxInvocationsPerWorkgroup, ctx.caps.maxWorkgroupSizeX, ctx.caps.subgroupSize * 4);
  const channelGroups = Math.ceil(D / wg);
  // Enough token runs to fill the device, but never more workgroups per dimension than allowed.
  const tokensPerThread = Math.max(Math.ceil(T / ctx.caps.maxWorkgroupsPerDimension), Math.min(16, T));
  const tokenGroups = Math.ceil(T / tokensPerThread);
  const params = [T, D, tokensPerThread, 0, ...groups.flatMap((g) => [g.x.offset, g.x.rowStride])];
  const G = groups.length;
  const convBindings = groups.flatMap((g) => [g.x.tensor, g.weight, g.cache, g.y]);
  if (tokenGroups === 1) {
    // One thread sees every token of its channel (decode, short pieces): it rolls its own cache column.
    return [ctx.dispatch({
      kernel, defines: { K, WG: wg, GROUPS: G, ROLL_IN_PLACE: true, WRITES_CACHE: true }, params,
      bindings: convBindings, workgroups: [channelGroups, 1, G],
    })];
  }
  return [
    ctx.dispatch({
      kernel, defines: { K, WG: wg, GROUPS: G }, params,
      bindings: convBindings, workgroups: [channelGroups, tokenGroups, G],
    }),
    ctx.dispatch({
      kernel, defines: { K, WG: wg, GROUPS: G, CACHE_ROLL: true, WRITES_CACHE: true }, params,
      bindings: groups.flatMap((g) => [g.x.tensor, g.cache]), workgroups: [channelGroups, 1, G],
    }),
  ];
}
