/* processors/relabel/relabel_samples.c — sample-level options of the relabel
 * processor (see relabel_samples.h).
 *
 * Steps: choose the kept value columns; decide per location what pprof's
 * Prune does to it (nothing, cut its inline lines, or prune it whole);
 * rewrite each sample's stack, values and labels into scratch memory;
 * merge samples that became identical; then copy into a fresh arena only
 * what the new samples reference, renumbering strings (ids are kept).
 *
 * Memory: a scratch arena (destroyed before returning) holds the id maps
 * and the rewritten samples; the result arena is created only when the
 * profile really changes and is handed to the caller.
 */
#include "relabel_samples.h"

#include <stdlib.h>
#include <string.h>

int kiln_relabel_samples_active(const kiln_relabel_sample_opts *o)
{
    return (o->drop_types && o->drop_types->n) || (o->keep_types && o->keep_types->n) ||
           o->drop_frames || (o->drop_labels && o->drop_labels->n) || o->max_depth > 0;
}

size_t kiln_relabel_simplify_func(const char *name, const char **start)
{
    if (name[0] == '.') name++;
    *start = name;
    static const char anon[] = "(anonymous namespace)", op[] = "operator()";
    size_t i = 0;
    while (name[i]) {
        if (strncmp(name + i, anon, sizeof anon - 1) == 0) {
            i += sizeof anon - 1;
        } else if (strncmp(name + i, op, sizeof op - 1) == 0) {
            i += sizeof op - 1;
        } else if (name[i] == '(') {
            return i;
        } else {
            i++;
        }
    }
    return i;
}

/* ---- id -> index maps (open addressing; ids are never 0) -------------------- */

typedef struct idmap {
    uint64_t *key;
    uint32_t *val;
    size_t mask;
} idmap;

static int idmap_init(idmap *m, kiln_arena *a, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    m->key = kiln_arena_calloc(a, cap * sizeof *m->key);
    m->val = kiln_arena_alloc(a, cap * sizeof *m->val);
    m->mask = cap - 1;
    return m->key && m->val ? KILN_OK : KILN_ENOMEM;
}

static size_t idhash(uint64_t k) { return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 17); }

static void idmap_put(idmap *m, uint64_t k, uint32_t v)
{
    if (k == 0) return;
    for (size_t h = idhash(k) & m->mask;; h = (h + 1) & m->mask) {
        if (m->key[h] == k) return; /* first one wins */
        if (m->key[h] == 0) {
            m->key[h] = k;
            m->val[h] = v;
            return;
        }
    }
}

static long idmap_get(const idmap *m, uint64_t k)
{
    if (k == 0) return -1;
    for (size_t h = idhash(k) & m->mask;; h = (h + 1) & m->mask) {
        if (m->key[h] == k) return m->val[h];
        if (m->key[h] == 0) return -1;
    }
}

/* ---- helpers ------------------------------------------------------------------ */

static const char *str_at(const kiln_pprof *p, int64_t i)
{
    return i >= 0 && (size_t)i < p->n_string_table && p->string_table[i] ? p->string_table[i] : "";
}

static int in_list(const kiln_strlist *l, const char *s)
{
    if (!l) return 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0) return 1;
    return 0;
}

/* a rewritten sample, in scratch memory */
typedef struct rsample {
    const uint64_t *loc;
    size_t n_loc;
    int64_t *val;
    kiln_pprof_label **lab; /* pointers to the source's labels */
    size_t n_lab;
    int dead;               /* merged into an earlier one */
} rsample;

enum { LOC_KEEP = 0, LOC_CUT = 1, LOC_PRUNE = 2 };

static int label_cmp(const void *a, const void *b)
{
    const kiln_pprof_label *x = *(kiln_pprof_label *const *)a, *y = *(kiln_pprof_label *const *)b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    if (x->str != y->str) return x->str < y->str ? -1 : 1;
    if (x->num != y->num) return x->num < y->num ? -1 : 1;
    if (x->num_unit != y->num_unit) return x->num_unit < y->num_unit ? -1 : 1;
    return 0;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t sample_hash(const rsample *s)
{
    uint64_t h = mix(0, s->n_loc);
    for (size_t i = 0; i < s->n_loc; i++) h = mix(h, s->loc[i]);
    h = mix(h, s->n_lab);
    for (size_t i = 0; i < s->n_lab; i++) {
        const kiln_pprof_label *l = s->lab[i];
        h = mix(mix(mix(mix(h, (uint64_t)l->key), (uint64_t)l->str), (uint64_t)l->num), (uint64_t)l->num_unit);
    }
    return h;
}

static int sample_same(const rsample *a, const rsample *b)
{
    if (a->n_loc != b->n_loc || a->n_lab != b->n_lab) return 0;
    if (a->n_loc && memcmp(a->loc, b->loc, a->n_loc * sizeof *a->loc) != 0) return 0;
    for (size_t i = 0; i < a->n_lab; i++)
        if (label_cmp(&a->lab[i], &b->lab[i]) != 0) return 0;
    return 1;
}

/* Merges samples with equal stack and labels into the first of them.
 * Returns the number merged away, or -1 when out of memory. */
static long merge_samples(rsample *s, size_t n, size_t nval, kiln_arena *a)
{
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    uint32_t *slot = kiln_arena_alloc(a, cap * sizeof *slot);
    if (!slot) return -1;
    memset(slot, 0xff, cap * sizeof *slot);
    long merged = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].dead) continue;
        for (size_t h = sample_hash(&s[i]) & (cap - 1);; h = (h + 1) & (cap - 1)) {
            if (slot[h] == UINT32_MAX) {
                slot[h] = (uint32_t)i;
                break;
            }
            rsample *f = &s[slot[h]];
            if (sample_same(f, &s[i])) {
                for (size_t k = 0; k < nval; k++) f->val[k] += s[i].val[k];
                s[i].dead = 1;
                merged++;
                break;
            }
        }
    }
    return merged;
}

/* ---- the rewrite ---------------------------------------------------------------------- */

typedef struct rw {
    const kiln_relabel_sample_opts *o;
    const kiln_pprof *src;
    kiln_relabel_matcher *m;
    kiln_arena *tmp;
    idmap locs, funcs, maps;
    uint8_t *loc_state;   /* LOC_* per source location */
    uint32_t *loc_cut;    /* LOC_CUT: index of the first kept line */
    int8_t *fn_drop;      /* per source function: -1 unknown, 0 keep, 1 drop */
} rw;

/* pprof's test on one function: its simplified name fully matches
 * drop_frames and does not match keep_frames. */
static int fn_drops(rw *w, long fi)
{
    if (fi < 0) return 0;
    if (w->fn_drop[fi] >= 0) return w->fn_drop[fi];
    const char *name = str_at(w->src, w->src->function[fi]->name);
    int d = 0;
    if (*name) {
        const char *st;
        size_t len = kiln_relabel_simplify_func(name, &st);
        if (kiln_relabel_re_match(w->o->drop_frames, w->m, st, len))
            d = !(w->o->keep_frames && kiln_relabel_re_match(w->o->keep_frames, w->m, st, len));
    }
    w->fn_drop[fi] = (int8_t)d;
    return d;
}

/* Decides what Prune does to each location (and how many lines a cut keeps). */
static void classify_locations(rw *w)
{
    const kiln_pprof *p = w->src;
    for (size_t li = 0; li < p->n_location; li++) {
        const kiln_pprof_location *loc = p->location[li];
        long i;
        for (i = (long)loc->n_line - 1; i >= 0; i--) {
            long fi = idmap_get(&w->funcs, loc->line[i]->function_id);
            if (fn_drops(w, fi)) break;
        }
        if (i < 0) continue;
        if (i == (long)loc->n_line - 1) {
            w->loc_state[li] = LOC_PRUNE;
        } else {
            w->loc_state[li] = LOC_CUT;
            w->loc_cut[li] = (uint32_t)(i + 1);
        }
    }
}

/* Prune's per-sample cut: from the root, past the first "user" frame, the
 * first pruned location is removed with everything toward the leaf; a cut
 * location is kept (its lines are trimmed) and everything below it goes.
 * Returns the index of the first kept entry of loc[]. */
static size_t prune_stack(rw *w, const uint64_t *loc, size_t n)
{
    int user = 0;
    for (size_t k = n; k-- > 0;) {
        long li = idmap_get(&w->locs, loc[k]);
        int st = li >= 0 ? w->loc_state[li] : LOC_KEEP;
        if (st == LOC_KEEP) {
            user = 1;
            continue;
        }
        if (!user) continue;
        return st == LOC_PRUNE ? k + 1 : k;
    }
    return 0;
}

static char *copy_str(kiln_arena *a, const char *s) { return kiln_arena_strndup(a, s, strlen(s)); }

int kiln_relabel_samples_apply(const kiln_relabel_sample_opts *o, const kiln_pprof *src,
                               kiln_relabel_matcher *m, kiln_arena **out_arena, kiln_pprof **out,
                               kiln_err *err)
{
    *out_arena = NULL;
    *out = NULL;
    const kiln_pprof *p = src;
    int types_opt = (o->drop_types && o->drop_types->n) || (o->keep_types && o->keep_types->n);
    size_t nt = p->n_sample_type;

    rw w;
    memset(&w, 0, sizeof w);
    w.o = o;
    w.src = p;
    w.m = m;
    w.tmp = kiln_arena_new(0);
    if (!w.tmp) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    int rc = KILN_ENOMEM;

    /* 1. value columns */
    size_t *keep_col = kiln_arena_alloc(w.tmp, (nt ? nt : 1) * sizeof *keep_col);
    if (!keep_col) goto fail;
    size_t nk = 0;
    for (size_t i = 0; i < nt; i++) {
        const char *ty = str_at(p, p->sample_type[i] ? p->sample_type[i]->type : 0);
        if (o->keep_types && o->keep_types->n && !in_list(o->keep_types, ty)) continue;
        if (in_list(o->drop_types, ty)) continue;
        keep_col[nk++] = i;
    }
    if (types_opt && nk == 0) {
        kiln_arena_destroy(w.tmp);
        return KILN_RS_NO_TYPES;
    }
    int cols_changed = nk != nt;

    /* 2. maps and per-location decisions */
    if (idmap_init(&w.locs, w.tmp, p->n_location) || idmap_init(&w.funcs, w.tmp, p->n_function) ||
        idmap_init(&w.maps, w.tmp, p->n_mapping))
        goto fail;
    for (size_t i = 0; i < p->n_location; i++) idmap_put(&w.locs, p->location[i]->id, (uint32_t)i);
    for (size_t i = 0; i < p->n_function; i++) idmap_put(&w.funcs, p->function[i]->id, (uint32_t)i);
    for (size_t i = 0; i < p->n_mapping; i++) idmap_put(&w.maps, p->mapping[i]->id, (uint32_t)i);
    w.loc_state = kiln_arena_calloc(w.tmp, p->n_location + 1);
    w.loc_cut = kiln_arena_calloc(w.tmp, (p->n_location + 1) * sizeof *w.loc_cut);
    w.fn_drop = kiln_arena_alloc(w.tmp, p->n_function + 1);
    if (!w.loc_state || !w.loc_cut || !w.fn_drop) goto fail;
    memset(w.fn_drop, 0xff, p->n_function + 1);
    int lines_changed = 0;
    if (o->drop_frames) {
        classify_locations(&w);
        for (size_t li = 0; li < p->n_location; li++) lines_changed |= w.loc_state[li] == LOC_CUT;
    }

    /* string indices that are dropped label keys */
    uint8_t *drop_key = NULL;
    if (o->drop_labels && o->drop_labels->n) {
        drop_key = kiln_arena_calloc(w.tmp, p->n_string_table + 1);
        if (!drop_key) goto fail;
        for (size_t i = 0; i < p->n_string_table; i++) drop_key[i] = (uint8_t)in_list(o->drop_labels, str_at(p, (int64_t)i));
    }

    /* 3. rewrite the samples */
    rsample *rs = kiln_arena_calloc(w.tmp, (p->n_sample ? p->n_sample : 1) * sizeof *rs);
    if (!rs) goto fail;
    size_t ns = 0;
    int samples_changed = 0, stacks_changed = 0;
    for (size_t si = 0; si < p->n_sample; si++) {
        const kiln_pprof_sample *s = p->sample[si];
        rsample *r = &rs[ns];
        r->val = kiln_arena_alloc(w.tmp, (nk ? nk : 1) * sizeof *r->val);
        if (!r->val) goto fail;
        int nonzero = 0;
        for (size_t k = 0; k < nk; k++) {
            r->val[k] = keep_col[k] < s->n_value ? s->value[keep_col[k]] : 0;
            nonzero |= r->val[k] != 0;
        }
        if (cols_changed && !nonzero) {
            samples_changed = 1;
            continue;
        }
        size_t from = 0, to = s->n_location_id;
        if (o->drop_frames) from = prune_stack(&w, s->location_id, s->n_location_id);
        if (o->max_depth > 0 && to - from > (size_t)o->max_depth) {
            if (o->keep_leaf) to = from + (size_t)o->max_depth;
            else from = to - (size_t)o->max_depth;
        }
        if (from != 0 || to != s->n_location_id) stacks_changed = 1;
        r->loc = s->location_id + from;
        r->n_loc = to - from;
        r->lab = kiln_arena_alloc(w.tmp, (s->n_label ? s->n_label : 1) * sizeof *r->lab);
        if (!r->lab) goto fail;
        for (size_t k = 0; k < s->n_label; k++) {
            const kiln_pprof_label *l = s->label[k];
            if (drop_key && l->key >= 0 && (size_t)l->key < p->n_string_table && drop_key[l->key]) {
                samples_changed = 1;
                continue;
            }
            r->lab[r->n_lab++] = s->label[k];
        }
        ns++;
    }
    if (stacks_changed) samples_changed = 1;
    if (!cols_changed && !samples_changed && !lines_changed) {
        kiln_arena_destroy(w.tmp);
        return KILN_RS_UNCHANGED;
    }
    if (samples_changed) {
        for (size_t i = 0; i < ns; i++)
            if (rs[i].n_lab > 1) qsort(rs[i].lab, rs[i].n_lab, sizeof *rs[i].lab, label_cmp);
        if (merge_samples(rs, ns, nk, w.tmp) < 0) goto fail;
    }

    /* 4. what the new samples reference */
    uint8_t *loc_used = kiln_arena_calloc(w.tmp, p->n_location + 1);
    uint8_t *fn_used = kiln_arena_calloc(w.tmp, p->n_function + 1);
    uint8_t *map_used = kiln_arena_calloc(w.tmp, p->n_mapping + 1);
    int64_t *sremap = kiln_arena_alloc(w.tmp, (p->n_string_table + 1) * sizeof *sremap);
    if (!loc_used || !fn_used || !map_used || !sremap) goto fail;
    for (size_t i = 0; i < p->n_string_table; i++) sremap[i] = -1;
#define MARK(idx)                                                                                  \
    do {                                                                                           \
        int64_t _i = (idx);                                                                        \
        if (_i > 0 && (size_t)_i < p->n_string_table) sremap[_i] = 1;                              \
    } while (0)
    size_t nsamples_out = 0;
    for (size_t i = 0; i < ns; i++) {
        if (rs[i].dead) continue;
        nsamples_out++;
        for (size_t k = 0; k < rs[i].n_loc; k++) {
            long li = idmap_get(&w.locs, rs[i].loc[k]);
            if (li >= 0) loc_used[li] = 1;
        }
        for (size_t k = 0; k < rs[i].n_lab; k++) {
            MARK(rs[i].lab[k]->key);
            MARK(rs[i].lab[k]->str);
            MARK(rs[i].lab[k]->num_unit);
        }
    }
    size_t nloc_out = 0, nfn_out = 0, nmap_out = 0;
    for (size_t li = 0; li < p->n_location; li++) {
        if (!loc_used[li]) continue;
        nloc_out++;
        const kiln_pprof_location *loc = p->location[li];
        long mi = idmap_get(&w.maps, loc->mapping_id);
        if (mi >= 0) map_used[mi] = 1;
        size_t first = w.loc_state[li] == LOC_CUT ? w.loc_cut[li] : 0;
        for (size_t k = first; k < loc->n_line; k++) {
            long fi = idmap_get(&w.funcs, loc->line[k]->function_id);
            if (fi >= 0) fn_used[fi] = 1;
        }
    }
    for (size_t fi = 0; fi < p->n_function; fi++) {
        if (!fn_used[fi]) continue;
        nfn_out++;
        MARK(p->function[fi]->name);
        MARK(p->function[fi]->system_name);
        MARK(p->function[fi]->filename);
    }
    for (size_t mi = 0; mi < p->n_mapping; mi++) {
        if (!map_used[mi]) continue;
        nmap_out++;
        MARK(p->mapping[mi]->filename);
        MARK(p->mapping[mi]->build_id);
    }
    /* the default sample type survives only if its type is still there */
    int64_t dflt = 0;
    for (size_t k = 0; k < nk; k++) {
        const kiln_pprof_value_type *vt = p->sample_type[keep_col[k]];
        if (!vt) continue;
        MARK(vt->type);
        MARK(vt->unit);
        if (p->default_sample_type > 0 && strcmp(str_at(p, vt->type), str_at(p, p->default_sample_type)) == 0)
            dflt = p->default_sample_type;
    }
    MARK(dflt);
    if (p->period_type) {
        MARK(p->period_type->type);
        MARK(p->period_type->unit);
    }
    for (size_t i = 0; i < p->n_comment; i++) MARK(p->comment[i]);
    MARK(p->doc_url);
    MARK(p->drop_frames);
    MARK(p->keep_frames);
#undef MARK

    /* 5. build the new model */
    kiln_arena *oa = kiln_arena_new(kiln_arena_used(w.tmp) / 2 + 4096);
    if (!oa) goto fail;
    size_t nstr = 1;
    sremap[0] = 0;
    for (size_t i = 1; i < p->n_string_table; i++)
        if (sremap[i] > 0) sremap[i] = (int64_t)nstr++;
#define S(idx) ((idx) > 0 && (size_t)(idx) < p->n_string_table && sremap[(idx)] > 0 ? sremap[(idx)] : 0)

    static const kiln_pprof prof_init = PERFTOOLS__PROFILES__PROFILE__INIT;
    static const kiln_pprof_value_type vt_init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    static const kiln_pprof_sample sample_init = PERFTOOLS__PROFILES__SAMPLE__INIT;
    static const kiln_pprof_label label_init = PERFTOOLS__PROFILES__LABEL__INIT;
    static const kiln_pprof_location loc_init = PERFTOOLS__PROFILES__LOCATION__INIT;
    static const kiln_pprof_line line_init = PERFTOOLS__PROFILES__LINE__INIT;
    static const kiln_pprof_function fn_init = PERFTOOLS__PROFILES__FUNCTION__INIT;
    static const kiln_pprof_mapping map_init = PERFTOOLS__PROFILES__MAPPING__INIT;

    kiln_pprof *np = kiln_arena_alloc(oa, sizeof *np);
    if (!np) goto fail_oa;
    *np = prof_init;
    np->n_string_table = nstr;
    np->string_table = kiln_arena_alloc(oa, nstr * sizeof *np->string_table);
    if (!np->string_table) goto fail_oa;
    np->string_table[0] = copy_str(oa, "");
    if (!np->string_table[0]) goto fail_oa;
    for (size_t i = 1; i < p->n_string_table; i++) {
        if (sremap[i] <= 0) continue;
        np->string_table[sremap[i]] = copy_str(oa, str_at(p, (int64_t)i));
        if (!np->string_table[sremap[i]]) goto fail_oa;
    }
    np->n_sample_type = nk;
    np->sample_type = kiln_arena_alloc(oa, (nk ? nk : 1) * sizeof *np->sample_type);
    if (!np->sample_type) goto fail_oa;
    for (size_t k = 0; k < nk; k++) {
        const kiln_pprof_value_type *sv = p->sample_type[keep_col[k]];
        kiln_pprof_value_type *v = kiln_arena_alloc(oa, sizeof *v);
        if (!v) goto fail_oa;
        *v = vt_init;
        v->type = sv ? S(sv->type) : 0;
        v->unit = sv ? S(sv->unit) : 0;
        np->sample_type[k] = v;
    }
    np->n_sample = nsamples_out;
    np->sample = kiln_arena_alloc(oa, (nsamples_out ? nsamples_out : 1) * sizeof *np->sample);
    if (!np->sample) goto fail_oa;
    size_t wsi = 0;
    for (size_t i = 0; i < ns; i++) {
        const rsample *r = &rs[i];
        if (r->dead) continue;
        kiln_pprof_sample *d = kiln_arena_alloc(oa, sizeof *d);
        if (!d) goto fail_oa;
        *d = sample_init;
        d->n_location_id = r->n_loc;
        d->location_id = kiln_arena_alloc(oa, (r->n_loc ? r->n_loc : 1) * sizeof *d->location_id);
        d->n_value = nk;
        d->value = kiln_arena_alloc(oa, (nk ? nk : 1) * sizeof *d->value);
        d->n_label = r->n_lab;
        d->label = kiln_arena_alloc(oa, (r->n_lab ? r->n_lab : 1) * sizeof *d->label);
        if (!d->location_id || !d->value || !d->label) goto fail_oa;
        if (r->n_loc) memcpy(d->location_id, r->loc, r->n_loc * sizeof *d->location_id);
        if (nk) memcpy(d->value, r->val, nk * sizeof *d->value);
        for (size_t k = 0; k < r->n_lab; k++) {
            kiln_pprof_label *l = kiln_arena_alloc(oa, sizeof *l);
            if (!l) goto fail_oa;
            *l = label_init;
            l->key = S(r->lab[k]->key);
            l->str = S(r->lab[k]->str);
            l->num = r->lab[k]->num;
            l->num_unit = S(r->lab[k]->num_unit);
            d->label[k] = l;
        }
        np->sample[wsi++] = d;
    }
    np->n_location = nloc_out;
    np->location = kiln_arena_alloc(oa, (nloc_out ? nloc_out : 1) * sizeof *np->location);
    if (!np->location) goto fail_oa;
    size_t wli = 0;
    for (size_t li = 0; li < p->n_location; li++) {
        if (!loc_used[li]) continue;
        const kiln_pprof_location *sl = p->location[li];
        kiln_pprof_location *d = kiln_arena_alloc(oa, sizeof *d);
        if (!d) goto fail_oa;
        *d = loc_init;
        d->id = sl->id;
        d->mapping_id = sl->mapping_id;
        d->address = sl->address;
        d->is_folded = sl->is_folded;
        size_t first = w.loc_state[li] == LOC_CUT ? w.loc_cut[li] : 0;
        d->n_line = sl->n_line - first;
        d->line = kiln_arena_alloc(oa, (d->n_line ? d->n_line : 1) * sizeof *d->line);
        if (!d->line) goto fail_oa;
        for (size_t k = 0; k < d->n_line; k++) {
            kiln_pprof_line *ln = kiln_arena_alloc(oa, sizeof *ln);
            if (!ln) goto fail_oa;
            *ln = line_init;
            ln->function_id = sl->line[first + k]->function_id;
            ln->line = sl->line[first + k]->line;
            ln->column = sl->line[first + k]->column;
            d->line[k] = ln;
        }
        np->location[wli++] = d;
    }
    np->n_function = nfn_out;
    np->function = kiln_arena_alloc(oa, (nfn_out ? nfn_out : 1) * sizeof *np->function);
    if (!np->function) goto fail_oa;
    size_t wfi = 0;
    for (size_t fi = 0; fi < p->n_function; fi++) {
        if (!fn_used[fi]) continue;
        const kiln_pprof_function *sf = p->function[fi];
        kiln_pprof_function *d = kiln_arena_alloc(oa, sizeof *d);
        if (!d) goto fail_oa;
        *d = fn_init;
        d->id = sf->id;
        d->name = S(sf->name);
        d->system_name = S(sf->system_name);
        d->filename = S(sf->filename);
        d->start_line = sf->start_line;
        np->function[wfi++] = d;
    }
    np->n_mapping = nmap_out;
    np->mapping = kiln_arena_alloc(oa, (nmap_out ? nmap_out : 1) * sizeof *np->mapping);
    if (!np->mapping) goto fail_oa;
    size_t wmi = 0;
    for (size_t mi = 0; mi < p->n_mapping; mi++) {
        if (!map_used[mi]) continue;
        const kiln_pprof_mapping *sm = p->mapping[mi];
        kiln_pprof_mapping *d = kiln_arena_alloc(oa, sizeof *d);
        if (!d) goto fail_oa;
        *d = map_init;
        d->id = sm->id;
        d->memory_start = sm->memory_start;
        d->memory_limit = sm->memory_limit;
        d->file_offset = sm->file_offset;
        d->filename = S(sm->filename);
        d->build_id = S(sm->build_id);
        d->has_functions = sm->has_functions;
        d->has_filenames = sm->has_filenames;
        d->has_line_numbers = sm->has_line_numbers;
        d->has_inline_frames = sm->has_inline_frames;
        np->mapping[wmi++] = d;
    }
    if (p->period_type) {
        np->period_type = kiln_arena_alloc(oa, sizeof *np->period_type);
        if (!np->period_type) goto fail_oa;
        *np->period_type = vt_init;
        np->period_type->type = S(p->period_type->type);
        np->period_type->unit = S(p->period_type->unit);
    }
    np->period = p->period;
    np->time_nanos = p->time_nanos;
    np->duration_nanos = p->duration_nanos;
    np->drop_frames = S(p->drop_frames);
    np->keep_frames = S(p->keep_frames);
    np->default_sample_type = S(dflt);
    np->doc_url = S(p->doc_url);
    np->n_comment = p->n_comment;
    np->comment = kiln_arena_alloc(oa, (p->n_comment ? p->n_comment : 1) * sizeof *np->comment);
    if (!np->comment) goto fail_oa;
    for (size_t i = 0; i < p->n_comment; i++) np->comment[i] = S(p->comment[i]);
#undef S
    kiln_arena_destroy(w.tmp);
    *out_arena = oa;
    *out = np;
    return KILN_RS_REBUILT;

fail_oa:
    kiln_arena_destroy(oa);
fail:
    kiln_arena_destroy(w.tmp);
    return kiln_err_set(err, rc, "relabel: out of memory rewriting a profile");
}
