//  grow.h -- room for one more item at the end of a growing array (doubled
//  when full, 64 items at first), for the modules that keep one: the
//  sink's group of RESULTs, a job's manifest.
#ifndef DROVER_GROW_H
#define DROVER_GROW_H

#include <stddef.h>

//  *array holds *capacity items of size bytes, count of them used: 0 when
//  there is room for one more (reallocated if needed), -ENOMEM otherwise
//  (the array unchanged).
int grow (void **array, size_t *capacity, size_t count, size_t size);

#endif
