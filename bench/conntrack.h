//  conntrack.h -- whether the kernel tracks connections on loopback.  With
//  a ruleset that uses connection tracking loaded (podman's netavark leaves
//  one behind) it follows every packet, loopback's too, and that costs
//  drover, which sends more packets per tuple, more than the ceiling
//  (docs/benchmarks.md): the report says which it was, at the start and at
//  the end of the run.  Measured, not guessed from the rules: a NAT chain
//  alone was seen not to track loopback, a `ct state` rule does.
#ifndef DROVER_BENCH_CONNTRACK_H
#define DROVER_BENCH_CONNTRACK_H

typedef enum {
    CONNTRACK_UNKNOWN,              //  the probe could not tell
    CONNTRACK_OFF,
    CONNTRACK_ON
} conntrack_t;

//  Open a TCP connection on 127.0.0.1 and see whether the kernel's count
//  of tracked connections grows with it (a few tries, as entries expire
//  meanwhile); no count at all means the tracking module is not loaded.
conntrack_t conntrack_probe (void);
const char *conntrack_name (conntrack_t state);

#endif
