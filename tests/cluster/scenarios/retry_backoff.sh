#!/usr/bin/env bash
# Scenario retry_backoff: an agent whose broker is not up (a3) or whose
# broker's name does not resolve (a2) keeps trying; its tries must back
# off (issue 14 item 5): after a while at most one try a second, counted on
# the wire (SYNs to the broker's port, DNS queries on the agent's host),
# not a few every second for ever, as a thousand agents waiting for a
# broker would make a storm of.  Printed: the tries in each part of the
# window.
. "$(dirname "$0")/../lib.sh"

WINDOW=${CL_BACKOFF_WINDOW:-12}
LAST=5                            # seconds at the end of the window measured
cl_begin a2 a3
sed -i '/broker\.drover\.test/d' "/etc/netns/$(cl_ns a2)/hosts"
cl_count_packets a2 dns 'udp dport 53'
cl_count_packets a3 syn "tcp dport $CL_BACKEND_PORT tcp flags & (syn | ack) == syn"
CL_AGENT_BROKER=tcp://broker.drover.test:$CL_BACKEND_PORT cl_agent_start a2
cl_agent_start a3
sleep $(( WINDOW - LAST ))        # the window measured, not a wait for a condition
dns0=$(cl_counter a2 dns) syn0=$(cl_counter a3 syn)
sleep "$LAST"
dns1=$(cl_counter a2 dns) syn1=$(cl_counter a3 syn)
# glibc asks for A and AAAA: two queries a lookup.
lookups=$(( (dns1 - dns0) / 2 ))
cl_figure "broker down: a3 sent $syn0 SYNs in the first $(( WINDOW - LAST )) s, $(( syn1 - syn0 )) in the last $LAST s"
cl_figure "name unresolved: a2 sent $dns0 DNS queries in the first $(( WINDOW - LAST )) s, $(( dns1 - dns0 )) ($lookups lookups) in the last $LAST s"
cl_check "a3's tries back off to at most 1 a second" cl_le $(( syn1 - syn0 )) "$LAST"
cl_check "a2's lookups back off to at most 1 a second" cl_le "$lookups" "$LAST"
cl_end
