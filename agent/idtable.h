//  idtable.h -- values by a 64-bit id (a task's address, a tuple id), kept
//  inline in one open-addressing array: adding, finding and removing cost
//  no allocation (zhashx cost two per entry and a chain walk per lookup,
//  which showed in the agent's profile).  For the supervisor's tasks out
//  with workers and the outbox's tuples waiting for STORED.
#ifndef DROVER_IDTABLE_H
#define DROVER_IDTABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct idtable idtable_t;

//  Values of value_size bytes.  NULL if out of memory.
idtable_t *idtable_new (size_t value_size);
void       idtable_destroy (idtable_t **self_p);

//  Room for id's value (id not listed yet), to fill in; NULL if out of
//  memory.  Valid, as every value pointer, until the next add or remove.
void      *idtable_add (idtable_t *self, uint64_t id);
//  id's value, or NULL.
void      *idtable_find (idtable_t *self, uint64_t id);
//  A hint: id will be added, found or removed soon, so its home slot is
//  fetched into the cache now.  Callers walking many ids ask a few ahead
//  (IDTABLE_AHEAD): a large table's slots are otherwise a miss each.
void       idtable_prefetch (const idtable_t *self, uint64_t id);
#define IDTABLE_AHEAD 8
void       idtable_remove (idtable_t *self, uint64_t id);
size_t     idtable_count (const idtable_t *self);
//  Probe lengths, in slots looked at: of finding an id listed (the longest,
//  and the total over all), and the longest of looking for one not listed.
//  A scan, for tests: they bound them under the id patterns we meet.
typedef struct {
    size_t longest, total, longest_miss;
} idtable_probes_t;
idtable_probes_t idtable_probes (const idtable_t *self);
//  Iterate: the value after *index (start with *index = 0), its id in
//  *id_p; NULL at the end.  No adds or removes meanwhile.
void      *idtable_next (idtable_t *self, size_t *index, uint64_t *id_p);

#endif
