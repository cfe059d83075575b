"""Prints one `ctxbench infer --json` result in a few lines: speed, memory and the top of the decode profile."""
import json
import sys

# Dawn prints shader compilation warnings to stdout too, so the result is the last line that is a JSON object.
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
d = json.loads(lines[-1])
keys = ["promptTokens", "ttftMs", "prefillTokPerS", "tpotMeanMs", "tpotP50Ms", "tpotP90Ms", "decodeStepGpuMs", "decodeEncodeMs",
        "peakArenaBytes", "kvCacheBytes"]
print({k: round(d[k], 2) if isinstance(d.get(k), float) else d.get(k) for k in keys})
for p in d.get("decodeProfile", [])[:10]:
    print("  %-50s %4d %8.3f ms" % (p["kernel"], p["dispatches"], p["ms"]))
