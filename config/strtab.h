/* config/strtab.h — a small string-keyed hash table for the config loader
 * (private to config/). Zero-initialise a kiln_strtab to start; keys and
 * values are borrowed; kiln_strtab_free releases the slots. */
#ifndef KILN_STRTAB_H
#define KILN_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct kiln_strtab {
    const char **keys;
    void **vals;
    size_t cap, n;
} kiln_strtab;

/* Inserts or replaces. Returns 0 when new, 1 when it replaced (the previous
 * value in *old if non-NULL), -1 when out of memory. */
int kiln_strtab_put(kiln_strtab *t, const char *key, void *val, void **old);
/* The value for key, or NULL (also when the stored value is NULL). */
void *kiln_strtab_get(const kiln_strtab *t, const char *key);
int kiln_strtab_has(const kiln_strtab *t, const char *key);
void kiln_strtab_free(kiln_strtab *t);

#endif
