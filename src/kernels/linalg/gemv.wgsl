// GEMV for decode (one activation row): out[col_offset + n] = Σ_k x[k] · W[n, k]. One workgroup per output
// row, lanes stride over K and reduce through workgroup memory. f16 weights are read two halves per word.
// NORM (decode): the RMSNorm in front is applied here, as in gemv-f16.wgsl: out[n] = inv · Σ_k W[n, k] γ[k] x[k]
// with Σx² reduced alongside; RESIDUAL: x is read as x + residual (the residual add the norm would have done).
struct Params { N: u32, K: u32, col_offset: u32, eps: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if W_F16
@group(0) @binding(2) var<storage, read> w: array<u32>;
#else
@group(0) @binding(2) var<storage, read> w: array<f32>;
#endif
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#if NORM
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
#if RESIDUAL
@group(0) @binding(5) var<storage, read> residual: array<f32>;
fn rawX(k: u32) -> f32 { return x[k] + residual[k]; }
#else
fn rawX(k: u32) -> f32 { return x[k]; }
#endif
var<workgroup> squares: array<f32, {{WG}}>;
#endif

const WG = {{WG}}u;
var<workgroup> partial: array<f32, {{WG}}>;

// The raw input value x[k] (x + residual with RESIDUAL), and what multiplies W[n, k]: itself, or γ[k] times it.
fn xin(k: u32) -> f32 {
#if NORM
  return rawX(k);
#else
  return x[k];
#endif
}
fn scaled(k: u32, v: f32) -> f32 {
#if NORM
  return v * gamma[k];
#else
  return v;
#endif
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let n = wg.x + wg.y * grid.x;
  if (n >= params.N) { return; }
  var acc = 0.0;
  var sq = 0.0;
#if W_F16
  // K is even (checked by the wrapper), so each row starts on a word boundary.
  let words = params.K / 2u;
  let row = n * words;
#if STEPS
  // STEPS words per lane, every load issued before the first product (a loop waited out each load in turn).
#unroll j STEPS
  let p{{j}} = min(li + {{j}}u * WG, words - 1u);
  let h{{j}} = unpack2x16float(w[row + p{{j}}]);
  let a{{j}} = xin(2u * p{{j}});
  let b{{j}} = xin(2u * p{{j}} + 1u);
  let sa{{j}} = scaled(2u * p{{j}}, a{{j}});
  let sb{{j}} = scaled(2u * p{{j}} + 1u, b{{j}});
#endunroll
#unroll j STEPS
  if (li + {{j}}u * WG < words) {
    acc = fma(h{{j}}.x, sa{{j}}, fma(h{{j}}.y, sb{{j}}, acc));
    sq = fma(b{{j}}, b{{j}}, fma(a{{j}}, a{{j}}, sq));
  }
#endunroll
#else
  for (var p = li; p < words; p += WG) {
    let h = unpack2x16float(w[row + p]);
    let a = xin(2u * p);
    let b = xin(2u * p + 1u);
    acc = fma(h.x, scaled(2u * p, a), fma(h.y, scaled(2u * p + 1u, b), acc));
    sq = fma(b, b, fma(a, a, sq));
  }
#endif
#else
  let row = n * params.K;
#if STEPS
#unroll j STEPS
  let k{{j}} = min(li + {{j}}u * WG, params.K - 1u);
  let wv{{j}} = w[row + k{{j}}];
  let a{{j}} = xin(k{{j}});
  let sa{{j}} = scaled(k{{j}}, a{{j}});
#endunroll
#unroll j STEPS
  if (li + {{j}}u * WG < params.K) {
    acc = fma(wv{{j}}, sa{{j}}, acc);
    sq = fma(a{{j}}, a{{j}}, sq);
  }
#endunroll
#else
  for (var k = li; k < params.K; k += WG) {
    let a = xin(k);
    acc = fma(w[row + k], scaled(k, a), acc);
    sq = fma(a, a, sq);
  }
#endif
#endif
  partial[li] = acc;
#if NORM
  squares[li] = sq;
#endif
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) {
      partial[li] += partial[li + s];
#if NORM
      squares[li] += squares[li + s];
#endif
    }
    workgroupBarrier();
  }
#if NORM
  if (li == 0u) { out[params.col_offset + n] = partial[0] * inverseSqrt(squares[0] / f32(params.K) + params.eps); }
#else
  if (li == 0u) { out[params.col_offset + n] = partial[0]; }
#endif
}
