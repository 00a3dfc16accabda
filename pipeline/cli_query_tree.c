/* pipeline/cli_query_tree.c — what `kiln query` computes from a merged
 * pprof besides per-function totals (those come from libkiln's
 * kiln_pprof_top):
 *
 *   - the call tree with the query exporter's frames (exporters/query/
 *     qtree.c): one frame per line of a location, outermost first, named
 *     by the function, or "0x<address>" when the line or location has no
 *     function name; nodes keyed by (parent, frame name); children ordered
 *     by name. From it: the hottest path (the child with the largest total
 *     at each step, the first by name on a tie, as /kiln/v1/findings) and
 *     folded stacks (one "root;...;leaf self" line per node with a self);
 *   - pprof's "(inline)" marks of -top rows (internal/graph: a node has an
 *     inline in-edge when, under some caller, it is always one of the inner
 *     lines of a location, i.e. inlined into that caller).
 *
 * Memory: the tree's arrays are malloc'ed and its frame names live in its
 * arena (kiln_cq_tree_free releases both); hash tables and scratch arrays
 * are freed before each function returns.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_query.h"

#define CQ_NONE UINT32_MAX

/* ---- u64 -> u32 open-addressing map -------------------------------------------------- */

typedef struct cq_map {
    uint64_t *k;
    uint32_t *v; /* CQ_NONE: empty */
    size_t cap, n;
} cq_map;

static uint64_t cq_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int cq_map_init(cq_map *m, size_t hint)
{
    size_t cap = 64;
    while (cap < hint * 2) cap *= 2;
    m->k = malloc(cap * sizeof *m->k);
    m->v = malloc(cap * sizeof *m->v);
    m->cap = cap;
    m->n = 0;
    if (!m->k || !m->v) return -1;
    memset(m->v, 0xff, cap * sizeof *m->v);
    return 0;
}

static void cq_map_free(cq_map *m)
{
    free(m->k);
    free(m->v);
    memset(m, 0, sizeof *m);
}

static size_t cq_map_slot(const cq_map *m, uint64_t key)
{
    size_t mask = m->cap - 1, i = (size_t)cq_mix(key) & mask;
    while (m->v[i] != CQ_NONE && m->k[i] != key) i = (i + 1) & mask;
    return i;
}

static uint32_t cq_map_get(const cq_map *m, uint64_t key)
{
    return m->v[cq_map_slot(m, key)];
}

/* key must be absent */
static int cq_map_put(cq_map *m, uint64_t key, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        cq_map big;
        if (cq_map_init(&big, m->cap) != 0) {
            cq_map_free(&big);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->v[i] != CQ_NONE) {
                size_t s = cq_map_slot(&big, m->k[i]);
                big.k[s] = m->k[i];
                big.v[s] = m->v[i];
            }
        big.n = m->n;
        cq_map_free(m);
        *m = big;
    }
    size_t s = cq_map_slot(m, key);
    m->k[s] = key;
    m->v[s] = val;
    m->n++;
    return 0;
}

/* ---- string -> index map (strings owned elsewhere) ------------------------------------ */

typedef struct cq_strs {
    const char **v; /* [n] */
    uint32_t n, cap;
    uint32_t *slots; /* index + 1; 0: empty */
    size_t nslots;
} cq_strs;

static uint64_t cq_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return cq_mix(h);
}

static size_t cq_strs_slot(const cq_strs *t, const char *s)
{
    size_t mask = t->nslots - 1, i = (size_t)cq_hash_str(s) & mask;
    while (t->slots[i] && strcmp(t->v[t->slots[i] - 1], s) != 0) i = (i + 1) & mask;
    return i;
}

static uint32_t cq_strs_find(const cq_strs *t, const char *s)
{
    if (!t->nslots) return CQ_NONE;
    uint32_t e = t->slots[cq_strs_slot(t, s)];
    return e ? e - 1 : CQ_NONE;
}

/* Index of s, adding it (the pointer is kept, not copied) when new. */
static uint32_t cq_strs_add(cq_strs *t, const char *s)
{
    if ((size_t)(t->n + 1) * 2 > t->nslots) {
        size_t ns = t->nslots ? t->nslots * 2 : 1024;
        uint32_t *nsl = calloc(ns, sizeof *nsl);
        if (!nsl) return CQ_NONE;
        free(t->slots);
        t->slots = nsl;
        t->nslots = ns;
        for (uint32_t i = 0; i < t->n; i++) t->slots[cq_strs_slot(t, t->v[i])] = i + 1;
    }
    size_t sl = cq_strs_slot(t, s);
    if (t->slots[sl]) return t->slots[sl] - 1;
    if (t->n == t->cap) {
        uint32_t nc = t->cap ? t->cap * 2 : 256;
        const char **nv = realloc(t->v, nc * sizeof *nv);
        if (!nv) return CQ_NONE;
        t->v = nv;
        t->cap = nc;
    }
    t->v[t->n] = s;
    t->slots[sl] = t->n + 1;
    return t->n++;
}

static void cq_strs_free(cq_strs *t)
{
    free(t->v);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ---- pprof ids ----------------------------------------------------------------------------- */

static const char *cq_str(const kiln_pprof *p, int64_t i)
{
    return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "";
}

/* id -> index maps of a profile's locations, functions and mappings */
typedef struct cq_ids {
    cq_map loc, fn, map;
} cq_ids;

static int cq_ids_build(const kiln_pprof *p, cq_ids *ids)
{
    memset(ids, 0, sizeof *ids);
    if (cq_map_init(&ids->loc, p->n_location) || cq_map_init(&ids->fn, p->n_function) ||
        cq_map_init(&ids->map, p->n_mapping))
        return -1;
    for (size_t i = 0; i < p->n_location; i++)
        if (cq_map_get(&ids->loc, p->location[i]->id) == CQ_NONE &&
            cq_map_put(&ids->loc, p->location[i]->id, (uint32_t)i))
            return -1;
    for (size_t i = 0; i < p->n_function; i++)
        if (cq_map_get(&ids->fn, p->function[i]->id) == CQ_NONE &&
            cq_map_put(&ids->fn, p->function[i]->id, (uint32_t)i))
            return -1;
    for (size_t i = 0; i < p->n_mapping; i++)
        if (cq_map_get(&ids->map, p->mapping[i]->id) == CQ_NONE &&
            cq_map_put(&ids->map, p->mapping[i]->id, (uint32_t)i))
            return -1;
    return 0;
}

static void cq_ids_free(cq_ids *ids)
{
    cq_map_free(&ids->loc);
    cq_map_free(&ids->fn);
    cq_map_free(&ids->map);
}

/* the function name of a line, "" when it has none */
static const char *cq_line_fn(const kiln_pprof *p, const cq_ids *ids, const kiln_pprof_line *ln)
{
    uint32_t fi = ln->function_id ? cq_map_get(&ids->fn, ln->function_id) : CQ_NONE;
    return fi == CQ_NONE ? "" : cq_str(p, p->function[fi]->name);
}

/* ---- the call tree ---------------------------------------------------------------------------- */

typedef struct cq_build {
    kiln_cq_tree *t;
    cq_strs names;
    cq_map child; /* (parent << 32 | name) -> node */
    uint32_t cap;
} cq_build;

static int cq_grow_nodes(cq_build *b)
{
    kiln_cq_tree *t = b->t;
    uint32_t nc = b->cap ? b->cap * 2 : 1024;
    uint32_t *np = realloc(t->parent, nc * sizeof *np);
    if (np) t->parent = np;
    uint32_t *nn = realloc(t->name, nc * sizeof *nn);
    if (nn) t->name = nn;
    int64_t *ns = realloc(t->self, nc * sizeof *ns);
    if (ns) t->self = ns;
    if (!np || !nn || !ns) return -1;
    b->cap = nc;
    return 0;
}

/* the child of `parent` named `name`, created when new; CQ_NONE: no memory */
static uint32_t cq_child(cq_build *b, uint32_t parent, uint32_t name)
{
    uint64_t key = (uint64_t)parent << 32 | name;
    uint32_t c = cq_map_get(&b->child, key);
    if (c != CQ_NONE) return c;
    kiln_cq_tree *t = b->t;
    if (t->n == CQ_NONE - 1) return CQ_NONE;
    if (t->n == b->cap && cq_grow_nodes(b) != 0) return CQ_NONE;
    c = t->n++;
    t->parent[c] = parent;
    t->name[c] = name;
    t->self[c] = 0;
    if (cq_map_put(&b->child, key, c) != 0) return CQ_NONE;
    return c;
}

/* frame name index of an address frame "0x<addr>" */
static uint32_t cq_addr_name(cq_build *b, uint64_t addr)
{
    char buf[24];
    snprintf(buf, sizeof buf, "0x%" PRIx64, addr);
    uint32_t i = cq_strs_find(&b->names, buf);
    if (i != CQ_NONE) return i;
    char *s = kiln_arena_strndup(b->t->a, buf, strlen(buf));
    return s ? cq_strs_add(&b->names, s) : CQ_NONE;
}

typedef struct cq_rank {
    const char *s;
    uint32_t id;
} cq_rank;

static int cq_cmp_rank(const void *x, const void *y)
{
    return strcmp(((const cq_rank *)x)->s, ((const cq_rank *)y)->s);
}

typedef struct cq_kid {
    uint32_t parent, rank, node;
} cq_kid;

static int cq_cmp_kid(const void *x, const void *y)
{
    const cq_kid *a = x, *b = y;
    if (a->parent != b->parent) return a->parent < b->parent ? -1 : 1;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    return 0;
}

/* totals, depths and the children lists sorted by name */
static int cq_finish(kiln_cq_tree *t)
{
    uint32_t n = t->n;
    t->total = malloc((size_t)n * sizeof *t->total);
    t->depth = malloc((size_t)n * sizeof *t->depth);
    t->coff = calloc((size_t)n + 1, sizeof *t->coff);
    t->cidx = malloc(((size_t)n + 1) * sizeof *t->cidx);
    uint32_t *rank = malloc(((size_t)t->n_names + 1) * sizeof *rank);
    cq_rank *rk = malloc(((size_t)t->n_names + 1) * sizeof *rk);
    cq_kid *kids = malloc(((size_t)n + 1) * sizeof *kids);
    int rc = -1;
    if (!t->total || !t->depth || !t->coff || !t->cidx || !rank || !rk || !kids) goto out;
    for (uint32_t i = 0; i < n; i++) t->total[i] = t->self[i];
    /* a child is always created after its parent */
    for (uint32_t i = n; i-- > 1;) t->total[t->parent[i]] = kiln_cq_add(t->total[t->parent[i]], t->total[i]);
    t->depth[0] = 0;
    for (uint32_t i = 1; i < n; i++) t->depth[i] = t->depth[t->parent[i]] + 1;
    for (uint32_t i = 0; i < t->n_names; i++) rk[i] = (cq_rank){t->names[i], i};
    qsort(rk, t->n_names, sizeof *rk, cq_cmp_rank);
    for (uint32_t i = 0; i < t->n_names; i++) rank[rk[i].id] = i;
    for (uint32_t i = 1; i < n; i++) kids[i - 1] = (cq_kid){t->parent[i], rank[t->name[i]], i};
    if (n > 1) qsort(kids, n - 1, sizeof *kids, cq_cmp_kid);
    for (uint32_t i = 1; i < n; i++) t->coff[t->parent[i] + 1]++;
    for (uint32_t i = 0; i < n; i++) t->coff[i + 1] += t->coff[i];
    for (uint32_t i = 0; i + 1 < n; i++) t->cidx[i] = kids[i].node;
    rc = 0;
out:
    free(rank);
    free(rk);
    free(kids);
    return rc;
}

int kiln_cq_tree_build(const kiln_pprof *p, size_t si, kiln_cq_tree *t, kiln_err *err)
{
    memset(t, 0, sizeof *t);
    cq_build b = {t, {0}, {0}, 0};
    cq_ids ids;
    uint32_t *loc_off = NULL, *frames = NULL;
    size_t n_frames = 0;
    int rc = KILN_ENOMEM;
    int ids_ok = cq_ids_build(p, &ids) == 0;
    t->a = kiln_arena_new(0);
    if (!ids_ok || !t->a || cq_map_init(&b.child, 1024) != 0 || cq_grow_nodes(&b) != 0) goto out;
    /* the root */
    t->n = 1;
    t->parent[0] = 0;
    t->name[0] = 0;
    t->self[0] = 0;
    /* the frames of each location, outermost first: frames[loc_off[i] .. loc_off[i+1]) */
    loc_off = malloc((p->n_location + 1) * sizeof *loc_off);
    if (!loc_off) goto out;
    for (size_t i = 0; i < p->n_location; i++) {
        loc_off[i] = (uint32_t)n_frames;
        n_frames += p->location[i]->n_line ? p->location[i]->n_line : 1;
    }
    loc_off[p->n_location] = (uint32_t)n_frames;
    frames = malloc((n_frames + 1) * sizeof *frames);
    if (!frames) goto out;
    for (size_t i = 0; i < p->n_location; i++) {
        const kiln_pprof_location *l = p->location[i];
        uint32_t *f = frames + loc_off[i];
        if (!l->n_line) {
            if ((f[0] = cq_addr_name(&b, l->address)) == CQ_NONE) goto out;
            continue;
        }
        for (size_t j = 0; j < l->n_line; j++) {
            const char *nm = cq_line_fn(p, &ids, l->line[l->n_line - 1 - j]);
            uint32_t id = *nm ? cq_strs_add(&b.names, nm) : cq_addr_name(&b, l->address);
            if (id == CQ_NONE) goto out;
            f[j] = id;
        }
    }
    for (size_t s = 0; s < p->n_sample; s++) {
        const kiln_pprof_sample *sm = p->sample[s];
        if (si >= sm->n_value || !sm->value[si]) continue;
        uint32_t node = 0;
        for (size_t k = sm->n_location_id; k-- > 0;) {
            uint32_t li = cq_map_get(&ids.loc, sm->location_id[k]);
            if (li == CQ_NONE) continue;
            for (uint32_t j = loc_off[li]; j < loc_off[li + 1]; j++)
                if ((node = cq_child(&b, node, frames[j])) == CQ_NONE) goto out;
        }
        t->self[node] = kiln_cq_add(t->self[node], sm->value[si]);
    }
    t->names = b.names.v;
    t->n_names = b.names.n;
    b.names.v = NULL;
    if (cq_finish(t) != 0) goto out;
    rc = KILN_OK;
out:
    cq_ids_free(&ids); /* zeroed by cq_ids_build even when it fails */
    cq_map_free(&b.child);
    free(b.names.v);
    free(b.names.slots);
    free(loc_off);
    free(frames);
    if (rc != KILN_OK) {
        kiln_cq_tree_free(t);
        return kiln_err_set(err, rc, "call tree: out of memory");
    }
    return KILN_OK;
}

void kiln_cq_tree_free(kiln_cq_tree *t)
{
    free(t->parent);
    free(t->name);
    free(t->depth);
    free(t->self);
    free(t->total);
    free(t->coff);
    free(t->cidx);
    free(t->names);
    kiln_arena_destroy(t->a);
    memset(t, 0, sizeof *t);
}

int kiln_cq_tree_hot_path(const kiln_cq_tree *t, uint32_t **nodes, size_t *n, kiln_err *err)
{
    *nodes = NULL;
    *n = 0;
    size_t k = 0;
    uint32_t *v = malloc(((size_t)t->n + 1) * sizeof *v);
    if (!v) return kiln_err_set(err, KILN_ENOMEM, "hottest path: out of memory");
    uint32_t at = 0;
    while (t->n) {
        uint32_t best = CQ_NONE;
        for (uint32_t j = t->coff[at]; j < t->coff[at + 1]; j++) {
            uint32_t c = t->cidx[j];
            if (t->total[c] <= 0) continue;
            if (best == CQ_NONE || t->total[c] > t->total[best]) best = c;
        }
        if (best == CQ_NONE) break;
        v[k++] = best;
        at = best;
    }
    *nodes = v;
    *n = k;
    return KILN_OK;
}

int kiln_cq_tree_folded(const kiln_cq_tree *t, FILE *out)
{
    if (t->n <= 1) return 0;
    uint32_t *stk = malloc((size_t)t->n * sizeof *stk), *it = malloc((size_t)t->n * sizeof *it);
    int rc = 0;
    if (!stk || !it) {
        free(stk);
        free(it);
        return -1;
    }
    /* stk[0..sp) is the path from the root's child to the current node */
    size_t sp = 0;
    uint32_t cur = 0, pos = t->coff[0];
    for (;;) {
        if (pos < t->coff[cur + 1]) {
            uint32_t c = t->cidx[pos++];
            it[sp] = pos;
            stk[sp++] = c;
            if (t->self[c]) {
                for (size_t i = 0; i < sp; i++) {
                    if (i) putc(';', out);
                    fputs(t->names[t->name[stk[i]]], out);
                }
                fprintf(out, " %" PRId64 "\n", t->self[c]);
            }
            cur = c;
            pos = t->coff[c];
        } else {
            if (!sp) break;
            sp--;
            cur = sp ? stk[sp - 1] : 0;
            pos = it[sp];
        }
    }
    if (ferror(out)) rc = -1;
    free(stk);
    free(it);
    return rc;
}

/* ---- pprof's inline marks -------------------------------------------------------------------- */

int kiln_cq_top_marks(const kiln_pprof *p, size_t si, const kiln_pprof_fn_total *rows, size_t n_rows,
                      int64_t edge_cutoff, uint8_t *marks, uint8_t *is_obj, kiln_err *err)
{
    cq_strs rs = {0};
    cq_ids ids;
    cq_map edges = {0};
    uint8_t *as_fn = calloc(n_rows + 1, 1), *as_file = calloc(n_rows + 1, 1);
    uint32_t *loc_off = NULL, *frames = NULL, *estamp = NULL;
    uint8_t *einl = NULL;
    uint64_t *ekey = NULL;
    int64_t *ew = NULL;
    size_t n_edges = 0, cap_edges = 0, n_frames = 0;
    int rc = KILN_ENOMEM;
    int ids_ok = cq_ids_build(p, &ids) == 0;
    if (marks) memset(marks, 0, n_rows);
    memset(is_obj, 0, n_rows);
    if (!ids_ok || !as_fn || !as_file || cq_map_init(&edges, 1024) != 0) goto out;
    for (size_t i = 0; i < n_rows; i++)
        if (cq_strs_add(&rs, rows[i].name) == CQ_NONE) goto out;
    /* which rows stand for functions and which for mapping files */
    for (size_t i = 0; i < p->n_function; i++) {
        const char *nm = cq_str(p, p->function[i]->name);
        uint32_t r = *nm ? cq_strs_find(&rs, nm) : CQ_NONE;
        if (r != CQ_NONE) as_fn[r] = 1;
    }
    for (size_t i = 0; i <= p->n_mapping; i++) {
        uint32_t r = cq_strs_find(&rs, i < p->n_mapping ? cq_str(p, p->mapping[i]->filename) : "");
        if (r != CQ_NONE) as_file[r] = 1;
    }
    for (size_t i = 0; i < n_rows; i++) is_obj[i] = as_file[i] && !as_fn[i];
    if (!marks) {
        rc = KILN_OK;
        goto out;
    }
    /* the row of each frame, pprof's order (innermost line first); CQ_NONE: not shown */
    loc_off = malloc((p->n_location + 1) * sizeof *loc_off);
    if (!loc_off) goto out;
    for (size_t i = 0; i < p->n_location; i++) {
        loc_off[i] = (uint32_t)n_frames;
        n_frames += p->location[i]->n_line ? p->location[i]->n_line : 1;
    }
    loc_off[p->n_location] = (uint32_t)n_frames;
    frames = malloc((n_frames + 1) * sizeof *frames);
    if (!frames) goto out;
    for (size_t i = 0; i < p->n_location; i++) {
        const kiln_pprof_location *l = p->location[i];
        uint32_t mi = l->mapping_id ? cq_map_get(&ids.map, l->mapping_id) : CQ_NONE;
        const char *file = mi == CQ_NONE ? "" : cq_str(p, p->mapping[mi]->filename);
        uint32_t *f = frames + loc_off[i];
        if (!l->n_line) f[0] = cq_strs_find(&rs, file);
        for (size_t j = 0; j < l->n_line; j++) {
            const char *nm = cq_line_fn(p, &ids, l->line[j]);
            f[j] = cq_strs_find(&rs, *nm ? nm : file);
        }
    }
    for (size_t s = 0; s < p->n_sample; s++) {
        const kiln_pprof_sample *sm = p->sample[s];
        if (si >= sm->n_value || !sm->value[si]) continue;
        uint32_t parent = CQ_NONE;
        for (size_t k = sm->n_location_id; k-- > 0;) {
            uint32_t li = cq_map_get(&ids.loc, sm->location_id[k]);
            if (li == CQ_NONE) continue;
            uint32_t cnt = loc_off[li + 1] - loc_off[li];
            for (uint32_t ni = cnt; ni-- > 0;) {
                uint32_t nd = frames[loc_off[li] + ni];
                if (nd == CQ_NONE) continue;
                if (parent != CQ_NONE && nd != parent) {
                    uint64_t key = (uint64_t)parent << 32 | nd;
                    uint32_t e = cq_map_get(&edges, key);
                    int inl = ni != cnt - 1;
                    if (e == CQ_NONE) {
                        if (n_edges == cap_edges) {
                            size_t nc = cap_edges ? cap_edges * 2 : 1024;
                            uint32_t *ns = realloc(estamp, nc * sizeof *ns);
                            if (ns) estamp = ns;
                            uint8_t *ni2 = realloc(einl, nc);
                            if (ni2) einl = ni2;
                            uint64_t *nk = realloc(ekey, nc * sizeof *nk);
                            if (nk) ekey = nk;
                            int64_t *nw = realloc(ew, nc * sizeof *nw);
                            if (nw) ew = nw;
                            if (!ns || !ni2 || !nk || !nw) goto out;
                            cap_edges = nc;
                        }
                        e = (uint32_t)n_edges++;
                        if (cq_map_put(&edges, key, e) != 0) goto out;
                        estamp[e] = (uint32_t)s + 1;
                        einl[e] = (uint8_t)inl;
                        ekey[e] = key;
                        ew[e] = sm->value[si];
                    } else if (estamp[e] != (uint32_t)s + 1) {
                        estamp[e] = (uint32_t)s + 1;
                        if (!inl) einl[e] = 0;
                        ew[e] = kiln_cq_add(ew[e], sm->value[si]);
                    }
                }
                parent = nd;
            }
        }
    }
    /* pprof drops the edges lighter than its edge cutoff before it looks at them */
    for (size_t e = 0; e < n_edges; e++) {
        uint64_t w = ew[e] < 0 ? (uint64_t)0 - (uint64_t)ew[e] : (uint64_t)ew[e];
        if (w >= (uint64_t)edge_cutoff) marks[(uint32_t)ekey[e]] |= einl[e] ? 1 : 2;
    }
    rc = KILN_OK;
out:
    cq_ids_free(&ids); /* zeroed by cq_ids_build even when it fails */
    cq_strs_free(&rs);
    cq_map_free(&edges);
    free(as_fn);
    free(as_file);
    free(loc_off);
    free(frames);
    free(estamp);
    free(einl);
    free(ekey);
    free(ew);
    return rc == KILN_OK ? KILN_OK : kiln_err_set(err, rc, "inline marks: out of memory");
}
