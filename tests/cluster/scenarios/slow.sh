#!/usr/bin/env bash
# Scenario slow: three agents of 1 x 2 threads with default slots share a
# job of exec tuples that take 10 ms on a1 and a2 but 100 times as long
# (1 s) on a3 (its environment says SLOW=100).  The slow agent must not
# hold the job back: tuples must not wait in its prefetch while the others
# are idle (no head-of-line blocking), and the job's tail after the fast
# agents ran out of work must be at most one slow tuple (1 s) plus 0.5 s.
. "$(dirname "$0")/../lib.sh"

N=${CL_SLOW_TUPLES:-300}
BASE_MS=10 FACTOR=100
cl_begin a1 a2 a3
cl_broker_start
cl_sink_start
CL_AGENT_ENV=SLOW=1 cl_agent_start a1
CL_AGENT_ENV=SLOW=1 cl_agent_start a2
CL_AGENT_ENV=SLOW=$FACTOR cl_agent_start a3
cl_wait_agents a1 a2 a3 || cl_die "agents did not connect"
cl_repeat "$N" "[$BASE_MS]" >"$CL_RUN/tuples.jsonl"
options='{"command": ["sh", "-c", "sleep $(( {0} * SLOW ))e-3"], "stdin": "none"}'

t0_us=${EPOCHREALTIME/./}
cl_check "submit accepted $N tuples" cl_submit slow exec "$CL_RUN/tuples.jsonl" --options "$options"
cl_check "the job completed within 120 s" cl_wait_complete slow 120
cl_check "every tuple stored exactly once" cl_quiet cl_results check "$CL_RUN/results.jsonl" slow "$N"

# From the results: when the fast agents finished their last tuple, when
# the job's last tuple finished, and how many tuples the slow agent
# started after the fast ones had nothing left to do.
read -r fast_end end slow_n slow_late < <(cl_results rows "$CL_RUN/results.jsonl" slow agent started_us duration_us |
  awk '{ e = $2 + $3; if (e > end) end = e }
       $1 != "a3" { if (e > fe) fe = e }
       $1 == "a3" { n++; st[n] = $2 }
       END { for (i = 1; i <= n; i++) if (st[i] > fe) late++
             printf "%.0f %.0f %d %d\n", fe, end, n, late }')
tail_ms=$(( (end - fast_end) / 1000 ))
fast_ms=$(( (fast_end - t0_us) / 1000 ))
slow_ms=$(( BASE_MS * FACTOR ))
bound=$(( slow_ms + 500 ))
cl_figure "$N tuples: a1+a2 (10 ms each) done $(cl_secs "$fast_ms") s after submit; a3 (1 s each) ran $slow_n, $slow_late of them started after a1 and a2 had run out of work"
cl_figure "the job's tail after the fast agents ran out: $(cl_secs "$tail_ms") s (bound: one slow tuple + 0.5 s = $(cl_secs "$bound") s)"
cl_check "no tuple waited in the slow agent's prefetch while the others were idle" cl_eq "$slow_late" 0
cl_check "the tail is at most $(cl_secs "$bound") s" cl_le "$tail_ms" "$bound"
cl_end
