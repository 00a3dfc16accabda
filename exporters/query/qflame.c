/* exporters/query/qflame.c — flame graphs in Pyroscope's wire shape.
 *
 * FlameGraph (one column, pkg/model/flamegraph.go NewFlameGraph): names[0]
 * is "total"; levels[d] holds 4 int64s per node, [x, total, self, name],
 * left to right, x delta-encoded within the level (stored = x - (previous
 * x + previous total)). Inside a node, its self span comes first, then its
 * children in name order. max_nodes: the threshold is the max_nodes-th
 * largest node total; children below it (and children named "other") are
 * merged into one synthetic "other" child (self = total = their sum).
 *
 * FlameGraphDiff (two columns, flamegraph_diff.go): 7 int64s per node,
 * [left x, left total, left self, right x, right total, right self, name];
 * both trees aligned (a node missing on one side has zeros there); a child
 * stays when either side reaches the threshold (the max_nodes-th largest of
 * max(left, right) over every node, the root included); left and right x
 * are delta-encoded independently. Negative values are refused.
 *
 * The nodes are visited exactly as Pyroscope visits them (a LIFO stack,
 * children pushed in name order, each level reversed at the end), so the
 * output is byte-identical for the same tree.
 *
 * Memory: a kq_flame owns its arrays; its names point into the tree (or at
 * static "total"/"other") and are valid while the tree lives.
 */
#include "query.h"

#include <stdlib.h>
#include <string.h>

/* k-th largest (1-based) of v[0..n) by quickselect (3-way partition);
 * v is reordered. */
static int64_t kth_largest(int64_t *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, want = (ptrdiff_t)k - 1;
    while (lo < hi) {
        int64_t a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi];
        int64_t pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        ptrdiff_t lt = lo, gt = hi, i = lo;
        while (i <= gt) {
            if (v[i] > pivot) {
                int64_t t = v[lt];
                v[lt++] = v[i];
                v[i++] = t;
            } else if (v[i] < pivot) {
                int64_t t = v[gt];
                v[gt--] = v[i];
                v[i] = t;
            } else {
                i++;
            }
        }
        if (want < lt) hi = lt - 1;
        else if (want > gt) lo = gt + 1;
        else return pivot;
    }
    return v[want];
}

int64_t kiln_query_flame_min_value(const kq_tree *t, int64_t max_nodes)
{
    if (max_nodes < 1) return 0;
    int diff = t->ncols == 2;
    size_t first = diff ? 0 : 1; /* the diff counts its root */
    size_t n = t->n > first ? t->n - first : 0;
    if ((int64_t)n <= max_nodes) return 0;
    int64_t *v = malloc(n * sizeof *v);
    if (!v) return 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = i + first;
        int64_t a = t->total[0][k];
        if (diff && t->total[1][k] > a) a = t->total[1][k];
        v[i] = a;
    }
    int64_t r = kth_largest(v, n, (size_t)max_nodes);
    free(v);
    return r;
}

typedef struct ent {
    uint32_t node;  /* KQ_NONE: a synthetic "other" */
    int64_t ox[2];  /* x offsets */
    int64_t other[2];
    uint32_t level;
} ent;

typedef struct lvl {
    int64_t *v;
    size_t n, cap;
} lvl;

static int lvl_push(lvl *l, int64_t x)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        int64_t *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = x;
    return 0;
}

void kiln_query_flame_free(kq_flame *f)
{
    for (size_t i = 0; i < f->n_levels; i++) free(f->levels[i]);
    free(f->levels);
    free(f->level_len);
    free(f->names);
    memset(f, 0, sizeof *f);
}

int kiln_query_flame(const kq_tree *t, int64_t max_nodes, kq_flame *out, kiln_err *err)
{
    memset(out, 0, sizeof *out);
    const int nc = t->ncols == 2 ? 2 : 1;
    const int diff = nc == 2;
    const size_t per = diff ? 7 : 4;
    if (!t->finished) return kiln_err_set(err, KILN_EINVAL, "flame graph of an unfinished tree");
    if (diff)
        for (uint32_t i = 0; i < t->n; i++)
            if (t->self[0][i] < 0 || t->self[1][i] < 0)
                return kiln_err_set(err, KILN_EINVAL, "a diff needs trees of positive values only");
    int64_t min = kiln_query_flame_min_value(t, max_nodes);
    int64_t rootv[2] = {0, 0};
    for (int c = 0; c < nc; c++)
        for (uint32_t j = t->coff[0]; j < t->coff[1]; j++) rootv[c] += t->total[c][t->cidx[j]];

    uint32_t *fidx = malloc(((size_t)t->names.n + 1) * sizeof *fidx);
    const char **names = malloc(16 * sizeof *names);
    size_t n_names = 0, cap_names = 16;
    uint32_t idx_total = KQ_NONE, idx_other = KQ_NONE;
    ent *stk = malloc(256 * sizeof *stk);
    size_t sp = 0, cap_stk = 256;
    lvl *lv = NULL;
    size_t n_lv = 0, cap_lv = 0;
    int rc = KILN_OK;
    if (!fidx || !names || !stk) goto oom;
    for (uint32_t i = 0; i < t->names.n; i++) fidx[i] = KQ_NONE;

    stk[sp++] = (ent){0, {0, 0}, {0, 0}, 0};
    while (sp) {
        ent cur = stk[--sp];
        int64_t self[2] = {0, 0}, total[2] = {0, 0};
        uint32_t *slot;
        const char *nm;
        if (cur.node == KQ_NONE) {
            for (int c = 0; c < nc; c++) self[c] = total[c] = cur.other[c];
            slot = &idx_other;
            nm = "other";
        } else if (cur.node == 0) {
            for (int c = 0; c < nc; c++) total[c] = rootv[c];
            slot = &idx_total;
            nm = "total";
        } else {
            for (int c = 0; c < nc; c++) {
                self[c] = t->self[c][cur.node];
                total[c] = t->total[c][cur.node];
            }
            uint32_t name = t->name[cur.node];
            nm = t->names.v[name];
            slot = !strcmp(nm, "total") ? &idx_total : !strcmp(nm, "other") ? &idx_other : &fidx[name];
            nm = kiln_query_tree_display(t, name);
        }
        for (int c = 0; c < nc; c++)
            if (self[c] > out->max_self) out->max_self = self[c];
        if (*slot == KQ_NONE) {
            if (n_names == cap_names) {
                cap_names *= 2;
                const char **nn = realloc(names, cap_names * sizeof *nn);
                if (!nn) goto oom;
                names = nn;
            }
            *slot = (uint32_t)n_names;
            names[n_names] = n_names == 0 ? "total" : nm;
            n_names++;
        }
        if (cur.level == n_lv) {
            if (n_lv == cap_lv) {
                size_t ncap = cap_lv ? cap_lv * 2 : 16;
                lvl *nl = realloc(lv, ncap * sizeof *nl);
                if (!nl) goto oom;
                lv = nl;
                cap_lv = ncap;
            }
            memset(&lv[n_lv++], 0, sizeof *lv);
        }
        lvl *L = &lv[cur.level];
        /* pushed in reverse; each level is reversed at the end */
        if (lvl_push(L, *slot) != 0) goto oom;
        for (int c = nc; c-- > 0;)
            if (lvl_push(L, self[c]) != 0 || lvl_push(L, total[c]) != 0 || lvl_push(L, cur.ox[c]) != 0)
                goto oom;
        int64_t x[2] = {cur.ox[0] + self[0], cur.ox[1] + self[1]};
        if (cur.node == KQ_NONE) continue;
        int64_t other[2] = {0, 0};
        for (uint32_t j = t->coff[cur.node]; j < t->coff[cur.node + 1]; j++) {
            uint32_t ch = t->cidx[j];
            int keep = t->total[0][ch] >= min || (diff && t->total[1][ch] >= min);
            if (!diff && keep && !strcmp(t->names.v[t->name[ch]], "other")) keep = 0;
            if (keep) {
                if (sp == cap_stk) {
                    cap_stk *= 2;
                    ent *ns = realloc(stk, cap_stk * sizeof *ns);
                    if (!ns) goto oom;
                    stk = ns;
                }
                stk[sp++] = (ent){ch, {x[0], x[1]}, {0, 0}, cur.level + 1};
                for (int c = 0; c < nc; c++) x[c] += t->total[c][ch];
            } else {
                for (int c = 0; c < nc; c++) other[c] += t->total[c][ch];
            }
        }
        if (other[0] != 0 || (diff && other[1] != 0)) {
            if (sp == cap_stk) {
                cap_stk *= 2;
                ent *ns = realloc(stk, cap_stk * sizeof *ns);
                if (!ns) goto oom;
                stk = ns;
            }
            stk[sp++] = (ent){KQ_NONE, {x[0], x[1]}, {other[0], other[1]}, cur.level + 1};
        }
    }
    /* reverse each level, then delta-encode the x offsets */
    out->levels = calloc(n_lv ? n_lv : 1, sizeof *out->levels);
    out->level_len = calloc(n_lv ? n_lv : 1, sizeof *out->level_len);
    if (!out->levels || !out->level_len) goto oom;
    for (size_t d = 0; d < n_lv; d++) {
        int64_t *v = lv[d].v;
        size_t n = lv[d].n;
        for (size_t i = 0, j = n ? n - 1 : 0; i < j; i++, j--) {
            int64_t tmp = v[i];
            v[i] = v[j];
            v[j] = tmp;
        }
        for (size_t c = 0; c < (size_t)nc; c++) {
            size_t xo = c * 3;
            int64_t prev = 0;
            for (size_t i = xo; i + 1 < n; i += per) {
                v[i] -= prev;
                prev += v[i] + v[i + 1];
            }
        }
        out->levels[d] = v;
        out->level_len[d] = n;
        lv[d].v = NULL;
    }
    out->n_levels = n_lv;
    out->names = names;
    out->n_names = n_names;
    out->diff = diff;
    if (diff) {
        out->left_ticks = rootv[0];
        out->right_ticks = rootv[1];
        out->total = rootv[0] + rootv[1];
    } else {
        out->total = rootv[0];
    }
    names = NULL;
    goto done;
oom:
    rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    kiln_query_flame_free(out);
done:
    for (size_t d = 0; d < n_lv; d++) free(lv[d].v);
    free(lv);
    free(stk);
    free(fidx);
    free(names);
    return rc;
}
