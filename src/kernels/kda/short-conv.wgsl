// KDA causal depthwise short conv + SiLU (spec §3 step 2). Thread = one channel over a run of tokens; history
// before token 0 comes from the decode cache (the last K-1 pre-conv inputs). CACHE_ROLL builds the second
// pass, which moves the cache forward once every conv thread has read the old rows. ROLL_IN_PLACE fuses that
// roll into the conv pass when one thread covers all T tokens of its channel (decode), saving a dispatch.
// GROUPS independent convs of the same T, D, K (KDA's q, k and v) share one dispatch: grid z picks the group,
// each group has its own bindings (x, weight, cache, y; the roll pass x, cache), written out per group because
// WGSL cannot index bindings.
struct Params {
  T: u32, D: u32, tokensPerThread: u32, pad: u32,
#unroll G GROUPS
  xOffset{{G}}: u32, xStride{{G}}: u32,
#endunroll
}
@group(0) @binding(0) var<uniform> params: Params;

const K: i32 = {{K}};

#unroll G GROUPS
#if CACHE_ROLL
@group(0) @binding(1 + 2 * {{G}}) var<storage, read> x{{G}}: array<f32>;
@group(0) @binding(2 + 2 * {{G}}) var<storage, read_write> cache{{G}}: array<f32>;
#else
@group(0) @binding(1 + 4 * {{G}}) var<storage, read> x{{G}}: array<f32>;
@group(0) @binding(2 + 4 * {{G}}) var<storage, read> weight{{G}}: array<f32>;
#if ROLL_IN_PLACE
@group(0) @binding(3 + 4 * {{G}}) var<storage, read_write> cache{{G}}: array<f32>;
#else
@group(0) @binding(3 + 4 * {{G}}) var<storage, read> cache{{G}}: array<f32>;
#endif
@group(0) @binding(4 + 4 * {{G}}) var<storage, read_write> y{{G}}: array<f32>;
#endif

// Pre-conv input of token `row` (negative rows index the cache, whose last row is token -1).
fn history{{G}}(row: i32, c: u32) -> f32 {
  if (row < 0) { return cache{{G}}[u32(K - 1 + row) * params.D + c]; }
  return x{{G}}[params.xOffset{{G}} + u32(row) * params.xStride{{G}} + c];
}

#if WRITES_CACHE
// Ascending r reads row T+r ≥ r of the old cache before anything overwrites it, so in place is safe.
fn roll{{G}}(c: u32) {
  for (var r = 0; r < K - 1; r++) { cache{{G}}[u32(r) * params.D + c] = history{{G}}(i32(params.T) - (K - 1) + r, c); }
}
#endif

#if CACHE_ROLL
#else
fn conv{{G}}(c: u32, t0: u32, t1: u32) {
  var w: array<f32, {{K}}>;
  for (var j = 0; j < K; j++) { w[j] = weight{{G}}[c * u32(K) + u32(j)]; }
  for (var t = t0; t < t1; t++) {
    var acc = 0.0;
    for (var j = 0; j < K; j++) { acc += w[j] * history{{G}}(i32(t) - (K - 1) + j, c); }
    y{{G}}[t * params.D + c] = acc / (1.0 + exp(-acc));
  }
#if ROLL_IN_PLACE
  roll{{G}}(c); // this thread alone read channel c's cache, and it is done with it
#endif
}
#endif
#endunroll

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let c = wg.x * {{WG}}u + lane;
  if (c >= params.D) { return; }
  let t0 = wg.y * params.tokensPerThread;
  let t1 = min(params.T, t0 + params.tokensPerThread);
#unroll G GROUPS
  if (wg.z == {{G}}u) {
#if CACHE_ROLL
    roll{{G}}(c);
#else
    conv{{G}}(c, t0, t1);
#endif
  }
#endunroll
}
