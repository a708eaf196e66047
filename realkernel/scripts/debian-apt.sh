#!/usr/bin/env bash
# Sourced by fetch-guest-packages.sh and build-kernel.sh: apt with its own sources list and
# package lists under $cache/apt/ (the system's sources, lists and dpkg architectures are left
# alone; no root needed), for Debian's bookworm, bookworm-security, bookworm-backports and
# trixie-backports. Needs $cache (an absolute directory). Defines apt_opts, stamp and
#   apt_lists_update   apt-get update, again when the lists are older than a day
#   download PKG:ARCH...  apt-get download into $cache/debs (kept: a second run downloads nothing)
mkdir -p "$cache/debs" "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial"

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cat > "$cache/apt/sources.list" <<SOURCES
deb [signed-by=$keyring] $mirror bookworm main
deb [signed-by=$keyring] $security bookworm-security main
deb [signed-by=$keyring] $mirror bookworm-backports main
deb [signed-by=$keyring] $mirror trixie-backports main
SOURCES
apt_opts=(
  -o "Dir::Etc::sourcelist=$cache/apt/sources.list" -o Dir::Etc::sourceparts=/nonexistent
  -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt/cache"
  -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 -o Debug::NoLocking=1
  -o "APT::Sandbox::User=$(id -un)" -q
)
stamp="$cache/apt/updated"

apt_lists_update() { # $1: who is asking (for the log line)
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ] || ! cmp -s "$cache/apt/sources.list" "$stamp"; then
    echo "$1: apt-get update (bookworm, bookworm-security, bookworm-backports, trixie-backports)"
    apt-get "${apt_opts[@]}" update 2>&1 | grep -E '^(E:|W: Failed)' >&2 || true
    cp "$cache/apt/sources.list" "$stamp"
  fi
}

download() { # download <pkg:arch>... into $cache/debs (kept: a second run downloads nothing)
  local need=()
  for p in "$@"; do
    ls "$cache/debs/${p%%:*}_"*"_${p##*:}.deb" >/dev/null 2>&1 || need+=("$p")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  (cd "$cache/debs" && apt-get "${apt_opts[@]}" download "${need[@]}" 2>&1 | grep -Ev 'unsandboxed|^Get:|^Fetched' || true)
}
