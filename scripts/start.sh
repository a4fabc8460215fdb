#!/usr/bin/env bash
# `npm start`: install dependencies if needed, build if needed, then run the operator through the
# dev entry point (tools/sandbox/start.ts): against the current kubeconfig, or, when there is
# none, on a sandbox cluster that it starts and stops. `npm start -- --help` lists the options.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/build-if-needed.sh
exec node --import tsx tools/sandbox/start.ts "$@"
