#!/usr/bin/env bash
# The benchmark command (bench/README.md): install what is missing (drover's
# build deps, gearmand and its client library), build drover and
# drover-bench, run the benchmark (defaults: 200,000 tuples, 3 rounds of
# raw ZeroMQ, drover and gearmand) and print the table.  Extra arguments go
# to drover-bench (try --help).  Bounded: drover-bench stops every process
# it started; BENCH_TIMEOUT (seconds, default 900) caps the whole run.
# Environment: BENCH_BUILD (default build), BENCH_TIMEOUT.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

packages=(gearman-job-server libgearman-dev)
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
scripts/build.sh "$build" >/dev/null
# Until the top-level CMakeLists.txt has add_subdirectory(bench), build the
# bench on its own against that tree.
if grep -q '^add_subdirectory(bench)' CMakeLists.txt; then
  cmake --build "$build" -j"$(nproc)" --target drover-bench >/dev/null
  bench=$build/bench/drover-bench
else
  cmake -S bench -B "$build/bench-only" -DDROVER_BUILD_DIR="$PWD/$build" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build/bench-only" -j"$(nproc)" >/dev/null
  bench=$build/bench-only/drover-bench
fi

echo "== run $bench $*" >&2
# SIGTERM first: drover-bench then stops its daemons and says so.
exec timeout -k 15 "${BENCH_TIMEOUT:-900}" "$bench" "$@"
