#!/usr/bin/env bash
# Scenario scan: a tcp-probe scan of three target hosts from three agent
# hosts.  Each target has some ports open (a listener), one filtered (its
# packets dropped by nftables) and the rest closed; the sink's table of
# host, port and state must be exactly what the test set up, each tuple
# stored once, and every agent must have taken part.  Then the same scan
# as a spec job (issue 11): the broker makes the (host, port) tuples from
# the targets and ports itself, and the table must come out the same.
. "$(dirname "$0")/../lib.sh"

cl_begin a1 a2 a3 t1 t2 t3
cl_broker_start
cl_sink_start
cl_target_listen t1 22 80 443
cl_target_listen t2 80 8080
cl_target_listen t3 5432 9999
cl_filter_port t2 25
cl_filter_port t3 443
for a in a1 a2 a3; do cl_agent_start "$a"; done
cl_wait_agents a1 a2 a3 || cl_die "agents did not connect"

declare -A open=([t1]="22 80 443" [t2]="80 8080" [t3]="5432 9999")
declare -A filtered=([t2]="25" [t3]="443")
ports="21 22 23 25 53 80 110 143 443 993 3306 5432 6379 8080 8443 9999"
: >"$CL_RUN/tuples.jsonl"
: >"$CL_RUN/expected"
for t in t1 t2 t3; do
  for p in $ports; do
    printf '["%s", %d]\n' "$(cl_ip $t)" "$p" >>"$CL_RUN/tuples.jsonl"
    state=closed
    [[ " ${open[$t]} " == *" $p "* ]] && state=open
    [[ " ${filtered[$t]} " == *" $p "* ]] && state=filtered
    echo "$(cl_ip $t) $p $state" >>"$CL_RUN/expected"
  done
done
n=$(wc -l <"$CL_RUN/tuples.jsonl")

t0=$(cl_now_ms)
cl_check "submit accepted $n tuples" cl_submit scan tcp-probe "$CL_RUN/tuples.jsonl" \
  --options '{"connect_timeout_ms": 500}' --max-attempts 1
cl_check "the job completed within 60 s" cl_wait_complete scan 60
cl_figure "$n probes of 3 targets from 3 agents in $(cl_secs $(( $(cl_now_ms) - t0 ))) s"

cl_results scan "$CL_RUN/results.jsonl" scan "$CL_RUN/expected" | sed 's/^/    /'
cl_check "the open-port table is exactly right" \
  cl_quiet cl_results scan "$CL_RUN/results.jsonl" scan "$CL_RUN/expected"
cl_check "each tuple stored once" cl_quiet cl_results check "$CL_RUN/results.jsonl" scan "$n"
shares=$(cl_results agents "$CL_RUN/results.jsonl" scan | tr '\n' ' ')
cl_figure "probes per agent: $shares"
cl_check "all three agents probed" cl_eq "$(cl_results agents "$CL_RUN/results.jsonl" scan | wc -l)" 3

s_submit_spec() {
  cl_drover_prod submit --job specscan --handler tcp-probe --sink "$(cl_endpoint sink)" \
    --sink-key "$CL_RUN/keys/sink" --targets "$(cl_ip t1),$(cl_ip t2),$(cl_ip t3)" \
    --ports "${ports// /,}" --options '{"connect_timeout_ms": 500}' --max-attempts 1 \
    >>"$CL_RUN/submit-specscan.log" 2>&1
}
t0=$(cl_now_ms)
cl_check "a spec of 3 targets x $(wc -w <<<"$ports") ports accepted in one SUBMIT" s_submit_spec
cl_check "the spec job completed within 60 s" cl_wait_complete specscan 60
cl_figure "spec job: $n probes in $(cl_secs $(( $(cl_now_ms) - t0 ))) s"
cl_check "the spec job's open-port table is exactly right" \
  cl_quiet cl_results scan "$CL_RUN/results.jsonl" specscan "$CL_RUN/expected"
cl_check "each (host, port) of the spec stored once" \
  cl_quiet cl_results check "$CL_RUN/results.jsonl" specscan "$n"
cl_end
