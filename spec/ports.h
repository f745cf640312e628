//  ports.h -- the ports of a scan, with their protocol, as nmap writes
//  them (-p):
//
//      1-1024,8080   U:53,161,T:22-25   top100   U:top100   -1024   60000-   -
//
//  A word is a port, a range FIRST-LAST (-LAST from 1, FIRST- to 65535, '-'
//  alone 1-65535), or a named set topN: the N ports nmap finds open most
//  often (N from 1 to 1000, spec/ports-top.txt).  T:, U: and S: (TCP, UDP,
//  SCTP) set the protocol of their word and of the words after it; before
//  any, ports are TCP.  Words are separated by commas or white space.  Port
//  0 is refused.  Members are ordered TCP, then UDP, then SCTP, each by
//  port, without repeats.
#ifndef DROVER_PORTS_H
#define DROVER_PORTS_H

#include "spec/rangeset.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PORTS_TCP,
    PORTS_UDP,
    PORTS_SCTP,
} ports_protocol_t;

//  Every port of every protocol.
#define PORTS_MAX (3 * 65535)

typedef struct ports ports_t;

ports_t *ports_new (void);
void ports_destroy (ports_t **self_p);

//  Add the ports in text[0..len).  0, or -1 with the reason in err
//  ("'70000' is not a port (1-65535)").
int ports_add (ports_t *self, const char *text, size_t len, char *err, size_t errlen);
//  Remove every port of other from self.  0, or -1 if out of memory.
int ports_subtract (ports_t *self, const ports_t *other);

uint32_t ports_count (const ports_t *self);
//  The index-th port (index < ports_count).
void ports_nth (const ports_t *self, uint32_t index, uint16_t *port,
                ports_protocol_t *protocol);
//  "tcp", "udp" or "sctp".
const char *ports_protocol_name (ports_protocol_t protocol);

//  What a spec saves (spec/spec.h): the set of protocol << 16 | port.
const rangeset_t *ports_set (const ports_t *self);
//  Ports from a saved set (taken over, even on failure); NULL if it holds
//  anything but ports 1-65535 of the three protocols.
ports_t *ports_from (rangeset_t **set_p);

#endif
