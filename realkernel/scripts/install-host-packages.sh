#!/usr/bin/env bash
# Host tools for `npm run real-kernel`, all from Debian's archive: QEMU for both guests, compilers
# for the guest agent (native gcc for x86_64, gcc-aarch64-linux-gnu for arm64), cpio for the
# initramfs. Installs only what is missing; needs root (or sudo) the first time. Package names
# given as arguments are installed too (a kernel build's: make flex bison bc).
set -euo pipefail

packages=(
  qemu-system-arm        # qemu-system-aarch64: virt + iommu=smmuv3
  qemu-system-x86        # qemu-system-x86_64: q35 + intel-iommu
  gcc libc6-dev          # the x86_64 agent, linked static
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross   # the arm64 agent, linked static
  cpio                   # initramfs archives (newc)
  xz-utils zstd          # compressed kernel modules, whichever the kernel package uses
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "host packages: all present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "real-kernel: need root (or sudo) to apt-get install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "host packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
