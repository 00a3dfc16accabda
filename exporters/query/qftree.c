/* exporters/query/qftree.c — call trees of a merged pprof, for the outputs
 * that Pyroscope derives from one:
 *   - SelectMergeProfile's max_nodes: stacks are cut where the call tree's
 *     nodes fall below the max_nodes-th largest node total; what is cut
 *     becomes one leaf location named "other" (samples left with the same
 *     stack are merged; a stack cut entirely becomes the stack [other]);
 *   - SelectMergeStacktraces format TREE: Pyroscope's serialized function
 *     name tree (depth first from a virtual root; per node: uvarint name
 *     length, the name, uvarint self, uvarint child count; children in name
 *     order, written last first; nodes below the threshold folded into an
 *     "other" child);
 *   - format DOT: a Graphviz call graph of the heaviest functions.
 * The tree is over functions (a location's lines, innermost first), as
 * Pyroscope's; a location without lines is named by its address in hex.
 *
 * Memory: trees are malloc'ed and freed here; a truncated profile's new
 * arrays and strings are allocated in the caller's arena (the profile's).
 */
#include "query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FT_OTHER "other"

typedef struct ft_node {
    int32_t parent;
    uint32_t key; /* function index (by id) or canonical name index */
    int64_t total, self;
} ft_node;

/* A call tree with a hash index of (parent, key) -> node. Node 0 is the
 * virtual root. */
typedef struct ft_tree {
    ft_node *n;
    size_t len, cap;
    int32_t *slots; /* open addressing, -1 empty */
    size_t nslots;
} ft_tree;

static uint64_t ft_hash(int32_t parent, uint32_t key)
{
    uint64_t h = ((uint64_t)(uint32_t)parent << 32) | key;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static int ft_grow(ft_tree *t)
{
    size_t ns = t->nslots ? t->nslots * 2 : 1024;
    int32_t *s = malloc(ns * sizeof *s);
    if (!s) return -1;
    memset(s, 0xff, ns * sizeof *s);
    for (size_t i = 1; i < t->len; i++) {
        size_t j = ft_hash(t->n[i].parent, t->n[i].key) & (ns - 1);
        while (s[j] >= 0) j = (j + 1) & (ns - 1);
        s[j] = (int32_t)i;
    }
    free(t->slots);
    t->slots = s;
    t->nslots = ns;
    return 0;
}

static int ft_init(ft_tree *t)
{
    memset(t, 0, sizeof *t);
    t->cap = 1024;
    if (!(t->n = calloc(t->cap, sizeof *t->n))) return -1;
    t->n[0].parent = -1;
    t->len = 1;
    return ft_grow(t);
}

static void ft_free(ft_tree *t)
{
    free(t->n);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* The child `key` of `parent`, made when missing; -1 when out of memory. */
static int32_t ft_child(ft_tree *t, int32_t parent, uint32_t key)
{
    size_t j = ft_hash(parent, key) & (t->nslots - 1);
    for (; t->slots[j] >= 0; j = (j + 1) & (t->nslots - 1)) {
        const ft_node *c = &t->n[t->slots[j]];
        if (c->parent == parent && c->key == key) return t->slots[j];
    }
    if (t->len >= INT32_MAX) return -1;
    if (t->len == t->cap) {
        ft_node *nn = realloc(t->n, 2 * t->cap * sizeof *nn);
        if (!nn) return -1;
        t->n = nn;
        t->cap *= 2;
    }
    int32_t id = (int32_t)t->len++;
    t->n[id] = (ft_node){parent, key, 0, 0};
    t->slots[j] = id;
    if (t->len * 2 > t->nslots && ft_grow(t) != 0) return -1;
    return id;
}

/* Adds v along the path root->...->leaf (keys given leaf first); returns the
 * leaf's node (0 for an empty stack), or -1 when out of memory. */
static int32_t ft_insert(ft_tree *t, const uint32_t *leaf_first, size_t n, int64_t v)
{
    int32_t cur = 0;
    t->n[0].total += v;
    for (size_t i = n; i-- > 0;) {
        if ((cur = ft_child(t, cur, leaf_first[i])) < 0) return -1;
        t->n[cur].total += v;
    }
    t->n[cur].self += v;
    return cur;
}

static int cmp_i64_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The smallest node total that stays when at most max_nodes are kept: the
 * max_nodes-th largest total of the real nodes; 0 (keep all) when the tree
 * is no larger than that, or max_nodes < 1. */
static int64_t ft_min_value(const ft_tree *t, int64_t max_nodes, int *oom)
{
    size_t n = t->len - 1;
    if (max_nodes < 1 || n <= (size_t)max_nodes) return 0;
    int64_t *v = malloc(n * sizeof *v);
    if (!v) {
        *oom = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++) v[i] = t->n[i + 1].total;
    qsort(v, n, sizeof *v, cmp_i64_desc);
    int64_t m = v[max_nodes - 1];
    free(v);
    return m;
}

/* ---- the profile's tables ------------------------------------------------------------ */

/* Index of the function / location with `id` (ids are usually index+1). */
typedef struct ft_ids {
    uint64_t *ids; /* sorted ids */
    uint32_t *idx; /* their array index */
    size_t n;
} ft_ids;

typedef struct id_ix {
    uint64_t id;
    uint32_t ix;
} id_ix;

static int cmp_id_ix(const void *a, const void *b)
{
    uint64_t x = ((const id_ix *)a)->id, y = ((const id_ix *)b)->id;
    return x < y ? -1 : x > y;
}

static int ids_build(ft_ids *m, size_t n, uint64_t (*id_of)(const kiln_pprof *, size_t), const kiln_pprof *p)
{
    memset(m, 0, sizeof *m);
    if (!n) return 0;
    id_ix *v = malloc(n * sizeof *v);
    m->ids = malloc(n * sizeof *m->ids);
    m->idx = malloc(n * sizeof *m->idx);
    if (!v || !m->ids || !m->idx) {
        free(v);
        return -1;
    }
    for (size_t i = 0; i < n; i++) v[i] = (id_ix){id_of(p, i), (uint32_t)i};
    qsort(v, n, sizeof *v, cmp_id_ix);
    for (size_t i = 0; i < n; i++) {
        m->ids[i] = v[i].id;
        m->idx[i] = v[i].ix;
    }
    m->n = n;
    free(v);
    return 0;
}

static void ids_free(ft_ids *m)
{
    free(m->ids);
    free(m->idx);
}

/* -1 when absent */
static int64_t ids_find(const ft_ids *m, uint64_t id)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < m->n && m->ids[lo] == id ? (int64_t)m->idx[lo] : -1;
}

static uint64_t fn_id(const kiln_pprof *p, size_t i) { return p->function[i]->id; }
static uint64_t loc_id(const kiln_pprof *p, size_t i) { return p->location[i]->id; }

typedef struct ft_prof {
    const kiln_pprof *p;
    ft_ids fns, locs;
    uint32_t *stack; /* scratch: keys leaf first */
    size_t stack_cap;
} ft_prof;

static int prof_open(ft_prof *fp, const kiln_pprof *p)
{
    memset(fp, 0, sizeof *fp);
    fp->p = p;
    if (ids_build(&fp->fns, p->n_function, fn_id, p) != 0 || ids_build(&fp->locs, p->n_location, loc_id, p) != 0)
        return -1;
    return 0;
}

static void prof_close(ft_prof *fp)
{
    ids_free(&fp->fns);
    ids_free(&fp->locs);
    free(fp->stack);
}

static int stack_push(ft_prof *fp, size_t *n, uint32_t k)
{
    if (*n == fp->stack_cap) {
        size_t nc = fp->stack_cap ? fp->stack_cap * 2 : 256;
        uint32_t *ns = realloc(fp->stack, nc * sizeof *ns);
        if (!ns) return -1;
        fp->stack = ns;
        fp->stack_cap = nc;
    }
    fp->stack[(*n)++] = k;
    return 0;
}

/* ---- max_nodes for SelectMergeProfile ------------------------------------------------ */

/* The function keys of sample s, leaf first: the index of each line's
 * function (lines whose function is unknown are left out). */
static int sample_functions(ft_prof *fp, const kiln_pprof_sample *s, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < s->n_location_id; i++) {
        int64_t li = ids_find(&fp->locs, s->location_id[i]);
        if (li < 0) continue;
        const kiln_pprof_location *l = fp->p->location[li];
        for (size_t j = 0; j < l->n_line; j++) {
            int64_t fi = ids_find(&fp->fns, l->line[j]->function_id);
            if (fi >= 0 && stack_push(fp, n, (uint32_t)fi) != 0) return -1;
        }
    }
    return 0;
}

static size_t location_functions(ft_prof *fp, uint64_t id)
{
    int64_t li = ids_find(&fp->locs, id);
    if (li < 0) return 0;
    const kiln_pprof_location *l = fp->p->location[li];
    size_t k = 0;
    for (size_t j = 0; j < l->n_line; j++) k += ids_find(&fp->fns, l->line[j]->function_id) >= 0;
    return k;
}

/* Samples keyed by their (new) location list, to merge equal stacks. */
typedef struct ft_smap {
    kiln_pprof_sample **v; /* open addressing */
    size_t cap, len;
} ft_smap;

static uint64_t locs_hash(const uint64_t *l, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= l[i];
        h *= 1099511628211ULL;
        h ^= h >> 29;
    }
    return h;
}

static int smap_grow(ft_smap *m)
{
    size_t nc = m->cap ? m->cap * 2 : 1024;
    kiln_pprof_sample **nv = calloc(nc, sizeof *nv);
    if (!nv) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        kiln_pprof_sample *s = m->v[i];
        if (!s) continue;
        size_t j = locs_hash(s->location_id, s->n_location_id) & (nc - 1);
        while (nv[j]) j = (j + 1) & (nc - 1);
        nv[j] = s;
    }
    free(m->v);
    m->v = nv;
    m->cap = nc;
    return 0;
}

/* The sample with these locations, or NULL; *slot is where to put a new one. */
static kiln_pprof_sample *smap_find(const ft_smap *m, const uint64_t *l, size_t n, size_t *slot)
{
    size_t j = locs_hash(l, n) & (m->cap - 1);
    for (; m->v[j]; j = (j + 1) & (m->cap - 1)) {
        const kiln_pprof_sample *s = m->v[j];
        if (s->n_location_id == n && (n == 0 || !memcmp(s->location_id, l, n * sizeof *l))) {
            *slot = j;
            return m->v[j];
        }
    }
    *slot = j;
    return NULL;
}

/* Adds the "other" function and location to p (strings and arrays copied
 * into a); returns the new location id, 0 when out of memory. */
static uint64_t add_other(kiln_pprof *p, kiln_arena *a)
{
    int64_t name = -1;
    for (size_t i = 0; i < p->n_string_table; i++)
        if (!strcmp(p->string_table[i], FT_OTHER)) name = (int64_t)i;
    if (name < 0) {
        char **st = kiln_arena_alloc(a, (p->n_string_table + 1) * sizeof *st);
        if (!st) return 0;
        if (p->n_string_table) memcpy(st, p->string_table, p->n_string_table * sizeof *st);
        if (!(st[p->n_string_table] = kiln_arena_strndup(a, FT_OTHER, strlen(FT_OTHER)))) return 0;
        name = (int64_t)p->n_string_table;
        p->string_table = st;
        p->n_string_table++;
    }
    uint64_t fid = 0, lid = 0;
    for (size_t i = 0; i < p->n_function; i++)
        if (p->function[i]->id > fid) fid = p->function[i]->id;
    for (size_t i = 0; i < p->n_location; i++)
        if (p->location[i]->id > lid) lid = p->location[i]->id;
    fid++;
    lid++;
    kiln_pprof_function *f = kiln_arena_alloc(a, sizeof *f);
    kiln_pprof_location *l = kiln_arena_alloc(a, sizeof *l);
    kiln_pprof_line *ln = kiln_arena_alloc(a, sizeof *ln);
    kiln_pprof_line **lns = kiln_arena_alloc(a, sizeof *lns);
    kiln_pprof_function **fv = kiln_arena_alloc(a, (p->n_function + 1) * sizeof *fv);
    kiln_pprof_location **lv = kiln_arena_alloc(a, (p->n_location + 1) * sizeof *lv);
    if (!f || !l || !ln || !lns || !fv || !lv) return 0;
    perftools__profiles__function__init(f);
    f->id = fid;
    f->name = f->system_name = name;
    perftools__profiles__line__init(ln);
    ln->function_id = fid;
    lns[0] = ln;
    perftools__profiles__location__init(l);
    l->id = lid;
    l->mapping_id = p->n_mapping ? p->mapping[0]->id : 0;
    l->n_line = 1;
    l->line = lns;
    if (p->n_function) memcpy(fv, p->function, p->n_function * sizeof *fv);
    if (p->n_location) memcpy(lv, p->location, p->n_location * sizeof *lv);
    fv[p->n_function++] = f;
    lv[p->n_location++] = l;
    p->function = fv;
    p->location = lv;
    return lid;
}

int kiln_query_pprof_truncate(kiln_pprof *p, int64_t max_nodes, kiln_arena *a, kiln_err *err)
{
    if (!p || max_nodes < 1 || !p->n_sample) return KILN_OK;
    ft_prof fp;
    ft_tree t = {0};
    int32_t *leaf = NULL;
    ft_smap sm = {0};
    int rc = KILN_ENOMEM, oom = 0;
    if (prof_open(&fp, p) != 0 || ft_init(&t) != 0) goto out;
    if (!(leaf = malloc(p->n_sample * sizeof *leaf))) goto out;
    for (size_t i = 0; i < p->n_sample; i++) {
        const kiln_pprof_sample *s = p->sample[i];
        size_t n;
        int64_t v = s->n_value ? s->value[0] : 0;
        if (sample_functions(&fp, s, &n) != 0 || (leaf[i] = ft_insert(&t, fp.stack, n, v)) < 0) goto out;
    }
    int64_t minv = ft_min_value(&t, max_nodes, &oom);
    if (oom) goto out;
    if (minv == 0) {
        rc = KILN_OK;
        goto out;
    }
    uint64_t other = add_other(p, a);
    if (!other) goto out;
    kiln_pprof_sample **out = kiln_arena_alloc(a, (p->n_sample + 1) * sizeof *out);
    if (!out || smap_grow(&sm) != 0) goto out;
    size_t nout = 0;
    kiln_pprof_sample *stub = NULL; /* stacks cut entirely */
    for (size_t i = 0; i < p->n_sample; i++) {
        kiln_pprof_sample *s = p->sample[i];
        /* functions cut from the leaf side: the path's nodes below minv */
        size_t cut = 0, depth = 0;
        for (int32_t k = leaf[i]; k > 0; k = t.n[k].parent) {
            depth++;
            if (t.n[k].total < minv) cut = depth;
        }
        const uint64_t *locs = s->location_id;
        size_t nloc = s->n_location_id;
        uint64_t *nl = NULL;
        if (depth == 0 || cut == depth) {
            if (!stub) {
                if (!(stub = kiln_arena_calloc(a, sizeof *stub))) goto out;
                perftools__profiles__sample__init(stub);
                if (!(stub->location_id = kiln_arena_alloc(a, sizeof *stub->location_id)) ||
                    !(stub->value = kiln_arena_calloc(a, (s->n_value ? s->n_value : 1) * sizeof *stub->value)))
                    goto out;
                stub->location_id[0] = other;
                stub->n_location_id = 1;
                stub->n_value = s->n_value;
                out[nout++] = stub;
            }
            for (size_t k = 0; k < s->n_value && k < stub->n_value; k++) stub->value[k] += s->value[k];
            continue;
        }
        if (cut > 0) {
            /* drop the leaf-side locations whose functions are all cut; a
             * location holding a kept function stays whole */
            size_t drop = 0, seen = 0;
            while (drop < nloc) {
                size_t k = location_functions(&fp, locs[drop]);
                if (seen + k > cut) break;
                seen += k;
                drop++;
            }
            if (!(nl = kiln_arena_alloc(a, (nloc - drop + 1) * sizeof *nl))) goto out;
            nl[0] = other;
            memcpy(nl + 1, locs + drop, (nloc - drop) * sizeof *nl);
            locs = nl;
            nloc = nloc - drop + 1;
        }
        size_t slot;
        kiln_pprof_sample *same = smap_find(&sm, locs, nloc, &slot);
        if (same) {
            for (size_t k = 0; k < s->n_value && k < same->n_value; k++) same->value[k] += s->value[k];
            continue;
        }
        if (nl) {
            s->location_id = nl;
            s->n_location_id = nloc;
        }
        sm.v[slot] = s;
        out[nout++] = s;
        if (++sm.len * 2 > sm.cap && smap_grow(&sm) != 0) goto out;
    }
    p->sample = out;
    p->n_sample = nout;
    rc = KILN_OK;
out:
    free(leaf);
    free(sm.v);
    ft_free(&t);
    prof_close(&fp);
    return rc == KILN_OK ? rc : kiln_err_set(err, rc, "max_nodes: out of memory");
}

/* ---- the name tree: TREE and DOT ------------------------------------------------------- */

typedef struct ft_names {
    const char **name; /* canonical names, sorted; index = key */
    size_t n;
    uint32_t *of_fn;   /* function index -> key */
    uint32_t *of_loc;  /* location index -> key of its address (no lines) */
    char *hex;         /* storage of the address names */
} ft_names;

typedef struct name_ref {
    const char *s;
    uint32_t from; /* function index, or n_function + location index */
} name_ref;

static int cmp_name_ref(const void *a, const void *b)
{
    return strcmp(((const name_ref *)a)->s, ((const name_ref *)b)->s);
}

static const char *pstr(const kiln_pprof *p, int64_t i)
{
    return i >= 0 && (size_t)i < p->n_string_table && p->string_table[i] ? p->string_table[i] : "";
}

static int names_build(ft_names *nm, const kiln_pprof *p)
{
    memset(nm, 0, sizeof *nm);
    size_t nf = p->n_function, nl = p->n_location, tot = nf + nl;
    name_ref *r = malloc((tot ? tot : 1) * sizeof *r);
    nm->name = malloc((tot ? tot : 1) * sizeof *nm->name);
    nm->of_fn = malloc((nf ? nf : 1) * sizeof *nm->of_fn);
    nm->of_loc = malloc((nl ? nl : 1) * sizeof *nm->of_loc);
    nm->hex = malloc((nl ? nl : 1) * 17);
    if (!r || !nm->name || !nm->of_fn || !nm->of_loc || !nm->hex) {
        free(r);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < nf; i++) r[k++] = (name_ref){pstr(p, p->function[i]->name), (uint32_t)i};
    for (size_t i = 0; i < nl; i++) {
        char *h = nm->hex + 17 * i;
        snprintf(h, 17, "%" PRIx64, p->location[i]->address);
        r[k++] = (name_ref){h, (uint32_t)(nf + i)};
    }
    if (k) qsort(r, k, sizeof *r, cmp_name_ref);
    for (size_t i = 0; i < k; i++) {
        if (!nm->n || strcmp(nm->name[nm->n - 1], r[i].s)) nm->name[nm->n++] = r[i].s;
        uint32_t key = (uint32_t)(nm->n - 1);
        if (r[i].from < nf) nm->of_fn[r[i].from] = key;
        else nm->of_loc[r[i].from - nf] = key;
    }
    free(r);
    return 0;
}

static void names_free(ft_names *nm)
{
    free(nm->name);
    free(nm->of_fn);
    free(nm->of_loc);
    free(nm->hex);
}

/* The name tree of p (value index 0). */
static int name_tree(ft_prof *fp, const ft_names *nm, ft_tree *t)
{
    const kiln_pprof *p = fp->p;
    for (size_t i = 0; i < p->n_sample; i++) {
        const kiln_pprof_sample *s = p->sample[i];
        size_t n = 0;
        for (size_t j = 0; j < s->n_location_id; j++) {
            int64_t li = ids_find(&fp->locs, s->location_id[j]);
            if (li < 0) continue;
            const kiln_pprof_location *l = p->location[li];
            if (!l->n_line && stack_push(fp, &n, nm->of_loc[li]) != 0) return -1;
            for (size_t q = 0; q < l->n_line; q++) {
                int64_t fi = ids_find(&fp->fns, l->line[q]->function_id);
                if (fi >= 0 && stack_push(fp, &n, nm->of_fn[fi]) != 0) return -1;
            }
        }
        int64_t v = s->n_value ? s->value[0] : 0;
        if (v > 0 && ft_insert(t, fp->stack, n, v) < 0) return -1;
    }
    return 0;
}

/* Children lists (CSR), each in name order: keys are name ranks, so key order. */
typedef struct ft_kids {
    uint32_t *start; /* len+1 */
    int32_t *v;
} ft_kids;

static int kids_build(const ft_tree *t, ft_kids *k)
{
    k->start = calloc(t->len + 1, sizeof *k->start);
    k->v = malloc((t->len ? t->len : 1) * sizeof *k->v);
    if (!k->start || !k->v) return -1;
    for (size_t i = 1; i < t->len; i++) k->start[t->n[i].parent + 1]++;
    for (size_t i = 0; i < t->len; i++) k->start[i + 1] += k->start[i];
    uint32_t *fill = malloc((t->len ? t->len : 1) * sizeof *fill);
    if (!fill) return -1;
    memcpy(fill, k->start, t->len * sizeof *fill);
    for (size_t i = 1; i < t->len; i++) k->v[fill[t->n[i].parent]++] = (int32_t)i;
    free(fill);
    /* nodes were appended in creation order; sort each list by key */
    for (size_t i = 0; i < t->len; i++) {
        int32_t *a = k->v + k->start[i];
        size_t n = k->start[i + 1] - k->start[i];
        for (size_t x = 1; x < n; x++) { /* insertion sort: lists are short */
            int32_t c = a[x];
            size_t y = x;
            while (y > 0 && t->n[a[y - 1]].key > t->n[c].key) {
                a[y] = a[y - 1];
                y--;
            }
            a[y] = c;
        }
    }
    return 0;
}

static void kids_free(ft_kids *k)
{
    free(k->start);
    free(k->v);
}

static void put_uvarint(kq_buf *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    while (v >= 0x80) {
        x[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    x[n++] = (uint8_t)v;
    kiln_query_buf_put(b, x, n);
}

static void put_node(kq_buf *b, const char *name, int64_t self)
{
    size_t l = strlen(name);
    put_uvarint(b, l);
    kiln_query_buf_put(b, name, l);
    put_uvarint(b, (uint64_t)self);
}

/* Folded "other" values of the TREE walk. */
typedef struct ft_vals {
    int64_t *v;
    size_t n, cap;
} ft_vals;

static int32_t vals_add(ft_vals *o, int64_t v)
{
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 64;
        int64_t *nv = realloc(o->v, nc * sizeof *nv);
        if (!nv || nc > INT32_MAX) return -1;
        o->v = nv;
        o->cap = nc;
    }
    o->v[o->n] = v;
    return (int32_t)o->n++;
}

int kiln_query_pprof_tree_bytes(const kiln_pprof *p, int64_t max_nodes, kq_buf *out, kiln_err *err)
{
    if (!p || !p->n_sample) return KILN_OK; /* an empty tree is no bytes */
    ft_prof fp;
    ft_names nm;
    ft_tree t;
    ft_kids k = {0};
    int32_t *stack = NULL, *tmp = NULL;
    int rc = KILN_ENOMEM, oom = 0;
    memset(&nm, 0, sizeof nm);
    memset(&t, 0, sizeof t);
    if (prof_open(&fp, p) != 0 || names_build(&nm, p) != 0 || ft_init(&t) != 0 || name_tree(&fp, &nm, &t) != 0 ||
        kids_build(&t, &k) != 0)
        goto out;
    if (t.len == 1) {
        rc = KILN_OK;
        goto out;
    }
    int64_t minv = ft_min_value(&t, max_nodes, &oom);
    if (oom) goto out;
    /* the key "other" would have among the names, for ordering the folded child */
    size_t okey = 0;
    while (okey < nm.n && strcmp(nm.name[okey], FT_OTHER) < 0) okey++;
    int have_other_name = okey < nm.n && !strcmp(nm.name[okey], FT_OTHER);
    /* explicit DFS from the virtual root; a pushed entry >= 0 is a node,
     * -1 - i a folded "other" leaf whose value is ovals[i] */
    size_t scap = 1024, sn = 0;
    ft_vals ov = {0};
    if (!(stack = malloc(scap * sizeof *stack)) || !(tmp = malloc((t.len + 1) * sizeof *tmp))) goto out;
    stack[sn++] = 0;
    while (sn) {
        int32_t cur = stack[--sn];
        if (cur < 0) {
            put_node(out, FT_OTHER, ov.v[-1 - cur]);
            put_uvarint(out, 0);
            continue;
        }
        const ft_node *n = &t.n[cur];
        put_node(out, cur == 0 ? "" : nm.name[n->key], cur == 0 ? 0 : n->self);
        /* kept children in name order; the rest folded into "other" (an
         * existing "other" child is always kept and takes the folded value) */
        size_t nk = 0;
        int64_t folded = 0;
        int32_t other_child = -1;
        for (uint32_t i = k.start[cur]; i < k.start[cur + 1]; i++) {
            int32_t c = k.v[i];
            int is_other = have_other_name && t.n[c].key == okey;
            if (is_other) other_child = c;
            if (t.n[c].total >= minv || is_other) tmp[nk++] = c;
            else folded += t.n[c].total;
        }
        if (other_child >= 0) t.n[other_child].self += folded; /* written when popped */
        int fold_leaf = folded > 0 && other_child < 0;
        if (sn + nk + 2 > scap) {
            while (sn + nk + 2 > scap) scap *= 2;
            int32_t *ns = realloc(stack, scap * sizeof *ns);
            if (!ns) goto out_free;
            stack = ns;
        }
        /* pushed in name order, so the last child is written first */
        for (size_t i = 0; i <= nk; i++) {
            if (fold_leaf && (i == nk || t.n[tmp[i]].key >= okey)) {
                int32_t o = vals_add(&ov, folded);
                if (o < 0) goto out_free;
                stack[sn++] = -1 - o;
                fold_leaf = 0;
            }
            if (i < nk) stack[sn++] = tmp[i];
        }
        put_uvarint(out, nk + (folded > 0 && other_child < 0));
    }
    rc = out->oom ? KILN_ENOMEM : KILN_OK;
out_free:
    free(ov.v);
out:
    free(stack);
    free(tmp);
    kids_free(&k);
    ft_free(&t);
    names_free(&nm);
    prof_close(&fp);
    return rc == KILN_OK ? rc : kiln_err_set(err, rc, "tree: out of memory");
}

/* ---- DOT ------------------------------------------------------------------------------- */

typedef struct ft_edge {
    uint64_t key; /* caller << 32 | callee, +1 so that 0 is empty */
    int64_t w;
} ft_edge;

typedef struct ft_edges {
    ft_edge *v;
    size_t cap, len;
} ft_edges;

static int edges_add(ft_edges *e, uint32_t from, uint32_t to, int64_t w)
{
    if ((e->len + 1) * 2 > e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 1024;
        ft_edge *nv = calloc(nc, sizeof *nv);
        if (!nv) return -1;
        for (size_t i = 0; i < e->cap; i++) {
            if (!e->v[i].key) continue;
            size_t j = ft_hash((int32_t)(e->v[i].key >> 32), (uint32_t)e->v[i].key) & (nc - 1);
            while (nv[j].key) j = (j + 1) & (nc - 1);
            nv[j] = e->v[i];
        }
        free(e->v);
        e->v = nv;
        e->cap = nc;
    }
    uint64_t k = ((uint64_t)from << 32 | to) + 1;
    size_t j = ft_hash((int32_t)(k >> 32), (uint32_t)k) & (e->cap - 1);
    for (; e->v[j].key; j = (j + 1) & (e->cap - 1))
        if (e->v[j].key == k) {
            e->v[j].w += w;
            return 0;
        }
    e->v[j] = (ft_edge){k, w};
    e->len++;
    return 0;
}

typedef struct dot_fn {
    int64_t flat, cum;
    uint32_t key;
    int32_t node; /* Nk in the output, 0: not shown */
} dot_fn;

static int cmp_dot(const void *a, const void *b)
{
    const dot_fn *x = a, *y = b;
    if (x->cum != y->cum) return x->cum < y->cum ? 1 : -1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int cmp_edge(const void *a, const void *b)
{
    const ft_edge *x = a, *y = b;
    if (x->w != y->w) return x->w < y->w ? 1 : -1;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* A name as a DOT string body: quotes and backslashes escaped. */
static void dot_str(kq_buf *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') kiln_query_buf_putc(o, '\\');
        kiln_query_buf_putc(o, *s);
    }
}

static double pct(int64_t v, int64_t total) { return total ? 100.0 * (double)v / (double)total : 0; }

int kiln_query_pprof_dot(const kiln_pprof *p, int64_t max_nodes, kq_buf *out, kiln_err *err)
{
    ft_prof fp;
    ft_names nm;
    ft_edges ed = {0};
    dot_fn *fn = NULL;
    uint32_t *seen = NULL;
    int32_t *node_of = NULL;
    int rc = KILN_ENOMEM;
    memset(&nm, 0, sizeof nm);
    if (!p) {
        kiln_query_buf_puts(out, "digraph \"empty\" {\n}\n");
        return out->oom ? kiln_err_set(err, KILN_ENOMEM, "dot: out of memory") : KILN_OK;
    }
    if (prof_open(&fp, p) != 0 || names_build(&nm, p) != 0) goto out;
    size_t nk = nm.n;
    fn = calloc(nk ? nk : 1, sizeof *fn);
    seen = calloc(nk ? nk : 1, sizeof *seen);
    if (!fn || !seen) goto out;
    for (size_t i = 0; i < nk; i++) fn[i].key = (uint32_t)i;
    int64_t total = 0;
    for (size_t i = 0; i < p->n_sample; i++) {
        const kiln_pprof_sample *s = p->sample[i];
        int64_t v = s->n_value ? s->value[0] : 0;
        if (!v) continue;
        size_t n = 0;
        for (size_t j = 0; j < s->n_location_id; j++) {
            int64_t li = ids_find(&fp.locs, s->location_id[j]);
            if (li < 0) continue;
            const kiln_pprof_location *l = p->location[li];
            if (!l->n_line && stack_push(&fp, &n, nm.of_loc[li]) != 0) goto out;
            for (size_t q = 0; q < l->n_line; q++) {
                int64_t fi = ids_find(&fp.fns, l->line[q]->function_id);
                if (fi >= 0 && stack_push(&fp, &n, nm.of_fn[fi]) != 0) goto out;
            }
        }
        total += v;
        if (!n) continue;
        fn[fp.stack[0]].flat += v;
        uint32_t stamp = (uint32_t)i + 1;
        for (size_t k = 0; k < n; k++) {
            uint32_t key = fp.stack[k];
            if (seen[key] != stamp) { /* a recursive function counts once per sample */
                seen[key] = stamp;
                fn[key].cum += v;
            }
            /* caller -> callee, once per sample and pair */
            if (k + 1 < n && fp.stack[k + 1] != key) {
                int dup = 0;
                for (size_t q = 0; q < k && !dup; q++) dup = fp.stack[q] == key && fp.stack[q + 1] == fp.stack[k + 1];
                if (!dup && edges_add(&ed, fp.stack[k + 1], key, v) != 0) goto out;
            }
        }
    }
    if (nk) qsort(fn, nk, sizeof *fn, cmp_dot);
    size_t shown = 0, nonzero = 0;
    if (!(node_of = calloc(nk ? nk : 1, sizeof *node_of))) goto out;
    for (size_t i = 0; i < nk; i++) {
        if (!fn[i].cum) continue;
        nonzero++;
        if (max_nodes > 0 && shown >= (size_t)max_nodes) continue;
        fn[i].node = (int32_t)++shown;
        node_of[fn[i].key] = fn[i].node;
    }
    const char *type = p->n_sample_type ? pstr(p, p->sample_type[0]->type) : "";
    const char *unit = p->n_sample_type ? pstr(p, p->sample_type[0]->unit) : "";
    kiln_query_buf_puts(out, "digraph \"");
    dot_str(out, type);
    kiln_query_buf_puts(out, "\" {\nnode [style=filled fillcolor=\"#f8f8f8\"]\n");
    kiln_query_buf_puts(out, "subgraph cluster_L { \"legend\" [shape=box fontsize=16 label=\"Type: ");
    dot_str(out, type);
    kiln_query_buf_printf(out, "\\lTotal: %lld ", (long long)total);
    dot_str(out, unit);
    kiln_query_buf_printf(out, "\\lShowing %zu of %zu nodes\\l\"] }\n", shown, nonzero);
    int64_t max_flat = 1;
    for (size_t i = 0; i < nk; i++)
        if (fn[i].node && fn[i].flat > max_flat) max_flat = fn[i].flat;
    for (size_t i = 0; i < nk; i++) {
        const dot_fn *f = &fn[i];
        if (!f->node) continue;
        int fs = 8 + (int)(42.0 * (double)f->flat / (double)max_flat);
        kiln_query_buf_printf(out, "N%d [label=\"", f->node);
        dot_str(out, nm.name[f->key]);
        kiln_query_buf_printf(out, "\\n%lld (%.2f%%)\\nof %lld (%.2f%%)\" fontsize=%d shape=box tooltip=\"",
                              (long long)f->flat, pct(f->flat, total), (long long)f->cum, pct(f->cum, total), fs);
        dot_str(out, nm.name[f->key]);
        kiln_query_buf_printf(out, " (%lld)\"]\n", (long long)f->cum);
    }
    /* edges between shown nodes, heaviest first */
    size_t ne = 0;
    for (size_t i = 0; i < ed.cap; i++) {
        if (!ed.v[i].key) continue;
        uint64_t k = ed.v[i].key - 1;
        int32_t a = node_of[k >> 32], b = node_of[(uint32_t)k];
        if (a && b) ed.v[ne++] = (ft_edge){(uint64_t)a << 32 | (uint32_t)b, ed.v[i].w};
    }
    if (ne) qsort(ed.v, ne, sizeof *ed.v, cmp_edge);
    for (size_t i = 0; i < ne; i++) {
        double share = total ? (double)ed.v[i].w / (double)total : 0;
        kiln_query_buf_printf(out, "N%d -> N%d [label=\" %lld\" weight=%d penwidth=%d]\n", (int)(ed.v[i].key >> 32),
                              (int)(uint32_t)ed.v[i].key, (long long)ed.v[i].w, 1 + (int)(100.0 * share),
                              1 + (int)(4.0 * share));
    }
    kiln_query_buf_puts(out, "}\n");
    rc = out->oom ? KILN_ENOMEM : KILN_OK;
out:
    free(fn);
    free(seen);
    free(node_of);
    free(ed.v);
    names_free(&nm);
    prof_close(&fp);
    return rc == KILN_OK ? rc : kiln_err_set(err, rc, "dot: out of memory");
}
