#!/usr/bin/env bash
# Make timing bugs visible: run the tests again and again while every core
# is busy with competing work (stress-ng, or shell busy loops without it),
# in the normal build and the sanitizer build, and report how often each
# test passed.  A test that fails only under load is a real bug, in the
# code or in the test (issue 10): a run is clean when every round passed.
#
# Usage: scripts/stress.sh [--rounds N] [--quick] [--tests REGEX]
#                          [--build DIR]... [--load N] [--jobs J] [--out DIR]
#   --rounds N     rounds; each runs the tests once in every build (default 5)
#   --quick        one round of a few fast black-box tests (QUICK below)
#   --tests REGEX  only the ctest tests matching REGEX (default: all but
#                  the namespace cluster, which has its own runner)
#   --build DIR    a build to test, again for more (default: build, and
#                  build-asan when it exists: CC=clang scripts/build.sh
#                  build-asan -DDROVER_SANITIZE=ON)
#   --load N       competing CPU hogs (default: one per core)
#   --jobs J       ctest -j (default 2, as the suite is run by hand)
#   --out DIR      where the logs go (default /tmp/drover-stress-TIME)
# Exit status: 0 when every round of every build passed, 1 otherwise, 2 on
# a usage error.  Builds are not made here: build them first.
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK='test_producer$|test_submit_stream|test_broker_submit|test_integration|test_supervisor'
ASAN_ENV=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0
          UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)

rounds=5 tests='' load=$(nproc) jobs=2 out="/tmp/drover-stress-$(date +%Y%m%d-%H%M%S)"
builds=()
usage() { sed -n '9,22p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=${2:?}; shift ;;
    --quick)  rounds=1; tests=$QUICK ;;
    --tests)  tests=${2:?}; shift ;;
    --build)  builds+=("${2:?}"); shift ;;
    --load)   load=${2:?}; shift ;;
    --jobs)   jobs=${2:?}; shift ;;
    --out)    out=${2:?}; shift ;;
    -h|--help) usage ;;
    *) echo "stress.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done
[[ $rounds =~ ^[1-9][0-9]*$ && $load =~ ^[0-9]+$ && $jobs =~ ^[1-9][0-9]*$ ]] || usage
if [ ${#builds[@]} -eq 0 ]; then
  builds=(build)
  if [ -d build-asan ]; then builds+=(build-asan)
  else echo "stress.sh: no build-asan: the sanitizer build is not stressed" >&2; fi
fi
for dir in "${builds[@]}"; do
  [ -f "$dir/CTestTestfile.cmake" ] || { echo "stress.sh: $dir is not a build" >&2; exit 2; }
done
mkdir -p "$out"

# The competing load: at the tests' own priority, or it would not compete.
hogs=()
stop_load() {
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${hogs[@]}"; do wait "$pid" 2>/dev/null; done
  hogs=()
}
trap stop_load EXIT
trap 'exit 130' INT TERM
if [ "$load" -gt 0 ]; then
  if command -v stress-ng >/dev/null; then
    stress-ng --cpu "$load" --quiet >"$out/load.log" 2>&1 &
    hogs+=($!)
  else
    for _ in $(seq "$load"); do (while :; do :; done) & hogs+=($!); done
  fi
fi
echo "== stress: $rounds rounds, builds ${builds[*]}, load $load CPU hogs" \
     "($(command -v stress-ng >/dev/null && echo stress-ng || echo busy loops)), ctest -j$jobs," \
     "logs in $out"

declare -A passed=() ran=()
clean=0 streak=0 best=0
for round in $(seq "$rounds"); do
  round_ok=1
  for dir in "${builds[@]}"; do
    log="$out/round$round-$(basename "$dir").log"
    env_vars=()
    grep -q 'DROVER_SANITIZE:BOOL=ON' "$dir/CMakeCache.txt" 2>/dev/null && env_vars=("${ASAN_ENV[@]}")
    args=(--timeout 900 -j "$jobs" -E '^cluster_' --output-on-failure)
    [ -n "$tests" ] && args+=(-R "$tests")
    start=$SECONDS
    (cd "$dir" && env "${env_vars[@]}" ctest "${args[@]}") >"$log" 2>&1
    # "  1/70 Test  #3: test_x ....   Passed    1.2 sec" (or ***Failed, ***Timeout)
    while read -r name verdict; do
      [ "$verdict" = Skipped ] && continue     # a missing tool, not a failure
      key="$(basename "$dir")/$name"
      ran[$key]=$(( ${ran[$key]:-0} + 1 ))
      if [ "$verdict" = Passed ]; then passed[$key]=$(( ${passed[$key]:-0} + 1 ))
      else round_ok=0; passed[$key]=${passed[$key]:-0}; fi
    done < <(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) \.+[* ]*([A-Za-z]+).*/\1 \2/p' "$log")
    grep -q 'tests passed' "$log" || round_ok=0
    echo "round $round $(basename "$dir"): $(grep -E 'tests passed' "$log" || echo 'no verdict') ($(( SECONDS - start )) s)"
    grep -nE '\[FAIL\]|CRASH|ERROR: AddressSanitizer|runtime error' "$log" | head -20
  done
  if [ $round_ok -eq 1 ]; then clean=$(( clean + 1 )); streak=$(( streak + 1 ))
  else streak=0; fi
  [ $streak -gt $best ] && best=$streak
done
stop_load

echo "== passes per test (of runs)"
for key in $(printf '%s\n' "${!ran[@]}" | sort); do
  flag=''
  [ "${passed[$key]}" -lt "${ran[$key]}" ] && flag='   <-- FAILED'
  printf '%-12s %-28s %s/%s%s\n' "${key%%/*}" "${key#*/}" "${passed[$key]}" "${ran[$key]}" "$flag"
done
echo "== $clean of $rounds rounds clean (longest clean streak $best); logs in $out"
[ $clean -eq "$rounds" ]
