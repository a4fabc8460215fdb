#!/usr/bin/env bash
# `npm start`: install dependencies if needed, build, and run the operator against the current
# kubeconfig with the embedded defaults (in-memory store, audit off, CRDs installed at start).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
# --max-semi-space-size=1 --expose-gc: see src/cli/node-flags.ts.
exec node --max-semi-space-size=1 --expose-gc dist/bin/kube-remediator.js run --install-crds "$@"
