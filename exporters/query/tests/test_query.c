/* Plugin test: the query exporter against the mock core, over blocks and
 * WAL segments written by the real block/WAL writers from corpus files.
 *
 * The references are independent of the query code: totals from
 * `go tool pprof -raw` dumps (corpus/expected/<file>.raw.txt), per-function
 * flat/cum from kiln_pprof_top over the decoded input file (itself checked
 * against `go tool pprof -top` by tests/unit/test_pprof_gotool.c), folded
 * stacks from corpus/expected/<file>.folded.
 */
#include "qtest.h"

#include <kiln/proto/querier.pb-c.h>
#include <kiln/proto/types.pb-c.h>

#define T0 1700000000000LL /* ms */
#define MSNS 1000000LL
#define CPU "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
#define SAMPLE "pprof__sample.cpu.pb.gz"
#define FIB "parca__fib.pb.gz"

/* The total of sample type `type` of a corpus file, by decoding it. */
static long long file_total(const char *file, const char *type)
{
    size_t len;
    uint8_t *d = test_read_corpus(file, &len);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p;
    kiln_err err;
    long long t = -1;
    if (d && kiln_pprof_decode(a, d, len, NULL, &p, &err) == KILN_OK) {
        int si = kiln_pprof_sample_index(p, type);
        if (si >= 0) {
            t = 0;
            for (size_t i = 0; i < p->n_sample; i++) t += p->sample[i]->value[si];
        }
    }
    free(d);
    kiln_arena_destroy(a);
    return t;
}

/* The total of value `idx` from a `go tool pprof -raw` dump, or a decode. */
static long long raw_total(const char *file, size_t idx)
{
    if (!strcmp(file, FIB)) return file_total(file, idx ? "cpu" : "samples");
    char name[256];
    snprintf(name, sizeof name, "%s.raw.txt", file);
    size_t n;
    long long t[8];
    if (test_raw_totals(name, &n, t, 8) <= idx) return -1;
    return t[idx];
}

/* kiln_pprof_top of a corpus file's sample type `type`. */
static kiln_pprof_fn_total *ref_top(const char *file, const char *type, size_t *n, int64_t *total)
{
    size_t len;
    uint8_t *d = test_read_corpus(file, &len);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p;
    kiln_err err;
    kiln_pprof_fn_total *rows = NULL;
    if (d && kiln_pprof_decode(a, d, len, NULL, &p, &err) == KILN_OK) {
        int si = kiln_pprof_sample_index(p, type);
        if (si >= 0 && kiln_pprof_top(p, (size_t)si, &rows, n, total, &err) == KILN_OK) {
            /* names point into the arena: copy them */
            for (size_t i = 0; i < *n; i++) rows[i].name = strdup(rows[i].name);
        }
    }
    free(d);
    kiln_arena_destroy(a);
    return rows;
}

static void free_top(kiln_pprof_fn_total *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) free((char *)r[i].name);
    free(r);
}

static const char *const API_PROD[] = {"service_name", "api", "__name__", "process_cpu", "env", "prod",
                                       "pod", "p1", NULL};
static const char *const API_STG[] = {"service_name", "api", "__name__", "process_cpu", "env", "staging",
                                      "pod", "p2", NULL};
static const char *const DB_EU[] = {"service_name", "db", "__name__", "process_cpu", "env", "prod-eu",
                                    "pod", "x", NULL};

/* team-a: api/prod (sample.cpu at T0), api/staging (sample.cpu at T0+60s),
 * db/prod-eu (fib at T0+120s); team-b: api (fib at T0). */
static int setup(qt_fx *f, const char *extra)
{
    if (qt_open(f) != 0) return -1;
    if (qt_block(f, "team-a", SAMPLE, API_PROD, T0 * MSNS) != 0 ||
        qt_block(f, "team-a", SAMPLE, API_STG, (T0 + 60000) * MSNS) != 0 ||
        qt_block(f, "team-a", FIB, DB_EU, (T0 + 120000) * MSNS) != 0 ||
        qt_block(f, "team-b", FIB, API_PROD, T0 * MSNS) != 0)
        return -1;
    return qt_start(f, extra);
}

/* Total of a SelectMergeStacktraces JSON call (-1 on error). */
static int64_t flame_total(qt_fx *f, const char *tenant, const char *sel, int64_t start, int64_t end)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"profileTypeID\":\"" CPU "\",\"labelSelector\":\"%s\",\"start\":\"%lld\",\"end\":%lld}", sel,
             (long long)start, (long long)end);
    mock_http_reply r;
    qt_json(f, "SelectMergeStacktraces", tenant, body, &r);
    int64_t t = -1;
    kiln_arena *a = kiln_arena_new(0);
    const kiln_json *j = r.status == 200 ? qt_parse(a, &r) : NULL;
    const kiln_json *fg = kiln_json_get(j, "flamegraph", NULL);
    if (fg) {
        t = qt_int(fg, "total", 0);
        /* the selfs of every node add up to the total */
        int64_t s = qt_levels_self(kiln_json_get(fg, "levels", NULL), 4, 1);
        if (s != t) {
            fprintf(stderr, "selfs %lld != total %lld\n", (long long)s, (long long)t);
            t = -2;
        }
    } else if (r.status != 200) {
        fprintf(stderr, "status %d: %s\n", r.status, r.body);
    }
    kiln_arena_destroy(a);
    mock_http_reply_free(&r);
    return t;
}

static void t_profile_types(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    mock_http_reply r;
    qt_json(&f, "ProfileTypes", "team-a", "{}", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.content_type, "application/json");
    CHECK_CONTAINS(r.body, "{\"ID\":\"" CPU "\",\"name\":\"process_cpu\",\"sampleType\":\"cpu\","
                           "\"sampleUnit\":\"nanoseconds\",\"periodType\":\"cpu\",\"periodUnit\":\"nanoseconds\"}");
    CHECK_CONTAINS(r.body, "\"process_cpu:samples:count:cpu:nanoseconds\"");
    mock_http_reply_free(&r);
    /* the same in proto */
    Querier__V1__ProfileTypesRequest q = QUERIER__V1__PROFILE_TYPES_REQUEST__INIT;
    uint8_t buf[64];
    size_t n = querier__v1__profile_types_request__pack(&q, buf);
    qt_connect(&f, "ProfileTypes", "application/proto", "team-a", buf, n, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.content_type, "application/proto");
    Querier__V1__ProfileTypesResponse *pr =
        querier__v1__profile_types_response__unpack(NULL, r.len, (const uint8_t *)r.body);
    CHECK(pr != NULL);
    if (pr) {
        CHECK_EQ_INT(pr->n_profile_types, 2);
        int found = 0;
        for (size_t i = 0; i < pr->n_profile_types; i++)
            if (!strcmp(pr->profile_types[i]->id, CPU) && !strcmp(pr->profile_types[i]->sample_type, "cpu") &&
                !strcmp(pr->profile_types[i]->period_unit, "nanoseconds"))
                found = 1;
        CHECK(found);
        querier__v1__profile_types_response__free_unpacked(pr, NULL);
    }
    mock_http_reply_free(&r);
    qt_done(&f);
}

static void t_totals_and_selectors(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    long long s = raw_total(SAMPLE, 1), fib = raw_total(FIB, 1);
    CHECK(s > 0 && fib > 0);
    int64_t a = T0, b = T0 + 3600000;
    CHECK_EQ_INT(flame_total(&f, "team-a", "{service_name=\\\"api\\\"}", a, b), 2 * s);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{}", a, b), 2 * s + fib);
    CHECK_EQ_INT(flame_total(&f, "team-a", "", a, b), 2 * s + fib);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{env=~\\\"prod.*\\\"}", a, b), s + fib);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{env!~\\\"prod.*\\\"}", a, b), s);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{env=~\\\"prod\\\"}", a, b), s); /* anchored */
    CHECK_EQ_INT(flame_total(&f, "team-a", "{env=~\\\"rod\\\"}", a, b), 0);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{pod!=\\\"x\\\"}", a, b), 2 * s);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{service_name=\\\"api\\\", env=\\\"prod\\\"}", a, b), s);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{nosuch=\\\"\\\"}", a, b), 2 * s + fib); /* missing = "" */
    CHECK_EQ_INT(flame_total(&f, "team-a", "{env=~\\\"prod|staging\\\"}", a, b), 2 * s);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{env=~\\\"p.*\\\", pod=~\\\"p[0-9]\\\"}", a, b), s);
    /* time ranges: the staging block is at T0+60s, db at T0+120s; end is inclusive */
    CHECK_EQ_INT(flame_total(&f, "team-a", "{}", T0, T0 + 59999), s);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{}", T0, T0 + 60000), 2 * s);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{}", T0 + 1, T0 + 120000), s + fib);
    qt_done(&f);
}

static void t_tenants(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    long long s = raw_total(SAMPLE, 1), fib = raw_total(FIB, 1);
    int64_t a = T0, b = T0 + 3600000;
    /* the same label set in two tenants: each sees only its own */
    CHECK_EQ_INT(flame_total(&f, "team-b", "{service_name=\\\"api\\\"}", a, b), fib);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{service_name=\\\"api\\\",env=\\\"prod\\\"}", a, b), s);
    CHECK_EQ_INT(flame_total(&f, NULL, "{}", a, b), 0); /* anonymous has nothing */
    CHECK_EQ_INT(flame_total(&f, "team-c", "{}", a, b), 0);
    /* federation: both, once each, in any order */
    CHECK_EQ_INT(flame_total(&f, "team-a|team-b", "{service_name=\\\"api\\\"}", a, b), 2 * s + fib);
    CHECK_EQ_INT(flame_total(&f, "team-b|team-a|team-b", "{service_name=\\\"api\\\"}", a, b), 2 * s + fib);
    /* label values never leak across tenants */
    mock_http_reply r;
    qt_json(&f, "LabelValues", "team-b", "{\"name\":\"env\"}", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "{\"names\":[\"prod\"]}");
    mock_http_reply_free(&r);
    qt_json(&f, "LabelValues", "team-b", "{\"name\":\"env\"}", &r);
    mock_http_reply_free(&r);
    /* a bad tenant id is refused */
    qt_json(&f, "LabelValues", "a b", "{\"name\":\"env\"}", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "\"code\":\"invalid_argument\"");
    mock_http_reply_free(&r);
    qt_done(&f);
}

/* Findings vs kiln_pprof_top of the input file (functions, self, total). */
static void t_findings_vs_top(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    size_t nref = 0;
    int64_t rtotal = 0;
    kiln_pprof_fn_total *ref = ref_top(SAMPLE, "cpu", &nref, &rtotal);
    CHECK(ref != NULL && nref > 5);
    mock_http_reply r;
    char target[512];
    snprintf(target, sizeof target,
             "/kiln/v1/findings?query=" CPU "{env=\"prod\"}&from=%lld&until=%lld&top=0", (long long)T0,
             (long long)(T0 + 3600000));
    qt_get(&f, target, "team-a", &r);
    CHECK_EQ_INT(r.status, 200);
    kiln_arena *a = kiln_arena_new(0);
    const kiln_json *j = qt_parse(a, &r);
    CHECK(j != NULL);
    CHECK_EQ_INT(qt_int(j, "total", -1), rtotal);
    const kiln_json *rows = kiln_json_get(j, "topSelf", NULL);
    size_t nz = 0;
    for (size_t i = 0; i < nref; i++) nz += ref[i].flat || ref[i].cum;
    CHECK(rows && rows->n == nz);
    for (size_t i = 0; rows && i < rows->n && i < nref; i++) {
        const kiln_json *row = rows->items[i];
        const kiln_json *nm = kiln_json_get(row, "name", NULL);
        /* same order as pprof -top: |flat| desc, then name */
        if (!nm || strcmp(nm->s, ref[i].name) || qt_int(row, "self", -1) != ref[i].flat ||
            qt_int(row, "total", -1) != ref[i].cum)
            test_fail(__FILE__, __LINE__, "row %zu: %s self %lld total %lld, pprof %s flat %lld cum %lld", i,
                      nm ? nm->s : "?", (long long)qt_int(row, "self", -1), (long long)qt_int(row, "total", -1),
                      ref[i].name, (long long)ref[i].flat, (long long)ref[i].cum);
    }
    /* shares and the hottest path: runtime.main is the root of everything */
    const kiln_json *hp = kiln_json_get(j, "hottestPath", NULL);
    CHECK(hp && hp->n >= 2);
    if (hp && hp->n) {
        CHECK_EQ_STR(kiln_json_get(hp->items[0], "name", NULL)->s, "runtime.main");
        CHECK_EQ_INT(qt_int(hp->items[0], "total", -1), rtotal);
        /* each step is the heaviest child: totals never grow */
        for (size_t i = 1; i < hp->n; i++)
            CHECK(qt_int(hp->items[i], "total", 0) <= qt_int(hp->items[i - 1], "total", 0));
    }
    CHECK_CONTAINS(r.body, "\"topTotal\":[{\"name\":\"main.busyLoop\"");
    mock_http_reply_free(&r);
    kiln_arena_destroy(a);
    free_top(ref, nref);
    qt_done(&f);
}

/* folded export vs the expected folded file (lines compared as a multiset
 * of "stack value" after summing equal stacks). */
static int cmp_line(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static size_t sorted_lines(char *text, char **v, size_t cap)
{
    size_t n = 0;
    for (char *s = strtok(text, "\n"); s && n < cap; s = strtok(NULL, "\n"))
        if (*s) v[n++] = s;
    qsort(v, n, sizeof *v, cmp_line);
    return n;
}

static void t_folded_vs_expected(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    mock_http_reply r;
    char target[512];
    snprintf(target, sizeof target,
             "/pyroscope/render?query=" CPU "{env=\"prod\"}&from=%lld&until=%lld&format=folded",
             (long long)T0, (long long)(T0 + 3600000));
    qt_get(&f, target, "team-a", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_CONTAINS(r.content_type, "text/plain");
    char path[1024];
    snprintf(path, sizeof path, "%s/expected/%s.cpu_ns.folded", test_corpus_dir(), SAMPLE);
    size_t elen;
    char *exp = (char *)test_read_file(path, &elen);
    CHECK(exp != NULL);
    if (exp && r.body) {
        char *e2 = realloc(exp, elen + 1);
        exp = e2;
        exp[elen] = 0;
        char *a[4096], *b[4096];
        size_t na = sorted_lines(r.body, a, 4096), nb = sorted_lines(exp, b, 4096);
        CHECK_EQ_INT(na, nb);
        for (size_t i = 0; i < na && i < nb; i++)
            if (strcmp(a[i], b[i])) {
                test_fail(__FILE__, __LINE__, "folded line %zu: \"%s\" vs expected \"%s\"", i, a[i], b[i]);
                break;
            }
    }
    free(exp);
    mock_http_reply_free(&r);
    qt_done(&f);
}

/* SelectMergeProfile (proto) gives a pprof whose top equals the input's
 * times two (two blocks of the same file). */
static void t_merge_profile_proto(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    Querier__V1__SelectMergeProfileRequest q = QUERIER__V1__SELECT_MERGE_PROFILE_REQUEST__INIT;
    q.profile_typeid = CPU;
    q.label_selector = "{service_name=\"api\"}";
    q.has_start = q.has_end = 1;
    q.start = T0;
    q.end = T0 + 3600000;
    uint8_t buf[512];
    size_t n = querier__v1__select_merge_profile_request__pack(&q, buf);
    mock_http_reply r;
    qt_connect(&f, "SelectMergeProfile", "application/proto", "team-a", buf, n, &r);
    CHECK_EQ_INT(r.status, 200);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = NULL;
    kiln_err err;
    CHECK(r.body && kiln_pprof_decode(a, (const uint8_t *)r.body, r.len, NULL, &p, &err) == KILN_OK);
    size_t nref, ngot;
    int64_t tref, tgot;
    kiln_pprof_fn_total *ref = ref_top(SAMPLE, "cpu", &nref, &tref), *got = NULL;
    if (p) {
        CHECK_EQ_INT(p->n_sample_type, 1);
        CHECK_EQ_STR(p->string_table[p->sample_type[0]->type], "cpu");
        CHECK(kiln_pprof_top(p, 0, &got, &ngot, &tgot, &err) == KILN_OK);
        CHECK_EQ_INT(tgot, 2 * tref);
        size_t k = 0;
        for (size_t i = 0; i < nref; i++) {
            if (!ref[i].flat && !ref[i].cum) continue;
            while (k < ngot && !got[k].flat && !got[k].cum) k++;
            if (k >= ngot || strcmp(got[k].name, ref[i].name) || got[k].flat != 2 * ref[i].flat ||
                got[k].cum != 2 * ref[i].cum) {
                test_fail(__FILE__, __LINE__, "pprof row %zu differs (%s)", i, ref[i].name);
                break;
            }
            k++;
        }
    }
    free(got);
    free_top(ref, nref);
    mock_http_reply_free(&r);
    /* the same in JSON: protojson of the profile */
    char body[512];
    snprintf(body, sizeof body,
             "{\"profile_typeID\":\"" CPU "\",\"label_selector\":\"{env=\\\"prod\\\"}\",\"start\":%lld,"
             "\"end\":\"%lld\"}",
             (long long)T0, (long long)(T0 + 3600000));
    qt_json(&f, "SelectMergeProfile", "team-a", body, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_CONTAINS(r.body, "\"sampleType\":[{\"type\":\"");
    CHECK_CONTAINS(r.body, "\"stringTable\":[\"\",");
    CHECK_CONTAINS(r.body, "\"runtime.mapiternext\"");
    mock_http_reply_free(&r);
    kiln_arena_destroy(a);
    qt_done(&f);
}

static void t_flame_proto_and_max_nodes(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    long long s = raw_total(SAMPLE, 1);
    Querier__V1__SelectMergeStacktracesRequest q = QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__INIT;
    q.profile_typeid = CPU;
    q.label_selector = "{env=\"prod\"}";
    q.has_start = q.has_end = 1;
    q.start = T0;
    q.end = T0 + 3600000;
    q.has_max_nodes = 1;
    q.max_nodes = 5;
    uint8_t buf[512];
    size_t n = querier__v1__select_merge_stacktraces_request__pack(&q, buf);
    mock_http_reply r;
    qt_connect(&f, "SelectMergeStacktraces", "application/proto", "team-a", buf, n, &r);
    CHECK_EQ_INT(r.status, 200);
    Querier__V1__SelectMergeStacktracesResponse *resp =
        querier__v1__select_merge_stacktraces_response__unpack(NULL, r.len, (const uint8_t *)r.body);
    CHECK(resp && resp->flamegraph);
    if (resp && resp->flamegraph) {
        Querier__V1__FlameGraph *fg = resp->flamegraph;
        CHECK_EQ_INT(fg->total, s);
        CHECK_EQ_STR(fg->names[0], "total");
        int other = 0;
        for (size_t i = 0; i < fg->n_names; i++) other |= !strcmp(fg->names[i], "other");
        CHECK(other);
        size_t nodes = 0;
        int64_t self = 0;
        for (size_t l = 0; l < fg->n_levels; l++) {
            nodes += fg->levels[l]->n_values / 4;
            for (size_t k = 0; k + 3 < fg->levels[l]->n_values; k += 4) self += fg->levels[l]->values[k + 2];
        }
        CHECK_EQ_INT(self, s);
        /* 5 real nodes at most (sample.cpu has no tied totals at the cut),
         * plus the root and "other" nodes */
        CHECK(nodes <= 1 + 5 + 5);
        CHECK_EQ_INT(fg->levels[0]->n_values, 4);
        CHECK_EQ_INT(fg->levels[0]->values[1], s);
    }
    if (resp) querier__v1__select_merge_stacktraces_response__free_unpacked(resp, NULL);
    mock_http_reply_free(&r);
    /* format PPROF: the merged profile in the response's pprof field */
    q.format = QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_PPROF;
    q.has_format = 1;
    n = querier__v1__select_merge_stacktraces_request__pack(&q, buf);
    qt_connect(&f, "SelectMergeStacktraces", "application/proto", "team-a", buf, n, &r);
    CHECK_EQ_INT(r.status, 200);
    resp = querier__v1__select_merge_stacktraces_response__unpack(NULL, r.len, (const uint8_t *)r.body);
    CHECK(resp && resp->pprof && resp->pprof->has_profile && !resp->flamegraph);
    if (resp && resp->pprof) {
        kiln_arena *a = kiln_arena_new(0);
        kiln_pprof *p = NULL;
        kiln_err err;
        CHECK(kiln_pprof_decode(a, resp->pprof->profile.data, resp->pprof->profile.len, NULL, &p, &err) == KILN_OK);
        int64_t tot = 0;
        for (size_t i = 0; p && i < p->n_sample; i++) tot += p->sample[i]->value[0];
        CHECK_EQ_INT(tot, s);
        kiln_arena_destroy(a);
    }
    if (resp) querier__v1__select_merge_stacktraces_response__free_unpacked(resp, NULL);
    mock_http_reply_free(&r);
    q.has_format = 0;
    /* max_nodes above the configured max is refused as Pyroscope does */
    q.max_nodes = 2000000;
    n = querier__v1__select_merge_stacktraces_request__pack(&q, buf);
    qt_connect(&f, "SelectMergeStacktraces", "application/proto", "team-a", buf, n, &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_EQ_STR(r.content_type, "application/json");
    CHECK_CONTAINS(r.body, "{\"code\":\"invalid_argument\",\"message\":\"max_nodes");
    mock_http_reply_free(&r);
    qt_done(&f);
}

static void t_select_series(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    long long s = raw_total(SAMPLE, 1);
    char body[512];
    snprintf(body, sizeof body,
             "{\"profileTypeID\":\"" CPU "\",\"labelSelector\":\"{service_name=\\\"api\\\"}\",\"start\":%lld,"
             "\"end\":%lld,\"step\":30,\"groupBy\":[\"env\"]}",
             (long long)T0, (long long)(T0 + 600000));
    mock_http_reply r;
    qt_json(&f, "SelectSeries", "team-a", body, &r);
    CHECK_EQ_INT(r.status, 200);
    kiln_arena *a = kiln_arena_new(0);
    const kiln_json *j = qt_parse(a, &r);
    const kiln_json *ser = kiln_json_get(j, "series", NULL);
    CHECK(ser && ser->n == 2);
    if (ser && ser->n == 2) {
        /* sorted by labels: env=prod first; prod at T0 -> point T0, staging at T0+60s -> T0+60s */
        CHECK_CONTAINS(r.body, "{\"series\":[{\"labels\":[{\"name\":\"env\",\"value\":\"prod\"}],\"points\":[{\"value\":");
        const kiln_json *p0 = kiln_json_get(ser->items[0], "points", NULL);
        const kiln_json *p1 = kiln_json_get(ser->items[1], "points", NULL);
        CHECK(p0 && p0->n == 1 && p1 && p1->n == 1);
        if (p0 && p1 && p0->n && p1->n) {
            CHECK_EQ_INT(qt_int(p0->items[0], "timestamp", -1), T0);
            CHECK_EQ_INT(qt_int(p1->items[0], "timestamp", -1), T0 + 60000);
            CHECK_EQ_INT(qt_int(p0->items[0], "value", -1), s);
        }
    }
    mock_http_reply_free(&r);
    /* no group_by: one series, both points; average = sum / profiles */
    snprintf(body, sizeof body,
             "{\"profileTypeID\":\"" CPU "\",\"labelSelector\":\"{}\",\"start\":%lld,\"end\":%lld,\"step\":3600,"
             "\"aggregation\":\"TIME_SERIES_AGGREGATION_TYPE_AVERAGE\"}",
             (long long)T0, (long long)(T0 + 600000));
    qt_json(&f, "SelectSeries", "team-a", body, &r);
    CHECK_EQ_INT(r.status, 200);
    kiln_arena_reset(a);
    j = qt_parse(a, &r);
    ser = kiln_json_get(j, "series", NULL);
    CHECK(ser && ser->n == 1);
    if (ser && ser->n == 1) {
        const kiln_json *pts = kiln_json_get(ser->items[0], "points", NULL);
        CHECK(pts && pts->n == 2);
        if (pts && pts->n == 2) {
            /* a profile at t goes to the first point >= t: T0 alone at T0, the
             * other two at T0+1h, averaged */
            CHECK_EQ_INT(qt_int(pts->items[0], "value", -1), s);
            CHECK_EQ_INT(qt_int(pts->items[1], "timestamp", -1), T0 + 3600000);
            double v = 0;
            kiln_err err;
            kiln_json_double(kiln_json_get(pts->items[1], "value", NULL), &v, &err);
            CHECK(v == (double)(s + raw_total(FIB, 1)) / 2.0);
        }
    }
    mock_http_reply_free(&r);
    /* step 0 is refused */
    qt_json(&f, "SelectSeries", "team-a", "{\"profileTypeID\":\"" CPU "\",\"start\":1,\"end\":2}", &r);
    CHECK_EQ_INT(r.status, 400);
    mock_http_reply_free(&r);
    kiln_arena_destroy(a);
    qt_done(&f);
}

static void t_labels_and_series(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    mock_http_reply r;
    qt_json(&f, "LabelNames", "team-a", "{\"matchers\":[\"{service_name=\\\"db\\\"}\"]}", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_CONTAINS(r.body, "\"env\"");
    CHECK_CONTAINS(r.body, "\"service_name\"");
    CHECK_CONTAINS(r.body, "\"__profile_type__\"");
    mock_http_reply_free(&r);
    qt_json(&f, "LabelValues", "team-a", "{\"name\":\"env\",\"matchers\":[\"{service_name=\\\"api\\\"}\"]}", &r);
    CHECK_EQ_STR(r.body, "{\"names\":[\"prod\",\"staging\"]}");
    mock_http_reply_free(&r);
    /* several matchers are OR'ed */
    qt_json(&f, "LabelValues", "team-a",
            "{\"name\":\"pod\",\"matchers\":[\"{env=\\\"prod\\\"}\",\"{env=\\\"prod-eu\\\"}\"]}", &r);
    CHECK_EQ_STR(r.body, "{\"names\":[\"p1\",\"x\"]}");
    mock_http_reply_free(&r);
    qt_json(&f, "Series", "team-a",
            "{\"matchers\":[\"{__profile_type__=\\\"" CPU "\\\"}\"],\"labelNames\":[\"service_name\"]}", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "{\"labelsSet\":[{\"labels\":[{\"name\":\"service_name\",\"value\":\"api\"}]},"
                         "{\"labels\":[{\"name\":\"service_name\",\"value\":\"db\"}]}]}");
    mock_http_reply_free(&r);
    /* legacy label endpoints */
    qt_get(&f, "/pyroscope/label-values?label=__name__", "team-a", &r);
    CHECK_EQ_STR(r.body, "[\"process_cpu:cpu:nanoseconds:cpu:nanoseconds\","
                         "\"process_cpu:samples:count:cpu:nanoseconds\"]");
    mock_http_reply_free(&r);
    qt_get(&f, "/pyroscope/label-values?label=service_name", "team-b", &r);
    CHECK_EQ_STR(r.body, "[\"api\"]");
    mock_http_reply_free(&r);
    qt_get(&f, "/pyroscope/labels?query=" CPU "{env=\"prod-eu\"}", "team-a", &r);
    CHECK_CONTAINS(r.body, "\"pod\"");
    mock_http_reply_free(&r);
    qt_json(&f, "GetProfileStats", "team-a", "{}", &r);
    char want[200];
    snprintf(want, sizeof want, "{\"dataIngested\":true,\"oldestProfileTime\":\"%lld\",\"newestProfileTime\":\"%lld\"}",
             (long long)T0, (long long)(T0 + 120000));
    CHECK_EQ_STR(r.body, want);
    mock_http_reply_free(&r);
    qt_done(&f);
}

static void t_wal_heads(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    long long fib = raw_total(FIB, 1);
    static const char *const W[] = {"service_name", "walsvc", "__name__", "process_cpu", NULL};
    int64_t a = T0, b = T0 + 3600000;
    CHECK_EQ_INT(flame_total(&f, "team-a", "{service_name=\\\"walsvc\\\"}", a, b), 0);
    /* written after the plugin started: seen by the next query */
    CHECK(qt_wal(&f, "team-a", FIB, W, (T0 + 30000) * MSNS) == 0);
    CHECK_EQ_INT(flame_total(&f, "team-a", "{service_name=\\\"walsvc\\\"}", a, b), fib);
    CHECK_EQ_INT(flame_total(&f, "team-b", "{service_name=\\\"walsvc\\\"}", a, b), 0);
    mock_http_reply r;
    qt_json(&f, "LabelValues", "team-a", "{\"name\":\"service_name\"}", &r);
    CHECK_EQ_STR(r.body, "{\"names\":[\"api\",\"db\",\"walsvc\"]}");
    mock_http_reply_free(&r);
    qt_done(&f);
}

static void t_render_json(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    long long s = raw_total(SAMPLE, 1);
    char target[512];
    snprintf(target, sizeof target,
             "/pyroscope/render?query=" CPU "{service_name=\"api\"}&from=%lld&until=%lld&format=json&maxNodes=1024",
             (long long)T0, (long long)(T0 + 3600000));
    mock_http_reply r;
    qt_get(&f, target, "team-a", &r);
    CHECK_EQ_INT(r.status, 200);
    kiln_arena *a = kiln_arena_new(0);
    const kiln_json *j = qt_parse(a, &r);
    const kiln_json *fb = kiln_json_get(j, "flamebearer", NULL), *md = kiln_json_get(j, "metadata", NULL),
                  *tl = kiln_json_get(j, "timeline", NULL);
    CHECK(fb && md && tl);
    CHECK_EQ_INT(qt_int(j, "version", 0), 1);
    CHECK_EQ_INT(qt_int(fb, "numTicks", -1), 2 * s);
    CHECK_EQ_INT(qt_levels_self(kiln_json_get(fb, "levels", NULL), 4, 0), 2 * s);
    CHECK(qt_int(fb, "maxSelf", 0) > 0);
    CHECK_CONTAINS(r.body, "\"metadata\":{\"format\":\"single\",\"spyName\":\"\",\"sampleRate\":1000000000,"
                           "\"units\":\"samples\",\"name\":\"cpu\"}");
    CHECK_CONTAINS(r.body, "\"names\":[\"total\",");
    /* timeline: 1 h range -> 15 s steps; the two profiles are 60 s apart */
    CHECK_EQ_INT(qt_int(tl, "durationDelta", 0), 15);
    const kiln_json *smp = kiln_json_get(tl, "samples", NULL);
    int64_t sum = 0, nz = 0;
    for (size_t i = 0; smp && i < smp->n; i++) {
        int64_t v;
        kiln_err err;
        if (kiln_json_int64(smp->items[i], &v, &err) == KILN_OK) {
            sum += v;
            nz += v != 0;
        }
    }
    CHECK_EQ_INT(sum, 2 * s);
    CHECK_EQ_INT(nz, 2);
    CHECK(smp && smp->n == 241);
    CHECK_EQ_INT(qt_int(tl, "startTime", 0), T0 / 1000 - (T0 / 1000) % 15);
    mock_http_reply_free(&r);
    /* groupBy: one timeline per env value */
    snprintf(target, sizeof target,
             "/pyroscope/render?query=" CPU "{service_name=\"api\"}&from=%lld&until=%lld&groupBy=env",
             (long long)T0, (long long)(T0 + 3600000));
    qt_get(&f, target, "team-a", &r);
    CHECK_CONTAINS(r.body, "\"groups\":{\"prod\":{\"startTime\":");
    CHECK_CONTAINS(r.body, "},\"staging\":{\"startTime\":");
    mock_http_reply_free(&r);
    /* pprof export: gzip'ed, readable, same total */
    snprintf(target, sizeof target, "/pyroscope/render?query=" CPU "{}&from=%lld&until=%lld&format=pprof",
             (long long)T0, (long long)(T0 + 3600000));
    qt_get(&f, target, "team-a", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.len > 2 && (unsigned char)r.body[0] == 0x1f && (unsigned char)r.body[1] == 0x8b);
    kiln_arena_reset(a);
    kiln_pprof *p = NULL;
    kiln_err err;
    CHECK(kiln_pprof_decode(a, (const uint8_t *)r.body, r.len, NULL, &p, &err) == KILN_OK);
    if (p) {
        int64_t tot = 0;
        for (size_t i = 0; i < p->n_sample; i++) tot += p->sample[i]->value[0];
        CHECK_EQ_INT(tot, 2 * s + raw_total(FIB, 1));
    }
    mock_http_reply_free(&r);
    /* speedscope export */
    snprintf(target, sizeof target, "/pyroscope/render?query=" CPU "{env=\"prod\"}&from=%lld&until=%lld&format=speedscope",
             (long long)T0, (long long)(T0 + 3600000));
    qt_get(&f, target, "team-a", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_CONTAINS(r.body, "\"type\":\"sampled\"");
    char want[80];
    snprintf(want, sizeof want, "\"unit\":\"nanoseconds\",\"startValue\":0,\"endValue\":%lld,", s);
    CHECK_CONTAINS(r.body, want);
    mock_http_reply_free(&r);
    /* errors */
    qt_get(&f, "/pyroscope/render?query={service_name=\"api\"}", "team-a", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "profile type selection must be provided");
    mock_http_reply_free(&r);
    qt_get(&f, "/pyroscope/render?query=" CPU "{service_name=~\"(\"}", "team-a", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "bad regex");
    mock_http_reply_free(&r);
    kiln_arena_destroy(a);
    qt_done(&f);
}

static void t_diff(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    long long s = raw_total(SAMPLE, 1), fib = raw_total(FIB, 1);
    char body[1024];
    snprintf(body, sizeof body,
             "{\"left\":{\"profileTypeID\":\"" CPU "\",\"labelSelector\":\"{env=\\\"prod\\\"}\",\"start\":%lld,\"end\":%lld},"
             "\"right\":{\"profileTypeID\":\"" CPU "\",\"labelSelector\":\"{env=~\\\"staging|prod-eu\\\"}\",\"start\":%lld,\"end\":%lld}}",
             (long long)T0, (long long)(T0 + 3600000), (long long)T0, (long long)(T0 + 3600000));
    mock_http_reply r;
    qt_json(&f, "Diff", "team-a", body, &r);
    CHECK_EQ_INT(r.status, 200);
    kiln_arena *a = kiln_arena_new(0);
    const kiln_json *j = qt_parse(a, &r);
    const kiln_json *fg = kiln_json_get(j, "flamegraph", NULL);
    CHECK_EQ_INT(qt_int(fg, "leftTicks", -1), s);
    CHECK_EQ_INT(qt_int(fg, "rightTicks", -1), s + fib);
    CHECK_EQ_INT(qt_int(fg, "total", -1), 2 * s + fib);
    const kiln_json *lv = kiln_json_get(fg, "levels", NULL);
    const kiln_json *l0 = lv && lv->n ? kiln_json_get(lv->items[0], "values", NULL) : NULL;
    CHECK(l0 && l0->n == 7);
    mock_http_reply_free(&r);
    /* the legacy form */
    char target[1024];
    snprintf(target, sizeof target,
             "/pyroscope/render-diff?leftQuery=" CPU "{env=\"prod\"}&leftFrom=%lld&leftUntil=%lld"
             "&rightQuery=" CPU "{env=\"staging\"}&rightFrom=%lld&rightUntil=%lld",
             (long long)T0, (long long)(T0 + 3600000), (long long)T0, (long long)(T0 + 3600000));
    qt_get(&f, target, "team-a", &r);
    CHECK_EQ_INT(r.status, 200);
    char want[100];
    snprintf(want, sizeof want, "\"leftTicks\":%lld,\"rightTicks\":%lld", s, s);
    CHECK_CONTAINS(r.body, want);
    CHECK_CONTAINS(r.body, "\"format\":\"double\"");
    mock_http_reply_free(&r);
    kiln_arena_destroy(a);
    qt_done(&f);
}

static void t_connect_errors(void)
{
    qt_fx f;
    CHECK(setup(&f, "max_query_length: 2h\n") == 0);
    mock_http_reply r;
    qt_connect(&f, "LabelNames", "text/plain", "team-a", "{}", 2, &r);
    CHECK_EQ_INT(r.status, 415);
    mock_http_reply_free(&r);
    qt_json(&f, "LabelNames", "team-a", "{\"matchers\":[\"{a=\\\"b\\\"\"]}", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "{\"code\":\"invalid_argument\",\"message\":\"label selector: unterminated");
    mock_http_reply_free(&r);
    qt_json(&f, "LabelNames", "team-a", "{\"matchers\":", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "json:");
    mock_http_reply_free(&r);
    qt_connect(&f, "LabelNames", "application/proto", "team-a", "\xff\xff\xff", 3, &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "not a valid protobuf");
    mock_http_reply_free(&r);
    qt_json(&f, "SelectMergeStacktraces", "team-a",
            "{\"profileTypeID\":\"" CPU "\",\"start\":\"0\",\"end\":\"86400000\"}", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "max_query_length, actual: 24h, limit: 2h");
    mock_http_reply_free(&r);
    qt_json(&f, "SelectMergeStacktraces", "team-a", "{\"profileTypeID\":\"cpu\",\"start\":\"0\",\"end\":\"1\"}", &r);
    CHECK_EQ_INT(r.status, 400);
    CHECK_CONTAINS(r.body, "profile-type selection must be of the form");
    mock_http_reply_free(&r);
    qt_json(&f, "SelectMergeStacktraces", "team-a",
            "{\"profileTypeID\":\"" CPU "\",\"start\":\"5\",\"end\":\"1\"}", &r);
    CHECK_EQ_INT(r.status, 400);
    mock_http_reply_free(&r);
    qt_json(&f, "SelectMergeStacktraces", "team-a",
            "{\"profileTypeID\":\"" CPU "\",\"start\":\"1\",\"end\":\"2\",\"format\":\"PROFILE_FORMAT_DOT\"}", &r);
    /* DOT over a range without data: an empty graph */
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "{\"dot\":\"digraph \\\"empty\\\" {\\n}\\n\"}");
    mock_http_reply_free(&r);
    /* settings: what Grafana asks first */
    const char *h[] = {"Content-Type", "application/json", NULL};
    mock_http_request(f.m, "POST", "/settings.v1.SettingsService/Get", h, "{}", 2, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "{}");
    mock_http_reply_free(&r);
    CHECK(mock_host_counter_labels(f.m, "query_requests_total", "code=\"4xx\"") == 7);
    qt_done(&f);
}

static void t_gzip(void)
{
    qt_fx f;
    CHECK(setup(&f, NULL) == 0);
    char body[512];
    snprintf(body, sizeof body, "{\"profileTypeID\":\"" CPU "\",\"start\":%lld,\"end\":%lld}", (long long)T0,
             (long long)(T0 + 3600000));
    const char *h[] = {"Content-Type", "application/json", "X-Scope-OrgID", "team-a", "Accept-Encoding", "gzip", NULL};
    mock_http_reply r;
    mock_http_request(f.m, "POST", "/querier.v1.QuerierService/SelectMergeStacktraces", h, body, strlen(body), &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_CONTAINS(r.headers, "Content-Encoding: gzip");
    kiln_arena *a = kiln_arena_new(0);
    uint8_t *raw;
    size_t rl;
    kiln_err err;
    CHECK(kiln_gunzip(a, (const uint8_t *)r.body, r.len, 1 << 26, &raw, &rl, &err) == KILN_OK);
    CHECK(rl > 10 && !memcmp(raw, "{\"flamegraph\":{\"names\":[\"total\"", 31));
    kiln_arena_destroy(a);
    mock_http_reply_free(&r);
    qt_done(&f);
}

int main(void)
{
    RUN(t_profile_types);
    RUN(t_totals_and_selectors);
    RUN(t_tenants);
    RUN(t_findings_vs_top);
    RUN(t_folded_vs_expected);
    RUN(t_merge_profile_proto);
    RUN(t_flame_proto_and_max_nodes);
    RUN(t_select_series);
    RUN(t_labels_and_series);
    RUN(t_wal_heads);
    RUN(t_render_json);
    RUN(t_diff);
    RUN(t_connect_errors);
    RUN(t_gzip);
    return test_summary();
}
