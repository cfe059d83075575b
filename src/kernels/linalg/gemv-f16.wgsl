// Bandwidth GEMV for decode with f16 weights: out[n] = Σ_k x[k] · W[n, k]. Each workgroup owns ROWS rows;
// every lane walks K in 16-byte chunks (8 halves, one vec4<u32>) so a subgroup reads consecutive bytes of a
// row, the x chunk is loaded once and reused for all ROWS rows, and partial sums reduce with subgroupAdd,
// then across subgroups through workgroup memory. K is a multiple of 8 (the wrapper checks). A weight split
// over bindings along N writes its rows at col_offset.
// NORM (decode): x is the raw residual-stream row and the GEMV applies the RMSNorm in front of it itself,
// out[n] = inv · Σ_k W[n, k] · (γ[k] · x[k]), inv = 1 / sqrt(mean(x²) + eps), with Σx² taken from the chunks the
// workgroup reads anyway: the norm's own dispatch (one workgroup, ~4–6 µs of a decode step) disappears.
enable subgroups;

struct Params { N: u32, K: u32, col_offset: u32, eps: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#if NORM
@group(0) @binding(4) var<storage, read> gamma: array<vec4<f32>>;
#if RESIDUAL
// x is read as x + residual: the residual add the norm's dispatch would have made (the combine stores it).
@group(0) @binding(5) var<storage, read> residual: array<vec4<f32>>;
fn rawX(i: u32) -> vec4<f32> { return x[i] + residual[i]; }
#else
fn rawX(i: u32) -> vec4<f32> { return x[i]; }
#endif
#endif

const WG = {{WG}}u;
const ROWS = {{ROWS}}u;
// Slots for one partial per subgroup per row; subgroups are at least MIN_SG lanes wide.
const SLOTS = WG / {{MIN_SG}}u;
var<workgroup> partial: array<f32, SLOTS * ROWS>;
#if NORM
var<workgroup> squares: array<f32, SLOTS>;
#endif

fn dot8(word: vec4<u32>, lo: vec4<f32>, hi: vec4<f32>) -> f32 {
  let a = unpack2x16float(word.x);
  let b = unpack2x16float(word.y);
  let c = unpack2x16float(word.z);
  let d = unpack2x16float(word.w);
  return dot(vec4<f32>(a, b), lo) + dot(vec4<f32>(c, d), hi);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32,
        @builtin(subgroup_size) sg_size: u32) {
  let n0 = (wg.x + wg.y * grid.x) * ROWS;
  let chunks = params.K / 8u;
  var acc: array<f32, ROWS>;
#if NORM
  var sq = 0.0;
#endif
  for (var c = li; c < chunks; c += WG) {
#if NORM
    let xlo = rawX(2u * c);
    let xhi = rawX(2u * c + 1u);
    sq += dot(xlo, xlo) + dot(xhi, xhi);
    let lo = xlo * gamma[2u * c];
    let hi = xhi * gamma[2u * c + 1u];
#else
    let lo = x[2u * c];
    let hi = x[2u * c + 1u];
#endif
    for (var r = 0u; r < ROWS; r++) {
      let n = min(n0 + r, params.N - 1u);
      acc[r] += dot8(w[n * chunks + c], lo, hi);
    }
  }
#if NORM
  let sqSum = subgroupAdd(sq);
  if (lane == 0u) { squares[li / sg_size] = sqSum; }
#endif
#include "gemv-rows-subgroup-sum.part.wgsl"
}
