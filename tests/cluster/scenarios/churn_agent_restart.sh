#!/usr/bin/env bash
# Scenario churn_agent_restart (issue 14 item 4): an agent running 4 tuples
# is killed -9 and started again at once under the same name and key.  Its
# new session says HELLO within a fraction of a second; the broker must
# then hand the old session's tuples on at once, not wait for the old
# session's liveness (3 heartbeats: 3 s at the default 1 s heartbeat).
. "$(dirname "$0")/../lib.sh"

CL_HEARTBEAT_MS=1000
cl_begin a1
cl_start_daemons a1 -- --threads 4 --slots 4
cl_repeat 4 '[2000]' >"$CL_RUN/tuples.jsonl"
cl_submit restart sleep "$CL_RUN/tuples.jsonl" || cl_die "submit failed"
cl_wait 20 "a1 to run the tuples" cl_job_ge restart running 4 || cl_die "tuples did not start"
kill_us=${EPOCHREALTIME/./}
cl_kill9 a1
cl_agent_start a1 -- --threads 4 --slots 4
cl_wait_agents a1:1 || cl_die "a1 did not come back"
hello_ms=$(( (${EPOCHREALTIME/./} - kill_us) / 1000 ))
cl_check "the job completes" cl_wait_complete restart 60
cl_check "each tuple stored once" cl_quiet cl_results check "$CL_RUN/results.jsonl" restart 4
again_ms=$(cl_results rows "$CL_RUN/results.jsonl" restart started_us |
  awk -v k="$kill_us" '{ d = ($1 - k) / 1000; if (d > m) m = d } END { printf "%d\n", m }')
bound=$(( hello_ms + 500 ))
cl_figure "a1 connected again $(cl_secs "$hello_ms") s after kill -9; its 4 tuples ran again $(cl_secs "$again_ms") s after it (liveness $(cl_secs $(( 3 * CL_HEARTBEAT_MS ))) s; bound: the new HELLO + 0.5 s = $(cl_secs "$bound") s)"
cl_check "the new session releases the old one's tuples at once" cl_le "$again_ms" "$bound"
cl_end
