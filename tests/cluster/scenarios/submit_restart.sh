#!/usr/bin/env bash
# Scenario submit_restart: the broker dies while a SUBMIT is surely in
# flight: its host is cut off, drover submit sends the next chunk (its
# bytes wait unacknowledged in the producer's TCP send queue), the broker
# is killed -9 and started again, and the link comes back.  drover submit
# must send the unanswered batch again (same batch id) and finish: exit 0,
# every tuple accepted once, every tuple stored exactly once.
. "$(dirname "$0")/../lib.sh"

CHUNK=1000
N=$(( 3 * CHUNK ))
cl_begin a1 a2
cl_start_daemons a1 a2

cl_feed_open resend echo
cl_feed "$CHUNK" '["x"]'
cl_wait 60 "the first chunk to be accepted" cl_job_ge resend submitted "$CHUNK" \
  || cl_die "the submit did not get going"
cl_partition broker
cl_feed "$CHUNK" '["y"]'
# In flight: bytes to the broker's frontend not acknowledged.
unacked() {
  cl_on prod ss -Htn "dst $(cl_ip broker):$CL_FRONTEND_PORT" | awk '$3 > 0 { found = 1 } END { exit !found }'
}
cl_check "a SUBMIT is in flight to the cut-off broker" cl_wait 20 "a SUBMIT in flight" unacked
cl_kill9 broker
cl_broker_start
cl_heal broker
cl_feed "$CHUNK" '["z"]'
cl_feed_close
cl_feed_wait 60
submit_rc=$?
cl_figure "drover submit exited $submit_rc: $(grep -v '^$' "$CL_RUN/submit-resend.log" | tail -2 | tr '\n' ' ')"
cl_check "drover submit finishes (exit 0)" cl_eq "$submit_rc" 0
accepted=$(cl_job resend submitted)
cl_figure "$accepted of $N tuples accepted"
cl_check "all $N tuples accepted" cl_eq "$accepted" "$N"
if [ "$submit_rc" -eq 0 ]; then
  cl_check "the job completes" cl_wait_complete resend 60
else
  cl_check "the job completes (not when submit gave up: the job is left open)" false
fi
cl_check "every accepted tuple stored exactly once" \
  cl_quiet cl_results check "$CL_RUN/results.jsonl" resend "$accepted"
cl_end
