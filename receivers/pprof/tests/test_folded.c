/* receivers/pprof/tests/test_folded.c — folded/collapsed and `lines` text
 * bodies on /ingest (Pyroscope's default format): the model built from the
 * text, its type from the app-name suffix, the scaling to nanoseconds, the
 * labels of Pyroscope's Put path, and the refusals.
 *
 * Independent reference: corpus/expected/parca__fib.pb.gz.samples.folded
 * (the stacks of parca__fib.pb.gz, sample counts) posted as `fib.cpu` at
 * 100 Hz must give, per function, the flat and cum that `go tool pprof -top`
 * printed for the original profile (expected/parca__fib.pb.gz.top.txt). */
#include <stdlib.h>
#include <string.h>

#include <kiln/kiln.h>

#include "kiln_config.h"
#include "mock_host.h"
#include "pprofrx.h"
#include "testlib.h"

#include "rx_test.h"


static const kiln_profile *post(rx *r, const char *target, const char *body, size_t len,
                                int want_status)
{
    mock_http_reply rep;
    size_t before = mock_host_nbatches(r->m);
    CHECK_EQ_INT(mock_http_request(r->m, "POST", target, NULL, body, len, &rep), 0);
    CHECK_EQ_INT(rep.status, want_status);
    if (rep.status != want_status) fprintf(stderr, "  %s -> %d %s\n", target, rep.status, rep.body);
    mock_http_reply_free(&rep);
    if (mock_host_nbatches(r->m) == before) return NULL;
    kiln_batch *b = mock_host_batch(r->m, mock_host_nbatches(r->m) - 1);
    return &b->v[0];
}

static const kiln_pprof *model(const kiln_profile *p)
{
    const kiln_pprof *pp = NULL;
    kiln_err e;
    if (!p || kiln_payload_pprof(p->payload, &pp, &e) != KILN_OK) return NULL;
    return pp;
}

static const char *str(const kiln_pprof *pp, int64_t i)
{
    return i >= 0 && (size_t)i < pp->n_string_table ? pp->string_table[i] : "?";
}

/* "type/unit" of sample type 0, and "ptype/punit period" */
static void types_of(const kiln_pprof *pp, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s %s/%s %lld", str(pp, pp->sample_type[0]->type),
             str(pp, pp->sample_type[0]->unit), pp->period_type ? str(pp, pp->period_type->type) : "",
             pp->period_type ? str(pp, pp->period_type->unit) : "", (long long)pp->period);
}

static int64_t total(const kiln_pprof *pp)
{
    int64_t t = 0;
    for (size_t i = 0; i < pp->n_sample; i++) t += pp->sample[i]->value[0];
    return t;
}

/* ---- against go tool pprof --------------------------------------------------------- */

/* "28.61s" / "310ms" / "0" -> ns */
static int64_t dur_ns(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    double mul = 1;
    if (strncmp(end, "ms", 2) == 0)
        mul = 1e6;
    else if (strncmp(end, "us", 2) == 0)
        mul = 1e3;
    else if (strncmp(end, "ns", 2) == 0)
        mul = 1;
    else if (*end == 's')
        mul = 1e9;
    else if (strncmp(end, "min", 3) == 0)
        mul = 60e9;
    return (int64_t)(v * mul + (v >= 0 ? 0.5 : -0.5));
}

static void t_fib_against_pprof(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/expected/parca__fib.pb.gz.samples.folded", test_corpus_dir());
    size_t len;
    uint8_t *folded = test_read_file(path, &len);
    snprintf(path, sizeof path, "%s/expected/parca__fib.pb.gz.top.txt", test_corpus_dir());
    size_t tlen;
    uint8_t *top = test_read_file(path, &tlen);
    CHECK(folded && top);
    if (!folded || !top) return;
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    const kiln_profile *p = post(&r,
                                 "/ingest?name=fib.cpu%7Benv%3Dci%7D&from=1626441030&until="
                                 "1626441060&sampleRate=100&spyName=gospy",
                                 (const char *)folded, len, 200);
    const kiln_pprof *pp = model(p);
    CHECK(pp != NULL);
    if (!pp) goto out;
    char ls[512];
    kiln_labels_format(&p->labels, ls, sizeof ls);
    CHECK_EQ_STR(ls, "{__delta__=\"false\", __name__=\"process_cpu\", env=\"ci\", "
                     "pyroscope_spy=\"gospy\", service_name=\"fib\"}");
    char ty[128];
    types_of(pp, ty, sizeof ty);
    CHECK_EQ_STR(ty, "cpu/nanoseconds cpu/nanoseconds 10000000");
    CHECK_EQ_INT(p->time_ns, 1626441030LL * 1000000000);
    CHECK_EQ_INT(p->duration_ns, 30LL * 1000000000);
    CHECK_EQ_INT(pp->time_nanos, 1626441030LL * 1000000000);
    CHECK_EQ_INT(pp->n_sample, 70); /* 70 distinct stacks in the file */
    kiln_err e;
    CHECK_EQ_INT(kiln_pprof_validate(pp, &e), KILN_OK);

    kiln_pprof_fn_total *rows;
    size_t n;
    int64_t tot;
    CHECK_EQ_INT(kiln_pprof_top(pp, 0, &rows, &n, &tot, &e), KILN_OK);
    /* "Total samples = 29.74s" */
    const char *ts = strstr((const char *)top, "Total samples = ");
    CHECK(ts != NULL);
    if (ts) CHECK_EQ_INT(tot, dur_ns(ts + 16));
    CHECK_EQ_INT(tot, total(pp));
    /* every row of pprof's table: flat and cum of that function */
    char *txt = malloc(tlen + 1);
    memcpy(txt, top, tlen);
    txt[tlen] = 0;
    char *line = strstr(txt, "flat  flat%");
    int checked = 0;
    for (line = line ? strchr(line, '\n') : NULL; line && *++line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        char flat[32], fp[32], sp[32], cum[32], cp[32], fn[512];
        if (sscanf(line, "%31s %31s %31s %31s %31s %511[^\n]", flat, fp, sp, cum, cp, fn) == 6) {
            /* pprof marks functions only ever seen inlined with " (inline)" */
            char *inl = strstr(fn, " (inline)");
            if (inl && inl[9] == 0) *inl = 0;
            size_t k;
            for (k = 0; k < n; k++)
                if (strcmp(rows[k].name, fn) == 0) break;
            if (k == n) fprintf(stderr, "  not found: [%s]\n", fn);
            CHECK(k < n);
            if (k < n) {
                CHECK_EQ_INT(rows[k].flat, dur_ns(flat));
                CHECK_EQ_INT(rows[k].cum, dur_ns(cum));
                checked++;
            }
        }
        line = nl;
        if (!line) break;
    }
    CHECK_EQ_INT(checked, 25);
    free(txt);
    free(rows);
out:
    rx_close(&r);
    free(folded);
    free(top);
}

/* ---- the model ------------------------------------------------------------------- */

static void t_model_shape(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    static const char body[] = "main;foo;bar 3\r\n"
                               "main;foo 2\n"
                               "no-space-line-is-skipped\n"
                               "main;foo;bar 4\n" /* same stack: summed */
                               "main;baz qux 1\n" /* split at the last space */
                               "main;zero 0\n"    /* adds nothing */
                               "\n";
    const kiln_profile *p = post(&r, "/ingest?name=app&sampleRate=0", body, sizeof body - 1, 200);
    const kiln_pprof *pp = model(p);
    CHECK(pp != NULL);
    if (!pp) goto out;
    char ty[128];
    types_of(pp, ty, sizeof ty);
    CHECK_EQ_STR(ty, "samples/count / 0"); /* no sample rate: counts, no period */
    CHECK_EQ_INT(pp->n_sample, 3);
    CHECK_EQ_INT(pp->n_function, 4); /* main foo bar "baz qux" */
    CHECK_EQ_INT(total(pp), 10);
    /* first sample: bar (leaf) first */
    const kiln_pprof_sample *s0 = pp->sample[0];
    CHECK_EQ_INT(s0->n_location_id, 3);
    CHECK_EQ_INT(s0->value[0], 7);
    const char *names[3];
    for (size_t i = 0; i < 3 && i < s0->n_location_id; i++) {
        const kiln_pprof_location *l = pp->location[s0->location_id[i] - 1];
        names[i] = str(pp, pp->function[l->line[0]->function_id - 1]->name);
    }
    CHECK_EQ_STR(names[0], "bar");
    CHECK_EQ_STR(names[1], "foo");
    CHECK_EQ_STR(names[2], "main");
    CHECK_EQ_INT(pp->sample[2]->value[0], 1);
    const kiln_pprof_location *leaf = pp->location[pp->sample[2]->location_id[0] - 1];
    CHECK_EQ_STR(str(pp, pp->function[leaf->line[0]->function_id - 1]->name), "baz qux");
    kiln_err e;
    CHECK_EQ_INT(kiln_pprof_validate(pp, &e), KILN_OK);
    /* the model re-encodes and decodes to an equal profile */
    uint8_t *enc;
    size_t elen;
    CHECK_EQ_INT(kiln_pprof_encode(pp, 0, &enc, &elen, &e), KILN_OK);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *back;
    CHECK_EQ_INT(kiln_pprof_decode(a, enc, elen, NULL, &back, &e), KILN_OK);
    char why[256];
    CHECK(kiln_pprof_equal(pp, back, why, sizeof why));
    kiln_arena_destroy(a);
    free(enc);
    CHECK_EQ_STR(kiln_labels_get(&p->labels, "__name__"), "process_cpu");
    CHECK_EQ_STR(kiln_labels_get(&p->labels, "service_name"), "app");
out:
    rx_close(&r);
}

static void t_types_and_labels(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    static const struct {
        const char *target, *name, *types, *labels;
        int64_t total;
    } cases[] = {
        {"/ingest?name=a.b.wall&sampleRate=50", "wall", "wall/nanoseconds cpu/nanoseconds 20000000",
         "{__delta__=\"false\", __name__=\"wall\", pyroscope_spy=\"unknown\", service_name=\"a.b\"}",
         5 * 20000000LL},
        {"/ingest?name=a.inuse_space&format=folded", "memory", "inuse_space/bytes / 0",
         "{__delta__=\"false\", __name__=\"memory\", pyroscope_spy=\"unknown\", service_name=\"a\"}",
         5},
        {"/ingest?name=a.goroutines&format=collapsed", "goroutine", "goroutines/count / 0", NULL, 5},
        {"/ingest?name=a.mutex_duration&format=anything", "mutex", "delay/nanoseconds / 0", NULL, 5},
        {"/ingest?name=a.lock_count", "block", "contentions/count / 0", NULL, 5},
        {"/ingest?name=a.itimer&sampleRate=3", "process_cpu", "cpu/nanoseconds cpu/nanoseconds 333333333",
         NULL, 5 * 333333333LL},
        {"/ingest?name=a.milliseconds&sampleRate=100", "wall",
         "wall/nanoseconds cpu/nanoseconds 10000000", NULL, 5 * 10000000LL},
        {"/ingest?name=a.bytes", "memory", "samples/bytes / 0", NULL, 5},
        {"/ingest?name=a.cpu%7Bservice_name%3Dsvc%7D&spyName=rbspy", "process_cpu",
         "cpu/nanoseconds cpu/nanoseconds 10000000",
         "{__delta__=\"false\", __name__=\"process_cpu\", app_name=\"a\", pyroscope_spy=\"rbspy\", "
         "service_name=\"svc\"}",
         5 * 10000000LL},
        {"/ingest?name=a.cpu%7Bservice_name%3Dsvc%2Capp_name%3Dmine%7D", "process_cpu", NULL,
         "{__delta__=\"false\", __name__=\"process_cpu\", app_name=\"mine\", "
         "pyroscope_spy=\"unknown\", service_name=\"svc\"}",
         5 * 10000000LL},
    };
    static const char body[] = "a;b 2\na;c 3\n";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const kiln_profile *p = post(&r, cases[i].target, body, sizeof body - 1, 200);
        const kiln_pprof *pp = model(p);
        CHECK(pp != NULL);
        if (!pp) continue;
        CHECK_EQ_STR(kiln_labels_get(&p->labels, "__name__"), cases[i].name);
        if (cases[i].types) {
            char ty[128];
            types_of(pp, ty, sizeof ty);
            CHECK_EQ_STR(ty, cases[i].types);
        }
        if (cases[i].labels) {
            char ls[512];
            kiln_labels_format(&p->labels, ls, sizeof ls);
            CHECK_EQ_STR(ls, cases[i].labels);
        }
        CHECK_EQ_INT(total(pp), cases[i].total);
    }
    rx_close(&r);
}

static void t_lines_format(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    static const char body[] = "a;b\na;b\r\na;c\n\na;b";
    const kiln_profile *p = post(&r, "/ingest?name=x.alloc_objects&format=lines", body,
                                 sizeof body - 1, 200);
    const kiln_pprof *pp = model(p);
    CHECK(pp != NULL);
    if (pp) {
        CHECK_EQ_INT(pp->n_sample, 2);
        CHECK_EQ_INT(pp->sample[0]->value[0], 3);
        CHECK_EQ_INT(pp->sample[1]->value[0], 1);
    }
    rx_close(&r);
}

static void t_refusals(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    mock_http_reply rep;
    static const char bad[] = "a;b 1\na;c x2\n";
    CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=x", NULL, bad, sizeof bad - 1, &rep), 0);
    CHECK_EQ_INT(rep.status, 422);
    CHECK_EQ_STR(rep.body, "{\"code\":\"unknown\",\"message\":\"folded: line 2: count \\\"x2\\\" is "
                           "not an integer\"}");
    mock_http_reply_free(&rep);
    CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=x", NULL, "a -1", 4, &rep), 0);
    CHECK_EQ_INT(rep.status, 422);
    CHECK_CONTAINS(rep.body, "folded: line 1: negative count -1");
    mock_http_reply_free(&rep);
    /* a gzip'ed pprof sent without format=pprof is read as folded text, as by
     * Pyroscope; the message hints at the fix */
    size_t glen;
    uint8_t *gz = test_read_corpus("pprof__sample.cpu.pb.gz", &glen);
    if (gz) {
        CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=x", NULL, gz, glen, &rep), 0);
        CHECK_EQ_INT(rep.status, 422);
        CHECK_CONTAINS(rep.body, "(the body is gzip: pprof needs format=pprof or a multipart form)");
        mock_http_reply_free(&rep);
        free(gz);
    }
    /* a dotted app name without a known suffix is refused, as by Pyroscope */
    CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=my.app", NULL, "a 1", 3, &rep), 0);
    CHECK_EQ_INT(rep.status, 400);
    CHECK_EQ_STR(rep.body,
                 "{\"code\":\"invalid_argument\",\"message\":\"name: unknown profile type: app\"}");
    mock_http_reply_free(&rep);
    char *longl = malloc(70000);
    memset(longl, 'f', 70000);
    longl[69997] = ' ';
    longl[69998] = '1';
    longl[69999] = '\n';
    CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=x", NULL, longl, 70000, &rep), 0);
    CHECK_EQ_INT(rep.status, 422);
    CHECK_CONTAINS(rep.body, "line 1 is longer than 65536 bytes");
    mock_http_reply_free(&rep);
    free(longl);
    /* nothing in it, or a profile_id tag: 200 and nothing submitted */
    CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=x", NULL, "nocountshere\n", 13, &rep),
                 0);
    CHECK_EQ_INT(rep.status, 200);
    mock_http_reply_free(&rep);
    CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=x%7Bprofile_id%3D1%7D", NULL, "a 1", 3,
                                   &rep),
                 0);
    CHECK_EQ_INT(rep.status, 200);
    mock_http_reply_free(&rep);
    CHECK_EQ_INT(mock_host_nbatches(r.m), 0);
    rx_close(&r);
}

int main(void)
{
    RUN(t_fib_against_pprof);
    RUN(t_model_shape);
    RUN(t_types_and_labels);
    RUN(t_lines_format);
    RUN(t_refusals);
    return test_summary();
}
