#!/usr/bin/env bash
# Copies the generated CRDs (crds/*.yaml, from `npm run gen:crds`) into the Helm chart's crds/
# folder, which Helm installs before the templates. Run it after every CRD change;
# test/unit/chart/chart.test.ts fails while the copies differ.
#   scripts/sync-chart-crds.sh          copy (and remove copies whose source is gone)
#   scripts/sync-chart-crds.sh --check  only report differences, exit 1 if any
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/crds"
dst="$root/charts/kube-remediator/crds"
check=false
[[ "${1:-}" == "--check" ]] && check=true

shopt -s nullglob
sources=("$src"/*.yaml)
if ((${#sources[@]} == 0)); then
  echo "no CRDs in $src: run npm run gen:crds" >&2
  exit 1
fi

mkdir -p "$dst"
diffs=0
for f in "${sources[@]}"; do
  name="$(basename "$f")"
  if ! cmp -s "$f" "$dst/$name"; then
    diffs=$((diffs + 1))
    if $check; then
      echo "differs: charts/kube-remediator/crds/$name" >&2
    else
      cp "$f" "$dst/$name"
      echo "copied crds/$name"
    fi
  fi
done
for f in "$dst"/*.yaml; do
  name="$(basename "$f")"
  if [[ ! -e "$src/$name" ]]; then
    diffs=$((diffs + 1))
    if $check; then
      echo "stale: charts/kube-remediator/crds/$name" >&2
    else
      rm "$f"
      echo "removed stale charts/kube-remediator/crds/$name"
    fi
  fi
done

if $check && ((diffs > 0)); then
  echo "chart CRDs are out of date: run scripts/sync-chart-crds.sh" >&2
  exit 1
fi
exit 0
