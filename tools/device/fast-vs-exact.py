# Compares two `ctxbench infer --logits-out` runs of the same random model and prompt on the GPU machine: the
# fast paths (tensor-core GEMM, f16 MLA prefill) against the exact ones (CTXBENCH_GEMM_PATH=scalar,
# CTXBENCH_MLA_PREFILL=f32). Usage: python3 fast-vs-exact.py FAST.f32 EXACT.f32 VOCAB
import sys
import numpy as np
fast = np.fromfile(sys.argv[1], dtype='<f4')
exact = np.fromfile(sys.argv[2], dtype='<f4')
vocab = int(sys.argv[3])
fast, exact = fast.reshape(-1, vocab), exact.reshape(-1, vocab)
rel = float(np.abs(fast - exact).max() / np.abs(exact).max())
rows = np.linalg.norm(fast - exact, axis=1) / np.linalg.norm(exact, axis=1)
agree = float((fast.argmax(-1) == exact.argmax(-1)).mean())
finite = bool(np.isfinite(fast).all())
print(f'fast vs exact over {exact.shape[0]} positions: max-abs rel {rel:.2e}, per-row L2 rel median {np.median(rows):.2e} '
      f'max {rows.max():.2e}, argmax agreement {agree:.4f}, all finite {finite}')
