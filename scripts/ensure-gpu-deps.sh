#!/usr/bin/env bash
# Sourced by the scripts that run GPU paths: installs what they need from Debian when it is
# missing (chromium, which also ships the SwiftShader Vulkan ICD, and libvulkan1, the loader
# Dawn opens), then points Vulkan at SwiftShader unless a driver was chosen already.
# Idempotent: nothing is installed when both are present.
#   NORMBRIDGE_VULKAN=system  keeps the machine's own Vulkan drivers (a real GPU, gpu-check.sh).
set -euo pipefail
NORMBRIDGE_SWIFTSHADER_ICD=${NORMBRIDGE_SWIFTSHADER_ICD:-/usr/lib/chromium/vk_swiftshader_icd.json}
normbridge_missing=()
command -v chromium >/dev/null 2>&1 || normbridge_missing+=(chromium)
{ ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libvulkan\.so\.1' || normbridge_missing+=(libvulkan1)
if [ ${#normbridge_missing[@]} -gt 0 ]; then
  echo "normbridge: installing ${normbridge_missing[*]} (Debian)" >&2
  normbridge_sudo=""
  [ "$(id -u)" = "0" ] || normbridge_sudo="sudo"
  $normbridge_sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $normbridge_sudo apt-get install -y -qq --no-install-recommends "${normbridge_missing[@]}" >&2
fi
export CHROMIUM_PATH=${CHROMIUM_PATH:-$(command -v chromium)}
if [ "${NORMBRIDGE_VULKAN:-swiftshader}" != "system" ] && [ -z "${VK_ICD_FILENAMES:-}" ]; then
  export VK_ICD_FILENAMES="$NORMBRIDGE_SWIFTSHADER_ICD"
fi
# Dawn and Mesa complain on stderr when there is no runtime dir (headless containers).
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  export XDG_RUNTIME_DIR
  XDG_RUNTIME_DIR=$(mktemp -d)
fi
