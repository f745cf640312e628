//  grow.c -- see grow.h.
#include "common/grow.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int
grow (void **array, size_t *capacity, size_t count, size_t size)
{
    if (count < *capacity)
        return 0;
    size_t more = *capacity? *capacity * 2: 64;
    if (size && more > SIZE_MAX / size)
        return -ENOMEM;
    void *grown = realloc (*array, more * size);
    if (!grown)
        return -ENOMEM;
    *array = grown;
    *capacity = more;
    return 0;
}
