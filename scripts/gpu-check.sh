#!/usr/bin/env bash
# For a Linux machine with a real GPU and its Vulkan driver (NVIDIA: the driver's Vulkan ICD):
# from a fresh checkout, installs Node 20 if missing, then runs the conformance suite on the
# GPU engines in Node (tfjs-webgpu, ort-node-webgpu on the machine's own Vulkan driver, not
# SwiftShader) and the GPU benchmark (conformance/bench/gpu.mjs). Put the figures in
# packages/tfjs/bench/README.md. Usage: bash scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "normbridge: installing Node 20 (NodeSource)" >&2
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq ca-certificates curl gnupg
  curl -fsSL https://deb.nodesource.com/setup_20.x | $SUDO bash -
  $SUDO apt-get install -y -qq nodejs
fi
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "normbridge: no nvidia-smi; using whatever Vulkan driver is installed" >&2
export NORMBRIDGE_VULKAN=system   # the machine's driver, not SwiftShader
source scripts/ensure-pnpm.sh
source scripts/ensure-gpu-deps.sh
pnpm exec turbo run build --output-logs=errors-only
node packages/cli/dist/bin.js conformance --engine tfjs-webgpu ort-node-webgpu
node conformance/bench/gpu.mjs
