#!/usr/bin/env bash
# Scenario partition: agent a1 holds 4 running tuples (4 s sleeps) when its
# host is cut off from the network for longer than the broker's heartbeat
# liveness (3 heartbeats).  The broker must hand the 4 tuples to a2 and a3
# within a stated time (printed: when each started there, counted from the
# cut); when the link comes back, a1 must rejoin, and the results it
# finished meanwhile must reach the sink and be dropped as duplicates.
# a2 and a3 hold no more tuples than they have threads (--slots 2), so a
# tuple starts when it is handed over (prefetch is scenario slow's).
. "$(dirname "$0")/../lib.sh"

CL_HEARTBEAT_MS=500
liveness=$(( 3 * CL_HEARTBEAT_MS ))
bound=$(( liveness + 1000 ))

cl_begin a1 a2 a3
cl_broker_start
cl_sink_start --log-level debug          # debug: duplicates are logged per batch
cl_agent_start a1 -- --threads 4 --slots 4
cl_wait_agents a1 || cl_die "a1 did not connect"
cl_repeat 4 '[4000]' >"$CL_RUN/tuples.jsonl"
cl_submit part sleep "$CL_RUN/tuples.jsonl" || cl_die "submit failed"
cl_wait 20 "a1 to run the 4 tuples" cl_job_ge part running 4 || cl_die "the tuples did not start"
cl_agent_start a2 -- --slots 2
cl_agent_start a3 -- --slots 2
cl_wait_agents a2 a3 || cl_die "a2, a3 did not connect"

cut_us=${EPOCHREALTIME/./}
cl_partition a1
cl_log "a1 cut off"
cl_check "the broker declares a1 lost" \
  cl_wait 20 "the broker to lose a1" cl_log_more broker 0 'agent a1 lost'
lost_ms=$(( (${EPOCHREALTIME/./} - cut_us) / 1000 ))
cl_check "the job completes on a2 and a3 while a1 is cut off" \
  cl_wait_complete part 30
cl_results rows "$CL_RUN/results.jsonl" part agent attempt started_us >"$CL_RUN/rows"
read -r n_other first_ms last_ms < <(awk -v cut="$cut_us" \
  '$1 != "a1" { n++; d = ($3 - cut) / 1000; if (n == 1 || d < lo) lo = d; if (d > hi) hi = d }
   END { printf "%d %d %d\n", n, lo, hi }' "$CL_RUN/rows")
cl_figure "a1 declared lost $(cl_secs "$lost_ms") s after the cut (liveness $(cl_secs "$liveness") s)"
cl_figure "its tuples restarted on a2/a3 $(cl_secs "$first_ms")-$(cl_secs "$last_ms") s after the cut (bound: liveness + 1 s = $(cl_secs "$bound") s)"
cl_check "all 4 tuples ran again on a2 or a3" cl_eq "$n_other" 4
cl_check "within $(cl_secs "$bound") s of the cut" cl_le "$last_ms" "$bound"

heal_us=${EPOCHREALTIME/./}
cl_heal a1
cl_log "a1 back"
cl_check "a1 rejoins the broker" cl_wait 30 "a1 to rejoin" cl_agents_connected a1:1
rejoin_ms=$(( (${EPOCHREALTIME/./} - heal_us) / 1000 ))
a1_dups() { awk '/results from agent a1,/ { for (i = 1; i <= NF; i++) if ($i == "duplicates") n += $(i - 1) }
                 END { print n + 0 }' "$CL_RUN/sink.log"; }
a1_dups_ge() { [ "$(a1_dups)" -ge "$1" ]; }
cl_check "a1's 4 late results reach the sink and are dropped as duplicates" \
  cl_wait 30 "a1's results at the sink" a1_dups_ge 4
late_ms=$(( (${EPOCHREALTIME/./} - heal_us) / 1000 ))
cl_figure "a1 rejoined $(cl_secs "$rejoin_ms") s after the link came back; its late results dropped by the sink within $(cl_secs "$late_ms") s"
cl_stop sink
errors=$(grep -c 'UNEXPECTED' "$CL_RUN/broker.log")
cl_figure "broker: $errors UNEXPECTED errors logged for a1's reconnect (issue 14 item 4: a reconnect should count none)"
dups=$(grep 'sink shut down' "$CL_RUN/sink.log" | grep -o '[0-9]* duplicates dropped' | tail -1)
cl_figure "sink at shutdown: ${dups:-no counter line} (a1's 4 late results, and the copies a1 sent again)"
cl_check "the sink counted at least 4 duplicates" cl_ge "${dups%% *}" 4
cl_check "each tuple stored once" cl_quiet cl_results check "$CL_RUN/results.jsonl" part 4
cl_end
