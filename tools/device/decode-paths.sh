# One device call: the random 48B shape (f16 weights, 64 experts) and its all-MLA twin decode the same random
# prompt with each MLA decode split pass (tensor cores, subgroup heads); the prefill is the same code, so the
# greedy ids show where the decode paths part (f16 query and weights against f32 arithmetic; random weights
# leave near ties). Prints the agreement and each path's TPOT.
# Usage: run(carry [".device"], "bash tools/device/decode-paths.sh"); env PROMPT (4096), TOKENS (32).
source .device/setup.sh >/dev/null 2>&1
for shape in kimi-linear-48b kimi-linear-48b-mla; do
  for mode in tensor-cores subgroup; do
    env_mode=$([ $mode = tensor-cores ] && echo "" || echo $mode)
    CTXBENCH_MLA_DECODE=$env_mode timeout 200 node dist/cli.js infer --random-weights $shape --random-experts 64 --weights f16 \
      --random-prompt ${PROMPT:-4096} --max-tokens ${TOKENS:-32} --piece 8192 --json > /tmp/paths-$shape-$mode.json 2>/tmp/paths-$shape-$mode.err \
      || grep -v -i warn /tmp/paths-$shape-$mode.err | tail -3
  done
done
python3 - <<'PY'
import json
def load(p):
    lines = [l for l in open(p) if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None
for shape in ["kimi-linear-48b", "kimi-linear-48b-mla"]:
    a, b = load(f"/tmp/paths-{shape}-tensor-cores.json"), load(f"/tmp/paths-{shape}-subgroup.json")
    if not a or not b: print(shape, "missing result"); continue
    ia, ib = a["ids"], b["ids"]
    same = next((i for i, (x, y) in enumerate(zip(ia, ib)) if x != y), len(ia))
    print(f"{shape}: greedy ids equal for the first {same} of {len(ia)} ({sum(x == y for x, y in zip(ia, ib))} equal in all); "
          f"TPOT p50 tensor-cores {a['tpotP50Ms']:.2f} ms, subgroup {b['tpotP50Ms']:.2f} ms; kv {a['kvCacheBytes']} B")
PY
