/* processors/tenant_route/troute_series.c — the per-tenant series tracker
 * behind `max_series_per_tenant`: for each tenant, the set of series hashes
 * (kiln_labels_hash of the labels) seen within `series_idle_timeout`.
 *
 * Bounded memory: at most `max_tenants` tenants (the least recently seen
 * one is forgotten, with its set, when a new one arrives), and a tenant's
 * set never holds more series than its limit. A set is an open-addressing
 * table (linear probing, load <= 1/2, backward-shift deletion) that grows
 * by doubling as series arrive. Series idle for longer than the timeout
 * are swept out when a tenant is at its limit and a new series arrives, at
 * most once per second per tenant, so a sender hammering a full tenant
 * does not make every request scan the set.
 *
 * One mutex guards everything: each call is O(1) apart from sweeps.
 *
 * Memory: the tracker owns its tenants (name copies) and their arrays.
 */
#include "tenant_route.h"

#include <stdlib.h>
#include <string.h>

#define SWEEP_EVERY_NS 1000000000LL

typedef struct tset {
    char *tenant;
    uint64_t th;
    uint64_t *keys; /* 0 = empty slot */
    int64_t *seen;
    size_t cap, n;  /* cap is a power of two (or 0) */
    int64_t last_sweep;
    struct tset *hnext;
    struct tset *prev, *next; /* LRU: prev is more recent */
} tset;

struct kiln_troute_series {
    pthread_mutex_t mu;
    size_t max_tenants, n_tenants;
    int64_t idle;
    tset **slots;
    size_t nslots;
    tset *mru, *lru;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 31;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 29;
    return h;
}

kiln_troute_series *kiln_troute_series_new(size_t max_tenants, int64_t idle_ns)
{
    kiln_troute_series *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->max_tenants = max_tenants ? max_tenants : 1;
    s->idle = idle_ns;
    size_t ns = 16;
    while (ns < s->max_tenants && ns < 65536) ns <<= 1;
    s->nslots = ns;
    s->slots = calloc(ns, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

static void tset_free(tset *t)
{
    free(t->tenant);
    free(t->keys);
    free(t->seen);
    free(t);
}

void kiln_troute_series_free(kiln_troute_series *s)
{
    if (!s) return;
    for (tset *t = s->mru, *nx; t; t = nx) {
        nx = t->next;
        tset_free(t);
    }
    free(s->slots);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void lru_unlink(kiln_troute_series *s, tset *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        s->mru = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        s->lru = t->prev;
    t->prev = t->next = NULL;
}

static void lru_front(kiln_troute_series *s, tset *t)
{
    t->prev = NULL;
    t->next = s->mru;
    if (s->mru) s->mru->prev = t;
    s->mru = t;
    if (!s->lru) s->lru = t;
}

static tset *find_tenant(kiln_troute_series *s, const char *tenant, uint64_t th)
{
    for (tset *t = s->slots[th & (s->nslots - 1)]; t; t = t->hnext)
        if (t->th == th && strcmp(t->tenant, tenant) == 0) return t;
    return NULL;
}

static void drop_tenant(kiln_troute_series *s, tset *t)
{
    tset **pp = &s->slots[t->th & (s->nslots - 1)];
    while (*pp && *pp != t) pp = &(*pp)->hnext;
    if (*pp) *pp = t->hnext;
    lru_unlink(s, t);
    s->n_tenants--;
    tset_free(t);
}

static tset *get_tenant(kiln_troute_series *s, const char *tenant)
{
    uint64_t th = hash_str(tenant);
    tset *t = find_tenant(s, tenant, th);
    if (t) {
        if (s->mru != t) {
            lru_unlink(s, t);
            lru_front(s, t);
        }
        return t;
    }
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    size_t n = strlen(tenant);
    t->tenant = malloc(n + 1);
    if (!t->tenant) {
        free(t);
        return NULL;
    }
    memcpy(t->tenant, tenant, n + 1);
    t->th = th;
    t->last_sweep = INT64_MIN / 2;
    if (s->n_tenants >= s->max_tenants && s->lru) drop_tenant(s, s->lru);
    size_t sl = th & (s->nslots - 1);
    t->hnext = s->slots[sl];
    s->slots[sl] = t;
    lru_front(s, t);
    s->n_tenants++;
    return t;
}

/* ---- one tenant's set ------------------------------------------------------------- */

static uint64_t norm(uint64_t h) { return h ? h : 1; }

static size_t set_find(const tset *t, uint64_t h)
{
    if (!t->cap) return (size_t)-1;
    size_t mask = t->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (t->keys[i] == h) return i;
        if (t->keys[i] == 0) return (size_t)-1;
    }
}

static void set_put(uint64_t *keys, int64_t *seen, size_t cap, uint64_t h, int64_t when)
{
    size_t mask = cap - 1, i = h & mask;
    while (keys[i]) i = (i + 1) & mask;
    keys[i] = h;
    seen[i] = when;
}

/* Rebuilds the set with room for `cap` slots, keeping entries seen at or
 * after `keep_since`. */
static int set_rebuild(tset *t, size_t cap, int64_t keep_since)
{
    uint64_t *keys = calloc(cap, sizeof *keys);
    int64_t *seen = calloc(cap, sizeof *seen);
    if (!keys || !seen) {
        free(keys);
        free(seen);
        return KILN_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->keys[i] && t->seen[i] >= keep_since) {
            set_put(keys, seen, cap, t->keys[i], t->seen[i]);
            n++;
        }
    free(t->keys);
    free(t->seen);
    t->keys = keys;
    t->seen = seen;
    t->cap = cap;
    t->n = n;
    return KILN_OK;
}

static void set_del(tset *t, size_t i)
{
    size_t mask = t->cap - 1, j = i;
    t->keys[i] = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->keys[j]) break;
        size_t k = t->keys[j] & mask;
        /* stays if its home slot k lies cyclically in (i, j] */
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        t->keys[i] = t->keys[j];
        t->seen[i] = t->seen[j];
        t->keys[j] = 0;
        i = j;
    }
    t->n--;
}

int kiln_troute_series_admit(kiln_troute_series *s, const char *tenant, uint64_t h, int64_t limit,
                             int64_t now, int *added)
{
    *added = 0;
    h = norm(h);
    pthread_mutex_lock(&s->mu);
    int rc = 1;
    tset *t = get_tenant(s, tenant);
    if (!t) {
        rc = -1;
        goto out;
    }
    size_t i = set_find(t, h);
    if (i != (size_t)-1) {
        t->seen[i] = now;
        goto out;
    }
    if ((int64_t)t->n >= limit) {
        if (now - t->last_sweep >= SWEEP_EVERY_NS && t->cap) {
            t->last_sweep = now;
            if (set_rebuild(t, t->cap, now - s->idle) != KILN_OK) {
                rc = -1;
                goto out;
            }
        }
        if ((int64_t)t->n >= limit) {
            rc = 0;
            goto out;
        }
    }
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        if (set_rebuild(t, cap, INT64_MIN) != KILN_OK) {
            rc = -1;
            goto out;
        }
    }
    set_put(t->keys, t->seen, t->cap, h, now);
    t->n++;
    *added = 1;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void kiln_troute_series_forget(kiln_troute_series *s, const char *tenant, uint64_t h)
{
    h = norm(h);
    pthread_mutex_lock(&s->mu);
    tset *t = find_tenant(s, tenant, hash_str(tenant));
    if (t) {
        size_t i = set_find(t, h);
        if (i != (size_t)-1) set_del(t, i);
    }
    pthread_mutex_unlock(&s->mu);
}

size_t kiln_troute_series_count(kiln_troute_series *s, const char *tenant)
{
    pthread_mutex_lock(&s->mu);
    tset *t = find_tenant(s, tenant, hash_str(tenant));
    size_t n = t ? t->n : 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t kiln_troute_series_tenants(kiln_troute_series *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_tenants;
    pthread_mutex_unlock(&s->mu);
    return n;
}
