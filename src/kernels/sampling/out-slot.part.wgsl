// Shared by sampling/argmax.wgsl and sampling/top-p.wgsl (#include at module scope): where the sampled token
// goes. Replayed decode lists (SEQ_LEN) write it at seq_len + out_index, the next step's input position.
fn out_slot() -> u32 {
#if SEQ_LEN
  return seq_len[0] + params.out_index;
#else
  return params.out_index;
#endif
}
