#!/usr/bin/env bash
# Make the keys deploy/compose.yaml mounts, in DIR (default deploy/keys,
# which git ignores), with drover keygen:
#   DIR/secret/{broker,sink,agent}_secret   compose secrets (the roles' keypairs),
#                                           owned by the image's user 10001, 0600
#   DIR/secret/http_token                   the token the broker's /metrics and
#                                           dashboard ask for, likewise
#   DIR/public/{broker,sink}                public certificates, mounted at /keys
#   DIR/public/allow/producers/producer     the broker's --allow-producers list
#   DIR/public/allow/agents/agent           --allow-agents of the broker and sink
#   DIR/producer, DIR/producer_secret       the host's producer keypair
# All agent replicas share one keypair (PROTOCOL.md 4.4 allows it).
# Usage: scripts/compose-keys.sh [DIR]   (DROVER: the drover binary to use)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-deploy/keys}
drover=${DROVER:-build/drover}
[ -x "$drover" ] || { echo "compose-keys: no $drover (scripts/build.sh first)" >&2; exit 1; }
[ ! -e "$dir/public" ] || { echo "compose-keys: $dir has keys already" >&2; exit 1; }

mkdir -p -m 0700 "$dir/secret" "$dir/new"
mkdir -p "$dir/public/allow/producers" "$dir/public/allow/agents"
for name in broker sink agent producer; do
  "$drover" keygen --dir "$dir/new" "$name" >/dev/null
done
mv "$dir/new/broker" "$dir/new/sink" "$dir/public/"
cp "$dir/new/producer" "$dir/public/allow/producers/producer"
cp "$dir/new/agent" "$dir/public/allow/agents/agent"
mv "$dir/new/producer" "$dir/new/producer_secret" "$dir/"
for name in broker sink agent; do
  mv "$dir/new/${name}_secret" "$dir/secret/"
done
(umask 077; head -c 24 /dev/urandom | base64 >"$dir/secret/http_token")
rm -rf "$dir/new"
chmod -R a+rX "$dir/public"
chmod 0755 "$dir"
# Secrets are bind-mounted as they are: the container's user must own them.
if [ "$(id -u)" -eq 0 ]; then
  chown 10001:10001 "$dir"/secret/*_secret "$dir/secret/http_token"
else
  echo "compose-keys: not root: chown 10001 $dir/secret/* yourself" >&2
fi
echo "compose-keys: keys in $dir (broker key $(grep public-key "$dir/public/broker" | cut -d'"' -f2))"
