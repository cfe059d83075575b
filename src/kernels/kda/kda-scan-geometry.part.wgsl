// Geometry shared by the tensor-core KDA scans (kda-chunk-scan-tc, kda-chunk-scan-f16): one 16-column value slice
// per workgroup and two subgroups per 16-row tile of a chunk.
const DK: u32 = {{DK}}u;
const C: u32 = {{C}}u;
const VS: u32 = 16u;
const SG: u32 = {{SUBGROUP_SIZE}}u;
const RT: u32 = C / 16u;          // row tiles of a chunk
const KT: u32 = DK / 16u;         // channel tiles
const NSG: u32 = 2u * RT;
const THREADS: u32 = NSG * SG;
const VE: u32 = C * VS / THREADS;  // V' (and O) elements per thread (= 128 / SG)
const SE: u32 = (DK * VS + THREADS - 1u) / THREADS; // state elements per thread
