#!/usr/bin/env bash
# Scenario churn_sink_refuses (issue 14 item 4): agent a1's key is on the
# broker's allow-list but not on the sink's (--allow-agents).  The sink
# must log the refusal, with the key, as the broker does; the agent must
# say plainly that the sink refused it.  Once the key is added to the
# sink's list, the job must complete.
. "$(dirname "$0")/../lib.sh"

cl_begin a1
mkdir -p "$CL_RUN/sink-allow"
cl_keygen other
cp "$CL_RUN/keys/other" "$CL_RUN/sink-allow/other"
cl_broker_start
cl_sink_start --allow-agents "$CL_RUN/sink-allow"
cl_agent_start a1
cl_wait_agents a1 || cl_die "a1 did not connect"
printf '["x"]\n["y"]\n' >"$CL_RUN/tuples.jsonl"
cl_submit refused echo "$CL_RUN/tuples.jsonl" || cl_die "submit failed"
key=$(awk -F'"' '/public-key/ { print $2 }' "$CL_RUN/keys/a1")
sink_says() { grep -F -- "$key" "$CL_RUN/sink.log" | grep -qiE 'refus|denied|not allowed'; }
agent_says() { grep -iE 'sink' "$CL_RUN/a1.log" | grep -qiE 'refus|denied|not allowed'; }
cl_check "the sink logs the refusal with a1's key" cl_wait 5 "the sink to log the refusal" sink_says
cl_check "a1 says the sink refused it" cl_wait 5 "a1 to say the sink refused it" agent_says
said() {   # the first line of NAME's log matching REGEX, the work dir's name left out
  local line
  line=$(sed "s|$CL_RUN|RUN|g" "$CL_RUN/$1.log" | grep -iE -m1 -- "$2" | cut -c25-)
  echo "${line:-(nothing)}"
}
cl_figure "the sink said: $(said sink 'refus|denied|not allowed')"
cl_figure "a1 said: $(said a1 'sink .*refus|could not send .* to sink')"
cl_figure "the job meanwhile: $(cl_job refused "done") of 2 done"
cl_count_packets a1 syn "tcp dport $CL_SINK_PORT tcp flags & (syn | ack) == syn"
cp "$CL_RUN/keys/a1" "$CL_RUN/sink-allow/a1"
cl_check "the job completes once the sink lets a1 in" \
  cl_wait_complete refused 15
cl_figure "after a1's key was added to the sink's list: a1 tried the sink $(cl_counter a1 syn) times (SYNs); a1 logged $(cl_log_count a1 'Resource temporarily unavailable') lines 'Resource temporarily unavailable' in all"
cl_end
