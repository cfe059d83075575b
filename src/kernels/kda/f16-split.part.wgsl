// Shared by kda-chunk-split16.wgsl and kda-chunk-scan-tc.wgsl (#include at module scope): the f16 hi part of an f32,
// as an f32 that f16 holds exactly, rounded by integer ops on the bits (round half away from zero to 11
// significant bits). Not f32(f16(x)): compilers fold that round trip to x (NIR's inexact f2f32(f2f16(a)) → a on
// lavapipe; the H100 showed the same), which made every lo = x − f32(f16(x)) zero and the split scan f16-accurate
// (relErr 2.3e-4 at T = 1). Exact for |x| in f16's normal range; below 2^−14 the f16 conversion of hi rounds once
// more, an absolute error under 2^−25 (every caller scales its operands so that is negligible). Inf/NaN: callers
// keep |x| < 2^15.
fn f16HiPart(x: f32) -> f32 {
  return bitcast<f32>((bitcast<u32>(x) + 0x1000u) & 0xffffe000u);
}
