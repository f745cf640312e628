#!/usr/bin/env bash
# The benchmark command (bench/README.md): install what is missing (drover's
# build deps, gearmand and its client library, nmap), build drover and
# drover-bench, run the benchmark and print the table: drover as users run
# it (1 and 2 agents) against the ceiling, drover memory/plain against raw
# ZeroMQ, gearmand, a scan of 127.0.0.1 against nmap, and the ratios against
# issue 9's targets (defaults: 1,000,000 tuples, 3 rounds; about 10-20
# minutes on 2 cores).  Extra arguments go to drover-bench (try --help).
# Bounded: drover-bench stops every process it started; BENCH_TIMEOUT
# (seconds, default 3600) caps the whole run.
# Environment: BENCH_BUILD (default build), BENCH_TIMEOUT.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

packages=(gearman-job-server libgearman-dev nmap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build=${BENCH_BUILD:-build}
echo "== build drover into $build" >&2
# Configured again so that a tree built before libgearman-dev was installed
# picks it up (the gearman row needs it at build time).
scripts/build.sh "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" --target drover-bench >/dev/null
bench=$build/bench/drover-bench

echo "== run $bench $*" >&2
# SIGTERM first: drover-bench then stops its daemons and says so.
exec timeout -k 15 "${BENCH_TIMEOUT:-3600}" "$bench" "$@"
