#!/usr/bin/env bash
# An arm64 QEMU to run *inside* an arm64 guest as the VMM (`npm run real-kernel -- --vmm ...`):
# Debian's qemu-system-arm package of one line, reduced to the files qemu-system-aarch64 loads.
#   7.2   bookworm (+ bookworm-updates, bookworm-security)   qemu-system-arm 1:7.2+dfsg-7+deb12u*
#   10    bookworm-backports                                 qemu-system-arm 1:10.0.*~bpo12+*
#   11    trixie-backports (on trixie)                       qemu-system-arm 1:11.1.*~bpo13+*
# and, to count the VMM's ioctls a second way (realkernel/vmm-strace.ts), Debian's arm64 strace:
#   strace  bookworm (+ bookworm-updates, bookworm-security)   strace 6.1-*
#
#   1. apt-get resolves qemu-system-arm for arm64 as the *native* architecture against an empty
#      dpkg status (nothing of this host counts as installed), through its own sources list and
#      package lists under <cache>/apt/, without recommends, and only downloads the .debs;
#   2. dpkg-deb -x unpacks them into <cache>/root/ (no maintainer script runs);
#   3. the closure: qemu-system-aarch64 (or strace) and every library its ELF NEEDED entries reach,
#      transitively (readelf -d), found in the unpacked library directories, copied (symlinks
#      resolved) into <cache>/closure/lib/ under their sonames, with the dynamic loader. The
#      guest starts it as  closure/lib/ld-linux-aarch64.so.1 --library-path closure/lib
#      closure/bin/qemu-system-aarch64 ...  (QEMU needs none of its data files or modules for
#      -M virt -nodefaults -display none with a vfio-pci device).
#
#   <cache>/closure/bin/qemu-system-aarch64  <cache>/closure/lib/*  <cache>/closure/.packages
# Idempotent: with the lists younger than a day and the closure built from the same packages, a
# second run only prints the closure's directory. The last line on stdout is that directory;
# progress goes to stderr.
# Usage: fetch-vmm-qemu.sh <cache-dir> <7.2|10|11|strace>     e.g. fetch-vmm-qemu.sh .cache/realkernel/vmm-qemu-7.2 7.2
set -euo pipefail

cache=${1:?usage: fetch-vmm-qemu.sh <cache-dir> <7.2|10|11|strace>}
line=${2:?usage: fetch-vmm-qemu.sh <cache-dir> <7.2|10|11|strace>}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
log() { echo "vmm qemu $line: $*" >&2; }
die() { log "$*"; exit 1; }

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
pkg=qemu-system-arm
exe=qemu-system-aarch64
case $line in
  7.2) suites="bookworm bookworm-updates"; target=bookworm; sec="bookworm-security"; want='^1:7\.2' ;;
  10) suites="bookworm bookworm-updates bookworm-backports"; target=bookworm-backports; sec="bookworm-security"; want='^1:10\.' ;;
  11) suites="trixie trixie-updates trixie-backports"; target=trixie-backports; sec="trixie-security"; want='^1:11\.' ;;
  strace) suites="bookworm bookworm-updates"; target=bookworm; sec="bookworm-security"; want='^6\.1'; pkg=strace; exe=strace ;;
  *) die "unknown QEMU line $line (7.2, 10, 11 or strace)" ;;
esac
for tool in apt-get apt-cache dpkg-deb readelf; do command -v $tool >/dev/null || die "$tool is needed"; done

arch=arm64
source "$(dirname "${BASH_SOURCE[0]}")/apt-empty-status.sh"
{
  for s in $suites; do echo "deb [signed-by=$keyring] $mirror $s main"; done
  echo "deb [signed-by=$keyring] $security $sec main"
} > "$cache/apt/sources.list"

closure="$cache/closure"
stamp="$cache/apt/updated"
fresh_lists() { [ -f "$stamp" ] && [ -z "$(find "$stamp" -mmin +1440)" ] && cmp -s "$cache/apt/sources.list" "$stamp"; }
if fresh_lists && [ -x "$closure/bin/$exe" ] && [ -f "$closure/.packages" ] && [ "$closure/.packages" -nt "$stamp" ]; then
  log "$(grep "^$pkg " "$closure/.packages") (cached)"
  echo "$closure"
  exit 0
fi
if ! fresh_lists; then
  log "apt-get update ($suites $sec; arm64; lists in $cache/apt/lists)"
  apt-get "${apt_opts[@]}" update >&2
  cp "$cache/apt/sources.list" "$stamp"
fi

version=$(apt-cache "${apt_opts[@]}" -t "$target" policy $pkg | sed -n 's/^ *Candidate: //p')
[[ $version =~ $want ]] || die "$target offers $pkg $version, not $line"
log "resolving $pkg $version (arm64) on an empty system"
apt-get "${apt_opts[@]}" -t "$target" --download-only -y install $pkg >&2
apt-get "${apt_opts[@]}" autoclean >&2
mapfile -t debs < <(find "$cache/apt/archives" -maxdepth 1 -name '*.deb' | sort)
[ ${#debs[@]} -gt 0 ] || die "apt-get downloaded nothing"

printf '%s\n' "${debs[@]##*/}" > "$cache/.debs.new"
if [ -d "$cache/root" ] && cmp -s "$cache/.debs.new" "$cache/.debs" && [ -x "$closure/bin/$exe" ]; then
  log "the same ${#debs[@]} packages as before"
  mv "$cache/.debs.new" "$cache/.debs"
  touch "$closure/.packages"
  echo "$closure"
  exit 0
fi
log "unpacking ${#debs[@]} packages"
rm -rf "$cache/root.tmp"
mkdir -p "$cache/root.tmp"
packages=()
for deb in "${debs[@]}"; do
  dpkg-deb -x "$deb" "$cache/root.tmp"
  packages+=("$(dpkg-deb -f "$deb" Package Version | sed 's/^[A-Za-z]*: //' | paste -sd' ')")
done
rm -rf "$cache/root"
mv "$cache/root.tmp" "$cache/root"
mv "$cache/.debs.new" "$cache/.debs"

# The closure of NEEDED entries, breadth first, from the binary.
root="$cache/root"
dirs=()
for d in "$root/lib/aarch64-linux-gnu" "$root/usr/lib/aarch64-linux-gnu" "$root/lib" "$root/usr/lib"; do
  [ -d "$d" ] && dirs+=("$d")
done
while IFS= read -r d; do dirs+=("${d%/}"); done < <(find "$root/usr/lib/aarch64-linux-gnu" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort)
binary="$root/usr/bin/$exe"
[ -f "$binary" ] || die "$exe is not in the unpacked $pkg"
interp=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
[ -n "$interp" ] || die "$exe names no program interpreter"
rm -rf "$closure.tmp"
mkdir -p "$closure.tmp/bin" "$closure.tmp/lib"
cp "$binary" "$closure.tmp/bin/"
find_lib() { # find_lib <soname>: the first unpacked file of that name (symlinks followed)
  local d
  for d in "${dirs[@]}"; do
    [ -e "$d/$1" ] && { readlink -f "$d/$1"; return 0; }
  done
  return 1
}
loader=$(find_lib "$(basename "$interp")") || die "the loader $interp is not in the unpacked libc6"
cp "$loader" "$closure.tmp/lib/$(basename "$interp")"
queue=("$binary")
declare -A seen=()
missing=()
while [ ${#queue[@]} -gt 0 ]; do
  file=${queue[0]}
  queue=("${queue[@]:1}")
  while IFS= read -r soname; do
    [ -n "${seen[$soname]:-}" ] && continue
    seen[$soname]=1
    if lib=$(find_lib "$soname"); then
      cp "$lib" "$closure.tmp/lib/$soname"
      queue+=("$lib")
    else
      missing+=("$soname")
    fi
  done < <(readelf -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
[ ${#missing[@]} -eq 0 ] || die "libraries $exe needs that the packages lack: ${missing[*]}"
printf '%s\n' "${packages[@]}" > "$closure.tmp/.packages"
rm -rf "$closure"
mv "$closure.tmp" "$closure"
size=$(du -sh "$closure" | cut -f1)
log "$pkg $version: $(ls "$closure/lib" | wc -l) libraries, $size"
echo "$closure"
