#!/usr/bin/env bash
# Write spec/ports-top.txt: the ports nmap finds open most often, per
# protocol, most frequent first (ties by port number), from the open
# frequencies of nmap-services (Debian's nmap package).  A developer runs
# this when nmap's list changes and commits the result; drover never reads
# nmap's file at build or run time.  --check compares our top 100 and top
# 1000 with the sets nmap itself picks for --top-ports (no packet is sent:
# the only target is excluded).
# Usage: scripts/ports-top.sh [--check] [NMAP_SERVICES]
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = "--check" ] && { check=1; shift; }
services=${1:-/usr/share/nmap/nmap-services}
count=1000
out=spec/ports-top.txt

ranked() {  # ranked PROTO: the top $count ports of PROTO, one a line
  awk -v proto="$1" '!/^#/ && NF >= 3 { split($2, p, "/"); if (p[2] == proto) print $3, p[1] }' \
    "$services" | sort -k1,1gr -k2,2n | awk -v n="$count" 'NR <= n { print $2 }'
}

if [ $check -eq 1 ]; then
  for proto in tcp udp; do
    flag=-sT; [ $proto = udp ] && flag=-sU
    for n in 100 1000; do
      want=$(nmap $flag --top-ports $n -oX - -n -Pn --exclude 127.0.0.1 127.0.0.1 2>/dev/null \
             | grep -o ' services="[^"]*"' | sed 's/ services="//; s/"//' | tr ',' '\n' \
             | awk -F- '{ last = NF > 1? $2: $1; for (p = $1; p <= last; p++) print p }' | sort -n)
      have=$(sed -n "s/^$proto //p" "$out" | tr ' ' '\n' | grep . | awk -v n=$n 'NR <= n' | sort -n)
      if [ "$want" = "$have" ]; then echo "$proto top$n: same as nmap"
      else echo "$proto top$n: differs from nmap"; diff <(echo "$want") <(echo "$have") | head || true; fi
    done
  done
  exit 0
fi

version=$(dpkg-query -W -f '${Version}' nmap 2>/dev/null || echo unknown)
{
  echo "# The ports nmap finds open most often, most frequent first (ties by port"
  echo "# number): drover's port sets top1 .. top$count (top100, top1000; U:top100"
  echo "# for UDP).  Ranked from the open frequencies in nmap-services (Debian"
  echo "# package nmap $version; that file is under the Nmap Public Source"
  echo "# License, and only the ranked port numbers are kept here).  Made by"
  echo "# scripts/ports-top.sh; compiled into drover, which never reads nmap's"
  echo "# files.  Each line: a protocol, then the next ports of its ranking."
  for proto in tcp udp; do
    ranked $proto | xargs -n 16 echo "$proto"
  done
} > "$out"
echo "wrote $out"
