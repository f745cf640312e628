#!/usr/bin/env bash
# The demo command: install what is missing, build, run `drover demo`
# (a tcp-probe scan of 127.0.0.1 ports 1-2048 through a local broker, two
# agents and a sink).  Extra arguments go to `drover demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build >/dev/null
exec build/drover demo "$@"
