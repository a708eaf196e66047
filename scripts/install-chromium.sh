#!/usr/bin/env bash
# Install Debian's chromium for the report's browser check (scripts/report/browser-check.ts).
# playwright-core drives it through executablePath /usr/bin/chromium; its own browser downloads
# are not used. Needs root (or sudo). Safe to run twice.
set -euo pipefail

version() { dpkg-query -W -f='${Package} ${Version}\n' chromium 2>/dev/null || echo /usr/bin/chromium; }

if [ -x /usr/bin/chromium ]; then
  echo "chromium already installed: $(version)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-chromium: need root (or sudo) to run apt-get" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: apt-get not found; install a chromium build at /usr/bin/chromium by hand" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
echo "installed: $(version)"
