/* pipeline/pprof_merge.c — kiln_pprof_merge: google/pprof's profile.Merge in C.
 *
 * What is unified (as in pprof's merge.go):
 *   strings   by value;
 *   functions by (name, system_name, filename, start_line);
 *   mappings  by (size rounded up to 4 KiB, file_offset, build_id if set else
 *             filename) — not by start address; a later profile's addresses
 *             are shifted by (merged start - its start). mapping[0] of the
 *             first profile that has mappings stays mapping[0];
 *   locations by (address - mapping start, mapping, is_folded, every line's
 *             (function, line, column));
 *   samples   by (stack of merged location ids, string labels, numeric
 *             labels), labels grouped by key with the order of values kept;
 *             values of equal samples are summed.
 * Samples whose values are all zero are skipped; when a merged sample sums to
 * all zeros it is dropped and the tables are compacted (only what remaining
 * samples reference survives, plus mapping[0]). Labels with neither string,
 * number nor unit are dropped (pprof's decoder drops them). New ids are
 * 1..n in first-seen order.
 * Header: sample types, period type, drop/keep frames from the first
 * profile; period = the largest; comments = union in order; default sample
 * type and doc_url = the first non-empty. Times as pprof: time_nanos = the
 * earliest non-zero start, duration_nanos = the sum of the durations.
 *
 * Inputs must be valid profiles (as kiln_pprof_decode returns them); a
 * dangling reference is reported as KILN_EINVAL, never followed.
 *
 * Memory: the result and all its strings live in `a`; the hash tables and
 * work vectors are malloc'ed and freed before returning. Inputs are read only.
 */
#include "pprof_internal.h"

#include <inttypes.h>
#include <stdio.h>

#define NONE UINT32_MAX

/* a growable malloc'ed vector */
static int vreserve(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *nv = realloc(*v, nc * elem);
    if (!nv) return -1;
    *v = nv;
    *cap = nc;
    return 0;
}
#define VEC(T)                                                                                 \
    struct {                                                                                   \
        T *v;                                                                                  \
        size_t n, cap;                                                                         \
    }
/* reserves room for k more (and at least one, so that .v is never NULL) */
#define VPUSHN(vec, k) vreserve((void **)&(vec).v, &(vec).cap, (vec).n + (k) + 1, sizeof *(vec).v)

typedef struct mstr {
    const char *s;
    size_t len;
} mstr;

typedef struct mfunc {
    uint32_t name, sys, file;
    int64_t start_line;
} mfunc;

typedef struct mmap_ {
    const kiln_pprof_mapping *src; /* first seen; fields copied on output */
    uint32_t file, build_id;
    uint64_t size_key; /* size rounded up to 4 KiB */
    uint32_t key_str;  /* build_id if non-empty, else filename */
    uint32_t id;       /* output id after compaction */
    int used;
} mmap_;

typedef struct mline {
    uint32_t func;
    int64_t line, column;
} mline;

typedef struct mloc {
    uint32_t mapping; /* merged mapping index, NONE: none */
    uint64_t address;
    int is_folded;
    uint32_t line_off, n_line;
    uint32_t id;
    int used;
} mloc;

typedef struct mlabel {
    uint32_t kind; /* 0 string, 1 numeric */
    uint32_t key;
    uint32_t str, unit;
    int64_t num;
} mlabel;

typedef struct msample {
    uint32_t loc_off, n_loc;
    uint32_t lab_off, n_lab;
    size_t val_off;
} msample;

typedef struct src_map {
    uint32_t *str;  /* per source string index */
    uint32_t *func; /* per source function position */
    uint32_t *map;  /* per source mapping position */
    int64_t *delta; /* per source mapping position: address shift */
    uint32_t *loc;  /* per source location position */
} src_map;

typedef struct merger {
    kiln_err *err;
    int rc; /* the status of the last failure */
    size_t n_types;
    VEC(mstr) strs;
    kp_tab str_tab;
    VEC(mfunc) funcs;
    kp_tab func_tab;
    VEC(mmap_) maps;
    kp_tab map_tab;
    VEC(mloc) locs;
    VEC(mline) lines;
    kp_tab loc_tab;
    VEC(msample) samples;
    VEC(uint32_t) sample_locs;
    VEC(mlabel) sample_labs;
    VEC(int64_t) values;
    kp_tab sample_tab;
    /* the current source */
    const kiln_pprof *src;
    kp_ids ids;
    src_map sm;
    /* probes */
    mstr probe_str;
    mfunc probe_func;
    mmap_ probe_map;
    mloc probe_loc;
    const mline *probe_lines;
    VEC(mline) tmp_lines;
    VEC(uint32_t) tmp_locs;
    VEC(mlabel) tmp_labs;
} merger;

static int oom(merger *m) { return m->rc = kiln_err_set(m->err, KILN_ENOMEM, "pprof merge: out of memory"); }

/* ---- strings ---------------------------------------------------------------- */

static int str_eq(void *ctx, uint32_t e)
{
    merger *m = ctx;
    const mstr *x = &m->strs.v[e];
    return x->len == m->probe_str.len && memcmp(x->s, m->probe_str.s, x->len) == 0;
}

static uint32_t intern_hashed(merger *m, const char *s, size_t len, uint32_t h)
{
    m->probe_str = (mstr){s, len};
    size_t slot;
    int64_t e = kp_tab_find(&m->str_tab, h, str_eq, m, &slot);
    if (e >= 0) return (uint32_t)e;
    if (VPUSHN(m->strs, 1)) return NONE;
    m->strs.v[m->strs.n] = m->probe_str;
    if (kp_tab_put(&m->str_tab, slot, h, (uint32_t)m->strs.n) < 0) return NONE;
    return (uint32_t)m->strs.n++;
}

static uint32_t intern_bytes(merger *m, const char *s, size_t len)
{
    return intern_hashed(m, s, len, kp_h32(kp_hash_bytes(s, len, 0)));
}

/* Grows `t` so that `more` insertions cannot make it grow (and move) again. */
static int tab_reserve(kp_tab *t, size_t more)
{
    while ((t->n + more) * 2 > t->cap)
        if (kp_tab_grow(t) < 0) return -1;
    return 0;
}

#define PREFETCH_AHEAD 16
#define EAGER_MIN_STRINGS 4096

/* Interns every string of the current source up front: hashes first, then
 * inserts with the table slots prefetched a few strings ahead (the table
 * does not fit in cache for large profiles; a miss per string dominated). */
static int intern_source_strings(merger *m)
{
    const kiln_pprof *s = m->src;
    size_t n = s->n_string_table;
    uint32_t *hs = malloc((n + 1) * sizeof *hs);
    size_t *lens = malloc((n + 1) * sizeof *lens);
    if (!hs || !lens || tab_reserve(&m->str_tab, n) < 0) {
        free(hs);
        free(lens);
        return oom(m);
    }
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(s->string_table[i]);
        hs[i] = kp_h32(kp_hash_bytes(s->string_table[i], lens[i], 0));
    }
    size_t mask = m->str_tab.cap - 1;
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) __builtin_prefetch(&m->str_tab.slots[hs[i + PREFETCH_AHEAD] & mask]);
        uint32_t r = intern_hashed(m, s->string_table[i], lens[i], hs[i]);
        if (r == NONE) {
            free(hs);
            free(lens);
            return oom(m);
        }
        m->sm.str[i] = r;
    }
    free(hs);
    free(lens);
    return KILN_OK;
}

/* merged index of the current source's string i: interned on first use for
 * small sources, up front for large ones (src_begin) */
static inline uint32_t mstr_of(merger *m, int64_t i)
{
    if (i <= 0 || (uint64_t)i >= m->src->n_string_table) return 0;
    uint32_t r = m->sm.str[i];
    if (r != NONE) return r;
    const char *s = m->src->string_table[i];
    r = intern_bytes(m, s, strlen(s));
    m->sm.str[i] = r;
    return r;
}

/* ---- functions ----------------------------------------------------------------- */

static int func_eq(void *ctx, uint32_t e)
{
    merger *m = ctx;
    const mfunc *x = &m->funcs.v[e], *y = &m->probe_func;
    return x->name == y->name && x->sys == y->sys && x->file == y->file && x->start_line == y->start_line;
}

static uint64_t func_hash(const mfunc *k)
{
    return kp_hash_word(kp_hash_word(kp_hash_word(kp_hash_word(0, k->name), k->sys), k->file),
                        (uint64_t)k->start_line);
}

/* Maps every function of the current source up front, slots prefetched
 * ahead as for strings. Unreferenced functions do not reach the output: it
 * keeps only functions of used locations. */
static int map_source_functions(merger *m)
{
    const kiln_pprof *s = m->src;
    size_t n = s->n_function;
    mfunc *keys = malloc((n + 1) * sizeof *keys);
    uint32_t *hs = malloc((n + 1) * sizeof *hs);
    if (!keys || !hs || tab_reserve(&m->func_tab, n) < 0) {
        free(keys);
        free(hs);
        return oom(m);
    }
    for (size_t i = 0; i < n; i++) {
        const kiln_pprof_function *f = s->function[i];
        keys[i] = (mfunc){mstr_of(m, f->name), mstr_of(m, f->system_name), mstr_of(m, f->filename),
                          f->start_line};
        hs[i] = kp_h32(func_hash(&keys[i]));
    }
    size_t mask = m->func_tab.cap - 1;
    int rc = KILN_OK;
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) __builtin_prefetch(&m->func_tab.slots[hs[i + PREFETCH_AHEAD] & mask]);
        m->probe_func = keys[i];
        size_t slot;
        int64_t e = kp_tab_find(&m->func_tab, hs[i], func_eq, m, &slot);
        if (e < 0) {
            if (VPUSHN(m->funcs, 1)) {
                rc = oom(m);
                break;
            }
            m->funcs.v[m->funcs.n] = keys[i];
            if (kp_tab_put(&m->func_tab, slot, hs[i], (uint32_t)m->funcs.n) < 0) {
                rc = oom(m);
                break;
            }
            e = (int64_t)m->funcs.n++;
        }
        m->sm.func[i] = (uint32_t)e;
    }
    free(keys);
    free(hs);
    return rc;
}

static uint32_t map_function(merger *m, size_t pos)
{
    uint32_t r = m->sm.func[pos];
    if (r != NONE) return r;
    const kiln_pprof_function *f = m->src->function[pos];
    mfunc k = {mstr_of(m, f->name), mstr_of(m, f->system_name), mstr_of(m, f->filename), f->start_line};
    if (k.name == NONE || k.sys == NONE || k.file == NONE) return NONE;
    m->probe_func = k;
    uint32_t h = kp_h32(func_hash(&k));
    size_t slot;
    int64_t e = kp_tab_find(&m->func_tab, h, func_eq, m, &slot);
    if (e < 0) {
        if (VPUSHN(m->funcs, 1)) return NONE;
        m->funcs.v[m->funcs.n] = k;
        if (kp_tab_put(&m->func_tab, slot, h, (uint32_t)m->funcs.n) < 0) return NONE;
        e = (int64_t)m->funcs.n++;
    }
    m->sm.func[pos] = (uint32_t)e;
    return (uint32_t)e;
}

/* ---- mappings ------------------------------------------------------------------ */

static int map_eq(void *ctx, uint32_t e)
{
    merger *m = ctx;
    const mmap_ *x = &m->maps.v[e], *y = &m->probe_map;
    return x->size_key == y->size_key && x->src->file_offset == y->src->file_offset &&
           x->key_str == y->key_str;
}

static uint32_t map_mapping(merger *m, size_t pos)
{
    uint32_t r = m->sm.map[pos];
    if (r != NONE) return r;
    const kiln_pprof_mapping *sm = m->src->mapping[pos];
    mmap_ k = {0};
    k.src = sm;
    k.file = mstr_of(m, sm->filename);
    k.build_id = mstr_of(m, sm->build_id);
    if (k.file == NONE || k.build_id == NONE) return NONE;
    uint64_t size = sm->memory_limit - sm->memory_start;
    size = size + 0xfff;
    k.size_key = size - size % 0x1000;
    k.key_str = k.build_id ? k.build_id : k.file;
    m->probe_map = k;
    uint32_t h = kp_h32(kp_hash_word(kp_hash_word(kp_hash_word(1, k.size_key), sm->file_offset), k.key_str));
    size_t slot;
    int64_t e = kp_tab_find(&m->map_tab, h, map_eq, m, &slot);
    if (e < 0) {
        if (VPUSHN(m->maps, 1)) return NONE;
        m->maps.v[m->maps.n] = k;
        if (kp_tab_put(&m->map_tab, slot, h, (uint32_t)m->maps.n) < 0) return NONE;
        e = (int64_t)m->maps.n++;
    }
    m->sm.map[pos] = (uint32_t)e;
    m->sm.delta[pos] = (int64_t)(m->maps.v[e].src->memory_start - sm->memory_start);
    return (uint32_t)e;
}

/* ---- locations ---------------------------------------------------------------- */

static uint64_t loc_addr_key(const merger *m, const mloc *l)
{
    return l->mapping == NONE ? l->address : l->address - m->maps.v[l->mapping].src->memory_start;
}

static int loc_eq(void *ctx, uint32_t e)
{
    merger *m = ctx;
    const mloc *x = &m->locs.v[e], *y = &m->probe_loc;
    if (x->mapping != y->mapping || x->is_folded != y->is_folded || x->n_line != y->n_line ||
        loc_addr_key(m, x) != loc_addr_key(m, y))
        return 0;
    const mline *a = &m->lines.v[x->line_off], *b = m->probe_lines;
    for (uint32_t i = 0; i < x->n_line; i++)
        if (a[i].func != b[i].func || a[i].line != b[i].line || a[i].column != b[i].column) return 0;
    return 1;
}

/* Returns the merged location of the source's location at `pos`; NONE with
 * m->err set on failure. */
static uint32_t map_location(merger *m, size_t pos)
{
    uint32_t r = m->sm.loc[pos];
    if (r != NONE) return r;
    const kiln_pprof_location *sl = m->src->location[pos];
    mloc k = {0};
    k.mapping = NONE;
    k.address = sl->address;
    k.is_folded = !!sl->is_folded;
    if (sl->mapping_id) {
        int64_t mi = kp_idx_get(&m->ids.mapping, sl->mapping_id);
        if (mi < 0) {
            m->rc = kiln_err_set(m->err, KILN_EINVAL,
                                 "pprof merge: location[%zu].mapping_id %" PRIu64 " not found", pos,
                                 sl->mapping_id);
            return NONE;
        }
        if ((k.mapping = map_mapping(m, (size_t)mi)) == NONE) return oom(m), NONE;
        k.address = sl->address + (uint64_t)m->sm.delta[mi];
    }
    m->tmp_lines.n = 0;
    if (VPUSHN(m->tmp_lines, sl->n_line)) return oom(m), NONE;
    uint64_t h64 = kp_hash_word(kp_hash_word(kp_hash_word(2, k.mapping), k.is_folded), 0);
    for (size_t j = 0; j < sl->n_line; j++) {
        const kiln_pprof_line *ln = sl->line[j];
        int64_t fi = kp_idx_get(&m->ids.function, ln->function_id);
        if (fi < 0) {
            m->rc = kiln_err_set(m->err, KILN_EINVAL,
                                 "pprof merge: location[%zu].line[%zu].function_id %" PRIu64 " not found",
                                 pos, j, ln->function_id);
            return NONE;
        }
        mline ml = {map_function(m, (size_t)fi), ln->line, ln->column};
        if (ml.func == NONE) return oom(m), NONE;
        m->tmp_lines.v[j] = ml;
        h64 = kp_hash_word(kp_hash_word(kp_hash_word(h64, ml.func), (uint64_t)ml.line), (uint64_t)ml.column);
    }
    k.n_line = (uint32_t)sl->n_line;
    m->probe_loc = k;
    m->probe_lines = m->tmp_lines.v;
    h64 = kp_hash_word(h64, loc_addr_key(m, &k));
    uint32_t h = kp_h32(h64);
    size_t slot;
    int64_t e = kp_tab_find(&m->loc_tab, h, loc_eq, m, &slot);
    if (e < 0) {
        if (VPUSHN(m->locs, 1) || VPUSHN(m->lines, k.n_line)) return oom(m), NONE;
        k.line_off = (uint32_t)m->lines.n;
        memcpy(m->lines.v + m->lines.n, m->tmp_lines.v, k.n_line * sizeof(mline));
        m->lines.n += k.n_line;
        m->locs.v[m->locs.n] = k;
        if (kp_tab_put(&m->loc_tab, slot, h, (uint32_t)m->locs.n) < 0) return oom(m), NONE;
        e = (int64_t)m->locs.n++;
    }
    m->sm.loc[pos] = (uint32_t)e;
    return (uint32_t)e;
}

/* ---- samples -------------------------------------------------------------------- */

static int sample_eq(void *ctx, uint32_t e)
{
    merger *m = ctx;
    const msample *x = &m->samples.v[e];
    if (x->n_loc != m->tmp_locs.n || x->n_lab != m->tmp_labs.n) return 0;
    if (memcmp(m->sample_locs.v + x->loc_off, m->tmp_locs.v, x->n_loc * sizeof(uint32_t))) return 0;
    const mlabel *a = m->sample_labs.v + x->lab_off, *b = m->tmp_labs.v;
    for (uint32_t i = 0; i < x->n_lab; i++)
        if (a[i].kind != b[i].kind || a[i].key != b[i].key || a[i].str != b[i].str ||
            a[i].num != b[i].num || a[i].unit != b[i].unit)
            return 0;
    return 1;
}

/* stable insertion sort by (kind, key): label lists are short */
static void sort_labels(mlabel *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        mlabel t = v[i];
        size_t j = i;
        while (j > 0 && (v[j - 1].kind > t.kind || (v[j - 1].kind == t.kind && v[j - 1].key > t.key))) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

static int merge_sample(merger *m, size_t si)
{
    const kiln_pprof_sample *s = m->src->sample[si];
    if (s->n_value != m->n_types)
        return kiln_err_set(m->err, KILN_EINVAL, "pprof merge: sample[%zu] has %zu values, expected %zu",
                            si, s->n_value, m->n_types);
    int zero = 1;
    for (size_t i = 0; i < s->n_value; i++) zero &= s->value[i] == 0;
    if (zero) return KILN_OK;

    m->tmp_locs.n = 0;
    if (VPUSHN(m->tmp_locs, s->n_location_id)) return oom(m);
    uint64_t h64 = 3;
    for (size_t j = 0; j < s->n_location_id; j++) {
        int64_t li = kp_idx_get(&m->ids.location, s->location_id[j]);
        if (li < 0)
            return kiln_err_set(m->err, KILN_EINVAL, "pprof merge: sample[%zu].location_id[%zu] %" PRIu64 " not found",
                                si, j, s->location_id[j]);
        uint32_t ml = map_location(m, (size_t)li);
        if (ml == NONE) return m->rc ? m->rc : oom(m);
        m->tmp_locs.v[j] = ml;
        h64 = kp_hash_word(h64, ml);
    }
    m->tmp_locs.n = s->n_location_id;

    m->tmp_labs.n = 0;
    if (VPUSHN(m->tmp_labs, s->n_label)) return oom(m);
    for (size_t j = 0; j < s->n_label; j++) {
        const kiln_pprof_label *l = s->label[j];
        mlabel ml = {0};
        if (l->str) {
            ml.kind = 0;
            ml.str = mstr_of(m, l->str);
        } else if (l->num || l->num_unit) {
            ml.kind = 1;
            ml.num = l->num;
            ml.unit = mstr_of(m, l->num_unit);
        } else {
            continue; /* pprof drops labels with neither value nor unit */
        }
        ml.key = mstr_of(m, l->key);
        if (ml.key == NONE || ml.str == NONE || ml.unit == NONE) return oom(m);
        m->tmp_labs.v[m->tmp_labs.n++] = ml;
    }
    sort_labels(m->tmp_labs.v, m->tmp_labs.n);
    for (size_t j = 0; j < m->tmp_labs.n; j++) {
        const mlabel *l = &m->tmp_labs.v[j];
        h64 = kp_hash_word(kp_hash_word(kp_hash_word(h64, ((uint64_t)l->kind << 32) | l->key),
                                        ((uint64_t)l->str << 32) | l->unit),
                           (uint64_t)l->num);
    }
    uint32_t h = kp_h32(kp_hash_word(h64, m->tmp_locs.n));
    size_t slot;
    int64_t e = kp_tab_find(&m->sample_tab, h, sample_eq, m, &slot);
    if (e >= 0) {
        int64_t *v = m->values.v + m->samples.v[e].val_off;
        for (size_t i = 0; i < m->n_types; i++) v[i] = kp_add(v[i], s->value[i]);
        return KILN_OK;
    }
    if (VPUSHN(m->samples, 1) || VPUSHN(m->sample_locs, m->tmp_locs.n) ||
        VPUSHN(m->sample_labs, m->tmp_labs.n) || VPUSHN(m->values, m->n_types))
        return oom(m);
    msample ns = {(uint32_t)m->sample_locs.n, (uint32_t)m->tmp_locs.n, (uint32_t)m->sample_labs.n,
                  (uint32_t)m->tmp_labs.n, m->values.n};
    memcpy(m->sample_locs.v + m->sample_locs.n, m->tmp_locs.v, m->tmp_locs.n * sizeof(uint32_t));
    m->sample_locs.n += m->tmp_locs.n;
    memcpy(m->sample_labs.v + m->sample_labs.n, m->tmp_labs.v, m->tmp_labs.n * sizeof(mlabel));
    m->sample_labs.n += m->tmp_labs.n;
    memcpy(m->values.v + m->values.n, s->value, m->n_types * sizeof(int64_t));
    m->values.n += m->n_types;
    m->samples.v[m->samples.n] = ns;
    if (kp_tab_put(&m->sample_tab, slot, h, (uint32_t)m->samples.n) < 0) return oom(m);
    m->samples.n++;
    return KILN_OK;
}

/* ---- header --------------------------------------------------------------------- */

static int same_str(const kiln_pprof *a, int64_t x, const kiln_pprof *b, int64_t y)
{
    return strcmp(kp_str(a, x), kp_str(b, y)) == 0;
}

static void describe_types(const kiln_pprof *p, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < p->n_sample_type && o + 1 < cap; i++) {
        int w = snprintf(buf + o, cap - o, "%s%s/%s", i ? " " : "", kp_str(p, p->sample_type[i]->type),
                         kp_str(p, p->sample_type[i]->unit));
        if (w < 0) break;
        o += (size_t)w;
    }
}

static int compatible(kiln_pprof *const *in, size_t n, kiln_err *err)
{
    const kiln_pprof *a = in[0];
    int64_t at = a->period_type ? a->period_type->type : 0, au = a->period_type ? a->period_type->unit : 0;
    for (size_t k = 1; k < n; k++) {
        const kiln_pprof *b = in[k];
        int64_t bt = b->period_type ? b->period_type->type : 0, bu = b->period_type ? b->period_type->unit : 0;
        if (!same_str(a, at, b, bt) || !same_str(a, au, b, bu))
            return kiln_err_set(err, KILN_EINVAL,
                                "pprof merge: incompatible period types: profile %zu has %s/%s, profile 0 has %s/%s",
                                k, kp_str(b, bt), kp_str(b, bu), kp_str(a, at), kp_str(a, au));
        int ok = a->n_sample_type == b->n_sample_type;
        for (size_t i = 0; ok && i < a->n_sample_type; i++)
            ok = same_str(a, a->sample_type[i]->type, b, b->sample_type[i]->type) &&
                 same_str(a, a->sample_type[i]->unit, b, b->sample_type[i]->unit);
        if (!ok) {
            char x[200], y[200];
            describe_types(b, x, sizeof x);
            describe_types(a, y, sizeof y);
            return kiln_err_set(err, KILN_EINVAL,
                                "pprof merge: incompatible sample types: profile %zu has [%s], profile 0 has [%s]",
                                k, x, y);
        }
    }
    return KILN_OK;
}

/* ---- output ------------------------------------------------------------------- */

static void mark_and_number(merger *m, int compact)
{
    size_t nl = 0, nm = 0;
    for (size_t i = 0; i < m->maps.n; i++) m->maps.v[i].used = !compact || i == 0;
    for (size_t i = 0; i < m->locs.n; i++) m->locs.v[i].used = !compact;
    if (compact) {
        for (size_t s = 0; s < m->samples.n; s++) {
            const msample *x = &m->samples.v[s];
            if (x->n_loc == NONE) continue; /* dropped */
            for (uint32_t j = 0; j < x->n_loc; j++) m->locs.v[m->sample_locs.v[x->loc_off + j]].used = 1;
        }
        for (size_t i = 0; i < m->locs.n; i++)
            if (m->locs.v[i].used && m->locs.v[i].mapping != NONE) m->maps.v[m->locs.v[i].mapping].used = 1;
    }
    for (size_t i = 0; i < m->maps.n; i++)
        if (m->maps.v[i].used) m->maps.v[i].id = (uint32_t)++nm;
    for (size_t i = 0; i < m->locs.n; i++)
        if (m->locs.v[i].used) m->locs.v[i].id = (uint32_t)++nl;
}

#define ARENA_TABLE(arr, ptrs, n, type)                                                        \
    do {                                                                                       \
        ptrs = (n) ? kiln_arena_alloc(a, (n) * sizeof(type *)) : NULL;                         \
        arr = (n) ? kiln_arena_alloc(a, (n) * sizeof(type)) : NULL;                            \
        if ((n) && (!ptrs || !arr)) return oom(m);                                             \
    } while (0)

static int build_output(merger *m, kiln_arena *a, kiln_pprof *const *in, size_t n, kiln_pprof **out)
{
    static const kiln_pprof profile_init = PERFTOOLS__PROFILES__PROFILE__INIT;
    static const kiln_pprof_value_type vt_init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    static const kiln_pprof_sample sample_init = PERFTOOLS__PROFILES__SAMPLE__INIT;
    static const kiln_pprof_label label_init = PERFTOOLS__PROFILES__LABEL__INIT;
    static const kiln_pprof_mapping mapping_init = PERFTOOLS__PROFILES__MAPPING__INIT;
    static const kiln_pprof_location location_init = PERFTOOLS__PROFILES__LOCATION__INIT;
    static const kiln_pprof_line line_init = PERFTOOLS__PROFILES__LINE__INIT;
    static const kiln_pprof_function function_init = PERFTOOLS__PROFILES__FUNCTION__INIT;

    /* drop samples that summed to zero, then compact if any was dropped */
    size_t n_out = 0;
    for (size_t s = 0; s < m->samples.n; s++) {
        const int64_t *v = m->values.v + m->samples.v[s].val_off;
        int zero = 1;
        for (size_t i = 0; i < m->n_types; i++) zero &= v[i] == 0;
        if (zero)
            m->samples.v[s].n_loc = NONE;
        else
            n_out++;
    }
    mark_and_number(m, n_out != m->samples.n);

    /* functions referenced by used locations, numbered in first-seen order */
    uint32_t *fid = calloc(m->funcs.n + 1, sizeof *fid);
    if (!fid) return oom(m);
    for (size_t i = 0; i < m->locs.n; i++)
        if (m->locs.v[i].used)
            for (uint32_t j = 0; j < m->locs.v[i].n_line; j++) fid[m->lines.v[m->locs.v[i].line_off + j].func] = 1;
    size_t nf = 0;
    for (size_t i = 0; i < m->funcs.n; i++)
        if (fid[i]) fid[i] = (uint32_t)++nf;

    kiln_pprof *p = kiln_arena_alloc(a, sizeof *p);
    if (!p) {
        free(fid);
        return oom(m);
    }
    *p = profile_init;
    const kiln_pprof *first = in[0];

    /* header strings need the first profile's string map: intern by value */
#define HSTR(src, idx) intern_bytes(m, kp_str((src), (idx)), strlen(kp_str((src), (idx))))
    size_t nt = m->n_types;
    kiln_pprof_value_type *vts = NULL;
    int rc = KILN_OK;
    p->sample_type = nt ? kiln_arena_alloc(a, nt * sizeof *p->sample_type) : NULL;
    vts = nt ? kiln_arena_alloc(a, (nt + 1) * sizeof *vts) : NULL;
    if (nt && (!p->sample_type || !vts)) goto oom;
    for (size_t i = 0; i < nt; i++) {
        vts[i] = vt_init;
        vts[i].type = HSTR(first, first->sample_type[i]->type);
        vts[i].unit = HSTR(first, first->sample_type[i]->unit);
        p->sample_type[i] = &vts[i];
    }
    p->n_sample_type = nt;
    if (first->period_type) {
        if (!(p->period_type = kiln_arena_alloc(a, sizeof *p->period_type))) goto oom;
        *p->period_type = vt_init;
        p->period_type->type = HSTR(first, first->period_type->type);
        p->period_type->unit = HSTR(first, first->period_type->unit);
    }
    p->drop_frames = HSTR(first, first->drop_frames);
    p->keep_frames = HSTR(first, first->keep_frames);

    int64_t t0 = 0, dsum = 0, period = 0;
    size_t ncom = 0;
    for (size_t k = 0; k < n; k++) {
        const kiln_pprof *s = in[k];
        if (s->time_nanos && (t0 == 0 || s->time_nanos < t0)) t0 = s->time_nanos;
        dsum = kp_add(dsum, s->duration_nanos);
        if (s->period > period) period = s->period;
        ncom += s->n_comment;
        if (!p->default_sample_type && *kp_str(s, s->default_sample_type))
            p->default_sample_type = HSTR(s, s->default_sample_type);
        if (!p->doc_url && *kp_str(s, s->doc_url)) p->doc_url = HSTR(s, s->doc_url);
    }
    p->time_nanos = t0;
    p->duration_nanos = dsum;
    p->period = period;
    if (ncom) {
        if (!(p->comment = kiln_arena_alloc(a, ncom * sizeof *p->comment))) goto oom;
        for (size_t k = 0; k < n; k++)
            for (size_t i = 0; i < in[k]->n_comment; i++) {
                uint32_t c = HSTR(in[k], in[k]->comment[i]);
                size_t j = 0;
                while (j < p->n_comment && p->comment[j] != c) j++;
                if (j == p->n_comment) p->comment[p->n_comment++] = c;
            }
    }
#undef HSTR

    /* mappings */
    size_t nm = 0;
    for (size_t i = 0; i < m->maps.n; i++) nm += m->maps.v[i].used;
    kiln_pprof_mapping *maps;
    ARENA_TABLE(maps, p->mapping, nm, kiln_pprof_mapping);
    for (size_t i = 0; i < m->maps.n; i++) {
        const mmap_ *x = &m->maps.v[i];
        if (!x->used) continue;
        kiln_pprof_mapping *o = &maps[p->n_mapping];
        *o = mapping_init;
        o->id = x->id;
        o->memory_start = x->src->memory_start;
        o->memory_limit = x->src->memory_limit;
        o->file_offset = x->src->file_offset;
        o->filename = x->file;
        o->build_id = x->build_id;
        o->has_functions = x->src->has_functions;
        o->has_filenames = x->src->has_filenames;
        o->has_line_numbers = x->src->has_line_numbers;
        o->has_inline_frames = x->src->has_inline_frames;
        p->mapping[p->n_mapping++] = o;
    }

    /* functions */
    kiln_pprof_function *funcs;
    ARENA_TABLE(funcs, p->function, nf, kiln_pprof_function);
    for (size_t i = 0; i < m->funcs.n; i++) {
        if (!fid[i]) continue;
        kiln_pprof_function *o = &funcs[p->n_function];
        *o = function_init;
        o->id = fid[i];
        o->name = m->funcs.v[i].name;
        o->system_name = m->funcs.v[i].sys;
        o->filename = m->funcs.v[i].file;
        o->start_line = m->funcs.v[i].start_line;
        p->function[p->n_function++] = o;
    }

    /* locations and their lines */
    size_t nl = 0, nln = 0;
    for (size_t i = 0; i < m->locs.n; i++)
        if (m->locs.v[i].used) {
            nl++;
            nln += m->locs.v[i].n_line;
        }
    kiln_pprof_location *locs;
    ARENA_TABLE(locs, p->location, nl, kiln_pprof_location);
    kiln_pprof_line *lines = nln ? kiln_arena_alloc(a, nln * sizeof *lines) : NULL;
    kiln_pprof_line **line_ptrs = nln ? kiln_arena_alloc(a, nln * sizeof *line_ptrs) : NULL;
    if (nln && (!lines || !line_ptrs)) goto oom;
    for (size_t i = 0, li = 0; i < m->locs.n; i++) {
        const mloc *x = &m->locs.v[i];
        if (!x->used) continue;
        kiln_pprof_location *o = &locs[p->n_location];
        *o = location_init;
        o->id = x->id;
        o->mapping_id = x->mapping == NONE ? 0 : m->maps.v[x->mapping].id;
        o->address = x->address;
        o->is_folded = x->is_folded;
        o->n_line = x->n_line;
        o->line = x->n_line ? line_ptrs + li : NULL;
        for (uint32_t j = 0; j < x->n_line; j++, li++) {
            const mline *ml = &m->lines.v[x->line_off + j];
            lines[li] = line_init;
            lines[li].function_id = fid[ml->func];
            lines[li].line = ml->line;
            lines[li].column = ml->column;
            line_ptrs[li] = &lines[li];
        }
        p->location[p->n_location++] = o;
    }

    /* samples */
    size_t n_ids = 0, n_labs = 0;
    for (size_t s = 0; s < m->samples.n; s++)
        if (m->samples.v[s].n_loc != NONE) {
            n_ids += m->samples.v[s].n_loc;
            n_labs += m->samples.v[s].n_lab;
        }
    kiln_pprof_sample *samples;
    ARENA_TABLE(samples, p->sample, n_out, kiln_pprof_sample);
    uint64_t *ids = n_ids ? kiln_arena_alloc(a, n_ids * sizeof *ids) : NULL;
    int64_t *vals = n_out && nt ? kiln_arena_alloc(a, n_out * nt * sizeof *vals) : NULL;
    kiln_pprof_label *labs = n_labs ? kiln_arena_alloc(a, n_labs * sizeof *labs) : NULL;
    kiln_pprof_label **lab_ptrs = n_labs ? kiln_arena_alloc(a, n_labs * sizeof *lab_ptrs) : NULL;
    if ((n_ids && !ids) || (n_out && nt && !vals) || (n_labs && (!labs || !lab_ptrs))) goto oom;
    for (size_t s = 0; s < m->samples.n; s++) {
        const msample *x = &m->samples.v[s];
        if (x->n_loc == NONE) continue;
        kiln_pprof_sample *o = &samples[p->n_sample];
        *o = sample_init;
        o->n_location_id = x->n_loc;
        o->location_id = x->n_loc ? ids : NULL;
        for (uint32_t j = 0; j < x->n_loc; j++) *ids++ = m->locs.v[m->sample_locs.v[x->loc_off + j]].id;
        o->n_value = nt;
        o->value = nt ? vals : NULL;
        if (nt) {
            memcpy(vals, m->values.v + x->val_off, nt * sizeof *vals);
            vals += nt;
        }
        o->n_label = x->n_lab;
        o->label = x->n_lab ? lab_ptrs : NULL;
        for (uint32_t j = 0; j < x->n_lab; j++) {
            const mlabel *ml = &m->sample_labs.v[x->lab_off + j];
            *labs = label_init;
            labs->key = ml->key;
            if (ml->kind == 0) {
                labs->str = ml->str;
            } else {
                labs->num = ml->num;
                labs->num_unit = ml->unit;
            }
            *lab_ptrs++ = labs++;
        }
        p->sample[p->n_sample++] = o;
    }

    /* the string table, last: every string above is interned by now */
    if (!(p->string_table = kiln_arena_alloc(a, m->strs.n * sizeof *p->string_table))) goto oom;
    for (size_t i = 0; i < m->strs.n; i++) {
        char *s = kiln_arena_strndup(a, m->strs.v[i].s, m->strs.v[i].len);
        if (!s) goto oom;
        p->string_table[i] = s;
    }
    p->n_string_table = m->strs.n;
    free(fid);
    *out = p;
    return rc;
oom:
    free(fid);
    return oom(m);
}

/* ---- driver ------------------------------------------------------------------------ */

static void merger_free(merger *m)
{
    kp_tab_free(&m->str_tab);
    kp_tab_free(&m->func_tab);
    kp_tab_free(&m->map_tab);
    kp_tab_free(&m->loc_tab);
    kp_tab_free(&m->sample_tab);
    free(m->strs.v);
    free(m->funcs.v);
    free(m->maps.v);
    free(m->locs.v);
    free(m->lines.v);
    free(m->samples.v);
    free(m->sample_locs.v);
    free(m->sample_labs.v);
    free(m->values.v);
    free(m->tmp_lines.v);
    free(m->tmp_locs.v);
    free(m->tmp_labs.v);
}

static void src_free(merger *m)
{
    free(m->sm.str);
    free(m->sm.func);
    free(m->sm.map);
    free(m->sm.delta);
    free(m->sm.loc);
    memset(&m->sm, 0, sizeof m->sm);
    kiln_pp_ids_free(&m->ids);
}

static int src_begin(merger *m, const kiln_pprof *s)
{
    m->src = s;
    int rc = kiln_pp_ids_build(s, &m->ids, m->err);
    if (rc) return rc;
    m->sm.str = malloc((s->n_string_table + 1) * sizeof(uint32_t));
    m->sm.func = malloc((s->n_function + 1) * sizeof(uint32_t));
    m->sm.map = malloc((s->n_mapping + 1) * sizeof(uint32_t));
    m->sm.delta = malloc((s->n_mapping + 1) * sizeof(int64_t));
    m->sm.loc = malloc((s->n_location + 1) * sizeof(uint32_t));
    if (!m->sm.str || !m->sm.func || !m->sm.map || !m->sm.delta || !m->sm.loc) return oom(m);
    memset(m->sm.map, 0xff, (s->n_mapping + 1) * sizeof(uint32_t));
    memset(m->sm.loc, 0xff, (s->n_location + 1) * sizeof(uint32_t));
    memset(m->sm.str, 0xff, (s->n_string_table + 1) * sizeof(uint32_t));
    memset(m->sm.func, 0xff, (s->n_function + 1) * sizeof(uint32_t));
    /* large sources: everything up front, with prefetching (their tables do
     * not fit in cache); small ones: on first use */
    if (s->n_string_table < EAGER_MIN_STRINGS) return KILN_OK;
    if ((rc = intern_source_strings(m))) return rc;
    return map_source_functions(m);
}

int kiln_pprof_merge(kiln_arena *a, kiln_pprof *const *in, size_t n, kiln_pprof **out, kiln_err *err)
{
    if (!n || !in) return kiln_err_set(err, KILN_EINVAL, "pprof merge: no profiles to merge");
    for (size_t k = 0; k < n; k++)
        if (!in[k]) return kiln_err_set(err, KILN_EINVAL, "pprof merge: profile %zu is NULL", k);
    int rc = compatible(in, n, err);
    if (rc) return rc;

    merger m;
    memset(&m, 0, sizeof m);
    m.err = err;
    m.n_types = in[0]->n_sample_type;
    size_t est_s = 0, est_l = 0, est_f = 0, est_m = 0, est_str = 0;
    for (size_t k = 0; k < n; k++) {
        est_s = in[k]->n_sample > est_s ? in[k]->n_sample : est_s;
        est_l = in[k]->n_location > est_l ? in[k]->n_location : est_l;
        est_f = in[k]->n_function > est_f ? in[k]->n_function : est_f;
        est_m = in[k]->n_mapping > est_m ? in[k]->n_mapping : est_m;
        est_str = in[k]->n_string_table > est_str ? in[k]->n_string_table : est_str;
    }
    if (kp_tab_init(&m.str_tab, est_str + 1) || kp_tab_init(&m.func_tab, est_f + 1) ||
        kp_tab_init(&m.map_tab, est_m + 1) || kp_tab_init(&m.loc_tab, est_l + 1) ||
        kp_tab_init(&m.sample_tab, est_s + 1)) {
        rc = oom(&m);
        goto done;
    }
    if (intern_bytes(&m, "", 0) != 0) {
        rc = oom(&m);
        goto done;
    }
    for (size_t k = 0; k < n; k++) {
        if ((rc = src_begin(&m, in[k]))) goto done;
        if (m.maps.n == 0 && in[k]->n_mapping > 0 && map_mapping(&m, 0) == NONE) {
            rc = oom(&m);
            goto done;
        }
        for (size_t s = 0; s < in[k]->n_sample; s++)
            if ((rc = merge_sample(&m, s))) {
                kiln_err_prefix(err, "profile %zu", k);
                goto done;
            }
        src_free(&m);
    }
    rc = build_output(&m, a, in, n, out);
done:
    src_free(&m);
    merger_free(&m);
    return rc;
}
