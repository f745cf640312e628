#!/usr/bin/env bash
# Scenario lease_touch: an agent holds results its sink cannot take (the
# sink host is cut off) across a broker restart, and its leases come due
# for TOUCH (a job timeout of 1 s makes the lease 6 s, touched at 4 s).
# The agent must live through it and the job must complete once the sink
# is back.  Found by all_faults under UBSan: agent.c's s_touch passes
# qsort a NULL array when nothing of this session is due.
. "$(dirname "$0")/../lib.sh"

cl_begin a1
cl_start_daemons a1 -- --threads 4 --slots 4
cl_partition sink
cl_repeat 4 '[100]' >"$CL_RUN/tuples.jsonl"
cl_submit touch sleep "$CL_RUN/tuples.jsonl" --timeout-ms 1000 || cl_die "submit failed"
cl_wait 20 "a1 to take the tuples" cl_job_ge touch running 4 || cl_die "tuples did not start"
cl_kill9 broker
cl_broker_start
cl_wait_agents a1:1 || cl_die "a1 did not reconnect"
# Past the old leases' TOUCH time (4 s after WORK): a wait for time, as
# the agent's timers are what is tested.
sleep 5
cl_check "a1 lives through its lease checks" cl_alive a1
cl_heal sink
cl_check "the job completes once the sink is back" cl_wait_complete touch 60
cl_check "each tuple stored once" cl_quiet cl_results check "$CL_RUN/results.jsonl" touch 4
cl_end
