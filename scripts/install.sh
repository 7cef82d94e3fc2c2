#!/usr/bin/env bash
# Installs the workspace from the lockfile, offline-friendly: pnpm from the npm registry when it is
# missing, and native addons (better-sqlite3, hnswlib-node) built by node-gyp against the running
# Node's own headers when it ships them, instead of node-gyp downloading headers from the internet.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v pnpm >/dev/null || npm install -g pnpm@12.21.0
if [ -z "${npm_config_nodedir:-}" ]; then
  prefix="$(cd "$(dirname "$(command -v node)")/.." && pwd)"
  if [ -f "$prefix/include/node/node.h" ]; then export npm_config_nodedir="$prefix"; fi
fi
pnpm install --frozen-lockfile "$@"
