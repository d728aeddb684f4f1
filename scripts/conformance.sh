#!/usr/bin/env bash
# The main job: replays every committed fixture through its framework's adapter on the default
# engine (tfjs cpu) and prints the conformance matrix. Extra arguments go to the CLI, e.g.
#   --engine tfjs-webgpu ort-node-webgpu   GPU engines in Node (Dawn on SwiftShader here)
#   --browser                              tfjs webgl/webgpu, ORT Web wasm/webgpu in headless Chromium
# GPU and browser runs install their Debian packages first (scripts/ensure-gpu-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-pnpm.sh
case " $* " in
  *" --browser "* | *webgpu* | *webgl* | *" all "*) source scripts/ensure-gpu-deps.sh ;;
esac
pnpm exec turbo run build --filter=@normbridge/cli... --output-logs=errors-only
node packages/cli/dist/bin.js conformance "$@"
