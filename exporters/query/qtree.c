/* exporters/query/qtree.c — the merged call tree of a query.
 *
 * Frames are function names (one frame per line of a location, inlined
 * functions included, outermost first), or "0x<address>" for a location
 * without symbols. Nodes are keyed by (parent, name), so stacks with the
 * same frame names merge whatever their locations, as in Pyroscope's tree.
 * Stacks of a block are resolved through kq_resolver, which remembers the
 * tree node of every block stack node and the frames of every location it
 * has seen, so each is read from the block once per query.
 *
 * After kiln_query_tree_finish: total[c][i] = self[c][i] + the totals of
 * i's children; children lists sorted by name (strcmp, as Go compares
 * strings), which fixes the order of flame graph levels and folded output.
 *
 * Memory: the tree owns its arrays (malloc'ed, grown by doubling), its
 * child hash and its names (copied into the names' arena). A resolver owns
 * its memo arrays; it borrows the tree and the block.
 */
#define _GNU_SOURCE
#include "query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* ---- names ----------------------------------------------------------------------------- */

static int names_init(kq_names *nm)
{
    memset(nm, 0, sizeof *nm);
    nm->a = kiln_arena_new(64 * 1024);
    nm->nslots = 1024;
    nm->slots = calloc(nm->nslots, sizeof *nm->slots);
    return nm->a && nm->slots ? 0 : -1;
}

static void names_free(kq_names *nm)
{
    kiln_arena_destroy(nm->a);
    free(nm->slots);
    free(nm->v);
    free(nm->alt);
    free(nm->is_file);
    memset(nm, 0, sizeof *nm);
}

/* Slot index holding s, or the empty slot where it would go. */
static uint32_t names_slot(const kq_names *nm, const char *s, size_t len)
{
    uint32_t mask = nm->nslots - 1;
    uint32_t i = (uint32_t)hash_bytes(s, len) & mask;
    for (;;) {
        uint32_t e = nm->slots[i];
        if (!e) return i;
        const char *v = nm->v[e - 1];
        if (strncmp(v, s, len) == 0 && v[len] == 0) return i;
        i = (i + 1) & mask;
    }
}

static int names_grow(kq_names *nm)
{
    uint32_t ns = nm->nslots * 2;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (!sl) return -1;
    for (uint32_t id = 0; id < nm->n; id++) {
        const char *v = nm->v[id];
        uint32_t i = (uint32_t)hash_bytes(v, strlen(v)) & (ns - 1);
        while (sl[i]) i = (i + 1) & (ns - 1);
        sl[i] = id + 1;
    }
    free(nm->slots);
    nm->slots = sl;
    nm->nslots = ns;
    return 0;
}

static int64_t names_find(const kq_names *nm, const char *s, size_t len)
{
    uint32_t e = nm->slots[names_slot(nm, s, len)];
    return e ? (int64_t)e - 1 : -1;
}

static int64_t names_intern(kq_names *nm, const char *s, size_t len);

/* A mapping file as a function key (how pprof groups frames without
 * symbols): the key is "\x01<path>" (never a function name); the text
 * shown follows its NUL: "[<basename>]" as pprof prints it, or "<unknown>"
 * for a location without mapping. */
static int64_t names_intern_file(kq_names *nm, const char *path)
{
    size_t pl = strlen(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    char *k = malloc(pl + bl + 16);
    if (!k) return -1;
    k[0] = 1;
    memcpy(k + 1, path, pl + 1);
    int64_t id = names_find(nm, k, pl + 1);
    if (id < 0) {
        id = names_intern(nm, k, pl + 1);
        if (id >= 0) {
            /* the display text lives after the key's NUL, in the arena */
            char *d = kiln_arena_alloc(nm->a, pl + bl + 16);
            if (!d) id = -1;
            else {
                memcpy(d, k, pl + 2);
                if (bl) snprintf(d + pl + 2, bl + 3, "[%s]", base);
                else snprintf(d + pl + 2, 10, "<unknown>");
                nm->v[id] = d;
                nm->is_file[id] = 1;
            }
        }
    }
    free(k);
    return id;
}

static int64_t names_intern(kq_names *nm, const char *s, size_t len)
{
    uint32_t slot = names_slot(nm, s, len);
    if (nm->slots[slot]) return (int64_t)nm->slots[slot] - 1;
    if (nm->n == UINT32_MAX - 1) return -1;
    if (nm->n == nm->cap) {
        uint32_t nc = nm->cap ? nm->cap * 2 : 1024;
        char **nv = realloc(nm->v, nc * sizeof *nv);
        if (!nv) return -1;
        nm->v = nv;
        uint32_t *na = realloc(nm->alt, nc * sizeof *na);
        if (!na) return -1;
        nm->alt = na;
        uint8_t *nf = realloc(nm->is_file, nc);
        if (!nf) return -1;
        nm->is_file = nf;
        nm->cap = nc;
    }
    char *c = kiln_arena_strndup(nm->a, s, len);
    if (!c) return -1;
    uint32_t id = nm->n++;
    nm->v[id] = c;
    nm->alt[id] = KQ_NONE;
    nm->is_file[id] = 0;
    nm->slots[slot] = id + 1;
    if ((uint64_t)nm->n * 2 > nm->nslots && names_grow(nm) != 0) return -1;
    return id;
}

/* ---- the tree ---------------------------------------------------------------------------- */

static int tree_grow(kq_tree *t)
{
    uint32_t nc = t->cap ? t->cap * 2 : 4096;
    if (t->cap >= UINT32_MAX / 2) return -1;
    uint32_t *p = realloc(t->parent, nc * sizeof *p);
    if (!p) return -1;
    t->parent = p;
    uint32_t *nm = realloc(t->name, nc * sizeof *nm);
    if (!nm) return -1;
    t->name = nm;
    for (int c = 0; c < t->ncols; c++) {
        int64_t *s = realloc(t->self[c], nc * sizeof *s);
        if (!s) return -1;
        t->self[c] = s;
        int64_t *tt = realloc(t->total[c], nc * sizeof *tt);
        if (!tt) return -1;
        t->total[c] = tt;
    }
    t->cap = nc;
    return 0;
}

int kiln_query_tree_init(kq_tree *t, int ncols, kiln_err *err)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols < 1 ? 1 : ncols > 2 ? 2 : ncols;
    t->cslots = 4096;
    t->cs = calloc(t->cslots, sizeof *t->cs);
    if (!t->cs || names_init(&t->names) != 0 || tree_grow(t) != 0) {
        kiln_query_tree_free(t);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    /* node 0: the root */
    t->parent[0] = KQ_NONE;
    t->name[0] = KQ_NONE;
    for (int c = 0; c < t->ncols; c++) t->self[c][0] = t->total[c][0] = 0;
    t->n = 1;
    return KILN_OK;
}

void kiln_query_tree_free(kq_tree *t)
{
    free(t->parent);
    free(t->name);
    for (int c = 0; c < 2; c++) {
        free(t->self[c]);
        free(t->total[c]);
    }
    free(t->cs);
    free(t->coff);
    free(t->cidx);
    names_free(&t->names);
    memset(t, 0, sizeof *t);
}

int64_t kiln_query_tree_name(kq_tree *t, const char *s, size_t len)
{
    return names_intern(&t->names, s, len);
}

static size_t cslot_of(uint32_t parent, uint32_t name, size_t mask)
{
    return mix64((uint64_t)parent << 32 | name) & mask;
}

static int child_rehash(kq_tree *t, size_t ns)
{
    kq_cslot *c = calloc(ns, sizeof *c);
    if (!c) return -1;
    for (size_t i = 0; i < t->cslots; i++) {
        const kq_cslot *e = &t->cs[i];
        if (!e->child) continue;
        size_t j = cslot_of(e->parent, e->name, ns - 1);
        while (c[j].child) j = (j + 1) & (ns - 1);
        c[j] = *e;
    }
    free(t->cs);
    t->cs = c;
    t->cslots = ns;
    return 0;
}

int kiln_query_tree_reserve(kq_tree *t, size_t n)
{
    size_t want = (size_t)t->n + n;
    if (want > UINT32_MAX / 2) return -1;
    while (t->cap < want)
        if (tree_grow(t) != 0) return -1;
    /* the child hash stays at most half full */
    size_t ns = t->cslots;
    while (ns < want + want / 2) ns *= 2;
    return ns != t->cslots ? child_rehash(t, ns) : 0;
}

static int64_t child_find(const kq_tree *t, uint32_t parent, uint32_t name)
{
    size_t mask = t->cslots - 1, i = cslot_of(parent, name, mask);
    for (;;) {
        const kq_cslot *e = &t->cs[i];
        if (!e->child) return -1;
        if (e->parent == parent && e->name == name) return e->child;
        i = (i + 1) & mask;
    }
}

int64_t kiln_query_tree_child(kq_tree *t, uint32_t parent, uint32_t name)
{
    size_t mask = t->cslots - 1, i = cslot_of(parent, name, mask);
    for (;;) {
        kq_cslot *e = &t->cs[i];
        if (!e->child) break;
        if (e->parent == parent && e->name == name) return e->child;
        i = (i + 1) & mask;
    }
    if (t->n == t->cap && tree_grow(t) != 0) return -1;
    uint32_t id = t->n++;
    t->parent[id] = parent;
    t->name[id] = name;
    for (int c = 0; c < t->ncols; c++) t->self[c][id] = 0;
    t->cs[i] = (kq_cslot){parent, name, id};
    t->finished = 0;
    if (++t->cused * 2 > t->cslots && child_rehash(t, t->cslots * 2) != 0) return -1;
    return id;
}

int kiln_query_tree_add_stack(kq_tree *t, const char *const *frames, size_t n, int col, int64_t v,
                              kiln_err *err)
{
    if (v == 0) return KILN_OK;
    uint32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t nm = kiln_query_tree_name(t, frames[i], strlen(frames[i]));
        int64_t c = nm < 0 ? -1 : kiln_query_tree_child(t, node, (uint32_t)nm);
        if (c < 0) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        node = (uint32_t)c;
    }
    t->self[col][node] = (int64_t)((uint64_t)t->self[col][node] + (uint64_t)v);
    t->samples++;
    t->finished = 0;
    return KILN_OK;
}

static int cmp_name_id(const void *a, const void *b, void *arg)
{
    const kq_names *nm = arg;
    return strcmp(nm->v[*(const uint32_t *)a], nm->v[*(const uint32_t *)b]);
}

/* Children are ordered by name; names are ranked once (far fewer names
 * than nodes), then children compare ranks. */
typedef struct rank_ctx {
    const kq_tree *t;
    const uint32_t *rank;
} rank_ctx;

static int cmp_child(const void *a, const void *b, void *arg)
{
    const rank_ctx *c = arg;
    uint32_t x = c->rank[c->t->name[*(const uint32_t *)a]], y = c->rank[c->t->name[*(const uint32_t *)b]];
    return x < y ? -1 : x > y;
}

int kiln_query_tree_finish(kq_tree *t, kiln_err *err)
{
    if (t->finished) return KILN_OK;
    for (int c = 0; c < t->ncols; c++) {
        memcpy(t->total[c], t->self[c], t->n * sizeof *t->total[c]);
        for (uint32_t i = t->n; i-- > 1;)
            t->total[c][t->parent[i]] =
                (int64_t)((uint64_t)t->total[c][t->parent[i]] + (uint64_t)t->total[c][i]);
    }
    free(t->coff);
    free(t->cidx);
    t->coff = calloc((size_t)t->n + 1, sizeof *t->coff);
    t->cidx = malloc(((size_t)t->n ? t->n : 1) * sizeof *t->cidx);
    if (!t->coff || !t->cidx) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (uint32_t i = 1; i < t->n; i++) t->coff[t->parent[i] + 1]++;
    for (uint32_t i = 0; i < t->n; i++) t->coff[i + 1] += t->coff[i];
    uint32_t *fill = malloc(((size_t)t->n ? t->n : 1) * sizeof *fill);
    if (!fill) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    memcpy(fill, t->coff, t->n * sizeof *fill);
    for (uint32_t i = 1; i < t->n; i++) t->cidx[fill[t->parent[i]]++] = i;
    free(fill);
    uint32_t nn = t->names.n;
    uint32_t *order = malloc(((size_t)nn ? nn : 1) * sizeof *order);
    uint32_t *rank = malloc(((size_t)nn ? nn : 1) * sizeof *rank);
    if (!order || !rank) {
        free(order);
        free(rank);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < nn; i++) order[i] = i;
    qsort_r(order, nn, sizeof *order, cmp_name_id, &t->names);
    for (uint32_t i = 0; i < nn; i++) rank[order[i]] = i;
    rank_ctx rc = {t, rank};
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t k = t->coff[i + 1] - t->coff[i];
        if (k > 1) qsort_r(t->cidx + t->coff[i], k, sizeof *t->cidx, cmp_child, &rc);
    }
    free(order);
    free(rank);
    t->finished = 1;
    return KILN_OK;
}

int64_t kiln_query_tree_total(const kq_tree *t, int col)
{
    return t->n && col < t->ncols ? t->total[col][0] : 0;
}

/* ---- call-site filter -------------------------------------------------------------------- */

int kiln_query_tree_callsite(const kq_tree *t, const char *const *names, size_t n, kq_tree *out,
                             kiln_err *err)
{
    int rc = kiln_query_tree_init(out, t->ncols, err);
    if (rc != KILN_OK) return rc;
    /* find the call site in t */
    uint32_t at = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t nm = names_find(&t->names, names[i], strlen(names[i]));
        int64_t c = nm < 0 ? -1 : child_find(t, at, (uint32_t)nm);
        if (c < 0) return KILN_OK; /* nothing matches: an empty tree */
        at = (uint32_t)c;
    }
    /* the chain above it, with no self values */
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t nm = kiln_query_tree_name(out, names[i], strlen(names[i]));
        int64_t c = nm < 0 ? -1 : kiln_query_tree_child(out, top, (uint32_t)nm);
        if (c < 0) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        top = (uint32_t)c;
    }
    /* the subtree under it: nodes of t have parents at lower indices, so
     * one pass in index order sees every parent before its children */
    uint32_t *map = malloc((size_t)t->n * sizeof *map);
    if (!map) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < t->n; i++) map[i] = KQ_NONE;
    map[at] = top;
    for (int c = 0; c < t->ncols; c++) out->self[c][top] = t->self[c][at];
    for (uint32_t i = at + 1; i < t->n; i++) {
        uint32_t p = t->parent[i];
        if (map[p] == KQ_NONE) continue;
        const char *s = t->names.v[t->name[i]];
        int64_t nm = kiln_query_tree_name(out, s, strlen(s));
        int64_t c = nm < 0 ? -1 : kiln_query_tree_child(out, map[p], (uint32_t)nm);
        if (c < 0) {
            free(map);
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        }
        map[i] = (uint32_t)c;
        for (int k = 0; k < t->ncols; k++) out->self[k][c] = t->self[k][i];
        if (t->names.alt[t->name[i]] != KQ_NONE) {
            int64_t fid = names_intern_file(&out->names, t->names.v[t->names.alt[t->name[i]]] + 1);
            if (fid >= 0) out->names.alt[nm] = (uint32_t)fid;
        }
    }
    free(map);
    out->samples = t->samples;
    return KILN_OK;
}

/* ---- resolving block stacks ------------------------------------------------------------------ */

static int grow_u32(uint32_t **a, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    uint32_t *na = realloc(*a, nc * sizeof *na);
    if (!na) return -1;
    memset(na + *cap, 0, (nc - *cap) * sizeof *na);
    *a = na;
    *cap = nc;
    return 0;
}

int kiln_query_resolver_init(kq_resolver *r, kq_tree *t, kiln_block *b, kiln_err *err)
{
    memset(r, 0, sizeof *r);
    r->t = t;
    r->b = b;
    const kiln_block_meta *m = kiln_block_get_meta(b);
    size_t ns = (size_t)m->n_stacks + 1, nl = (size_t)m->n_locations + 1;
    if (grow_u32(&r->node_memo, &r->node_cap, ns) != 0) goto oom;
    size_t lc = 0;
    if (grow_u32(&r->loc_off, &r->loc_cap, nl) != 0) goto oom;
    /* a block's stacks rarely share more than half of their nodes with
     * what the tree has already: room for as many nodes as it has */
    if (kiln_query_tree_reserve(t, ns) != 0) goto oom;
    if (grow_u32(&r->loc_cnt, &lc, r->loc_cap) != 0) goto oom;
    return KILN_OK;
oom:
    kiln_query_resolver_free(r);
    return kiln_err_set(err, KILN_ENOMEM, "out of memory");
}

void kiln_query_resolver_free(kq_resolver *r)
{
    free(r->node_memo);
    free(r->loc_off);
    free(r->loc_cnt);
    free(r->frames);
    free(r->path);
    free(r->path_loc);
    memset(r, 0, sizeof *r);
}

static int add_frame(kq_resolver *r, uint32_t name)
{
    if (r->n_frames == r->cap_frames) {
        size_t nc = r->cap_frames ? r->cap_frames * 2 : 4096;
        uint32_t *nf = realloc(r->frames, nc * sizeof *nf);
        if (!nf) return -1;
        r->frames = nf;
        r->cap_frames = nc;
    }
    r->frames[r->n_frames++] = name;
    return 0;
}

/* An address frame: "0x<addr>" whose alt is "\x01<mapping file>". */
static int64_t addr_frame(kq_resolver *r, const kiln_block_loc *loc, kiln_err *err)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "0x%" PRIx64, loc->address);
    int64_t id = kiln_query_tree_name(r->t, buf, (size_t)n);
    if (id < 0) return -1;
    if (r->t->names.alt[id] == KQ_NONE) {
        const char *file = "";
        kiln_block_map mp;
        if (loc->mapping && kiln_block_mapping(r->b, loc->mapping, &mp, err) == KILN_OK && mp.filename)
            file = mp.filename;
        int64_t fid = names_intern_file(&r->t->names, file);
        if (fid < 0) return -1;
        r->t->names.alt[id] = (uint32_t)fid;
    }
    return id;
}

/* The frames of location `loc` (memoised): *off, *cnt into r->frames. */
static int loc_frames(kq_resolver *r, uint32_t loc, uint32_t *off, uint32_t *cnt, kiln_err *err)
{
    if (loc < r->loc_cap && r->loc_off[loc]) {
        *off = r->loc_off[loc] - 1;
        *cnt = r->loc_cnt[loc];
        return KILN_OK;
    }
    if (loc >= r->loc_cap) {
        size_t c1 = r->loc_cap, c2 = r->loc_cap;
        if (grow_u32(&r->loc_off, &c1, (size_t)loc + 1) != 0 ||
            grow_u32(&r->loc_cnt, &c2, (size_t)loc + 1) != 0)
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        r->loc_cap = c1 < c2 ? c1 : c2;
    }
    kiln_block_loc l;
    int rc = kiln_block_location(r->b, loc, &l, err);
    if (rc != KILN_OK) return rc;
    size_t start = r->n_frames;
    int any = 0;
    /* lines are innermost first; frames go outermost first */
    for (size_t i = l.n_lines; i-- > 0;) {
        kiln_block_fn fn;
        if ((rc = kiln_block_function(r->b, l.lines[i].function, &fn, err)) != KILN_OK) return rc;
        int64_t id;
        if (fn.name && fn.name[0]) id = kiln_query_tree_name(r->t, fn.name, strlen(fn.name));
        else id = addr_frame(r, &l, err);
        if (id < 0 || add_frame(r, (uint32_t)id) != 0)
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        any = 1;
    }
    if (!any) {
        int64_t id = addr_frame(r, &l, err);
        if (id < 0 || add_frame(r, (uint32_t)id) != 0)
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    r->loc_off[loc] = (uint32_t)start + 1;
    r->loc_cnt[loc] = (uint32_t)(r->n_frames - start);
    *off = (uint32_t)start;
    *cnt = r->loc_cnt[loc];
    return KILN_OK;
}

int kiln_query_resolve(kq_resolver *r, uint32_t stack, uint32_t *node, kiln_err *err)
{
    if (stack == 0) {
        *node = 0;
        return KILN_OK;
    }
    if (stack < r->node_cap && r->node_memo[stack]) {
        *node = r->node_memo[stack] - 1;
        return KILN_OK;
    }
    size_t d = 0;
    uint32_t x = stack;
    int rc;
    while (x != 0 && !(x < r->node_cap && r->node_memo[x])) {
        uint32_t parent, loc;
        if ((rc = kiln_block_stack_node(r->b, x, &parent, &loc, err)) != KILN_OK) return rc;
        if (parent >= x || d >= (size_t)KQ_MAX_DEPTH * 16)
            return kiln_err_set(err, KILN_EINVAL, "block %s: stack %u is malformed",
                                kiln_block_get_meta(r->b)->id, stack);
        if (d == r->path_cap) {
            size_t nc = r->path_cap ? r->path_cap * 2 : 256;
            uint32_t *np = realloc(r->path, nc * sizeof *np);
            if (!np) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
            r->path = np;
            uint32_t *nl = realloc(r->path_loc, nc * sizeof *nl);
            if (!nl) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
            r->path_loc = nl;
            r->path_cap = nc;
        }
        r->path[d] = x;
        r->path_loc[d] = loc;
        d++;
        x = parent;
    }
    uint32_t tn = x ? r->node_memo[x] - 1 : 0;
    size_t need = (size_t)stack + 1;
    if (need > r->node_cap && grow_u32(&r->node_memo, &r->node_cap, need) != 0)
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    while (d-- > 0) {
        uint32_t off = 0, cnt = 0;
        if (r->path_loc[d] == 0) {
            /* a node without a location adds no frame */
        } else {
            if ((rc = loc_frames(r, r->path_loc[d], &off, &cnt, err)) != KILN_OK) return rc;
            for (uint32_t k = 0; k < cnt; k++) {
                int64_t c = kiln_query_tree_child(r->t, tn, r->frames[off + k]);
                if (c < 0) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
                tn = (uint32_t)c;
            }
        }
        r->node_memo[r->path[d]] = tn + 1;
    }
    *node = tn;
    return KILN_OK;
}

/* ---- analyses --------------------------------------------------------------------------------- */

const char *kiln_query_tree_display(const kq_tree *t, uint32_t name)
{
    const char *s = t->names.v[name];
    return t->names.is_file[name] ? s + strlen(s) + 1 : s;
}

static uint64_t u64abs(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

static int cmp_rows(const void *x, const void *y)
{
    const kq_fn_row *a = x, *b = y;
    uint64_t fa = u64abs(a->self), fb = u64abs(b->self);
    if (fa != fb) return fa > fb ? -1 : 1;
    int c = strcmp(a->name, b->name);
    if (c) return c;
    uint64_t ca = u64abs(a->total), cb = u64abs(b->total);
    if (ca != cb) return ca > cb ? -1 : 1;
    return 0;
}

int kiln_query_tree_functions(const kq_tree *t, int col, kq_fn_row **rows, size_t *n,
                              kiln_err *err)
{
    *rows = NULL;
    *n = 0;
    uint32_t nn = t->names.n;
    int64_t *self = calloc(nn ? nn : 1, sizeof *self), *tot = calloc(nn ? nn : 1, sizeof *tot);
    uint32_t *active = calloc(nn ? nn : 1, sizeof *active);
    uint8_t *seen = calloc(nn ? nn : 1, 1);
    uint32_t *stk = malloc(((size_t)t->n + 1) * sizeof *stk);
    uint32_t *it = malloc(((size_t)t->n + 1) * sizeof *it);
    int rc = KILN_OK;
    if (!self || !tot || !active || !seen || !stk || !it) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto out;
    }
    /* depth-first: a function's total counts at its outermost occurrence */
    size_t sp = 0;
    stk[sp] = 0;
    it[sp] = t->coff[0];
    sp++;
    while (sp) {
        uint32_t v = stk[sp - 1];
        if (it[sp - 1] < t->coff[v + 1]) {
            uint32_t c = t->cidx[it[sp - 1]++];
            uint32_t nm = t->name[c];
            uint32_t key = t->names.alt[nm] != KQ_NONE ? t->names.alt[nm] : nm;
            seen[key] = 1;
            self[key] = (int64_t)((uint64_t)self[key] + (uint64_t)t->self[col][c]);
            if (active[key]++ == 0) tot[key] = (int64_t)((uint64_t)tot[key] + (uint64_t)t->total[col][c]);
            stk[sp] = c;
            it[sp] = t->coff[c];
            sp++;
        } else {
            sp--;
            if (v) {
                uint32_t nm = t->name[v];
                uint32_t key = t->names.alt[nm] != KQ_NONE ? t->names.alt[nm] : nm;
                active[key]--;
            }
        }
    }
    size_t k = 0;
    for (uint32_t i = 0; i < nn; i++) k += seen[i] && (self[i] || tot[i]);
    *rows = malloc((k ? k : 1) * sizeof **rows);
    if (!*rows) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto out;
    }
    size_t w = 0;
    for (uint32_t i = 0; i < nn; i++)
        if (seen[i] && (self[i] || tot[i])) (*rows)[w++] = (kq_fn_row){kiln_query_tree_display(t, i), self[i], tot[i]};
    qsort(*rows, w, sizeof **rows, cmp_rows);
    *n = w;
out:
    free(self);
    free(tot);
    free(active);
    free(seen);
    free(stk);
    free(it);
    return rc;
}

int kiln_query_tree_hot_path(const kq_tree *t, int col, uint32_t **nodes, size_t *n, kiln_err *err)
{
    *nodes = NULL;
    *n = 0;
    size_t cap = 64, k = 0;
    uint32_t *v = malloc(cap * sizeof *v);
    if (!v) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    uint32_t at = 0;
    for (;;) {
        uint32_t best = KQ_NONE;
        for (uint32_t j = t->coff[at]; j < t->coff[at + 1]; j++) {
            uint32_t c = t->cidx[j];
            if (t->total[col][c] <= 0) continue;
            if (best == KQ_NONE || t->total[col][c] > t->total[col][best]) best = c;
        }
        if (best == KQ_NONE) break;
        if (k == cap) {
            cap *= 2;
            uint32_t *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                free(v);
                return kiln_err_set(err, KILN_ENOMEM, "out of memory");
            }
            v = nv;
        }
        v[k++] = best;
        at = best;
    }
    *nodes = v;
    *n = k;
    return KILN_OK;
}

/* Calls fn(node, depth) for every non-root node in depth-first order,
 * children in name order; path[0..depth] holds the names root first. */
typedef void (*visit_fn)(const kq_tree *t, uint32_t node, const uint32_t *path, size_t depth,
                         void *arg);

static int walk(const kq_tree *t, visit_fn fn, void *arg)
{
    uint32_t *stk = malloc(((size_t)t->n + 1) * sizeof *stk);
    uint32_t *it = malloc(((size_t)t->n + 1) * sizeof *it);
    uint32_t *path = malloc(((size_t)t->n + 1) * sizeof *path);
    if (!stk || !it || !path) {
        free(stk);
        free(it);
        free(path);
        return -1;
    }
    size_t sp = 1;
    stk[0] = 0;
    it[0] = t->coff[0];
    while (sp) {
        uint32_t v = stk[sp - 1];
        if (it[sp - 1] < t->coff[v + 1]) {
            uint32_t c = t->cidx[it[sp - 1]++];
            path[sp - 1] = t->name[c];
            fn(t, c, path, sp - 1, arg);
            stk[sp] = c;
            it[sp] = t->coff[c];
            sp++;
        } else {
            sp--;
        }
    }
    free(stk);
    free(it);
    free(path);
    return 0;
}

typedef struct fold_ctx {
    kq_buf *out;
    int col;
} fold_ctx;

static void fold_one(const kq_tree *t, uint32_t node, const uint32_t *path, size_t depth, void *arg)
{
    fold_ctx *c = arg;
    int64_t s = t->self[c->col][node];
    if (!s) return;
    for (size_t i = 0; i <= depth; i++) {
        if (i) kiln_query_buf_putc(c->out, ';');
        kiln_query_buf_puts(c->out, kiln_query_tree_display(t, path[i]));
    }
    kiln_query_buf_putc(c->out, ' ');
    kiln_query_buf_i64(c->out, s);
    kiln_query_buf_putc(c->out, '\n');
}

void kiln_query_tree_folded(const kq_tree *t, int col, kq_buf *out)
{
    fold_ctx c = {out, col};
    if (walk(t, fold_one, &c) != 0) out->oom = 1;
}

typedef struct ss_ctx {
    kq_buf *samples, *weights;
    uint32_t *frame_of; /* name id -> frame index + 1 */
    uint32_t *frames;
    uint32_t n_frames;
    int col, first;
} ss_ctx;

static void ss_one(const kq_tree *t, uint32_t node, const uint32_t *path, size_t depth, void *arg)
{
    ss_ctx *c = arg;
    int64_t s = t->self[c->col][node];
    if (s <= 0) return;
    if (!c->first) {
        kiln_query_buf_putc(c->samples, ',');
        kiln_query_buf_putc(c->weights, ',');
    }
    c->first = 0;
    kiln_query_buf_putc(c->samples, '[');
    for (size_t i = 0; i <= depth; i++) {
        uint32_t nm = path[i];
        if (!c->frame_of[nm]) {
            c->frames[c->n_frames++] = nm;
            c->frame_of[nm] = c->n_frames;
        }
        if (i) kiln_query_buf_putc(c->samples, ',');
        kiln_query_buf_i64(c->samples, (int64_t)c->frame_of[nm] - 1);
    }
    kiln_query_buf_putc(c->samples, ']');
    kiln_query_buf_i64(c->weights, s);
}

void kiln_query_tree_speedscope(const kq_tree *t, int col, const char *name, const char *unit,
                                kq_buf *out)
{
    kq_buf samples = {0}, weights = {0};
    ss_ctx c = {&samples, &weights, calloc((size_t)t->names.n + 1, sizeof(uint32_t)),
                malloc(((size_t)t->names.n + 1) * sizeof(uint32_t)), 0, col, 1};
    if (!c.frame_of || !c.frames || walk(t, ss_one, &c) != 0) {
        out->oom = 1;
    } else {
        kiln_query_buf_puts(out, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
                                 "\"shared\":{\"frames\":[");
        for (uint32_t i = 0; i < c.n_frames; i++) {
            if (i) kiln_query_buf_putc(out, ',');
            kiln_query_buf_puts(out, "{\"name\":");
            kiln_query_buf_jstrz(out, kiln_query_tree_display(t, c.frames[i]));
            kiln_query_buf_putc(out, '}');
        }
        kiln_query_buf_puts(out, "]},\"profiles\":[{\"type\":\"sampled\",\"name\":");
        kiln_query_buf_jstrz(out, name);
        kiln_query_buf_puts(out, ",\"unit\":");
        kiln_query_buf_jstrz(out, unit);
        kiln_query_buf_puts(out, ",\"startValue\":0,\"endValue\":");
        int64_t tot = 0;
        for (uint32_t i = 1; i < t->n; i++)
            if (t->self[col][i] > 0) tot += t->self[col][i];
        kiln_query_buf_i64(out, tot);
        kiln_query_buf_puts(out, ",\"samples\":[");
        kiln_query_buf_put(out, samples.p ? samples.p : "", samples.n);
        kiln_query_buf_puts(out, "],\"weights\":[");
        kiln_query_buf_put(out, weights.p ? weights.p : "", weights.n);
        kiln_query_buf_puts(out, "]}],\"name\":");
        kiln_query_buf_jstrz(out, name);
        kiln_query_buf_puts(out, ",\"activeProfileIndex\":0,\"exporter\":\"kiln\"}");
        if (samples.oom || weights.oom) out->oom = 1;
    }
    free(c.frame_of);
    free(c.frames);
    kiln_query_buf_free(&samples);
    kiln_query_buf_free(&weights);
}
