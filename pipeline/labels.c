/* pipeline/labels.c — sorted label sets (see include/kiln/labels.h).
 *
 * Each label owns two malloc'ed strings; the array is kept sorted by name
 * with binary search, so sets of a few dozen labels stay cheap to edit. */
#include <kiln/labels.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kiln_labels_free(kiln_labels *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        free(ls->v[i].name);
        free(ls->v[i].value);
    }
    free(ls->v);
    ls->v = NULL;
    ls->n = ls->cap = 0;
}

/* Index of `name` or, if absent, -(insertion point) - 1. */
static long find(const kiln_labels *ls, const char *name, size_t name_len)
{
    size_t lo = 0, hi = ls->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *m = ls->v[mid].name;
        int c = strncmp(m, name, name_len);
        if (c == 0 && m[name_len] != 0) c = 1;
        if (c == 0) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -(long)lo - 1;
}

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

int kiln_labels_setn(kiln_labels *ls, const char *name, size_t name_len, const char *value,
                     size_t value_len)
{
    long i = find(ls, name, name_len);
    char *v = dupn(value, value_len);
    if (!v) return KILN_ENOMEM;
    if (i >= 0) {
        free(ls->v[i].value);
        ls->v[i].value = v;
        return KILN_OK;
    }
    size_t at = (size_t)(-i - 1);
    if (ls->n == ls->cap) {
        size_t nc = ls->cap ? ls->cap * 2 : 8;
        kiln_label *nv = realloc(ls->v, nc * sizeof *nv);
        if (!nv) {
            free(v);
            return KILN_ENOMEM;
        }
        ls->v = nv;
        ls->cap = nc;
    }
    char *n = dupn(name, name_len);
    if (!n) {
        free(v);
        return KILN_ENOMEM;
    }
    memmove(&ls->v[at + 1], &ls->v[at], (ls->n - at) * sizeof *ls->v);
    ls->v[at].name = n;
    ls->v[at].value = v;
    ls->n++;
    return KILN_OK;
}

int kiln_labels_set(kiln_labels *ls, const char *name, const char *value)
{
    return kiln_labels_setn(ls, name, strlen(name), value, strlen(value));
}

const char *kiln_labels_get(const kiln_labels *ls, const char *name)
{
    long i = find(ls, name, strlen(name));
    return i >= 0 ? ls->v[i].value : NULL;
}

int kiln_labels_del(kiln_labels *ls, const char *name)
{
    long i = find(ls, name, strlen(name));
    if (i < 0) return 0;
    free(ls->v[i].name);
    free(ls->v[i].value);
    memmove(&ls->v[i], &ls->v[i + 1], (ls->n - (size_t)i - 1) * sizeof *ls->v);
    ls->n--;
    return 1;
}

int kiln_labels_copy(kiln_labels *dst, const kiln_labels *src)
{
    kiln_labels out = KILN_LABELS_INIT;
    if (src->n) {
        out.v = calloc(src->n, sizeof *out.v);
        if (!out.v) return KILN_ENOMEM;
        out.cap = src->n;
        for (size_t i = 0; i < src->n; i++) {
            out.v[i].name = strdup(src->v[i].name);
            out.v[i].value = strdup(src->v[i].value);
            out.n = i + 1;
            if (!out.v[i].name || !out.v[i].value) {
                kiln_labels_free(&out);
                return KILN_ENOMEM;
            }
        }
    }
    kiln_labels_free(dst);
    *dst = out;
    return KILN_OK;
}

/* FNV-1a over 64 bits, with a 0xff separator between fields: stable and
 * endian-independent, which is what sampling and sharding decisions need. */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    h ^= 0xff;
    h *= 0x100000001b3ULL;
    return h;
}

uint64_t kiln_labels_hash(const kiln_labels *ls, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < ls->n; i++) {
        h = fnv(h, ls->v[i].name);
        h = fnv(h, ls->v[i].value);
    }
    /* final avalanche (splitmix64) so low bits are usable for modulo */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

size_t kiln_labels_format(const kiln_labels *ls, char *buf, size_t cap)
{
    size_t n = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (n + 1 < cap) buf[n] = (c);                                                             \
        n++;                                                                                       \
    } while (0)
    PUT('{');
    for (size_t i = 0; i < ls->n; i++) {
        if (i) {
            PUT(',');
            PUT(' ');
        }
        for (const char *p = ls->v[i].name; *p; p++) PUT(*p);
        PUT('=');
        PUT('"');
        for (const char *p = ls->v[i].value; *p; p++) {
            if (*p == '"' || *p == '\\') PUT('\\');
            if (*p == '\n') {
                PUT('\\');
                PUT('n');
                continue;
            }
            PUT(*p);
        }
        PUT('"');
    }
    PUT('}');
#undef PUT
    if (cap) buf[n < cap ? n : cap - 1] = 0;
    return n;
}

int kiln_labels_equal(const kiln_labels *a, const kiln_labels *b)
{
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].name, b->v[i].name) || strcmp(a->v[i].value, b->v[i].value)) return 0;
    return 1;
}
