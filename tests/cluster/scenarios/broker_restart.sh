#!/usr/bin/env bash
# Scenario broker_restart: a producer (drover submit, fed in chunks) and
# agents keep running while the broker is killed with kill -9 between two
# chunks and started again on its data dir.  The agents must reconnect by
# themselves, the same drover submit must go on with the next chunks and
# finish (exit 0, every tuple accepted), and every tuple must be stored
# exactly once.  (A SUBMIT in flight when the broker dies is scenario
# submit_restart's.)  Printed: reconnect times, and what the restart cost
# (issue 14 item 4: errors counted for the reconnect, attempts spent).
. "$(dirname "$0")/../lib.sh"

CHUNK=2000
N=$(( 3 * CHUNK ))
cl_begin a1 a2 a3
cl_start_daemons a1 a2 a3

t0=$(cl_now_ms)
cl_feed_open restart sleep
cl_feed "$CHUNK" '[5]'
cl_wait 60 "the first chunk to be accepted" cl_job_ge restart submitted "$CHUNK" \
  || cl_die "the submit did not get going"
cl_kill9 broker
cl_broker_start
restart_ms=$(cl_now_ms)
cl_check "every agent reconnects" cl_wait 60 "agents to reconnect" cl_agents_connected a1:1 a2:1 a3:1
reconnect_ms=$(( $(cl_now_ms) - restart_ms ))
cl_feed "$CHUNK" '[5]'
cl_feed "$CHUNK" '[5]'
cl_feed_close
cl_feed_wait 120
submit_rc=$?
submit_ms=$(( $(cl_now_ms) - t0 ))
cl_figure "drover submit exited $submit_rc after $(cl_secs "$submit_ms") s: $(tail -1 "$CL_RUN/submit-restart.log")"
cl_check "drover submit finishes (exit 0)" cl_eq "$submit_rc" 0
cl_check "the job completes" cl_wait_complete restart 120
accepted=$(cl_job restart submitted)
cl_figure "agents all back $(cl_secs "$reconnect_ms") s after the restart; $accepted of $N tuples accepted"
cl_check "all $N tuples accepted" cl_eq "$accepted" "$N"
cl_results check "$CL_RUN/results.jsonl" restart "$accepted" | sed 's/^/    /'
cl_check "every accepted tuple stored exactly once" \
  cl_quiet cl_results check "$CL_RUN/results.jsonl" restart "$accepted"
cl_stop sink
unexpected=$(grep -c 'UNEXPECTED' "$CL_RUN/broker.log")
dups=$(grep 'sink shut down' "$CL_RUN/sink.log" | grep -o '[0-9]* duplicates dropped' | tail -1)
cl_figure "cost of the restart: broker logged $unexpected UNEXPECTED errors (e.g. '$(grep -m1 -o 'UNEXPECTED: .*' "$CL_RUN/broker.log")'); sink: ${dups:-?} (tuples run again)"
cl_end
