// The operand and result types of a 16×16×16 f16 → f32 subgroup-matrix product, zeroAcc and mma. Under EMULATE
// each lane holds a whole operand tile (row-major, 256 values) and elements sgLane + SG·i of the result, and mma
// is scalar code over the same operands, so lavapipe tests everything around the builtins. The kernel defines SG
// and sets sgLane (its lane within the subgroup) before any mma; loads and stores stay in the kernel, which knows
// its arrays and strides.
const EPL: u32 = 256u / SG; // result elements per lane
var<private> sgLane: u32;
#if EMULATE
alias Left = array<f32, 256>;
alias Right = array<f32, 256>;
alias Acc = array<f32, EPL>;
fn mma(a: Left, b: Right, c: Acc) -> Acc {
  var o = c;
  for (var i = 0u; i < EPL; i++) {
    let e = sgLane + i * SG;
    var s = 0.0;
    for (var k = 0u; k < 16u; k++) { s += a[(e / 16u) * 16u + k] * b[k * 16u + e % 16u]; }
    o[i] += s;
  }
  return o;
}
#else
alias Left = subgroup_matrix_left<f16, 16, 16>;
alias Right = subgroup_matrix_right<f16, 16, 16>;
alias Acc = subgroup_matrix_result<f32, 16, 16>;
fn mma(a: Left, b: Right, c: Acc) -> Acc { return subgroupMatrixMultiplyAccumulate(a, b, c); }
#endif
fn zeroAcc() -> Acc { return Acc(); }
