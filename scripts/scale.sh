#!/usr/bin/env bash
# The scale benchmark (docs/benchmarks.md "One broker, many agents"): the
# cluster scenario tests/cluster/scenarios/scale.sh at full size, by
# default 1,000 agents (P=0 x T=1) on 10 namespace hosts running 200,000
# echo tuples, then 10,000,000 tuples queued in the broker's LMDB store and
# a kill -9 restart on them.  Prints the broker's CPU per connected agent
# and per tuple, heartbeat bytes per agent, connect time, RSS (must stay
# under 100 MB) and restart time.  As root; installs and builds first.
# Usage: scripts/scale.sh [AGENTS [QUEUED]]
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-1000}
queued=${2:-10000000}
case "$agents$queued" in *[!0-9]*) echo "usage: scripts/scale.sh [AGENTS [QUEUED]]" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "scale.sh: run as root (network namespaces)" >&2; exit 2; }
scripts/deps.sh --test >/dev/null
CC=${CC:-gcc} scripts/build.sh build >/dev/null
# A thousand agents hold a few thousand descriptors in the broker.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
CL_SCALE_AGENTS=$agents CL_SCALE_HOSTS=${SCALE_HOSTS:-10} CL_SCALE_QUEUED=$queued \
  CL_SCALE_TUPLES=${SCALE_TUPLES:-200000} CL_SCALE_IDLE_S=${SCALE_IDLE_S:-10} \
  exec tests/cluster/run.sh --drover build/drover scale
