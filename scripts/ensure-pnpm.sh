#!/usr/bin/env bash
# Sourced by the README commands: makes `pnpm` (major 10, as pinned in package.json) available
# on a machine that has only Node 20 and npm, then installs the workspace from the lockfile.
# A pnpm installed by an earlier run (globally, or project-local in .tools/) is found and reused.
set -euo pipefail
PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
pnpm_ok() { command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null | cut -d. -f1)" = "10" ]; }
if ! pnpm_ok; then export PATH="$(npm prefix -g)/bin:$PWD/.tools/node_modules/.bin:$PATH"; fi
if ! pnpm_ok; then
  echo "normbridge: installing pnpm@${PNPM_VERSION}" >&2
  if ! npm install -g "pnpm@${PNPM_VERSION}" >/dev/null 2>.tools-npm-error.log; then
    # No permission for a global install: use a project-local copy instead (npm's errors shown).
    echo "normbridge: global install failed ($(tail -n 1 .tools-npm-error.log)); installing into .tools/" >&2
    npm install --no-save --prefix .tools "pnpm@${PNPM_VERSION}" >&2
  fi
  rm -f .tools-npm-error.log
fi
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
pnpm install --frozen-lockfile --reporter=append-only >&2
