/* Plugin test: what the relabel processor does to payloads.
 *
 * - label-only rules leave the payload pointer identical and undecoded (the
 *   core's decode counter stays at zero);
 * - drop reasons: relabel_dropped, relabel_empty, relabel_no_service_name,
 *   no_sample_types;
 * - sample-level options on real corpus files, against an independent
 *   reference computed with Go's github.com/google/pprof/profile package
 *   (Profile.Prune for drop_frames, slicing for max_stack_depth, label
 *   deletion for drop_sample_labels) and stored in
 *   processors/relabel/tests/ref/expected.txt (see relabel_ref.go there);
 * - several threads consuming batches that share one payload.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relabel_md5.h"
#include "relabel_samples.h"
#include "relabel_test_util.h"

/* ---- the Go reference ------------------------------------------------------------ */

typedef struct ref_case {
    long long samples, distinct, total;
    char digest[17];
    long rows;
    char labels[8][128]; /* "L" lines: "<set> <total>" */
    int n_labels;
    char types[8][96]; /* "T" lines */
    int n_types;
    char dflt[64];
} ref_case;

static char *g_ref; /* expected.txt */

static int ref_get(const char *name, ref_case *rc)
{
    memset(rc, 0, sizeof *rc);
    if (!g_ref) {
        const char *src = getenv("KILN_SRC");
        char path[4096];
        snprintf(path, sizeof path, "%s/processors/relabel/tests/ref/expected.txt", src ? src : ".");
        size_t len;
        g_ref = (char *)test_read_file(path, &len);
        if (!g_ref) return -1;
    }
    char head[256];
    snprintf(head, sizeof head, "== %s\n", name);
    const char *p = strstr(g_ref, head);
    if (!p) return -1;
    p += strlen(head);
    while (*p && strncmp(p, "== ", 3) != 0) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(n < 511 ? n : 511), p);
        if (sscanf(line, "samples %lld", &rc->samples) == 1) {
        } else if (sscanf(line, "distinct %lld", &rc->distinct) == 1) {
        } else if (sscanf(line, "total %lld", &rc->total) == 1) {
        } else if (sscanf(line, "D %16s %ld", rc->digest, &rc->rows) == 2) {
        } else if (line[0] == 'L' && rc->n_labels < 8) {
            snprintf(rc->labels[rc->n_labels++], sizeof rc->labels[0], "%s", line + 2);
        } else if (line[0] == 'T' && rc->n_types < 8) {
            snprintf(rc->types[rc->n_types++], sizeof rc->types[0], "%s", line + 2);
        } else if (strncmp(line, "default ", 8) == 0) {
            snprintf(rc->dflt, sizeof rc->dflt, "%s", line + 8);
        }
        p = e ? e + 1 : p + n;
    }
    return 0;
}

/* FNV-1a 64 over "name\tflat\tcum\n" rows sorted by name (as relabel_ref.go). */
static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const kiln_pprof_fn_total *)a)->name, ((const kiln_pprof_fn_total *)b)->name);
}

static void top_digest(const kiln_pprof *p, size_t si, char out[17], long *rows, long long *total)
{
    kiln_pprof_fn_total *r = NULL;
    size_t n = 0;
    int64_t tot = 0;
    kiln_err err;
    if (kiln_pprof_top(p, si, &r, &n, &tot, &err) != KILN_OK) {
        snprintf(out, 17, "error");
        *rows = -1;
        return;
    }
    qsort(r, n, sizeof *r, row_cmp);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        char line[1024];
        int l = snprintf(line, sizeof line, "%s\t%lld\t%lld\n", r[i].name, (long long)r[i].flat,
                         (long long)r[i].cum);
        for (int k = 0; k < l && k < (int)sizeof line - 1; k++) {
            h ^= (unsigned char)line[k];
            h *= 0x100000001b3ull;
        }
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    *rows = (long)n;
    *total = tot;
    free(r);
}

static int has_function_row(const kiln_pprof *p, size_t si, const char *name)
{
    kiln_pprof_fn_total *r = NULL;
    size_t n = 0;
    int64_t tot;
    kiln_err err;
    int found = 0;
    if (kiln_pprof_top(p, si, &r, &n, &tot, &err) != KILN_OK) return -1;
    for (size_t i = 0; i < n; i++) found |= strcmp(r[i].name, name) == 0;
    free(r);
    return found;
}

/* ---- helpers --------------------------------------------------------------------- */

static kiln_payload *corpus_payload(const char *name, kiln_payload_stats *st)
{
    size_t len;
    uint8_t *data = test_read_corpus(name, &len);
    if (!data) return NULL;
    kiln_payload *pl = kiln_payload_from_bytes(KILN_FMT_PPROF, data, len, 0, NULL, NULL);
    if (pl && st) kiln_payload_set_stats(pl, st);
    return pl;
}

static const char *const std_labels[] = {"__name__", "process_cpu", "service_name", "checkout",
                                         "pod", "checkout-7d9f-x2", "span_name", "GET /cart", NULL};

/* Runs `yaml` over one corpus profile. Returns the batch (caller unrefs) and
 * leaves the plugin in *t (caller closes). */
static kiln_batch *run_on(rt *t, const char *yaml, const char *file, kiln_payload_stats *st)
{
    kiln_err err;
    if (rt_open(t, yaml, &err) != KILN_OK) {
        test_fail(__FILE__, __LINE__, "config refused: %s", err.msg);
        return NULL;
    }
    kiln_payload *pl = corpus_payload(file, st);
    if (!pl) {
        test_fail(__FILE__, __LINE__, "cannot read corpus %s", file);
        return NULL;
    }
    kiln_batch *b = one_profile(std_labels, pl);
    if (PL.consume(t->st, b, &err) != KILN_OK) test_fail(__FILE__, __LINE__, "consume: %s", err.msg);
    return b;
}

/* The profile's model after consume (decodes the new payload if needed). */
static const kiln_pprof *model_of(kiln_profile *p)
{
    const kiln_pprof *m = NULL;
    kiln_err err;
    if (kiln_payload_pprof(p->payload, &m, &err) != KILN_OK) return NULL;
    return m;
}

/* The new payload survives encode + decode unchanged and passes pprof's checks. */
static void check_roundtrip(kiln_profile *p)
{
    const kiln_pprof *m = model_of(p);
    CHECK(m != NULL);
    if (!m) return;
    kiln_err err;
    CHECK_EQ_INT(kiln_pprof_validate(m, &err), KILN_OK);
    const uint8_t *bytes;
    size_t len;
    int gz = 0;
    CHECK_EQ_INT(kiln_payload_bytes(p->payload, &bytes, &len, &gz, &err), KILN_OK);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *back = NULL;
    CHECK_EQ_INT(kiln_pprof_decode(a, bytes, len, NULL, &back, &err), KILN_OK);
    char why[256] = "";
    if (back) {
        int eq = kiln_pprof_equal(m, back, why, sizeof why);
        if (!eq) test_fail(__FILE__, __LINE__, "round trip differs: %s", why);
    }
    kiln_arena_destroy(a);
}

/* ---- label-only rules ------------------------------------------------------------- */

static void t_label_only_never_decodes(void)
{
    kiln_payload_stats st = {0};
    rt t;
    const char *yaml = "relabel_configs:\n"
                       "  - source_labels: [pod]\n    regex: '(.*)-[^-]+-[^-]+'\n    target_label: deployment\n"
                       "  - source_labels: [service_name]\n    target_label: shard\n    action: hashmod\n    modulus: 8\n"
                       "  - regex: span_.*\n    action: labeldrop\n"
                       "  - source_labels: [service_name]\n    action: uppercase\n    target_label: SVC\n"
                       "  - regex: '(SVC)'\n    replacement: svc_upper\n    action: labelmap\n"
                       "  - regex: SVC\n    action: labeldrop\n"
                       "  - source_labels: [__name__]\n    regex: process_cpu\n    action: keep\n";
    kiln_batch *b = run_on(&t, yaml, "pprof__sample.cpu.pb.gz", &st);
    if (!b) return;
    kiln_profile *p = &b->v[0];
    kiln_payload *before = p->payload;
    CHECK(!(p->flags & KILN_PROFILE_DROPPED));
    CHECK(p->payload == before);
    CHECK(!kiln_payload_is_decoded(p->payload));
    CHECK_EQ_INT(atomic_load(&st.decodes), 0);
    CHECK_EQ_INT(atomic_load(&st.inflates), 0);
    char shard[8];
    snprintf(shard, sizeof shard, "%llu", (unsigned long long)kiln_relabel_hashmod("checkout", 8, 8));
    const char *want[] = {"__name__", "process_cpu", "service_name", "checkout", "pod", "checkout-7d9f-x2",
                          "deployment", "checkout", "shard", shard, "svc_upper", "CHECKOUT", NULL};
    CHECK(labels_are(&p->labels, want));
    CHECK_EQ_INT(mock_host_counter(t.m, "relabel_labels_changed_total"), 1);
    CHECK_EQ_INT(mock_host_counter(t.m, "relabel_rules_applied_total"), 7);
    CHECK_EQ_INT(mock_host_counter(t.m, "relabel_payloads_rewritten_total"), 0);
    kiln_batch_unref(b);
    rt_close(&t);
}

static void t_drop_reasons(void)
{
    rt t;
    kiln_err err;
    const char *yaml = "relabel_configs:\n"
                       "  - source_labels: [env]\n    regex: test\n    action: drop\n"
                       "  - source_labels: [strip]\n    regex: 'yes'\n    target_label: service_name\n    replacement: ''\n"
                       "  - source_labels: [wipe]\n    regex: 'yes'\n    target_label: wipe\n    replacement: ''\n"
                       "  - regex: wipe|keepme\n    action: labeldrop\n";
    CHECK_EQ_INT(rt_open(&t, yaml, &err), KILN_OK);
    if (!t.st) return;
    kiln_batch *b = kiln_batch_new(5);
    const char *const l0[] = {"service_name", "a", "env", "test", NULL};            /* drop rule */
    const char *const l1[] = {"service_name", "b", "strip", "yes", NULL};           /* loses service_name */
    const char *const l2[] = {"wipe", "yes", "keepme", "1", NULL};                  /* becomes empty */
    const char *const l3[] = {"service_name", "d", "env", "prod", NULL};            /* kept */
    const char *const l4[] = {"pod", "p", NULL};                                    /* never had service_name: kept */
    const char *const *ls[] = {l0, l1, l2, l3, l4};
    for (int i = 0; i < 5; i++) {
        kiln_profile *p = kiln_batch_add(b);
        kiln_profile_set_tenant(p, "t");
        set_labels(&p->labels, ls[i]);
    }
    CHECK_EQ_INT(PL.consume(t.st, b, &err), KILN_OK);
    CHECK(b->v[0].flags & KILN_PROFILE_DROPPED);
    CHECK_EQ_STR(b->v[0].drop_reason, "relabel_dropped");
    CHECK(b->v[1].flags & KILN_PROFILE_DROPPED);
    CHECK_EQ_STR(b->v[1].drop_reason, "relabel_no_service_name");
    CHECK(b->v[2].flags & KILN_PROFILE_DROPPED);
    CHECK_EQ_STR(b->v[2].drop_reason, "relabel_empty");
    CHECK(!(b->v[3].flags & KILN_PROFILE_DROPPED));
    CHECK(!(b->v[4].flags & KILN_PROFILE_DROPPED));
    CHECK_EQ_INT(kiln_batch_live(b), 2);
    /* a drop rule leaves the labels as they came */
    CHECK(labels_are(&b->v[0].labels, l0));
    /* an already dropped profile is not looked at again */
    b->v[3].flags |= KILN_PROFILE_DROPPED;
    b->v[3].drop_reason = "earlier";
    CHECK_EQ_INT(PL.consume(t.st, b, &err), KILN_OK);
    CHECK_EQ_STR(b->v[3].drop_reason, "earlier");
    kiln_batch_unref(b);
    rt_close(&t);
}

/* ---- sample types ------------------------------------------------------------------ */

static long long col_total(const kiln_pprof *m, const char *type)
{
    int i = kiln_pprof_sample_index(m, type);
    if (i < 0) return -1;
    long long t = 0;
    for (size_t s = 0; s < m->n_sample; s++) t += m->sample[s]->value[i];
    return t;
}

static long long ref_type_total(const ref_case *rc, const char *type)
{
    for (int i = 0; i < rc->n_types; i++) {
        char name[64];
        long long v;
        if (sscanf(rc->types[i], "%63s %lld", name, &v) == 2 && strcmp(name, type) == 0) return v;
    }
    return -2;
}

static void t_keep_sample_types(void)
{
    ref_case rc;
    CHECK_EQ_INT(ref_get("types.alloc_objects", &rc), 0);
    CHECK_EQ_INT(rc.n_types, 4);
    kiln_payload_stats st = {0};
    rt t;
    kiln_batch *b = run_on(&t, "keep_sample_types: [alloc_space]\n", "parca__alloc_objects.pb.gz", &st);
    if (!b) return;
    kiln_profile *p = &b->v[0];
    CHECK(!(p->flags & KILN_PROFILE_DROPPED));
    CHECK_EQ_INT(atomic_load(&st.decodes), 1); /* the source, decoded once */
    const kiln_pprof *m = model_of(p);
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ_INT(m->n_sample_type, 1);
        CHECK_EQ_STR(m->string_table[m->sample_type[0]->type], "alloc_space");
        CHECK_EQ_STR(m->string_table[m->sample_type[0]->unit], "bytes");
        CHECK_EQ_INT(col_total(m, "alloc_space"), ref_type_total(&rc, "alloc_space"));
        CHECK_EQ_STR(rc.dflt, "alloc_space");
        CHECK_EQ_STR(m->string_table[m->default_sample_type], "alloc_space");
        for (size_t s = 0; s < m->n_sample; s++) CHECK(m->sample[s]->value[0] != 0);
    }
    check_roundtrip(p);
    CHECK_EQ_INT(mock_host_counter(t.m, "relabel_payloads_rewritten_total"), 1);
    kiln_batch_unref(b);
    rt_close(&t);
}

static void t_drop_sample_types(void)
{
    ref_case rc;
    CHECK_EQ_INT(ref_get("types.alloc_objects", &rc), 0);
    rt t;
    kiln_batch *b = run_on(&t, "drop_sample_types: [alloc_objects, alloc_space, not_there]\n",
                           "parca__alloc_objects.pb.gz", NULL);
    if (!b) return;
    kiln_profile *p = &b->v[0];
    const kiln_pprof *m = model_of(p);
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ_INT(m->n_sample_type, 2);
        CHECK_EQ_INT(col_total(m, "inuse_objects"), ref_type_total(&rc, "inuse_objects"));
        CHECK_EQ_INT(col_total(m, "inuse_space"), ref_type_total(&rc, "inuse_space"));
        CHECK_EQ_INT(col_total(m, "alloc_space"), -1);
        /* the default (alloc_space) is gone, so it is unset: tools take the last type */
        CHECK_EQ_INT(m->default_sample_type, 0);
        /* samples whose remaining values are all zero are left out */
        CHECK(m->n_sample < (size_t)rc.samples);
        for (size_t s = 0; s < m->n_sample; s++)
            CHECK(m->sample[s]->value[0] != 0 || m->sample[s]->value[1] != 0);
    }
    check_roundtrip(p);
    kiln_batch_unref(b);
    rt_close(&t);
}

static void t_no_sample_types_left(void)
{
    rt t;
    kiln_batch *b = run_on(&t, "keep_sample_types: [cpu]\n", "parca__alloc_objects.pb.gz", NULL);
    if (!b) return;
    CHECK(b->v[0].flags & KILN_PROFILE_DROPPED);
    CHECK_EQ_STR(b->v[0].drop_reason, "no_sample_types");
    kiln_batch_unref(b);
    rt_close(&t);
}

static void t_nothing_to_change_keeps_payload(void)
{
    rt t;
    kiln_err err;
    CHECK_EQ_INT(rt_open(&t, "drop_sample_types: [alloc_objects]\ndrop_sample_labels: [span_id]\n", &err), KILN_OK);
    if (!t.st) return;
    kiln_payload *pl = corpus_payload("pprof__sample.cpu.pb.gz", NULL);
    kiln_batch *b = one_profile(std_labels, pl);
    CHECK_EQ_INT(PL.consume(t.st, b, &err), KILN_OK);
    CHECK(b->v[0].payload == pl);
    CHECK_EQ_INT(mock_host_counter(t.m, "relabel_payloads_rewritten_total"), 0);
    kiln_batch_unref(b);
    rt_close(&t);
}

/* ---- frames, depth, sample labels vs Go's pprof ------------------------------------ */

static void check_vs_ref(const char *refname, const char *yaml, const char *file, size_t si,
                         const char *gone)
{
    ref_case rc;
    if (ref_get(refname, &rc) != 0) {
        test_fail(__FILE__, __LINE__, "no reference %s", refname);
        return;
    }
    rt t;
    kiln_batch *b = run_on(&t, yaml, file, NULL);
    if (!b) return;
    kiln_profile *p = &b->v[0];
    const kiln_pprof *m = model_of(p);
    CHECK(m != NULL);
    if (m) {
        char dg[17];
        long rows;
        long long total = -1;
        top_digest(m, si, dg, &rows, &total);
        if (strcmp(dg, rc.digest) != 0 || rows != rc.rows)
            test_fail(__FILE__, __LINE__, "%s: per-function flat/cum differ from Go's: digest %s rows %ld, "
                      "want %s rows %ld", refname, dg, rows, rc.digest, rc.rows);
        if (total != rc.total) test_fail(__FILE__, __LINE__, "%s: total %lld, want %lld", refname, total, rc.total);
        if ((long long)m->n_sample != rc.distinct)
            test_fail(__FILE__, __LINE__, "%s: %zu samples, want %lld", refname, m->n_sample, rc.distinct);
        if (gone) CHECK_EQ_INT(has_function_row(m, si, gone), 0);
    }
    check_roundtrip(p);
    kiln_batch_unref(b);
    rt_close(&t);
}

static void t_drop_frames_vs_pprof(void)
{
    const char *cpu = "pprof__sample.cpu.pb.gz", *large = "pprof__large.cpu.pb.gz";
    /* the reference itself, before any edit, to show the digests compare like with like */
    ref_case rc;
    CHECK_EQ_INT(ref_get("cpu.original", &rc), 0);
    {
        kiln_err err;
        size_t len;
        uint8_t *d = test_read_corpus(cpu, &len);
        kiln_arena *a = kiln_arena_new(0);
        kiln_pprof *m = NULL;
        CHECK_EQ_INT(kiln_pprof_decode(a, d, len, NULL, &m, &err), KILN_OK);
        char dg[17];
        long rows;
        long long total;
        if (m) {
            top_digest(m, 1, dg, &rows, &total);
            CHECK_EQ_STR(dg, rc.digest);
            CHECK_EQ_INT(total, rc.total);
        }
        kiln_arena_destroy(a);
        free(d);
    }
    check_vs_ref("cpu.drop_mapassign", "drop_frames: 'runtime\\.mapassign_fast64'\n", cpu, 1,
                 "runtime.mapassign_fast64");
    check_vs_ref("cpu.drop_runtime_keep_main", "drop_frames: 'runtime\\..*'\nkeep_frames: 'runtime\\.main'\n",
                 cpu, 1, "runtime.mapiternext");
    check_vs_ref("cpu.drop_busyloop", "drop_frames: 'main\\.busyLoop'\n", cpu, 1, "main.busyLoop");
    check_vs_ref("cpu.drop_abs_inline", "drop_frames: 'math\\.Abs'\n", cpu, 1, "math.Abs");
    check_vs_ref("large.drop_time_rand_keep_Now",
                 "drop_frames: 'time\\..*|math/rand\\..*'\nkeep_frames: 'time\\.Now'\n", large, 1, NULL);
    check_vs_ref("large.drop_func1", "drop_frames: 'main\\.setFunctions\\.func1[0-9]*'\n", large, 1, NULL);
    check_vs_ref("large.drop_next", "drop_frames: 'main\\.next'\n", large, 1, "main.next");
}

static void t_max_stack_depth_vs_ref(void)
{
    const char *large = "pprof__large.cpu.pb.gz";
    check_vs_ref("large.depth8_root", "max_stack_depth: 8\n", large, 1, NULL);
    check_vs_ref("large.depth8_leaf", "max_stack_depth: 8\nmax_stack_depth_keep: leaf\n", large, 1, NULL);
    /* every stack is at most 8 deep */
    rt t;
    kiln_batch *b = run_on(&t, "max_stack_depth: 8\n", large, NULL);
    if (!b) return;
    const kiln_pprof *m = model_of(&b->v[0]);
    size_t deepest = 0;
    for (size_t s = 0; m && s < m->n_sample; s++)
        if (m->sample[s]->n_location_id > deepest) deepest = m->sample[s]->n_location_id;
    CHECK_EQ_INT(deepest, 8);
    kiln_batch_unref(b);
    rt_close(&t);
}

static int lab_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void check_label_sets(const kiln_pprof *m, size_t si, const ref_case *rc)
{
    /* totals per remaining label set, formatted as relabel_ref.go does */
    char sets[16][256];
    long long tot[16];
    int n = 0;
    for (size_t s = 0; s < m->n_sample; s++) {
        const kiln_pprof_sample *sm = m->sample[s];
        char *parts[32];
        size_t np = 0;
        for (size_t k = 0; k < sm->n_label && np < 32; k++) {
            char *x = malloc(256);
            snprintf(x, 256, "%s=%s", m->string_table[sm->label[k]->key], m->string_table[sm->label[k]->str]);
            parts[np++] = x;
        }
        qsort(parts, np, sizeof *parts, lab_cmp);
        char key[256] = "{";
        for (size_t k = 0; k < np; k++) {
            if (k) strncat(key, ",", sizeof key - strlen(key) - 1);
            strncat(key, parts[k], sizeof key - strlen(key) - 1);
            free(parts[k]);
        }
        strncat(key, "}", sizeof key - strlen(key) - 1);
        int f = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(sets[i], key) == 0) f = i;
        if (f < 0 && n < 16) {
            f = n++;
            snprintf(sets[f], sizeof sets[f], "%s", key);
            tot[f] = 0;
        }
        if (f >= 0) tot[f] += sm->value[si];
    }
    CHECK_EQ_INT(n, rc->n_labels);
    for (int i = 0; i < n; i++) {
        char line[300];
        snprintf(line, sizeof line, "%s %lld", sets[i], tot[i]);
        int found = 0;
        for (int k = 0; k < rc->n_labels; k++) found |= strcmp(rc->labels[k], line) == 0;
        if (!found) test_fail(__FILE__, __LINE__, "label set total \"%s\" not in the reference", line);
    }
}

static void t_drop_sample_labels_vs_ref(void)
{
    struct {
        const char *ref, *yaml, *file;
        size_t si;
    } v[] = {{"labels.drop_thread_id", "drop_sample_labels: [thread_id]\n", "parca__profile-with-labels.pb.gz", 0},
             {"labels.drop_all", "drop_sample_labels: [thread_id, thread_name, api]\n",
              "parca__profile-with-labels.pb.gz", 0},
             {"labels2.drop_api", "drop_sample_labels: [api]\n", "parca__labels.pb.gz", 1}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        check_vs_ref(v[i].ref, v[i].yaml, v[i].file, v[i].si, NULL);
        ref_case rc;
        if (ref_get(v[i].ref, &rc) != 0) continue;
        rt t;
        kiln_batch *b = run_on(&t, v[i].yaml, v[i].file, NULL);
        if (!b) continue;
        const kiln_pprof *m = model_of(&b->v[0]);
        if (m) check_label_sets(m, v[i].si, &rc);
        /* merged: fewer samples than before, the same total */
        CHECK(m && (long long)m->n_sample < rc.samples);
        kiln_batch_unref(b);
        rt_close(&t);
    }
}

/* pprof's simplifyFunc, which drop_frames matches against. */
static void t_simplify_func(void)
{
    static const struct {
        const char *in, *out;
    } v[] = {{"main.foo", "main.foo"},
             {".main.foo", "main.foo"},
             {"foo(int, char*)", "foo"},
             {"ns::(anonymous namespace)::f(int)", "ns::(anonymous namespace)::f"},
             {"Cls::operator()(int) const", "Cls::operator()"},
             {"(anonymous namespace)::operator()", "(anonymous namespace)::operator()"},
             {"(x)", ""}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const char *st;
        size_t n = kiln_relabel_simplify_func(v[i].in, &st);
        char got[256];
        snprintf(got, sizeof got, "%.*s", (int)n, st);
        CHECK_EQ_STR(got, v[i].out);
    }
}

/* Labels and samples in one go: rules first, then the sample options, on the
 * profiles that survive the rules. */
static void t_rules_and_samples_together(void)
{
    rt t;
    kiln_err err;
    const char *yaml = "relabel_configs:\n  - source_labels: [env]\n    regex: dev\n    action: drop\n"
                       "keep_sample_types: [cpu]\n";
    CHECK_EQ_INT(rt_open(&t, yaml, &err), KILN_OK);
    if (!t.st) return;
    kiln_payload_stats st = {0};
    kiln_payload *pl = corpus_payload("pprof__sample.cpu.pb.gz", &st);
    kiln_batch *b = kiln_batch_new(2);
    for (int i = 0; i < 2; i++) {
        kiln_profile *p = kiln_batch_add(b);
        kiln_profile_set_tenant(p, "t");
        kiln_labels_set(&p->labels, "service_name", "svc");
        kiln_labels_set(&p->labels, "env", i ? "prod" : "dev");
        p->payload = kiln_payload_ref(pl);
    }
    kiln_payload_unref(pl);
    CHECK_EQ_INT(PL.consume(t.st, b, &err), KILN_OK);
    CHECK(b->v[0].flags & KILN_PROFILE_DROPPED);
    CHECK(!(b->v[1].flags & KILN_PROFILE_DROPPED));
    CHECK(b->v[0].payload != b->v[1].payload); /* only the survivor got a new one */
    CHECK_EQ_INT(atomic_load(&st.decodes), 1);
    const kiln_pprof *m = model_of(&b->v[1]);
    CHECK(m && m->n_sample_type == 1);
    kiln_batch_unref(b);
    rt_close(&t);
}

/* A payload that does not decode fails the batch (the sender's fault). */
static void t_bad_payload(void)
{
    rt t;
    kiln_err err;
    CHECK_EQ_INT(rt_open(&t, "max_stack_depth: 4\n", &err), KILN_OK);
    if (!t.st) return;
    uint8_t junk[] = "not a profile";
    kiln_batch *b = one_profile(std_labels, kiln_payload_from_bytes(KILN_FMT_PPROF, junk, sizeof junk, 1, NULL, NULL));
    kiln_err_clear(&err);
    CHECK_EQ_INT(PL.consume(t.st, b, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "relabel: profile 0");
    kiln_batch_unref(b);
    rt_close(&t);
}

/* ---- threads ------------------------------------------------------------------------- */

typedef struct thr {
    void *st;
    kiln_payload *shared;
    int ok;
    char digest[17];
} thr;

static void *thr_run(void *arg)
{
    thr *x = arg;
    x->ok = 1;
    for (int i = 0; i < 25; i++) {
        kiln_batch *b = kiln_batch_new(4);
        for (int k = 0; k < 4; k++) {
            kiln_profile *p = kiln_batch_add(b);
            kiln_profile_set_tenant(p, "t");
            set_labels(&p->labels, std_labels);
            kiln_labels_set(&p->labels, "k", k & 1 ? "odd" : "even");
            p->payload = kiln_payload_ref(x->shared);
        }
        kiln_err err;
        if (PL.consume(x->st, b, &err) != KILN_OK) x->ok = 0;
        for (int k = 0; k < 4; k++) {
            kiln_profile *p = &b->v[k];
            int drop = (p->flags & KILN_PROFILE_DROPPED) != 0;
            if (drop != (k & 1)) x->ok = 0;
            if (drop) continue;
            const char *dep = kiln_labels_get(&p->labels, "deployment");
            if (!dep || strcmp(dep, "checkout") != 0) x->ok = 0;
            const kiln_pprof *m = model_of(p);
            if (!m || p->payload == x->shared) {
                x->ok = 0;
                continue;
            }
            long rows;
            long long total;
            char dg[17];
            top_digest(m, 1, dg, &rows, &total);
            if (!x->digest[0]) memcpy(x->digest, dg, 17);
            else if (strcmp(dg, x->digest) != 0) x->ok = 0;
        }
        kiln_batch_unref(b);
    }
    return NULL;
}

static void t_threads_share_a_payload(void)
{
    rt t;
    kiln_err err;
    const char *yaml = "relabel_configs:\n"
                       "  - source_labels: [k]\n    regex: odd\n    action: drop\n"
                       "  - source_labels: [pod]\n    regex: '(.*)-[^-]+-[^-]+'\n    target_label: deployment\n"
                       "drop_frames: 'runtime\\.mapassign_fast64'\n";
    CHECK_EQ_INT(rt_open(&t, yaml, &err), KILN_OK);
    if (!t.st) return;
    kiln_payload *shared = corpus_payload("pprof__sample.cpu.pb.gz", NULL);
    thr x[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&x[i], 0, sizeof x[i]);
        x[i].st = t.st;
        x[i].shared = shared;
        pthread_create(&th[i], NULL, thr_run, &x[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    ref_case rc;
    CHECK_EQ_INT(ref_get("cpu.drop_mapassign", &rc), 0);
    for (int i = 0; i < 4; i++) {
        CHECK(x[i].ok);
        CHECK_EQ_STR(x[i].digest, rc.digest);
    }
    kiln_payload_unref(shared);
    rt_close(&t);
}

int main(void)
{
    RUN(t_label_only_never_decodes);
    RUN(t_drop_reasons);
    RUN(t_keep_sample_types);
    RUN(t_drop_sample_types);
    RUN(t_no_sample_types_left);
    RUN(t_nothing_to_change_keeps_payload);
    RUN(t_drop_frames_vs_pprof);
    RUN(t_max_stack_depth_vs_ref);
    RUN(t_drop_sample_labels_vs_ref);
    RUN(t_simplify_func);
    RUN(t_rules_and_samples_together);
    RUN(t_bad_payload);
    RUN(t_threads_share_a_payload);
    free(g_ref);
    return test_summary();
}
