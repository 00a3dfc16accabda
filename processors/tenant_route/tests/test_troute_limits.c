/* Plugin test: `tenant_route` per-tenant limits against the mock core —
 * label limits, size limits (received and uncompressed), stack depth (with
 * the corpus's `go tool pprof -raw` dump as the independent reference),
 * series limits with idle expiry and rollback, tenant eviction, per-tenant
 * overrides, whole-batch failure and counters, which limits decode, and
 * concurrent consumers. */
#include <pthread.h>

#include "troute_test.h"

/* n labels: service_name=x plus l01..l<n-1> */
static void many_labels(char *buf, size_t cap, int n)
{
    size_t w = (size_t)snprintf(buf, cap, "service_name=x");
    for (int i = 1; i < n; i++) w += (size_t)snprintf(buf + w, cap - w, ",l%02d=v", i);
}

static void t_label_limits(void)
{
    static char l30[1024], l31[1024], l41[1024], longname[1200], longval[2200], v2048[2200];
    many_labels(l30, sizeof l30, 30);
    many_labels(l31, sizeof l31, 31);
    many_labels(l41, sizeof l41, 41);
    snprintf(longname, sizeof longname, "service_name=x,%01025d=v", 7);
    snprintf(longval, sizeof longval, "service_name=x,big=%02049d", 7);
    snprintf(v2048, sizeof v2048, "service_name=x,big=%02048d", 7);
    static const char *const big = "limits:\n  overrides:\n    big: {max_label_names_per_series: 40}\n"
                                   "    off: {max_label_names_per_series: 0, max_label_value_length: 0}\n";
    const struct {
        const char *yaml, *tenant, *labels;
        int rc;
        const char *msg;
    } cases[] = {
        {"{}\n", "t", l30, KILN_OK, NULL},
        {"{}\n", "t", l31, KILN_EINVAL, "profile series '{l01=\"v\", l02=\"v\""},
        {"{}\n", "t", l31, KILN_EINVAL, "' has 31 label names; limit 30"},
        {"{}\n", "t", longname, KILN_EINVAL, "has label name too long: '0000000"},
        {"{}\n", "t", longname, KILN_EINVAL, "...' (1025 bytes; limit 1024)"},
        {"{}\n", "t", longval, KILN_EINVAL, "has label value too long: '000"},
        {"{}\n", "t", longval, KILN_EINVAL, "(label big, 2049 bytes; limit 2048)"},
        {"{}\n", "t", v2048, KILN_OK, NULL},
        {"limits: {max_label_names_per_series: 3}\n", "t", "a=1,b=2,c=3", KILN_OK, NULL},
        {"limits: {max_label_names_per_series: 3}\n", "t", "a=1,b=2,c=3,d=4", KILN_EINVAL,
         "profile series '{a=\"1\", b=\"2\", c=\"3\", d=\"4\"}' has 4 label names; limit 3"},
        {"limits: {max_label_name_length: 3}\n", "t", "abcd=1", KILN_EINVAL,
         "profile with labels '{abcd=\"1\"}' has label name too long: 'abcd' (4 bytes; limit 3)"},
        {"limits: {max_label_value_length: 3}\n", "t", "a=1234", KILN_EINVAL,
         "profile with labels '{a=\"1234\"}' has label value too long: '1234' (label a, 4 bytes; limit 3)"},
        {"limits: {max_label_value_length: 0, max_label_name_length: 0}\n", "t", longval, KILN_OK, NULL},
        {big, "big", l41, KILN_EINVAL, "has 41 label names; limit 40"},
        {big, "big", l31, KILN_OK, NULL},
        {big, "other", l31, KILN_EINVAL, "limit 30"},
        {big, "off", longval, KILN_OK, NULL},
        /* the limits apply to the tenant chosen, here from a label */
        {"tenant_label: org\nlimits:\n  overrides:\n    big: {max_label_names_per_series: 2}\n", "anonymous",
         "org=big,a=1,b=2", KILN_EINVAL, "has 3 label names; limit 2"},
        {"tenant_label: org\nremove_tenant_label: true\nlimits:\n  overrides:\n    big: {max_label_names_per_series: 2}\n",
         "anonymous", "org=big,a=1,b=2", KILN_OK, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        inst in;
        kiln_err err;
        CHECK_EQ_INT(make(&in, cases[i].yaml, &err), KILN_OK);
        if (!in.st) {
            fprintf(stderr, "  case %zu: %s\n", i, err.msg);
            continue;
        }
        kiln_payload *pl = corpus_payload("pprof__sample.cpu.pb.gz");
        int rc = run_one(&in, cases[i].tenant, cases[i].labels, pl, &err, NULL);
        if (rc != cases[i].rc) fprintf(stderr, "  case %zu: rc %d %s\n", i, rc, err.msg);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (cases[i].msg) {
            if (!strstr(err.msg, cases[i].msg)) fprintf(stderr, "  case %zu: %s\n", i, err.msg);
            CHECK_CONTAINS(err.msg, cases[i].msg);
            CHECK_EQ_INT(kiln_status_http(rc), 400);
            CHECK(!err.retriable);
        }
        CHECK_EQ_INT(mock_host_counter(in.m, "tenant_route_rejected_profiles_total"), rc == KILN_OK ? 0 : 1);
        CHECK_EQ_INT(kiln_payload_is_decoded(pl), 0); /* label limits never decode */
        kiln_payload_unref(pl);
        drop_inst(&in);
    }
}

/* The deepest stack in a `go tool pprof -raw` dump: the most location ids
 * on one sample line ("  <values>: <loc ids>"). */
static size_t raw_max_depth(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/expected/%s", test_corpus_dir(), name);
    size_t len;
    char *txt = (char *)test_read_file(path, &len);
    if (!txt) return 0;
    size_t best = 0;
    int in_samples = 0;
    char *save = NULL;
    for (char *line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "Samples:", 8)) {
            in_samples = 1;
            continue;
        }
        if (line[0] != ' ') {
            if (in_samples && strncmp(line, "samples/", 8) && strchr(line, ':')) in_samples = 0;
            continue;
        }
        if (!in_samples) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        int values_only = 1;
        for (char *q = line; q < colon; q++)
            if (!(*q == ' ' || *q == '-' || (*q >= '0' && *q <= '9'))) values_only = 0;
        if (!values_only) continue;
        size_t n = 0;
        for (char *q = colon + 1; *q;) {
            while (*q == ' ') q++;
            if (!*q) break;
            n++;
            while (*q && *q != ' ') q++;
        }
        if (n > best) best = n;
    }
    free(txt);
    return best;
}

static void t_size_and_depth(void)
{
    const char *file = "pprof__sample.cpu.pb.gz";
    size_t glen;
    uint8_t *gz = test_read_corpus(file, &glen);
    CHECK(gz != NULL);
    if (!gz) return;
    /* the uncompressed size, by inflating it here */
    kiln_arena *a = kiln_arena_new(0);
    uint8_t *raw;
    size_t rawlen = 0;
    kiln_err err;
    CHECK_EQ_INT(kiln_gunzip(a, gz, glen, 1 << 30, &raw, &rawlen, &err), KILN_OK);
    kiln_arena_destroy(a);
    free(gz);
    size_t depth = raw_max_depth("pprof__sample.cpu.pb.gz.raw.txt");
    CHECK(depth >= 2);
    char y[14][160];
    snprintf(y[0], sizeof y[0], "limits: {max_profile_size: %zu}\n", glen - 1);
    snprintf(y[1], sizeof y[1], "limits: {max_profile_size: %zu}\n", glen);
    snprintf(y[2], sizeof y[2], "limits: {max_profile_uncompressed_size: %zu}\n", rawlen - 1);
    snprintf(y[3], sizeof y[3], "limits: {max_profile_uncompressed_size: %zu}\n", rawlen);
    snprintf(y[4], sizeof y[4], "limits: {max_stack_depth: %zu}\n", depth - 1);
    snprintf(y[5], sizeof y[5], "limits: {max_stack_depth: %zu}\n", depth);
    snprintf(y[6], sizeof y[6], "limits:\n  overrides:\n    small: {max_profile_size: 1KiB}\n");
    char m[6][300];
    snprintf(m[0], sizeof m[0],
             "the profile with labels '{service_name=\"x\"}' exceeds the size limit (max_profile_size, actual: %zu, limit: %zu)",
             glen, glen - 1);
    snprintf(m[2], sizeof m[2],
             "exceeds the uncompressed size limit (max_profile_uncompressed_size, actual: %zu, limit: %zu)", rawlen,
             rawlen - 1);
    snprintf(m[4], sizeof m[4], "has a stack of %zu frames (sample ", depth);
    snprintf(m[5], sizeof m[5], "); max_stack_depth %zu", depth - 1);
    snprintf(m[3], sizeof m[3], "actual: %zu, limit: 1024", glen);
    const struct {
        const char *yaml, *tenant;
        int rc, http, decoded;
        const char *msg, *msg2;
    } cases[] = {
        {y[0], "t", KILN_ETOOBIG, 413, 0, m[0], NULL},
        {y[1], "t", KILN_OK, 200, 0, NULL, NULL},
        {y[2], "t", KILN_ETOOBIG, 413, 0, m[2], NULL},
        {y[3], "t", KILN_OK, 200, 0, NULL, NULL},
        {y[4], "t", KILN_EUNPROC, 422, 1, m[4], m[5]},
        {y[5], "t", KILN_OK, 200, 1, NULL, NULL},
        {y[6], "small", KILN_ETOOBIG, 413, 0, m[3], NULL},
        {y[6], "big", KILN_OK, 200, 0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        inst in;
        CHECK_EQ_INT(make(&in, cases[i].yaml, &err), KILN_OK);
        if (!in.st) continue;
        kiln_payload *pl = corpus_payload(file);
        int rc = run_one(&in, cases[i].tenant, "service_name=x", pl, &err, NULL);
        if (rc != cases[i].rc) fprintf(stderr, "  case %zu: rc %d %s\n", i, rc, err.msg);
        CHECK_EQ_INT(rc, cases[i].rc);
        CHECK_EQ_INT(kiln_status_http(rc), cases[i].http);
        if (cases[i].msg) CHECK_CONTAINS(err.msg, cases[i].msg);
        if (cases[i].msg2) CHECK_CONTAINS(err.msg, cases[i].msg2);
        /* only max_stack_depth decodes */
        CHECK_EQ_INT(kiln_payload_is_decoded(pl), cases[i].decoded);
        kiln_payload_unref(pl);
        drop_inst(&in);
    }
}

static void t_bad_payload_with_depth_limit(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "limits: {max_stack_depth: 10}\n", &err), KILN_OK);
    uint8_t junk[] = "this is not a profile";
    kiln_payload *pl = kiln_payload_from_bytes(KILN_FMT_PPROF, junk, sizeof junk, 1, NULL, NULL);
    int rc = run_one(&in, "t", "service_name=x", pl, &err, NULL);
    CHECK(rc != KILN_OK);
    CHECK_CONTAINS(err.msg, "tenant_route: the profile with labels '{service_name=\"x\"}'");
    CHECK_EQ_INT(mock_host_counter(in.m, "tenant_route_rejected_profiles_total"), 1);
    kiln_payload_unref(pl);
    drop_inst(&in);
}

static void t_series_limit(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "limits:\n  max_series_per_tenant: 3\n  overrides:\n    big: {max_series_per_tenant: 5}\n"
                           "    free: {max_series_per_tenant: 0}\nseries_idle_timeout: 1m\n",
                     &err),
                 KILN_OK);
    kiln_troute_state *s = in.st;
    CHECK(s->series != NULL);
    CHECK_EQ_INT(run_one(&in, "a", "service_name=1", NULL, &err, NULL), KILN_OK);
    CHECK_EQ_INT(run_one(&in, "a", "service_name=2", NULL, &err, NULL), KILN_OK);
    CHECK_EQ_INT(run_one(&in, "a", "service_name=3", NULL, &err, NULL), KILN_OK);
    CHECK_EQ_INT(run_one(&in, "a", "service_name=1", NULL, &err, NULL), KILN_OK); /* known */
    int rc = run_one(&in, "a", "service_name=4", NULL, &err, NULL);
    CHECK_EQ_INT(rc, KILN_ELIMIT);
    CHECK_EQ_INT(kiln_status_http(rc), 429);
    CHECK_EQ_STR(err.msg, "per-tenant series limit of 3 exceeded for tenant 'a' while adding series '{service_name=\"4\"}'");
    CHECK_EQ_INT(kiln_troute_series_count(s->series, "a"), 3);
    /* other tenants have their own sets and limits */
    for (int i = 0; i < 5; i++) {
        char l[32];
        snprintf(l, sizeof l, "service_name=%d", i);
        CHECK_EQ_INT(run_one(&in, "big", l, NULL, &err, NULL), KILN_OK);
        CHECK_EQ_INT(run_one(&in, "b", l, NULL, &err, NULL), i < 3 ? KILN_OK : KILN_ELIMIT);
    }
    CHECK_EQ_INT(run_one(&in, "big", "service_name=99", NULL, &err, NULL), KILN_ELIMIT);
    for (int i = 0; i < 50; i++) {
        char l[32];
        snprintf(l, sizeof l, "service_name=%d", i);
        CHECK_EQ_INT(run_one(&in, "free", l, NULL, &err, NULL), KILN_OK);
    }
    CHECK_EQ_INT(kiln_troute_series_count(s->series, "free"), 0); /* unlimited: not tracked */
    /* 40 s later series 1 is seen again; at 70 s series 2 and 3 are idle (>1m) */
    in.now += 40LL * 1000000000;
    CHECK_EQ_INT(run_one(&in, "a", "service_name=1", NULL, &err, NULL), KILN_OK);
    in.now += 30LL * 1000000000;
    CHECK_EQ_INT(run_one(&in, "a", "service_name=4", NULL, &err, NULL), KILN_OK);
    CHECK_EQ_INT(run_one(&in, "a", "service_name=5", NULL, &err, NULL), KILN_OK);
    CHECK_EQ_INT(kiln_troute_series_count(s->series, "a"), 3); /* 1, 4, 5 */
    CHECK_EQ_INT(run_one(&in, "a", "service_name=2", NULL, &err, NULL), KILN_ELIMIT);
    in.now += 31LL * 1000000000; /* 101 s: 1 (seen at 40 s) is idle and swept */
    CHECK_EQ_INT(run_one(&in, "a", "service_name=6", NULL, &err, NULL), KILN_OK);
    CHECK_EQ_INT(run_one(&in, "a", "service_name=7", NULL, &err, NULL), KILN_ELIMIT);
    in.now += 40LL * 1000000000; /* 141 s: 4 and 5 (seen at 70 s) are idle */
    CHECK_EQ_INT(run_one(&in, "a", "service_name=8", NULL, &err, NULL), KILN_OK);
    CHECK_EQ_INT(run_one(&in, "a", "service_name=9", NULL, &err, NULL), KILN_OK);
    CHECK_EQ_INT(kiln_troute_series_count(s->series, "a"), 3); /* 6, 8, 9 */
    /* sweeps run at most once a second per tenant: at 161 s a refusal
     * sweeps (6, seen at 101 s, is exactly 60 s old: kept); at 161.5 s 6 is
     * idle but the last sweep was 0.5 s ago; at 162 s it is swept */
    in.now += 20LL * 1000000000;
    CHECK_EQ_INT(run_one(&in, "a", "service_name=10", NULL, &err, NULL), KILN_ELIMIT);
    in.now += 500000000;
    CHECK_EQ_INT(run_one(&in, "a", "service_name=10", NULL, &err, NULL), KILN_ELIMIT);
    in.now += 500000000;
    CHECK_EQ_INT(run_one(&in, "a", "service_name=10", NULL, &err, NULL), KILN_OK);
    drop_inst(&in);
}

static void t_series_batch_rollback(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "limits: {max_series_per_tenant: 2}\n", &err), KILN_OK);
    kiln_troute_state *s = in.st;
    CHECK_EQ_INT(run_one(&in, "a", "service_name=1", NULL, &err, NULL), KILN_OK);
    /* one batch: a new series of b (fits), a known one of a, two new of a (the second is over) */
    kiln_batch *b = kiln_batch_new(4);
    add(b, "b", "service_name=1", NULL);
    add(b, "a", "service_name=1", NULL);
    add(b, "a", "service_name=2", NULL);
    add(b, "a", "service_name=3", NULL);
    uint64_t before = mock_host_counter(in.m, "tenant_route_rejected_profiles_total");
    CHECK_EQ_INT(PL.consume(in.st, b, &err), KILN_ELIMIT);
    /* the whole batch is refused: all 4 profiles counted, nothing it added stays */
    CHECK_EQ_INT(mock_host_counter(in.m, "tenant_route_rejected_profiles_total"), before + 4);
    CHECK_EQ_INT(kiln_troute_series_count(s->series, "a"), 1);
    CHECK_EQ_INT(kiln_troute_series_count(s->series, "b"), 0);
    CHECK_EQ_INT(mock_host_counter(in.m, "tenant_route_routed_profiles_total"), 1);
    kiln_batch_unref(b);
    /* so the sender can retry a smaller batch */
    CHECK_EQ_INT(run_one(&in, "a", "service_name=2", NULL, &err, NULL), KILN_OK);
    drop_inst(&in);
}

static void t_tenants_bounded(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "limits: {max_series_per_tenant: 1}\nmax_tracked_tenants: 2\n", &err), KILN_OK);
    kiln_troute_state *s = in.st;
    CHECK_EQ_INT(run_one(&in, "a", "service_name=1", NULL, &err, NULL), KILN_OK);
    CHECK_EQ_INT(run_one(&in, "b", "service_name=1", NULL, &err, NULL), KILN_OK);
    CHECK_EQ_INT(run_one(&in, "a", "service_name=2", NULL, &err, NULL), KILN_ELIMIT); /* a is MRU */
    CHECK_EQ_INT(run_one(&in, "c", "service_name=1", NULL, &err, NULL), KILN_OK);     /* b forgotten */
    CHECK_EQ_INT(kiln_troute_series_tenants(s->series), 2);
    CHECK_EQ_INT(kiln_troute_series_count(s->series, "b"), 0);
    CHECK_EQ_INT(kiln_troute_series_count(s->series, "a"), 1);
    CHECK_EQ_INT(run_one(&in, "b", "service_name=2", NULL, &err, NULL), KILN_OK); /* a fresh set */
    CHECK_EQ_INT(kiln_troute_series_count(s->series, "a"), 0);                    /* a was LRU */
    drop_inst(&in);
}

static void t_series_set_unit(void)
{
    /* the set against a plain array: adds, refreshes, forgets in any order */
    kiln_troute_series *s = kiln_troute_series_new(4, 1000);
    enum { N = 3000 };
    static unsigned char in_set[N];
    memset(in_set, 0, sizeof in_set);
    uint64_t x = 12345;
    size_t count = 0;
    for (int step = 0; step < 40000; step++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t k = (size_t)(x >> 33) % N;
        /* keys with colliding low bits exercise probing and backward shifts */
        uint64_t h = ((uint64_t)k << 40) | (k & 7);
        if ((x >> 20) & 1) {
            int added;
            int r = kiln_troute_series_admit(s, "t", h, N, 0, &added);
            CHECK_EQ_INT(r, 1);
            CHECK_EQ_INT(added, !in_set[k]);
            if (!in_set[k]) count++;
            in_set[k] = 1;
        } else {
            kiln_troute_series_forget(s, "t", h);
            if (in_set[k]) count--;
            in_set[k] = 0;
        }
    }
    CHECK_EQ_INT(kiln_troute_series_count(s, "t"), count);
    for (size_t k = 0; k < N; k++) {
        int added;
        kiln_troute_series_admit(s, "t", ((uint64_t)k << 40) | (k & 7), N, 0, &added);
        CHECK_EQ_INT(added, !in_set[k]);
    }
    CHECK_EQ_INT(kiln_troute_series_count(s, "t"), N);
    kiln_troute_series_free(s);
}

typedef struct th_arg {
    inst *in;
    int id;
    int ok;
} th_arg;

static void *worker(void *arg)
{
    th_arg *a = arg;
    for (int i = 0; i < 500; i++) {
        char l[64];
        snprintf(l, sizeof l, "service_name=s%d_%d", a->id, i);
        kiln_err err;
        if (run_one(a->in, "shared", l, NULL, &err, NULL) == KILN_OK) a->ok++;
    }
    return NULL;
}

static void t_concurrent_series_limit(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "limits: {max_series_per_tenant: 1000}\n", &err), KILN_OK);
    pthread_t th[4];
    th_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (th_arg){&in, i, 0};
        pthread_create(&th[i], NULL, worker, &a[i]);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += a[i].ok;
    }
    CHECK_EQ_INT(ok, 1000);
    kiln_troute_state *s = in.st;
    CHECK_EQ_INT(kiln_troute_series_count(s->series, "shared"), 1000);
    CHECK_EQ_INT(mock_host_counter(in.m, "tenant_route_rejected_profiles_total"), 1000);
    drop_inst(&in);
}

static void t_label_only_config_never_decodes(void)
{
    /* routes, tenant from a label, label limits, received-size limit and
     * series limit: none of it reads the stacks */
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in,
                      "tenant_label: org\nremove_tenant_label: true\n"
                      "routes:\n  - {tenants: [a], match: {env: \"p.*\"}, exporters: [testsink/a]}\n"
                      "limits: {max_series_per_tenant: 100, max_profile_size: 1MiB}\n",
                      &err),
                 KILN_OK);
    kiln_payload *pl = corpus_payload("pprof__sample.cpu.pb.gz");
    kiln_batch *b = kiln_batch_new(20);
    for (int i = 0; i < 20; i++) {
        char l[64];
        snprintf(l, sizeof l, "org=a,env=prod,service_name=%d", i);
        add(b, "anonymous", l, pl);
    }
    CHECK_EQ_INT(PL.consume(in.st, b, &err), KILN_OK);
    CHECK_EQ_INT(kiln_batch_live(b), 20);
    for (size_t i = 0; i < b->n; i++) {
        CHECK_EQ_INT(b->v[i].route_mask, 1);
        CHECK(b->v[i].payload == pl); /* forwarded as received */
    }
    CHECK_EQ_INT(kiln_payload_is_decoded(pl), 0);
    kiln_batch_unref(b);
    kiln_payload_unref(pl);
    drop_inst(&in);
}

int main(void)
{
    RUN(t_label_limits);
    RUN(t_size_and_depth);
    RUN(t_bad_payload_with_depth_limit);
    RUN(t_series_limit);
    RUN(t_series_batch_rollback);
    RUN(t_tenants_bounded);
    RUN(t_series_set_unit);
    RUN(t_concurrent_series_limit);
    RUN(t_label_only_config_never_decodes);
    return test_summary();
}
