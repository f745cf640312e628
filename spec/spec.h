//  spec.h -- a scan as a spec instead of tuples: targets (spec/targets.h)
//  x ports (spec/ports.h) minus excluded targets and ports.  Its tuples
//  form an index space of hosts x ports, numbered without holes (the
//  exclusions are taken out of the hosts and the ports before counting),
//  and any tuple is found from its indices in O(log ranges) with nothing
//  stored per tuple: 10.0.0.0/8 x 65535 ports costs what a /24 costs.
//  The order in which they are handed out is a walk (spec/walk.h).
//
//  A tuple is what tcp-probe and exec templates take: [host, port] for
//  TCP, [host, port, "udp"] (or "sctp") otherwise; host is a string (an
//  address, or a name drover never resolves), port an integer.
#ifndef DROVER_SPEC_H
#define DROVER_SPEC_H

#include "spec/ports.h"
#include "spec/targets.h"
#include "spec/walk.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

//  At most 2^53 tuples: tuple ids (position + 1) reach the sink's JSON
//  Lines as numbers, which JSON readers hold exactly only up to 2^53.
#define SPEC_MAX_TUPLES ((uint64_t) 1 << 53)

//  A spec as a person writes it: text in the syntax of targets.h and
//  ports.h, each NULL when not given.
typedef struct {
    const char *targets;
    const char *targets_file;   //  a file of targets, '#' comments
    const char *ports;          //  required
    const char *exclude;        //  targets never to scan
    const char *exclude_file;
    const char *exclude_ports;  //  ports never to scan, on any host
} spec_source_t;

//  One tuple, decoded.
typedef struct {
    char host[TARGETS_HOST_MAX];
    uint16_t port;
    ports_protocol_t protocol;
} spec_tuple_t;

typedef struct spec spec_t;

//  Parse and subtract.  NULL with the reason in err: a syntax error (with
//  the word, and the file and line), no targets or no ports, nothing left
//  after the exclusions, or more than SPEC_MAX_TUPLES tuples.
spec_t  *spec_new (const spec_source_t *source, char *err, size_t errlen);
//  From sets already made (taken over, even on failure); the same checks.
spec_t  *spec_new_from (targets_t **targets_p, ports_t **ports_p, char *err, size_t errlen);
void     spec_destroy (spec_t **self_p);

uint64_t spec_count (const spec_t *self);       //  hosts x ports, >= 1
uint64_t spec_hosts (const spec_t *self);
uint32_t spec_ports (const spec_t *self);
const targets_t *spec_targets (const spec_t *self);

//  The tuple of host index host and port index port.
void spec_tuple (const spec_t *self, uint64_t host, uint32_t port, spec_tuple_t *out);
//  The same as msgpack: [host, port] or [host, port, protocol].
void spec_pack (const spec_t *self, uint64_t host, uint32_t port, msgpack_packer *pk);
//  The same msgpack bytes written to out (at least SPEC_TUPLE_MAX bytes),
//  for a caller that builds a frame by hand.  Returns their count.
#define SPEC_TUPLE_MAX (1 + 2 + TARGETS_HOST_MAX + 3 + 5)
size_t spec_encode (const spec_t *self, uint64_t host, uint32_t port, uint8_t *out);
//  The tuple at a position of walk (made for this spec's hosts and ports):
//  tuple id position + 1.
void spec_pack_position (const spec_t *self, const walk_t *walk, uint64_t position,
                         msgpack_packer *pk);

//  The spec as one msgpack value, to store with a job or send in a header:
//  [1, hosts, names, ports] with hosts and ports as bin (rangeset_encode)
//  and names an array of str.  Canonical: a spec has one encoding, and
//  spec_load accepts only that, so load then save gives the same bytes.
void     spec_save (const spec_t *self, msgpack_packer *pk);
//  Exactly one msgpack value in data[0..size).  NULL with the reason in
//  err if it is not a spec spec_save would write (or out of memory).
spec_t  *spec_load (const void *data, size_t size, char *err, size_t errlen);

#endif
