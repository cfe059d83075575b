// Shared by kda-chunk-intra.wgsl and kda-chunk-intra-blocked.wgsl (#include at module scope): the two intra
// variants take the same inputs and write the same scratch, so kda-chunk.ts binds either one the same way (the
// blocked one in f32 or, with SPLIT_OUT, in the tensor-core scan's split form: same buffers, same bytes per value).
struct Params { T: u32, H: u32, dv: u32, nChunks: u32, vOffset: u32, vStride: u32, dk: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> v: array<f32>;
#if SPLIT_OUT
// The blocked pass under SPLIT_OUT writes q̃G, kG, W and P as kda-chunk-split16.wgsl would leave them (f16 hi/lo
// pairs of 2^8·x): q̃G and kG one half at a time, W and P as packed words of four neighbouring columns. W stays
// u32 so that the parked X (f32 bits) survives exactly until the product overwrites it (needs `enable f16;`).
@group(0) @binding(6) var<storage, read_write> qG: array<f16>;
@group(0) @binding(7) var<storage, read_write> kG: array<f16>;
@group(0) @binding(8) var<storage, read_write> W: array<u32>;
#else
@group(0) @binding(6) var<storage, read_write> qG: array<f32>;
@group(0) @binding(7) var<storage, read_write> kG: array<f32>;
@group(0) @binding(8) var<storage, read_write> W: array<f32>;
#endif
@group(0) @binding(9) var<storage, read_write> U: array<f32>;
#if SPLIT_OUT
@group(0) @binding(10) var<storage, read_write> P: array<u32>;
#else
@group(0) @binding(10) var<storage, read_write> P: array<f32>;
#endif
@group(0) @binding(11) var<storage, read_write> decayLast: array<f32>;
