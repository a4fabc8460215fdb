#!/usr/bin/env bash
# `npm test`: the whole suite, with every piece of set-up a fresh Debian machine needs.
# Installs what is missing (apt packages, node_modules, the control-plane build, cached outside
# the repository), starts Redis and PostgreSQL if they are down, then typechecks, lints and
# runs the unit and e2e Jest projects. Extra arguments go to Jest (e.g. a path filter).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

need_pkgs=()
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ] || need_pkgs+=(postgresql)
command -v kubectl >/dev/null || need_pkgs+=(kubernetes-client)
[ -x /usr/bin/prometheus-alertmanager ] || need_pkgs+=(prometheus-alertmanager)
# promtool (rule tests) and prometheus (the alert pipeline e2e) come in one package.
command -v promtool >/dev/null && command -v prometheus >/dev/null || need_pkgs+=(prometheus)
command -v unzip >/dev/null || need_pkgs+=(unzip)
# The seed labs (`npm run lab`, test/e2e/lab) read real exporter series (redis_up, pg_stat_*).
[ -x /usr/bin/prometheus-redis-exporter ] || need_pkgs+=(prometheus-redis-exporter)
[ -x /usr/bin/prometheus-postgres-exporter ] || need_pkgs+=(prometheus-postgres-exporter)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  # Debian starts services on install where it can; the test bed starts its own anyway.
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund
fi

log "control plane (etcd + kube-apiserver + kube-controller-manager, cached)"
bash tools/cluster/build-control-plane.sh

log "Redis and PostgreSQL on their standard ports"
bash test/ensure-services.sh

log "build, CRDs and dashboard up to date, typecheck, lint"
npm run --silent build
npx tsx scripts/gen-crds.ts --check
npx tsx scripts/gen-dashboard.ts --check
npm run --silent typecheck
npm run --silent lint

log "tests"
results="$(mktemp -d)/jest.json"
set +e
NODE_OPTIONS=--experimental-vm-modules npx jest --ci --json --outputFile="$results" "$@"
code=$?
set -e
# A closing line any CI reads: "N passed, N failed[, N skipped]".
node -e '
const r = require(process.argv[1]);
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" || true
exit $code
