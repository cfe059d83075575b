// Bindings 1–6 of KDA's per-head preparation, shared by kda-prepare.wgsl and kda-recurrent.wgsl (PREPARE,
// #include): post-conv q and k, the gate f (or with LOWRANK its low-rank input f_a h, the weight following at
// LOWRANK_BINDING), b, A_log and dt_bias.
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
#if LOWRANK
@group(0) @binding(3) var<storage, read> lowRankIn: array<f32>;
#include "kda-low-rank-fold.part.wgsl"
#else
@group(0) @binding(3) var<storage, read> f: array<f32>;
#endif
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(5) var<storage, read> aLog: array<f32>;
@group(0) @binding(6) var<storage, read> dtBias: array<f32>;
