# Shared by the scripts in this folder: paths and tool locations. Source it, don't run it.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
export WRANGLER_SEND_METRICS=false
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
BUILD_DIR="$ROOT/workers/edge/build"
# Size (README "Size"): the goal is 300 KiB (307,200 bytes) of release wasm under gzip -9;
# scripts/test fails above the ceiling, a ratchet set just above the size reached so far.
# Lower it as cuts land, never raise it without saying why. (301,689 bytes at stop 11,
# with ~1.8 KB of margin so a clean machine's build cannot trip it.)
SIZE_GOAL_GZ=307200
SIZE_CEILING_GZ=303500

# The release wasm's gzip -9 size, as scripts/bench and scripts/test measure it.
wasm_gzip_size() {
  gzip -9 -c "$BUILD_DIR/index_bg.wasm" | wc -c
}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# The wasm-bindgen version the lockfile pins: the CLI must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}
