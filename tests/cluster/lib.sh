# tests/cluster/lib.sh -- a cluster of "hosts" on one machine: network
# shellcheck shell=bash
# namespaces on a bridge, real drover daemons in them with CURVE on, faults
# (partitions, packet loss, slow links, kill -9), waits and checks.
# Sourced by cluster.sh (the command) and by every scenario in scenarios/.
#
# The tool owns 10.77.0.0/24 and every namespace named drc-*.  The bridge
# lives in a namespace of its own (drc-hub), so the machine's own namespace
# gets no address and no route into the range; the hosts get one address
# each and no default route, so nothing they send can leave the cluster.

CL_PREFIX=drc-
CL_HUB=drc-hub
CL_NET=10.77.0
CL_LOCK=/run/lock/drover-cluster.lock
CL_UP_MARK=/run/drover-cluster.up     # names the work dir of `cluster.sh up`
CL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CL_PYTHON=${CL_PYTHON:-$(command -v /usr/bin/python3 || command -v python3 || true)}
# Ports the daemons listen on, inside their hosts.
CL_FRONTEND_PORT=5555
CL_INTAKE_PORT=5556
CL_BACKEND_PORT=5557
CL_SINK_PORT=5558
# Broker heartbeat: agents silent for 3 intervals are lost (the liveness).
CL_HEARTBEAT_MS=${CL_HEARTBEAT_MS:-500}

declare -gA CL_PID=()       # daemon name -> pid (of `ip netns exec`, which execs it)
declare -ga CL_HOSTS=()     # hosts of this cluster, in creation order
CL_RUN=""                   # work dir: keys, logs, data dirs, results
CL_FAILS=0
CL_CHECKS=0
CL_NAME=${CL_NAME:-$(basename "$0" .sh)}   # the scenario, in logs and work dir names

# Flags come from the scenarios alone: a DROVER_* variable in the caller's
# environment would change every daemon's defaults.
while read -r _cl_var; do unset "$_cl_var"; done < <(compgen -e | grep '^DROVER_' || true)
unset _cl_var

cl_log() { printf '%s: %s\n' "$CL_NAME" "$*" >&2; }
cl_die() { cl_log "error: $*"; exit 1; }
cl_now_ms() { local t=${EPOCHREALTIME/./}; echo $(( t / 1000 )); }
cl_secs() { printf '%d.%02d' $(( $1 / 1000 )) $(( $1 % 1000 / 10 )); }   # ms -> "s.cc"

# ---------------------------------------------------------------------
# Hosts: the address of each name, and the namespace that is the host.

# broker .2, sink .3, producer .4, agents a1.. from .11, targets t1.. from .101
cl_ip() {
  case "$1" in
    broker) echo "$CL_NET.2" ;;
    sink) echo "$CL_NET.3" ;;
    prod) echo "$CL_NET.4" ;;
    a[0-9]*) local n=${1#a}; [ "$n" -ge 1 ] && [ "$n" -le 80 ] && echo "$CL_NET.$(( 10 + n ))" ;;
    t[0-9]*) local n=${1#t}; [ "$n" -ge 1 ] && [ "$n" -le 50 ] && echo "$CL_NET.$(( 100 + n ))" ;;
    *) return 1 ;;
  esac
}
cl_ns() { echo "$CL_PREFIX$1"; }

# Run a command on a host (in its namespace).  `ip netns exec` bind-mounts
# /etc/netns/drc-HOST/{hosts,resolv.conf} over /etc: names resolve from the
# cluster's own hosts file, and DNS goes to the host's loopback, never out.
cl_on() { local host=$1; shift; ip netns exec "$(cl_ns "$host")" "$@"; }

cl_need_root() {
  [ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)"; return 1; }
  local tool
  for tool in ip nft tc flock "$CL_PYTHON"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "needs $tool (scripts/deps.sh installs it)"; return 1; }
  done
  ip netns list >/dev/null 2>&1 || { echo "cannot list network namespaces"; return 1; }
}

# One cluster at a time on a machine: the address range and the names are
# fixed.  The lock is held by this shell (fd 9) until it exits.
cl_lock() {
  mkdir -p "$(dirname "$CL_LOCK")"
  exec 9>"$CL_LOCK"
  flock -w "${1:-900}" 9 || cl_die "another cluster run holds $CL_LOCK"
}

cl_hosts_file() {
  printf '127.0.0.1 localhost\n'
  local h
  for h in broker sink prod; do printf '%s %s.drover.test\n' "$(cl_ip $h)" "$h"; done
}

cl_add_host() {
  local host=$1 ns ip
  ns=$(cl_ns "$host"); ip=$(cl_ip "$host") || cl_die "no address for host '$host'"
  mkdir -p "/etc/netns/$ns"
  cl_hosts_file >"/etc/netns/$ns/hosts"
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"/etc/netns/$ns/resolv.conf"
  ip netns add "$ns" || cl_die "cannot add namespace $ns"
  ip -n "$ns" link set lo up
  ip link add eth0 netns "$ns" type veth peer name "v-$host" netns "$CL_HUB" \
    || cl_die "cannot add the link of $host"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$CL_HUB" link set "v-$host" master br0 up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  CL_HOSTS+=("$host")
}

# The bridge, then each host given.
cl_up_network() {
  local host
  ip netns add "$CL_HUB" || cl_die "cannot add namespace $CL_HUB (leftovers? cluster.sh --cleanup)"
  ip netns exec "$CL_HUB" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$CL_HUB" link set lo up
  ip -n "$CL_HUB" link add br0 type bridge
  ip -n "$CL_HUB" link set br0 up
  for host in "$@"; do cl_add_host "$host"; done
  cl_verify_isolation
}

# Nothing may leave the cluster: each host has one IPv4 route (the range, on
# eth0), no default route, no IPv6; the machine's own namespace has no
# address and no route in the range.
cl_verify_isolation() {
  local host ns routes
  for host in "${CL_HOSTS[@]}"; do
    ns=$(cl_ns "$host")
    routes=$(ip -n "$ns" -4 route show table all | grep -v '^local \|^broadcast ' || true)
    [ "$routes" = "$CL_NET.0/24 dev eth0 proto kernel scope link src $(cl_ip "$host") " ] \
      || [ "$routes" = "$CL_NET.0/24 dev eth0 proto kernel scope link src $(cl_ip "$host")" ] \
      || cl_die "host $host has routes beyond the cluster: $routes"
    ip -n "$ns" -4 route get 192.0.2.1 >/dev/null 2>&1 && cl_die "host $host can reach 192.0.2.1"
    [ -z "$(ip -n "$ns" -6 addr show)" ] || cl_die "host $host has IPv6 addresses"
  done
  [ -z "$(ip -4 addr show | grep " $CL_NET\.")" ] || cl_die "this machine has an address in $CL_NET.0/24"
  [ -z "$(ip -4 route show "$CL_NET.0/24")" ] || cl_log "note: this machine routes $CL_NET.0/24 itself; the cluster does not use it"
  return 0
}

# SIGTERM to PIDS, up to 5 s for them to exit, then SIGKILL.
cl_terminate() {
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null
  for _ in $(seq 1 50); do
    kill -0 "$@" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null
  return 0
}

# Every namespace named drc-*, whatever made it: the processes in it are
# ours (only this tool starts processes there): SIGTERM, up to 5 s, SIGKILL.
cl_cleanup_network() {
  local ns pids=()
  local -a spaces
  mapfile -t spaces < <(ip netns list | awk '{print $1}' | grep "^$CL_PREFIX" || true)
  for ns in "${spaces[@]}"; do
    mapfile -t -O ${#pids[@]} pids < <(ip netns pids "$ns" 2>/dev/null)
  done
  cl_terminate "${pids[@]}"
  for ns in "${spaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf /etc/netns/"$CL_PREFIX"* "$CL_UP_MARK"
  return 0
}

cl_leftovers() { ip netns list | awk '{print $1}' | grep -q "^$CL_PREFIX"; }

# ---------------------------------------------------------------------
# Faults

# Pull the host's cable at the switch: its eth0 loses carrier, packets are
# dropped both ways, TCP connections stay open and retransmit.
cl_partition() { ip -n "$CL_HUB" link set "v-$1" down; }
cl_heal() { ip -n "$CL_HUB" link set "v-$1" up; }

# Drop PCT% of the packets into and out of the host (eth0 only), at random.
cl_loss() {
  local host=$1 pct=$2
  cl_on "$host" nft -f - <<EOF || cl_die "nft on $host"
table inet drc_loss
delete table inet drc_loss
table inet drc_loss {
  chain in { type filter hook input priority 0; policy accept; iifname "eth0" numgen random mod 100 < $pct drop; }
  chain out { type filter hook output priority 0; policy accept; oifname "eth0" numgen random mod 100 < $pct drop; }
}
EOF
}
cl_no_loss() { cl_on "$1" nft delete table inet drc_loss 2>/dev/null; return 0; }

# Make the host's outbound link RATE (tc units: 1mbit, 200kbit) with a
# token bucket; packets beyond LATENCY of queue are dropped.
cl_slow_link() {
  cl_on "$1" tc qdisc replace dev eth0 root tbf rate "$2" burst 16kb latency "${3:-200ms}"
}
cl_fast_link() { cl_on "$1" tc qdisc del dev eth0 root 2>/dev/null; return 0; }

# Drop every packet from HOST to PORT on a target (a "filtered" port).
cl_filter_port() {
  local host=$1; shift
  local ports
  ports=$(IFS=,; echo "$*")
  cl_on "$host" nft -f - <<EOF || cl_die "nft on $host"
table inet drc_filter {
  chain in { type filter hook input priority 0; policy accept; tcp dport { $ports } drop; }
}
EOF
}

# Count the packets HOST sends that match an nft MATCH (e.g. "udp dport
# 53") in counter NAME (one counter per host); cl_counter HOST NAME reads it.
cl_count_packets() {
  local host=$1 name=$2 match=$3
  cl_on "$host" nft -f - <<EOF || cl_die "nft on $host"
table inet drc_count {
  counter $name { }
  chain out { type filter hook output priority 0; policy accept; $match counter name "$name"; }
}
EOF
}
cl_counter() {
  cl_on "$1" nft list counter inet drc_count "$2" | awk '$1 == "packets" { print $2 }'
}

# ---------------------------------------------------------------------
# Processes: each runs in its host, logs to $CL_RUN/NAME.log (appended
# across restarts), and is known by name.

cl_spawn() {
  local name=$1 host=$2; shift 2
  # A simple command, not cl_on: $! must be the daemon itself (ip execs it).
  # fd 9 is the cluster lock, fd 7 a producer's feed (cl_feed_open):
  # daemons must hold neither.
  ip netns exec "$(cl_ns "$host")" "$@" >>"$CL_RUN/$name.log" 2>&1 </dev/null 7>&- 9>&- &
  CL_PID[$name]=$!
  echo "$name ${CL_PID[$name]}" >>"$CL_RUN/pids"
}

# Running, and not a zombie waiting to be reaped.
cl_pid_running() {
  local stat
  [ "$1" -gt 0 ] || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }                 # after "PID (COMM) ": the state letter
  [ "${stat:0:1}" != Z ]
}
cl_alive() { cl_pid_running "${CL_PID[$1]:-0}"; }

cl_kill9() {
  local pid=${CL_PID[$1]:-0}
  [ "$pid" -gt 0 ] || return 0
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  CL_PID[$1]=0
}

# SIGTERM, wait up to SECONDS (default 10) for it to exit, then SIGKILL.
# Returns its exit status (137 when it had to be killed).
cl_stop() {
  local name=$1 secs=${2:-10} pid=${CL_PID[$1]:-0} rc
  [ "$pid" -gt 0 ] || return 0
  kill -TERM "$pid" 2>/dev/null
  if ! cl_wait "$secs" "" cl_not_alive "$name"; then
    cl_log "$name did not stop within $secs s after SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  rc=$?
  CL_PID[$name]=0
  return $rc
}
cl_not_alive() { ! cl_alive "$1"; }

cl_stop_all() {
  local name pids=()
  for name in "${!CL_PID[@]}"; do
    [ "${CL_PID[$name]}" -gt 0 ] && pids+=("${CL_PID[$name]}")
  done
  cl_terminate "${pids[@]}"
  wait "${pids[@]}" 2>/dev/null
  for name in "${!CL_PID[@]}"; do CL_PID[$name]=0; done
  return 0
}

# Lines of NAME's log matching an extended regex.
cl_log_count() {
  [ -f "$CL_RUN/$1.log" ] || { echo 0; return; }
  grep -cE -- "$2" "$CL_RUN/$1.log" || true
}

# Poll COMMAND every 0.1 s until it succeeds or SECONDS pass.  DESC, if not
# empty, is said when it times out.  Returns 0 when it succeeded.
cl_wait() {
  local secs=$1 desc=$2; shift 2
  local deadline=$(( $(cl_now_ms) + secs * 1000 ))
  while :; do
    "$@" && return 0
    [ "$(cl_now_ms)" -ge "$deadline" ] && break
    sleep 0.1
  done
  [ -n "$desc" ] && cl_log "timed out after $secs s waiting for $desc"
  return 1
}

# NAME's log has more than N lines matching REGEX.
cl_log_more() { [ "$(cl_log_count "$1" "$3")" -gt "$2" ]; }

# ---------------------------------------------------------------------
# Keys: one keypair per daemon and for the producer, made at run time.

cl_keygen() {
  [ -f "$CL_RUN/keys/$1" ] && return 0
  "$CL_DROVER" keygen --dir "$CL_RUN/keys" "$1" >/dev/null || cl_die "keygen $1"
}

# An agent's key, and its public certificate on the allow-lists.
cl_agent_key() {
  cl_keygen "$1"
  cp "$CL_RUN/keys/$1" "$CL_RUN/allow-agents/$1"
}

# ---------------------------------------------------------------------
# The daemons

cl_endpoint() {
  case "$1" in
    frontend) echo "tcp://$(cl_ip broker):$CL_FRONTEND_PORT" ;;
    intake) echo "tcp://$(cl_ip broker):$CL_INTAKE_PORT" ;;
    backend) echo "tcp://$(cl_ip broker):$CL_BACKEND_PORT" ;;
    sink) echo "tcp://$(cl_ip sink):$CL_SINK_PORT" ;;
  esac
}

# The broker on host broker, on its LMDB store in $CL_RUN/broker-data;
# extra flags are passed on.  Returns once it says it is ready.
cl_broker_start() {
  local before
  before=$(cl_log_count broker 'broker ready')
  cl_spawn broker broker "$CL_DROVER" broker \
    --frontend "$(cl_endpoint frontend)" --intake "$(cl_endpoint intake)" \
    --backend "$(cl_endpoint backend)" --store lmdb --data-dir "$CL_RUN/broker-data" \
    --heartbeat-ms "$CL_HEARTBEAT_MS" --cert "$CL_RUN/keys/broker" \
    --allow-producers "$CL_RUN/allow-producers" --allow-agents "$CL_RUN/allow-agents" "$@"
  cl_wait 20 "the broker to be ready" cl_log_more broker "$before" 'broker ready' \
    || cl_die "broker did not start; see $CL_RUN/broker.log"
}

cl_sink_start() {
  local before
  before=$(cl_log_count sink 'sink ready')
  cl_spawn sink sink "$CL_DROVER" sink --bind "$(cl_endpoint sink)" \
    --output "$CL_RUN/results.jsonl" --data-dir "$CL_RUN/sink-data" \
    --cert "$CL_RUN/keys/sink" "$@"
  cl_wait 20 "the sink to be ready" cl_log_more sink "$before" 'sink ready' \
    || cl_die "sink did not start; see $CL_RUN/sink.log"
}

# cl_agent_start NAME [HOST] [-- FLAGS...]: agent NAME (key NAME) on HOST
# (default NAME), 1 worker process x 2 threads unless FLAGS say otherwise.
# Its work directories go to $CL_RUN/tmp/NAME.  Does not wait: see
# cl_wait_agents.
cl_agent_start() {
  local name=$1 host=${1}; shift
  if [ $# -gt 0 ] && [ "$1" != "--" ]; then host=$1; shift; fi
  [ "${1:-}" = "--" ] && shift
  cl_agent_key "$name"
  mkdir -p "$CL_RUN/tmp/$name"
  cl_spawn "$name" "$host" env TMPDIR="$CL_RUN/tmp/$name" ${CL_AGENT_ENV:-} \
    "$CL_DROVER" agent --broker "${CL_AGENT_BROKER:-$(cl_endpoint backend)}" --name "$name" \
    --cert "$CL_RUN/keys/$name" --broker-key "$CL_RUN/keys/broker" \
    --processes 1 --threads 2 --result-timeout-ms 2000 "$@"
}

# Each agent named has said it is connected (more times than before, when
# "NAME:N" is given).
cl_agents_connected() {
  local a n
  for a in "$@"; do
    n=0
    case $a in *:*) n=${a#*:}; a=${a%%:*} ;; esac
    cl_log_more "$a" "$n" "agent $a connected to broker" || return 1
  done
}
cl_wait_agents() {
  cl_wait "${CL_CONNECT_TIMEOUT:-30}" "agents $* to connect" cl_agents_connected "$@"
}

# The usual start: the broker, the sink, agents NAME... (each with the
# FLAGS after --), and a wait until they are all connected.
cl_start_daemons() {
  local agents=() a
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do agents+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  cl_broker_start
  cl_sink_start
  for a in "${agents[@]}"; do cl_agent_start "$a" -- "$@"; done
  cl_wait_agents "${agents[@]}" || cl_die "agents ${agents[*]} did not connect"
}

# The producer's commands, on host prod, with its keys.
cl_drover_prod() {
  local cmd=$1; shift
  cl_on prod "$CL_DROVER" "$cmd" --broker "$(cl_endpoint frontend)" \
    --cert "$CL_RUN/keys/producer" --broker-key "$CL_RUN/keys/broker" "$@"
}

# cl_submit JOB HANDLER FILE [FLAGS...]: submit FILE as a new job, results
# sealed for the sink.  Output in $CL_RUN/submit-JOB.log; returns its status.
cl_submit() {
  local job=$1 handler=$2 file=$3; shift 3
  cl_drover_prod submit --job "$job" --handler "$handler" --sink "$(cl_endpoint sink)" \
    --sink-key "$CL_RUN/keys/sink" "$@" "$file" >>"$CL_RUN/submit-$job.log" 2>&1
}

# N lines of LINE: tuples for a job.
cl_repeat() { awk -v n="$1" -v t="$2" 'BEGIN { for (i = 0; i < n; i++) print t }'; }

# A producer fed chunk by chunk, so a test knows what is in flight:
# cl_feed_open JOB HANDLER [FLAGS...] starts drover submit reading a FIFO
# (fd 7 of this shell writes it); cl_feed N TUPLE writes N copies of the
# JSON TUPLE (submit sends them once the input pauses for 100 ms);
# cl_feed_close ends the input, and cl_feed_wait SECONDS returns submit's
# exit status (or 124 if it is still running).
cl_feed_open() {
  local job=$1 handler=$2; shift 2
  rm -f "$CL_RUN/feed"
  mkfifo "$CL_RUN/feed" || cl_die "mkfifo"
  cl_submit "$job" "$handler" - "$@" <"$CL_RUN/feed" &
  CL_FEED_PID=$!
  exec 7>"$CL_RUN/feed"
}
cl_feed() { cl_repeat "$1" "$2" >&7; }
cl_feed_close() { exec 7>&-; }
cl_feed_done() { ! kill -0 "$CL_FEED_PID" 2>/dev/null; }
cl_feed_wait() {
  if ! cl_wait "$1" "drover submit to exit" cl_feed_done; then
    kill -TERM "$CL_FEED_PID" 2>/dev/null
    wait "$CL_FEED_PID" 2>/dev/null
    return 124
  fi
  wait "$CL_FEED_PID"
}

# A counter of JOB from the broker (state, submitted, queued, running,
# done, failed), or status 1 when the broker does not answer.
cl_job() {
  local json
  json=$(cl_drover_prod status --reply-timeout 2 --json "$1" 2>/dev/null) || return 1
  "$CL_PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$json" "$2"
}
cl_job_is() { [ "$(cl_job "$1" state)" = "$2" ]; }             # JOB STATE
cl_job_ge() { local v; v=$(cl_job "$1" "$2") && [ "$v" -ge "$3" ]; }  # JOB COUNTER N

# ---------------------------------------------------------------------
# Target hosts: TCP ports that accept (open); others answer RST (closed)
# or, with cl_filter_port, nothing (filtered).

cl_target_listen() {
  local host=$1; shift
  cl_spawn "listen-$host" "$host" "$CL_PYTHON" "$CL_DIR/listen.py" "$@"
  cl_wait 10 "$host to listen on $*" cl_listening "$host" "$@" || cl_die "$host does not listen"
}
cl_listening() {
  local host=$1 port; shift
  local ss_out
  ss_out=$(cl_on "$host" ss -Hltn)
  for port in "$@"; do
    grep -qE "[:.]${port}[[:space:]]" <<<"$ss_out" || return 1
  done
}

# ---------------------------------------------------------------------
# Results: checks on the sink's output, tuple by tuple (results.py).

cl_results() { "$CL_PYTHON" "$CL_DIR/results.py" "$@"; }

# ---------------------------------------------------------------------
# Checks and figures: what a scenario prints.

cl_figure() { printf '  figure: %s\n' "$*"; }
cl_check() {
  local desc=$1; shift
  CL_CHECKS=$(( CL_CHECKS + 1 ))
  if "$@"; then
    printf '  ok:   %s\n' "$desc"
  else
    printf '  FAIL: %s\n' "$desc"
    CL_FAILS=$(( CL_FAILS + 1 ))
  fi
}
cl_quiet() { "$@" >/dev/null 2>&1; }
cl_le() { [ "$1" -le "$2" ]; }
cl_ge() { [ "$1" -ge "$2" ]; }
cl_eq() { [ "$1" = "$2" ]; }

# ---------------------------------------------------------------------
# A scenario's life: cl_begin HOSTS..., then its steps, then cl_end.

cl_on_exit() {
  local rc=$?
  cl_stop_all
  cl_cleanup_network
  if [ -n "$CL_RUN" ]; then
    # A failure keeps its evidence, but not a known one's (CL_KNOWN, set by
    # run.sh) run after run: CL_KEEP=1 keeps every dir.
    if [ -n "${CL_KEEP:-}" ] || { [ -z "${CL_KNOWN:-}" ] && { [ "$rc" -ne 0 ] || [ "$CL_FAILS" -ne 0 ]; }; }; then
      cl_log "logs, data and results kept in $CL_RUN"
    else
      rm -rf "$CL_RUN"
    fi
  fi
}

# Lock, clear leftovers of a crashed run, make the work dir (CL_RUN if set,
# else a new one) and the keys, bring up the hosts (broker, sink and prod
# always, then those given), and clean up on exit unless CL_PERSIST is set.
cl_begin() {
  CL_DROVER=${CL_DROVER:-$CL_DIR/../../build/drover}
  [ -x "$CL_DROVER" ] || cl_die "no drover binary at $CL_DROVER (build it, or set CL_DROVER)"
  CL_DROVER=$(cd "$(dirname "$CL_DROVER")" && pwd)/$(basename "$CL_DROVER")
  cl_lock
  if [ -f "$CL_UP_MARK" ] && cl_leftovers; then
    cl_die "a cluster from 'cluster.sh up' is running ($(cat "$CL_UP_MARK")): cluster.sh down first"
  fi
  if cl_leftovers; then
    cl_log "removing the namespaces of an earlier run that did not clean up"
    cl_cleanup_network
  fi
  if [ -z "$CL_RUN" ]; then
    CL_RUN=$(mktemp -d "${CL_TMP:-/tmp}/drover-cluster-$CL_NAME-XXXXXX") || cl_die "mktemp"
  fi
  mkdir -p "$CL_RUN/keys" "$CL_RUN/allow-agents" "$CL_RUN/allow-producers" "$CL_RUN/tmp" \
    || cl_die "cannot make $CL_RUN"
  chmod 755 "$CL_RUN"
  if [ -z "${CL_PERSIST:-}" ]; then
    trap cl_on_exit EXIT
    trap 'cl_log "interrupted"; exit 130' INT TERM
  fi
  local t0
  t0=$(cl_now_ms)
  cl_up_network broker sink prod "$@"
  cl_keygen broker
  cl_keygen sink
  cl_keygen producer
  cp "$CL_RUN/keys/producer" "$CL_RUN/allow-producers/producer"
  local host
  for host in "$@"; do
    case $host in a[0-9]*) cl_agent_key "$host" ;; esac   # on the lists before the broker starts
  done
  cl_log "${#CL_HOSTS[@]} hosts up in $(cl_secs $(( $(cl_now_ms) - t0 ))) s; work dir $CL_RUN"
}

# Every daemon started and not stopped or killed by the scenario is still
# running, and no log holds a sanitizer report: none crashed.
cl_check_no_crash() {
  local name dead=()
  for name in "${!CL_PID[@]}"; do
    [ "${CL_PID[$name]}" -gt 0 ] && ! cl_alive "$name" && dead+=("$name")
  done
  local reports
  reports=$(grep -lE 'runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer' "$CL_RUN"/*.log 2>/dev/null \
    | xargs -r -n1 basename | tr '\n' ' ')
  [ ${#dead[@]} -eq 0 ] && [ -z "$reports" ] && return 0
  [ ${#dead[@]} -gt 0 ] && cl_log "died: ${dead[*]}"
  [ -n "$reports" ] && cl_log "sanitizer reports in: $reports" \
    && grep -hE -m1 -A3 'runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer' "$CL_RUN"/*.log | head -20 >&2
  return 1
}

# Wait up to SECONDS for JOB to complete; give up at once when no agent
# is left running (they crashed: waiting longer would tell nothing).
cl_wait_complete() {
  local job=$1 secs=$2
  local deadline=$(( $(cl_now_ms) + secs * 1000 ))
  while ! cl_job_is "$job" complete; do
    cl_any_agent_alive || { cl_log "no agent is running: job $job cannot complete"; return 1; }
    [ "$(cl_now_ms)" -ge "$deadline" ] && { cl_log "timed out after $secs s waiting for job $job"; return 1; }
    sleep 0.2
  done
}
cl_any_agent_alive() {
  local name
  for name in "${!CL_PID[@]}"; do
    case $name in listen-*|broker|sink) continue ;; esac
    cl_alive "$name" && return 0
  done
  return 1
}

cl_end() {
  cl_check "no daemon crashed, no sanitizer report" cl_check_no_crash
  if [ "$CL_FAILS" -eq 0 ]; then
    echo "scenario $CL_NAME: passed ($CL_CHECKS checks)"
    exit 0
  fi
  echo "scenario $CL_NAME: FAILED ($CL_FAILS of $CL_CHECKS checks)"
  exit 1
}
