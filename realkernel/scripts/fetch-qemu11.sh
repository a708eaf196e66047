#!/usr/bin/env bash
# QEMU 11 for `npm run real-kernel`: Debian trixie-backports' qemu-system-arm (11.1.x), with
# Debian's arm64 UEFI firmware (qemu-efi-aarch64), run on this Debian 12 host without installing
# anything into the system.
#
# Trixie's build needs trixie's glibc (2.41; bookworm has 2.36), so it runs on the library closure
# of the package instead of the system's libraries:
#   1. apt-get resolves qemu-system-arm (trixie-backports) and qemu-efi-aarch64 with every package
#      they depend on, against an empty dpkg status (so nothing of the host counts as installed),
#      through its own sources list and package lists under <cache>/apt/, and only downloads them;
#   2. dpkg-deb -x unpacks them all into <cache>/root/ (a trixie /usr, no maintainer scripts run);
#   3. <cache>/bin/qemu-system-aarch64 is a wrapper that starts the unpacked binary through the
#      unpacked dynamic loader (ld-linux) with --library-path on the unpacked libraries, and points
#      QEMU at its own data (-L) and module directories. Nothing in the system changes; no root
#      needed. (A `debootstrap --variant=minbase` trixie chroot does the same job, but needs root,
#      mounts, and about twice the download.)
# The wrapper checks the whole closure with the loader's --list before it is written: a library
# that does not resolve is an error here, not a QEMU that fails later.
#
#   <cache>/apt/archives/*.deb  <cache>/root/  <cache>/bin/qemu-system-aarch64  <cache>/QEMU_EFI.fd
#   <cache>/.packages   (Package Version, one a line)
# Idempotent: a second run with the lists younger than a day and the wrapper working returns at once.
# The last line on stdout is the directory holding the wrapper; progress goes to stderr.
# Usage: fetch-qemu11.sh <cache-dir>       e.g. fetch-qemu11.sh .cache/realkernel/qemu-11
set -euo pipefail

cache=${1:?usage: fetch-qemu11.sh <cache-dir>}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
log() { echo "qemu 11: $*" >&2; }
die() { log "$*"; exit 1; }

arch=$(dpkg --print-architecture)
case $arch in
  amd64) triplet=x86_64-linux-gnu ;;
  arm64) triplet=aarch64-linux-gnu ;;
  *) die "no rule for a $arch host (amd64, arm64)" ;;
esac
wrapper="$cache/bin/qemu-system-aarch64"
firmware="$cache/QEMU_EFI.fd"

works() {
  [ -x "$wrapper" ] && [ -f "$firmware" ] && "$wrapper" --version 2>/dev/null | grep -q 'version 11\.'
}
if works && [ -f "$cache/.unpacked" ] && [ -z "$(find "$cache/.unpacked" -mmin +1440)" ]; then
  log "$(cat "$cache/.unpacked") (cached)"
  echo "$cache/bin"
  exit 0
fi

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "apt-get and dpkg-deb are needed (a Debian host)"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache/apt/lists/partial" "$cache/apt/archives/partial" "$cache/apt/parts"
cat > "$cache/apt/sources.list" <<EOF
deb [signed-by=$keyring] $mirror trixie main
deb [signed-by=$keyring] $mirror trixie-backports main
EOF
: > "$cache/apt/status"
: > "$cache/apt/preferences"
apt_opts=(
  -o "Dir::Etc::sourcelist=$cache/apt/sources.list" -o "Dir::Etc::sourceparts=$cache/apt/parts"
  -o "Dir::Etc::preferences=$cache/apt/preferences" -o "Dir::Etc::preferencesparts=$cache/apt/parts"
  -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::State::status=$cache/apt/status"
  -o "Dir::State::extended_states=$cache/apt/extended_states"
  -o "Dir::Cache=$cache/apt" -o "Dir::Cache::archives=$cache/apt/archives"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
  -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o Debug::NoLocking=1
  -o "APT::Sandbox::User=$(id -un)" -o APT::Install-Recommends=false -q
)

stamp="$cache/apt/updated"
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ] || ! cmp -s "$cache/apt/sources.list" "$stamp"; then
  log "apt-get update (trixie, trixie-backports; lists in $cache/apt/lists)"
  apt-get "${apt_opts[@]}" update >&2
  cp "$cache/apt/sources.list" "$stamp"
fi

# The closure: what apt would install on an empty trixie system, backports preferred. The .debs
# stay in apt's archive (a later resolve downloads only what changed); autoclean drops versions the
# archive no longer has.
log "resolving qemu-system-arm (trixie-backports) and qemu-efi-aarch64 on an empty system"
apt-get "${apt_opts[@]}" -t trixie-backports --download-only -y install qemu-system-arm qemu-efi-aarch64 >&2
apt-get "${apt_opts[@]}" autoclean >&2
mapfile -t debs < <(find "$cache/apt/archives" -maxdepth 1 -name '*.deb' | sort)
[ ${#debs[@]} -gt 0 ] || die "apt-get downloaded nothing"
version=$(apt-cache "${apt_opts[@]}" -t trixie-backports policy qemu-system-arm | sed -n 's/^ *Candidate: //p')
case $version in *:11.*) ;; *) die "trixie-backports offers qemu-system-arm $version, not 11.x" ;; esac

# Unpacked again only when the set of packages changed.
printf '%s\n' "${debs[@]##*/}" > "$cache/.debs.new"
if [ -d "$cache/root" ] && cmp -s "$cache/.debs.new" "$cache/.debs"; then
  log "the same ${#debs[@]} packages as unpacked before"
else
  log "unpacking ${#debs[@]} packages into $cache/root"
  rm -rf "$cache/root.tmp"
  mkdir -p "$cache/root.tmp"
  : > "$cache/.packages.tmp"
  for deb in "${debs[@]}"; do
    dpkg-deb -x "$deb" "$cache/root.tmp"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' >> "$cache/.packages.tmp"
  done
  rm -rf "$cache/root"
  mv "$cache/root.tmp" "$cache/root"
  mv "$cache/.packages.tmp" "$cache/.packages"
fi
mv "$cache/.debs.new" "$cache/.debs"

root="$cache/root"
loader=$(find "$root/usr/lib/$triplet" "$root/usr/lib64" "$root/lib64" "$root/lib" -maxdepth 1 -name 'ld-linux*.so.*' 2>/dev/null | head -n1 || true)
[ -n "$loader" ] || die "no dynamic loader (ld-linux) in the unpacked libc6"
libs="$root/usr/lib/$triplet:$root/lib/$triplet"
for d in "$root/usr/lib/$triplet"/*/; do
  # Libraries some packages keep in a subdirectory (e.g. libblas, pulseaudio) have an ld.so.conf.d
  # entry on an installed system: name them here instead.
  compgen -G "$d*.so*" >/dev/null && libs="$libs:${d%/}"
done
binary="$root/usr/bin/qemu-system-aarch64"
[ -x "$binary" ] || die "qemu-system-aarch64 is not in the unpacked qemu-system-arm"
unresolved=$("$loader" --library-path "$libs" --list "$binary" 2>&1 | grep 'not found' || true)
[ -z "$unresolved" ] || die "libraries of qemu-system-aarch64 that the closure lacks: $unresolved"
efi=$(find "$root/usr/share/qemu-efi-aarch64" -name QEMU_EFI.fd 2>/dev/null | head -n1 || true)
[ -n "$efi" ] || die "no QEMU_EFI.fd in the unpacked qemu-efi-aarch64"
ln -sf "$efi" "$firmware"
# Also where QEMU looks for -bios files (its data directory, -L): `-bios QEMU_EFI.fd` finds it.
ln -sf "$efi" "$root/usr/share/qemu/QEMU_EFI.fd"

mkdir -p "$cache/bin"
cat > "$wrapper.tmp" <<EOF
#!/bin/sh
# QEMU $version from Debian trixie-backports, on its own trixie libraries (written by
# realkernel/scripts/fetch-qemu11.sh; nothing of it is installed in the system).
QEMU_MODULE_DIR='$root/usr/lib/$triplet/qemu'
export QEMU_MODULE_DIR
exec '$loader' --library-path '$libs' '$binary' -L '$root/usr/share/qemu' "\$@"
EOF
chmod +x "$wrapper.tmp"
mv "$wrapper.tmp" "$wrapper"
works || die "the unpacked QEMU does not run: $("$wrapper" --version 2>&1 | head -n3)"
echo "qemu-system-arm $version" > "$cache/.unpacked"
log "$("$wrapper" --version | head -n1); firmware $(basename "$(dirname "$efi")")/QEMU_EFI.fd"
echo "$cache/bin"
