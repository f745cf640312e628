#!/usr/bin/env bash
# The test command: install what is missing, build, run every test.
# Runs the suite twice: a normal build (gcc), then ASan+UBSan (clang), so
# memory errors and leaks fail CI; between the two, each libFuzzer target
# runs for DROVER_FUZZ_SECONDS (default 60).  --quick runs the first pass only.
# Prints each test binary's Criterion summary and ctest's verdict; the full
# output is kept in BUILD/ctest.log and shown for failures.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

run_suite() {
  local dir=$1
  local rc=0
  (cd "$dir" && ctest --verbose --timeout 900) >"$dir/ctest.log" 2>&1 || rc=$?
  grep -E 'Synthesis:|tests passed|tests failed|\(Failed\)|\(Timeout\)|\*\*\*' "$dir/ctest.log" \
    | sed -e 's/^[0-9]*: //' || true
  if [ $rc -ne 0 ]; then
    echo "== failures in $dir (from $dir/ctest.log):"
    grep -nE '\[FAIL\]|\[----\].*(Assertion|fail|crash)|CRASH|Timeout|ERROR: AddressSanitizer|runtime error|SUMMARY' \
      "$dir/ctest.log" | head -100 || true
    tail -150 "$dir/ctest.log"
  fi
  return $rc
}

scripts/check-docs.sh    # the documents first: a second, no build needed
scripts/deps.sh --test   # apt-get update + install of whatever is missing

echo "== build (gcc, RelWithDebInfo)"
CC=gcc scripts/build.sh build
echo "== tests"
run_suite build

echo "== deployment checks"
scripts/k8s-validate.sh      # every manifest against its schema
scripts/systemd-verify.sh    # the units, with systemd-analyze
if [ $quick -eq 0 ]; then
  echo "== compose test (image built from a local debootstrap base)"
  scripts/compose-test.sh
fi

if [ $quick -eq 0 ]; then
  echo "== fuzzing (${DROVER_FUZZ_SECONDS:-60} s per target)"
  scripts/fuzz.sh "${DROVER_FUZZ_SECONDS:-60}"
  echo "== build (clang, ASan+UBSan)"
  CC=clang scripts/build.sh build-asan -DDROVER_SANITIZE=ON
  echo "== tests under ASan+UBSan"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite build-asan
fi
