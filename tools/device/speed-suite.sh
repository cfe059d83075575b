# One device call after `bash tools/device-pack.sh`: run(carry [".device"], "bash tools/device/speed-suite.sh").
# 1. golden parity (parity.txt); 2. PyTorch anchors + kernel bench (KERNELS) into one perf.db; 3. decode with
# and without fused projections at FUSION_LEN tokens (per-kernel decode profile); 4. decode-only TPOT at
# DECODE_AT context lengths for the hybrid and its all-MLA twin (empty: skipped); 5. end-to-end prompts of LONG_LEN
# tokens. FUSION_LEN="" skips step 3. Writes at most 4 files to $OUT; infer results are summarised on stdout.
source .device/setup.sh
export DAWN_DISABLE_FEATURES=timestamp_quantization
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
G=test/fixtures/golden
for pair in hybrid:hybrid all-mla:all-mla odd:odd hybrid-moonshot:hybrid; do
  f=${pair%%:*}; g=${pair##*:}
  mkdir -p /tmp/p; node dist/cli.js infer --model $G/$f --ids $G/$g/golden.json --max-tokens 32 --json --piece 64 --logits-out /tmp/p/$f.f32 > /tmp/p/$f.json 2>>/tmp/parity.err
done
python3 tools/device/compare-golden.py $G /tmp/p > $OUT/parity.txt 2>&1; tail -6 $OUT/parity.txt
python3 bench/anchors.py /tmp/anchors.json --lengths 8192 > /tmp/anchors.log 2>&1 || tail -3 /tmp/anchors.log
node dist/cli.js bench --shape kimi-linear-48b --kernels ${KERNELS:-kda,mla-decode,moe,gemv,copy} --repeat 3 \
  --ingest-anchors /tmp/anchors.json --db $OUT/perf.db --json $OUT/kernels.json 2>&1 | grep -E '^(kernel|anchor|bench) |error' | grep -v -i warning
FUSION_LEN=${FUSION_LEN-8192}
for f in ${FUSION_LEN:+off on}; do
  CTXBENCH_DECODE_FUSION=$f timeout 120 node dist/cli.js infer --random-weights kimi-linear-48b --random-experts 64 --weights f16 \
    --random-prompt $FUSION_LEN --max-tokens 32 --piece 8192 --json --profile-decode > /tmp/fusion-$f.json 2>/tmp/fusion-$f.err
  echo "fusion $f: rc=$?"
  python3 tools/device/summarize-infer.py /tmp/fusion-$f.json || { head -c 400 /tmp/fusion-$f.json; grep -v -i warn /tmp/fusion-$f.err | grep -v '^ *[0-9.]* ms' | tail -5; }
done
for n in ${LONG_LEN:-}; do
  timeout ${LONG_TIMEOUT:-300} node dist/cli.js infer --random-weights kimi-linear-48b --random-experts 64 --weights f16 \
    --random-prompt $n --max-tokens 32 --piece ${PIECE:-8192} --json --profile-decode > /tmp/long-$n.json 2>/tmp/long-$n.err
  echo "long $n: rc=$?"; python3 tools/device/summarize-infer.py /tmp/long-$n.json || grep -v -i warn /tmp/long-$n.err | tail -5
done
[ "${DECODE_AT-256k,512k,1m}" != "" ] && node dist/cli.js bench --shape kimi-linear-48b --experts 64 --decode-at ${DECODE_AT:-256k,512k,1m} --decode-tokens 16 \
  --ingest-anchors /tmp/anchors.json --db $OUT/perf.db --json $OUT/decode-at.json 2>&1 | grep -v -i warning | grep -v '^ *$' | tail -40
