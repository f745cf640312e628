#!/usr/bin/env bash
# Check deploy/systemd's units without booting them: `systemd-analyze
# verify` (syntax, directives, specifiers; ExecStart pointed at the built
# binary, since /usr/local/bin/drover need not exist here) must print
# nothing, and `systemd-analyze security --offline` must rate each unit's
# exposure at most DROVER_MAX_EXPOSURE (default 2.0, "OK"; 10 is unconfined).
# Works without systemd as PID 1.  Prints "N passed, M failed".
# Needs: systemd (Debian package), build/drover.
set -euo pipefail
cd "$(dirname "$0")/.."
drover=$PWD/build/drover
max=${DROVER_MAX_EXPOSURE:-2.0}
[ -x "$drover" ] || { echo "systemd-verify: no $drover (scripts/build.sh first)" >&2; exit 1; }
command -v systemd-analyze >/dev/null || { echo "systemd-verify: systemd-analyze is missing" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
for unit in deploy/systemd/*.service; do
  name=$(basename "$unit")
  sed "s|^ExecStart=/usr/local/bin/drover|ExecStart=$drover|" "$unit" >"$work/$name"
  problems=$(cd "$work" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify "./$name" 2>&1 || echo "(exit $?)")
  exposure=$(cd "$work" && systemd-analyze security --offline=true --no-pager "./$name" 2>&1 \
             | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  if [ -n "$problems" ] || [ -z "$exposure" ] || awk -v e="$exposure" -v m="$max" 'BEGIN { exit !(e > m) }'; then
    echo "FAIL $name: exposure ${exposure:-?} (at most $max)${problems:+; verify says: $problems}"
    failed=$((failed + 1))
  else
    echo "ok   $name: verify clean, exposure $exposure"
    passed=$((passed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
