#!/usr/bin/env bash
# Scenario churn_workdir (issue 14 item 4): agent a1 runs an exec job
# (worker work directories), then is killed -9: its directories stay under
# its $TMPDIR.  A new agent started with the same $TMPDIR must sweep the
# stale ones of dead agents (and keep its own).
. "$(dirname "$0")/../lib.sh"

cl_begin a1
cl_start_daemons a1
printf '["a"]\n["b"]\n' >"$CL_RUN/tuples.jsonl"
cl_submit work exec "$CL_RUN/tuples.jsonl" --options '{"command": ["true"], "workdir": true}' \
  || cl_die "submit failed"
cl_wait_complete work 30 || cl_die "the exec job did not complete"
tmp=$CL_RUN/tmp/a1
before=$(ls "$tmp" | sort)
cl_kill9 a1
cl_agent_start a1
cl_wait_agents a1:1 || cl_die "a1 did not come back"
stale_gone() { local d; for d in $before; do [ -e "$tmp/$d" ] && return 1; done; return 0; }
cl_check "the new agent sweeps the dead one's directories" cl_wait 10 "" stale_gone
cl_figure "in a1's TMPDIR before kill -9: $(echo $before); after the restart: $(ls "$tmp" | sort | tr '\n' ' ')"
cl_end
