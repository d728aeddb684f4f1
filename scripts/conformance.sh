#!/usr/bin/env bash
# The main job: replays every committed fixture through its framework's adapter on the default
# engine (nb-wasm) and prints the conformance matrix. Extra arguments go to the CLI, which runs
# in the caller's directory, so `--fixtures rel/dir` means the caller's rel/dir. E.g.
#   --engine tfjs-webgpu ort-node-webgpu   GPU engines in Node (Dawn on SwiftShader here)
#   --browser                              tfjs webgl/webgpu, ORT Web wasm/webgpu in headless Chromium
# GPU and browser runs install their Debian packages first (scripts/ensure-gpu-deps.sh).
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "$0")/.."
REPO_DIR=$PWD
source scripts/ensure-pnpm.sh
case " $* " in
  *" --browser "* | *webgpu* | *webgl* | *" all "*) source scripts/ensure-gpu-deps.sh ;;
esac
# The default engine's kernels are compiled from C at build time: clang + lld come from apt when missing.
export NORMBRIDGE_INSTALL_TOOLCHAIN=1
pnpm exec turbo run build --filter=@normbridge/cli... --output-logs=errors-only
cd "$CALLER_DIR"
node "$REPO_DIR/packages/cli/dist/bin.js" conformance "$@"
