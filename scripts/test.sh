#!/usr/bin/env bash
# Runs every test: build and typecheck each package (turbo), then one vitest run over all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-pnpm.sh
pnpm exec turbo run build typecheck --output-logs=errors-only
pnpm exec vitest run
