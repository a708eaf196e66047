#!/usr/bin/env bash
# Sourced by fetch-qemu11.sh and fetch-vmm-qemu.sh: apt resolving packages for one architecture
# as the *native* one against an empty dpkg status (nothing of this host counts as installed), with
# its own sources list, preferences, package lists and archives under $cache/apt/ (the system's
# are left alone; no root needed), without recommends.
# Needs $cache (an absolute directory) and $arch (a dpkg architecture); the caller writes
# $cache/apt/sources.list after sourcing. Defines apt_opts.
mkdir -p "$cache/apt/lists/partial" "$cache/apt/archives/partial" "$cache/apt/parts"
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
