# One device call after `bash tools/device-pack.sh`: run(carry [".device"], "bash tools/device/mla-chunk-major.sh").
# Chunk-major MLA prefill on the device: 1. the tensor-core kernel's randomized checks incl. key blocks with a carry
# (mla-f16-check.mjs); 2. the random dense 48B twin at N tokens with tiny key blocks (KB) against one block over all
# keys, on the tensor-core path and on the exact f32 path (same weights, same prompt: only block order differs),
# then the two blocked runs against each other (f16 MLA prefill incl. the f16 kv_b expansion vs exact f32 MLA);
# 3. TTFT and peak memory at LEN tokens: default, one block (CTXBENCH_MLA_KEY_BLOCK=LEN), f32 kv_b expansion.
source .device/setup.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $OUT/gpu.txt
node tools/device/mla-f16-check.mjs 2>&1 | grep -E "^(probe|PASS|FAIL)" | tee $OUT/mla-f16-check.txt
R="--random-weights ${SHAPE:-kimi-linear-48b-dense} --weights f16 --max-tokens 1 --json"
N=${N:-2048}; KB=${KB:-256}; P=${PIECE:-512}  # --logits-out writes N × 163840 f32 (1.3 GB at 2048)
for path in f16 f32; do
  E=""; [ $path = f32 ] && E="CTXBENCH_MLA_PREFILL=f32"
  env $E CTXBENCH_MLA_KEY_BLOCK=$KB node dist/cli.js infer $R --random-prompt $N --piece $P --logits-out /tmp/blocks.f32 > $OUT/blocks-$path.json 2>/tmp/b.err || grep -v Warning /tmp/b.err | tail -5
  env $E CTXBENCH_MLA_KEY_BLOCK=$N node dist/cli.js infer $R --random-prompt $N --piece $P --logits-out /tmp/one.f32 > $OUT/one-$path.json 2>/tmp/o.err || grep -v Warning /tmp/o.err | tail -5
  echo "$path path, KB $KB vs one block, N $N, piece $P:" | tee -a $OUT/blocks.txt
  python3 tools/device/fast-vs-exact.py /tmp/blocks.f32 /tmp/one.f32 163840 | tee -a $OUT/blocks.txt
  mv /tmp/blocks.f32 /tmp/blocks-$path.f32; rm -f /tmp/one.f32
done
echo "f16 MLA prefill vs exact f32 MLA prefill, both KB $KB:" | tee -a $OUT/blocks.txt
python3 tools/device/fast-vs-exact.py /tmp/blocks-f16.f32 /tmp/blocks-f32.f32 163840 | tee -a $OUT/blocks.txt
rm -f /tmp/blocks-*.f32
L=${LEN:-32768}
for kb in default $L expand-f32; do
  E=""; [ $kb = $L ] && E="CTXBENCH_MLA_KEY_BLOCK=$kb"; [ $kb = expand-f32 ] && E="CTXBENCH_MLA_EXPAND=f32"
  env $E timeout ${STEP_TIMEOUT:-240} node dist/cli.js infer --random-weights kimi-linear-48b --random-experts ${EXPERTS:-64} --weights f16 \
    --random-prompt $L --max-tokens 8 --piece ${LONG_PIECE:-8192} --json > $OUT/ttft-$L-kb-$kb.json 2>/tmp/t.err
  echo "len $L KB $kb rc=$?"; cut -c1-1200 $OUT/ttft-$L-kb-$kb.json; grep -v Warning /tmp/t.err | tail -3
done
