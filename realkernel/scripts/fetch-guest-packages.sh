#!/usr/bin/env bash
# Guest kernels and busybox, as Debian packages downloaded (not installed) into the cache and
# unpacked there with dpkg-deb:
#   <cache>/debs/*.deb
#   <cache>/root-amd64/, <cache>/root-arm64/   (boot/vmlinuz-*, lib/modules/*, bin/busybox)
# The kernel is whatever Debian's linux-image-<arch> metapackage points at today. For arm64 on an
# x86 host this adds the arm64 architecture to dpkg (dpkg --add-architecture arm64), so that
# apt-get download can fetch arm64 packages. Usage: fetch-guest-packages.sh <cache-dir> <arch>...
set -euo pipefail

cache=${1:?usage: fetch-guest-packages.sh <cache-dir> <amd64|arm64>...}
shift
mkdir -p "$cache/debs"
cache=$(cd "$cache" && pwd)

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
host_arch=$(dpkg --print-architecture)

for arch in "$@"; do
  if [ "$arch" != "$host_arch" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    echo "guest packages: dpkg --add-architecture $arch"
    "${sudo[@]}" dpkg --add-architecture "$arch"
    "${sudo[@]}" apt-get update -qq
  fi
  # The metapackage names the current ABI's image package, e.g. linux-image-6.1.0-56-arm64.
  image=$(apt-cache depends "linux-image-$arch:$arch" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*\).*/\1/p' | head -n1)
  if [ -z "$image" ]; then
    "${sudo[@]}" apt-get update -qq
    image=$(apt-cache depends "linux-image-$arch:$arch" | sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*\).*/\1/p' | head -n1)
  fi
  [ -n "$image" ] || { echo "guest packages: apt knows no linux-image-$arch" >&2; exit 1; }

  root="$cache/root-$arch"
  stamp="$root/.unpacked"
  want="$image busybox-static"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "guest packages ($arch): $image, busybox-static (cached)"
    continue
  fi
  echo "guest packages ($arch): downloading $image, busybox-static"
  (cd "$cache/debs" && apt-get download -q "$image:$arch" "busybox-static:$arch" 2>&1 | grep -v 'unsandboxed as root' || true)
  rm -rf "$root"
  mkdir -p "$root"
  for pkg in "$image" busybox-static; do
    deb=$(ls -t "$cache/debs/${pkg}_"*"_$arch.deb" 2>/dev/null | head -n1)
    [ -n "$deb" ] || { echo "guest packages: apt-get download of $pkg:$arch produced no .deb" >&2; exit 1; }
    dpkg-deb -x "$deb" "$root"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' >> "$root/.packages"
  done
  echo "$want" > "$stamp"
done
