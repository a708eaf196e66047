#!/usr/bin/env bash
# Guest kernels and busybox, as Debian packages downloaded (not installed) into the cache and
# unpacked there with dpkg-deb. apt runs with its own sources list and package lists under
# <cache>/apt/ (debian-apt.sh; the system's sources, lists and architectures are left alone):
#   6.1   bookworm (+ bookworm-security)   linux-image-6.1.0-N-<arch>       /boot, /lib/modules
#   6.12  bookworm-backports               linux-image-6.12.*+deb12-<arch>  /boot, /lib/modules
#   7.x   trixie-backports (newest 7.x)    linux-binary-7.*+deb13-<arch> + linux-modules-7.*+deb13-<arch>
#                                          vmlinuz and modules under /usr/lib/modules/VERSION/
# Each kernel is the one its suite's linux-image-<arch> metapackage points at today.
#   <cache>/debs/*.deb
#   <cache>/kernel-<arch>-<kernel>/   (the unpacked kernel; .packages names what is in it)
#   <cache>/busybox-<arch>/           (bin/busybox from bookworm's busybox-static)
# Two more names fetch no kernel: <arch>:busybox (busybox only, for a kernel built here or given
# with --kernel-image) and arm64:edk2 (bookworm's qemu-efi-aarch64, the firmware of an ACPI boot,
# unpacked into <cache>/edk2-arm64/: usr/share/qemu-efi-aarch64/QEMU_EFI.fd).
# Usage: fetch-guest-packages.sh <cache-dir> <arch>:<kernel>...   e.g. arm64:6.12 amd64:7.x
set -euo pipefail

cache=${1:?usage: fetch-guest-packages.sh <cache-dir> <amd64|arm64>:<6.1|6.12|7.x>...}
shift
cache=$(mkdir -p "$cache" && cd "$cache" && pwd)
# shellcheck source=debian-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/debian-apt.sh"
apt_lists_update "guest packages"

unpack() { # unpack <dir> <want-stamp> <pkg>... (arch in $arch)
  local dir=$1 want=$2
  shift 2
  rm -rf "$dir"
  mkdir -p "$dir"
  for pkg in "$@"; do
    deb=$(ls -t "$cache/debs/${pkg}_"*"_$arch.deb" 2>/dev/null | head -n1)
    [ -n "$deb" ] || { echo "guest packages: apt-get download of $pkg:$arch produced no .deb" >&2; exit 1; }
    dpkg-deb -x "$deb" "$dir"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' >> "$dir/.packages"
  done
  echo "$want" > "$dir/.unpacked"
}

for spec in "$@"; do
  arch=${spec%%:*}
  kernel=${spec#*:}
  case $kernel in
    busybox|edk2)
      if [ "$kernel" = edk2 ]; then dir="$cache/edk2-$arch" pkg=qemu-efi-aarch64 deb_arch=all; else dir="$cache/busybox-$arch" pkg=busybox-static deb_arch=$arch; fi
      if [ -f "$dir/.unpacked" ]; then
        echo "guest packages ($arch): $pkg (cached)"
      else
        echo "guest packages ($arch): downloading $pkg"
        download "$pkg:$deb_arch"
        (arch=$deb_arch; unpack "$dir" "$pkg" "$pkg")
      fi
      continue
      ;;
    6.1) pattern='linux-image-6\.1\.0-[0-9]+-'"$arch" ;;
    6.12) pattern='linux-image-6\.12\.[0-9]+\+deb12-'"$arch" ;;
    7.x) pattern='linux-image-7\.[0-9]+\.[0-9]+\+deb13-'"$arch" ;;
    *) echo "guest packages: unknown kernel $kernel (6.1, 6.12, 7.x, busybox or edk2)" >&2; exit 1 ;;
  esac
  dir="$cache/kernel-$arch-$kernel"
  # Unpacked since the lists were last fetched: nothing can have changed.
  if [ -f "$dir/.unpacked" ] && [ "$dir/.unpacked" -nt "$stamp" ] && [ -f "$cache/busybox-$arch/.unpacked" ]; then
    echo "guest packages ($arch, $kernel): $(cat "$dir/.unpacked") (cached)"
    continue
  fi
  # Every version of the metapackage the lists know (one per suite); the one depending on this
  # kernel line names its package. Newest first.
  image=$(apt-cache "${apt_opts[@]}" show "linux-image-$arch:$arch" 2>/dev/null | sed -n 's/^Depends: //p' | tr ',' '\n' |
    grep -oE "^ *$pattern" | tr -d ' ' | sort -uV | tail -n1)
  [ -n "$image" ] || { echo "guest packages: no $kernel kernel for $arch in the Debian lists (linux-image-$arch)" >&2; exit 1; }
  if [ "$kernel" = 7.x ]; then
    version=${image#linux-image-}
    packages=("linux-binary-$version" "linux-modules-$version")
  else
    packages=("$image")
  fi
  want="${packages[*]}"
  if [ -f "$dir/.unpacked" ] && [ "$(cat "$dir/.unpacked")" = "$want" ]; then
    echo "guest packages ($arch, $kernel): $want (cached)"
    touch "$dir/.unpacked"
  else
    echo "guest packages ($arch, $kernel): downloading $want"
    download "${packages[@]/%/:$arch}"
    unpack "$dir" "$want" "${packages[@]}"
  fi
  if [ ! -f "$cache/busybox-$arch/.unpacked" ]; then
    echo "guest packages ($arch): downloading busybox-static"
    download "busybox-static:$arch"
    unpack "$cache/busybox-$arch" busybox-static busybox-static
  fi
done
