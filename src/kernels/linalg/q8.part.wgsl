// Shared by gemv-q8.wgsl, dequant-q8.wgsl and moe/expert-gemv-q8.wgsl: reading the q8 format
// (linalg/q8-format.ts). A row's values are padded_k int8 (4 per u32, 16 per vec4 chunk); its scales are f16
// pairs, scale_stride halves per row (even). The including kernel binds `scales`.

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

// One 16-byte chunk of int8 values against the 16 matching x values.
fn int8_dot(word: vec4<u32>, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>) -> f32 {
  return dot(vec4<f32>(unpack4xI8(word.x)), x0) + dot(vec4<f32>(unpack4xI8(word.y)), x1)
       + dot(vec4<f32>(unpack4xI8(word.z)), x2) + dot(vec4<f32>(unpack4xI8(word.w)), x3);
}
