#!/usr/bin/env bash
# Where `npm test`'s time goes, measured on this machine:
#   1. each phase of npm test alone (npm run typecheck / lint / features / unit), warm caches;
#   2. each unit test file's wall time, the files run one after another in one process;
#   3. npm test itself, its phases side by side (bin/test.js), twice.
# Each line gives wall and CPU seconds (user + system, children included) and the 1-minute load
# average when it ended: on a shared machine the CPU figure is the steadier one.
#   bash scripts/time-test.sh [--cold]   --cold also times typecheck and lint without their caches
set -uo pipefail
cd "$(dirname "$0")/.."
node bin/build.js

TIMEFORMAT='%R %U %S'
measure() {
  local label=$1
  shift
  local t rc
  t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
  rc=$?
  read -r wall user sys <<<"$t"
  printf '%-44s %7.2f s wall %7.2f s cpu  load %-5s%s\n' "$label" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" "$(cut -d' ' -f1 /proc/loadavg)" "$([ "$rc" -ne 0 ] && echo "  (exit $rc)")"
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, node $(node --version)"
echo
echo "phases alone:"
if [ "${1:-}" = --cold ]; then
  rm -f dist/.tsbuildinfo
  measure '  typecheck (cold: no dist/.tsbuildinfo)' npm run -s typecheck
  rm -rf node_modules/.cache/eslint
  measure '  lint (cold: no eslint cache)' npm run -s lint
fi
for phase in typecheck lint features unit; do measure "  $phase" npm run -s "$phase"; done
echo
echo "unit test files, one after another in one process (bin/unit.js --shards 1), wall seconds each:"
times_dir=$(mktemp -d)
measure '  all files, one process' env TCK_UNIT_CACHE="$times_dir" node bin/unit.js --shards 1
node -e '
const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
for (const [f, ms] of Object.entries(t).sort((a, b) => b[1] - a[1])) console.log(`  ${f.padEnd(42)} ${(ms / 1000).toFixed(2).padStart(7)} s`)
' "$times_dir/unit-times.json"
rm -rf "$times_dir"
echo
echo "npm test (phases side by side):"
measure '  npm test' npm test
measure '  npm test, again' npm test
