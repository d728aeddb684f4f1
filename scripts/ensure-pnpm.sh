#!/usr/bin/env bash
# Sourced by the README commands: makes `pnpm` (major 10, as pinned in package.json) available
# on a machine that has only Node 20 and npm, then installs the workspace from the lockfile.
set -euo pipefail
PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null | cut -d. -f1)" != "10" ]; then
  echo "normbridge: installing pnpm@${PNPM_VERSION}" >&2
  if npm install -g "pnpm@${PNPM_VERSION}" >/dev/null 2>&1; then
    export PATH="$(npm prefix -g)/bin:$PATH"
  else
    # No permission for a global install: use a project-local copy instead.
    npm install --no-save --prefix .tools "pnpm@${PNPM_VERSION}" >/dev/null
    export PATH="$PWD/.tools/node_modules/.bin:$PATH"
  fi
fi
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
pnpm install --frozen-lockfile --reporter=append-only >&2
