#!/bin/bash
# One GPU-machine command: [verify] + train both models side by side (hybrid leads, MLA follows) [+ eval].
# Run from the repo root with carry [".train-data"]; do not tee into $OUT (at most 8 files come back:
# verify.json, 2 logs, 4 checkpoint files, or in a final call 2 weight files + 2 eval files).
# Usage: bash tools/train/device_run.sh VERIFY(0|1) TRAIN_MIN TOTAL_MIN FINAL(0|1) [CKPT_IN]
#   env TRAIN_EXTRA (extra train.py flags, e.g. a small --batch for a CPU dry run),
#   EVAL_N (32), EVAL_LENGTHS (1024,2048,4096,8192), EVAL_TIMEOUT (120 s)
#   FINAL=1 saves bf16 weights only and runs eval_longctx.py on both models afterwards.
#   INIT_FROM (a folder of <model>_weights.pt): warm start both models there, fresh optimizer and schedule.
#   TRAIN_DATA (default .train-data): the text + word lists, e.g. a carried copy holding only those files.
set -u
VERIFY=$1; MINUTES=$2; TOTAL=$3; FINAL=$4; CKPT_IN=${5:-}
export PYTHONUNBUFFERED=1
[ -n "${TRAIN_DATA:-}" ] && export TRAIN_DATA=$(readlink -f "$TRAIN_DATA")
[ -n "${INIT_FROM:-}" ] && INIT_FROM=$(readlink -f "$INIT_FROM")
cd tools/train
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
if [ "$VERIFY" = 1 ]; then
  python3 verify_kda.py "$OUT/verify.json" 2>&1 | grep -v 'falling back'
  grep -q '"pass": true' "$OUT/verify.json" || { echo 'KDA verification failed: not training'; exit 1; }
fi
mkdir -p "$OUT/ck"
PUB=/tmp/hybrid_steps.txt; rm -f $PUB
IN="${CKPT_IN:+--ckpt-in $CKPT_IN} ${INIT_FROM:+--init-from $INIT_FROM}"
EXTRA=""; [ "$FINAL" = 1 ] && EXTRA="--weights-only"
python3 train.py --model hybrid $IN --ckpt-out "$OUT/ck" --minutes "$MINUTES" --total-minutes "$TOTAL" $EXTRA \
  ${TRAIN_EXTRA:-} --publish $PUB --log "$OUT/train_hybrid.log" > /tmp/hybrid.out 2>&1 &
H=$!
python3 train.py --model mla $IN --ckpt-out "$OUT/ck" --minutes "$MINUTES" --total-minutes "$TOTAL" $EXTRA \
  ${TRAIN_EXTRA:-} --follow $PUB --log "$OUT/train_mla.log" > /tmp/mla.out 2>&1 &
M=$!
wait $H; HRC=$?
echo "hybrid exit $HRC"
if [ $HRC != 0 ]; then  # the follower would wait for steps that never come
  kill $M; grep -v 'falling back' /tmp/hybrid.out | tail -25; exit 1
fi
wait $M; echo "mla exit $?"
grep -v 'falling back' /tmp/hybrid.out | tail -3; grep -v 'falling back' /tmp/mla.out | tail -3
# The eval is capped (EVAL_TIMEOUT s) so the command ends inside its limit; the JSON holds the rows done so far.
EVAL_N=${EVAL_N:-32}; EVAL_LENGTHS=${EVAL_LENGTHS:-1024,2048,4096,8192}; EVAL_TIMEOUT=${EVAL_TIMEOUT:-120}
if [ "$FINAL" = 1 ]; then
  for m in hybrid mla; do
    timeout "$EVAL_TIMEOUT" python3 eval_longctx.py --model $m --ckpt "$OUT/ck" --out "$OUT/eval_$m.json" \
      --n "$EVAL_N" --lengths "$EVAL_LENGTHS" 2>&1 | grep -v 'falling back' | sed "s/^/$m /" &
  done
  wait
fi
