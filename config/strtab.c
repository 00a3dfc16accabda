/* config/strtab.c — a small string-keyed hash table (open addressing) used by
 * the config loader for anchors, duplicate-key checks and id lookups.
 *
 * Memory: the table owns its slot arrays (malloc'ed, kiln_strtab_free);
 * keys and values are borrowed and must outlive the table.
 */
#include "strtab.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int grow(kiln_strtab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 16;
    const char **keys = calloc(cap, sizeof *keys);
    void **vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->keys[i]) continue;
        size_t j = hash_str(t->keys[i]) & (cap - 1);
        while (keys[j]) j = (j + 1) & (cap - 1);
        keys[j] = t->keys[i];
        vals[j] = t->vals[i];
    }
    free(t->keys);
    free(t->vals);
    t->keys = keys;
    t->vals = vals;
    t->cap = cap;
    return 0;
}

static size_t slot(const kiln_strtab *t, const char *k)
{
    size_t j = hash_str(k) & (t->cap - 1);
    while (t->keys[j] && strcmp(t->keys[j], k) != 0) j = (j + 1) & (t->cap - 1);
    return j;
}

int kiln_strtab_put(kiln_strtab *t, const char *key, void *val, void **old)
{
    if (old) *old = NULL;
    if ((t->n + 1) * 2 > t->cap && grow(t)) return -1;
    size_t j = slot(t, key);
    if (t->keys[j]) {
        if (old) *old = t->vals[j];
        t->vals[j] = val;
        return 1;
    }
    t->keys[j] = key;
    t->vals[j] = val;
    t->n++;
    return 0;
}

void *kiln_strtab_get(const kiln_strtab *t, const char *key)
{
    if (!t->cap) return NULL;
    size_t j = slot(t, key);
    return t->keys[j] ? t->vals[j] : NULL;
}

int kiln_strtab_has(const kiln_strtab *t, const char *key)
{
    if (!t->cap) return 0;
    return t->keys[slot(t, key)] != NULL;
}

void kiln_strtab_free(kiln_strtab *t)
{
    free(t->keys);
    free(t->vals);
    memset(t, 0, sizeof *t);
}
