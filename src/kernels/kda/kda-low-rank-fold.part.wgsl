// Decode's low-rank gate projection folded into the kernel that reads it (kda-low-rank-fold.ts): value(row) =
// Σ_k W[row, k] · x[k] for one output channel, x = the low-rank input row (f_a h or g_a h). The kernel declares
// `lowRankIn` (x's buffer) and stages its row here once per workgroup, before a barrier it already has; each
// thread then reads whole weight rows (K values: 256 bytes in f16 for K = 128) for its own channels.
#if LOWRANK_F16
@group(0) @binding({{LOWRANK_BINDING}}) var<storage, read> lowRankWeight: array<vec4<u32>>;
// K is a multiple of 8 (checked by the wrapper): 8 halves per 16-byte load against two staged vec4s.
var<workgroup> lowRankRow: array<vec4<f32>, {{LOWRANK_K}} / 4>;

fn stageLowRankRow(base: u32, lane: u32) {
  for (var c = lane; c < {{LOWRANK_K}}u / 4u; c += {{WG}}u) {
    let at = base + 4u * c;
    lowRankRow[c] = vec4<f32>(lowRankIn[at], lowRankIn[at + 1u], lowRankIn[at + 2u], lowRankIn[at + 3u]);
  }
}

fn lowRankDot(row: u32) -> f32 {
  let base = row * ({{LOWRANK_K}}u / 8u);
  var acc = 0.0;
  // Written out so every 16-byte weight load of the row is in flight at once.
#unroll C LOWRANK_CHUNKS
  let w{{C}} = lowRankWeight[base + {{C}}u];
  acc += dot(vec4<f32>(unpack2x16float(w{{C}}.x), unpack2x16float(w{{C}}.y)), lowRankRow[2u * {{C}}u])
       + dot(vec4<f32>(unpack2x16float(w{{C}}.z), unpack2x16float(w{{C}}.w)), lowRankRow[2u * {{C}}u + 1u]);
#endunroll
  return acc;
}
#else
// f32 weights (golden parity): any K, one value at a time.
@group(0) @binding({{LOWRANK_BINDING}}) var<storage, read> lowRankWeight: array<f32>;
var<workgroup> lowRankRow: array<f32, {{LOWRANK_K}}>;

fn stageLowRankRow(base: u32, lane: u32) {
  for (var k = lane; k < {{LOWRANK_K}}u; k += {{WG}}u) { lowRankRow[k] = lowRankIn[base + k]; }
}

fn lowRankDot(row: u32) -> f32 {
  let base = row * {{LOWRANK_K}}u;
  var acc = 0.0;
  for (var k = 0u; k < {{LOWRANK_K}}u; k++) { acc = fma(lowRankWeight[base + k], lowRankRow[k], acc); }
  return acc;
}
#endif
