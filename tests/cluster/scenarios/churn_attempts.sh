#!/usr/bin/env bash
# Scenario churn_attempts (issue 14 item 4): the broker is killed -9 and
# started again while an agent runs 4 tuples of a job with max_attempts 1.
# Infrastructure faults must not spend a tuple's attempts: the tuples must
# not become dead letters, and must be stored as run (attempt 1, ok).
. "$(dirname "$0")/../lib.sh"

cl_begin a1
cl_start_daemons a1 -- --threads 4 --slots 4
cl_repeat 4 '[3000]' >"$CL_RUN/tuples.jsonl"
cl_submit attempts sleep "$CL_RUN/tuples.jsonl" --max-attempts 1 || cl_die "submit failed"
cl_wait 30 "a1 to run the tuples" cl_job_ge attempts running 4 || cl_die "tuples did not start"
cl_kill9 broker
cl_broker_start
cl_check "the job completes" cl_wait_complete attempts 60
cl_results check "$CL_RUN/results.jsonl" attempts 4 | sed 's/^/    /'
cl_check "each tuple stored once" cl_quiet cl_results check "$CL_RUN/results.jsonl" attempts 4
cl_stop broker
dead=$(grep 'broker at shutdown' "$CL_RUN/broker.log" | grep -o '[0-9]* dead letters' | tail -1)
dead=${dead%% *}
agent_dead=$(grep -o '[0-9]* tuples are dead letters' "$CL_RUN/a1.log" | awk '{ n += $1 } END { print n + 0 }')
cl_figure "a broker restart: $(grep -o "job attempts recovered.*" "$CL_RUN/broker.log" | head -1)"
cl_figure "the broker counted ${dead:-?} dead letters, the agent sent $agent_dead to the sink as failed; the sink kept: $(cl_results rows "$CL_RUN/results.jsonl" attempts status attempt | sort | uniq -c | awk '{ printf "%s%d %s (attempt %d)", s, $1, $2, $3; s = ", " }')"
cl_check "the broker made no dead letters" cl_eq "${dead:-x}" 0
cl_check "the agent sent no dead letters" cl_eq "$agent_dead" 0
cl_check "every tuple stored ok on attempt 1" \
  cl_eq "$(cl_results rows "$CL_RUN/results.jsonl" attempts status attempt | grep -vc '^ok	1$')" 0
cl_end
