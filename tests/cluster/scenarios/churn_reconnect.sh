#!/usr/bin/env bash
# Scenario churn_reconnect (issue 14 item 4): the broker is killed -9 while
# agents run tuples and started again at once (agents' sockets reconnect
# under them); later killed again and left down 1.5 s (tuples finish
# meanwhile, their results stored, their DONE held).  An agent's
# reconnect must be a normal re-handshake: HELLO first, then the reports it
# held; the broker must count no error for it, a tuple the sink stored must
# not run again, and the restart must spend no tuple's attempts.
. "$(dirname "$0")/../lib.sh"

cl_begin a1 a2
cl_start_daemons a1 a2 -- --threads 4
cl_repeat 32 '[1000]' >"$CL_RUN/tuples.jsonl"
cl_submit reconnect sleep "$CL_RUN/tuples.jsonl" || cl_die "submit failed"
cl_wait 20 "tuples to run" cl_job_ge reconnect "done" 4 || cl_die "no tuple finished"
cl_kill9 broker
cl_broker_start
cl_wait 20 "tuples to run" cl_job_ge reconnect "done" 12 || cl_die "no tuple finished"
# The restarted broker sends no work during its reclaim grace (while agents
# resume what they hold): kill it again once tuples run again, so that the
# agents hold some through the outage.
cl_wait 20 "the reclaim grace to end" cl_log_more broker 0 'reclaim grace over' \
  || cl_die "the reclaim grace did not end"
cl_wait 20 "tuples to run again" cl_job_ge reconnect "running" 1 || cl_die "no tuple ran again"
cl_kill9 broker
sleep 1.5                      # the length of the outage
cl_broker_start
cl_check "the job completes" cl_wait_complete reconnect 60
cl_check "each tuple stored once" cl_quiet cl_results check "$CL_RUN/results.jsonl" reconnect 32
cl_stop sink
errors=$(grep -c 'UNEXPECTED' "$CL_RUN/broker.log")
dups=$(grep 'sink shut down' "$CL_RUN/sink.log" | grep -o '[0-9]* duplicates dropped' | tail -1)
dups=${dups%% *}
retried=$(cl_results rows "$CL_RUN/results.jsonl" reconnect attempt | awk '$1 > 1' | wc -l)
resumed=$(grep -o 'resumed its session: [0-9]*' "$CL_RUN/broker.log" | awk '{ n += $4 } END { print n + 0 }')
cl_figure "after 2 restarts: agents resumed $resumed tuples as their leases; broker logged $errors UNEXPECTED errors (first: '$(grep -m1 -o 'UNEXPECTED: .*' "$CL_RUN/broker.log")'); the sink dropped ${dups:-?} duplicates (work run again); $retried tuples stored on attempt 2 or later"
cl_check "the agents' HELLOs resumed the tuples they held" [ "$resumed" -gt 0 ]
cl_check "the broker counts no error for the reconnects" cl_eq "$errors" 0
cl_check "no stored tuple runs again (0 duplicates at the sink)" cl_eq "${dups:-x}" 0
cl_check "the restart spends no attempts" cl_eq "$retried" 0
cl_end
