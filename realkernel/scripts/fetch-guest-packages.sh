#!/usr/bin/env bash
# Guest kernels and busybox, as Debian packages downloaded (not installed) into the cache and
# unpacked there with dpkg-deb. apt runs with its own sources list and package lists under
# <cache>/apt/ (the system's sources, lists and dpkg architectures are left alone; no root needed):
#   6.1   bookworm (+ bookworm-security)   linux-image-6.1.0-N-<arch>       /boot, /lib/modules
#   6.12  bookworm-backports               linux-image-6.12.*+deb12-<arch>  /boot, /lib/modules
#   7.x   trixie-backports (newest 7.x)    linux-binary-7.*+deb13-<arch> + linux-modules-7.*+deb13-<arch>
#                                          vmlinuz and modules under /usr/lib/modules/VERSION/
# Each kernel is the one its suite's linux-image-<arch> metapackage points at today.
#   <cache>/debs/*.deb
#   <cache>/kernel-<arch>-<kernel>/   (the unpacked kernel; .packages names what is in it)
#   <cache>/busybox-<arch>/           (bin/busybox from bookworm's busybox-static)
# Usage: fetch-guest-packages.sh <cache-dir> <arch>:<kernel>...   e.g. arm64:6.12 amd64:7.x
set -euo pipefail

cache=${1:?usage: fetch-guest-packages.sh <cache-dir> <amd64|arm64>:<6.1|6.12|7.x>...}
shift
mkdir -p "$cache/debs" "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial"
cache=$(cd "$cache" && pwd)

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cat > "$cache/apt/sources.list" <<EOF
deb [signed-by=$keyring] $mirror bookworm main
deb [signed-by=$keyring] $security bookworm-security main
deb [signed-by=$keyring] $mirror bookworm-backports main
deb [signed-by=$keyring] $mirror trixie-backports main
EOF
apt_opts=(
  -o "Dir::Etc::sourcelist=$cache/apt/sources.list" -o Dir::Etc::sourceparts=/nonexistent
  -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt/cache"
  -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 -o Debug::NoLocking=1
  -o "APT::Sandbox::User=$(id -un)" -q
)

# The package lists, fetched again when older than a day.
stamp="$cache/apt/updated"
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ] || ! cmp -s "$cache/apt/sources.list" "$stamp"; then
  echo "guest packages: apt-get update (bookworm, bookworm-security, bookworm-backports, trixie-backports)"
  apt-get "${apt_opts[@]}" update 2>&1 | grep -E '^(E:|W: Failed)' >&2 || true
  cp "$cache/apt/sources.list" "$stamp"
fi

download() { # download <pkg:arch>... into $cache/debs (kept: a second run downloads nothing)
  local need=()
  for p in "$@"; do
    ls "$cache/debs/${p%%:*}_"*"_${p##*:}.deb" >/dev/null 2>&1 || need+=("$p")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  (cd "$cache/debs" && apt-get "${apt_opts[@]}" download "${need[@]}" 2>&1 | grep -Ev 'unsandboxed|^Get:|^Fetched' || true)
}

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
    6.1) pattern='linux-image-6\.1\.0-[0-9]+-'"$arch" ;;
    6.12) pattern='linux-image-6\.12\.[0-9]+\+deb12-'"$arch" ;;
    7.x) pattern='linux-image-7\.[0-9]+\.[0-9]+\+deb13-'"$arch" ;;
    *) echo "guest packages: unknown kernel $kernel (6.1, 6.12 or 7.x)" >&2; exit 1 ;;
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
