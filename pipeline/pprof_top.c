/* pipeline/pprof_top.c — kiln_pprof_top (per-function flat and cum, as
 * `go tool pprof -top -nodefraction=0` at function granularity) and
 * kiln_pprof_sample_index.
 *
 * How pprof counts (internal/graph): for each sample with a non-zero value w,
 * the frames are walked; every line of a location is its own frame (inlined
 * functions included); each distinct node of the sample gets cum += w once;
 * the leaf frame (location_id[0], its line[0]) gets flat += w. A node is a
 * function name (by string value, so two Function entries with the same name
 * are one node). A location without lines, or a line whose function has an
 * empty name, is a node of its mapping's file ("[binary]" in pprof's output);
 * its row's name is the mapping's filename string ("" without a mapping).
 *
 * Memory: *out is malloc'ed (caller frees); names point into the profile's
 * string table. Work tables are malloc'ed and freed here.
 */
#include "pprof_internal.h"

#include <inttypes.h>

typedef struct node {
    const char *name;
    int64_t flat, cum;
    size_t stamp; /* 1 + index of the last sample that added to cum */
    int objfile;  /* 1: a mapping-file node */
} node;

typedef struct nodes {
    node *v;
    size_t n, cap;
    kp_tab tab;
} nodes;

typedef struct node_key {
    nodes *ns;
    const char *name;
    int objfile;
} node_key;

static int node_eq(void *ctx, uint32_t e)
{
    node_key *k = ctx;
    const node *n = &k->ns->v[e];
    return n->objfile == k->objfile && strcmp(n->name, k->name) == 0;
}

/* Returns the node for (name, objfile), creating it; -1 when out of memory. */
static int64_t node_get(nodes *ns, const char *name, int objfile)
{
    node_key k = {ns, name, objfile};
    uint32_t h = kp_h32(kp_hash_bytes(name, strlen(name), (uint64_t)objfile));
    size_t slot;
    int64_t e = kp_tab_find(&ns->tab, h, node_eq, &k, &slot);
    if (e >= 0) return e;
    if (ns->n == ns->cap) {
        size_t nc = ns->cap ? ns->cap * 2 : 256;
        node *nv = realloc(ns->v, nc * sizeof *nv);
        if (!nv) return -1;
        ns->v = nv;
        ns->cap = nc;
    }
    ns->v[ns->n] = (node){name, 0, 0, 0, objfile};
    if (kp_tab_put(&ns->tab, slot, h, (uint32_t)ns->n) < 0) return -1;
    return (int64_t)ns->n++;
}

static int cmp_rows(const void *x, const void *y)
{
    const kiln_pprof_fn_total *a = x, *b = y;
    uint64_t fa = kp_abs(a->flat), fb = kp_abs(b->flat);
    if (fa != fb) return fa > fb ? -1 : 1;
    int c = strcmp(a->name, b->name);
    if (c) return c;
    uint64_t ca = kp_abs(a->cum), cb = kp_abs(b->cum);
    if (ca != cb) return ca > cb ? -1 : 1;
    return 0;
}

int kiln_pprof_top(const kiln_pprof *p, size_t sample_index, kiln_pprof_fn_total **out,
                   size_t *n_out, int64_t *total, kiln_err *err)
{
    *out = NULL;
    *n_out = 0;
    *total = 0;
    if (sample_index >= p->n_sample_type)
        return kiln_err_set(err, KILN_EINVAL, "pprof top: sample index %zu out of range (%zu sample types)",
                            sample_index, p->n_sample_type);
    kp_ids ids;
    int rc = kiln_pp_ids_build(p, &ids, err);
    if (rc) return rc;

    nodes ns = {0};
    size_t *fn_node = NULL, *map_node = NULL, *loc_first = NULL, *frames = NULL;
    size_t n_frames = 0;
    rc = KILN_ERR;
    if (kp_tab_init(&ns.tab, p->n_function + p->n_mapping + 1) < 0) goto oom;
    fn_node = malloc((p->n_function + 1) * sizeof *fn_node);
    map_node = malloc((p->n_mapping + 1) * sizeof *map_node);
    loc_first = malloc((p->n_location + 1) * sizeof *loc_first);
    if (!fn_node || !map_node || !loc_first) goto oom;

    /* node of each mapping file (slot n_mapping: no mapping) and function */
    for (size_t i = 0; i <= p->n_mapping; i++) {
        const char *f = i < p->n_mapping ? kp_str(p, p->mapping[i]->filename) : "";
        int64_t e = node_get(&ns, f, 1);
        if (e < 0) goto oom;
        map_node[i] = (size_t)e;
    }
    for (size_t i = 0; i < p->n_function; i++) {
        const char *nm = kp_str(p, p->function[i]->name);
        fn_node[i] = SIZE_MAX; /* empty name: resolved per location to its mapping */
        if (!*nm) continue;
        int64_t e = node_get(&ns, nm, 0);
        if (e < 0) goto oom;
        fn_node[i] = (size_t)e;
    }
    /* frames of each location, innermost first: frames[loc_first[i] ..] */
    for (size_t i = 0; i < p->n_location; i++) {
        loc_first[i] = n_frames;
        n_frames += p->location[i]->n_line ? p->location[i]->n_line : 1;
    }
    loc_first[p->n_location] = n_frames;
    frames = malloc((n_frames + 1) * sizeof *frames);
    if (!frames) goto oom;
    for (size_t i = 0; i < p->n_location; i++) {
        const kiln_pprof_location *l = p->location[i];
        int64_t mi = l->mapping_id ? kp_idx_get(&ids.mapping, l->mapping_id) : -1;
        size_t obj = map_node[mi >= 0 ? (size_t)mi : p->n_mapping];
        size_t *f = frames + loc_first[i];
        if (!l->n_line) {
            f[0] = obj;
            continue;
        }
        for (size_t j = 0; j < l->n_line; j++) {
            int64_t fi = kp_idx_get(&ids.function, l->line[j]->function_id);
            size_t nd = fi >= 0 ? fn_node[fi] : SIZE_MAX;
            f[j] = nd == SIZE_MAX ? obj : nd;
        }
    }

    int64_t sum = 0;
    for (size_t s = 0; s < p->n_sample; s++) {
        const kiln_pprof_sample *sm = p->sample[s];
        if (sample_index >= sm->n_value) continue;
        int64_t w = sm->value[sample_index];
        if (!w) continue;
        sum = kp_add(sum, w);
        for (size_t j = 0; j < sm->n_location_id; j++) {
            int64_t li = kp_idx_get(&ids.location, sm->location_id[j]);
            if (li < 0) continue;
            for (size_t k = loc_first[li]; k < loc_first[li + 1]; k++) {
                node *nd = &ns.v[frames[k]];
                if (nd->stamp != s + 1) {
                    nd->stamp = s + 1;
                    nd->cum = kp_add(nd->cum, w);
                }
            }
        }
        if (sm->n_location_id) {
            int64_t li = kp_idx_get(&ids.location, sm->location_id[0]);
            if (li >= 0) {
                node *leaf = &ns.v[frames[loc_first[li]]];
                leaf->flat = kp_add(leaf->flat, w);
            }
        }
    }

    size_t n = 0;
    for (size_t i = 0; i < ns.n; i++) n += ns.v[i].stamp != 0;
    kiln_pprof_fn_total *rows = malloc((n ? n : 1) * sizeof *rows);
    if (!rows) goto oom;
    n = 0;
    for (size_t i = 0; i < ns.n; i++)
        if (ns.v[i].stamp) rows[n++] = (kiln_pprof_fn_total){ns.v[i].name, ns.v[i].flat, ns.v[i].cum};
    if (n > 1) qsort(rows, n, sizeof *rows, cmp_rows);
    *out = rows;
    *n_out = n;
    *total = sum;
    rc = KILN_OK;
    goto done;
oom:
    rc = kiln_err_set(err, KILN_ENOMEM, "pprof top: out of memory");
done:
    free(ns.v);
    kp_tab_free(&ns.tab);
    free(fn_node);
    free(map_node);
    free(loc_first);
    free(frames);
    kiln_pp_ids_free(&ids);
    return rc;
}

/* NULL or "" asks for pprof's default: default_sample_type when it names a
 * sample type, else the last sample type. */
int kiln_pprof_sample_index(const kiln_pprof *p, const char *type)
{
    if (!p || !p->n_sample_type) return -1;
    if (!type || !*type) {
        const char *d = kp_str(p, p->default_sample_type);
        if (*d)
            for (size_t i = 0; i < p->n_sample_type; i++)
                if (strcmp(kp_str(p, p->sample_type[i]->type), d) == 0) return (int)i;
        return (int)p->n_sample_type - 1;
    }
    for (size_t i = 0; i < p->n_sample_type; i++)
        if (strcmp(kp_str(p, p->sample_type[i]->type), type) == 0) return (int)i;
    return -1;
}
