//  walk.c -- positions to (host, port) in rounds over the hosts (walk.h).
#include "spec/walk.h"
#include "spec/permutation.h"

#include <assert.h>
#include <stdlib.h>

struct walk {
    uint64_t hosts;
    uint32_t ports;
    uint64_t seed;
    permutation_t port_order;   //  one shuffle of the ports for every host
};

walk_t *
walk_new (uint64_t hosts, uint32_t ports, uint64_t seed)
{
    assert (hosts >= 1 && ports >= 1 && hosts <= PERMUTATION_MAX / ports);
    walk_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->hosts = hosts;
    self->ports = ports;
    self->seed = seed;
    permutation_init (&self->port_order, ports, permutation_mix (seed ^ 0x706f727473ull));
    return self;
}

void
walk_destroy (walk_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

uint64_t
walk_count (const walk_t *self)
{
    return self->hosts * self->ports;
}

void
walk_at (const walk_t *self, uint64_t position, uint64_t *host, uint32_t *port)
{
    assert (position < walk_count (self));
    uint64_t round = position / self->hosts, k = position - round * self->hosts;
    permutation_t host_order;
    permutation_init (&host_order, self->hosts, permutation_mix (self->seed + round));
    *host = permutation_apply (&host_order, k);
    //  Round r gives host h its ((r + offset(h)) mod ports)-th port of the
    //  shuffle: over the rounds, each port once.
    uint64_t hash = permutation_mix (self->seed ^ permutation_mix (*host));
    uint64_t offset = (uint64_t) (((unsigned __int128) hash * self->ports) >> 64);
    uint64_t turn = round + offset;     //  both below ports
    turn -= turn >= self->ports? self->ports: 0;
    *port = (uint32_t) permutation_apply (&self->port_order, turn);
}
