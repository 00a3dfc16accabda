/* processors/sampling/sampling_limiter.c — token buckets per key (a tenant or
 * a series), bounded in memory by evicting the least recently used key.
 *
 * The keys are 64-bit hashes. They are spread over up to 16 shards (by the
 * key's top bits), each with its own mutex, a fixed array of entries, a
 * chained hash index and an LRU list, all allocated at creation: a limiter
 * never allocates after kiln_sampling_limiter_new. With one shard
 * (max_tracked < 512) the LRU order is exact; with several it is exact
 * within each shard.
 *
 * A bucket refills continuously at `rate` tokens per second up to `burst`
 * (as golang.org/x/time/rate, which Pyroscope's distributor uses): a take
 * of n tokens succeeds when the bucket holds n, so a single profile larger
 * than the byte burst can never pass.
 *
 * Memory: the limiter owns its shards; nothing is handed out.
 */
#include "sampling.h"

#include <stdlib.h>
#include <string.h>

typedef struct lim_entry {
    uint64_t key;
    double tp, tb;   /* tokens: profiles, bytes */
    int64_t last_ns; /* when the tokens were last brought up to date */
    int32_t prev, next; /* LRU list: prev is more recent */
    int32_t chain;      /* next entry in the same hash slot */
} lim_entry;

typedef struct lim_shard {
    pthread_mutex_t mu;
    lim_entry *e;
    int32_t *slots; /* nslots heads, -1 = empty */
    size_t nslots;
    size_t cap, n;
    int32_t mru, lru;
} lim_shard;

struct kiln_sampling_limiter {
    double prate, pburst, brate, bburst;
    size_t nshards;
    lim_shard shard[16];
};

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

kiln_sampling_limiter *kiln_sampling_limiter_new(size_t max_tracked, double profiles_rate,
                                                 double profiles_burst, double bytes_rate,
                                                 double bytes_burst)
{
    if (max_tracked < 1) max_tracked = 1;
    kiln_sampling_limiter *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->prate = profiles_rate;
    l->pburst = profiles_burst;
    l->brate = bytes_rate;
    l->bburst = bytes_burst;
    size_t ns = max_tracked / 256;
    if (ns < 1) ns = 1;
    if (ns > 16) ns = 16;
    l->nshards = ns;
    for (size_t i = 0; i < ns; i++) {
        lim_shard *s = &l->shard[i];
        s->cap = max_tracked / ns + (i < max_tracked % ns ? 1 : 0);
        s->nslots = pow2_at_least(s->cap * 2);
        s->e = calloc(s->cap, sizeof *s->e);
        s->slots = malloc(s->nslots * sizeof *s->slots);
        pthread_mutex_init(&s->mu, NULL);
        s->mru = s->lru = -1;
        if (!s->e || !s->slots) {
            l->nshards = i + 1;
            kiln_sampling_limiter_free(l);
            return NULL;
        }
        for (size_t j = 0; j < s->nslots; j++) s->slots[j] = -1;
    }
    return l;
}

void kiln_sampling_limiter_free(kiln_sampling_limiter *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->nshards; i++) {
        free(l->shard[i].e);
        free(l->shard[i].slots);
        pthread_mutex_destroy(&l->shard[i].mu);
    }
    free(l);
}

static lim_shard *shard_of(kiln_sampling_limiter *l, uint64_t key)
{
    return &l->shard[(key >> 56) % l->nshards];
}

static size_t slot_of(const lim_shard *s, uint64_t key) { return (size_t)(key & (s->nslots - 1)); }

static int32_t find(lim_shard *s, uint64_t key)
{
    for (int32_t i = s->slots[slot_of(s, key)]; i >= 0; i = s->e[i].chain)
        if (s->e[i].key == key) return i;
    return -1;
}

static void lru_unlink(lim_shard *s, int32_t i)
{
    lim_entry *e = &s->e[i];
    if (e->prev >= 0)
        s->e[e->prev].next = e->next;
    else
        s->mru = e->next;
    if (e->next >= 0)
        s->e[e->next].prev = e->prev;
    else
        s->lru = e->prev;
    e->prev = e->next = -1;
}

static void lru_push_front(lim_shard *s, int32_t i)
{
    lim_entry *e = &s->e[i];
    e->prev = -1;
    e->next = s->mru;
    if (s->mru >= 0) s->e[s->mru].prev = i;
    s->mru = i;
    if (s->lru < 0) s->lru = i;
}

static void chain_unlink(lim_shard *s, int32_t i)
{
    int32_t *pp = &s->slots[slot_of(s, s->e[i].key)];
    while (*pp >= 0 && *pp != i) pp = &s->e[*pp].chain;
    if (*pp == i) *pp = s->e[i].chain;
}

/* The entry of `key`, made (evicting the LRU key if full) when missing. */
static int32_t get(kiln_sampling_limiter *l, lim_shard *s, uint64_t key, int64_t now)
{
    int32_t i = find(s, key);
    if (i >= 0) {
        if (s->mru != i) {
            lru_unlink(s, i);
            lru_push_front(s, i);
        }
        return i;
    }
    if (s->n < s->cap) {
        i = (int32_t)s->n++;
    } else {
        i = s->lru;
        lru_unlink(s, i);
        chain_unlink(s, i);
    }
    lim_entry *e = &s->e[i];
    e->key = key;
    e->tp = l->pburst;
    e->tb = l->bburst;
    e->last_ns = now;
    size_t sl = slot_of(s, key);
    e->chain = s->slots[sl];
    s->slots[sl] = i;
    lru_push_front(s, i);
    return i;
}

static void refill(const kiln_sampling_limiter *l, lim_entry *e, int64_t now)
{
    if (now <= e->last_ns) return; /* the clock never runs back for a bucket */
    double secs = (double)(now - e->last_ns) / 1e9;
    if (l->prate > 0) {
        e->tp += secs * l->prate;
        if (e->tp > l->pburst) e->tp = l->pburst;
    }
    if (l->brate > 0) {
        e->tb += secs * l->brate;
        if (e->tb > l->bburst) e->tb = l->bburst;
    }
    e->last_ns = now;
}

int kiln_sampling_limiter_take(kiln_sampling_limiter *l, uint64_t key, uint64_t bytes,
                               int64_t now_ns, int *over)
{
    lim_shard *s = shard_of(l, key);
    pthread_mutex_lock(&s->mu);
    int32_t i = get(l, s, key, now_ns);
    lim_entry *e = &s->e[i];
    refill(l, e, now_ns);
    int ok = 1;
    if (l->prate > 0 && e->tp < 1.0) {
        ok = 0;
        if (over) *over = KILN_SAMPLING_OVER_PROFILES;
    } else if (l->brate > 0 && e->tb < (double)bytes) {
        ok = 0;
        if (over) *over = KILN_SAMPLING_OVER_BYTES;
    }
    if (ok) {
        if (l->prate > 0) e->tp -= 1.0;
        if (l->brate > 0) e->tb -= (double)bytes;
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void kiln_sampling_limiter_refund(kiln_sampling_limiter *l, uint64_t key, uint64_t bytes)
{
    lim_shard *s = shard_of(l, key);
    pthread_mutex_lock(&s->mu);
    int32_t i = find(s, key);
    if (i >= 0) {
        lim_entry *e = &s->e[i];
        if (l->prate > 0) {
            e->tp += 1.0;
            if (e->tp > l->pburst) e->tp = l->pburst;
        }
        if (l->brate > 0) {
            e->tb += (double)bytes;
            if (e->tb > l->bburst) e->tb = l->bburst;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

size_t kiln_sampling_limiter_tracked(kiln_sampling_limiter *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->nshards; i++) {
        pthread_mutex_lock(&l->shard[i].mu);
        n += l->shard[i].n;
        pthread_mutex_unlock(&l->shard[i].mu);
    }
    return n;
}
