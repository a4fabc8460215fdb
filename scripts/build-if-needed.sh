#!/usr/bin/env bash
# Builds the operator bundle when an input of it is newer than the bundle (or it is missing).
# The build type-checks everything (most of a minute on 2 cores): `npm start` and `npm run lab`
# run this instead of always building.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=dist/bin/kube-remediator.js
inputs=(src package.json package-lock.json tsconfig.json tsconfig.build.json scripts/bundle.mjs)
if [ ! -f "$bundle" ] || [ -n "$(find "${inputs[@]}" -newer "$bundle" -print -quit)" ]; then
  npm run --silent build
fi
