#!/usr/bin/env bash
# Installs the packages as a user would — the tarballs `pnpm pack` makes (publishConfig applied),
# installed together with npm into an empty project — then imports each one from ESM and from
# CommonJS and runs every bin's --help. Catches what workspace tests cannot: a file missing from
# "files", a dependency that only the workspace provides, an export that resolves to TypeScript.
# Needs `pnpm build` first.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
packages=(loss-core model-bundle retrieval server trainer)

for p in "${packages[@]}"; do
  (cd "packages/$p" && pnpm pack --pack-destination "$scratch/tarballs" >/dev/null)
done

cd "$scratch"
printf '{ "name": "scratch", "private": true, "type": "module" }\n' >package.json
# onnxruntime-node's postinstall would download GPU libraries; native addons build against the
# running Node's own headers when it ships them (no header download)
export ONNXRUNTIME_NODE_INSTALL=skip
prefix="$(cd "$(dirname "$(command -v node)")/.." && pwd)"
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/node.h" ]; then export npm_config_nodedir="$prefix"; fi
npm install --no-audit --no-fund --loglevel=error ./tarballs/*.tgz >/dev/null

for p in "${packages[@]}"; do
  name="@anchorage/$p"
  node --input-type=module -e "
    const m = await import('$name');
    if (Object.keys(m).length === 0) throw new Error('$name (ESM) exports nothing');
    console.log('ok  import  $name: ' + Object.keys(m).length + ' exports');"
  node --input-type=commonjs -e "
    const m = require('$name');
    if (Object.keys(m).length === 0) throw new Error('$name (CJS) exports nothing');
    console.log('ok  require $name: ' + Object.keys(m).length + ' exports');"
done

for bin in anchorage-train anchorage-index anchorage-serve; do
  out=$(npx --no-install "$bin" --help)
  grep -q '^Usage:' <<<"$out" || { echo "$bin --help printed no usage:"; echo "$out"; exit 1; }
  echo "ok  $bin --help"
done
echo "installed packages check passed"
