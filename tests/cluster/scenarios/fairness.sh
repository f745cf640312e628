#!/usr/bin/env bash
# Scenario fairness: two agents, one of 1 worker process x 1 thread and one
# of 2 x 8, share a job of sleep tuples (20 ms).  Each must run a share in
# proportion to its threads (1/17 and 16/17), within the tolerance printed.
. "$(dirname "$0")/../lib.sh"

N=${CL_FAIRNESS_TUPLES:-2040}
TOLERANCE=40          # percent of the expected share, either way
cl_begin a1 a2
cl_broker_start
cl_sink_start
cl_agent_start a1 -- --processes 1 --threads 1
cl_agent_start a2 -- --processes 2 --threads 8
cl_wait_agents a1 a2 || cl_die "agents did not connect"
cl_repeat "$N" '[20]' >"$CL_RUN/tuples.jsonl"

t0=$(cl_now_ms)
cl_check "submit accepted $N tuples" cl_submit fair sleep "$CL_RUN/tuples.jsonl"
cl_check "the job completed within 120 s" cl_wait_complete fair 120
took=$(( $(cl_now_ms) - t0 ))
cl_check "every tuple stored exactly once" cl_quiet cl_results check "$CL_RUN/results.jsonl" fair "$N"
small=$(cl_results agents "$CL_RUN/results.jsonl" fair | awk '$1 == "a1" { print $2 }')
small=${small:-0}
# Expected N/17 for a1, +-TOLERANCE% of that.
expect=$(( N / 17 ))
lo=$(( expect * (100 - TOLERANCE) / 100 ))
hi=$(( expect * (100 + TOLERANCE) / 100 ))
cl_figure "$N tuples of 20 ms in $(cl_secs "$took") s (ideal $(cl_secs $(( N * 20 / 17 ))) s); 1x1 agent ran $small, 2x8 agent $(( N - small )); expected $expect and $(( N - expect )) (1:16), tolerance +-$TOLERANCE%: $lo-$hi"
cl_check "the 1x1 agent's share is within $lo-$hi" eval "[ $small -ge $lo ] && [ $small -le $hi ]"
cl_end
