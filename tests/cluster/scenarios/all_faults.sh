#!/usr/bin/env bash
# Scenario all_faults: a 100,000-tuple job while everything above goes
# wrong at once: agents of unequal shapes (1x1, 2x8, 1x2) and one behind a
# slow link (tbf, 2 Mbit/s); while the producer is still submitting, 20%
# packet loss on an agent host and on the sink host, an agent host cut off
# for longer than the heartbeat liveness, and the broker killed -9 and
# started again.  Then the faults are lifted and the job must complete
# with every tuple in the sink's output exactly once: checked tuple by
# tuple, 0 lost, 0 duplicated.
. "$(dirname "$0")/../lib.sh"

N=${CL_ALL_TUPLES:-100000}
CHUNKS=20
CHUNK=$(( N / CHUNKS ))
N=$(( CHUNKS * CHUNK ))
FAULT_SECONDS=${CL_ALL_FAULT_SECONDS:-20}

cl_begin a1 a2 a3 a4
cl_broker_start
cl_sink_start
cl_agent_start a1 -- --processes 1 --threads 1
cl_agent_start a2 -- --processes 2 --threads 8
cl_agent_start a3
cl_agent_start a4
cl_slow_link a4 2mbit
cl_wait_agents a1 a2 a3 a4 || cl_die "agents did not connect"

# drover submit fed chunk by chunk; the broker dies between two chunks (a
# SUBMIT in flight when it dies is scenario submit_restart's).
t0=$(cl_now_ms)
cl_feed_open all sleep
for (( c = 0; c < CHUNKS / 5; c++ )); do cl_feed "$CHUNK" '[0]'; done
cl_wait 60 "a fifth of the tuples to be accepted" cl_job_ge all submitted $(( N / 5 )) \
  || cl_die "the submit did not get going"
cl_log "faults on: 20% loss on a3 and the sink, a2 cut off"
fault_start=$(cl_now_ms)
cl_loss a3 20
cl_loss sink 20
cl_partition a2
for (( c = 0; c < CHUNKS / 5; c++ )); do cl_feed "$CHUNK" '[0]'; done
cl_wait 20 "the broker to lose a2" cl_log_more broker 0 'agent a2 lost'
cl_wait 60 "two fifths of the tuples to be accepted" cl_job_ge all submitted $(( 2 * N / 5 )) \
  || cl_die "the submit stalled"
cl_kill9 broker
cl_log "broker killed -9 at $(cl_secs $(( $(cl_now_ms) - t0 ))) s; restarting"
cl_broker_start
for (( c = 2 * CHUNKS / 5; c < CHUNKS; c++ )); do cl_feed "$CHUNK" '[0]'; done
cl_feed_close
cl_feed_wait 180
submit_rc=$?
# Faults stay on for FAULT_SECONDS in all (a wait for time, not a condition:
# the length of the storm).
remaining=$(( FAULT_SECONDS * 1000 - ($(cl_now_ms) - fault_start) ))
[ "$remaining" -gt 0 ] && sleep "$(cl_secs "$remaining")"
done_in_storm=$(cl_job all "done" || echo "?")
cl_heal a2
cl_no_loss a3
cl_no_loss sink
cl_log "faults off after $(cl_secs $(( $(cl_now_ms) - fault_start ))) s; a4's link stays slow"

cl_check "drover submit finished (exit 0)" cl_eq "$submit_rc" 0
cl_check "the job completed within 300 s" cl_wait_complete all 300
took=$(( $(cl_now_ms) - t0 ))
accepted=$(cl_job all submitted)
cl_check "all $N tuples accepted" cl_eq "$accepted" "$N"
cl_results check "$CL_RUN/results.jsonl" all "$N" | sed 's/^/    /'
cl_check "tuple by tuple: 0 lost, 0 duplicated" cl_quiet cl_results check "$CL_RUN/results.jsonl" all "$N"
dead=$(cl_job all failed)
cl_figure "$N tuples in $(cl_secs "$took") s; $done_in_storm done during ${FAULT_SECONDS} s of faults; $dead dead letters"
cl_figure "broker: a2 lost $(cl_log_count broker 'agent a2 lost') times, a3 $(cl_log_count broker 'agent a3 lost'), a4 $(cl_log_count broker 'agent a4 lost'); $(grep -c UNEXPECTED "$CL_RUN/broker.log") UNEXPECTED errors logged"
cl_check "no dead letters (sleep tuples fail only by faults)" cl_eq "$dead" 0
cl_end
