#!/usr/bin/env bash
# The main job: replays every committed fixture through its framework's adapter on the default
# engine (tfjs wasm) and prints the conformance matrix. Extra arguments go to the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-pnpm.sh
pnpm exec turbo run build --filter=@normbridge/cli... --output-logs=errors-only
node packages/cli/dist/bin.js conformance "$@"
