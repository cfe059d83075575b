// Extensions and diagnostics of the kernels on 16×16×16 subgroup matrices (first lines of the kernel). EMULATE
// builds them without the subgroup-matrix extension (lavapipe has none; subgroup-matrix-ops.part.wgsl then does
// the builtins in scalar code).
enable f16;
enable subgroups;
#if EMULATE
#else
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
#endif
// Tiles are dealt by local_invocation_index / SG: subgroup-uniform, which the analysis cannot see.
diagnostic(off, subgroup_uniformity);
