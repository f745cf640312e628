#!/usr/bin/env bash
# Scenario broker_restart: while a producer is still submitting (tuples
# come in chunks from a pipe) and agents are running the job, the broker is
# killed with kill -9 and started again on its data dir.  The agents must
# reconnect by themselves, `drover submit` must finish (exit 0, every
# tuple accepted), and every tuple must be stored exactly once.
# Printed: reconnect times, and what the restart cost (issue 14 item 4:
# errors counted for the reconnect, attempts spent).
CL_NAME=broker_restart
. "$(dirname "$0")/../lib.sh"

CHUNKS=20 CHUNK=300
N=$(( CHUNKS * CHUNK ))
cl_begin a1 a2 a3
cl_broker_start
cl_sink_start
for a in a1 a2 a3; do cl_agent_start "$a"; done
cl_wait_agents a1 a2 a3 || cl_die "agents did not connect"

# A producer that is still sending when the broker dies: a chunk of sleep
# tuples (5 ms) every 0.2 s.
produce() {
  local c
  for (( c = 0; c < CHUNKS; c++ )); do
    awk -v n="$CHUNK" 'BEGIN { for (i = 0; i < n; i++) print "[5]" }'
    sleep 0.2
  done
}
t0=$(cl_now_ms)
produce | cl_submit restart sleep - &
submit_pid=$!
cl_wait 60 "a third of the tuples to be accepted" cl_job_ge restart submitted $(( N / 3 )) \
  || cl_die "the submit did not get going"
cl_kill9 broker
kill_ms=$(( $(cl_now_ms) - t0 ))
cl_log "broker killed -9 after $(cl_secs "$kill_ms") s"
cl_broker_start
restart_ms=$(cl_now_ms)
cl_check "every agent reconnects" cl_wait 60 "agents to reconnect" cl_agents_connected a1:1 a2:1 a3:1
reconnect_ms=$(( $(cl_now_ms) - restart_ms ))

submit_done() { ! kill -0 "$submit_pid" 2>/dev/null; }
cl_wait 120 "drover submit to exit" submit_done || kill -TERM "$submit_pid"
wait "$submit_pid"
submit_rc=$?
submit_ms=$(( $(cl_now_ms) - t0 ))
cl_figure "drover submit exited $submit_rc after $(cl_secs "$submit_ms") s: $(tail -1 "$CL_RUN/submit-restart.log")"
cl_check "drover submit finishes (exit 0)" cl_eq "$submit_rc" 0
cl_check "the job completes" cl_wait 120 "job restart to complete" cl_job_is restart complete
accepted=$(cl_job restart submitted)
cl_figure "broker killed $(cl_secs "$kill_ms") s into the submit; agents all back $(cl_secs "$reconnect_ms") s after the restart; $accepted of $N tuples accepted"
cl_check "all $N tuples accepted" cl_eq "$accepted" "$N"
cl_results check "$CL_RUN/results.jsonl" restart "$accepted" | sed 's/^/    /'
cl_check "every accepted tuple stored exactly once" \
  cl_quiet cl_results check "$CL_RUN/results.jsonl" restart "$accepted"
unexpected=$(grep -c 'UNEXPECTED' "$CL_RUN/broker.log")
cl_figure "cost of the restart: broker logged $unexpected UNEXPECTED errors (e.g. '$(grep -m1 -o 'UNEXPECTED: .*' "$CL_RUN/broker.log")'); $(cl_results rows "$CL_RUN/results.jsonl" restart attempt | awk '$1 > 1' | wc -l) tuples stored on attempt 2 or later"
cl_end
