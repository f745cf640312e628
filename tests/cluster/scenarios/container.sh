#!/usr/bin/env bash
# Scenario container: agents behave like good containers (issue 14 item 5).
# a2 is given the broker by a DNS name its host cannot resolve yet, a3 the
# broker's address while no broker runs.  For a window both must keep
# running and retrying, and say so now and then (how often they try is
# scenario retry_backoff's); then the
# broker starts (a3 must connect) and the name starts to resolve (a2 must
# connect).  No agent listens on any port.  Then the exit codes an
# orchestrator sees, and where the logs go.
. "$(dirname "$0")/../lib.sh"

WINDOW=${CL_CONTAINER_WINDOW:-12}
cl_begin a1 a2 a3
cl_sink_start
# a2's /etc/hosts (bind-mounted by ip netns exec) lacks the broker for now;
# a name not in it goes to DNS on a2's loopback, where nothing answers.
sed -i '/broker\.drover\.test/d' "/etc/netns/$(cl_ns a2)/hosts"
CL_AGENT_BROKER=tcp://broker.drover.test:$CL_BACKEND_PORT cl_agent_start a2
cl_agent_start a3
cl_log "watching a2 (name unresolved) and a3 (no broker) for $WINDOW s"
sleep "$WINDOW"            # the window measured, not a wait for a condition
cl_check "a2 keeps running while the broker's name does not resolve" cl_alive a2
cl_check "a3 keeps running while no broker is up" cl_alive a3
# Lines after "agent NAME started: ...".
lines_after_start() { awk '/ started: /{ f = 1; next } f' "$CL_RUN/$1.log" | wc -l; }
a2_lines=$(lines_after_start a2) a3_lines=$(lines_after_start a3)
cl_figure "in $WINDOW s: a2 logged $a2_lines lines, a3 $a3_lines, e.g."
awk '/ started: /{ f = 1; next } f' "$CL_RUN/a2.log" | sed -n 's/^[^ ]* agent /    a2: /p' | head -2
cl_check "a2 says so now and then: at most one line per 3 s" cl_le "$a2_lines" $(( WINDOW / 3 + 1 ))
cl_check "a3 says so now and then: at most one line per 3 s" cl_le "$a3_lines" $(( WINDOW / 3 + 1 ))
for a in a2 a3; do
  listening=$(cl_on "$a" ss -Hltun | wc -l)
  cl_check "$a listens on no port (ss -ltun: $listening sockets)" cl_eq "$listening" 0
done

t=$(cl_now_ms)
cl_broker_start
cl_check "a3 connects once the broker is up" cl_wait 30 "a3 to connect" cl_agents_connected a3
a3_ms=$(( $(cl_now_ms) - t ))
t=$(cl_now_ms)
echo "$(cl_ip broker) broker.drover.test" >>"/etc/netns/$(cl_ns a2)/hosts"   # in place: the mount sees it
cl_check "a2 connects once the name resolves" cl_wait 30 "a2 to connect" cl_agents_connected a2
a2_ms=$(( $(cl_now_ms) - t ))
cl_figure "a3 connected $(cl_secs "$a3_ms") s after the broker started; a2 $(cl_secs "$a2_ms") s after its name resolved"

# Logs: which stream, and the exit codes.
ip netns exec "$(cl_ns a1)" "$CL_DROVER" agent --broker "$(cl_endpoint backend)" --name a1 \
  --cert "$CL_RUN/keys/a1" --broker-key "$CL_RUN/keys/broker" --processes 1 --threads 1 \
  >"$CL_RUN/a1.stdout" 2>"$CL_RUN/a1.stderr" </dev/null 9>&- &
CL_PID["a1"]=$!
a1_up() { grep -q 'agent a1 connected' "$CL_RUN/a1.stdout" "$CL_RUN/a1.stderr" 2>/dev/null; }
cl_check "a1 connects" cl_wait 30 "a1 to connect" a1_up
cl_stop a1
term_rc=$?
cl_figure "logs: $(wc -l <"$CL_RUN/a1.stdout") lines on stdout, $(wc -l <"$CL_RUN/a1.stderr") on stderr"
cl_check "the agent logs to stdout or stderr" cl_ge $(( $(wc -l <"$CL_RUN/a1.stdout") + $(wc -l <"$CL_RUN/a1.stderr") )) 2
agent_rc() {   # run an agent on a1 that should exit at once; print its status
  timeout 10 ip netns exec "$(cl_ns a1)" "$CL_DROVER" agent --name a1 "$@" >>"$CL_RUN/exit-codes.log" 2>&1 </dev/null 9>&-
  echo $?
}
usage_rc=$(agent_rc --no-such-flag)
endpoint_rc=$(agent_rc --broker 'tcp://no port here' --insecure)
nokey_rc=$(agent_rc --cert "$CL_RUN/keys/nonesuch" --broker-key "$CL_RUN/keys/broker")
nokeys_rc=$(agent_rc --broker "$(cl_endpoint backend)")
cl_figure "exit codes: SIGTERM $term_rc, unknown flag $usage_rc, bad endpoint $endpoint_rc, missing key file $nokey_rc, no keypair and no --insecure $nokeys_rc (124: still running after 10 s)"
sed 's/^/    /' "$CL_RUN/exit-codes.log" | grep -v '^    *$' | grep -iv '^    usage\|^    *-\|^    *\[' | head -8
cl_check "SIGTERM: exit 0" cl_eq "$term_rc" 0
cl_check "unknown flag: exit 2 (usage)" cl_eq "$usage_rc" 2
cl_check "bad endpoint: exits non-zero at once" eval "[ $endpoint_rc -ne 0 ] && [ $endpoint_rc -ne 124 ]"
cl_check "missing key file: exits non-zero at once" eval "[ $nokey_rc -ne 0 ] && [ $nokey_rc -ne 124 ]"
cl_check "no keypair: exit 2 (usage)" cl_eq "$nokeys_rc" 2
cl_end
