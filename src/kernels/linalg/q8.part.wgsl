// Shared by gemv-q8.wgsl, dequant-q8.wgsl and moe/expert-gemv-q8.wgsl: reading the q8 format
// (linalg/q8-format.ts). A row's values are padded_k int8 (4 per u32, 16 per vec4 chunk); its scales are f16
// pairs, scale_stride halves per row (even). The including kernel binds `scales`; Q8_MAGIC picks the
// conversion of int8_dot.

// Half h of a scale array, given the u32 word that holds it (word h / 2).
fn q8_half(word: u32, h: u32) -> f32 {
  let pair = unpack2x16float(word);
  return select(pair.x, pair.y, (h & 1u) == 1u);
}

// Scale of 16-value chunk c of binding row `row` (a group of 32 spans two chunks).
fn q8_scale(row: u32, c: u32, scale_stride: u32) -> f32 {
  let h = row * scale_stride + c / 2u;
  return q8_half(scales[h / 2u], h);
}

#if Q8_MAGIC
// The 4 int8 of a word as f32 without int-to-float conversions (a quarter-rate unit on NVIDIA: 16 bytes per
// SM clock, near what 3 TB/s asks): byte ^ 0x80 = b + 128 goes into the mantissa of 2^23, and 2^23 + 128 is
// subtracted exactly, so the values equal unpack4xI8's.
fn int8x4(word: u32) -> vec4<f32> {
  let u = word ^ 0x80808080u;
  let m = vec4<u32>(u & 0xffu, (u >> 8u) & 0xffu, (u >> 16u) & 0xffu, u >> 24u) | vec4<u32>(0x4b000000u);
  return bitcast<vec4<f32>>(m) - vec4<f32>(8388736.0);
}
#else
fn int8x4(word: u32) -> vec4<f32> {
  return vec4<f32>(unpack4xI8(word));
}
#endif

// One 16-byte chunk of int8 values against the 16 matching x values.
fn int8_dot(word: vec4<u32>, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>) -> f32 {
  return dot(int8x4(word.x), x0) + dot(int8x4(word.y), x1) + dot(int8x4(word.z), x2) + dot(int8x4(word.w), x3);
}
