/*  grow — the per-second arrays of the ledger-load reports.
 */
#ifndef LEDGER_LOAD_GROW_H
#define LEDGER_LOAD_GROW_H

#include <stdlib.h>
#include <string.h>

//  items (of *cap elements of `size` bytes) grown, doubling from 64, so that
//  element `index` exists, the new elements zeroed. The array to use from
//  now on (*cap updated), or NULL when out of memory (items and *cap are
//  then unchanged).
static inline void *
ll_grow (void *items, size_t *cap, size_t size, size_t index)
{
    if (index < *cap)
        return items;
    size_t grown = *cap ? *cap : 64;
    while (grown <= index)
        grown *= 2;
    char *bigger = realloc (items, grown * size);
    if (!bigger)
        return NULL;
    memset (bigger + *cap * size, 0, (grown - *cap) * size);
    *cap = grown;
    return bigger;
}

#endif
