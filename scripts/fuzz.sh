#!/usr/bin/env bash
# Fuzz drover's decoders (fuzz/README.md): build the libFuzzer targets with
# clang into build-fuzz/, then run each for SECONDS (default 60) from the
# committed seeds in fuzz/corpus/<target>/ plus what earlier runs found in
# build-fuzz/corpus/<target>/.  Prints one line per target; fails if any
# target finds a crash, a leak, a sanitizer report, a hang or an OOM.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   targets: msg json result broker
# Environment: FUZZ_BUILD (default build-fuzz), FUZZ_ARGS (more libFuzzer
# flags, e.g. "-jobs=2 -workers=2").
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(msg json result broker)
case $seconds in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac
build=${FUZZ_BUILD:-build-fuzz}

echo "== build fuzz targets (clang, libFuzzer+ASan+UBSan) into $build"
mkdir -p "$build"
CC=clang cmake -S fuzz -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 \
  || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

# Sanitizer reports stop the target; libFuzzer saves the input as an artifact.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts"
  log="$build/fuzz_$t.log"
  mkdir -p "$corpus" "$artifacts"
  rc=0
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -dict="fuzz/dict/$t.dict" -artifact_prefix="$artifacts/$t-" \
    ${FUZZ_ARGS:-} "$corpus" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?

  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE '(INITED|DONE|pulse|NEW|REDUCE) +cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
  units=$(find "$corpus" -type f | wc -l)
  if grep -q 'ERROR: LeakSanitizer' "$log"; then verdict=leak
  elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then verdict=timeout
  elif grep -qE 'ERROR: libFuzzer: out-of-memory|ERROR: libFuzzer: malloc' "$log"; then verdict=oom
  elif grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: libFuzzer: deadly signal|check failed:' "$log"; then verdict=crash
  elif [ $rc -ne 0 ]; then verdict="error (exit $rc)"
  else verdict=ok
  fi
  printf 'fuzz_%-7s %-8s %10s runs in %ss (%s/s), coverage %s edges, corpus %s\n' \
    "$t" "$verdict" "${runs:-?}" "$seconds" "${speed:-?}" "${cov:-?}" "$units"
  if [ "$verdict" = ok ]; then
    passed=$((passed + 1))
    continue
  fi
  failed=$((failed + 1))
  echo "== fuzz_$t found a problem (full log: $log):"
  grep -nE 'ERROR:|SUMMARY:|runtime error|check failed|^ *#[0-9]+ 0x|Test unit written|^0x|Base64:' "$log" \
    | head -60 || true
  artifact=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | tail -1)
  [ -n "$artifact" ] && echo "== reproduce: $build/fuzz_$t $artifact"
done

echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
