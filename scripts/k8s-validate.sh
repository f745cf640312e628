#!/usr/bin/env bash
# Validate deploy/k8s without a cluster: installs the validator's npm
# packages as deploy/k8s/validate/package-lock.json pins them (npm ci, into
# its gitignored node_modules, skipped when already current), then runs
# validate.mjs with its self-test.  Prints "N passed, M failed"; exit 1 on
# any failure.  Needs node (18 or later) and npm, and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/../deploy/k8s/validate"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
fi
exec node validate.mjs --self-test
