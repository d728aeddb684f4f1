#!/usr/bin/env bash
# Runs every test: build and typecheck each package (turbo), then one vitest run over all of them.
# The WebGPU tests run on SwiftShader (scripts/ensure-gpu-deps.sh) and are required to.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-pnpm.sh
source scripts/ensure-gpu-deps.sh
export NORMBRIDGE_REQUIRE_WEBGPU=1
# The wasm kernels are compiled from C at build time: clang + lld come from apt when missing.
export NORMBRIDGE_INSTALL_TOOLCHAIN=1
pnpm exec turbo run build typecheck --output-logs=errors-only
pnpm exec vitest run
