#!/usr/bin/env bash
# `npm start`: install dependencies if needed, build if needed, then run the operator through the
# dev entry point (tools/sandbox/start.ts): against the current kubeconfig, or, when there is
# none, on a sandbox cluster that it starts and stops. `npm start -- --help` lists the options.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# The build type-checks everything (most of a minute on 2 cores): only when an input changed.
bundle=dist/bin/kube-remediator.js
inputs=(src package.json package-lock.json tsconfig.json tsconfig.build.json scripts/bundle.mjs)
if [ ! -f "$bundle" ] || [ -n "$(find "${inputs[@]}" -newer "$bundle" -print -quit)" ]; then
  npm run --silent build
fi
exec node --import tsx tools/sandbox/start.ts "$@"
