#!/usr/bin/env bash
# Build the drover container image with podman, with no image registry:
# the Debian base images deploy/Containerfile starts from (debian:bookworm,
# debian:bookworm-slim) are made here with debootstrap from the Debian
# mirror apt already uses, imported into podman, and kept (with a tarball
# in the cache dir, outside the repo) for the next run.
# Usage: scripts/image.sh [TAG]   (default drover:dev; DROVER_IMAGE too)
# Needs: podman runc buildah fuse-overlayfs slirp4netns uidmap netavark
# aardvark-dns catatonit debootstrap (Debian packages), and root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/podman-env.sh

tag=${1:-${DROVER_IMAGE:-drover:dev}}
base=docker.io/library/debian:bookworm        # what FROM debian:bookworm names
slim=docker.io/library/debian:bookworm-slim

for tool in podman debootstrap; do
  command -v "$tool" >/dev/null || { echo "image: $tool is missing" >&2; exit 1; }
done

# The first apt source of the host ending in /debian (and /debian-security),
# so that the image's apt reaches the same mirror the host's does.
host_source() {
  local suffix=$1
  grep -rhoE "(URIs:[[:space:]]*|^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)[a-z]+://[^[:space:]]+/${suffix}/?([[:space:]]|$)" \
      /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | grep -oE "[a-z]+://[^[:space:]]+" | sed 's:/$::' | head -1 || true
}

make_rootfs() {
  local root=$1 mirror security
  mirror=${DROVER_DEBIAN_MIRROR:-$(host_source debian)}
  security=${DROVER_DEBIAN_SECURITY:-$(host_source debian-security)}
  [ -n "$mirror" ] || { echo "image: no Debian mirror in /etc/apt (set DROVER_DEBIAN_MIRROR)" >&2; exit 1; }
  echo "image: debootstrap bookworm (minbase) from $mirror" >&2
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$drover_cache/debootstrap.log" 2>&1 \
    || { tail -20 "$drover_cache/debootstrap.log" >&2; exit 1; }
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    [ -z "$security" ] || echo "deb $security bookworm-security main"
  } >"$root/etc/apt/sources.list"
  # As in Debian's own container images: no recommends, no caches.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$root/etc/apt/apt.conf.d/99container"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
}

# bookworm-slim, like Debian's: documentation left out, now and in every
# package installed later.
slim_down() {
  local root=$1
  cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  find "$root/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
}

import_base() {
  local name=$1 tarball=$2
  podman import --change 'CMD ["bash"]' "$tarball" "$name" >/dev/null
}

ensure_bases() {
  local full=$drover_cache/bookworm-minbase.tar small=$drover_cache/bookworm-slim.tar
  if podman image exists "$base" && podman image exists "$slim"; then
    return
  fi
  if [ ! -s "$full" ] || [ ! -s "$small" ]; then
    local root
    root=$(mktemp -d /var/tmp/drover-rootfs.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '$root'" EXIT
    make_rootfs "$root"
    tar --numeric-owner -C "$root" -cf "$full.new" . && mv "$full.new" "$full"
    slim_down "$root"
    tar --numeric-owner -C "$root" -cf "$small.new" . && mv "$small.new" "$small"
    rm -rf "$root"
    trap - EXIT
  fi
  echo "image: importing $base and $slim from $drover_cache" >&2
  import_base "$base" "$full"
  import_base "$slim" "$small"
}

started=$(date +%s)
ensure_bases
based=$(date +%s)
echo "image: base images ready in $((based - started)) s" >&2
# --network host: the build stage's apt-get reaches the mirror as the host
# does.  --format docker: the OCI format has no HEALTHCHECK.
podman build --pull=never --network host --format docker \
  --ignorefile deploy/Containerfile.dockerignore \
  -f deploy/Containerfile -t "$tag" .
echo "image: $tag built in $(($(date +%s) - based)) s ($(podman image inspect -f '{{.Size}}' "$tag") bytes)" >&2
