#!/usr/bin/env bash
# Builds etcd + kube-apiserver + kube-controller-manager (v1.20, Debian's source package)
# once per machine into a cache folder outside the repository. Re-running is cheap: it
# returns at once when the binaries are already there. See shared/kube-test-env.md.
set -euo pipefail

CACHE_DIR="${KR_CACHE_DIR:-$HOME/.cache/kube-remediator}"
BIN_DIR="$CACHE_DIR/bin"
WANT=(kube-apiserver kube-controller-manager kube-scheduler)

have_all() {
  for b in "${WANT[@]}"; do [ -x "$BIN_DIR/$b" ] || return 1; done
  command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || return 1
  return 0
}

if have_all; then
  echo "control plane: cached in $BIN_DIR"
  exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# 1. deb-src next to every deb stanza, so apt-get source works.
SRC_FILE=/etc/apt/sources.list.d/debian.sources
if [ -f "$SRC_FILE" ] && ! grep -q 'deb-src' "$SRC_FILE"; then
  $SUDO sed -i 's/^Types: deb$/Types: deb deb-src/' "$SRC_FILE"
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq golang-go rsync dpkg-dev etcd-server golang-github-modern-go-reflect2-dev openssl >/dev/null

mkdir -p "$CACHE_DIR/src" "$BIN_DIR"
cd "$CACHE_DIR/src"
SRC=$(find . -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
if [ -z "$SRC" ]; then
  apt-get source -qq kubernetes >/dev/null
  SRC=$(find . -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
fi
SRC="$(cd "$SRC" && pwd)"

# 2. The vendored reflect2 v1.0.1 crashes under go >= 1.18; use Debian's v1.0.2.
R2="$SRC/vendor/github.com/modern-go/reflect2"
if ! grep -q 'go1.18\|unsafe_link' "$R2"/*.go 2>/dev/null || [ ! -f "$R2/.kr-patched" ]; then
  rm -rf "$R2" && mkdir -p "$R2"
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go "$R2"/
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$R2"/ 2>/dev/null || true
  rm -f "$R2"/*_test.go
  touch "$R2/.kr-patched"
fi

# 3. Build as Debian's debian/rules does.
mkdir -p "$SRC/.go/src/k8s.io" "$CACHE_DIR/home"
ln -sfn "$SRC" "$SRC/.go/src/k8s.io/kubernetes"
cd "$SRC/.go/src/k8s.io/kubernetes"
rm -rf _output
GOPATH="$SRC/.go" CGO_ENABLED=0 HOME="$CACHE_DIR/home" GO111MODULE=off GOFLAGS="" \
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler"
for b in "${WANT[@]}"; do cp "$SRC/_output/bin/$b" "$BIN_DIR/$b"; done
echo "control plane: built into $BIN_DIR"
