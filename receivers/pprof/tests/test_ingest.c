/* receivers/pprof/tests/test_ingest.c — the receiver end to end against the
 * mock core: real profiles posted raw and as multipart (bodies written by
 * Go's mime/multipart and Node's FormData), then the submitted batch is
 * checked field by field (tenant, every label, time, duration, rate, payload
 * bytes identical to what was sent); then every refusal path with its
 * status and JSON message. Expected times and sample types come from
 * google/pprof's profile.ParseData (go tool run once over the files). */
#include <stdlib.h>
#include <string.h>

#include <kiln/kiln.h>

#include "kiln_config.h"
#include "mock_host.h"
#include "pprofrx.h"
#include "testlib.h"

#include "rx_test.h"

/* profile.ParseData of pprof__sample.cpu.pb.gz */
#define SAMPLE_CPU_TIME 1506718679257235370LL
#define SAMPLE_CPU_DUR 2002012950LL

static uint8_t *read_data(const char *name, size_t *len)
{
    char path[1024];
    const char *src = getenv("KILN_SRC");
    snprintf(path, sizeof path, "%s/receivers/pprof/tests/fixtures/%s", src ? src : ".", name);
    return test_read_file(path, len);
}

static char *read_ct(const char *name)
{
    size_t n;
    uint8_t *b = read_data(name, &n);
    if (!b) return NULL;
    char *s = calloc(1, n + 1);
    memcpy(s, b, n);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
    free(b);
    return s;
}

/* "name=value,name=value" of a label set, in order. */
static void labels_str(const kiln_labels *ls, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < ls->n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s=%s", i ? "," : "", ls->v[i].name,
                              ls->v[i].value);
}

static const kiln_profile *last_profile(rx *r)
{
    size_t n = mock_host_nbatches(r->m);
    if (!n) return NULL;
    kiln_batch *b = mock_host_batch(r->m, n - 1);
    return b && b->n == 1 ? &b->v[0] : NULL;
}

static int payload_is(const kiln_profile *p, const uint8_t *want, size_t len)
{
    const uint8_t *d;
    size_t n;
    int gz;
    kiln_err e;
    if (kiln_payload_bytes(p->payload, &d, &n, &gz, &e) != KILN_OK) return 0;
    return n == len && memcmp(d, want, len) == 0 && gz == kiln_is_gzip(want, len);
}

/* ---- accepted ------------------------------------------------------------------ */

static void t_raw_pprof(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "endpoint: \":4040\"\n"), KILN_OK);
    size_t len;
    uint8_t *body = test_read_corpus("pprof__sample.cpu.pb.gz", &len);
    CHECK(body != NULL);
    if (!body) return;
    const char *hdr[] = {"X-Scope-OrgID", "team-a", "Content-Type", "application/octet-stream",
                         NULL};
    mock_http_reply rep;
    CHECK_EQ_INT(mock_http_request(r.m, "POST",
                                   "/ingest?name=my.app.cpu%7Benv%3Dprod%2C__private%3Dx%2C"
                                   "__session_id__%3Ds1%7D&from=1577836800&until=1577836810&"
                                   "sampleRate=97&spyName=gospy&format=pprof",
                                   hdr, body, len, &rep),
                 0);
    CHECK_EQ_INT(rep.replied, 1);
    CHECK_EQ_INT(rep.status, 200);
    CHECK_EQ_INT(rep.len, 0);
    CHECK_EQ_INT(mock_host_nbatches(r.m), 1);
    const kiln_profile *p = last_profile(&r);
    CHECK(p != NULL);
    if (p) {
        CHECK_EQ_STR(p->tenant, "team-a");
        char ls[1024];
        labels_str(&p->labels, ls, sizeof ls);
        CHECK_EQ_STR(ls, "__delta__=false,__name__=process_cpu,__session_id__=s1,env=prod,"
                         "pyroscope_spy=gospy,service_name=my.app.cpu");
        CHECK_EQ_INT(p->time_ns, SAMPLE_CPU_TIME);
        CHECK_EQ_INT(p->duration_ns, SAMPLE_CPU_DUR);
        CHECK_EQ_INT(p->sample_rate, 97);
        CHECK(payload_is(p, body, len));
        CHECK_EQ_INT(kiln_payload_format(p->payload), KILN_FMT_PPROF);
        CHECK_EQ_INT(mock_host_batch(r.m, 0)->bytes, len);
        /* the model decodes: what was submitted is a usable profile */
        const kiln_pprof *pp;
        kiln_err e;
        CHECK_EQ_INT(kiln_payload_pprof(p->payload, &pp, &e), KILN_OK);
    }
    CHECK_EQ_INT(mock_host_counter(r.m, "receiver_requests_total"), 1);
    CHECK_EQ_INT(mock_host_counter(r.m, "receiver_request_bytes_total"), len);
    CHECK_EQ_INT(mock_host_counter(r.m, "receiver_request_profiles_total"), 1);
    mock_http_reply_free(&rep);
    free(body);
    rx_close(&r);
}

static void post_form(rx *r, const char *target, const char *base, const char **extra_hdr,
                      mock_http_reply *rep, uint8_t **body_out, size_t *len_out)
{
    char bn[128], cn[128];
    snprintf(bn, sizeof bn, "%s.body", base);
    snprintf(cn, sizeof cn, "%s.ct", base);
    size_t len;
    uint8_t *body = read_data(bn, &len);
    char *ct = read_ct(cn);
    memset(rep, 0, sizeof *rep);
    CHECK(body && ct);
    if (!body || !ct) return;
    const char *hdr[8] = {"Content-Type", ct, NULL};
    for (int i = 0; extra_hdr && extra_hdr[i]; i++) hdr[2 + i] = extra_hdr[i];
    CHECK_EQ_INT(mock_http_request(r->m, "POST", target, hdr, body, len, rep), 0);
    free(ct);
    if (body_out) {
        *body_out = body;
        *len_out = len;
    } else {
        free(body);
    }
}

static void t_multipart_go_and_node(void)
{
    const char *bases[] = {"go_cpu", "node_cpu"};
    size_t plen;
    uint8_t *prof = test_read_corpus("pprof__sample.cpu.pb.gz", &plen);
    CHECK(prof != NULL);
    if (!prof) return;
    for (int i = 0; i < 2; i++) {
        rx r;
        CHECK_EQ_INT(rx_open(&r, "default_tenant: fallback\n"), KILN_OK);
        mock_http_reply rep;
        /* pyroscope-go sends ns times, nodejs seconds; no format either way */
        post_form(&r,
                  i == 0 ? "/pyroscope/ingest?name=svc%7Bservice_name%3Dreal%7D&from="
                           "1577836800000000000&until=1577836810000000000&spyName=gospy"
                         : "/ingest?name=svc&from=1577836800&until=1577836810&spyName=nodespy",
                  bases[i], NULL, &rep, NULL, NULL);
        CHECK_EQ_INT(rep.status, 200);
        const kiln_profile *p = last_profile(&r);
        CHECK(p != NULL);
        if (p) {
            CHECK_EQ_STR(p->tenant, "fallback");
            char ls[1024];
            labels_str(&p->labels, ls, sizeof ls);
            CHECK_EQ_STR(ls, i == 0 ? "__delta__=false,__name__=process_cpu,pyroscope_spy=gospy,"
                                      "service_name=real"
                                    : "__delta__=false,__name__=process_cpu,pyroscope_spy=nodespy,"
                                      "service_name=svc");
            CHECK_EQ_INT(p->time_ns, SAMPLE_CPU_TIME);
            CHECK_EQ_INT(p->sample_rate, 100);
            CHECK(payload_is(p, prof, plen)); /* exactly the profile part */
        }
        mock_http_reply_free(&rep);
        rx_close(&r);
    }
    free(prof);
}

static const char *name_of(rx *r)
{
    const kiln_profile *p = last_profile(r);
    return p ? kiln_labels_get(&p->labels, "__name__") : NULL;
}

static void t_sample_type_config_names(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    mock_http_reply rep;
    /* a Go block profile (contentions/delay) with pyroscope-go's block config */
    post_form(&r, "/ingest?name=app", "go_block", NULL, &rep, NULL, NULL);
    CHECK_EQ_INT(rep.status, 200);
    CHECK_EQ_STR(name_of(&r), "block");
    mock_http_reply_free(&rep);
    /* the mutex profile with the mutex config */
    post_form(&r, "/ingest?name=app", "go_mutex", NULL, &rep, NULL, NULL);
    CHECK_EQ_INT(rep.status, 200);
    CHECK_EQ_STR(name_of(&r), "mutex");
    mock_http_reply_free(&rep);
    /* the same block profile raw: no config, the defaults call it mutex */
    size_t len;
    uint8_t *blk = read_data("go_block.pb.gz", &len);
    CHECK(blk != NULL);
    if (blk) {
        CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=app&format=pprof", NULL, blk, len,
                                       &rep),
                     0);
        CHECK_EQ_INT(rep.status, 200);
        CHECK_EQ_STR(name_of(&r), "mutex");
        mock_http_reply_free(&rep);
        free(blk);
    }
    /* a config replaces the defaults: samples is no longer `cpu` */
    size_t plen;
    uint8_t *prof = test_read_corpus("pprof__sample.cpu.pb.gz", &plen);
    if (prof) {
        static const char stc[] =
            "{\"samples\":{\"display-name\":\"alloc_things\"},\"cpu\":{\"display-name\":\"x\"}}";
        size_t cap = plen + 1024, o = 0;
        uint8_t *b = malloc(cap);
        o += (size_t)snprintf((char *)b, cap,
                              "--B\r\nContent-Disposition: form-data; name=\"profile\"; "
                              "filename=\"profile.pprof\"\r\nContent-Type: "
                              "application/octet-stream\r\n\r\n");
        memcpy(b + o, prof, plen);
        o += plen;
        o += (size_t)snprintf((char *)b + o, cap - o,
                              "\r\n--B\r\nContent-Disposition: form-data; "
                              "name=\"sample_type_config\"; filename=\"sample_type_config.json\"\r\n"
                              "\r\n%s\r\n--B--\r\n",
                              stc);
        const char *hdr[] = {"Content-Type", "multipart/form-data; boundary=B", NULL};
        CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=app", hdr, b, o, &rep), 0);
        CHECK_EQ_INT(rep.status, 200);
        CHECK_EQ_STR(name_of(&r), "memory");
        const kiln_profile *p = last_profile(&r);
        CHECK(p && payload_is(p, prof, plen));
        mock_http_reply_free(&rep);
        free(b);
        free(prof);
    }
    rx_close(&r);
}

static void t_corpus_types_and_time_fallback(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    /* expected from profile.ParseData: time_nanos, duration_nanos; __name__
     * from Pyroscope's rules over the sample types it reports */
    static const struct {
        const char *file, *type;
        long long time, dur;
    } cases[] = {
        {"parca__alloc_objects.pb.gz", "memory", 1608199718549304626LL, 0},
        {"parca__fgprof.pb.gz", "process_cpu", 1669885092670395000LL, 30001091459LL},
        {"parca__alloc_space_delta.pb.gz", "memory", 1650470085555167000LL, 30059194000LL},
        {"parca__single-stack.pb.gz", "process_cpu", 1715255446246000000LL, 0},
        {"pprof__large.cpu.pb.gz", "process_cpu", 1666107597086748038LL, 240359136496LL},
        /* time_nanos 0: from= is used; no duration: until-from */
        {"pprof__cppbench.cpu_no_samples_type.pb.gz", "process_cpu", 1577836800000000000LL,
         5000000000LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *b = test_read_corpus(cases[i].file, &len);
        CHECK(b != NULL);
        if (!b) continue;
        mock_http_reply rep;
        CHECK_EQ_INT(mock_http_request(r.m, "POST",
                                       "/ingest?name=x&format=pprof&from=1577836800&until="
                                       "1577836805",
                                       NULL, b, len, &rep),
                     0);
        CHECK_EQ_INT(rep.status, 200);
        const kiln_profile *p = last_profile(&r);
        CHECK(p != NULL);
        if (p) {
            CHECK_EQ_STR(kiln_labels_get(&p->labels, "__name__"), cases[i].type);
            CHECK_EQ_INT(p->time_ns, cases[i].time);
            CHECK_EQ_INT(p->duration_ns, cases[i].dur ? cases[i].dur : 5000000000LL);
            CHECK(payload_is(p, b, len));
            CHECK_EQ_STR(p->tenant, "anonymous");
            CHECK_EQ_STR(kiln_labels_get(&p->labels, "pyroscope_spy"), "unknown");
        }
        mock_http_reply_free(&rep);
        free(b);
    }
    rx_close(&r);
}

static void t_plain_pprof_and_1970_time(void)
{
    /* an uncompressed pprof whose time_nanos lies in 1970 takes from= */
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    kiln_arena *a = kiln_arena_new(0);
    size_t len;
    uint8_t *gz = test_read_corpus("pprof__sample.cpu.pb.gz", &len);
    uint8_t *raw = NULL;
    size_t rlen = 0;
    kiln_err e;
    kiln_pprof *pp = NULL;
    int ok = gz && kiln_gunzip(a, gz, len, 1 << 20, &raw, &rlen, &e) == KILN_OK &&
             kiln_pprof_decode(a, raw, rlen, NULL, &pp, &e) == KILN_OK;
    CHECK(ok);
    if (!ok) {
        free(gz);
        kiln_arena_destroy(a);
        rx_close(&r);
        return;
    }
    pp->time_nanos = 1234567890; /* 1970-01-01T00:00:01 */
    uint8_t *plain;
    size_t plen;
    CHECK_EQ_INT(kiln_pprof_encode(pp, 0, &plain, &plen, &e), KILN_OK);
    mock_http_reply rep;
    CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=x&format=pprof&from=20200101", NULL,
                                   plain, plen, &rep),
                 0);
    CHECK_EQ_INT(rep.status, 200);
    const kiln_profile *p = last_profile(&r);
    CHECK(p && p->time_ns == 1577836800000000000LL);
    CHECK(p && payload_is(p, plain, plen));
    CHECK(p && p->duration_ns == SAMPLE_CPU_DUR);
    mock_http_reply_free(&rep);
    free(plain);
    free(gz);
    kiln_arena_destroy(a);
    rx_close(&r);
}

static void t_empty_profile_is_200_and_nothing(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    mock_http_reply rep;
    CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=x&format=pprof", NULL, "", 0, &rep),
                 0);
    CHECK_EQ_INT(rep.status, 200);
    mock_http_reply_free(&rep);
    static const char body[] =
        "--B\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"p\"\r\n\r\n\r\n--B--\r\n";
    const char *hdr[] = {"Content-Type", "multipart/form-data; boundary=B", NULL};
    CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=x", hdr, body, sizeof body - 1, &rep),
                 0);
    CHECK_EQ_INT(rep.status, 200);
    mock_http_reply_free(&rep);
    /* a form without any profile part: the same */
    static const char body2[] =
        "--B\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nzz\r\n--B--\r\n";
    CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=x", hdr, body2, sizeof body2 - 1, &rep),
                 0);
    CHECK_EQ_INT(rep.status, 200);
    mock_http_reply_free(&rep);
    CHECK_EQ_INT(mock_host_nbatches(r.m), 0);
    CHECK_EQ_INT(mock_host_counter(r.m, "receiver_requests_total"), 3);
    CHECK_EQ_INT(mock_host_counter(r.m, "receiver_request_profiles_total"), 0);
    rx_close(&r);
}

/* ---- refused ------------------------------------------------------------------- */

/* batches the request should hand to submit (the mock keeps even those the
 * pipeline then fails) */
static size_t expect_batches;
static const char *expect_retry_after = "Retry-After: ";

static void expect(rx *r, const char *target, const char **hdr, const void *body, size_t len,
                   int status, const char *json)
{
    mock_http_reply rep;
    size_t before = mock_host_nbatches(r->m);
    CHECK_EQ_INT(mock_http_request(r->m, "POST", target, hdr, body, len, &rep), 0);
    CHECK_EQ_INT(rep.replied, 1);
    CHECK_EQ_INT(rep.status, status);
    if (json) {
        CHECK_EQ_STR(rep.content_type, "application/json");
        CHECK_EQ_STR(rep.body, json);
    }
    CHECK_EQ_INT(mock_host_nbatches(r->m), before + (status == 200 ? 1 : expect_batches));
    if (status == 429) CHECK_CONTAINS(rep.headers, expect_retry_after);
    mock_http_reply_free(&rep);
}

static void expect_sub(rx *r, const char *target, const char **hdr, const void *body, size_t len,
                       int status, const char *code, const char *sub)
{
    mock_http_reply rep;
    size_t before = mock_host_nbatches(r->m);
    CHECK_EQ_INT(mock_http_request(r->m, "POST", target, hdr, body, len, &rep), 0);
    CHECK_EQ_INT(rep.status, status);
    char c[64];
    snprintf(c, sizeof c, "{\"code\":\"%s\",\"message\":\"", code);
    CHECK(rep.body && strncmp(rep.body, c, strlen(c)) == 0);
    CHECK_CONTAINS(rep.body, sub);
    CHECK_EQ_INT(mock_host_nbatches(r->m), before);
    mock_http_reply_free(&rep);
}

static void t_bad_params(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    size_t len;
    uint8_t *b = test_read_corpus("pprof__sample.cpu.pb.gz", &len);
    expect(&r, "/ingest?format=pprof", NULL, b, len, 400,
           "{\"code\":\"invalid_argument\",\"message\":\"name: service name is required\"}");
    expect(&r, "/ingest?name=a%24b&format=pprof", NULL, b, len, 400,
           "{\"code\":\"invalid_argument\",\"message\":\"name: invalid service name: a$b: "
           "character is not allowed: '$'\"}");
    expect(&r, "/ingest?name=a%7Bk%22=v%7D&format=pprof", NULL, b, len, 400,
           "{\"code\":\"invalid_argument\",\"message\":\"name: invalid label name: k\\\": "
           "character is not allowed: '\\\"'\"}");
    const char *two[] = {"X-Scope-OrgID", "a|b", NULL};
    expect_sub(&r, "/ingest?name=x&format=pprof", two, b, len, 400, "invalid_argument",
               "X-Scope-OrgID: too many org IDs");
    const char *dots[] = {"x-scope-orgid", "..", NULL};
    expect(&r, "/ingest?name=x&format=pprof", dots, b, len, 400,
           "{\"code\":\"invalid_argument\",\"message\":\"X-Scope-OrgID: tenant ID is '.' or "
           "'..'\"}");
    const char *fmts[] = {"jfr", "speedscope", "tree", "trie"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        char t[128], want[200];
        snprintf(t, sizeof t, "/ingest?name=x&format=%s", fmts[i]);
        snprintf(want, sizeof want,
                 "{\"code\":\"invalid_argument\",\"message\":\"format %s is not supported by "
                 "this kiln yet\"}",
                 fmts[i]);
        expect(&r, t, NULL, "a;b 1\n", 6, 400, want);
    }
    const char *trie[] = {"Content-Type", "binary/octet-stream+trie", NULL};
    expect_sub(&r, "/ingest?name=x", trie, "x", 1, 400, "invalid_argument", "format trie");
    /* invalid sampleRate: 100 and a debug line, not an error */
    expect(&r, "/ingest?name=x&format=pprof&sampleRate=fast", NULL, b, len, 200, NULL);
    const kiln_profile *p = last_profile(&r);
    CHECK(p && p->sample_rate == 100);
    expect(&r, "/ingest?name=x&format=pprof&sampleRate=-5", NULL, b, len, 200, NULL);
    p = last_profile(&r);
    CHECK(p && p->sample_rate == 100);
    CHECK_CONTAINS(mock_host_log(r.m), "invalid sampleRate, using 100\" sampleRate=\"fast\"");
    CHECK_CONTAINS(mock_host_log(r.m), "status=400 reason=\"name: service name is required\"");
    free(b);
    rx_close(&r);
}

static void t_bad_bodies(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    const char *mp[] = {"Content-Type", "multipart/form-data; boundary=B", NULL};
    static const char cut[] =
        "--B\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"p\"\r\n\r\nxx";
    expect(&r, "/ingest?name=x", mp, cut, sizeof cut - 1, 400,
           "{\"code\":\"invalid_argument\",\"message\":\"multipart: part 0 (\\\"profile\\\") "
           "starting at byte 69 has no closing boundary\"}");
    const char *nob[] = {"Content-Type", "multipart/form-data", NULL};
    expect(&r, "/ingest?name=x", nob, cut, sizeof cut - 1, 400,
           "{\"code\":\"invalid_argument\",\"message\":\"Content-Type: multipart without a "
           "boundary parameter\"}");
    static const char prev[] =
        "--B\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"p\"\r\n\r\nxx\r\n"
        "--B\r\nContent-Disposition: form-data; name=\"prev_profile\"; filename=\"p\"\r\n\r\nyy\r\n"
        "--B--";
    expect_sub(&r, "/ingest?name=x", mp, prev, sizeof prev - 1, 400, "invalid_argument",
               "unsupported client version. Please update github.com/grafana/pyroscope-go");
    static const char badstc[] =
        "--B\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"p\"\r\n\r\nxx\r\n"
        "--B\r\nContent-Disposition: form-data; name=\"sample_type_config\"\r\n\r\n{\"a\":1}\r\n"
        "--B--";
    expect(&r, "/ingest?name=x", mp, badstc, sizeof badstc - 1, 400,
           "{\"code\":\"invalid_argument\",\"message\":\"multipart part 1: sample_type_config: "
           "byte 5: expected an object (or null) per sample type\"}");
    /* not a pprof: 422 as Pyroscope answers malformed profiles */
    expect_sub(&r, "/ingest?name=x&format=pprof", NULL, "definitely not protobuf", 23, 422,
               "unknown", "profile: malformed pprof: ");
    static const uint8_t badgz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef};
    expect_sub(&r, "/ingest?name=x&format=pprof", NULL, badgz, sizeof badgz, 422, "unknown",
               "profile: malformed pprof: ");
    /* a profile whose only sample type has an empty name cannot be named */
    size_t len;
    uint8_t *b = test_read_corpus("parca__normalizer_profile.pb.gz", &len);
    if (b) {
        expect_sub(&r, "/ingest?name=x&format=pprof", NULL, b, len, 422, "unknown",
                   "profile: cannot tell the profile type");
        free(b);
    }
    rx_close(&r);
}

static void t_size_limits(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "max_request_body_size: 1KiB\nmax_decompressed_size: 2000\n"),
                 KILN_OK);
    size_t len;
    uint8_t *b = test_read_corpus("pprof__sample.cpu.pb.gz", &len); /* 1836 bytes */
    mock_http_reply rep;
    /* the host enforces the route's max_body_bytes (here: the mock) */
    CHECK_EQ_INT(mock_http_request(r.m, "POST", "/ingest?name=x&format=pprof", NULL, b, len, &rep),
                 0);
    CHECK_EQ_INT(rep.status, 413);
    mock_http_reply_free(&rep);
    rx_close(&r);

    CHECK_EQ_INT(rx_open(&r, "max_decompressed_size: 2000\n"), KILN_OK);
    /* 1836 bytes gzip, 3843 inflated */
    expect_sub(&r, "/ingest?name=x&format=pprof", NULL, b, len, 413, "invalid_argument",
               "profile: over max_decompressed_size (2000 bytes) after gunzip");
    rx_close(&r);
    free(b);
}

static void t_pipeline_refusals(void)
{
    size_t len;
    uint8_t *b = test_read_corpus("pprof__sample.cpu.pb.gz", &len);
    rx r;
    CHECK_EQ_INT(rx_open(&r, "retry_after: 2500ms\n"), KILN_OK);
    expect_retry_after = "Retry-After: 3\n"; /* whole seconds, rounded up */
    mock_host_set_submit(r.m, KILN_EAGAIN, KILN_OK);
    expect(&r, "/ingest?name=x&format=pprof", NULL, b, len, 429,
           "{\"code\":\"resource_exhausted\",\"message\":\"mock: submit refused\"}");
    expect_batches = 1; /* submitted, then failed by the pipeline */
    mock_host_set_submit(r.m, KILN_OK, KILN_EAGAIN);
    expect(&r, "/ingest?name=x&format=pprof", NULL, b, len, 429,
           "{\"code\":\"resource_exhausted\",\"message\":\"mock: pipeline failed\"}");
    mock_host_set_submit(r.m, KILN_OK, KILN_EIO);
    expect(&r, "/ingest?name=x&format=pprof", NULL, b, len, 429,
           "{\"code\":\"resource_exhausted\",\"message\":\"mock: pipeline failed\"}");
    mock_host_set_submit(r.m, KILN_OK, KILN_EINVAL);
    expect(&r, "/ingest?name=x&format=pprof", NULL, b, len, 400,
           "{\"code\":\"invalid_argument\",\"message\":\"mock: pipeline failed\"}");
    mock_host_set_submit(r.m, KILN_OK, KILN_EUNPROC);
    expect(&r, "/ingest?name=x&format=pprof", NULL, b, len, 422,
           "{\"code\":\"unknown\",\"message\":\"mock: pipeline failed\"}");
    mock_host_set_submit(r.m, KILN_OK, KILN_ERR);
    expect(&r, "/ingest?name=x&format=pprof", NULL, b, len, 500,
           "{\"code\":\"internal\",\"message\":\"mock: pipeline failed\"}");
    expect_batches = 0;
    /* counted: 6 requests; the immediate refusal handed over no batch */
    CHECK_EQ_INT(mock_host_counter(r.m, "receiver_requests_total"), 6);
    CHECK_EQ_INT(mock_host_nbatches(r.m), 5);
    CHECK_EQ_INT(mock_host_counter(r.m, "receiver_request_bytes_total"), 6 * len);
    rx_close(&r);
    free(b);
}

static void t_shutdown_refuses(void)
{
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    CHECK_EQ_INT(PL.shutdown(r.st, kiln_now_mono_ns()), KILN_OK);
    expect(&r, "/ingest?name=x&format=pprof", NULL, "x", 1, 503,
           "{\"code\":\"unavailable\",\"message\":\"the receiver is shutting down\"}");
    rx_close(&r);
}

static void t_config_validation(void)
{
    static const struct {
        const char *yaml, *err;
    } bad[] = {
        {"default_tenant: \"a/b\"\n", "t.yaml:1:17: default_tenant: tenant ID 'a/b' contains "
                                      "unsupported character '/' (byte 1)"},
        {"default_tenant: \"..\"\n", "tenant ID is '.' or '..'"},
        {"tenant_header: \"X Org\"\n", "not a valid HTTP header name: \"X Org\""},
        {"endpoint: \"\"\n", "endpoint: expected host:port"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mock_plugin mp;
        kiln_err err;
        CHECK_EQ_INT(mock_plugin_make(&mp, &PL, mock_host_new("receiver/pprof", "receiver"), bad[i].yaml, &err),
                     KILN_EINVAL);
        CHECK_CONTAINS(err.msg, bad[i].err);
    }
    /* every field has a default that parses, and a doc line */
    for (const kiln_cfg_field *f = PL.fields; f->name; f++) {
        CHECK(f->def != NULL);
        CHECK(f->doc && strlen(f->doc) > 10);
    }
    /* the defaults */
    rx r;
    CHECK_EQ_INT(rx_open(&r, "{}"), KILN_OK);
    CHECK_EQ_STR(PL.type, "pprof");
    CHECK_EQ_INT(PL.kind, KILN_KIND_RECEIVER);
    rx_close(&r);
}

int main(void)
{
    RUN(t_raw_pprof);
    RUN(t_multipart_go_and_node);
    RUN(t_sample_type_config_names);
    RUN(t_corpus_types_and_time_fallback);
    RUN(t_plain_pprof_and_1970_time);
    RUN(t_empty_profile_is_200_and_nothing);
    RUN(t_bad_params);
    RUN(t_bad_bodies);
    RUN(t_size_limits);
    RUN(t_pipeline_refusals);
    RUN(t_shutdown_refuses);
    RUN(t_config_validation);
    return test_summary();
}
