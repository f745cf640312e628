#!/usr/bin/env bash
# Scenario loss: 20% of the packets into and out of agent host a2 and the
# sink host dropped at random (nftables numgen), for the whole job.  The
# job must complete, every tuple stored exactly once.  Printed: the time
# against the same job without loss, retries and what the loss cost.
. "$(dirname "$0")/../lib.sh"

N=${CL_LOSS_TUPLES:-1000}
cl_begin a1 a2 a3
cl_start_daemons a1 a2 a3
seq 1 "$N" | awk '{ printf "[\"t%d\"]\n", $1 }' >"$CL_RUN/tuples.jsonl"

# The same job without loss first: the yardstick.
t0=$(cl_now_ms)
cl_submit clean echo "$CL_RUN/tuples.jsonl" || cl_die "submit clean failed"
cl_wait_complete clean 120 || cl_die "the job without loss did not complete"
clean_ms=$(( $(cl_now_ms) - t0 ))

cl_loss a2 20
cl_loss sink 20
t0=$(cl_now_ms)
cl_check "submit accepted $N tuples" cl_submit lossy echo "$CL_RUN/tuples.jsonl"
cl_check "the job completed within 180 s under 20% loss" \
  cl_wait_complete lossy 180
lossy_ms=$(( $(cl_now_ms) - t0 ))
cl_no_loss a2
cl_no_loss sink

cl_results check "$CL_RUN/results.jsonl" lossy "$N" | sed 's/^/    /'
cl_check "every tuple stored exactly once" cl_quiet cl_results check "$CL_RUN/results.jsonl" lossy "$N"
cl_figure "$N tuples in $(cl_secs "$lossy_ms") s with 20% loss on a2 and the sink, $(cl_secs "$clean_ms") s without"
cl_figure "broker: a2 lost $(cl_log_count broker 'agent a2 lost') times; agents resent result batches $(cat "$CL_RUN"/a[123].log | grep -c 'sending .* results again') times"
cl_end
