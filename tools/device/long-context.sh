# One device call after `bash tools/device-pack.sh`: run(carry [".device"], "bash tools/device/long-context.sh").
# 1. golden parity (exact f32 path) on the fixtures; 2. fast vs exact logits of the random 48B shape at FAST_LEN
# tokens (f16 weights: tensor-core GEMM + f16 MLA prefill against the scalar/f32 kernels); 3. one long prefill +
# 32 decode steps (LONG_LEN, piece PIECE) with per-piece progress, capped at LONG_TIMEOUT seconds.
# CHECKPOINT_EVERY=131072 saves the long prefill's state under .cache/prefill-checkpoints every that many tokens:
# a 1M prefill longer than one call resumes in the next call while the machine is still warm (same command;
# PARITY=0 and FAST=0 skip steps 1 and 2). LONG_TIMEOUT defaults to what is left of a 10-minute call (570 s in all).
source .device/setup.sh
set -o pipefail
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $OUT/gpu.txt
G=test/fixtures/golden
if [ "${PARITY:-1}" = 1 ]; then
for pair in hybrid:hybrid all-mla:all-mla odd:odd hybrid-moonshot:hybrid; do
  f=${pair%%:*}; g=${pair##*:}
  node dist/cli.js infer --model $G/$f --ids $G/$g/golden.json --max-tokens 32 --json --piece 64 --logits-out $OUT/$f.f32 > $OUT/$f.json 2>>/tmp/parity.err
done
python3 tools/device/compare-golden.py $G $OUT | tee $OUT/parity.txt || grep -v Warning /tmp/parity.err | tail -5
rm -f $OUT/*.f32 $OUT/{hybrid,all-mla,odd,hybrid-moonshot}.json
fi
if [ "${FAST:-1}" = 1 ]; then
# A dense twin by default: no MoE routing, so a small rounding difference cannot flip an expert choice.
R="--random-weights ${FAST_SHAPE:-kimi-linear-48b-dense} --weights f16 --max-tokens 1 --json"
N=${FAST_LEN:-1024}
node dist/cli.js infer $R --random-prompt $N --piece $N --logits-out /tmp/fast.f32 > $OUT/fast.json 2>/tmp/fast.err || grep -v Warning /tmp/fast.err | tail -5
CTXBENCH_GEMM_PATH=scalar CTXBENCH_MLA_PREFILL=f32 node dist/cli.js infer $R --random-prompt $N --piece $N --logits-out /tmp/exact.f32 > $OUT/exact.json 2>/tmp/exact.err || grep -v Warning /tmp/exact.err | tail -5
python3 tools/device/fast-vs-exact.py /tmp/fast.f32 /tmp/exact.f32 163840 | tee $OUT/fast-vs-exact.txt
rm -f /tmp/fast.f32 /tmp/exact.f32
fi
for n in ${LONG_LEN:-131072}; do
  ( while sleep 20; do nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader; done ) > $OUT/smi-$n.txt &
  S=$!
  timeout ${LONG_TIMEOUT:-$((570 - SECONDS))} node dist/cli.js infer --random-weights kimi-linear-48b --random-experts ${EXPERTS:-64} --weights f16 \
    --random-prompt $n --max-tokens 32 --piece ${PIECE:-8192} --json --progress --profile-decode \
    ${CHECKPOINT_EVERY:+--prefill-checkpoint .cache/prefill-checkpoints --checkpoint-every $CHECKPOINT_EVERY} > $OUT/long-$n.json 2>$OUT/long-$n.err
  echo "len $n rc=$?"; kill $S
  grep -v Warning $OUT/long-$n.err | grep -E "^(prefill|decode step)|^ +[0-9.]+ ms " | tail -45; cut -c1-1500 $OUT/long-$n.json; tail -3 $OUT/smi-$n.txt
done
