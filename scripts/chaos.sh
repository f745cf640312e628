#!/usr/bin/env bash
# The chaos run (issue 4): a broker on its LMDB store, a sink with its LMDB
# dedupe index and 3 agents on loopback; N tuples are submitted, and while
# they run, agents, the broker and the sink are killed with SIGKILL at random
# intervals and started again on the same data dirs.  Then it waits for the
# job to complete and checks the sink's output by tuple id, printing exactly
#   N tuples, L lost, D duplicated
# (lost: ids acknowledged but missing from the output; duplicated: lines
# beyond the first for an id).  Exit 0 only if the job completed and L = D = 0.
# tests/test_chaos.c runs a 10,000-tuple version in CI.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: scripts/chaos.sh [OPTIONS] [N [SECONDS]]

Run N tuples (default 100000) through a broker, a sink and 3 agents while
killing them (kill -9) at random for SECONDS (default 60), then check that
the sink's output holds every tuple id exactly once.  Prints progress to
stderr and, on stdout, "N tuples, L lost, D duplicated" last.

options:
  --seed S          random seed, to replay the same kill schedule
                    (default: a new one, printed)
  --drover PATH     the drover binary (default $CHAOS_DROVER, else
                    build/drover beside this script, else drover on PATH)
  --dir DIR         work dir for logs, data dirs and the output, kept
                    (default a new one under /tmp, removed after a clean run)
  --keep            keep the work dir even after a clean run
  --agents A        agents (default 3)
  --processes P     worker processes per agent (default 2)
  --threads T       handler threads per process (default 2)
  --max-kills K     most kills in all (default SECONDS / 2, at least 3)
  --timeout S       most seconds to wait for the job after the chaos
                    (default 300)
  -h, --help        this help

The first three kills are one agent, the broker and the sink, in an order
drawn from the seed; later ones are drawn at random (agents 6 in 10, broker
2, sink 2), 0.5 to 3 s apart.  Exit status: 0 clean, 1 lost or duplicated
tuples or a job that did not complete, 2 usage error.
EOF
}

N=100000
SECONDS_CHAOS=60
SEED=""
DROVER="${CHAOS_DROVER:-}"
DIR=""
KEEP=0
AGENTS=3
PROCESSES=2
THREADS=2
MAX_KILLS=""
TIMEOUT=300

die_usage() { echo "chaos.sh: $1" >&2; echo "try --help" >&2; exit 2; }

positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --seed) SEED=${2:-}; shift 2 || die_usage "--seed needs a value" ;;
    --drover) DROVER=${2:-}; shift 2 || die_usage "--drover needs a value" ;;
    --dir) DIR=${2:-}; shift 2 || die_usage "--dir needs a value" ;;
    --keep) KEEP=1; shift ;;
    --agents) AGENTS=${2:-}; shift 2 || die_usage "--agents needs a value" ;;
    --processes) PROCESSES=${2:-}; shift 2 || die_usage "--processes needs a value" ;;
    --threads) THREADS=${2:-}; shift 2 || die_usage "--threads needs a value" ;;
    --max-kills) MAX_KILLS=${2:-}; shift 2 || die_usage "--max-kills needs a value" ;;
    --timeout) TIMEOUT=${2:-}; shift 2 || die_usage "--timeout needs a value" ;;
    -*) die_usage "unknown option $1" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -gt 2 ] && die_usage "too many arguments"
[ ${#positional[@]} -ge 1 ] && N=${positional[0]}
[ ${#positional[@]} -ge 2 ] && SECONDS_CHAOS=${positional[1]}

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
for pair in "N:$N" "SECONDS:$SECONDS_CHAOS" "--agents:$AGENTS" "--processes:$PROCESSES" \
            "--threads:$THREADS" "--timeout:$TIMEOUT"; do
  is_uint "${pair#*:}" || die_usage "${pair%%:*} must be a number, not '${pair#*:}'"
done
[ "$N" -ge 1 ] || die_usage "N must be at least 1"
[ "$AGENTS" -ge 1 ] && [ "$PROCESSES" -ge 1 ] && [ "$THREADS" -ge 1 ] \
  || die_usage "--agents, --processes and --threads must be at least 1"
if [ -z "$MAX_KILLS" ]; then
  MAX_KILLS=$(( SECONDS_CHAOS / 2 ))
  [ "$MAX_KILLS" -lt 3 ] && MAX_KILLS=3
fi
is_uint "$MAX_KILLS" || die_usage "--max-kills must be a number"
if [ -z "$SEED" ]; then
  SEED=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
fi
is_uint "$SEED" || die_usage "--seed must be a number"

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$DROVER" ]; then
  if [ -x "$here/../build/drover" ]; then DROVER="$here/../build/drover"
  else DROVER=$(command -v drover || true); fi
fi
[ -n "$DROVER" ] && [ -x "$DROVER" ] || die_usage "no drover binary (build it, or --drover PATH)"

# Flags come from this script alone: a DROVER_* variable in the caller's
# environment would change every daemon's defaults.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^DROVER_' || true)
# Chaos tests delivery, not security: every role runs plain (no keys), which
# drover refuses unless told so.
export DROVER_INSECURE=1

made_dir=0
if [ -z "$DIR" ]; then
  DIR=$(mktemp -d /tmp/drover-chaos-XXXXXX) || exit 1
  made_dir=1
else
  mkdir -p "$DIR" || exit 1
fi
OUT="$DIR/results.jsonl"
JOB=chaos
RANDOM=$SEED

log() { printf 'chaos: %s\n' "$*" >&2; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $(( t / 1000 )); }

# Ports outside the kernel's ephemeral range (as common/free_port.c does), drawn
# from /dev/urandom so that the seed replays kills, not port choices.
read -r eph_low eph_high < /proc/sys/net/ipv4/ip_local_port_range
if [ $(( 65535 - eph_high )) -ge $(( eph_low - 10000 )) ]; then
  port_first=$(( eph_high + 1 )); port_last=65535
else
  port_first=10000; port_last=$(( eph_low - 1 ))
fi
# Free: no socket on it (ss), or, without ss, nothing accepts there.
port_free() {
  if command -v ss >/dev/null; then
    [ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]
  else
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
picked=" "
pick_port() {
  local port span=$(( port_last - port_first + 1 ))
  for _ in $(seq 1 200); do
    port=$(( port_first + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % span ))
    case "$picked" in *" $port "*) continue ;; esac
    if port_free "$port"; then
      picked="$picked$port "
      echo "$port"
      return 0
    fi
  done
  return 1
}
FRONTEND="tcp://127.0.0.1:$(pick_port)" || exit 1
INTAKE="tcp://127.0.0.1:$(pick_port)" || exit 1
BACKEND="tcp://127.0.0.1:$(pick_port)" || exit 1
SINK="tcp://127.0.0.1:$(pick_port)" || exit 1

broker_pid=0
sink_pid=0
declare -a agent_pid
for (( i = 1; i <= AGENTS; i++ )); do agent_pid[$i]=0; done

start_broker() {
  "$DROVER" broker --frontend "$FRONTEND" --intake "$INTAKE" --backend "$BACKEND" \
    --store lmdb --data-dir "$DIR/broker-data" --heartbeat-ms 250 >>"$DIR/broker.log" 2>&1 &
  broker_pid=$!
}
start_sink() {
  "$DROVER" sink --bind "$SINK" --output "$OUT" --data-dir "$DIR/sink-data" \
    >>"$DIR/sink.log" 2>&1 &
  sink_pid=$!
}
# Worker processes x handler threads where the agent has them, else the
# same number of slots as threads.  (The help is read whole: under pipefail,
# grep -q quitting at its match could fail the command with SIGPIPE.)
if grep -q -- '--processes' <<<"$("$DROVER" agent --help 2>/dev/null)"; then
  agent_shape=(--processes "$PROCESSES" --threads "$THREADS")
else
  agent_shape=(--threads $(( PROCESSES * THREADS )))
fi
start_agent() {
  "$DROVER" agent --broker "$BACKEND" --name "agent-$1" "${agent_shape[@]}" \
    --result-timeout-ms 2000 >>"$DIR/agent-$1.log" 2>&1 &
  agent_pid[$1]=$!
}

# Every process this script started, by pid: SIGTERM, then SIGKILL.
stop_all() {
  local pids=() pid
  for pid in "$broker_pid" "$sink_pid" "${agent_pid[@]}"; do
    [ "$pid" -gt 0 ] && pids+=("$pid")
  done
  [ ${#pids[@]} -eq 0 ] && return
  kill -TERM "${pids[@]}" 2>/dev/null
  for _ in $(seq 1 100); do
    kill -0 "${pids[@]}" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null
  broker_pid=0; sink_pid=0
  for (( i = 1; i <= AGENTS; i++ )); do agent_pid[$i]=0; done
}
trap 'stop_all' EXIT
trap 'log "interrupted"; exit 1' INT TERM

kill9() {
  [ "$1" -gt 0 ] || return 0        # never kill 0: that is our process group
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# "state submitted done failed" of the job, or nothing when the broker does
# not answer (it may be down right now).
job_status() {
  local json
  json=$("$DROVER" status --broker "$FRONTEND" --reply-timeout 2 --json "$JOB" 2>/dev/null) || return 1
  local state=${json#*\"state\":\"}; state=${state%%\"*}
  local done=${json#*\"done\":}; done=${done%%[,\}]*}
  local failed=${json#*\"failed\":}; failed=${failed%%[,\}]*}
  echo "$state $done $failed"
}

log "seed $SEED: $N tuples, $SECONDS_CHAOS s of chaos (at most $MAX_KILLS kills), work dir $DIR"
log "drover $DROVER; $AGENTS agents (${agent_shape[*]})"

# Sleep tuples sized so the job would take about SECONDS undisturbed: a mix
# of 0, 1/2, 1, 3/2 and 2 times the mean.
slots=$(( AGENTS * PROCESSES * THREADS ))
mean_ms=$(( SECONDS_CHAOS * 1000 * slots / N ))
awk -v n="$N" -v ms="$mean_ms" 'BEGIN { for (i = 0; i < n; i++) printf "[%d]\n", (i % 5) * ms / 2 }' \
  >"$DIR/tuples.jsonl"

start_broker
start_sink
for (( i = 1; i <= AGENTS; i++ )); do start_agent "$i"; done

# Every tuple is acknowledged when submit exits 0; the chaos starts then.
if ! "$DROVER" submit --broker "$FRONTEND" --job "$JOB" --handler sleep --sink "$SINK" \
     --max-attempts 20 --timeout-ms 60000 --quiet "$DIR/tuples.jsonl" >>"$DIR/submit.log" 2>&1; then
  log "submit failed; see $DIR/submit.log"
  KEEP=1
  exit 1
fi
log "submitted $N tuples (mean $mean_ms ms each on $slots slots)"

# The kill schedule: one of each kind first, in seeded order, then random.
first_kinds=(agent broker sink)
for (( i = 2; i > 0; i-- )); do
  j=$(( RANDOM % (i + 1) ))
  t=${first_kinds[$i]}; first_kinds[$i]=${first_kinds[$j]}; first_kinds[$j]=$t
done
kills=0; kills_agent=0; kills_broker=0; kills_sink=0
chaos_end=$(( $(now_ms) + SECONDS_CHAOS * 1000 ))
complete=0
while [ "$kills" -lt "$MAX_KILLS" ] && [ "$(now_ms)" -lt "$chaos_end" ]; do
  delay=$(( 500 + RANDOM % 2500 ))
  pick=$(( RANDOM % 10 ))
  victim_agent=$(( 1 + RANDOM % AGENTS ))
  pause=$(( RANDOM % 1000 ))
  if [ "$kills" -lt 3 ]; then kind=${first_kinds[$kills]}
  elif [ "$pick" -lt 6 ]; then kind=agent
  elif [ "$pick" -lt 8 ]; then kind=broker
  else kind=sink; fi
  sleep "$(( delay / 1000 )).$(printf '%03d' $(( delay % 1000 )))"
  status=$(job_status) && [ "${status%% *}" = complete ] && { complete=1; break; }
  case $kind in
    agent)
      kill9 "${agent_pid[$victim_agent]}"
      log "kill -9 agent-$victim_agent; restart in $pause ms"
      sleep "0.$(printf '%03d' "$pause")"
      start_agent "$victim_agent"
      kills_agent=$(( kills_agent + 1 )) ;;
    broker)
      kill9 "$broker_pid"
      log "kill -9 broker; restart in $pause ms on the same data dir"
      sleep "0.$(printf '%03d' "$pause")"
      start_broker
      kills_broker=$(( kills_broker + 1 )) ;;
    sink)
      kill9 "$sink_pid"
      log "kill -9 sink; restart in $pause ms on the same data dir and output"
      sleep "0.$(printf '%03d' "$pause")"
      start_sink
      kills_sink=$(( kills_sink + 1 )) ;;
  esac
  kills=$(( kills + 1 ))
done
log "$kills kills: $kills_agent agents, $kills_broker broker, $kills_sink sink"
echo "kills: $kills_agent agent, $kills_broker broker, $kills_sink sink"

# Bounded wait for completion.
deadline=$(( $(now_ms) + TIMEOUT * 1000 ))
status=""
while [ $complete -eq 0 ] && [ "$(now_ms)" -lt "$deadline" ]; do
  if status=$(job_status) && [ "${status%% *}" = complete ]; then complete=1; break; fi
  sleep 0.5
done
status=$(job_status) || status="(no answer)"
log "job $JOB: $status (state done failed)"
stop_all

# The check: every id 1..N once.
result=$(awk -v n="$N" -v job="$JOB" '
  {
    if (index($0, "{\"job\":\"" job "\",") != 1 || !match($0, /"tuple":[0-9]+/)) { bad++; next }
    id = substr($0, RSTART + 8, RLENGTH - 8) + 0
    if (id < 1 || id > n) { bad++; next }
    if (seen[id]++) dup++
    if (index($0, "\"status\":\"failed\"")) failed++
  }
  END {
    lost = 0
    for (i = 1; i <= n; i++) if (!(i in seen)) lost++
    printf "%d %d %d %d\n", lost, dup + 0, bad + 0, failed + 0
  }' "$OUT" 2>/dev/null || echo "$N 0 0 0")
read -r lost dup bad failed <<<"$result"
echo "output: $(cat "$OUT" 2>/dev/null | wc -l) lines, $failed dead letters, $bad unreadable or foreign"
echo "$N tuples, $lost lost, $dup duplicated"

rc=0
[ "$lost" -eq 0 ] && [ "$dup" -eq 0 ] && [ "$bad" -eq 0 ] || rc=1
if [ $complete -eq 0 ]; then
  log "job not complete after the chaos and $TIMEOUT s"
  rc=1
fi
if [ $rc -ne 0 ] || [ $KEEP -eq 1 ] || [ $made_dir -eq 0 ]; then
  log "logs and output kept in $DIR (seed $SEED)"
else
  rm -rf "$DIR"
fi
exit $rc
