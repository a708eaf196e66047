#!/usr/bin/env bash
# Fetch QEMU 10 (Debian bookworm-backports' qemu-system-arm and qemu-system-x86) and unpack it
# side by side with the system's QEMU: the .debs are fetched with `apt-get download` through a
# private sources list and package-list directory (the system's apt lists stay as they are), then
# unpacked with `dpkg -x` into ${TCK_CACHE:-<repo>/.cache}/qemu-10. Nothing is installed as QEMU:
# the system's qemu-system-* (7.2 on bookworm) stays the default.
#
# Installs with apt-get what the unpacked binaries need to run (their shared libraries, e.g.
# libcapstone4 libpmem1 libfdt1 librdmacm1 libibverbs1 libslirp0 libvdeplug2 libfuse3-3 libaio1
# liburing2) and Debian's gcc-aarch64-linux-gnu (for the bare-metal agent of `npm run smmu-oracle`).
#
# Idempotent: a second run checks the unpacked binaries and returns at once.
# The last line on stdout is the directory holding qemu-system-aarch64 and qemu-system-x86_64;
# everything else goes to stderr.
#   QEMU10="$(bash scripts/fetch-qemu10.sh | tail -n 1)"
# QEMU finds its firmware and data (unpacked from qemu-system-data and seabios) relative to the
# binary (../share/qemu), so no -L is needed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${TCK_CACHE:-$REPO/.cache}"
ROOT="$CACHE/qemu-10"
BIN="$ROOT/usr/bin"
SUITE="bookworm-backports"
MIRROR="${TCK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBS=(qemu-system-arm qemu-system-x86 qemu-system-data seabios)
# Runtime libraries named by tooling.md; the debs' own Depends are added to these below.
LIBS=(libcapstone4 libpmem1 libfdt1 librdmacm1 libibverbs1 libslirp0 libvdeplug2 libfuse3-3 libaio1 liburing2)

log() { echo "fetch-qemu10: $*" >&2; }
die() { log "$*"; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO=""; fi
fi
APT_LOCK=(-o DPkg::Lock::Timeout=600)

missing_libs() {  # prints the sonames the unpacked binaries cannot resolve
  local b
  for b in "$BIN/qemu-system-aarch64" "$BIN/qemu-system-x86_64"; do
    [ -x "$b" ] || { echo "missing:$b"; continue; }
    ldd "$b" 2>/dev/null | awk '/not found/ {print $1}'
  done | sort -u
}

works() {
  [ -x "$BIN/qemu-system-aarch64" ] && [ -x "$BIN/qemu-system-x86_64" ] || return 1
  [ -z "$(missing_libs)" ] || return 1
  "$BIN/qemu-system-aarch64" --version 2>/dev/null | grep -q 'version 10\.' || return 1
  "$BIN/qemu-system-x86_64" --version 2>/dev/null | grep -q 'version 10\.' || return 1
}

apt_install() {  # system apt: the system's own sources, only packages not yet installed
  local want=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || want+=("$p")
  done
  [ ${#want[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${want[*]}"
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then die "need root (or sudo) to install: ${want[*]}"; fi
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get install ${want[*]}"
  if ! $SUDO apt-get "${APT_LOCK[@]}" install -y --no-install-recommends "${want[@]}" >&2; then
    log "apt-get install failed; updating the system's package lists once and retrying"
    $SUDO apt-get "${APT_LOCK[@]}" update >&2
    $SUDO apt-get "${APT_LOCK[@]}" install -y --no-install-recommends "${want[@]}" >&2
  fi
}

ensure_gcc() {
  command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || apt_install gcc-aarch64-linux-gnu
}

if works; then
  ensure_gcc
  echo "$BIN"
  exit 0
fi

command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb not found (Debian/Ubuntu host needed)"
APTDIR="$CACHE/apt-$SUITE"
mkdir -p "$APTDIR/lists/partial" "$APTDIR/parts" "$APTDIR/debs" "$APTDIR/archives/partial"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$KEYRING" ] || die "$KEYRING missing (package debian-archive-keyring)"
echo "deb [signed-by=$KEYRING] $MIRROR $SUITE main" > "$APTDIR/sources.list"
PRIVATE=(-o "Dir::Etc::sourcelist=$APTDIR/sources.list" -o "Dir::Etc::sourceparts=$APTDIR/parts"
         -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache::archives=$APTDIR/archives"
         -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Sandbox::User=root")

if ! ls "$APTDIR/lists/"*Packages* >/dev/null 2>&1; then
  log "apt-get update ($SUITE only, lists in $APTDIR/lists)"
  apt-get "${PRIVATE[@]}" update >&2
fi

cd "$APTDIR/debs"
for p in "${DEBS[@]}"; do
  if ! ls "${p}"_*.deb >/dev/null 2>&1; then
    log "apt-get download $p ($SUITE)"
    apt-get "${PRIVATE[@]}" download "$p" >&2 || {
      log "download failed; refreshing the $SUITE list and retrying"
      apt-get "${PRIVATE[@]}" update >&2
      apt-get "${PRIVATE[@]}" download "$p" >&2
    }
  fi
done

rm -rf "$ROOT.tmp"
mkdir -p "$ROOT.tmp"
for p in "${DEBS[@]}"; do
  deb="$(ls -1 "${p}"_*.deb | tail -n 1)"
  log "dpkg -x $deb"
  dpkg -x "$deb" "$ROOT.tmp"
  # Shared libraries the package depends on (names only; bookworm's versions serve these builds).
  while read -r dep; do
    case "$dep" in lib*|zlib1g) LIBS+=("$dep") ;; esac
  done < <(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -e 's/[|].*//' -e 's/(.*)//' -e 's/[[:space:]]//g' -e 's/:any$//' | grep -v '^$')
done
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"

mapfile -t LIBS < <(printf '%s\n' "${LIBS[@]}" | sort -u)
apt_install "${LIBS[@]}"
ensure_gcc

if ! works; then
  m="$(missing_libs | tr '\n' ' ')"
  die "QEMU 10 in $BIN does not run${m:+ (unresolved: $m)}"
fi
log "$("$BIN/qemu-system-aarch64" --version | head -n 1)"
echo "$BIN"
