/* pipeline/block_compact.c — compaction (merging a tenant's blocks of one
 * time window into one block of the next level) and retention (deleting
 * blocks past the retention period, blocks another block supersedes, and
 * data objects that never got a meta). FORMAT.md, "Compaction" and
 * "Retention", says why each step is safe against a crash at any point.
 *
 * Memory: merge keeps one symtab for the new block, the remap tables of
 * every input and one output series' samples at a time; all freed before
 * returning.
 */
#define _GNU_SOURCE /* qsort_r */
#include "block_internal.h"

#include <stdio.h>

#include <kiln/kiln.h>

/* ---- merging -------------------------------------------------------------------- */

typedef struct remap {
    uint32_t *v[KB_NSYM];
} remap;

static void drop_symbols(kiln_block *b)
{
    for (int k = 0; k < KB_NSYM; k++)
        for (uint32_t i = 0; i < b->idx.sym[k].n_chunks; i++) {
            kb_symchunk_free(b->cache[k][i]);
            free(b->cache[k][i]);
            b->cache[k][i] = NULL;
        }
}

/* Imports every symbol of b into s, filling r (old id -> new id). */
static int import_symbols(kiln_block *b, kb_symtab *s, remap *r, kiln_err *err)
{
    for (int k = 0; k < KB_NSYM; k++) {
        const kb_symsec *y = &b->idx.sym[k];
        r->v[k] = calloc(y->n + 2, sizeof *r->v[k]);
        if (!r->v[k]) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    for (int k = 0; k < KB_NSYM; k++) {
        const kb_symsec *y = &b->idx.sym[k];
        uint32_t *all = malloc((y->n_chunks ? y->n_chunks : 1) * sizeof *all);
        if (!all) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        for (uint32_t c = 0; c < y->n_chunks; c++) all[c] = c;
        int rc = kb_block_load_chunks(b, k, all, y->n_chunks, err);
        free(all);
        if (rc != KILN_OK) return rc;
        uint32_t *m = r->v[k];
        for (uint32_t c = 0; c < y->n_chunks; c++) {
            const kb_symchunk *ch = b->cache[k][c];
            for (uint32_t i = 0; i < ch->n; i++) {
                uint32_t id = ch->first + i, nid = 0;
                switch (k) {
                case KB_SYM_STRINGS:
                    nid = kb_sym_string(s, ch->str[i], strlen(ch->str[i]));
                    if (nid == UINT32_MAX) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
                    break;
                case KB_SYM_MAPPINGS: {
                    kb_mapping mm = ch->map[i];
                    if (mm.filename >= b->idx.sym[KB_SYM_STRINGS].n || mm.build_id >= b->idx.sym[KB_SYM_STRINGS].n)
                        return kiln_err_set(err, KILN_EINVAL, "block %s: mapping %u: bad string id", b->meta.id, id);
                    mm.filename = r->v[KB_SYM_STRINGS][mm.filename];
                    mm.build_id = r->v[KB_SYM_STRINGS][mm.build_id];
                    nid = kb_sym_mapping(s, &mm);
                    break;
                }
                case KB_SYM_FUNCTIONS: {
                    kb_function f = ch->fn[i];
                    uint64_t ns = b->idx.sym[KB_SYM_STRINGS].n;
                    if (f.name >= ns || f.system_name >= ns || f.filename >= ns)
                        return kiln_err_set(err, KILN_EINVAL, "block %s: function %u: bad string id", b->meta.id, id);
                    f.name = r->v[KB_SYM_STRINGS][f.name];
                    f.system_name = r->v[KB_SYM_STRINGS][f.system_name];
                    f.filename = r->v[KB_SYM_STRINGS][f.filename];
                    nid = kb_sym_function(s, &f);
                    break;
                }
                case KB_SYM_LOCATIONS: {
                    const kb_location *l = &ch->loc[i];
                    kiln_block_line tmp[64], *lines = l->n_lines <= 64 ? tmp : malloc(l->n_lines * sizeof *lines);
                    if (!lines) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
                    int bad = l->mapping > b->idx.sym[KB_SYM_MAPPINGS].n;
                    for (uint32_t j = 0; j < l->n_lines && !bad; j++) {
                        uint32_t f = l->lines[j].function;
                        if (!f || f > b->idx.sym[KB_SYM_FUNCTIONS].n) bad = 1;
                        else lines[j] = (kiln_block_line){r->v[KB_SYM_FUNCTIONS][f], l->lines[j].line};
                    }
                    if (!bad)
                        nid = kb_sym_location(s, l->mapping ? r->v[KB_SYM_MAPPINGS][l->mapping] : 0,
                                              l->address, l->is_folded, lines, l->n_lines);
                    if (lines != tmp) free(lines);
                    if (bad) return kiln_err_set(err, KILN_EINVAL, "block %s: location %u: bad reference", b->meta.id, id);
                    break;
                }
                default: {
                    uint32_t p = ch->parent[i], l = ch->nloc[i];
                    if (l > b->idx.sym[KB_SYM_LOCATIONS].n)
                        return kiln_err_set(err, KILN_EINVAL, "block %s: stack %u: bad location", b->meta.id, id);
                    nid = kb_sym_node(s, r->v[KB_SYM_STACKS][p], r->v[KB_SYM_LOCATIONS][l]);
                    break;
                }
                }
                if (!nid && k != KB_SYM_STRINGS) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
                m[id] = nid;
            }
        }
    }
    drop_symbols(b);
    return KILN_OK;
}

typedef struct sref {
    uint32_t block, series;
} sref;

static int cmp_sref(const void *x, const void *y, void *arg)
{
    kiln_block **b = arg;
    const sref *a = x, *c = y;
    const kb_series_ent *ea = &b[a->block]->idx.series[a->series];
    const kb_series_ent *ec = &b[c->block]->idx.series[c->series];
    int r = kb_labels_cmp(ea->n_labels, ea->names, ea->values, ec->n_labels, ec->names, ec->values);
    if (r) return r;
    return a->block < c->block ? -1 : a->block > c->block;
}

typedef struct pref {
    int64_t time;
    uint32_t member;
    uint32_t prof;
} pref;

static int cmp_pref(const void *x, const void *y)
{
    const pref *a = x, *b = y;
    if (a->time != b->time) return a->time < b->time ? -1 : 1;
    if (a->member != b->member) return a->member < b->member ? -1 : 1;
    return a->prof < b->prof ? -1 : a->prof > b->prof;
}

static int cmp_idstr(const void *a, const void *b)
{
    return strcmp(*(const kiln_block_id *)a, *(const kiln_block_id *)b);
}

int kiln_blocks_merge(kiln_objstore *os, const char *tenant, const kiln_block_meta *in, size_t n,
                      const char *new_id, int level, const char *tmp_dir, kiln_block_meta *out,
                      kiln_err *err)
{
    int rc = KILN_OK;
    kiln_block **b = calloc(n ? n : 1, sizeof *b);
    remap *r = calloc(n ? n : 1, sizeof *r);
    kb_symtab s;
    memset(&s, 0, sizeof s);
    kb_writer *w = NULL;
    sref *refs = NULL;
    kiln_block_samples *ms = NULL;
    kb_prof_in *pin = NULL;
    pref *order = NULL;
    kiln_block_meta m;
    memset(&m, 0, sizeof m);
    if (!b || !r || kb_symtab_init(&s) != KILN_OK) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto done;
    }
    size_t total_series = 0;
    for (size_t i = 0; i < n; i++) {
        if ((rc = kiln_block_open(os, &in[i], &b[i], err)) != KILN_OK) goto done;
        if ((rc = import_symbols(b[i], &s, &r[i], err)) != KILN_OK) goto done;
        total_series += b[i]->idx.n_series;
    }
    refs = malloc((total_series ? total_series : 1) * sizeof *refs);
    ms = calloc(n ? n : 1, sizeof *ms);
    if (!refs || !ms) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto done;
    }
    size_t nr = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < b[i]->idx.n_series; j++) refs[nr++] = (sref){(uint32_t)i, j};
    if (nr > 1) qsort_r(refs, nr, sizeof *refs, cmp_sref, b);
    if ((rc = kb_writer_new(os, tenant, new_id, tmp_dir, &w, err)) != KILN_OK) goto done;
    for (size_t i = 0; i < nr;) {
        /* members: series of equal labels (at most one per block) */
        size_t j = i + 1;
        while (j < nr) {
            const kb_series_ent *ea = &b[refs[i].block]->idx.series[refs[i].series];
            const kb_series_ent *eb = &b[refs[j].block]->idx.series[refs[j].series];
            if (kb_labels_cmp(ea->n_labels, ea->names, ea->values, eb->n_labels, eb->names, eb->values))
                break;
            j++;
        }
        size_t nm = j - i, np = 0;
        for (size_t k = 0; k < nm; k++) {
            const sref *x = &refs[i + k];
            rc = kiln_block_read_samples(b[x->block], x->series, INT64_MIN, INT64_MAX, 1, &ms[k], err);
            if (rc != KILN_OK) goto done;
            const uint32_t *st = r[x->block].v[KB_SYM_STACKS];
            for (size_t q = 0; q < ms[k].n_samples; q++) ms[k].stack[q] = st[ms[k].stack[q]];
            np += ms[k].n_profiles;
        }
        free(order);
        free(pin);
        order = malloc((np ? np : 1) * sizeof *order);
        pin = malloc((np ? np : 1) * sizeof *pin);
        if (!order || !pin) {
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            goto done;
        }
        size_t q = 0;
        for (size_t k = 0; k < nm; k++)
            for (size_t p = 0; p < ms[k].n_profiles; p++)
                order[q++] = (pref){ms[k].time_ns[p], (uint32_t)k, (uint32_t)p};
        if (np > 1) qsort(order, np, sizeof *order, cmp_pref);
        for (size_t p = 0; p < np; p++) {
            const kiln_block_samples *x = &ms[order[p].member];
            uint32_t pi = order[p].prof;
            uint64_t a = x->sample_off[pi], e = x->sample_off[pi + 1];
            pin[p] = (kb_prof_in){x->time_ns[pi], x->duration_ns[pi], x->stack + a, x->value + a,
                                  x->span ? x->span + a : NULL, (size_t)(e - a)};
        }
        const kb_series_ent *e0 = &b[refs[i].block]->idx.series[refs[i].series];
        kb_series_in sin = {e0->n_labels, e0->names, e0->values, np, pin};
        rc = kb_writer_series(w, &sin, err);
        for (size_t k = 0; k < nm; k++) kiln_block_samples_free(&ms[k]);
        if (rc != KILN_OK) goto done;
        i = j;
    }
    /* the new block's lineage */
    size_t nsrc = 0;
    for (size_t i = 0; i < n; i++) nsrc += in[i].n_sources;
    m.sources = malloc((nsrc ? nsrc : 1) * sizeof *m.sources);
    m.parents = malloc((n ? n : 1) * sizeof *m.parents);
    if (!m.sources || !m.parents) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(m.parents[i], in[i].id, sizeof m.parents[i]);
        for (size_t k = 0; k < in[i].n_sources; k++) memcpy(m.sources[m.n_sources++], in[i].sources[k], sizeof *m.sources);
    }
    m.n_parents = n;
    if (m.n_sources > 1) qsort(m.sources, m.n_sources, sizeof *m.sources, cmp_idstr);
    size_t u = 0;
    for (size_t i = 0; i < m.n_sources; i++)
        if (!u || strcmp(m.sources[u - 1], m.sources[i])) memcpy(m.sources[u++], m.sources[i], sizeof *m.sources);
    m.n_sources = u;
    m.level = level;
    snprintf(m.source, sizeof m.source, "compactor");
    rc = kb_writer_finish(w, &s, &m, err);
    w = NULL;
    if (rc == KILN_OK && out) {
        kiln_block_meta_free(out);
        rc = kiln_block_meta_copy(out, &m, err);
    }
done:
    if (w) kb_writer_abort(w);
    kiln_block_meta_free(&m);
    if (ms)
        for (size_t k = 0; k < n; k++) kiln_block_samples_free(&ms[k]);
    free(ms);
    free(order);
    free(pin);
    free(refs);
    for (size_t i = 0; i < n; i++) {
        if (b && b[i]) kiln_block_close(b[i]);
        if (r)
            for (int k = 0; k < KB_NSYM; k++) free(r[i].v[k]);
    }
    free(b);
    free(r);
    if (s.arena) kb_symtab_free(&s);
    if (rc != KILN_OK) kiln_err_prefix(err, "compacting into %s", new_id);
    return rc;
}

/* ---- planning ------------------------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

typedef struct cand {
    size_t idx;
    int64_t window;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->window != y->window) return x->window < y->window ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int kiln_blocks_compact(kiln_objstore *os, const char *tenant, const kiln_compact_opts *o,
                        kiln_compact_result *res, kiln_err *err)
{
    memset(res, 0, sizeof *res);
    int rc = KILN_OK;
    for (size_t ri = 0; ri < o->n_ranges; ri++) {
        int64_t W = o->ranges[ri];
        int level = (int)ri + 2;
        if (W <= 0) continue;
        for (;;) {
            if (o->max_jobs && res->jobs >= o->max_jobs) return KILN_OK;
            kiln_blocks_list l;
            rc = kiln_blocks_list_tenant_cached(os, tenant, o->cache, &l, NULL, NULL, err);
            if (rc != KILN_OK) return rc;
            cand *c = malloc((l.n ? l.n : 1) * sizeof *c);
            if (!c) {
                kiln_blocks_list_free(&l);
                return kiln_err_set(err, KILN_ENOMEM, "out of memory");
            }
            size_t nc = 0;
            for (size_t i = 0; i < l.n; i++) {
                const kiln_block_meta *m = &l.v[i];
                if (!l.visible[i] || m->level >= level) continue;
                int skipped = 0;
                for (size_t k = 0; k < o->n_skip && !skipped; k++) skipped = !strcmp(o->skip[k], m->id);
                if (skipped) continue;
                if (m->max_time_ns - m->min_time_ns >= W) continue; /* does not fit a window */
                c[nc++] = (cand){i, floor_div(m->min_time_ns, W)};
            }
            if (nc > 1) qsort(c, nc, sizeof *c, cmp_cand);
            size_t gi = 0, gn = 0;
            for (size_t i = 0; i < nc;) {
                size_t j = i;
                while (j < nc && c[j].window == c[i].window) j++;
                int64_t end = (c[i].window + 1) * W;
                if (j - i >= 2 && end + o->settle_ns <= o->now_ns) {
                    gi = i;
                    gn = j - i;
                    break;
                }
                i = j;
            }
            if (!gn) {
                free(c);
                kiln_blocks_list_free(&l);
                break;
            }
            kiln_block_meta *in = calloc(gn, sizeof *in);
            kiln_block_meta outm;
            memset(&outm, 0, sizeof outm);
            kiln_block_id nid;
            if (!in) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            for (size_t k = 0; k < gn && rc == KILN_OK; k++) in[k] = l.v[c[gi + k].idx];
            if (rc == KILN_OK) rc = kiln_block_id_new(o->now_ns, nid, err);
            if (rc == KILN_OK)
                rc = kiln_blocks_merge(os, tenant, in, gn, nid, level, o->tmp_dir, &outm, err);
            if (rc == KILN_EINVAL) {
                /* which input is damaged? (the caller can skip it from now on) */
                for (size_t k = 0; k < gn && !res->bad_block[0]; k++) {
                    kiln_err ve;
                    if (kiln_block_verify(os, &in[k], &ve) == KILN_EINVAL)
                        memcpy(res->bad_block, in[k].id, sizeof res->bad_block);
                }
            }
            if (rc == KILN_OK) {
                res->jobs++;
                /* the new meta is written: the inputs are hidden now; delete them */
                for (size_t k = 0; k < gn && rc == KILN_OK; k++) {
                    rc = kiln_blocks_delete(os, tenant, in[k].id, err);
                    if (rc == KILN_OK) res->sources_deleted++;
                }
            }
            kiln_block_meta_free(&outm);
            free(in); /* the metas themselves belong to the list */
            free(c);
            kiln_blocks_list_free(&l);
            if (rc != KILN_OK) return rc;
        }
    }
    return rc;
}

/* ---- retention ---------------------------------------------------------------------------- */

typedef struct dirs {
    char (*id)[KILN_BLOCK_ID_LEN + 1];
    uint8_t *has_meta;
    size_t n, cap;
    size_t prefix_len;
} dirs;

static int collect_dirs(const char *key, uint64_t size, void *arg)
{
    dirs *d = arg;
    const char *rest = key + d->prefix_len;
    const char *slash = strchr(rest, '/');
    if (!slash || (size_t)(slash - rest) != KILN_BLOCK_ID_LEN) return 0;
    char id[KILN_BLOCK_ID_LEN + 1];
    memcpy(id, rest, KILN_BLOCK_ID_LEN);
    id[KILN_BLOCK_ID_LEN] = 0;
    if (!kiln_block_id_parse(id, NULL)) return 0;
    if (!d->n || strcmp(d->id[d->n - 1], id) != 0) {
        if (d->n == d->cap) {
            size_t nc = d->cap ? d->cap * 2 : 64;
            void *ni = realloc(d->id, nc * sizeof *d->id);
            if (!ni) return KILN_ENOMEM;
            d->id = ni;
            uint8_t *nm = realloc(d->has_meta, nc);
            if (!nm) return KILN_ENOMEM;
            d->has_meta = nm;
            d->cap = nc;
        }
        memcpy(d->id[d->n], id, sizeof id);
        d->has_meta[d->n] = 0;
        d->n++;
    }
    if (!strcmp(slash + 1, "meta.json")) d->has_meta[d->n - 1] = 1;
    return 0;
}

int kiln_blocks_retention(kiln_objstore *os, const char *tenant, int64_t now_ns,
                          int64_t retention_ns, int64_t orphan_grace_ns,
                          kiln_blocks_meta_cache *cache, int *deleted, kiln_err *err)
{
    *deleted = 0;
    kiln_blocks_list l;
    int rc = kiln_blocks_list_tenant_cached(os, tenant, cache, &l, NULL, NULL, err);
    if (rc != KILN_OK) return rc;
    for (size_t i = 0; i < l.n && rc == KILN_OK; i++) {
        const kiln_block_meta *m = &l.v[i];
        /* old data, ingested long enough ago: the newest source id says when
         * (a backfill of old profiles is kept one retention period) */
        int64_t ingested_ms = 0;
        for (size_t k = 0; k < m->n_sources; k++) {
            int64_t ms;
            if (kiln_block_id_parse(m->sources[k], &ms) && ms > ingested_ms) ingested_ms = ms;
        }
        int old = retention_ns > 0 && m->max_time_ns < now_ns - retention_ns &&
                  ingested_ms * 1000000 < now_ns - retention_ns;
        if (l.visible[i] && !old) continue;
        rc = kiln_blocks_delete(os, tenant, m->id, err);
        if (rc == KILN_OK) (*deleted)++;
    }
    kiln_blocks_list_free(&l);
    if (rc != KILN_OK || orphan_grace_ns <= 0) return rc;
    /* data objects whose meta never came (an upload or compaction that died) */
    dirs d;
    memset(&d, 0, sizeof d);
    char prefix[3 * KILN_TENANT_MAX + 8];
    size_t pl = kiln_blocks_tenant_escape(tenant, prefix, sizeof prefix - 1);
    prefix[pl] = '/';
    prefix[pl + 1] = 0;
    d.prefix_len = pl + 1;
    rc = kiln_objstore_list(os, prefix, collect_dirs, &d, err);
    for (size_t i = 0; i < d.n && rc == KILN_OK; i++) {
        int64_t ms;
        if (d.has_meta[i] || !kiln_block_id_parse(d.id[i], &ms)) continue;
        if (ms * 1000000 >= now_ns - orphan_grace_ns) continue;
        rc = kiln_blocks_delete(os, tenant, d.id[i], err);
    }
    free(d.id);
    free(d.has_meta);
    return rc;
}
