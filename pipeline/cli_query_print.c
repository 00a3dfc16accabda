/* pipeline/cli_query_print.c — the text reports of `kiln query`: `top`
 * in the layout of `go tool pprof -top`, and `tree` (the hottest path,
 * then the call tree pruned at a node fraction).
 *
 * Values are formatted as pprof's internal/measurement does (Go 1.19's
 * pprof, facts read from its behaviour): a sample unit is recognised by
 * lower-casing it and dropping one trailing "s" when longer than two
 * bytes, then looking it up among the byte units (B kB MB GB TB PB, powers
 * of 1024), time units (ns us ms s hrs) and GCU units; a value is printed
 * with Go's %.2f, ".00" trimmed, "0" for zero. One output unit serves a
 * whole report: the best unit of the smallest shown value, or that of
 * 100x the smallest when the smallest and the total have different units
 * and the smallest is under 1% of the total. Unknown units print the plain
 * number followed by the unit, except count/sample/unit (nothing).
 *
 * Memory: scratch arrays are malloc'ed and freed here.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_query.h"

/* ---- pprof's units ---------------------------------------------------------------------- */

typedef struct cqp_unit {
    const char *name;
    const char *aliases[4];
    double factor;
} cqp_unit;

typedef struct cqp_family {
    cqp_unit units[9];
    size_t n;
    cqp_unit def;
} cqp_family;

static const cqp_family cqp_families[] = {
    {{{"B", {"b", "byte"}, 1},
      {"kB", {"kb", "kbyte", "kilobyte"}, 1024.0},
      {"MB", {"mb", "mbyte", "megabyte"}, 1048576.0},
      {"GB", {"gb", "gbyte", "gigabyte"}, 1073741824.0},
      {"TB", {"tb", "tbyte", "terabyte"}, 1099511627776.0},
      {"PB", {"pb", "pbyte", "petabyte"}, 1125899906842624.0}},
     6,
     {"B", {"b", "byte"}, 1}},
    {{{"ns", {"ns", "nanosecond"}, 1},
      {"us", {"\xce\xbcs", "us", "microsecond"}, 1e3},
      {"ms", {"ms", "millisecond"}, 1e6},
      {"s", {"s", "sec", "second"}, 1e9},
      {"hrs", {"hour", "hr"}, 3600e9}},
     5,
     {"s", {NULL}, 1e9}},
    {{{"n*GCU", {"nanogcu"}, 1e-9},
      {"u*GCU", {"microgcu"}, 1e-6},
      {"m*GCU", {"milligcu"}, 1e-3},
      {"GCU", {"gcu"}, 1},
      {"k*GCU", {"kilogcu"}, 1e3},
      {"M*GCU", {"megagcu"}, 1e6},
      {"G*GCU", {"gigagcu"}, 1e9},
      {"T*GCU", {"teragcu"}, 1e12},
      {"P*GCU", {"petagcu"}, 1e15}},
     9,
     {"GCU", {NULL}, 1}},
};

/* the unit of family f a unit name stands for, or NULL */
static const cqp_unit *cqp_sniff(const cqp_family *f, const char *unit)
{
    char low[64];
    size_t n = strlen(unit);
    if (n >= sizeof low) return NULL;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)unit[i]);
    if (n > 2 && low[n - 1] == 's') low[--n] = 0;
    for (size_t i = 0; i < f->n; i++)
        for (size_t k = 0; k < 4 && f->units[i].aliases[k]; k++)
            if (strcmp(f->units[i].aliases[k], low) == 0) return &f->units[i];
    return NULL;
}

static int cqp_auto(const char *to) { return strcmp(to, "minimum") == 0 || strcmp(to, "auto") == 0; }

/* measurement.Scale: *v in the unit written to `unit` ("" when uninteresting) */
static void cqp_scale(int64_t value, const char *from, const char *to, double *v, const char **unit)
{
    if (value < 0 && value != INT64_MIN) {
        cqp_scale(-value, from, to, v, unit);
        *v = -*v;
        return;
    }
    for (size_t fi = 0; fi < sizeof cqp_families / sizeof cqp_families[0]; fi++) {
        const cqp_family *f = &cqp_families[fi];
        const cqp_unit *fu = cqp_sniff(f, from);
        if (!fu) continue;
        double base = (double)value * fu->factor;
        if (cqp_auto(to)) {
            double fac = 0;
            const char *nm = NULL;
            for (size_t i = 0; i < f->n; i++)
                if (f->units[i].factor >= fac && base / f->units[i].factor >= 1.0) {
                    fac = f->units[i].factor;
                    nm = f->units[i].name;
                }
            if (nm) {
                *v = base / fac;
                *unit = nm;
            } else {
                *v = base / f->def.factor;
                *unit = f->def.name;
            }
            return;
        }
        const cqp_unit *tu = cqp_sniff(f, to);
        if (!tu) tu = &f->def;
        *v = base / tu->factor;
        *unit = tu->name;
        return;
    }
    *v = (double)value;
    if (cqp_auto(to) || !strcmp(to, "count") || !strcmp(to, "sample") || !strcmp(to, "unit")) *unit = "";
    else *unit = to;
}

void kiln_cq_scaled_label(int64_t v, const char *from_unit, const char *to_unit, char *buf, size_t cap)
{
    double d;
    const char *u;
    cqp_scale(v, from_unit, to_unit, &d, &u);
    char num[64];
    snprintf(num, sizeof num, "%.2f", d);
    size_t n = strlen(num);
    if (n >= 3 && strcmp(num + n - 3, ".00") == 0) num[n - 3] = 0;
    if (!strcmp(num, "0") || !strcmp(num, "-0")) snprintf(buf, cap, "0");
    else snprintf(buf, cap, "%s%s", num, u);
}

void kiln_cq_scale_pick(const char *sample_unit, int64_t min_v, int64_t max_v, int raw, kiln_cq_scale *s)
{
    s->raw = raw;
    s->sample_unit = sample_unit;
    if (min_v == 0 && max_v == 0) { /* no row: pprof leaves "minimum" */
        snprintf(s->out_unit, sizeof s->out_unit, "minimum");
        return;
    }
    if (min_v == 0) min_v = max_v;
    double d;
    const char *umin, *umax, *unit;
    cqp_scale(min_v, sample_unit, "minimum", &d, &umin);
    cqp_scale(max_v, sample_unit, "minimum", &d, &umax);
    unit = umin;
    /* Go's int64 multiply wraps; so does this */
    int64_t min100 = (int64_t)((uint64_t)min_v * 100u);
    if (strcmp(umin, umax) != 0 && min100 < max_v) cqp_scale(min100, sample_unit, "minimum", &d, &unit);
    snprintf(s->out_unit, sizeof s->out_unit, "%s", *unit ? unit : sample_unit);
}

void kiln_cq_fmt_value(int64_t v, const kiln_cq_scale *s, char *buf, size_t cap)
{
    if (s->raw) snprintf(buf, cap, "%" PRId64, v);
    else kiln_cq_scaled_label(v, s->sample_unit, s->out_unit, buf, cap);
}

void kiln_cq_fmt_pct(int64_t v, int64_t total, char *buf, size_t cap)
{
    double r = total ? fabs((double)v / (double)total) * 100 : 0;
    if (r >= 99.95 && r <= 100.05) snprintf(buf, cap, "  100%%");
    else if (r >= 1.0) snprintf(buf, cap, "%5.2f%%", r);
    else snprintf(buf, cap, "%5.2g%%", r);
}

void kiln_cq_obj_name(const char *file, char *buf, size_t cap)
{
    size_t n = strlen(file);
    while (n > 1 && file[n - 1] == '/') n--; /* filepath.Base drops trailing slashes */
    if (!n) {
        snprintf(buf, cap, "<unknown>");
        return;
    }
    size_t b = n;
    while (b > 0 && file[b - 1] != '/') b--;
    if (b == n) b = n - 1; /* "/" */
    snprintf(buf, cap, "[%.*s]", (int)(n - b), file + b);
}

/* pprof's default -edgefraction: lighter call edges are dropped before the
 * inline marks are read from them */
#define CQP_EDGE_FRACTION 0.001

static uint64_t cqp_abs(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

/* ---- header lines --------------------------------------------------------------------------- */

static const char *cqp_str(const kiln_pprof *p, int64_t i)
{
    return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "";
}

void kiln_cq_print_labels(FILE *out, const kiln_pprof *p, size_t si, int64_t total, const kiln_cq_scale *s)
{
    const kiln_pprof_value_type *vt = p->sample_type[si];
    fprintf(out, "Type: %s\n", cqp_str(p, vt->type));
    if (p->time_nanos) {
        time_t t = (time_t)(p->time_nanos / 1000000000);
        struct tm tm;
        char buf[128];
        if (localtime_r(&t, &tm) && strftime(buf, sizeof buf, "%b %-d, %Y at %-I:%M%P (%Z)", &tm))
            fprintf(out, "Time: %s\n", buf);
    }
    if (p->duration_nanos) {
        char dur[64], tot[64], pct[32] = "";
        kiln_cq_scaled_label(p->duration_nanos, "nanoseconds", "auto", dur, sizeof dur);
        kiln_cq_fmt_value(total, s, tot, sizeof tot);
        double tn;
        const char *tu;
        cqp_scale(total, s->sample_unit, "nanoseconds", &tn, &tu);
        if (!strcmp(tu, "ns") && tn != 0) {
            char r[24];
            kiln_cq_fmt_pct(kiln_cq_d2i(tn), p->duration_nanos, r, sizeof r);
            snprintf(pct, sizeof pct, "(%s)", r);
        }
        fprintf(out, "Duration: %s, Total samples = %s %s\n", dur, tot, pct);
    }
}

/* ---- top ---------------------------------------------------------------------------------------- */

typedef struct cqp_row {
    const kiln_pprof_fn_total *r;
    char *name; /* as printed (malloc'ed) */
} cqp_row;

static int cqp_cmp_flat(const void *x, const void *y)
{
    const cqp_row *a = x, *b = y;
    uint64_t fa = cqp_abs(a->r->flat), fb = cqp_abs(b->r->flat);
    if (fa != fb) return fa > fb ? -1 : 1;
    int c = strcmp(a->name, b->name);
    if (c) return c;
    uint64_t ca = cqp_abs(a->r->cum), cb = cqp_abs(b->r->cum);
    return ca != cb ? (ca > cb ? -1 : 1) : 0;
}

static int cqp_cmp_cum(const void *x, const void *y)
{
    const cqp_row *a = x, *b = y;
    uint64_t ca = cqp_abs(a->r->cum), cb = cqp_abs(b->r->cum);
    if (ca != cb) return ca > cb ? -1 : 1;
    int c = strcmp(a->name, b->name);
    if (c) return c;
    uint64_t fa = cqp_abs(a->r->flat), fb = cqp_abs(b->r->flat);
    return fa != fb ? (fa > fb ? -1 : 1) : 0;
}

/* pprof's rpt.total: the sum of |value| over the samples */
static int64_t cqp_abs_total(const kiln_pprof *p, size_t si)
{
    int64_t t = 0;
    for (size_t i = 0; i < p->n_sample; i++)
        if (si < p->sample[i]->n_value) t = kiln_cq_add(t, kiln_cq_d2i((double)cqp_abs(p->sample[i]->value[si])));
    return t;
}

int kiln_cq_print_top(FILE *out, const kiln_pprof *p, size_t si, const kiln_cq_top_opts *o, kiln_err *err)
{
    kiln_pprof_fn_total *rows = NULL, *shown_rows = NULL;
    size_t n = 0;
    int64_t sum;
    int rc = kiln_pprof_top(p, si, &rows, &n, &sum, err);
    if (rc != KILN_OK) return rc;
    cqp_row *v = calloc(n + 1, sizeof *v);
    uint8_t *is_obj = calloc(n + 1, 1), *marks = calloc(n + 1, 1);
    if (!v || !is_obj || !marks) goto oom;
    rc = kiln_cq_top_marks(p, si, rows, n, 0, NULL, is_obj, err);
    if (rc != KILN_OK) goto out;
    int64_t total = cqp_abs_total(p, si), flat_all = 0;
    for (size_t i = 0; i < n; i++) flat_all = kiln_cq_add(flat_all, rows[i].flat);
    /* nodefraction: pprof keeps the nodes whose |cum| reaches the cutoff */
    int64_t cutoff = kiln_cq_d2i(fabs((double)flat_all * o->nodefraction));
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (cutoff > 0 && cqp_abs(rows[i].cum) < (uint64_t)cutoff) continue;
        char buf[4096];
        if (is_obj[i]) kiln_cq_obj_name(rows[i].name, buf, sizeof buf);
        v[kept].r = &rows[i];
        if (!(v[kept].name = strdup(is_obj[i] ? buf : rows[i].name))) goto oom;
        kept++;
    }
    size_t dropped = n - kept;
    if (kept > 1) qsort(v, kept, sizeof *v, o->cum ? cqp_cmp_cum : cqp_cmp_flat);
    size_t shown = o->nodecount > 0 && (size_t)o->nodecount < kept ? (size_t)o->nodecount : kept;
    /* the inline marks of the rows shown (pprof rebuilds its graph with them) */
    shown_rows = calloc(shown + 1, sizeof *shown_rows);
    if (!shown_rows) goto oom;
    for (size_t i = 0; i < shown; i++) shown_rows[i] = *v[i].r;
    /* is_obj is scratch now: the names above already carry it */
    int64_t edge_cutoff = kiln_cq_d2i(fabs((double)flat_all * CQP_EDGE_FRACTION));
    rc = kiln_cq_top_marks(p, si, shown_rows, shown, edge_cutoff, marks, is_obj, err);
    if (rc != KILN_OK) goto out;

    int64_t min_v = 0, flat_sum = 0;
    for (size_t i = 0; i < shown; i++) {
        int64_t m = (int64_t)cqp_abs(v[i].r->flat);
        if (!m) m = (int64_t)cqp_abs(v[i].r->cum);
        if (m > 0 && (min_v == 0 || m < min_v)) min_v = m;
        flat_sum = kiln_cq_add(flat_sum, v[i].r->flat);
    }
    kiln_cq_scale sc;
    const char *unit = cqp_str(p, p->sample_type[si]->unit);
    kiln_cq_scale_pick(unit, min_v, shown ? total : 0, o->raw, &sc);
    char a[64], b[64], c[64], d[64], e[64];
    kiln_cq_print_labels(out, p, si, total, &sc);
    kiln_cq_fmt_value(flat_sum, &sc, a, sizeof a);
    kiln_cq_fmt_pct(flat_sum, total, b, sizeof b);
    kiln_cq_fmt_value(total, &sc, c, sizeof c);
    fprintf(out, "Showing nodes accounting for %s, %s of %s total\n", a, b + strspn(b, " "), c);
    if (total != 0) {
        if (dropped > 0) {
            kiln_cq_fmt_value(kiln_cq_d2i(fabs((double)total * o->nodefraction)), &sc, a, sizeof a);
            fprintf(out, "Dropped %zu node%s (cum <= %s)\n", dropped, dropped > 1 ? "s" : "", a);
        }
        if (shown > 0 && shown < kept) fprintf(out, "Showing top %zu nodes out of %zu\n", shown, kept);
    }
    fprintf(out, "%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");
    int64_t run = 0;
    for (size_t i = 0; i < shown; i++) {
        const kiln_pprof_fn_total *r = v[i].r;
        run = kiln_cq_add(run, r->flat);
        kiln_cq_fmt_value(r->flat, &sc, a, sizeof a);
        kiln_cq_fmt_pct(r->flat, total, b, sizeof b);
        kiln_cq_fmt_pct(run, total, c, sizeof c);
        kiln_cq_fmt_value(r->cum, &sc, d, sizeof d);
        kiln_cq_fmt_pct(r->cum, total, e, sizeof e);
        const char *inl = (marks[i] & 3) == 3 ? " (partial-inline)" : (marks[i] & 1) ? " (inline)" : "";
        fprintf(out, "%10s %s %s %10s %s  %s%s\n", a, b, c, d, e, v[i].name, inl);
    }
    rc = KILN_OK;
    goto out;
oom:
    rc = kiln_err_set(err, KILN_ENOMEM, "top: out of memory");
out:
    if (v)
        for (size_t i = 0; i < n; i++) free(v[i].name);
    free(v);
    free(is_obj);
    free(marks);
    free(shown_rows);
    free(rows);
    return rc;
}

/* ---- tree --------------------------------------------------------------------------------------- */

typedef struct cqp_kid {
    uint32_t node;
    int64_t total;
    const char *name;
} cqp_kid;

static int cqp_cmp_kid(const void *x, const void *y)
{
    const cqp_kid *a = x, *b = y;
    uint64_t ta = cqp_abs(a->total), tb = cqp_abs(b->total);
    if (ta != tb) return ta > tb ? -1 : 1;
    return strcmp(a->name, b->name);
}

static void cqp_tree_line(FILE *out, const kiln_cq_tree *t, uint32_t nd, int64_t total, const kiln_cq_scale *sc,
                          size_t indent)
{
    char a[64], b[32], c[64], d[32];
    kiln_cq_fmt_value(t->self[nd], sc, a, sizeof a);
    kiln_cq_fmt_pct(t->self[nd], total, b, sizeof b);
    kiln_cq_fmt_value(t->total[nd], sc, c, sizeof c);
    kiln_cq_fmt_pct(t->total[nd], total, d, sizeof d);
    fprintf(out, "%10s %s %10s %s  %*s%s\n", a, b, c, d, (int)indent, "", t->names[t->name[nd]]);
}

int kiln_cq_print_tree(FILE *out, const kiln_pprof *p, size_t si, double nodefraction, int raw, kiln_err *err)
{
    kiln_cq_tree t;
    int rc = kiln_cq_tree_build(p, si, &t, err);
    if (rc != KILN_OK) return rc;
    uint32_t *path = NULL, *stk = NULL;
    size_t np = 0;
    uint8_t *show = NULL;
    cqp_kid *kids = NULL;
    if ((rc = kiln_cq_tree_hot_path(&t, &path, &np, err)) != KILN_OK) goto out;
    int64_t total = t.total[0];
    int64_t cutoff = kiln_cq_d2i(fabs((double)total * nodefraction));
    show = calloc(t.n, 1);
    stk = malloc(((size_t)t.n + 1) * sizeof *stk);
    kids = malloc(((size_t)t.n + 1) * sizeof *kids);
    if (!show || !stk || !kids) {
        rc = kiln_err_set(err, KILN_ENOMEM, "tree: out of memory");
        goto out;
    }
    /* shown: a shown parent, a non-zero value, and |cum| at the cutoff or above */
    size_t n_shown = 0, n_nodes = t.n - 1;
    show[0] = 1;
    int64_t min_v = 0;
    for (uint32_t i = 1; i < t.n; i++) {
        int64_t tv = t.total[i], sv = t.self[i];
        show[i] = show[t.parent[i]] && (tv || sv) && cqp_abs(tv) >= (uint64_t)cutoff;
        if (!show[i]) continue;
        n_shown++;
        int64_t m = (int64_t)cqp_abs(sv);
        if (!m) m = (int64_t)cqp_abs(tv);
        if (m > 0 && (min_v == 0 || m < min_v)) min_v = m;
    }
    for (size_t i = 0; i < np; i++) { /* the hottest path is always printed */
        int64_t m = (int64_t)cqp_abs(t.self[path[i]]);
        if (!m) m = (int64_t)cqp_abs(t.total[path[i]]);
        if (m > 0 && (min_v == 0 || m < min_v)) min_v = m;
    }
    kiln_cq_scale sc;
    const char *unit = cqp_str(p, p->sample_type[si]->unit);
    kiln_cq_scale_pick(unit, min_v, n_shown || np ? total : 0, raw, &sc);
    kiln_cq_print_labels(out, p, si, total, &sc);
    char tot[64], cut[64];
    kiln_cq_fmt_value(total, &sc, tot, sizeof tot);
    fprintf(out, "Total: %s\n\n", tot);
    fprintf(out, "Hottest path (%zu frames; from the root, the callee with the largest cum at each step):\n", np);
    fprintf(out, "%10s %5s%% %10s %5s%%\n", "flat", "flat", "cum", "cum");
    for (size_t i = 0; i < np; i++) cqp_tree_line(out, &t, path[i], total, &sc, 0);
    if (sc.raw) snprintf(cut, sizeof cut, "%" PRId64, cutoff);
    else snprintf(cut, sizeof cut, "%g%% of the total", nodefraction * 100);
    fprintf(out, "\nCall tree (%zu of %zu nodes; callees by cum; hidden: cum < %s, --nodefraction):\n", n_shown,
            n_nodes, cut);
    fprintf(out, "%10s %5s%% %10s %5s%%\n", "flat", "flat", "cum", "cum");
    /* depth first, children by |cum| then name */
    size_t sp = 0;
    stk[sp++] = 0;
    while (sp) {
        uint32_t nd = stk[--sp];
        if (nd) cqp_tree_line(out, &t, nd, total, &sc, 2 * (size_t)(t.depth[nd] - 1));
        size_t k = 0;
        for (uint32_t j = t.coff[nd]; j < t.coff[nd + 1]; j++) {
            uint32_t c = t.cidx[j];
            if (show[c]) kids[k++] = (cqp_kid){c, t.total[c], t.names[t.name[c]]};
        }
        if (k > 1) qsort(kids, k, sizeof *kids, cqp_cmp_kid);
        while (k) stk[sp++] = kids[--k].node;
    }
    rc = ferror(out) ? kiln_err_set(err, KILN_EIO, "tree: write error") : KILN_OK;
out:
    free(path);
    free(stk);
    free(show);
    free(kids);
    kiln_cq_tree_free(&t);
    return rc;
}
