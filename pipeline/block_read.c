/* pipeline/block_read.c — reading a block: open (meta + index), series
 * selection through the postings, label names and values, a series'
 * samples in a time range (one range GET over the chunks that overlap it),
 * symbols by id with lazily loaded, checksummed chunks, and stack
 * prefetching. Head views (block_head.c) share the index code and answer
 * samples and symbols from memory.
 *
 * Memory: the kiln_block owns its index (arena), its meta copy and every
 * loaded symbol chunk; pointers handed out stay valid until close.
 */
#include "block_internal.h"

#include <regex.h>
#include <stdio.h>

/* ---- open / close ------------------------------------------------------------- */

static int alloc_caches(kiln_block *b, kiln_err *err)
{
    for (int k = 0; k < KB_NSYM; k++) {
        uint32_t n = b->idx.sym[k].n_chunks;
        b->cache[k] = calloc(n ? n : 1, sizeof *b->cache[k]);
        b->cache_bad[k] = calloc(n ? n : 1, 1);
        if (!b->cache[k] || !b->cache_bad[k]) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    return KILN_OK;
}

static int get_obj(kiln_objstore *os, const kiln_block_meta *m, int file, uint8_t **data,
                   size_t *len, kiln_err *err)
{
    char key[1024];
    if (kiln_block_key(m->tenant, m->id, kiln_block_file_names[file], key, sizeof key) != KILN_OK)
        return kiln_err_set(err, KILN_EINVAL, "block key too long");
    int rc = kiln_objstore_get(os, key, data, len, err);
    if (rc != KILN_OK) {
        kiln_err_prefix(err, "block %s", m->id);
        return rc;
    }
    if (*len != m->files[file].size) {
        free(*data);
        *data = NULL;
        return kiln_err_set(err, KILN_EINVAL, "block %s: %s is %zu bytes, meta.json says %llu",
                            m->id, kiln_block_file_names[file], *len,
                            (unsigned long long)m->files[file].size);
    }
    if (kb_crc32(*data, *len) != m->files[file].crc32) {
        free(*data);
        *data = NULL;
        return kiln_err_set(err, KILN_EINVAL, "block %s: %s checksum mismatch (corrupt object)",
                            m->id, kiln_block_file_names[file]);
    }
    return KILN_OK;
}

static int check_counts(const kiln_block *b, kiln_err *err)
{
    const kiln_block_meta *m = &b->meta;
    const kb_index *x = &b->idx;
    if (x->n_series != m->n_series)
        return kiln_err_set(err, KILN_EINVAL, "block %s: index holds %u series, meta.json %llu",
                            m->id, x->n_series, (unsigned long long)m->n_series);
    const uint64_t want[KB_NSYM] = {m->n_strings, m->n_mappings, m->n_functions, m->n_locations,
                                    m->n_stacks};
    for (int k = 0; k < KB_NSYM; k++)
        if (x->sym[k].n != want[k])
            return kiln_err_set(err, KILN_EINVAL, "block %s: index holds %llu %s, meta.json %llu",
                                m->id, (unsigned long long)x->sym[k].n, kb_sym_names[k],
                                (unsigned long long)want[k]);
    uint64_t np = 0, ns = 0;
    for (uint32_t i = 0; i < x->n_series; i++) {
        np += x->series[i].n_prof;
        ns += x->series[i].n_samp;
    }
    if (np != m->n_profiles || ns != m->n_samples)
        return kiln_err_set(err, KILN_EINVAL, "block %s: series counts differ from meta.json", m->id);
    return KILN_OK;
}

int kiln_block_open(kiln_objstore *os, const kiln_block_meta *m, kiln_block **out, kiln_err *err)
{
    kiln_block *b = calloc(1, sizeof *b);
    if (!b) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    pthread_mutex_init(&b->mu, NULL);
    int rc = kiln_block_meta_copy(&b->meta, m, err);
    if (rc != KILN_OK) {
        pthread_mutex_destroy(&b->mu);
        free(b);
        return rc;
    }
    b->os = os;
    uint8_t *data = NULL;
    size_t len = 0;
    rc = get_obj(os, m, KILN_BLOCK_FILE_INDEX, &data, &len, err);
    if (rc == KILN_OK) {
        rc = kb_index_decode(data, len, m->files[KILN_BLOCK_FILE_SYMBOLS].size,
                             m->files[KILN_BLOCK_FILE_SAMPLES].size, &b->idx, err);
        if (rc != KILN_OK) kiln_err_prefix(err, "block %s", m->id);
    }
    free(data);
    if (rc == KILN_OK) rc = check_counts(b, err);
    if (rc == KILN_OK) rc = alloc_caches(b, err);
    if (rc != KILN_OK) {
        kiln_block_close(b);
        return rc;
    }
    *out = b;
    return KILN_OK;
}

void kiln_block_close(kiln_block *b)
{
    if (!b) return;
    for (int k = 0; k < KB_NSYM; k++) {
        if (b->cache[k])
            for (uint32_t i = 0; i < b->idx.sym[k].n_chunks; i++) {
                kb_symchunk_free(b->cache[k][i]);
                free(b->cache[k][i]);
            }
        free(b->cache[k]);
        free(b->cache_bad[k]);
    }
    kb_index_free(&b->idx);
    kiln_block_meta_free(&b->meta);
    free(b->head_map);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

const kiln_block_meta *kiln_block_get_meta(const kiln_block *b) { return &b->meta; }

/* ---- series and labels ----------------------------------------------------------- */

size_t kiln_block_series_count(const kiln_block *b) { return b->idx.n_series; }

int kiln_block_series(const kiln_block *b, uint32_t i, kiln_block_series_info *out)
{
    if (i >= b->idx.n_series) return KILN_EINVAL;
    const kb_series_ent *e = &b->idx.series[i];
    out->n_labels = e->n_labels;
    out->names = e->names;
    out->values = e->values;
    out->min_time_ns = e->min_t;
    out->max_time_ns = e->max_t;
    out->n_profiles = e->n_prof;
    out->n_samples = e->n_samp;
    return KILN_OK;
}

const char *kiln_block_series_label(const kiln_block *b, uint32_t i, const char *name)
{
    if (i >= b->idx.n_series) return NULL;
    const kb_series_ent *e = &b->idx.series[i];
    size_t lo = 0, hi = e->n_labels;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(e->names[mid], name);
        if (c == 0) return e->values[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* Index string id of s, or -1. */
static int64_t str_lookup(const kb_index *x, const char *s)
{
    size_t lo = 0, hi = x->n_str;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(x->str[mid], s);
        if (c == 0) return (int64_t)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* Postings entries of one name: [*a, *b). */
static void name_range(const kb_index *x, uint32_t name, uint32_t *a, uint32_t *b)
{
    uint32_t lo = 0, hi = x->n_post;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (x->post[mid].name < name) lo = mid + 1;
        else hi = mid;
    }
    *a = lo;
    hi = x->n_post;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (x->post[mid].name <= name) lo = mid + 1;
        else hi = mid;
    }
    *b = lo;
}

typedef struct matcher_rt {
    const kiln_block_matcher *m;
    regex_t re;
    int have_re;
} matcher_rt;

static int value_matches(matcher_rt *rt, const char *v)
{
    const kiln_block_matcher *m = rt->m;
    switch (m->op) {
    case KILN_MATCH_EQ: return strcmp(v, m->value) == 0;
    case KILN_MATCH_NEQ: return strcmp(v, m->value) != 0;
    default: {
        int hit = m->fn ? m->fn(v, m->arg) != 0 : regexec(&rt->re, v, 0, NULL, 0) == 0;
        return m->op == KILN_MATCH_RE ? hit : !hit;
    }
    }
}

int kiln_block_select(kiln_block *b, const kiln_block_matcher *ms, size_t n_m, int64_t from,
                      int64_t to, uint32_t **ids, size_t *n, kiln_err *err)
{
    const kb_index *x = &b->idx;
    *ids = NULL;
    *n = 0;
    uint8_t *sel = malloc(x->n_series ? x->n_series : 1);
    uint8_t *cur = malloc(x->n_series ? x->n_series : 1);
    if (!sel || !cur) {
        free(sel);
        free(cur);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    memset(sel, 1, x->n_series);
    int rc = KILN_OK;
    for (size_t k = 0; k < n_m; k++) {
        matcher_rt rt = {&ms[k], {0}, 0};
        if ((ms[k].op == KILN_MATCH_RE || ms[k].op == KILN_MATCH_NRE) && !ms[k].fn) {
            size_t l = strlen(ms[k].value);
            char *pat = malloc(l + 5);
            if (!pat) {
                rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                break;
            }
            snprintf(pat, l + 5, "^(%s)$", ms[k].value);
            int r = regcomp(&rt.re, pat, REG_EXTENDED | REG_NOSUB);
            free(pat);
            if (r != 0) {
                rc = kiln_err_set(err, KILN_EINVAL, "label matcher %s: bad regex \"%s\"",
                                  ms[k].name, ms[k].value);
                break;
            }
            rt.have_re = 1;
        }
        /* series without the label match iff the matcher accepts "" */
        int empty_ok = value_matches(&rt, "");
        memset(cur, empty_ok, x->n_series);
        int64_t nid = str_lookup(x, ms[k].name);
        if (nid >= 0) {
            uint32_t a, bb;
            name_range(x, (uint32_t)nid, &a, &bb);
            for (uint32_t p = a; p < bb; p++) {
                int hit = value_matches(&rt, x->str[x->post[p].value]);
                for (uint32_t j = 0; j < x->post[p].n; j++) cur[x->post[p].ids[j]] = (uint8_t)hit;
            }
        }
        if (rt.have_re) regfree(&rt.re);
        for (uint32_t i = 0; i < x->n_series; i++) sel[i] &= cur[i];
    }
    size_t cnt = 0;
    if (rc == KILN_OK) {
        for (uint32_t i = 0; i < x->n_series; i++)
            if (sel[i] && x->series[i].max_t >= from && x->series[i].min_t < to) cnt++;
        if (cnt) {
            *ids = malloc(cnt * sizeof **ids);
            if (!*ids) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            else {
                size_t w = 0;
                for (uint32_t i = 0; i < x->n_series; i++)
                    if (sel[i] && x->series[i].max_t >= from && x->series[i].min_t < to)
                        (*ids)[w++] = i;
                *n = cnt;
            }
        }
    }
    free(sel);
    free(cur);
    return rc;
}

int kiln_block_label_names(const kiln_block *b, const char ***out, size_t *n, kiln_err *err)
{
    const kb_index *x = &b->idx;
    *out = malloc((x->n_post ? x->n_post : 1) * sizeof **out);
    if (!*out) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    size_t w = 0;
    for (uint32_t i = 0; i < x->n_post; i++)
        if (i == 0 || x->post[i].name != x->post[i - 1].name) (*out)[w++] = x->str[x->post[i].name];
    *n = w;
    return KILN_OK;
}

int kiln_block_label_values(const kiln_block *b, const char *name, const char ***out, size_t *n,
                            kiln_err *err)
{
    const kb_index *x = &b->idx;
    *out = NULL;
    *n = 0;
    int64_t nid = str_lookup(x, name);
    if (nid < 0) return KILN_OK;
    uint32_t a, bb;
    name_range(x, (uint32_t)nid, &a, &bb);
    if (a == bb) return KILN_OK;
    *out = malloc((bb - a) * sizeof **out);
    if (!*out) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (uint32_t p = a; p < bb; p++) (*out)[p - a] = x->str[x->post[p].value];
    *n = bb - a;
    return KILN_OK;
}

/* ---- samples -------------------------------------------------------------------------------- */

int kiln_block_read_samples(kiln_block *b, uint32_t series, int64_t from, int64_t to,
                            int want_samples, kiln_block_samples *out, kiln_err *err)
{
    memset(out, 0, sizeof *out);
    if (series >= b->idx.n_series)
        return kiln_err_set(err, KILN_EINVAL, "series %u out of range", series);
    if (b->head) {
        uint32_t hs = b->head_map[series];
        return kb_head_read_samples(b->head, hs, from, to, want_samples, out, err);
    }
    const kb_series_ent *e = &b->idx.series[series];
    uint32_t first = UINT32_MAX, last = 0;
    for (uint32_t j = 0; j < e->n_chunks; j++) {
        const kb_sample_chunk *c = &b->idx.chunks[e->first_chunk + j];
        if (c->max_t < from || c->min_t >= to) continue;
        if (first == UINT32_MAX) first = e->first_chunk + j;
        last = e->first_chunk + j;
    }
    out->sample_off = calloc(1, sizeof *out->sample_off);
    if (!out->sample_off) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    if (first == UINT32_MAX) return KILN_OK;
    uint64_t off = b->idx.chunks[first].loc.off;
    uint64_t end = b->idx.chunks[last].loc.off + b->idx.chunks[last].loc.clen;
    for (uint32_t c = first; c <= last; c++) {
        if (b->idx.chunks[c].loc.off < off) off = b->idx.chunks[c].loc.off;
        uint64_t ce = b->idx.chunks[c].loc.off + b->idx.chunks[c].loc.clen;
        if (ce > end) end = ce;
    }
    char key[1024];
    if (kiln_block_key(b->meta.tenant, b->meta.id, "samples.bin", key, sizeof key) != KILN_OK)
        return kiln_err_set(err, KILN_EINVAL, "block key too long");
    uint8_t *data = NULL;
    size_t got = 0;
    int rc = kiln_objstore_get_range(b->os, key, off, (size_t)(end - off), &data, &got, err);
    if (rc != KILN_OK) {
        kiln_err_prefix(err, "block %s", b->meta.id);
        kiln_block_samples_free(out);
        return rc;
    }
    if (got != end - off) {
        free(data);
        kiln_block_samples_free(out);
        return kiln_err_set(err, KILN_EINVAL, "block %s: samples.bin is truncated (%zu of %llu bytes at %llu)",
                            b->meta.id, got, (unsigned long long)(end - off),
                            (unsigned long long)off);
    }
    for (uint32_t c = first; c <= last && rc == KILN_OK; c++) {
        const kb_sample_chunk *ch = &b->idx.chunks[c];
        if (ch->max_t < from || ch->min_t >= to) continue;
        const uint8_t *z = data + (ch->loc.off - off);
        if (kb_crc32(z, ch->loc.clen) != ch->loc.crc) {
            rc = kiln_err_set(err, KILN_EINVAL, "block %s: sample chunk %u checksum mismatch (corrupt samples.bin)",
                              b->meta.id, c);
            break;
        }
        uint8_t *raw;
        rc = kb_zstd_decompress(z, ch->loc.clen, ch->loc.rlen, &raw, err);
        if (rc == KILN_OK) {
            rc = kb_chunk_decode(raw, ch->loc.rlen, want_samples, from, to, ch->n_prof, ch->n_samp,
                                 out, err);
            free(raw);
        }
        if (rc != KILN_OK) kiln_err_prefix(err, "block %s: chunk %u", b->meta.id, c);
    }
    free(data);
    if (rc == KILN_OK && want_samples && b->meta.n_stacks < UINT32_MAX)
        for (size_t i = 0; i < out->n_samples; i++)
            if (out->stack[i] > b->meta.n_stacks) {
                rc = kiln_err_set(err, KILN_EINVAL, "block %s: stack id %u out of range", b->meta.id,
                                  out->stack[i]);
                break;
            }
    if (rc != KILN_OK) kiln_block_samples_free(out);
    return rc;
}

/* ---- symbols ------------------------------------------------------------------------------------ */

static uint32_t sym_first(int sec) { return sec == KB_SYM_STRINGS ? 0 : 1; }

int kb_block_load_chunks(kiln_block *b, int sec, const uint32_t *chunks, size_t n, kiln_err *err)
{
    const kb_symsec *y = &b->idx.sym[sec];
    char key[1024];
    if (kiln_block_key(b->meta.tenant, b->meta.id, "symbols.bin", key, sizeof key) != KILN_OK)
        return kiln_err_set(err, KILN_EINVAL, "block key too long");
    int rc = KILN_OK;
    pthread_mutex_lock(&b->mu);
    size_t i = 0;
    while (i < n && rc == KILN_OK) {
        uint32_t c = chunks[i];
        if (c >= y->n_chunks) {
            rc = kiln_err_set(err, KILN_EINVAL, "%s chunk %u out of range", kb_sym_names[sec], c);
            break;
        }
        if (__atomic_load_n(&b->cache[sec][c], __ATOMIC_ACQUIRE)) {
            i++;
            continue;
        }
        if (b->cache_bad[sec][c]) {
            rc = kiln_err_set(err, KILN_EINVAL, "block %s: %s chunk %u is corrupt", b->meta.id,
                              kb_sym_names[sec], c);
            break;
        }
        /* a run of unloaded chunks that sit close together: one range GET */
        size_t j = i + 1;
        uint64_t off = y->chunks[c].off, end = off + y->chunks[c].clen;
        while (j < n && chunks[j] < y->n_chunks && chunks[j] > chunks[j - 1] &&
               !b->cache[sec][chunks[j]] && !b->cache_bad[sec][chunks[j]] &&
               y->chunks[chunks[j]].off >= end && y->chunks[chunks[j]].off - end <= 256 * 1024) {
            end = y->chunks[chunks[j]].off + y->chunks[chunks[j]].clen;
            j++;
        }
        uint8_t *data = NULL;
        size_t got = 0;
        rc = kiln_objstore_get_range(b->os, key, off, (size_t)(end - off), &data, &got, err);
        if (rc != KILN_OK) {
            kiln_err_prefix(err, "block %s", b->meta.id);
            break;
        }
        if (got != end - off) {
            free(data);
            rc = kiln_err_set(err, KILN_EINVAL, "block %s: symbols.bin is truncated", b->meta.id);
            break;
        }
        for (size_t k = i; k < j && rc == KILN_OK; k++) {
            uint32_t cc = chunks[k];
            const kb_chunk_loc *l = &y->chunks[cc];
            const uint8_t *z = data + (l->off - off);
            if (kb_crc32(z, l->clen) != l->crc) {
                b->cache_bad[sec][cc] = 1;
                rc = kiln_err_set(err, KILN_EINVAL,
                                  "block %s: %s chunk %u checksum mismatch (corrupt symbols.bin)",
                                  b->meta.id, kb_sym_names[sec], cc);
                break;
            }
            uint8_t *raw;
            rc = kb_zstd_decompress(z, l->clen, l->rlen, &raw, err);
            if (rc != KILN_OK) {
                b->cache_bad[sec][cc] = 1;
                kiln_err_prefix(err, "block %s: %s chunk %u", b->meta.id, kb_sym_names[sec], cc);
                break;
            }
            uint32_t first = sym_first(sec) + cc * y->per_chunk;
            uint64_t left = y->n - (uint64_t)cc * y->per_chunk;
            uint32_t cnt = left < y->per_chunk ? (uint32_t)left : y->per_chunk;
            kb_symchunk *ch = calloc(1, sizeof *ch);
            if (!ch) {
                free(raw);
                rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                break;
            }
            rc = kb_symchunk_decode(sec, raw, l->rlen, first, cnt, ch, err);
            free(raw);
            if (rc != KILN_OK) {
                free(ch);
                b->cache_bad[sec][cc] = 1;
                kiln_err_prefix(err, "block %s", b->meta.id);
                break;
            }
            __atomic_store_n(&b->cache[sec][cc], ch, __ATOMIC_RELEASE);
        }
        free(data);
        i = j;
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* The chunk holding entry `id` of a section, loading it when needed. */
static const kb_symchunk *sym_chunk(kiln_block *b, int sec, uint32_t id, uint32_t *idx,
                                    kiln_err *err)
{
    const kb_symsec *y = &b->idx.sym[sec];
    uint32_t f = sym_first(sec);
    if (id < f || (uint64_t)(id - f) >= y->n) {
        kiln_err_set(err, KILN_EINVAL, "block %s: %s id %u out of range", b->meta.id,
                     kb_sym_names[sec], id);
        return NULL;
    }
    uint32_t c = (id - f) / y->per_chunk;
    *idx = (id - f) % y->per_chunk;
    kb_symchunk *ch = __atomic_load_n(&b->cache[sec][c], __ATOMIC_ACQUIRE);
    if (ch) return ch;
    if (kb_block_load_chunks(b, sec, &c, 1, err) != KILN_OK) return NULL;
    return __atomic_load_n(&b->cache[sec][c], __ATOMIC_ACQUIRE);
}

int kiln_block_stack_node(kiln_block *b, uint32_t node, uint32_t *parent, uint32_t *location,
                          kiln_err *err)
{
    if (b->head) {
        uint32_t pl[2];
        int rc = kb_head_sym(b->head, KB_SYM_STACKS, node, pl, err);
        if (rc == KILN_OK) {
            *parent = pl[0];
            *location = pl[1];
        }
        return rc;
    }
    uint32_t i;
    const kb_symchunk *c = sym_chunk(b, KB_SYM_STACKS, node, &i, err);
    if (!c) return err ? err->code : KILN_EINVAL;
    *parent = c->parent[i];
    *location = c->nloc[i];
    if (*location > b->idx.sym[KB_SYM_LOCATIONS].n)
        return kiln_err_set(err, KILN_EINVAL, "block %s: stack node %u names location %u of %llu",
                            b->meta.id, node, *location,
                            (unsigned long long)b->idx.sym[KB_SYM_LOCATIONS].n);
    return KILN_OK;
}

int kiln_block_stack(kiln_block *b, uint32_t stack, uint32_t *locs, size_t cap, size_t *depth,
                     kiln_err *err)
{
    size_t d = 0;
    uint32_t node = stack;
    while (node) {
        uint32_t parent, loc;
        int rc = kiln_block_stack_node(b, node, &parent, &loc, err);
        if (rc != KILN_OK) return rc;
        if (d < cap) locs[d] = loc;
        d++;
        if (parent >= node || d > KB_MAX_DEPTH)
            return kiln_err_set(err, KILN_EINVAL, "block %s: stack %u is malformed", b->meta.id, stack);
        node = parent;
    }
    *depth = d;
    if (d > cap) return kiln_err_set(err, KILN_ETOOBIG, "stack %u is %zu deep, room for %zu", stack, d, cap);
    return KILN_OK;
}

int kiln_block_location(kiln_block *b, uint32_t id, kiln_block_loc *out, kiln_err *err)
{
    const kb_location *l;
    kb_location hl;
    if (b->head) {
        int rc = kb_head_sym(b->head, KB_SYM_LOCATIONS, id, &hl, err);
        if (rc != KILN_OK) return rc;
        l = &hl;
    } else {
        uint32_t i;
        const kb_symchunk *c = sym_chunk(b, KB_SYM_LOCATIONS, id, &i, err);
        if (!c) return err ? err->code : KILN_EINVAL;
        l = &c->loc[i];
    }
    out->mapping = l->mapping;
    out->address = l->address;
    out->is_folded = l->is_folded;
    out->n_lines = l->n_lines;
    out->lines = l->lines;
    return KILN_OK;
}

int kiln_block_function(kiln_block *b, uint32_t id, kiln_block_fn *out, kiln_err *err)
{
    const kb_function *f;
    kb_function hf;
    if (b->head) {
        int rc = kb_head_sym(b->head, KB_SYM_FUNCTIONS, id, &hf, err);
        if (rc != KILN_OK) return rc;
        f = &hf;
    } else {
        uint32_t i;
        const kb_symchunk *c = sym_chunk(b, KB_SYM_FUNCTIONS, id, &i, err);
        if (!c) return err ? err->code : KILN_EINVAL;
        f = &c->fn[i];
    }
    int rc;
    if ((rc = kiln_block_string(b, f->name, &out->name, err)) != KILN_OK ||
        (rc = kiln_block_string(b, f->system_name, &out->system_name, err)) != KILN_OK ||
        (rc = kiln_block_string(b, f->filename, &out->filename, err)) != KILN_OK)
        return rc;
    out->start_line = f->start_line;
    return KILN_OK;
}

int kiln_block_mapping(kiln_block *b, uint32_t id, kiln_block_map *out, kiln_err *err)
{
    const kb_mapping *m;
    kb_mapping hm;
    if (b->head) {
        int rc = kb_head_sym(b->head, KB_SYM_MAPPINGS, id, &hm, err);
        if (rc != KILN_OK) return rc;
        m = &hm;
    } else {
        uint32_t i;
        const kb_symchunk *c = sym_chunk(b, KB_SYM_MAPPINGS, id, &i, err);
        if (!c) return err ? err->code : KILN_EINVAL;
        m = &c->map[i];
    }
    int rc;
    if ((rc = kiln_block_string(b, m->filename, &out->filename, err)) != KILN_OK ||
        (rc = kiln_block_string(b, m->build_id, &out->build_id, err)) != KILN_OK)
        return rc;
    out->memory_start = m->start;
    out->memory_limit = m->limit;
    out->file_offset = m->offset;
    out->flags = m->flags;
    return KILN_OK;
}

int kiln_block_string(kiln_block *b, uint32_t id, const char **out, kiln_err *err)
{
    if (b->head) return kb_head_sym(b->head, KB_SYM_STRINGS, id, out, err);
    uint32_t i;
    const kb_symchunk *c = sym_chunk(b, KB_SYM_STRINGS, id, &i, err);
    if (!c) return err ? err->code : KILN_EINVAL;
    *out = c->str[i];
    return KILN_OK;
}

/* ---- prefetch ------------------------------------------------------------------------------------ */

typedef struct chunkset {
    uint8_t *want;
    uint32_t n;
} chunkset;

static int load_marked(kiln_block *b, int sec, chunkset *cs, kiln_err *err)
{
    uint32_t *list = malloc((cs->n ? cs->n : 1) * sizeof *list);
    if (!list) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    size_t k = 0;
    for (uint32_t c = 0; c < cs->n; c++)
        if (cs->want[c] && !__atomic_load_n(&b->cache[sec][c], __ATOMIC_ACQUIRE)) list[k++] = c;
    int rc = k ? kb_block_load_chunks(b, sec, list, k, err) : KILN_OK;
    free(list);
    return rc;
}

static void mark(const kiln_block *b, int sec, chunkset *cs, uint32_t id)
{
    uint32_t f = sym_first(sec);
    if (id < f) return;
    uint64_t i = (uint64_t)(id - f) / b->idx.sym[sec].per_chunk;
    if (i < cs->n) cs->want[i] = 1;
}

int kiln_block_prefetch_stacks(kiln_block *b, const uint32_t *stacks, size_t n, kiln_err *err)
{
    if (b->head) return KILN_OK; /* in memory already */
    int rc = KILN_OK;
    chunkset cs[KB_NSYM];
    memset(cs, 0, sizeof cs);
    uint32_t *front = malloc((n ? n : 1) * sizeof *front), *next = NULL;
    for (int k = 0; k < KB_NSYM; k++) {
        cs[k].n = b->idx.sym[k].n_chunks;
        cs[k].want = calloc(cs[k].n ? cs[k].n : 1, 1);
        if (!cs[k].want) rc = KILN_ENOMEM;
    }
    next = malloc((n ? n : 1) * sizeof *next);
    if (!front || !next || rc) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto done;
    }
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        if (stacks[i]) front[nf++] = stacks[i];
    /* walk all stacks up together; each round loads the node chunks the
     * walks stopped at */
    while (nf && rc == KILN_OK) {
        for (size_t i = 0; i < nf; i++) mark(b, KB_SYM_STACKS, &cs[KB_SYM_STACKS], front[i]);
        if ((rc = load_marked(b, KB_SYM_STACKS, &cs[KB_SYM_STACKS], err)) != KILN_OK) break;
        size_t nn = 0;
        for (size_t i = 0; i < nf && rc == KILN_OK; i++) {
            uint32_t node = front[i];
            size_t steps = 0;
            while (node) {
                uint32_t f = 1, per = b->idx.sym[KB_SYM_STACKS].per_chunk;
                if ((uint64_t)(node - f) >= b->idx.sym[KB_SYM_STACKS].n) {
                    rc = kiln_err_set(err, KILN_EINVAL, "block %s: stack id %u out of range", b->meta.id, node);
                    break;
                }
                const kb_symchunk *c = __atomic_load_n(&b->cache[KB_SYM_STACKS][(node - f) / per], __ATOMIC_ACQUIRE);
                if (!c) {
                    next[nn++] = node;
                    break;
                }
                uint32_t k = (node - f) % per;
                mark(b, KB_SYM_LOCATIONS, &cs[KB_SYM_LOCATIONS], c->nloc[k]);
                if (c->parent[k] >= node || ++steps > KB_MAX_DEPTH) {
                    rc = kiln_err_set(err, KILN_EINVAL, "block %s: malformed stack tree", b->meta.id);
                    break;
                }
                node = c->parent[k];
            }
        }
        /* the same chunk may be asked for by many walks; keep the list small */
        uint32_t *t = front;
        front = next;
        next = t;
        nf = nn;
        memset(cs[KB_SYM_STACKS].want, 0, cs[KB_SYM_STACKS].n);
    }
    if (rc != KILN_OK) goto done;
    if ((rc = load_marked(b, KB_SYM_LOCATIONS, &cs[KB_SYM_LOCATIONS], err)) != KILN_OK) goto done;
    for (uint32_t c = 0; c < cs[KB_SYM_LOCATIONS].n; c++) {
        if (!cs[KB_SYM_LOCATIONS].want[c]) continue;
        const kb_symchunk *ch = b->cache[KB_SYM_LOCATIONS][c];
        for (uint32_t i = 0; i < ch->n; i++) {
            mark(b, KB_SYM_MAPPINGS, &cs[KB_SYM_MAPPINGS], ch->loc[i].mapping);
            for (uint32_t j = 0; j < ch->loc[i].n_lines; j++)
                mark(b, KB_SYM_FUNCTIONS, &cs[KB_SYM_FUNCTIONS], ch->loc[i].lines[j].function);
        }
    }
    if ((rc = load_marked(b, KB_SYM_FUNCTIONS, &cs[KB_SYM_FUNCTIONS], err)) != KILN_OK ||
        (rc = load_marked(b, KB_SYM_MAPPINGS, &cs[KB_SYM_MAPPINGS], err)) != KILN_OK)
        goto done;
    for (uint32_t c = 0; c < cs[KB_SYM_FUNCTIONS].n; c++) {
        if (!cs[KB_SYM_FUNCTIONS].want[c]) continue;
        const kb_symchunk *ch = b->cache[KB_SYM_FUNCTIONS][c];
        for (uint32_t i = 0; i < ch->n; i++) {
            mark(b, KB_SYM_STRINGS, &cs[KB_SYM_STRINGS], ch->fn[i].name);
            mark(b, KB_SYM_STRINGS, &cs[KB_SYM_STRINGS], ch->fn[i].system_name);
            mark(b, KB_SYM_STRINGS, &cs[KB_SYM_STRINGS], ch->fn[i].filename);
        }
    }
    for (uint32_t c = 0; c < cs[KB_SYM_MAPPINGS].n; c++) {
        if (!cs[KB_SYM_MAPPINGS].want[c]) continue;
        const kb_symchunk *ch = b->cache[KB_SYM_MAPPINGS][c];
        for (uint32_t i = 0; i < ch->n; i++) {
            mark(b, KB_SYM_STRINGS, &cs[KB_SYM_STRINGS], ch->map[i].filename);
            mark(b, KB_SYM_STRINGS, &cs[KB_SYM_STRINGS], ch->map[i].build_id);
        }
    }
    rc = load_marked(b, KB_SYM_STRINGS, &cs[KB_SYM_STRINGS], err);
done:
    for (int k = 0; k < KB_NSYM; k++) free(cs[k].want);
    free(front);
    free(next);
    return rc;
}
