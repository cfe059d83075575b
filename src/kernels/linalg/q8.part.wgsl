// Shared by gemv-q8.wgsl and dequant-q8.wgsl: reading the q8 format (linalg/q8-format.ts). A row's values are
// padded_k int8 (4 per u32, 16 per vec4 chunk); its scales are f16 pairs, scale_stride halves per row (even).
// Scale of 16-value chunk c of binding row `row` (a group of 32 spans two chunks).
fn q8_scale(row: u32, c: u32, scale_stride: u32) -> f32 {
  let h = row * scale_stride + c / 2u;
  let pair = unpack2x16float(scales[h / 2u]);
  return select(pair.x, pair.y, (h & 1u) == 1u);
}
