#!/usr/bin/env bash
# Fails when src/generated/ is not what `npm run codegen` would produce from schema/.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r src/generated "$tmp/committed"
npm run --silent codegen >/dev/null
if ! diff -r "$tmp/committed" src/generated >/dev/null; then
  diff -r "$tmp/committed" src/generated | head -20
  cp -r "$tmp/committed/." src/generated/
  echo "src/generated/ is stale: run \`npm run codegen\` and commit the result." >&2
  exit 1
fi
echo "src/generated/ is up to date."
