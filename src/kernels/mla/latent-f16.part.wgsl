// f16 latent-cache rows, shared by the kernels that read them: each row holds DC halves padded to DCP (even),
// so every row starts on a word, packed two per u32 (unpack2x16float: no shader-f16 needed). The includer
// declares `cache: array<u32>` and the constant DC.
const DCP: u32 = DC + (DC & 1u);

// Column `col` of cache row `row`, widened to f32.
fn latentHalf(row: u32, col: u32) -> f32 {
  let i = row * DCP + col;
  return unpack2x16float(cache[i >> 1u])[i & 1u];
}
