#!/usr/bin/env bash
# Scenario churn_sink_restart (issue 14 item 4): agent a1's host is cut off
# for 2 s (less than the heartbeat liveness) while its tuples finish and
# their results go out on its connection to the sink (made by an earlier
# job); meanwhile the sink is killed -9 and started again.
# When the link comes back, a1 must notice the sink's restart and send the
# results again at once, not when its result timer (the default 10 s)
# runs out.  Printed: the time from the link's return to the job's end.
. "$(dirname "$0")/../lib.sh"

CL_HEARTBEAT_MS=2000            # liveness 6 s: the 2 s cut never loses a1, even under ASan
BOUND_MS=2000
cl_begin a1
cl_start_daemons a1 -- --threads 4 --slots 4 --result-timeout-ms 10000
# A first job, so a1 has its connection to the sink when the sink dies.
printf '[0]\n' >"$CL_RUN/warmup.jsonl"
cl_submit warmup sleep "$CL_RUN/warmup.jsonl" || cl_die "submit failed"
cl_wait_complete warmup 20 || cl_die "the first job did not complete"
cl_repeat 4 '[500]' >"$CL_RUN/tuples.jsonl"
cl_submit sinkrestart sleep "$CL_RUN/tuples.jsonl" || cl_die "submit failed"
cl_wait 20 "a1 to run the tuples" cl_job_ge sinkrestart running 4 || cl_die "tuples did not start"
cl_partition a1
cl_kill9 sink
cl_sink_start
sleep 2                         # the length of the cut, well under the liveness
heal=$(cl_now_ms)
cl_heal a1
cl_check "the job completes" cl_wait_complete sinkrestart 30
took=$(( $(cl_now_ms) - heal ))
cl_check "each tuple stored once" cl_quiet cl_results check "$CL_RUN/results.jsonl" sinkrestart 4
cl_figure "results stored $(cl_secs "$took") s after the link came back (result timer 10 s; bound $(cl_secs "$BOUND_MS") s); a1 lost to the broker $(cl_log_count broker 'agent a1 lost') times"
cl_check "a1 sent its results again at once" cl_le "$took" "$BOUND_MS"
cl_end
