#!/usr/bin/env bash
# Scenario scale: many agents on one broker, then many tuples queued in its
# LMDB store (issue 14 item 3).  Prints what each costs the broker: CPU per
# connected agent and per dispatched tuple, heartbeat traffic per agent, the
# time for every agent to connect, RSS with the tuples queued and the time
# to restart on them.  CI runs this small form; bench/scale.sh the full one
# (1,000 agents, 10,000,000 queued) through the CL_SCALE_* variables.
. "$(dirname "$0")/../lib.sh"

AGENTS=${CL_SCALE_AGENTS:-40}           # agents, P=0 x T=1 each
HOSTS=${CL_SCALE_HOSTS:-4}              # namespace hosts they share
TUPLES=${CL_SCALE_TUPLES:-20000}        # echo tuples the agents run
QUEUED=${CL_SCALE_QUEUED:-200000}       # tuples left queued, no agent
RSS_MB=${CL_SCALE_RSS_MB:-100}          # the broker's RSS must stay under
IDLE_S=${CL_SCALE_IDLE_S:-5}            # seconds of heartbeats measured

# Ticks of CPU (user + system) of the process with pid $1.
s_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# Its resident set (or another line of /proc/PID/status: VmHWM, RssAnon,
# RssFile: the LMDB store's pages count there), in kB.
s_rss_kb() { awk -v k="${2:-VmRSS}:" '$1 == k { print $2 }' "/proc/$1/status"; }
# Bytes through the broker host's interface, both ways.
s_broker_bytes() {
  cl_on broker cat /sys/class/net/eth0/statistics/rx_bytes /sys/class/net/eth0/statistics/tx_bytes \
    | awk '{ n += $1 } END { print n }'
}
# microseconds of CPU per unit: ticks, count.
s_us_per() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", n ? t * 1e6 / hz / n : 0 }'; }
s_agent() { printf 'g%04d' "$1"; }
s_connected() {
  [ "$(grep -l 'connected to broker' "$CL_RUN"/g[0-9]*.log 2>/dev/null | wc -l)" -ge "$AGENTS" ]
}
# Stop every agent at once (SIGTERM), as cl_stop would one by one.
s_stop_agents() {
  local i pids=()
  for (( i = 1; i <= AGENTS; i++ )); do pids+=("${CL_PID[$(s_agent "$i")]}"); done
  kill -TERM "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null
  for (( i = 1; i <= AGENTS; i++ )); do CL_PID[$(s_agent "$i")]=0; done
}

hosts=()
for (( h = 1; h <= HOSTS; h++ )); do hosts+=("a$h"); done
cl_begin "${hosts[@]}"
for (( i = 1; i <= AGENTS; i++ )); do cl_agent_key "$(s_agent "$i")"; done
cl_broker_start
cl_sink_start
broker=${CL_PID[broker]}

# 1. Connect them all.
t0=$(cl_now_ms)
c0=$(s_ticks "$broker")
for (( i = 1; i <= AGENTS; i++ )); do
  cl_agent_start "$(s_agent "$i")" "a$(( (i - 1) % HOSTS + 1 ))" -- --processes 0 --threads 1
done
cl_check "$AGENTS agents connected within 300 s" cl_wait 300 "every agent to connect" s_connected
connect_ms=$(( $(cl_now_ms) - t0 ))
connect_ticks=$(( $(s_ticks "$broker") - c0 ))
cl_figure "$AGENTS agents on $HOSTS hosts connected in $(cl_secs "$connect_ms") s; broker CPU $(s_us_per "$connect_ticks" "$AGENTS") us per agent connected, RSS $(( $(s_rss_kb "$broker") / 1024 )) MB"

# 2. Idle: only heartbeats go between them.
b0=$(s_broker_bytes)
c0=$(s_ticks "$broker")
sleep "$IDLE_S"     # a measurement window, not a wait for a condition
idle_bytes=$(( $(s_broker_bytes) - b0 ))
idle_ticks=$(( $(s_ticks "$broker") - c0 ))
cl_figure "idle ${IDLE_S} s: $(( idle_bytes / AGENTS / IDLE_S )) bytes/s of heartbeats per agent (both ways, with TCP); broker CPU $(s_us_per "$idle_ticks" $(( AGENTS * IDLE_S ))) us per agent-second"

# 3. A job over all of them.
cl_repeat "$TUPLES" '[1]' >"$CL_RUN/tuples.jsonl"
c0=$(s_ticks "$broker")
t0=$(cl_now_ms)
cl_check "submit accepted $TUPLES tuples" cl_submit spread echo "$CL_RUN/tuples.jsonl"
cl_check "the job completed within 600 s" cl_wait_complete spread 600
run_ms=$(( $(cl_now_ms) - t0 ))
run_ticks=$(( $(s_ticks "$broker") - c0 ))
cl_check "every tuple stored exactly once" cl_quiet cl_results check "$CL_RUN/results.jsonl" spread "$TUPLES"
ran=$(cl_results agents "$CL_RUN/results.jsonl" spread | wc -l)
cl_figure "$TUPLES tuples in $(cl_secs "$run_ms") s over $ran agents; broker CPU $(s_us_per "$run_ticks" "$TUPLES") us per tuple (with the heartbeats of $AGENTS agents)"
cl_check "more than one agent ran tuples" cl_ge "$ran" 2
s_stop_agents

# 4. Tuples queued in the store, none taken: RSS, and a restart on them.
awk -v n="$QUEUED" 'BEGIN { for (i = 0; i < n; i++) printf "[%d]\n", i }' >"$CL_RUN/queued.jsonl"
t0=$(cl_now_ms)
cl_check "submit accepted $QUEUED tuples" cl_submit queued echo "$CL_RUN/queued.jsonl"
submit_ms=$(( $(cl_now_ms) - t0 ))
cl_check "the broker counts $QUEUED queued" cl_job_ge queued queued "$QUEUED"
rss=$(( $(s_rss_kb "$broker") / 1024 ))
peak=$(( $(s_rss_kb "$broker" VmHWM) / 1024 ))
store_mb=$(( $(du -sk "$CL_RUN/broker-data" | cut -f1) / 1024 ))
cl_figure "$QUEUED tuples queued in $(cl_secs "$submit_ms") s: broker RSS $rss MB (peak $peak MB; heap $(( $(s_rss_kb "$broker" RssAnon) / 1024 )) MB, store pages mapped $(( $(s_rss_kb "$broker" RssFile) / 1024 )) MB), store $store_mb MB on disk"
cl_check "the broker's RSS with $QUEUED queued is under $RSS_MB MB" cl_le "$rss" "$RSS_MB"

cl_kill9 broker
t0=$(cl_now_ms)
cl_broker_start
cl_check "after a restart the broker counts $QUEUED queued again" cl_wait 600 "" cl_job_ge queued queued "$QUEUED"
restart_ms=$(( $(cl_now_ms) - t0 ))
broker=${CL_PID[broker]}
rss=$(( $(s_rss_kb "$broker") / 1024 ))
cl_figure "restart with $QUEUED queued: ready and counted in $(cl_secs "$restart_ms") s, RSS $rss MB (heap $(( $(s_rss_kb "$broker" RssAnon) / 1024 )) MB)"
cl_check "after the restart the broker's RSS is under $RSS_MB MB" cl_le "$rss" "$RSS_MB"
cl_end
