#!/usr/bin/env bash
# A guest kernel built from Debian's kernel source, reproducibly: the source package (e.g.
# linux-source-7.3 from trixie-backports) is downloaded with the backend's own apt setup
# (debian-apt.sh), configured with `make ARCH=arm64 allnoconfig` plus a fragment committed in the
# repository (KCONFIG_ALLCONFIG), and its Image built with the Debian cross compiler.
#
#   build-kernel.sh <cache-dir> version <source-package>
#       prints the source package's version Debian has today (the last line)
#   build-kernel.sh <cache-dir> build <source-package> <version> <fragment> <out-dir>
#       builds <out-dir>/Image (+ config, release, seconds, make.log, objects: the number of make's
#       "  CC  x.o"/"  AS  x.o" lines); make's lines pass through, so the caller can count them as
#       they come. The object tree is removed afterwards.
# The host's make, gcc, flex, bison, bc and gcc-aarch64-linux-gnu come from
# install-host-packages.sh (realkernel/prepare.ts installs them first).
set -euo pipefail

cache=${1:?usage: build-kernel.sh <cache-dir> version|build ...}
mode=${2:?usage: build-kernel.sh <cache-dir> version|build ...}
cache=$(mkdir -p "$cache" && cd "$cache" && pwd)
# shellcheck source=debian-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/debian-apt.sh"

case $mode in
  version)
    pkg=${3:?source package}
    apt_lists_update "kernel build" >&2
    version=$(apt-cache "${apt_opts[@]}" policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
    [ -n "$version" ] && [ "$version" != "(none)" ] || { echo "kernel build: no $pkg in the Debian lists" >&2; exit 1; }
    echo "$version"
    exit 0
    ;;
  build) ;;
  *) echo "kernel build: unknown mode $mode (version or build)" >&2; exit 1 ;;
esac

pkg=${3:?source package}
version=${4:?version}
fragment=$(cd "$(dirname "${5:?fragment}")" && pwd)/$(basename "$5")
out=${6:?out dir}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for tool in make gcc flex bison bc aarch64-linux-gnu-gcc dpkg-deb xz; do
  command -v "$tool" >/dev/null || { echo "kernel build: $tool is missing (realkernel/scripts/install-host-packages.sh)" >&2; exit 1; }
done

# 1. The source: the .deb holds /usr/src/<pkg>.tar.xz (Debian's patches applied).
src="$cache/kernel-src/$pkg-$version"
if [ ! -f "$src/.extracted" ]; then
  deb=$(ls "$cache/debs/${pkg}_${version//:/%3a}_all.deb" 2>/dev/null || true)
  if [ -z "$deb" ]; then
    echo "kernel build: downloading $pkg $version"
    (cd "$cache/debs" && apt-get "${apt_opts[@]}" download "$pkg=$version" 2>&1 | grep -Ev 'unsandboxed|^Get:|^Fetched' || true)
    deb=$(ls "$cache/debs/${pkg}_${version//:/%3a}_all.deb" 2>/dev/null || true)
    [ -n "$deb" ] || { echo "kernel build: apt-get download $pkg=$version produced no .deb" >&2; exit 1; }
  fi
  echo "kernel build: unpacking $(basename "$deb")"
  rm -rf "$src"
  mkdir -p "$src"
  dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards "*usr/src/$pkg.tar.*" | tar -xJ -C "$src" --strip-components=1
  [ -f "$src/Makefile" ] || { echo "kernel build: $deb held no kernel tree" >&2; exit 1; }
  touch "$src/.extracted"
fi

# 2. Configure. The build's identity is fixed (no user, host or time of this machine in it).
obj="$out/obj"
rm -rf "$obj"
mkdir -p "$obj"
export KBUILD_BUILD_USER=smmu-nesting-tck KBUILD_BUILD_HOST=realkernel KBUILD_BUILD_VERSION=1
KBUILD_BUILD_TIMESTAMP="$(date -u -R -r "$src/Makefile")"
export KBUILD_BUILD_TIMESTAMP
kmake=(make -C "$src" O="$obj" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
echo "kernel build: allnoconfig + $(basename "$fragment")"
KCONFIG_ALLCONFIG="$fragment" "${kmake[@]}" -s allnoconfig
missing=()
while IFS= read -r line; do
  case $line in CONFIG_*=*) grep -qxF "$line" "$obj/.config" || missing+=("$line") ;; esac
done < "$fragment"
[ ${#missing[@]} -eq 0 ] || { echo "kernel build: the configured kernel lacks ${missing[*]} (a dependency missing from the fragment?)" >&2; exit 1; }

# 3. Build, at the lowest priority: the machine is shared.
start=$(date +%s)
echo "kernel build: make -j2 Image ($(cat "$src/include/config/kernel.release" 2>/dev/null || "${kmake[@]}" -s kernelversion))"
nice -n 19 "${kmake[@]}" -j2 Image 2>&1 | tee "$out/make.log"
cp "$obj/arch/arm64/boot/Image" "$out/Image.tmp"
cp "$obj/.config" "$out/config"
cp "$obj/include/config/kernel.release" "$out/release"
echo "$(( $(date +%s) - start ))" > "$out/seconds"
grep -cE '^  (CC|AS) +\S+\.o$' "$out/make.log" > "$out/objects" || true
rm -rf "$obj"
mv "$out/Image.tmp" "$out/Image"
echo "kernel build: $out/Image ($(cat "$out/release"), $(cat "$out/seconds") s, $(cat "$out/objects") objects)"
