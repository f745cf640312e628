# podman-env.sh -- sourced by image.sh and compose-test.sh: where drover's
# cache lives and the podman settings this kind of machine needs (runc,
# cgroupfs, netavark with DNS between containers, ulimits a non-root
# container may take).  Honours a CONTAINERS_CONF set by the caller.

drover_cache=${DROVER_CACHE:-}
if [ -z "$drover_cache" ]; then
  if [ "$(id -u)" -eq 0 ]; then drover_cache=/var/cache/drover
  else drover_cache=${XDG_CACHE_HOME:-$HOME/.cache}/drover; fi
fi
mkdir -p "$drover_cache"

if [ -z "${CONTAINERS_CONF:-}" ]; then
  export CONTAINERS_CONF=$drover_cache/containers.conf
  # Rewritten each time, so that a change here reaches every machine.
  cat >"$CONTAINERS_CONF.new" <<'EOF'
# Written by drover's scripts/podman-env.sh.
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
# Containers' log lines go to files: journald may not be running.
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
# netavark with aardvark-dns: compose services find each other by name.
network_backend = "netavark"
EOF
  mv "$CONTAINERS_CONF.new" "$CONTAINERS_CONF"
fi
