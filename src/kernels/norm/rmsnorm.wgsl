// RMSNorm over rows: out[r] = x[r] / sqrt(mean(x[r]²) + eps) ⊙ weight, mean of squares in f32.
// RESIDUAL first adds the residual branch into x in place (x += residual), the add kernel's f32 sum, so the
// residual update and the next norm take one dispatch with the same numbers as the two.
// SUBGROUPS: subgroupAdd per subgroup, one slot each, every lane adds the slots (one barrier instead of a tree of
// log2(WG)): a decode step runs ~55 of these one-row norms.
#if SUBGROUPS
enable subgroups;
#endif
struct Params { rows: u32, dim: u32, eps: f32, pad: u32 }
@group(0) @binding(0) var<uniform> params: Params;
#if RESIDUAL
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#endif

const WG = {{WG}}u;
var<workgroup> partial: array<f32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
#if SUBGROUPS
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32,
#endif
        @builtin(local_invocation_index) li: u32) {
  let r = wg.x + wg.y * grid.x;
  if (r >= params.rows) { return; }
  let base = r * params.dim;
  var sum = 0.0;
#if PER
  let last = base + params.dim - 1u; // clamped, unpredicated loads: all of them go out before the first store
  // The row's PER elements per invocation stay in registers, and every load is issued before the first store:
  // a loop that loads, adds and stores x (which the compiler must assume may alias the other bindings) waited
  // out one memory latency per step, ~7.6 µs per 2304-wide decode norm on the H100.
#unroll j PER
  let i{{j}} = li + {{j}}u * WG;
#if RESIDUAL
  let v{{j}} = select(0.0, x[min(base + i{{j}}, last)] + residual[min(base + i{{j}}, last)], i{{j}} < params.dim);
#else
  let v{{j}} = select(0.0, x[min(base + i{{j}}, last)], i{{j}} < params.dim);
#endif
#endunroll
#unroll j PER
  sum = fma(v{{j}}, v{{j}}, sum);
#endunroll
#if RESIDUAL
#unroll j PER
  if (i{{j}} < params.dim) { x[base + i{{j}}] = v{{j}}; }
#endunroll
#endif
#else
  for (var i = li; i < params.dim; i += WG) {
#if RESIDUAL
    let v = x[base + i] + residual[base + i];
    x[base + i] = v; // read back below by this same invocation only
#else
    let v = x[base + i];
#endif
    sum = fma(v, v, sum);
  }
#endif
#if SUBGROUPS
  // Subgroups are laid out linearly over local_invocation_index on the drivers we run (NVIDIA, Mesa).
  let part = subgroupAdd(sum);
  if (lane == 0u) { partial[li / sg_size] = part; }
  workgroupBarrier();
  var total = 0.0;
  for (var s = 0u; s < WG / sg_size; s++) { total += partial[s]; }
#else
  partial[li] = sum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { partial[li] += partial[li + s]; }
    workgroupBarrier();
  }
  let total = partial[0];
#endif
  let inv = inverseSqrt(total / f32(params.dim) + params.eps);
#if PER
#unroll j PER
  if (i{{j}} < params.dim) { out[base + i{{j}}] = v{{j}} * inv * weight[i{{j}}]; }
#endunroll
#else
  for (var i = li; i < params.dim; i += WG) { out[base + i] = x[base + i] * inv * weight[i]; }
#endif
}
