#!/usr/bin/env bash
# tests/cluster/cluster.sh: drover across "hosts" on one machine.  Brings up
# network namespaces on a bridge (10.77.0.0/24, nothing routed outside) with
# a broker, a sink, a producer, agents and target hosts, CURVE on every
# connection; injects faults; runs the scenarios.  See docs/testing.md.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<'EOF'
usage: tests/cluster/cluster.sh COMMAND [ARGS]   (as root)

  up [--agents N] [--targets N] [--dir DIR]
        hosts broker (10.77.0.2), sink (.3), prod (.4), agents a1..aN (.11..,
        default 3) and targets t1..tN (.101.., default 2, ports 22 80 443
        open on each); keys made in DIR (default /tmp/drover-cluster);
        starts the broker, the sink and the agents, and leaves them running
  submit ARGS...  drover submit on prod, with the producer's keys, the sink
                  and its key (give --job, --handler and the tuples)
  status JOB      drover status on prod
  results         the sink's output (JSON Lines)
  exec HOST CMD...      run CMD on HOST (broker, sink, prod, a1, t1, ...)
  ps                    the daemons and whether they run
  kill NAME             kill -9 a daemon (broker, sink, a1, ...)
  start NAME            start it again (same flags, data dir, key)
  partition HOST | heal HOST      take the host's link down / up
  loss HOST PCT                   drop PCT% of its packets (0: none)
  slow HOST RATE | fast HOST      its outbound link at RATE (tc units: 1mbit)
  down                  stop everything, remove the namespaces (keeps DIR)
  --cleanup             the same for leftovers of a crashed run
  test [SCENARIO...]    run scenarios (default all): tests/cluster/run.sh

Needs root, iproute2, nftables and python3 (scripts/deps.sh installs them)
and a build (build/drover, or CL_DROVER=PATH).  One cluster at a time per
machine: the address range and the namespace names (drc-*) are fixed.
EOF
}

# For the commands that act on a cluster made by `up`.
cl_attach() {
  [ -f "$CL_UP_MARK" ] || cl_die "no cluster is up (cluster.sh up)"
  CL_RUN=$(cat "$CL_UP_MARK")
  CL_DROVER=$(cat "$CL_RUN/drover")
}

# The daemon NAME's last pid, from the pids file.
cl_pid_of() { awk -v n="$1" '$1 == n { p = $2 } END { print p + 0 }' "$CL_RUN/pids" 2>/dev/null; }

cl_start_named() {
  case "$1" in
    broker) cl_broker_start ;;
    sink) cl_sink_start ;;
    a[0-9]*) cl_agent_start "$1"; cl_wait_agents "$1:$(cl_log_count "$1" "agent $1 connected")" ;;
    *) cl_die "start: broker, sink or an agent (a1, ...), not '$1'" ;;
  esac
}

cmd_up() {
  local agents=3 targets=2
  CL_RUN=/tmp/drover-cluster
  while [ $# -gt 0 ]; do
    case "$1" in
      --agents) agents=$2; shift 2 ;;
      --targets) targets=$2; shift 2 ;;
      --dir) CL_RUN=$2; shift 2 ;;
      *) cl_die "up: unknown option $1" ;;
    esac
  done
  [[ "$agents" =~ ^[0-9]+$ ]] && [ "$agents" -ge 1 ] && [ "$agents" -le 80 ] || cl_die "--agents: 1 to 80"
  [[ "$targets" =~ ^[0-9]+$ ]] && [ "$targets" -le 50 ] || cl_die "--targets: 0 to 50"
  local hosts=() i
  for (( i = 1; i <= agents; i++ )); do hosts+=("a$i"); done
  for (( i = 1; i <= targets; i++ )); do hosts+=("t$i"); done
  CL_PERSIST=1
  # Until everything runs, a failure takes it all down again.
  trap 'cl_stop_all; cl_cleanup_network' EXIT
  cl_begin "${hosts[@]}"
  echo "$CL_DROVER" >"$CL_RUN/drover"
  cl_broker_start
  cl_sink_start
  for (( i = 1; i <= targets; i++ )); do cl_target_listen "t$i" 22 80 443; done
  for (( i = 1; i <= agents; i++ )); do cl_agent_start "a$i"; done
  for (( i = 1; i <= agents; i++ )); do cl_wait_agents "a$i" || cl_die "a$i did not connect"; done
  echo "$CL_RUN" >"$CL_UP_MARK"
  trap - EXIT
  cat <<EOF
cluster up in $CL_RUN (logs: NAME.log, results: results.jsonl)
  broker $(cl_ip broker), sink $(cl_ip sink), prod $(cl_ip prod), agents a1-a$agents, targets t1-t$targets (ports 22 80 443 open)
try:
  printf '["$(cl_ip t1)", 22]\\n["$(cl_ip t1)", 25]\\n' | $0 submit --job scan --handler tcp-probe --wait -
  $0 results
  $0 down
EOF
}

cmd_ps() {
  local name pid
  for name in $(awk '{print $1}' "$CL_RUN/pids" | sort -u); do
    pid=$(cl_pid_of "$name")
    if cl_pid_running "$pid"; then echo "$name pid $pid running"; else echo "$name pid $pid not running"; fi
  done
}

main() {
  [ $# -ge 1 ] || { usage >&2; exit 2; }
  local cmd=$1; shift
  case "$cmd" in
    -h|--help|help) usage; exit 0 ;;
    test) exec "$CL_DIR/run.sh" "$@" ;;
  esac
  local why
  why=$(cl_need_root) || cl_die "$why"
  case "$cmd" in
    up) cmd_up "$@" ;;
    down|--cleanup)
      cl_lock 60
      [ "$cmd" = down ] && [ ! -f "$CL_UP_MARK" ] && cl_log "no cluster is up; removing leftovers, if any"
      cl_cleanup_network ;;
    submit) cl_attach
      cl_drover_prod submit --sink "$(cl_endpoint sink)" --sink-key "$CL_RUN/keys/sink" "$@" ;;
    status) cl_attach; cl_drover_prod status "$@" ;;
    results) cl_attach; cat "$CL_RUN/results.jsonl" ;;
    exec) cl_attach; [ $# -ge 2 ] || cl_die "exec HOST CMD..."; cl_on "$@" ;;
    ps) cl_attach; cmd_ps ;;
    kill) cl_attach; [ $# -eq 1 ] || cl_die "kill NAME"
      local pid
      pid=$(cl_pid_of "$1")
      [ "$pid" -gt 0 ] && kill -KILL "$pid" ;;
    start) cl_attach; [ $# -eq 1 ] || cl_die "start NAME"; cl_start_named "$1" ;;
    partition) cl_attach; cl_partition "$1" ;;
    heal) cl_attach; cl_heal "$1" ;;
    loss) cl_attach
      if [ "${2:-0}" -gt 0 ]; then cl_loss "$1" "$2"; else cl_no_loss "$1"; fi ;;
    slow) cl_attach; cl_slow_link "$1" "$2" ;;
    fast) cl_attach; cl_fast_link "$1" ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
