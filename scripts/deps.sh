#!/usr/bin/env bash
# Install what drover needs to build and test on Debian 12, if missing.
# Idempotent: installs nothing (and touches no network) when all is present.
# Usage: scripts/deps.sh [--test]   (--test: also what the test suite uses:
# Node for the example producers, podman for the image and compose tests
# (with iptables, which netavark runs for container networks and Debian's
# package does not pull in), systemd-analyze for the units, Chromium for
# the dashboard, a Prometheus parser for /metrics)
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libzmq3-dev libczmq-dev libmsgpack-dev libsodium-dev liblmdb-dev
  libmicrohttpd-dev libcriterion-dev
  iproute2 nftables procps
  python3-zmq python3-msgpack
)
if [ "${1:-}" = "--test" ]; then
  packages+=(
    nodejs systemd
    podman runc buildah fuse-overlayfs slirp4netns uidmap podman-compose
    debootstrap netavark aardvark-dns catatonit iptables
    chromium python3-prometheus-client
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
# Debian's nodejs comes without npm; nodesource's includes it and conflicts
# with Debian's npm package, so ask for npm only when there is none.
if [ "${1:-}" = "--test" ] && ! command -v npm >/dev/null; then
  missing+=(npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
