/* pipeline/batch.c — batches and profiles (see include/kiln/profile.h).
 *
 * A batch owns its profiles array; each profile owns its tenant string and
 * labels and one reference to its payload. */
#include <kiln/profile.h>

#include <stdlib.h>
#include <string.h>

kiln_batch *kiln_batch_new(size_t cap_hint)
{
    kiln_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    if (cap_hint) {
        b->v = calloc(cap_hint, sizeof *b->v);
        if (!b->v) {
            free(b);
            return NULL;
        }
        b->cap = cap_hint;
    }
    return b;
}

kiln_batch *kiln_batch_ref(kiln_batch *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

static void profile_free(kiln_profile *p)
{
    free(p->tenant);
    kiln_labels_free(&p->labels);
    kiln_payload_unref(p->payload);
    memset(p, 0, sizeof *p);
}

void kiln_batch_unref(kiln_batch *b)
{
    if (!b) return;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < b->n; i++) profile_free(&b->v[i]);
    free(b->v);
    free(b);
}

kiln_profile *kiln_batch_add(kiln_batch *b)
{
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4;
        kiln_profile *nv = realloc(b->v, nc * sizeof *nv);
        if (!nv) return NULL;
        b->v = nv;
        b->cap = nc;
    }
    kiln_profile *p = &b->v[b->n++];
    memset(p, 0, sizeof *p);
    return p;
}

kiln_batch *kiln_batch_clone(const kiln_batch *b)
{
    kiln_batch *c = kiln_batch_new(b->n);
    if (!c) return NULL;
    for (size_t i = 0; i < b->n; i++) {
        const kiln_profile *s = &b->v[i];
        if (s->flags & KILN_PROFILE_DROPPED) continue;
        kiln_profile *d = kiln_batch_add(c);
        d->time_ns = s->time_ns;
        d->duration_ns = s->duration_ns;
        d->sample_rate = s->sample_rate;
        d->flags = s->flags;
        d->route_mask = s->route_mask;
        d->tenant = s->tenant ? strdup(s->tenant) : NULL;
        if ((s->tenant && !d->tenant) || kiln_labels_copy(&d->labels, &s->labels) != KILN_OK) {
            kiln_batch_unref(c);
            return NULL;
        }
        d->payload = s->payload ? kiln_payload_ref(s->payload) : NULL;
    }
    return c;
}

void kiln_profile_drop(kiln_profile *p, const char *reason)
{
    p->flags |= KILN_PROFILE_DROPPED;
    p->drop_reason = reason;
}

size_t kiln_batch_live(const kiln_batch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!(b->v[i].flags & KILN_PROFILE_DROPPED)) n++;
    return n;
}

int kiln_profile_set_tenant(kiln_profile *p, const char *tenant)
{
    char *t = strdup(tenant);
    if (!t) return KILN_ENOMEM;
    free(p->tenant);
    p->tenant = t;
    return KILN_OK;
}

void kiln_batch_compact(kiln_batch *b)
{
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->v[i].flags & KILN_PROFILE_DROPPED) {
            profile_free(&b->v[i]);
            continue;
        }
        if (w != i) b->v[w] = b->v[i];
        w++;
    }
    b->n = w;
}

kiln_batch *kiln_batch_subset(const kiln_batch *b, uint64_t bit)
{
    kiln_batch *c = kiln_batch_new(b->n);
    if (!c) return NULL;
    for (size_t i = 0; i < b->n; i++) {
        const kiln_profile *s = &b->v[i];
        if ((s->flags & KILN_PROFILE_DROPPED) || (s->route_mask && !(s->route_mask & bit))) continue;
        kiln_profile *d = kiln_batch_add(c);
        *d = *s;
        d->tenant = s->tenant ? strdup(s->tenant) : NULL;
        memset(&d->labels, 0, sizeof d->labels);
        if ((s->tenant && !d->tenant) || kiln_labels_copy(&d->labels, &s->labels) != KILN_OK) {
            d->payload = NULL;
            kiln_batch_unref(c);
            return NULL;
        }
        d->payload = s->payload ? kiln_payload_ref(s->payload) : NULL;
    }
    return c;
}
