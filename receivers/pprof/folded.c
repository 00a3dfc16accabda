/* receivers/pprof/folded.c — text profiles of /ingest turned into a pprof
 * model, as Pyroscope's ParseGroups / ParseIndividualLines + Tree.Pprof do:
 *
 *   folded ("groups", the default format): one `frame;frame;leaf <count>`
 *          per line, split at the LAST space; a line without a space is
 *          skipped; the count must be an integer (Go's strconv.Atoi) or the
 *          body is refused;
 *   lines: every line is one stack seen once.
 * Lines end at "\n" (a "\r" before it is dropped); a line over 64 KiB is
 * refused (Go's bufio.Scanner limit). Equal stacks are summed; counts of 0
 * add nothing; frames are not trimmed. Each distinct frame becomes one
 * function (name = system name = the frame text) and one location with one
 * line; samples list locations leaf first. Values are multiplied by
 * `scale` (the 1e9/sampleRate period for cpu and wall) with unsigned
 * wrap-around, as Pyroscope's Tree.Scale does.
 *
 * Memory: the model and all its strings live in the caller's arena; the
 * hash tables used while building are malloc'ed and freed before return.
 * The text is only read. */
#include "pprofrx.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LINE 65536

typedef struct slot {
    const uint8_t *p; /* NULL: empty */
    size_t len;
    uint64_t hash;
    size_t idx;
} slot;

typedef struct table {
    slot *v;
    size_t cap, n; /* cap is a power of two */
} table;

static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static int tgrow(table *t)
{
    size_t nc = t->cap ? t->cap * 2 : 64;
    slot *nv = calloc(nc, sizeof *nv);
    if (!nv) return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->v[i].p) continue;
        size_t j = t->v[i].hash & (nc - 1);
        while (nv[j].p) j = (j + 1) & (nc - 1);
        nv[j] = t->v[i];
    }
    free(t->v);
    t->v = nv;
    t->cap = nc;
    return 0;
}

/* Finds or adds p[0..n); *idx is the entry's index (new: t->n before). 1 if
 * added, 0 if found, -1 out of memory. */
static int tput(table *t, const uint8_t *p, size_t n, size_t *idx)
{
    if ((t->n + 1) * 2 > t->cap && tgrow(t) != 0) return -1;
    uint64_t h = fnv(p, n);
    size_t j = h & (t->cap - 1);
    while (t->v[j].p) {
        if (t->v[j].hash == h && t->v[j].len == n && memcmp(t->v[j].p, p, n) == 0) {
            *idx = t->v[j].idx;
            return 0;
        }
        j = (j + 1) & (t->cap - 1);
    }
    /* an empty stack or frame still needs a non-NULL key pointer */
    static const uint8_t empty[1] = {0};
    t->v[j].p = n ? p : empty;
    t->v[j].len = n;
    t->v[j].hash = h;
    t->v[j].idx = t->n;
    *idx = t->n++;
    return 1;
}

typedef struct stack {
    const uint8_t *p;
    size_t len;
    uint64_t value;
} stack;

/* Go's strconv.Atoi: [+-]digits within int64. */
static int atoi_go(const uint8_t *p, size_t n, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (p[i] == '+' || p[i] == '-')) neg = p[i++] == '-';
    if (i == n) return -1;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        unsigned d = p[i] - '0';
        if (v > (lim - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int64_t intern(kiln_pprof *pp, char **strs, const char *s)
{
    for (size_t i = 0; i < pp->n_string_table; i++)
        if (strcmp(strs[i], s) == 0) return (int64_t)i;
    strs[pp->n_string_table] = (char *)s;
    return (int64_t)pp->n_string_table++;
}

int kiln_pprofrx_folded(kiln_arena *a, const uint8_t *text, size_t len, int lines_mode,
                        const kiln_pprofrx_text_type *t, int64_t time_ns, int64_t duration_ns,
                        kiln_pprof **out, kiln_err *err)
{
    *out = NULL;
    table st = {0}, ft = {0};
    stack *stacks = NULL;
    size_t ncap = 0;
    int rc = KILN_OK;
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const uint8_t *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t l = end - pos;
        lineno++;
        if (l > MAX_LINE) {
            rc = kiln_err_set(err, KILN_EUNPROC, "%s: line %zu is longer than %d bytes",
                              lines_mode ? "lines" : "folded", lineno, MAX_LINE);
            goto done;
        }
        const uint8_t *line = text + pos;
        pos = nl ? end + 1 : len;
        if (l && line[l - 1] == '\r') l--;
        const uint8_t *key = line;
        size_t klen = l;
        uint64_t val = 1;
        if (lines_mode) {
            if (klen == 0) continue;
        } else {
            const uint8_t *sp = NULL;
            for (size_t i = l; i > 0; i--)
                if (line[i - 1] == ' ') {
                    sp = line + i - 1;
                    break;
                }
            if (!sp) continue;
            klen = (size_t)(sp - line);
            int64_t c;
            if (atoi_go(sp + 1, l - klen - 1, &c) != 0) {
                rc = kiln_err_set(err, KILN_EUNPROC,
                                  "folded: line %zu: count \"%.*s\" is not an integer", lineno,
                                  (int)((l - klen - 1) > 40 ? 40 : (l - klen - 1)), sp + 1);
                goto done;
            }
            if (c < 0) {
                rc = kiln_err_set(err, KILN_EUNPROC, "folded: line %zu: negative count %lld",
                                  lineno, (long long)c);
                goto done;
            }
            if (c == 0) continue;
            val = (uint64_t)c;
        }
        size_t idx;
        int r = tput(&st, key, klen, &idx);
        if (r < 0) goto oom;
        if (r == 1) {
            if (idx == ncap) {
                size_t nc = ncap ? ncap * 2 : 64;
                stack *ns = realloc(stacks, nc * sizeof *ns);
                if (!ns) goto oom;
                stacks = ns;
                ncap = nc;
            }
            stacks[idx].p = key;
            stacks[idx].len = klen;
            stacks[idx].value = 0;
        }
        stacks[idx].value += val;
    }
    if (st.n == 0) goto done; /* no sample: *out stays NULL */

    kiln_pprof *pp = kiln_arena_alloc(a, sizeof *pp);
    if (!pp) goto oom;
    perftools__profiles__profile__init(pp);
    pp->n_sample = st.n;
    pp->sample = kiln_arena_alloc(a, st.n * sizeof *pp->sample);
    if (!pp->sample) goto oom;
    /* frames: ids in first-seen order */
    size_t fcap = 0;
    const uint8_t **fname = NULL;
    size_t *flen = NULL;
    for (size_t s = 0; s < st.n; s++) {
        const stack *k = &stacks[s];
        size_t nf = 1;
        for (size_t i = 0; i < k->len; i++) nf += k->p[i] == ';';
        kiln_pprof_sample *smp = kiln_arena_alloc(a, sizeof *smp);
        uint64_t *locs = kiln_arena_alloc(a, nf * sizeof *locs);
        int64_t *vals = kiln_arena_alloc(a, sizeof *vals);
        if (!smp || !locs || !vals) goto oom_f;
        perftools__profiles__sample__init(smp);
        size_t fi = nf, st0 = 0;
        for (size_t i = 0; i <= k->len; i++) {
            if (i < k->len && k->p[i] != ';') continue;
            size_t id;
            int r = tput(&ft, k->p + st0, i - st0, &id);
            if (r < 0) goto oom_f;
            if (r == 1) {
                if (id == fcap) {
                    size_t nc = fcap ? fcap * 2 : 64;
                    const uint8_t **nn = realloc(fname, nc * sizeof *nn);
                    if (!nn) goto oom_f;
                    fname = nn;
                    size_t *nl2 = realloc(flen, nc * sizeof *nl2);
                    if (!nl2) goto oom_f;
                    flen = nl2;
                    fcap = nc;
                }
                fname[id] = k->p + st0;
                flen[id] = i - st0;
            }
            locs[--fi] = id + 1; /* root first in text, leaf first in pprof */
            st0 = i + 1;
        }
        vals[0] = (int64_t)(k->value * t->scale);
        smp->n_location_id = nf;
        smp->location_id = locs;
        smp->n_value = 1;
        smp->value = vals;
        pp->sample[s] = smp;
    }
    size_t nfn = ft.n;
    char **strs = kiln_arena_alloc(a, (nfn + 6) * sizeof *strs);
    pp->location = kiln_arena_alloc(a, (nfn ? nfn : 1) * sizeof *pp->location);
    pp->function = kiln_arena_alloc(a, (nfn ? nfn : 1) * sizeof *pp->function);
    kiln_pprof_value_type *vt = kiln_arena_alloc(a, sizeof *vt);
    if (!strs || !pp->location || !pp->function || !vt) goto oom_f;
    pp->string_table = strs;
    strs[pp->n_string_table++] = "";
    perftools__profiles__value_type__init(vt);
    vt->type = intern(pp, strs, t->sample_type);
    vt->unit = intern(pp, strs, t->sample_unit);
    pp->n_sample_type = 1;
    pp->sample_type = kiln_arena_alloc(a, sizeof *pp->sample_type);
    if (!pp->sample_type) goto oom_f;
    pp->sample_type[0] = vt;
    if (t->period && t->period_type && t->period_unit) {
        kiln_pprof_value_type *pt = kiln_arena_alloc(a, sizeof *pt);
        if (!pt) goto oom_f;
        perftools__profiles__value_type__init(pt);
        pt->type = intern(pp, strs, t->period_type);
        pt->unit = intern(pp, strs, t->period_unit);
        pp->period_type = pt;
        pp->period = t->period;
    }
    /* the fixed strings above are static: copy them into the arena too */
    for (size_t i = 1; i < pp->n_string_table; i++) {
        strs[i] = kiln_arena_strndup(a, strs[i], strlen(strs[i]));
        if (!strs[i]) goto oom_f;
    }
    size_t base = pp->n_string_table; /* <= 5: strs has room for every function */
    for (size_t f = 0; f < nfn; f++) {
        strs[base + f] = kiln_arena_strndup(a, (const char *)fname[f], flen[f]);
        kiln_pprof_function *fn = kiln_arena_alloc(a, sizeof *fn);
        kiln_pprof_location *loc = kiln_arena_alloc(a, sizeof *loc);
        kiln_pprof_line *ln = kiln_arena_alloc(a, sizeof *ln);
        kiln_pprof_line **lp = kiln_arena_alloc(a, sizeof *lp);
        if (!strs[base + f] || !fn || !loc || !ln || !lp) goto oom_f;
        perftools__profiles__function__init(fn);
        fn->id = f + 1;
        fn->name = fn->system_name = (int64_t)(base + f);
        perftools__profiles__line__init(ln);
        ln->function_id = f + 1;
        lp[0] = ln;
        perftools__profiles__location__init(loc);
        loc->id = f + 1;
        loc->n_line = 1;
        loc->line = lp;
        pp->function[f] = fn;
        pp->location[f] = loc;
    }
    pp->n_string_table = base + nfn;
    pp->n_function = nfn;
    pp->n_location = nfn;
    pp->time_nanos = time_ns;
    pp->duration_nanos = duration_ns;
    free(fname);
    free(flen);
    *out = pp;
    goto done;
oom_f:
    free(fname);
    free(flen);
oom:
    rc = kiln_err_set(err, KILN_ENOMEM, "out of memory building a profile from text");
done:
    free(st.v);
    free(ft.v);
    free(stacks);
    return rc;
}
