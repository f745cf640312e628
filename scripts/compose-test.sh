#!/usr/bin/env bash
# The compose stack run for real: builds the image (scripts/image.sh),
# brings deploy/compose.yaml up with podman-compose and CURVE keys made for
# this run, submits a job from the host with build/drover, scales the
# agents from 3 to 5 mid-job, kills the broker (SIGKILL) mid-job and starts
# it again on its volume, then checks from the sink's JSON Lines (in its
# volume) that every tuple's result arrived exactly once.  /readyz and
# /metrics of each container are checked when drover has --http, and
# reported skipped otherwise.  Everything is torn down at the end, also on
# failure (the containers' logs are printed then).
# Usage: scripts/compose-test.sh   (DROVER_TUPLES, DROVER_SLEEP_MS: the job)
# Needs what image.sh needs, podman-compose, and build/drover.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/podman-env.sh

tuples=${DROVER_TUPLES:-3000}
sleep_ms=${DROVER_SLEEP_MS:-200}
drover=$PWD/build/drover
export DROVER_IMAGE=${DROVER_IMAGE:-drover:dev}
project=drover-test-$$
work=$(mktemp -d /tmp/drover-compose.XXXXXX)
started=$(date +%s)
step_started=$started

say() { echo "compose-test: $(date -u +%T) $*"; }   # UTC, as the containers log
failed_because=""
fail() {   # the reason is said again after the logs, where CI's tail shows it
  failed_because=$*
  echo "compose-test: $(date -u +%T) FAILED: $*" >&2
  exit 1
}
lap() {   # say how long the step took, start the next
  local now; now=$(date +%s)
  say "$1 ($((now - step_started)) s)"
  step_started=$now
}
compose() { podman-compose -p "$project" -f deploy/compose.yaml "$@" >>"$work/compose.log" 2>&1; }
container() { echo "${project}_$1"; }    # podman-compose 1.0 names: PROJECT_SERVICE_N

teardown() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    for c in $(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}'); do
      echo "== logs of $c (last 30 lines)"; podman logs "$c" 2>&1 | tail -30
    done
    echo "== podman-compose (last 30 lines)"; tail -30 "$work/compose.log" 2>/dev/null
    echo "== containers"; podman ps -a --filter "label=io.podman.compose.project=$project" \
      --format '{{.Names}} {{.Status}} started {{.StartedAt}}' 2>&1
  fi
  # down stops the agents (SIGTERM: they drain) before the broker and sink;
  # then whatever is left of the project goes: scaled agents, network, volumes.
  DROVER_AGENTS=5 compose down -v -t 45 || true
  local left
  left=$(podman ps -aq --filter "label=io.podman.compose.project=$project")
  [ -z "$left" ] || podman rm -f $left >/dev/null 2>&1 || true
  podman network rm -f "${project}_drover" >/dev/null 2>&1 || true
  podman volume rm -f "${project}_broker-data" "${project}_sink-data" >/dev/null 2>&1 || true
  rm -rf "$work"
  [ -z "$failed_because" ] || echo "compose-test: FAILED: $failed_because" >&2
  say "total $(($(date +%s) - started)) s, exit $rc"
}
trap teardown EXIT

free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    [ -n "$(ss -Hltn "sport = :$port")" ] || { echo "$port"; return; }
  done
}

client() {   # drover submit/status as the host's producer
  "$drover" "$1" --broker "tcp://127.0.0.1:$DROVER_FRONTEND_PORT" \
    --cert "$DROVER_KEYS/producer" --broker-key "$DROVER_KEYS/public/broker" "${@:2}"
}

job_field() {   # job_field JOB FIELD: one counter from drover status --json
  client status --json --reply-timeout 5 "$1" 2>/dev/null \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])" 2>/dev/null || echo -1
}

wait_for() {   # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$(($(date +%s) + $1)) what=$2
  shift 2
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what $(cat "$work/answer" 2>/dev/null)"
    sleep 1
  done
}

# Names of agents that said HELLO since the broker last started.
agents_joined() {
  podman logs "$(container broker_1)" 2>&1 | awk '/broker ready/ { n = 0; delete seen }
    / agent .* joined/ { for (i = 1; i <= NF; i++) if ($i == "agent") { seen[$(i+1)] = 1 } }
    END { c = 0; for (k in seen) c++; print c }'
}

done_at_least() { [ "$(job_field "$job" done)" -ge "$1" ]; }
agents_at_least() { [ "$(agents_joined)" -ge "$1" ]; }
job_complete() { [ "$(job_field "$job" state)" = complete ]; }
broker_answers() {   # the broker answers STATUS (for a job it does not know)
  client status --reply-timeout 2 no-such-job >"$work/answer" 2>&1
  grep -qiE "unknown|no job" "$work/answer"
}

[ -x "$drover" ] || CC=${CC:-gcc} scripts/build.sh build >/dev/null
command -v podman-compose >/dev/null || fail "podman-compose is missing"

scripts/image.sh "$DROVER_IMAGE" >"$work/image.log" 2>&1 || { tail -40 "$work/image.log"; fail "image build"; }
grep '^image:' "$work/image.log" | sed 's/^/compose-test: /'
lap "image $DROVER_IMAGE ready"

export DROVER_KEYS=$work/keys DROVER_AGENTS=3
export DROVER_FRONTEND_PORT; DROVER_FRONTEND_PORT=$(free_port)
export DROVER_INTAKE_PORT; DROVER_INTAKE_PORT=$(free_port)
DROVER=$drover scripts/compose-keys.sh "$DROVER_KEYS" >/dev/null
compose up -d --no-build || fail "podman-compose up"
wait_for 60 "the broker to answer" broker_answers
wait_for 60 "3 agents to join" agents_at_least 3
lap "stack up: broker, sink, 3 agents, CURVE on"

# The job: sleep handler tuples, long enough to scale and kill mid-way.
job=compose-$$
seq 1 "$tuples" | sed "s/.*/[$sleep_ms]/" >"$work/tuples.jsonl"
client submit --job "$job" --handler sleep --sink tcp://sink:5558 \
  --sink-key "$DROVER_KEYS/public/sink" "$work/tuples.jsonl" \
  || fail "submit"
lap "submitted $tuples tuples of ${sleep_ms} ms"

wait_for 120 "a twentieth of the job done" done_at_least $((tuples / 20))
DROVER_AGENTS=5 compose up -d --no-build --no-deps agent || fail "scaling agents"
wait_for 60 "5 agents to join" agents_at_least 5
lap "agents scaled to 5 at $(job_field "$job" done) done"

wait_for 120 "half the job done" done_at_least $((tuples / 2))
before=$(job_field "$job" done)
podman kill -s KILL "$(container broker_1)" >/dev/null || fail "kill broker"
# What counts is that the broker runs again on its volume: should podman
# start report an error, say what it said, and go on if the container runs.
if ! podman start "$(container broker_1)" >"$work/start.log" 2>&1; then
  state=$(podman inspect -f '{{.State.Status}}' "$(container broker_1)" 2>/dev/null || true)
  say "podman start of the broker failed ($(tr '\n' ' ' <"$work/start.log")); container $state"
  [ "$state" = running ] || fail "restart broker: $(tr '\n' ' ' <"$work/start.log")"
fi
wait_for 60 "the restarted broker to answer" broker_answers
# It logs what it recovered before it binds a socket, so the line is there
# once it answers; the wait is for podman's log file, which may lag.
recovered() { grep -q "recovered: " <<<"$(podman logs "$(container broker_1)" 2>&1)"; }
wait_for 10 "the restarted broker's log to say what it recovered from its volume" recovered
lap "broker killed at $before done, back on its volume ($(podman logs "$(container broker_1)" 2>&1 | grep "recovered: " | tail -1 | sed 's/.*INFO //'))"

wait_for 300 "the job to complete" job_complete
[ "$(job_field "$job" done)" -eq "$tuples" ] || fail "done $(job_field "$job" done) of $tuples"
[ "$(job_field "$job" failed)" -eq 0 ] || fail "$(job_field "$job" failed) tuples failed"
lap "job complete: $tuples done, 0 failed"

podman cp "$(container sink_1):/var/lib/drover/results.jsonl" "$work/results.jsonl"
python3 - "$work/results.jsonl" "$job" "$tuples" <<'EOF' || fail "results"
import collections, json, sys
path, job, tuples = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = collections.Counter()
agents = collections.Counter()
for line in open(path):
    result = json.loads(line)
    if result["job"] != job:
        continue
    assert result["status"] == "ok", result
    seen[result["tuple"]] += 1
    agents[result["agent"]] += 1
missing = [t for t in range(1, tuples + 1) if seen[t] == 0]
twice = [t for t, n in seen.items() if n > 1]
print("compose-test: sink holds %d results of %s: %d tuples missing, %d more than once, "
      "from %d agents %s" % (sum(seen.values()), job, len(missing), len(twice),
                             len(agents), sorted(agents.values())))
sys.exit(0 if not missing and not twice and len(seen) == tuples else 1)
EOF

# Output is read whole before it is searched: with pipefail, grep -q quitting
# at its first match can fail the writer with SIGPIPE, and the check with it.
if grep -q -- '--http' <<<"$("$drover" broker --help)"; then
  for c in broker_1 sink_1 agent_1 agent_5; do
    podman exec "$(container "$c")" curl -fsS http://127.0.0.1:9100/readyz >/dev/null \
      || fail "/readyz of $c"
  done
  # A broker with keys asks for its token (compose-keys.sh made it).
  code=$(podman exec "$(container broker_1)" curl -sS -o /dev/null -w '%{http_code}' \
    http://127.0.0.1:9100/metrics 2>/dev/null || true)
  [ "$code" = 401 ] || fail "the broker's /metrics answers $code without its token, not 401"
  podman exec "$(container broker_1)" curl -fsS \
    -H "Authorization: Bearer $(cat "$DROVER_KEYS/secret/http_token")" \
    http://127.0.0.1:9100/metrics >"$work/metrics" || fail "the broker's /metrics with its token"
  grep -q '^drover_tuples_queued' "$work/metrics" \
    || fail "no drover_tuples_queued in the broker's /metrics ($(wc -l <"$work/metrics") lines)"
  say "readyz: broker, sink and agents ready; broker /metrics has drover_tuples_queued (with its token)"
else
  say "readyz: skipped: daemon has no --http yet"
fi
lap "checked"
say "passed"
