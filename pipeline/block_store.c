/* pipeline/block_store.c — the store around the blocks: block ids (ULIDs),
 * tenant escaping and object keys, opening the configured object store,
 * listing a tenant's blocks with the visibility rule of compaction
 * (FORMAT.md, "Which blocks a reader uses"), listing tenants, deleting a
 * block.
 *
 * Memory: a kiln_blocks_list owns its metas and flags
 * (kiln_blocks_list_free); tenant lists are malloc'ed strings
 * (kiln_blocks_strv_free).
 */
#include "block_internal.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>
#include <pthread.h>
#include <time.h>

#include <kiln/kiln.h>

void kb_crash_point(const char *name)
{
    const char *want = getenv("KILN_BLOCKS_CRASH_POINT");
    if (!want || strcmp(want, name) != 0) return;
    fprintf(stderr, "kiln: crash point %s reached\n", name);
    fflush(stderr);
    struct timespec ts = {5, 0};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---- ids ------------------------------------------------------------------- */

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int kiln_block_id_new(int64_t unix_ns, char *buf, kiln_err *err)
{
    uint8_t rnd[10];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t r = getrandom(rnd + got, sizeof rnd - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return kiln_err_set(err, KILN_ERR, "getrandom: %s", strerror(errno));
        }
        got += (size_t)r;
    }
    uint64_t ms = unix_ns > 0 ? (uint64_t)unix_ns / 1000000u : 0;
    ms &= (1ULL << 48) - 1;
    for (int i = 9; i >= 0; i--) {
        buf[i] = crockford[ms & 31];
        ms >>= 5;
    }
    /* 80 random bits, 5 at a time */
    for (int i = 0; i < 16; i++) {
        int bit = i * 5, v = 0;
        for (int k = 0; k < 5; k++, bit++) v = v << 1 | ((rnd[bit / 8] >> (7 - bit % 8)) & 1);
        buf[10 + i] = crockford[v];
    }
    buf[KILN_BLOCK_ID_LEN] = 0;
    return KILN_OK;
}

static int crock_val(char c)
{
    const char *p = c ? strchr(crockford, c) : NULL;
    return p ? (int)(p - crockford) : -1;
}

int kiln_block_id_parse(const char *s, int64_t *unix_ms)
{
    if (!s || strlen(s) != KILN_BLOCK_ID_LEN) return 0;
    uint64_t ms = 0;
    for (int i = 0; i < KILN_BLOCK_ID_LEN; i++) {
        int v = crock_val(s[i]);
        if (v < 0) return 0;
        if (i == 0 && v > 7) return 0;
        if (i < 10) ms = ms << 5 | (uint64_t)v;
    }
    if (unix_ms) *unix_ms = (int64_t)ms;
    return 1;
}

/* ---- tenants and keys ----------------------------------------------------------- */

static int plain(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

size_t kiln_blocks_tenant_escape(const char *t, char *buf, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
#define OUT(c)                                                                                     \
    do {                                                                                           \
        if (n + 1 < cap) buf[n] = (c);                                                             \
        n++;                                                                                       \
    } while (0)
    for (size_t i = 0; t[i]; i++) {
        unsigned char c = (unsigned char)t[i];
        if (plain(c) && !(i == 0 && c == '.')) {
            OUT((char)c);
        } else {
            OUT('%');
            OUT(hex[c >> 4]);
            OUT(hex[c & 15]);
        }
    }
#undef OUT
    if (cap) buf[n < cap ? n : cap - 1] = 0;
    return n;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int kiln_blocks_tenant_unescape(const char *e, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; e[i]; i++) {
        char c = e[i];
        if (c == '%') {
            int a = hexv(e[i + 1]), b = a >= 0 ? hexv(e[i + 2]) : -1;
            if (a < 0 || b < 0 || (a == 0 && b == 0)) return -1;
            c = (char)(a << 4 | b);
            i += 2;
        } else if (!plain((unsigned char)c) || (i == 0 && c == '.')) {
            return -1;
        }
        if (n + 1 >= cap) return -1;
        buf[n++] = c;
    }
    if (!cap) return -1;
    buf[n] = 0;
    return n ? 0 : -1;
}

int kiln_block_key(const char *tenant, const char *id, const char *name, char *buf, size_t cap)
{
    char esc[3 * KILN_TENANT_MAX + 8];
    size_t n = kiln_blocks_tenant_escape(tenant, esc, sizeof esc);
    if (n >= sizeof esc) return KILN_EINVAL;
    int w = snprintf(buf, cap, "%s/%s/%s", esc, id, name);
    return w < 0 || (size_t)w >= cap ? KILN_EINVAL : KILN_OK;
}

/* ---- opening the store ---------------------------------------------------------------- */

int kiln_blocks_storage_check(const kiln_blocks_storage *s, kiln_err *err)
{
    if (s->backend == KILN_BLOCKS_BACKEND_S3) {
        if (!s->s3_bucket || !*s->s3_bucket)
            return kiln_err_set(err, KILN_EINVAL, "storage.s3.bucket is required with backend s3");
    } else if (!s->fs_directory || !*s->fs_directory) {
        return kiln_err_set(err, KILN_EINVAL, "storage.filesystem.directory must not be empty");
    }
    return KILN_OK;
}

static const char *nz(const char *s) { return s && *s ? s : NULL; }

int kiln_blocks_storage_open(const kiln_blocks_storage *s, kiln_objstore **out, kiln_err *err)
{
    int rc = kiln_blocks_storage_check(s, err);
    if (rc != KILN_OK) return rc;
    if (s->backend == KILN_BLOCKS_BACKEND_S3) {
        kiln_s3_config c;
        memset(&c, 0, sizeof c);
        c.endpoint = nz(s->s3_endpoint);
        c.bucket = s->s3_bucket;
        c.region = nz(s->s3_region);
        c.access_key_id = nz(s->s3_access_key_id);
        c.secret_access_key = nz(s->s3_secret_access_key);
        c.session_token = nz(s->s3_session_token);
        c.force_path_style = s->s3_force_path_style;
        c.prefix = nz(s->s3_prefix);
        c.part_size = s->s3_part_size;
        c.insecure_skip_verify = s->s3_insecure_skip_verify;
        return kiln_objstore_open_s3(&c, out, err);
    }
    return kiln_objstore_open_fs(s->fs_directory, out, err);
}

/* ---- listing ---------------------------------------------------------------------------- */

typedef struct keyv {
    char **v;
    size_t n, cap;
} keyv;

static int keyv_add(keyv *k, const char *s)
{
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 64;
        char **nv = realloc(k->v, nc * sizeof *nv);
        if (!nv) return -1;
        k->v = nv;
        k->cap = nc;
    }
    k->v[k->n] = strdup(s);
    if (!k->v[k->n]) return -1;
    k->n++;
    return 0;
}

static int collect_meta(const char *key, uint64_t size, void *arg)
{
    size_t l = strlen(key);
    if (l < 10 || strcmp(key + l - 10, "/meta.json") != 0) return 0;
    return keyv_add(arg, key) ? KILN_ENOMEM : 0;
}

static int cmp_id(const void *a, const void *b) { return strcmp(*(const kiln_block_id *)a, *(const kiln_block_id *)b); }

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const kiln_block_meta *)a)->id, ((const kiln_block_meta *)b)->id);
}

void kiln_blocks_list_free(kiln_blocks_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) kiln_block_meta_free(&l->v[i]);
    free(l->v);
    free(l->visible);
    memset(l, 0, sizeof *l);
}

static int has_id(const kiln_block_meta *m, const char *id)
{
    return bsearch(id, m->sources, m->n_sources, sizeof *m->sources, cmp_id) != NULL;
}

/* 1 if b holds everything a holds and wins the tie rule. */
static int supersedes(const kiln_block_meta *b, const kiln_block_meta *a)
{
    if (b->n_sources < a->n_sources) return 0;
    for (size_t i = 0; i < a->n_sources; i++)
        if (!has_id(b, a->sources[i])) return 0;
    if (b->n_sources != a->n_sources) return 1;
    if (b->level != a->level) return b->level > a->level;
    return strcmp(b->id, a->id) > 0;
}

void kiln_blocks_list_visibility(kiln_blocks_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].n_sources > 1) qsort(l->v[i].sources, l->v[i].n_sources, sizeof *l->v[i].sources, cmp_id);
    for (size_t i = 0; i < l->n; i++) {
        l->visible[i] = 1;
        for (size_t j = 0; j < l->n && l->visible[i]; j++)
            if (j != i && l->v[i].n_sources && supersedes(&l->v[j], &l->v[i])) l->visible[i] = 0;
    }
}

int kiln_blocks_list_covers(const kiln_blocks_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->visible[i] && has_id(&l->v[i], id)) return 1;
    return 0;
}

/* ---- the meta cache ------------------------------------------------------------------ */

typedef struct mc_ent {
    char *key;
    kiln_block_meta m;
} mc_ent;

struct kiln_blocks_meta_cache {
    pthread_mutex_t mu;
    mc_ent *v; /* sorted by key */
    size_t n, cap;
};

kiln_blocks_meta_cache *kiln_blocks_meta_cache_new(void)
{
    kiln_blocks_meta_cache *c = calloc(1, sizeof *c);
    if (c) pthread_mutex_init(&c->mu, NULL);
    return c;
}

void kiln_blocks_meta_cache_free(kiln_blocks_meta_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].key);
        kiln_block_meta_free(&c->v[i].m);
    }
    free(c->v);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static size_t mc_lower(const kiln_blocks_meta_cache *c, const char *key)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(c->v[mid].key, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Copies the cached meta of key into *m: 1 if cached. */
static int mc_get(kiln_blocks_meta_cache *c, const char *key, kiln_block_meta *m)
{
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    size_t i = mc_lower(c, key);
    if (i < c->n && !strcmp(c->v[i].key, key)) {
        kiln_err e;
        hit = kiln_block_meta_copy(m, &c->v[i].m, &e) == KILN_OK;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void mc_put(kiln_blocks_meta_cache *c, const char *key, const kiln_block_meta *m)
{
    pthread_mutex_lock(&c->mu);
    size_t i = mc_lower(c, key);
    if (!(i < c->n && !strcmp(c->v[i].key, key))) {
        if (c->n == c->cap) {
            size_t nc = c->cap ? c->cap * 2 : 64;
            mc_ent *nv = realloc(c->v, nc * sizeof *nv);
            if (!nv) goto out;
            c->v = nv;
            c->cap = nc;
        }
        mc_ent e;
        kiln_err er;
        e.key = strdup(key);
        if (!e.key || kiln_block_meta_copy(&e.m, m, &er) != KILN_OK) {
            free(e.key);
            goto out;
        }
        memmove(c->v + i + 1, c->v + i, (c->n - i) * sizeof *c->v);
        c->v[i] = e;
        c->n++;
    }
out:
    pthread_mutex_unlock(&c->mu);
}

/* Forgets the cached keys under prefix that the listing no longer has. */
static void mc_prune(kiln_blocks_meta_cache *c, const char *prefix, char *const *keys, size_t nk)
{
    size_t pl = strlen(prefix);
    pthread_mutex_lock(&c->mu);
    size_t i = mc_lower(c, prefix), w = i;
    size_t k = 0;
    for (; i < c->n && !strncmp(c->v[i].key, prefix, pl); i++) {
        while (k < nk && strcmp(keys[k], c->v[i].key) < 0) k++;
        if (k < nk && !strcmp(keys[k], c->v[i].key)) {
            c->v[w++] = c->v[i];
        } else {
            free(c->v[i].key);
            kiln_block_meta_free(&c->v[i].m);
        }
    }
    if (c->n > i) memmove(c->v + w, c->v + i, (c->n - i) * sizeof *c->v);
    c->n -= i - w;
    pthread_mutex_unlock(&c->mu);
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kiln_blocks_list_tenant(kiln_objstore *os, const char *tenant, kiln_blocks_list *out,
                            kiln_blocks_bad_fn on_bad, void *arg, kiln_err *err)
{
    return kiln_blocks_list_tenant_cached(os, tenant, NULL, out, on_bad, arg, err);
}

int kiln_blocks_list_tenant_cached(kiln_objstore *os, const char *tenant, kiln_blocks_meta_cache *cache,
                                   kiln_blocks_list *out, kiln_blocks_bad_fn on_bad, void *arg,
                                   kiln_err *err)
{
    memset(out, 0, sizeof *out);
    char prefix[3 * KILN_TENANT_MAX + 8];
    size_t pl = kiln_blocks_tenant_escape(tenant, prefix, sizeof prefix - 1);
    if (pl + 1 >= sizeof prefix) return kiln_err_set(err, KILN_EINVAL, "tenant too long");
    prefix[pl] = '/';
    prefix[pl + 1] = 0;
    keyv keys = {0};
    int rc = kiln_objstore_list(os, prefix, collect_meta, &keys, err);
    if (rc != KILN_OK) goto done;
    if (keys.n > 1) qsort(keys.v, keys.n, sizeof *keys.v, cmp_strp);
    if (cache) mc_prune(cache, prefix, keys.v, keys.n);
    out->v = calloc(keys.n ? keys.n : 1, sizeof *out->v);
    out->visible = calloc(keys.n ? keys.n : 1, 1);
    if (!out->v || !out->visible) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < keys.n; i++) {
        kiln_block_meta *m = &out->v[out->n];
        if (cache && mc_get(cache, keys.v[i], m)) {
            out->n++;
            continue;
        }
        uint8_t *data = NULL;
        size_t len = 0;
        kiln_err e;
        kiln_err_clear(&e);
        int r = kiln_objstore_get(os, keys.v[i], &data, &len, &e);
        if (r == KILN_ENOTFOUND) continue; /* deleted since the listing */
        if (r != KILN_OK && e.retriable) {
            rc = r;
            *err = e;
            goto done;
        }
        if (r == KILN_OK) r = kiln_block_meta_decode(data, len, m, &e);
        free(data);
        if (r == KILN_OK) {
            /* the meta must describe the block it sits in */
            const char *dir = keys.v[i] + pl + 1;
            if (strncmp(dir, m->id, KILN_BLOCK_ID_LEN) != 0 || dir[KILN_BLOCK_ID_LEN] != '/' ||
                strcmp(m->tenant, tenant) != 0) {
                r = kiln_err_set(&e, KILN_EINVAL, "meta.json describes block %s of tenant %s",
                                 m->id, m->tenant);
                kiln_block_meta_free(m);
            }
        }
        if (r != KILN_OK) {
            out->n_bad++;
            if (on_bad) on_bad(keys.v[i], &e, arg);
            continue;
        }
        if (cache) mc_put(cache, keys.v[i], m);
        out->n++;
    }
    if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, cmp_meta);
    kiln_blocks_list_visibility(out);
done:
    for (size_t i = 0; i < keys.n; i++) free(keys.v[i]);
    free(keys.v);
    if (rc != KILN_OK) kiln_blocks_list_free(out);
    return rc;
}

typedef struct tenant_acc {
    keyv k;
} tenant_acc;

static int collect_tenant(const char *key, uint64_t size, void *arg)
{
    tenant_acc *t = arg;
    const char *slash = strchr(key, '/');
    if (!slash) return 0;
    size_t l = (size_t)(slash - key);
    char esc[3 * KILN_TENANT_MAX + 8], raw[KILN_TENANT_MAX + 8];
    if (l >= sizeof esc) return 0;
    memcpy(esc, key, l);
    esc[l] = 0;
    if (kiln_blocks_tenant_unescape(esc, raw, sizeof raw) != 0) return 0;
    /* keys come in lexical order, so one tenant's keys are contiguous */
    if (t->k.n && strcmp(t->k.v[t->k.n - 1], raw) == 0) return 0;
    return keyv_add(&t->k, raw) ? KILN_ENOMEM : 0;
}


int kiln_blocks_tenants(kiln_objstore *os, char ***out, size_t *n, kiln_err *err)
{
    tenant_acc t = {{0}};
    int rc = kiln_objstore_list(os, "", collect_tenant, &t, err);
    if (rc != KILN_OK) {
        kiln_blocks_strv_free(t.k.v, t.k.n);
        return rc;
    }
    if (t.k.n > 1) qsort(t.k.v, t.k.n, sizeof *t.k.v, cmp_strp);
    *out = t.k.v;
    *n = t.k.n;
    return KILN_OK;
}

void kiln_blocks_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

int kiln_blocks_delete(kiln_objstore *os, const char *tenant, const char *id, kiln_err *err)
{
    char key[1024];
    static const char *const order[] = {"meta.json", "index.bin", "symbols.bin", "samples.bin"};
    for (size_t i = 0; i < 4; i++) {
        if (kiln_block_key(tenant, id, order[i], key, sizeof key) != KILN_OK)
            return kiln_err_set(err, KILN_EINVAL, "block key too long");
        int rc = kiln_objstore_delete(os, key, err);
        if (rc != KILN_OK && rc != KILN_ENOTFOUND) {
            kiln_err_prefix(err, "delete %s", key);
            return rc;
        }
    }
    return KILN_OK;
}
