/* pipeline/block_head.c — the head: one tenant's block being built in
 * memory. kiln_head_append turns a decoded pprof into series profiles (one
 * series per sample type and per set of sample string labels, as Pyroscope
 * splits them), interning symbols and stacks in the head's symtab;
 * kiln_head_write_block writes the head as a block; head views answer the
 * kiln_block read API from memory.
 *
 * Locking: every entry point takes the head's mutex, except
 * kiln_head_write_block, which only reads and must not run while appends
 * do (the exporter swaps a head out before writing it).
 *
 * Memory: the head owns its symtab, an arena for series labels, and the
 * per-series arrays (malloc). A view's index points at the head's label
 * strings, so a view must be closed before its head is freed.
 */
#define _GNU_SOURCE /* qsort_r */
#include "block_internal.h"

#include <stdio.h>

#include <kiln/kiln.h>

typedef struct kb_hseries {
    uint32_t n_labels;
    const char **names, **values;
    int64_t *time, *dur;
    uint64_t *soff; /* n_prof + 1 */
    size_t n_prof, cap_prof;
    uint32_t *stack;
    int64_t *value;
    uint64_t *span; /* NULL until a sample has a span */
    size_t n_samp, cap_samp;
    int64_t min_t, max_t;
} kb_hseries;

struct kiln_head {
    pthread_mutex_t mu;
    char *tenant;
    kiln_block_id id;
    int64_t created_ns;
    kb_symtab syms;
    kiln_arena *arena;
    kb_hseries *series;
    size_t n_series, cap_series;
    kb_map series_map;
    uint64_t n_prof, n_samp;
    int64_t min_t, max_t;
    size_t arrays_bytes;
};

int kiln_head_new(const char *tenant, const char *id, int64_t created_ns, kiln_head **out,
                  kiln_err *err)
{
    kiln_head *h = calloc(1, sizeof *h);
    if (!h) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    pthread_mutex_init(&h->mu, NULL);
    h->tenant = strdup(tenant);
    h->arena = kiln_arena_new(64 * 1024);
    if (!h->tenant || !h->arena || kb_symtab_init(&h->syms) != KILN_OK) {
        kiln_head_free(h);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    if (id) {
        if (!kiln_block_id_parse(id, NULL)) {
            kiln_head_free(h);
            return kiln_err_set(err, KILN_EINVAL, "bad block id \"%s\"", id);
        }
        memcpy(h->id, id, sizeof h->id);
    } else {
        int rc = kiln_block_id_new(created_ns, h->id, err);
        if (rc != KILN_OK) {
            kiln_head_free(h);
            return rc;
        }
    }
    h->created_ns = created_ns;
    *out = h;
    return KILN_OK;
}

void kiln_head_free(kiln_head *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->n_series; i++) {
        kb_hseries *s = &h->series[i];
        free(s->time);
        free(s->dur);
        free(s->soff);
        free(s->stack);
        free(s->value);
        free(s->span);
    }
    free(h->series);
    kb_map_free(&h->series_map);
    if (h->syms.arena) kb_symtab_free(&h->syms);
    kiln_arena_destroy(h->arena);
    free(h->tenant);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

const char *kiln_head_id(const kiln_head *h) { return h->id; }
const char *kiln_head_tenant(const kiln_head *h) { return h->tenant; }
int64_t kiln_head_created_ns(const kiln_head *h) { return h->created_ns; }

static size_t head_bytes(const kiln_head *h)
{
    return sizeof *h + h->arrays_bytes + kb_symtab_bytes(&h->syms) + kiln_arena_used(h->arena) +
           h->cap_series * sizeof *h->series + kb_map_bytes(&h->series_map);
}

void kiln_head_get_stats(kiln_head *h, kiln_head_stats *o)
{
    pthread_mutex_lock(&h->mu);
    o->n_series = h->n_series;
    o->n_profiles = h->n_prof;
    o->n_samples = h->n_samp;
    o->n_stacks = kb_sym_count(&h->syms, KB_SYM_STACKS);
    o->n_locations = kb_sym_count(&h->syms, KB_SYM_LOCATIONS);
    o->min_time_ns = h->min_t;
    o->max_time_ns = h->max_t;
    o->bytes = head_bytes(h);
    pthread_mutex_unlock(&h->mu);
}

/* ---- pprof id -> index -------------------------------------------------------------- */

typedef struct pidx {
    int dense;
    size_t n;
    uint64_t *ids; /* sorted, with idx */
    uint32_t *idx;
} pidx;

typedef struct idpair {
    uint64_t id;
    uint32_t idx;
} idpair;

static int cmp_idpair(const void *a, const void *b)
{
    const idpair *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int pidx_build(pidx *x, size_t n, uint64_t (*id_of)(const void *, size_t), const void *arr)
{
    memset(x, 0, sizeof *x);
    x->n = n;
    x->dense = 1;
    for (size_t i = 0; i < n && x->dense; i++)
        if (id_of(arr, i) != i + 1) x->dense = 0;
    if (x->dense) return 0;
    idpair *pp = malloc((n ? n : 1) * sizeof *pp);
    x->ids = malloc((n ? n : 1) * sizeof *x->ids);
    x->idx = malloc((n ? n : 1) * sizeof *x->idx);
    if (!pp || !x->ids || !x->idx) {
        free(pp);
        return -1;
    }
    for (size_t i = 0; i < n; i++) pp[i] = (idpair){id_of(arr, i), (uint32_t)i};
    if (n > 1) qsort(pp, n, sizeof *pp, cmp_idpair);
    for (size_t i = 0; i < n; i++) {
        x->ids[i] = pp[i].id;
        x->idx[i] = pp[i].idx;
    }
    free(pp);
    return 0;
}

static int64_t pidx_get(const pidx *x, uint64_t id)
{
    if (x->dense) return id >= 1 && id <= x->n ? (int64_t)(id - 1) : -1;
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x->ids[mid] == id) return x->idx[mid];
        if (x->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static void pidx_free(pidx *x)
{
    free(x->ids);
    free(x->idx);
}

static uint64_t loc_id_of(const void *a, size_t i) { return ((kiln_pprof_location *const *)a)[i]->id; }
static uint64_t fn_id_of(const void *a, size_t i) { return ((kiln_pprof_function *const *)a)[i]->id; }
static uint64_t map_id_of(const void *a, size_t i) { return ((kiln_pprof_mapping *const *)a)[i]->id; }

/* ---- translating one profile's symbols into the head ------------------------------------- */

#define UNSET UINT32_MAX

typedef struct xlate {
    kiln_head *h;
    const kiln_pprof *p;
    uint32_t *str, *map, *fn, *loc;
    pidx pl, pf, pm;
    kiln_block_line *lines;
    size_t cap_lines;
} xlate;

static uint32_t x_str(xlate *x, int64_t si)
{
    if (si <= 0 || (size_t)si >= x->p->n_string_table) return 0;
    if (x->str[si] == UNSET) {
        const char *s = x->p->string_table[si];
        x->str[si] = kb_sym_string(&x->h->syms, s, strlen(s));
    }
    return x->str[si];
}

static uint32_t x_map(xlate *x, uint64_t id)
{
    if (!id) return 0;
    int64_t i = pidx_get(&x->pm, id);
    if (i < 0) return 0;
    if (x->map[i] == UNSET) {
        const kiln_pprof_mapping *m = x->p->mapping[i];
        kb_mapping km;
        memset(&km, 0, sizeof km);
        km.start = m->memory_start;
        km.limit = m->memory_limit;
        km.offset = m->file_offset;
        km.filename = x_str(x, m->filename);
        km.build_id = x_str(x, m->build_id);
        if (km.filename == UNSET || km.build_id == UNSET) return UNSET;
        km.flags = (m->has_functions ? 1u : 0) | (m->has_filenames ? 2u : 0) |
                   (m->has_line_numbers ? 4u : 0) | (m->has_inline_frames ? 8u : 0);
        uint32_t r = kb_sym_mapping(&x->h->syms, &km);
        x->map[i] = r ? r : UNSET;
        if (!r) return UNSET;
    }
    return x->map[i];
}

static uint32_t x_fn(xlate *x, uint64_t id)
{
    int64_t i = pidx_get(&x->pf, id);
    if (i < 0) return 0;
    if (x->fn[i] == UNSET) {
        const kiln_pprof_function *f = x->p->function[i];
        kb_function kf = {x_str(x, f->name), x_str(x, f->system_name), x_str(x, f->filename),
                          f->start_line};
        if (kf.name == UNSET || kf.system_name == UNSET || kf.filename == UNSET) return UNSET;
        uint32_t r = kb_sym_function(&x->h->syms, &kf);
        x->fn[i] = r ? r : UNSET;
        if (!r) return UNSET;
    }
    return x->fn[i];
}

static uint32_t x_loc(xlate *x, uint64_t id)
{
    int64_t i = pidx_get(&x->pl, id);
    if (i < 0) return UNSET;
    if (x->loc[i] == UNSET) {
        const kiln_pprof_location *l = x->p->location[i];
        if (l->n_line > x->cap_lines) {
            kiln_block_line *nl = realloc(x->lines, l->n_line * sizeof *nl);
            if (!nl) return UNSET;
            x->lines = nl;
            x->cap_lines = l->n_line;
        }
        for (size_t j = 0; j < l->n_line; j++) {
            uint32_t f = x_fn(x, l->line[j]->function_id);
            if (f == UNSET) return UNSET;
            x->lines[j] = (kiln_block_line){f, l->line[j]->line};
        }
        uint32_t m = x_map(x, l->mapping_id);
        if (m == UNSET) return UNSET;
        uint32_t r = kb_sym_location(&x->h->syms, m, l->address, l->is_folded, x->lines,
                                     (uint32_t)l->n_line);
        x->loc[i] = r ? r : UNSET;
    }
    return x->loc[i];
}

static void xlate_free(xlate *x)
{
    free(x->str);
    free(x->map);
    free(x->fn);
    free(x->loc);
    free(x->lines);
    pidx_free(&x->pl);
    pidx_free(&x->pf);
    pidx_free(&x->pm);
}

static int xlate_init(xlate *x, kiln_head *h, const kiln_pprof *p)
{
    memset(x, 0, sizeof *x);
    x->h = h;
    x->p = p;
    x->str = malloc((p->n_string_table + 1) * sizeof *x->str);
    x->map = malloc((p->n_mapping + 1) * sizeof *x->map);
    x->fn = malloc((p->n_function + 1) * sizeof *x->fn);
    x->loc = malloc((p->n_location + 1) * sizeof *x->loc);
    if (!x->str || !x->map || !x->fn || !x->loc ||
        pidx_build(&x->pl, p->n_location, loc_id_of, p->location) ||
        pidx_build(&x->pf, p->n_function, fn_id_of, p->function) ||
        pidx_build(&x->pm, p->n_mapping, map_id_of, p->mapping))
        return -1;
    memset(x->str, 0xff, (p->n_string_table + 1) * sizeof *x->str);
    memset(x->map, 0xff, (p->n_mapping + 1) * sizeof *x->map);
    memset(x->fn, 0xff, (p->n_function + 1) * sizeof *x->fn);
    memset(x->loc, 0xff, (p->n_location + 1) * sizeof *x->loc);
    return 0;
}

/* ---- series --------------------------------------------------------------------------------- */

typedef struct lpair {
    const char *name, *value;
} lpair;

static int cmp_lpair(const void *a, const void *b)
{
    const lpair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

typedef struct series_key {
    const kiln_head *h;
    const lpair *v;
    size_t n;
} series_key;

static int series_eq(const void *ctx, uint32_t id)
{
    const series_key *k = ctx;
    const kb_hseries *s = &k->h->series[id - 1];
    if (s->n_labels != k->n) return 0;
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(s->names[i], k->v[i].name) || strcmp(s->values[i], k->v[i].value)) return 0;
    return 1;
}

static uint32_t pairs_hash(const lpair *v, size_t n)
{
    uint64_t h = 0x1234;
    for (size_t i = 0; i < n; i++) {
        h = kb_hash_bytes(v[i].name, strlen(v[i].name), h);
        h = kb_hash_bytes(v[i].value, strlen(v[i].value), h ^ 0xff);
    }
    return (uint32_t)h;
}

/* The series with exactly these labels (sorted, unique names), created if
 * needed; returns its index or -1 when out of memory. */
static int64_t series_get(kiln_head *h, const lpair *v, size_t n)
{
    uint32_t hh = pairs_hash(v, n);
    series_key k = {h, v, n};
    size_t slot;
    uint32_t id = kb_map_find(&h->series_map, hh, series_eq, &k, &slot);
    if (id) return id - 1;
    if (h->n_series == h->cap_series) {
        size_t nc = h->cap_series ? h->cap_series * 2 : 64;
        kb_hseries *ns = realloc(h->series, nc * sizeof *ns);
        if (!ns) return -1;
        h->series = ns;
        h->cap_series = nc;
    }
    kb_hseries *s = &h->series[h->n_series];
    memset(s, 0, sizeof *s);
    s->n_labels = (uint32_t)n;
    s->names = kiln_arena_alloc(h->arena, (n + 1) * sizeof *s->names);
    s->values = kiln_arena_alloc(h->arena, (n + 1) * sizeof *s->values);
    if (!s->names || !s->values) return -1;
    for (size_t i = 0; i < n; i++) {
        s->names[i] = kiln_arena_strndup(h->arena, v[i].name, strlen(v[i].name));
        s->values[i] = kiln_arena_strndup(h->arena, v[i].value, strlen(v[i].value));
        if (!s->names[i] || !s->values[i]) return -1;
    }
    if (kb_map_insert(&h->series_map, slot, hh, (uint32_t)h->n_series + 1)) return -1;
    return (int64_t)h->n_series++;
}

typedef struct trip {
    uint32_t stack;
    uint64_t span;
    int64_t value;
} trip;

static int cmp_trip(const void *a, const void *b)
{
    const trip *x = a, *y = b;
    if (x->stack != y->stack) return x->stack < y->stack ? -1 : 1;
    return x->span < y->span ? -1 : x->span > y->span;
}

/* Appends one profile to series s. Samples are kept as they come (the
 * block writer and head views sort and merge them). */
static int series_add(kiln_head *h, kb_hseries *s, int64_t t, int64_t dur, trip *v, size_t n)
{
    int spans = 0;
    for (size_t i = 0; i < n && !spans; i++)
        if (v[i].span) spans = 1;
    if (s->n_prof + 1 >= s->cap_prof) {
        size_t nc = s->cap_prof ? s->cap_prof * 2 : 16;
        int64_t *nt = realloc(s->time, nc * sizeof *nt);
        if (!nt) return -1;
        s->time = nt;
        int64_t *nd = realloc(s->dur, nc * sizeof *nd);
        if (!nd) return -1;
        s->dur = nd;
        uint64_t *no = realloc(s->soff, (nc + 1) * sizeof *no);
        if (!no) return -1;
        if (!s->soff) no[0] = 0;
        s->soff = no;
        h->arrays_bytes += (nc - s->cap_prof) * 24;
        s->cap_prof = nc;
    }
    if (s->n_samp + n > s->cap_samp) {
        size_t nc = s->cap_samp ? s->cap_samp : 64;
        while (nc < s->n_samp + n) nc *= 2;
        uint32_t *ns = realloc(s->stack, nc * sizeof *ns);
        if (!ns) return -1;
        s->stack = ns;
        int64_t *nv = realloc(s->value, nc * sizeof *nv);
        if (!nv) return -1;
        s->value = nv;
        if (s->span) {
            uint64_t *np = realloc(s->span, nc * sizeof *np);
            if (!np) return -1;
            s->span = np;
            h->arrays_bytes += (nc - s->cap_samp) * 8;
        }
        h->arrays_bytes += (nc - s->cap_samp) * 12;
        s->cap_samp = nc;
    }
    if (spans && !s->span) {
        s->span = calloc(s->cap_samp, sizeof *s->span);
        if (!s->span) return -1;
        h->arrays_bytes += s->cap_samp * 8;
    }
    for (size_t i = 0; i < n; i++) {
        s->stack[s->n_samp + i] = v[i].stack;
        s->value[s->n_samp + i] = v[i].value;
        if (s->span) s->span[s->n_samp + i] = v[i].span;
    }
    s->n_samp += n;
    s->time[s->n_prof] = t;
    s->dur[s->n_prof] = dur;
    s->soff[s->n_prof + 1] = s->n_samp;
    if (!s->n_prof || t < s->min_t) s->min_t = t;
    if (!s->n_prof || t > s->max_t) s->max_t = t;
    s->n_prof++;
    if (!h->n_prof || t < h->min_t) h->min_t = t;
    if (!h->n_prof || t > h->max_t) h->max_t = t;
    h->n_prof++;
    h->n_samp += n;
    return 0;
}

/* ---- sample label groups -------------------------------------------------------------------- */

typedef struct sgroup {
    lpair *v; /* sorted; point into the profile's string table */
    size_t n;
} sgroup;

static int is_span_key(const char *k) { return !strcmp(k, "span_id") || !strcmp(k, "profile_id"); }

static int skip_sample_key(const char *k)
{
    return is_span_key(k) || !strcmp(k, "trace_id") || (k[0] == '_' && k[1] == '_');
}

static uint64_t parse_span(const char *s)
{
    uint64_t v = 0;
    size_t n = 0;
    for (; *s && n < 16; s++, n++) {
        char c = *s;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                             : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return 0;
        v = v << 4 | (uint64_t)d;
    }
    return *s ? 0 : v;
}

static int series_has(const lpair *base, size_t nb, const char *name)
{
    for (size_t i = 0; i < nb; i++)
        if (!strcmp(base[i].name, name)) return 1;
    return 0;
}

/* Orders samples by their location ids read from the root (the last id). */
static int cmp_sample_stack(const void *a, const void *b, void *arg)
{
    const kiln_pprof *p = arg;
    const kiln_pprof_sample *x = p->sample[*(const uint32_t *)a], *y = p->sample[*(const uint32_t *)b];
    size_t nx = x->n_location_id, ny = y->n_location_id, n = nx < ny ? nx : ny;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = x->location_id[nx - 1 - i], v = y->location_id[ny - 1 - i];
        if (u != v) return u < v ? -1 : 1;
    }
    return nx < ny ? -1 : nx > ny;
}

/* ---- append ------------------------------------------------------------------------------------ */

static const char *pstr(const kiln_pprof *p, int64_t i)
{
    return i > 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "";
}

int kiln_head_append(kiln_head *h, const kiln_labels *labels, int64_t time_ns, int64_t duration_ns,
                     const kiln_pprof *p, kiln_err *err)
{
    int rc = KILN_OK;
    xlate x;
    uint32_t *stack_of = NULL, *group_of = NULL, *order = NULL, *path = NULL, *locs = NULL;
    uint64_t *hh = NULL;
    size_t cap_path = 0;
    uint64_t *span_of = NULL;
    sgroup *groups = NULL;
    size_t n_groups = 0;
    lpair *base = NULL, *full = NULL, *gbuf = NULL;
    trip *tv = NULL;
    size_t ns = p->n_sample;

    if (!time_ns) time_ns = p->time_nanos;
    if (!time_ns) time_ns = kiln_now_unix_ns();
    if (!duration_ns) duration_ns = p->duration_nanos;

    pthread_mutex_lock(&h->mu);
    if (xlate_init(&x, h, p)) goto oom;

    /* 1. the stack of every sample (shared by all sample types) and its span.
     * Samples are visited in root-first order of their location ids, so a
     * sample continues from the longest path it shares with the one before
     * and only its new frames are looked up in the stack tree. */
    stack_of = malloc((ns ? ns : 1) * sizeof *stack_of);
    span_of = calloc(ns ? ns : 1, sizeof *span_of);
    group_of = calloc(ns ? ns : 1, sizeof *group_of);
    order = malloc((ns ? ns : 1) * sizeof *order);
    if (!stack_of || !span_of || !group_of || !order) goto oom;
    /* pass 1: stacks seen before, one probe each; the others are queued */
    size_t n_miss = 0;
    hh = malloc((ns ? ns : 1) * 2 * sizeof *hh);
    if (!hh) goto oom;
    for (size_t i = 0; i < ns; i++) {
        const kiln_pprof_sample *s = p->sample[i];
        size_t d = s->n_location_id;
        if (d > cap_path) {
            size_t nc = d * 2;
            uint32_t *np = realloc(path, nc * sizeof *np);
            if (!np) goto oom;
            path = np;
            uint32_t *nl = realloc(locs, nc * sizeof *nl);
            if (!nl) goto oom;
            locs = nl;
            cap_path = nc;
        }
        for (size_t k = 0; k < d; k++) {
            uint32_t loc = x_loc(&x, s->location_id[d - 1 - k]);
            if (loc == UNSET || loc == 0) goto oom;
            locs[k] = loc;
        }
        uint32_t node = d ? kb_sym_stack_get(&h->syms, locs, d, &hh[2 * i], &hh[2 * i + 1]) : 0;
        stack_of[i] = node;
        if (!node && d) order[n_miss++] = (uint32_t)i;
    }
    /* pass 2: new stacks, in root-first order of their location ids, so
     * that each continues from the path it shares with the one before and
     * only its new frames are looked up in the stack tree */
    if (n_miss > 1) qsort_r(order, n_miss, sizeof *order, cmp_sample_stack, (void *)p);
    size_t prev_depth = 0;
    const kiln_pprof_sample *prev = NULL; /* path[] holds its nodes */
    for (size_t oi = 0; oi < n_miss; oi++) {
        uint32_t si = order[oi];
        const kiln_pprof_sample *s = p->sample[si];
        size_t d = s->n_location_id, common = 0;
        if (prev) {
            size_t m = d < prev_depth ? d : prev_depth;
            while (common < m &&
                   s->location_id[d - 1 - common] == prev->location_id[prev_depth - 1 - common])
                common++;
        }
        uint32_t node = common ? path[common - 1] : 0;
        for (size_t k = common; k < d; k++) {
            node = kb_sym_node(&h->syms, node, x_loc(&x, s->location_id[d - 1 - k]));
            if (!node) goto oom;
            path[k] = node;
        }
        if (kb_sym_stack_put(&h->syms, hh[2 * si], hh[2 * si + 1], d, node)) goto oom;
        stack_of[si] = node;
        prev = s;
        prev_depth = d;
    }
    int any_labels = 0;
    for (size_t i = 0; i < ns; i++) {
        const kiln_pprof_sample *s = p->sample[i];
        for (size_t j = 0; j < s->n_label; j++) {
            const kiln_pprof_label *l = s->label[j];
            if (!l->str) continue;
            const char *k = pstr(p, l->key);
            if (is_span_key(k)) span_of[i] = parse_span(pstr(p, l->str));
            else if (!skip_sample_key(k) && k[0]) any_labels = 1;
        }
    }

    /* 2. the series labels every series of this profile starts from */
    size_t nb = 0;
    base = malloc((labels->n + 8) * sizeof *base);
    if (!base) goto oom;
    const char *name = NULL;
    for (size_t i = 0; i < labels->n; i++) {
        const char *k = labels->v[i].name;
        if (!strcmp(k, KILN_LABEL_NAME)) {
            name = labels->v[i].value;
            continue;
        }
        if (k[0] == '_' && k[1] == '_') continue;
        base[nb++] = (lpair){k, labels->v[i].value};
    }
    char name_buf[128];
    if (!name || !*name) {
        const char *t0 = p->n_sample_type ? pstr(p, p->sample_type[0]->type) : "";
        snprintf(name_buf, sizeof name_buf, "%s", *t0 ? t0 : "unknown");
        name = name_buf;
    }
    base[nb++] = (lpair){KILN_LABEL_NAME, name};
    if (!kiln_labels_get(labels, KILN_LABEL_SERVICE_NAME))
        base[nb++] = (lpair){KILN_LABEL_SERVICE_NAME, "unknown_service"};

    /* 3. sample label groups (only when some sample has string labels) */
    size_t max_pairs = 0;
    if (any_labels) {
        for (size_t i = 0; i < ns; i++)
            if (p->sample[i]->n_label > max_pairs) max_pairs = p->sample[i]->n_label;
        groups = calloc(ns ? ns : 1, sizeof *groups);
        gbuf = malloc((max_pairs ? max_pairs : 1) * sizeof *gbuf);
        if (!groups || !gbuf) goto oom;
        for (size_t i = 0; i < ns; i++) {
            const kiln_pprof_sample *s = p->sample[i];
            size_t k = 0;
            for (size_t j = 0; j < s->n_label; j++) {
                const kiln_pprof_label *l = s->label[j];
                if (!l->str) continue;
                const char *key = pstr(p, l->key);
                if (!key[0] || skip_sample_key(key) || series_has(base, nb, key)) continue;
                gbuf[k++] = (lpair){key, pstr(p, l->str)};
            }
            if (k > 1) qsort(gbuf, k, sizeof *gbuf, cmp_lpair);
            size_t u = 0; /* one value per name: the first in sort order */
            for (size_t j = 0; j < k; j++)
                if (!u || strcmp(gbuf[u - 1].name, gbuf[j].name)) gbuf[u++] = gbuf[j];
            size_t g;
            for (g = 0; g < n_groups; g++) {
                if (groups[g].n != u) continue;
                size_t j = 0;
                while (j < u && groups[g].v[j].name == gbuf[j].name &&
                       groups[g].v[j].value == gbuf[j].value)
                    j++;
                if (j == u) break;
                /* the same strings may sit at different indices */
                for (j = 0; j < u; j++)
                    if (strcmp(groups[g].v[j].name, gbuf[j].name) ||
                        strcmp(groups[g].v[j].value, gbuf[j].value))
                        break;
                if (j == u) break;
            }
            if (g == n_groups) {
                groups[g].v = malloc((u ? u : 1) * sizeof *groups[g].v);
                if (!groups[g].v) goto oom;
                memcpy(groups[g].v, gbuf, u * sizeof *gbuf);
                groups[g].n = u;
                n_groups++;
            }
            group_of[i] = (uint32_t)g;
        }
    } else {
        n_groups = 1;
    }

    /* 4. one series profile per (group, sample type) */
    full = malloc((nb + max_pairs + 8) * sizeof *full);
    tv = malloc((ns ? ns : 1) * sizeof *tv);
    if (!full || !tv) goto oom;
    const char *pt = p->period_type ? pstr(p, p->period_type->type) : "";
    const char *pu = p->period_type ? pstr(p, p->period_type->unit) : "";
    for (size_t k = 0; k < p->n_sample_type; k++) {
        const char *st = pstr(p, p->sample_type[k]->type);
        const char *su = pstr(p, p->sample_type[k]->unit);
        size_t tl = strlen(name) + strlen(st) + strlen(su) + strlen(pt) + strlen(pu) + 5;
        char *ptid = malloc(tl);
        if (!ptid) goto oom;
        snprintf(ptid, tl, "%s:%s:%s:%s:%s", name, st, su, pt, pu);
        for (size_t g = 0; g < n_groups; g++) {
            size_t nf = 0;
            for (size_t i = 0; i < nb; i++) full[nf++] = base[i];
            if (groups)
                for (size_t i = 0; i < groups[g].n; i++) full[nf++] = groups[g].v[i];
            full[nf++] = (lpair){KILN_LABEL_PROFILE_TYPE, ptid};
            full[nf++] = (lpair){KILN_LABEL_TYPE, st};
            full[nf++] = (lpair){KILN_LABEL_UNIT, su};
            full[nf++] = (lpair){KILN_LABEL_PERIOD_TYPE, pt};
            full[nf++] = (lpair){KILN_LABEL_PERIOD_UNIT, pu};
            if (nf > 1) qsort(full, nf, sizeof *full, cmp_lpair);
            if (nf > KB_MAX_LABELS) {
                free(ptid);
                rc = kiln_err_set(err, KILN_EINVAL, "a series of %zu labels (more than %d)", nf, KB_MAX_LABELS);
                goto done;
            }
            int64_t si = series_get(h, full, nf);
            if (si < 0) {
                free(ptid);
                goto oom;
            }
            size_t nt = 0;
            for (size_t i = 0; i < ns; i++) {
                if (group_of[i] != g) continue;
                int64_t v = p->sample[i]->value[k];
                if (!v) continue;
                tv[nt++] = (trip){stack_of[i], span_of[i], v};
            }
            if (series_add(h, &h->series[si], time_ns, duration_ns, tv, nt)) {
                free(ptid);
                goto oom;
            }
        }
        free(ptid);
    }
    goto done;
oom:
    rc = kiln_err_set(err, KILN_ENOMEM, "out of memory adding a profile to the head of tenant %s",
                      h->tenant);
done:
    pthread_mutex_unlock(&h->mu);
    xlate_free(&x);
    free(stack_of);
    free(order);
    free(path);
    free(locs);
    free(hh);
    free(span_of);
    free(group_of);
    if (groups)
        for (size_t g = 0; g < n_groups; g++) free(groups[g].v);
    free(groups);
    free(gbuf);
    free(base);
    free(full);
    free(tv);
    return rc;
}

/* ---- writing the head as a block ------------------------------------------------------------------ */

static int cmp_series_idx(const void *a, const void *b, void *arg)
{
    const kiln_head *h = arg;
    const kb_hseries *x = &h->series[*(const uint32_t *)a], *y = &h->series[*(const uint32_t *)b];
    return kb_labels_cmp(x->n_labels, x->names, x->values, y->n_labels, y->names, y->values);
}

static int cmp_prof_idx(const void *a, const void *b, void *arg)
{
    const kb_hseries *s = arg;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    if (s->time[i] != s->time[j]) return s->time[i] < s->time[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

int kiln_head_write_block(kiln_head *h, kiln_objstore *os, const char *tmp_dir,
                          kiln_block_meta *meta, int *empty, kiln_err *err)
{
    *empty = 0;
    if (h->n_prof == 0) {
        *empty = 1;
        return KILN_OK;
    }
    kb_writer *w;
    int rc = kb_writer_new(os, h->tenant, h->id, tmp_dir, &w, err);
    if (rc != KILN_OK) return rc;
    uint32_t *order = malloc(h->n_series * sizeof *order);
    uint32_t *po = NULL;
    kb_prof_in *pin = NULL;
    size_t cap = 0;
    if (!order) goto oom;
    for (size_t i = 0; i < h->n_series; i++) order[i] = (uint32_t)i;
    if (h->n_series > 1) qsort_r(order, h->n_series, sizeof *order, cmp_series_idx, h);
    for (size_t i = 0; i < h->n_series; i++) {
        const kb_hseries *s = &h->series[order[i]];
        if (s->n_prof > cap) {
            free(po);
            free(pin);
            cap = s->n_prof;
            po = malloc(cap * sizeof *po);
            pin = malloc(cap * sizeof *pin);
            if (!po || !pin) goto oom;
        }
        for (size_t j = 0; j < s->n_prof; j++) po[j] = (uint32_t)j;
        if (s->n_prof > 1) qsort_r(po, s->n_prof, sizeof *po, cmp_prof_idx, (void *)s);
        for (size_t j = 0; j < s->n_prof; j++) {
            uint32_t k = po[j];
            pin[j] = (kb_prof_in){s->time[k], s->dur[k], s->stack + s->soff[k], s->value + s->soff[k],
                                  s->span ? s->span + s->soff[k] : NULL, s->soff[k + 1] - s->soff[k]};
        }
        kb_series_in in = {s->n_labels, s->names, s->values, s->n_prof, pin};
        rc = kb_writer_series(w, &in, err);
        if (rc != KILN_OK) {
            kb_writer_abort(w);
            goto out;
        }
    }
    kiln_block_meta m;
    memset(&m, 0, sizeof m);
    m.level = 1;
    snprintf(m.source, sizeof m.source, "ingester");
    kiln_block_id self;
    memcpy(self, h->id, sizeof self);
    m.sources = &self;
    m.n_sources = 1;
    m.tenant = NULL;
    rc = kb_writer_finish(w, &h->syms, &m, err);
    if (rc == KILN_OK && meta) {
        kiln_block_meta_free(meta);
        rc = kiln_block_meta_copy(meta, &m, err);
    }
    free(m.tenant);
    goto out;
oom:
    kb_writer_abort(w);
    rc = kiln_err_set(err, KILN_ENOMEM, "out of memory writing the head of tenant %s", h->tenant);
out:
    free(order);
    free(po);
    free(pin);
    return rc;
}

/* ---- head views ---------------------------------------------------------------------------------- */

typedef struct vtrip {
    uint32_t name, value, series;
} vtrip;

static int cmp_vtrip(const void *a, const void *b)
{
    const vtrip *x = a, *y = b;
    if (x->name != y->name) return x->name < y->name ? -1 : 1;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return x->series < y->series ? -1 : x->series > y->series;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static uint32_t find_str(const char **v, uint32_t n, const char *s)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v[mid], s);
        if (!c) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

int kb_head_view_index(kiln_head *h, kb_index *x, uint32_t **map_out, kiln_err *err)
{
    memset(x, 0, sizeof *x);
    *map_out = NULL;
    x->arena = kiln_arena_new(64 * 1024);
    if (!x->arena) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    pthread_mutex_lock(&h->mu);
    size_t n = h->n_series, nl = 0;
    uint32_t *map = malloc((n ? n : 1) * sizeof *map);
    for (size_t i = 0; i < n; i++) nl += h->series[i].n_labels;
    const char **strs = kiln_arena_alloc(x->arena, (2 * nl + 1) * sizeof *strs);
    vtrip *tr = malloc((nl + 1) * sizeof *tr);
    x->series = kiln_arena_calloc(x->arena, (n ? n : 1) * sizeof *x->series);
    if (!map || !strs || !tr || !x->series) {
        pthread_mutex_unlock(&h->mu);
        free(map);
        free(tr);
        kb_index_free(x);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) map[i] = (uint32_t)i;
    if (n > 1) qsort_r(map, n, sizeof *map, cmp_series_idx, h);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < h->series[i].n_labels; j++) {
            strs[k++] = h->series[i].names[j];
            strs[k++] = h->series[i].values[j];
        }
    if (k > 1) qsort(strs, k, sizeof *strs, cmp_cstr);
    uint32_t nu = 0;
    for (size_t i = 0; i < k; i++)
        if (!nu || strcmp(strs[nu - 1], strs[i])) strs[nu++] = strs[i];
    x->str = strs;
    x->n_str = nu;
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        const kb_hseries *s = &h->series[map[i]];
        kb_series_ent *e = &x->series[i];
        e->n_labels = s->n_labels;
        e->names = s->names;
        e->values = s->values;
        e->min_t = s->min_t;
        e->max_t = s->max_t;
        e->n_prof = s->n_prof;
        e->n_samp = s->n_samp;
        for (uint32_t j = 0; j < s->n_labels; j++)
            tr[nt++] = (vtrip){find_str(strs, nu, s->names[j]), find_str(strs, nu, s->values[j]),
                               (uint32_t)i};
    }
    x->n_series = (uint32_t)n;
    for (int s = 0; s < KB_NSYM; s++) x->sym[s].n = kb_sym_count(&h->syms, s);
    pthread_mutex_unlock(&h->mu);
    if (nt > 1) qsort(tr, nt, sizeof *tr, cmp_vtrip);
    size_t np = 0;
    for (size_t i = 0; i < nt; i++)
        if (!i || tr[i].name != tr[i - 1].name || tr[i].value != tr[i - 1].value) np++;
    x->post = kiln_arena_calloc(x->arena, (np ? np : 1) * sizeof *x->post);
    uint32_t *ids = kiln_arena_alloc(x->arena, (nt ? nt : 1) * sizeof *ids);
    if (!x->post || !ids) {
        free(map);
        free(tr);
        kb_index_free(x);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    size_t p = 0;
    for (size_t i = 0; i < nt;) {
        size_t j = i;
        x->post[p].name = tr[i].name;
        x->post[p].value = tr[i].value;
        x->post[p].ids = ids + i;
        while (j < nt && tr[j].name == tr[i].name && tr[j].value == tr[i].value) {
            ids[j] = tr[j].series;
            j++;
        }
        x->post[p].n = (uint32_t)(j - i);
        p++;
        i = j;
    }
    x->n_post = (uint32_t)np;
    free(tr);
    *map_out = map;
    return KILN_OK;
}

int kb_head_read_samples(kiln_head *h, uint32_t hs, int64_t from, int64_t to, int want_samples,
                         kiln_block_samples *o, kiln_err *err)
{
    int rc = KILN_OK;
    pthread_mutex_lock(&h->mu);
    const kb_hseries *s = &h->series[hs];
    uint32_t *po = malloc((s->n_prof ? s->n_prof : 1) * sizeof *po);
    size_t np = 0, nsamp = 0, maxp = 0;
    trip *tv = NULL;
    if (!po) goto oom;
    for (size_t j = 0; j < s->n_prof; j++)
        if (s->soff[j + 1] - s->soff[j] > maxp) maxp = s->soff[j + 1] - s->soff[j];
    tv = malloc((maxp ? maxp : 1) * sizeof *tv);
    if (!tv) goto oom;
    for (size_t j = 0; j < s->n_prof; j++)
        if (s->time[j] >= from && s->time[j] < to) {
            po[np++] = (uint32_t)j;
            nsamp += s->soff[j + 1] - s->soff[j];
        }
    if (np > 1) qsort_r(po, np, sizeof *po, cmp_prof_idx, (void *)s);
    if (!want_samples) nsamp = 0;
    o->time_ns = malloc((np ? np : 1) * sizeof *o->time_ns);
    o->duration_ns = malloc((np ? np : 1) * sizeof *o->duration_ns);
    o->total = malloc((np ? np : 1) * sizeof *o->total);
    o->sample_off = malloc((np + 1) * sizeof *o->sample_off);
    o->stack = malloc((nsamp ? nsamp : 1) * sizeof *o->stack);
    o->value = malloc((nsamp ? nsamp : 1) * sizeof *o->value);
    if (s->span && want_samples) o->span = malloc((nsamp ? nsamp : 1) * sizeof *o->span);
    if (!o->time_ns || !o->duration_ns || !o->total || !o->sample_off || !o->stack || !o->value ||
        (s->span && want_samples && !o->span))
        goto oom;
    o->sample_off[0] = 0;
    size_t w = 0;
    for (size_t i = 0; i < np; i++) {
        uint32_t j = po[i];
        o->time_ns[i] = s->time[j];
        o->duration_ns[i] = s->dur[j];
        uint64_t t = 0;
        size_t start = w;
        for (uint64_t q = s->soff[j]; q < s->soff[j + 1]; q++) {
            t += (uint64_t)s->value[q];
            if (!want_samples) continue;
            tv[w - start] = (trip){s->stack[q], s->span ? s->span[q] : 0, s->value[q]};
            w++;
        }
        if (want_samples) {
            /* as a block holds them: sorted by (stack, span), equal ones summed */
            size_t n = w - start, k = 0;
            if (n > 1) qsort(tv, n, sizeof *tv, cmp_trip);
            for (size_t q = 0; q < n; q++) {
                if (k && tv[k - 1].stack == tv[q].stack && tv[k - 1].span == tv[q].span)
                    tv[k - 1].value = (int64_t)((uint64_t)tv[k - 1].value + (uint64_t)tv[q].value);
                else
                    tv[k++] = tv[q];
            }
            for (size_t q = 0; q < k; q++) {
                o->stack[start + q] = tv[q].stack;
                o->value[start + q] = tv[q].value;
                if (o->span) o->span[start + q] = tv[q].span;
            }
            w = start + k;
        }
        o->total[i] = (int64_t)t;
        o->sample_off[i + 1] = w;
    }
    o->n_profiles = np;
    o->n_samples = w;
    goto done;
oom:
    rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    kiln_block_samples_free(o);
done:
    pthread_mutex_unlock(&h->mu);
    free(po);
    free(tv);
    return rc;
}

int kb_head_sym(kiln_head *h, int sec, uint32_t id, void *out, kiln_err *err)
{
    int rc = KILN_OK;
    pthread_mutex_lock(&h->mu);
    const kb_symtab *s = &h->syms;
    uint64_t n = kb_sym_count(s, sec);
    uint32_t first = sec == KB_SYM_STRINGS ? 0 : 1;
    if (id < first || (uint64_t)(id - first) >= n) {
        rc = kiln_err_set(err, KILN_EINVAL, "head %s: %s id %u out of range", h->id,
                          kb_sym_names[sec], id);
    } else {
        switch (sec) {
        case KB_SYM_STRINGS: *(const char **)out = s->str[id]; break;
        case KB_SYM_MAPPINGS: *(kb_mapping *)out = s->map[id]; break;
        case KB_SYM_FUNCTIONS: *(kb_function *)out = s->fn[id]; break;
        case KB_SYM_LOCATIONS: *(kb_location *)out = s->loc[id]; break;
        default:
            ((uint32_t *)out)[0] = s->node_parent[id];
            ((uint32_t *)out)[1] = s->node_loc[id];
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

int kiln_head_open_view(kiln_head *h, kiln_block **out, kiln_err *err)
{
    kiln_block *b = calloc(1, sizeof *b);
    if (!b) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    pthread_mutex_init(&b->mu, NULL);
    b->head = h;
    int rc = kb_head_view_index(h, &b->idx, &b->head_map, err);
    if (rc == KILN_OK) {
        kiln_head_stats st;
        kiln_head_get_stats(h, &st);
        b->meta.version = KILN_BLOCK_FORMAT_VERSION;
        memcpy(b->meta.id, h->id, sizeof b->meta.id);
        b->meta.tenant = strdup(h->tenant);
        b->meta.min_time_ns = st.min_time_ns;
        b->meta.max_time_ns = st.max_time_ns;
        b->meta.n_series = b->idx.n_series;
        b->meta.n_profiles = st.n_profiles;
        b->meta.n_samples = st.n_samples;
        b->meta.n_stacks = b->idx.sym[KB_SYM_STACKS].n;
        b->meta.n_locations = b->idx.sym[KB_SYM_LOCATIONS].n;
        b->meta.n_functions = b->idx.sym[KB_SYM_FUNCTIONS].n;
        b->meta.n_mappings = b->idx.sym[KB_SYM_MAPPINGS].n;
        b->meta.n_strings = b->idx.sym[KB_SYM_STRINGS].n;
        b->meta.level = 0;
        snprintf(b->meta.source, sizeof b->meta.source, "head");
        if (!b->meta.tenant) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    if (rc != KILN_OK) {
        kiln_block_close(b);
        return rc;
    }
    *out = b;
    return KILN_OK;
}
