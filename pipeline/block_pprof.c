/* pipeline/block_pprof.c — kiln_block_to_pprof: the samples of some series
 * of a block (or head view), summed per stack, as one pprof profile with
 * only the locations, functions, mappings and strings those stacks use.
 *
 * Memory: the profile lives in the caller's arena; work tables are
 * malloc'ed and freed here.
 */
#include "block_internal.h"

#include <kiln/kiln.h>

typedef struct sv {
    uint32_t stack;
    int64_t value;
} sv;

static int cmp_sv(const void *a, const void *b)
{
    const sv *x = a, *y = b;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

typedef struct strtab {
    const char **v;
    size_t n, cap;
    kb_map map;
} strtab;

typedef struct skey {
    const strtab *t;
    const char *s;
} skey;

static int s_eq(const void *ctx, uint32_t id)
{
    const skey *k = ctx;
    return strcmp(k->t->v[id - 1], k->s) == 0;
}

static int64_t intern(strtab *t, const char *s)
{
    if (!s || !*s) return 0;
    uint32_t h = (uint32_t)kb_hash_bytes(s, strlen(s), 7);
    skey k = {t, s};
    size_t slot;
    uint32_t id = kb_map_find(&t->map, h, s_eq, &k, &slot);
    if (id) return id - 1;
    if (t->n == t->cap) {
        size_t nc = t->cap * 2;
        const char **nv = realloc(t->v, nc * sizeof *nv);
        if (!nv) return -1;
        t->v = nv;
        t->cap = nc;
    }
    t->v[t->n] = s;
    if (kb_map_insert(&t->map, slot, h, (uint32_t)t->n + 1)) return -1;
    return (int64_t)t->n++;
}

#define OOM()                                                                                      \
    do {                                                                                           \
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory building a pprof profile");             \
        goto done;                                                                                 \
    } while (0)

/* growable arrays of pointers in the arena */
typedef struct pvec {
    void **v;
    size_t n, cap;
} pvec;

static int pvec_add(pvec *p, void *x)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 64;
        void **nv = realloc(p->v, nc * sizeof *nv);
        if (!nv) return -1;
        p->v = nv;
        p->cap = nc;
    }
    p->v[p->n++] = x;
    return 0;
}

int kiln_block_to_pprof(kiln_block *b, const uint32_t *series, size_t n_series, int64_t from,
                        int64_t to, kiln_arena *a, kiln_pprof **out, kiln_err *err)
{
    int rc = KILN_OK;
    sv *all = NULL;
    size_t n_all = 0, cap_all = 0;
    uint32_t *loc_map = NULL, *fn_map = NULL, *map_map = NULL, *stacks = NULL, *locs = NULL;
    strtab st = {0};
    pvec vs = {0}, vl = {0}, vf = {0}, vm = {0};
    int64_t t0 = 0, t1 = 0;
    const char *ptype = NULL;
    const kiln_block_meta *meta = kiln_block_get_meta(b);

    for (size_t i = 0; i < n_series; i++) {
        const char *pt = kiln_block_series_label(b, series[i], KILN_LABEL_PROFILE_TYPE);
        if (!pt) pt = "";
        if (!ptype) ptype = pt;
        else if (strcmp(ptype, pt) != 0) {
            rc = kiln_err_set(err, KILN_EINVAL, "series of different profile types (%s, %s)", ptype, pt);
            goto done;
        }
        kiln_block_samples s;
        rc = kiln_block_read_samples(b, series[i], from, to, 1, &s, err);
        if (rc != KILN_OK) goto done;
        for (size_t p = 0; p < s.n_profiles; p++) {
            int64_t end = s.time_ns[p] + (s.duration_ns[p] > 0 ? s.duration_ns[p] : 0);
            if (!t0 || s.time_ns[p] < t0) t0 = s.time_ns[p];
            if (end > t1) t1 = end;
        }
        if (n_all + s.n_samples > cap_all) {
            size_t nc = cap_all ? cap_all : 1024;
            while (nc < n_all + s.n_samples) nc *= 2;
            sv *na = realloc(all, nc * sizeof *na);
            if (!na) {
                kiln_block_samples_free(&s);
                OOM();
            }
            all = na;
            cap_all = nc;
        }
        for (size_t k = 0; k < s.n_samples; k++) all[n_all++] = (sv){s.stack[k], s.value[k]};
        kiln_block_samples_free(&s);
    }
    if (n_all > 1) qsort(all, n_all, sizeof *all, cmp_sv);
    size_t w = 0;
    for (size_t i = 0; i < n_all; i++) {
        if (w && all[w - 1].stack == all[i].stack)
            all[w - 1].value = (int64_t)((uint64_t)all[w - 1].value + (uint64_t)all[i].value);
        else
            all[w++] = all[i];
    }
    n_all = w;

    stacks = malloc((n_all ? n_all : 1) * sizeof *stacks);
    if (!stacks) OOM();
    for (size_t i = 0; i < n_all; i++) stacks[i] = all[i].stack;
    rc = kiln_block_prefetch_stacks(b, stacks, n_all, err);
    if (rc != KILN_OK) goto done;

    st.cap = 256;
    st.v = malloc(st.cap * sizeof *st.v);
    if (!st.v) OOM();
    st.v[0] = "";
    st.n = 1;
    loc_map = calloc(meta->n_locations + 1, sizeof *loc_map);
    fn_map = calloc(meta->n_functions + 1, sizeof *fn_map);
    map_map = calloc(meta->n_mappings + 1, sizeof *map_map);
    size_t cap_locs = 256;
    locs = malloc(cap_locs * sizeof *locs);
    if (!loc_map || !fn_map || !map_map || !locs) OOM();

    kiln_pprof *p = kiln_arena_alloc(a, sizeof *p);
    if (!p) OOM();
    perftools__profiles__profile__init(p);
    for (size_t i = 0; i < n_all; i++) {
        size_t depth;
        rc = kiln_block_stack(b, all[i].stack, locs, cap_locs, &depth, err);
        if (rc == KILN_ETOOBIG) {
            free(locs);
            cap_locs = depth;
            locs = malloc(cap_locs * sizeof *locs);
            if (!locs) OOM();
            rc = kiln_block_stack(b, all[i].stack, locs, cap_locs, &depth, err);
        }
        if (rc != KILN_OK) goto done;
        kiln_pprof_sample *s = kiln_arena_alloc(a, sizeof *s);
        if (!s) OOM();
        perftools__profiles__sample__init(s);
        s->n_location_id = depth;
        s->location_id = kiln_arena_alloc(a, (depth ? depth : 1) * sizeof *s->location_id);
        s->n_value = 1;
        s->value = kiln_arena_alloc(a, sizeof *s->value);
        if (!s->location_id || !s->value) OOM();
        s->value[0] = all[i].value;
        for (size_t d = 0; d < depth; d++) {
            uint32_t lid = locs[d];
            if (lid > meta->n_locations) {
                rc = kiln_err_set(err, KILN_EINVAL, "location %u out of range", lid);
                goto done;
            }
            if (!loc_map[lid]) {
                kiln_block_loc bl;
                if ((rc = kiln_block_location(b, lid, &bl, err)) != KILN_OK) goto done;
                kiln_pprof_location *l = kiln_arena_alloc(a, sizeof *l);
                if (!l) OOM();
                perftools__profiles__location__init(l);
                l->id = vl.n + 1;
                l->address = bl.address;
                l->is_folded = bl.is_folded;
                if (bl.mapping) {
                    if (bl.mapping > meta->n_mappings) {
                        rc = kiln_err_set(err, KILN_EINVAL, "mapping %u out of range", bl.mapping);
                        goto done;
                    }
                    if (!map_map[bl.mapping]) {
                        kiln_block_map bm;
                        if ((rc = kiln_block_mapping(b, bl.mapping, &bm, err)) != KILN_OK) goto done;
                        kiln_pprof_mapping *m = kiln_arena_alloc(a, sizeof *m);
                        if (!m) OOM();
                        perftools__profiles__mapping__init(m);
                        m->id = vm.n + 1;
                        m->memory_start = bm.memory_start;
                        m->memory_limit = bm.memory_limit;
                        m->file_offset = bm.file_offset;
                        m->filename = intern(&st, bm.filename);
                        m->build_id = intern(&st, bm.build_id);
                        if (m->filename < 0 || m->build_id < 0) OOM();
                        m->has_functions = (bm.flags & 1) != 0;
                        m->has_filenames = (bm.flags & 2) != 0;
                        m->has_line_numbers = (bm.flags & 4) != 0;
                        m->has_inline_frames = (bm.flags & 8) != 0;
                        if (pvec_add(&vm, m)) OOM();
                        map_map[bl.mapping] = (uint32_t)m->id;
                    }
                    l->mapping_id = map_map[bl.mapping];
                }
                l->n_line = bl.n_lines;
                l->line = kiln_arena_alloc(a, (bl.n_lines ? bl.n_lines : 1) * sizeof *l->line);
                if (!l->line) OOM();
                for (size_t k = 0; k < bl.n_lines; k++) {
                    uint32_t fid = bl.lines[k].function;
                    if (!fid || fid > meta->n_functions) {
                        rc = kiln_err_set(err, KILN_EINVAL, "function %u out of range", fid);
                        goto done;
                    }
                    if (!fn_map[fid]) {
                        kiln_block_fn bf;
                        if ((rc = kiln_block_function(b, fid, &bf, err)) != KILN_OK) goto done;
                        kiln_pprof_function *f = kiln_arena_alloc(a, sizeof *f);
                        if (!f) OOM();
                        perftools__profiles__function__init(f);
                        f->id = vf.n + 1;
                        f->name = intern(&st, bf.name);
                        f->system_name = intern(&st, bf.system_name);
                        f->filename = intern(&st, bf.filename);
                        if (f->name < 0 || f->system_name < 0 || f->filename < 0) OOM();
                        f->start_line = bf.start_line;
                        if (pvec_add(&vf, f)) OOM();
                        fn_map[fid] = (uint32_t)f->id;
                    }
                    kiln_pprof_line *ln = kiln_arena_alloc(a, sizeof *ln);
                    if (!ln) OOM();
                    perftools__profiles__line__init(ln);
                    ln->function_id = fn_map[fid];
                    ln->line = bl.lines[k].line;
                    l->line[k] = ln;
                }
                if (pvec_add(&vl, l)) OOM();
                loc_map[lid] = (uint32_t)l->id;
            }
            s->location_id[d] = loc_map[lid];
        }
        if (pvec_add(&vs, s)) OOM();
    }
    /* sample and period types from the series labels */
    const char *ty = "", *un = "", *pty = "", *pun = "";
    if (n_series) {
        const char *v;
        if ((v = kiln_block_series_label(b, series[0], KILN_LABEL_TYPE))) ty = v;
        if ((v = kiln_block_series_label(b, series[0], KILN_LABEL_UNIT))) un = v;
        if ((v = kiln_block_series_label(b, series[0], KILN_LABEL_PERIOD_TYPE))) pty = v;
        if ((v = kiln_block_series_label(b, series[0], KILN_LABEL_PERIOD_UNIT))) pun = v;
    }
    kiln_pprof_value_type *vt = kiln_arena_alloc(a, sizeof *vt);
    kiln_pprof_value_type *pt = kiln_arena_alloc(a, sizeof *pt);
    p->sample_type = kiln_arena_alloc(a, sizeof *p->sample_type);
    if (!vt || !pt || !p->sample_type) OOM();
    perftools__profiles__value_type__init(vt);
    perftools__profiles__value_type__init(pt);
    vt->type = intern(&st, ty);
    vt->unit = intern(&st, un);
    pt->type = intern(&st, pty);
    pt->unit = intern(&st, pun);
    if (vt->type < 0 || vt->unit < 0 || pt->type < 0 || pt->unit < 0) OOM();
    p->n_sample_type = 1;
    p->sample_type[0] = vt;
    p->period_type = pt;
    p->time_nanos = t0;
    p->duration_nanos = t1 > t0 ? t1 - t0 : 0;
#define MOVE(field, vec, type)                                                                     \
    do {                                                                                           \
        p->n_##field = vec.n;                                                                      \
        p->field = kiln_arena_alloc(a, (vec.n ? vec.n : 1) * sizeof(type *));                      \
        if (!p->field) OOM();                                                                      \
        if (vec.n) memcpy(p->field, vec.v, vec.n * sizeof(type *));                                \
    } while (0)
    MOVE(sample, vs, kiln_pprof_sample);
    MOVE(location, vl, kiln_pprof_location);
    MOVE(function, vf, kiln_pprof_function);
    MOVE(mapping, vm, kiln_pprof_mapping);
    p->n_string_table = st.n;
    p->string_table = kiln_arena_alloc(a, st.n * sizeof *p->string_table);
    if (!p->string_table) OOM();
    for (size_t i = 0; i < st.n; i++) {
        p->string_table[i] = kiln_arena_strndup(a, st.v[i], strlen(st.v[i]));
        if (!p->string_table[i]) OOM();
    }
    *out = p;
done:
    free(all);
    free(stacks);
    free(locs);
    free(loc_map);
    free(fn_map);
    free(map_map);
    free(st.v);
    kb_map_free(&st.map);
    free(vs.v);
    free(vl.v);
    free(vf.v);
    free(vm.v);
    return rc;
}
