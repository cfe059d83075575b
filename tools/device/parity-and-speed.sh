# One device call after `bash tools/device-pack.sh`: run(carry [".device"], "bash tools/device/parity-and-speed.sh").
# GPU parity on the golden fixtures (logits compared with transformers' in numpy), then random 48B-shape
# speed runs of growing length. LENGTHS, EXPERTS, PIECE, STEP_TIMEOUT, SKIP_PARITY tune it.
source .device/setup.sh
nvidia-smi --query-gpu=name,memory.total --format=csv | tee $OUT/gpu.txt
G=test/fixtures/golden
if [ -z "$SKIP_PARITY" ]; then
  for pair in hybrid:hybrid all-mla:all-mla odd:odd hybrid-moonshot:hybrid; do
    f=${pair%%:*}; g=${pair##*:}
    node dist/cli.js infer --model $G/$f --ids $G/$g/golden.json --max-tokens 32 --json --piece 64 --logits-out $OUT/$f.f32 > $OUT/$f.json 2>>$OUT/parity.err
  done
  python3 tools/device/compare-golden.py $G $OUT | tee $OUT/parity.txt
  rm -f $OUT/*.f32
fi
for n in ${LENGTHS:-8192 32768}; do
  timeout ${STEP_TIMEOUT:-200} node dist/cli.js infer --random-weights kimi-linear-48b --random-experts ${EXPERTS:-64} \
    --weights f16 --random-prompt $n --max-tokens 32 --piece ${PIECE:-4096} --json --progress > $OUT/speed-$n.json 2>$OUT/speed-$n.err
  echo "len $n rc=$?"; cut -c1-2000 $OUT/speed-$n.json; grep -v Warning $OUT/speed-$n.err | tail -8
  nvidia-smi --query-gpu=memory.used --format=csv
done
