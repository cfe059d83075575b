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

// The value multiplied into W[n, k]: x[k], or with NORM γ[k] · x[k] (its square added to sq).
fn input(k: u32, sq: ptr<function, f32>) -> f32 {
#if NORM
  let v = rawX(k);
  *sq = fma(v, v, *sq);
  return v * gamma[k];
#else
  return x[k];
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
  let row = n * (params.K / 2u);
  for (var p = li; p < params.K / 2u; p += WG) {
    let h = unpack2x16float(w[row + p]);
    let x0 = input(2u * p, &sq);
    acc = fma(h.x, x0, fma(h.y, input(2u * p + 1u, &sq), acc));
  }
#else
  let row = n * params.K;
  for (var k = li; k < params.K; k += WG) { acc = fma(w[row + k], input(k, &sq), acc); }
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
