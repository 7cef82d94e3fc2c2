#!/usr/bin/env bash
# Packs the package in the current folder exactly as `pnpm publish` would (publishConfig applied)
# and checks that what would be published resolves for every consumer.
set -euo pipefail
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
pnpm pack --pack-destination "$dest" >/dev/null
tgz=$(ls "$dest"/*.tgz)
pnpm exec publint run --strict "$tgz"
pnpm exec attw "$tgz" --profile node16 --format ascii
