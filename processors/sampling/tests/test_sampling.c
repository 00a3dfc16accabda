/* Plugin test: the `sampling` processor against the mock core — config
 * validation, hash-decided sampling, value scaling checked against the
 * corpus's `go tool pprof -raw` totals, rate limits with an injected clock,
 * LRU bounds, refusal messages, thread safety, and no decode for
 * label-only modes. */
#include <pthread.h>
#include <stdlib.h>

#include <kiln/kiln.h>

#include "kiln_config.h"
#include "mock_host.h"
#include "sampling.h"
#include "testlib.h"

extern const kiln_plugin kiln_plugin_descriptor;
#define PL kiln_plugin_descriptor

typedef struct inst {
    mock_plugin p; /* owns the core, config and state */
    mock_host *m;  /* p.m */
    void *st;      /* p.st */
    int64_t now;
} inst;

static int64_t fake_clock(void *arg) { return ((inst *)arg)->now; }

/* Loads yaml, validates, creates. Returns 0 and fills `in`, or the error. */
static int make(inst *in, const char *yaml, kiln_err *err)
{
    memset(in, 0, sizeof *in);
    int rc = mock_plugin_make(&in->p, &PL, mock_host_new("processor/sampling", "processor"), yaml, err);
    if (rc != KILN_OK) return rc;
    in->m = in->p.m;
    in->st = in->p.st;
    in->now = 1000000000000LL;
    kiln_sampling_set_clock(in->st, fake_clock, in);
    return KILN_OK;
}

static void drop_inst(inst *in)
{
    mock_plugin_drop(&in->p);
    memset(in, 0, sizeof *in);
}

static kiln_payload *corpus_payload(const char *name)
{
    size_t len;
    uint8_t *data = test_read_corpus(name, &len);
    if (!data) return NULL;
    return kiln_payload_from_bytes(KILN_FMT_PPROF, data, len, 0, NULL, NULL);
}

/* Adds a profile of `tenant` with labels service_name=svc, i=<i>. */
static kiln_profile *add(kiln_batch *b, const char *tenant, const char *svc, long i,
                         kiln_payload *pl)
{
    kiln_profile *p = kiln_batch_add(b);
    kiln_profile_set_tenant(p, tenant);
    kiln_labels_set(&p->labels, "service_name", svc);
    kiln_labels_set(&p->labels, "__name__", "process_cpu");
    char v[32];
    snprintf(v, sizeof v, "%ld", i);
    kiln_labels_set(&p->labels, "i", v);
    p->time_ns = 1700000000000000000LL;
    if (pl) p->payload = kiln_payload_ref(pl);
    return p;
}

static int dropped(const kiln_profile *p, const char *reason)
{
    return (p->flags & KILN_PROFILE_DROPPED) && p->drop_reason && strcmp(p->drop_reason, reason) == 0;
}

/* ---- config ----------------------------------------------------------------------- */

static void t_bad_configs(void)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"percentage: 50\n", "mode"},
        {"mode: sometimes\n", "t.yaml:1:7"},
        {"mode: probabilistic\npercentage: 150\n", "t.yaml:2:13"},
        {"mode: probabilistic\npercentage: -1\n", "percentage"},
        {"mode: rate_limit\n", "needs profiles_per_second and/or bytes_per_second > 0"},
        {"mode: rate_limit\nprofiles_per_second: 5\npercentage: 10\n",
         "t.yaml:3:13: percentage: percentage does not apply to mode rate_limit"},
        {"mode: rate_limit\nprofiles_per_second: 5\nscale_values: true\n",
         "t.yaml:3:15: scale_values: scale_values does not apply to mode rate_limit"},
        {"mode: probabilistic\non_limit: refuse\n", "t.yaml:2:11: on_limit: on_limit does not apply to mode probabilistic"},
        {"mode: probabilistic\nbytes_per_second: 1MiB\n", "bytes_per_second does not apply"},
        {"mode: probabilistic\nper: tenant\n", "t.yaml:2:6: per: per: tenant does not apply to mode probabilistic"},
        {"mode: rate_limit\nprofiles_per_second: 1\nper: profile\n", "t.yaml:3:6"},
        {"mode: rate_limit\nprofiles_per_second: 1\nburst_bytes: 1MiB\n",
         "t.yaml:3:14: burst_bytes: burst_bytes needs bytes_per_second > 0"},
        {"mode: rate_limit\nbytes_per_second: 1MiB\nburst_profiles: 3\n", "burst_profiles needs profiles_per_second"},
        {"mode: rate_limit\nprofiles_per_second: 1\non_limit: bounce\n", "t.yaml:3:11"},
        {"mode: rate_limit\nprofiles_per_second: 1\nmax_tracked: 0\n", "t.yaml:3:14"},
        {"mode: rate_limit\nprofiles_per_second: 1\nbogus: 0\n", "unknown field"},
        {"mode: probabilistic\nhash_seed: x\n", "t.yaml:2:12"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        inst in;
        kiln_err err;
        int rc = make(&in, cases[i].yaml, &err);
        CHECK(rc != KILN_OK);
        if (rc == KILN_OK) {
            fprintf(stderr, "  case %zu accepted: %s\n", i, cases[i].yaml);
            drop_inst(&in);
            continue;
        }
        if (!strstr(err.msg, cases[i].want))
            fprintf(stderr, "  case %zu: \"%s\" lacks \"%s\"\n", i, err.msg, cases[i].want);
        CHECK(strstr(err.msg, cases[i].want) != NULL);
    }
    static const char *const good[] = {
        "mode: probabilistic\n",
        "mode: probabilistic\npercentage: 12.5\nper: profile\nhash_seed: 42\nscale_values: true\n",
        "mode: rate_limit\nbytes_per_second: 4MiB\nburst_bytes: 2MiB\nper: series\non_limit: refuse\n",
        "mode: rate_limit\nprofiles_per_second: 0.5\nmax_tracked: 1\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        inst in;
        kiln_err err;
        int rc = make(&in, good[i], &err);
        if (rc != KILN_OK) fprintf(stderr, "  good %zu refused: %s\n", i, err.msg);
        CHECK_EQ_INT(rc, KILN_OK);
        drop_inst(&in);
    }
}

/* ---- probabilistic ----------------------------------------------------------------- */

/* Runs `n` series through an instance; kept[i] tells which survived. */
static size_t run_series(inst *in, kiln_payload *pl, size_t n, unsigned char *kept)
{
    kiln_batch *b = kiln_batch_new(n);
    for (size_t i = 0; i < n; i++) add(b, "t", "app", (long)i, pl);
    kiln_err err;
    CHECK_EQ_INT(PL.consume(in->st, b, &err), KILN_OK);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        kept[i] = !(b->v[i].flags & KILN_PROFILE_DROPPED);
        if (!kept[i]) CHECK(dropped(&b->v[i], "dropped_by_sampling_rules"));
        k += kept[i];
    }
    kiln_batch_unref(b);
    return k;
}

/* square root by Newton's method (no libm in plugin tests) */
static double sqrt_(double x)
{
    if (x <= 0) return 0;
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 100; i++) r = (r + x / r) / 2;
    return r;
}

static void t_probabilistic_series(void)
{
    enum { N = 20000 };
    kiln_payload *pl = corpus_payload("pprof__sample.cpu.pb.gz");
    CHECK(pl != NULL);
    static const double pcts[] = {0, 1, 10, 30, 50, 99.5, 100};
    for (size_t k = 0; k < sizeof pcts / sizeof pcts[0]; k++) {
        char y[128];
        snprintf(y, sizeof y, "mode: probabilistic\npercentage: %g\nhash_seed: 7\n", pcts[k]);
        inst a, b2;
        kiln_err err;
        CHECK_EQ_INT(make(&a, y, &err), KILN_OK);
        CHECK_EQ_INT(make(&b2, y, &err), KILN_OK);
        static unsigned char ka[N], kb[N];
        size_t na = run_series(&a, pl, N, ka);
        size_t nb = run_series(&b2, pl, N, kb);
        /* two instances (two gateways) keep exactly the same series */
        CHECK_EQ_INT(na, nb);
        CHECK(memcmp(ka, kb, N) == 0);
        /* the kept share is close to the percentage: within 4 standard
         * deviations of a binomial(N, p) */
        double p = pcts[k] / 100, expect = N * p;
        double sd = sqrt_(N * p * (1 - p));
        if ((double)na < expect - 4 * sd - 0.5 || (double)na > expect + 4 * sd + 0.5)
            fprintf(stderr, "  %g%%: kept %zu of %d\n", pcts[k], na, N);
        CHECK((double)na >= expect - 4 * sd - 0.5 && (double)na <= expect + 4 * sd + 0.5);
        /* the same series again: the same decision */
        static unsigned char kc[N];
        run_series(&a, pl, N, kc);
        CHECK(memcmp(ka, kc, N) == 0);
        /* each decision is the one kiln_labels_hash gives */
        size_t agree = 0;
        for (long i = 0; i < N; i++) {
            kiln_labels ls = KILN_LABELS_INIT;
            kiln_labels_set(&ls, "service_name", "app");
            kiln_labels_set(&ls, "__name__", "process_cpu");
            char v[32];
            snprintf(v, sizeof v, "%ld", i);
            kiln_labels_set(&ls, "i", v);
            uint64_t h = kiln_labels_hash(&ls, 7);
            int keep = (double)(h >> 11) / 9007199254740992.0 < p;
            agree += keep == ka[i];
            kiln_labels_free(&ls);
        }
        CHECK_EQ_INT(agree, N);
        CHECK_EQ_INT(mock_host_counter(a.m, "sampling_kept_profiles_total"), 2 * na);
        drop_inst(&a);
        drop_inst(&b2);
    }
    /* label-only: the payload was never decoded */
    CHECK_EQ_INT(kiln_payload_is_decoded(pl), 0);
    kiln_payload_unref(pl);
}

static void t_probabilistic_seed_changes_choice(void)
{
    enum { N = 4000 };
    inst a, b;
    kiln_err err;
    CHECK_EQ_INT(make(&a, "mode: probabilistic\npercentage: 50\nhash_seed: 1\n", &err), KILN_OK);
    CHECK_EQ_INT(make(&b, "mode: probabilistic\npercentage: 50\nhash_seed: 2\n", &err), KILN_OK);
    static unsigned char ka[N], kb[N];
    run_series(&a, NULL, N, ka);
    run_series(&b, NULL, N, kb);
    size_t same = 0;
    for (size_t i = 0; i < N; i++) same += ka[i] == kb[i];
    /* independent choices agree about half the time */
    CHECK(same > N * 4 / 10 && same < N * 6 / 10);
    drop_inst(&a);
    drop_inst(&b);
}

static void t_probabilistic_per_profile(void)
{
    enum { N = 10000 };
    inst s, p;
    kiln_err err;
    CHECK_EQ_INT(make(&s, "mode: probabilistic\npercentage: 25\n", &err), KILN_OK);
    CHECK_EQ_INT(make(&p, "mode: probabilistic\npercentage: 25\nper: profile\n", &err), KILN_OK);
    /* one series, N profiles at different times */
    kiln_batch *bs = kiln_batch_new(N), *bp = kiln_batch_new(N);
    for (long i = 0; i < N; i++) {
        add(bs, "t", "app", 1, NULL)->time_ns += i * 10000000000LL;
        add(bp, "t", "app", 1, NULL)->time_ns += i * 10000000000LL;
    }
    CHECK_EQ_INT(PL.consume(s.st, bs, &err), KILN_OK);
    CHECK_EQ_INT(PL.consume(p.st, bp, &err), KILN_OK);
    size_t ls = kiln_batch_live(bs), lp = kiln_batch_live(bp);
    /* per series: the whole series is kept or dropped */
    CHECK(ls == 0 || ls == N);
    /* per profile: about a quarter (4 sd of binomial(10000, .25) = 173) */
    CHECK(lp > 2500 - 173 && lp < 2500 + 173);
    /* the same profile (same labels and time) gets the same answer again */
    kiln_batch *again = kiln_batch_new(N);
    for (long i = 0; i < N; i++) add(again, "t", "app", 1, NULL)->time_ns += i * 10000000000LL;
    CHECK_EQ_INT(PL.consume(p.st, again, &err), KILN_OK);
    size_t same = 0;
    for (size_t i = 0; i < N; i++) same += (again->v[i].flags & 1) == (bp->v[i].flags & 1);
    CHECK_EQ_INT(same, N);
    kiln_batch_unref(bs);
    kiln_batch_unref(bp);
    kiln_batch_unref(again);
    drop_inst(&s);
    drop_inst(&p);
}

/* ---- scaling ----------------------------------------------------------------------- */

static void sums(const kiln_pprof *p, long long *tot, size_t ntypes)
{
    for (size_t k = 0; k < ntypes; k++) tot[k] = 0;
    for (size_t i = 0; i < p->n_sample; i++)
        for (size_t k = 0; k < p->sample[i]->n_value && k < ntypes; k++) tot[k] += p->sample[i]->value[k];
}

/* Scales the corpus profile at `pct` and checks totals and sharing. */
static void scale_case(const char *file, const char *rawtxt, double pct)
{
    char y[160];
    snprintf(y, sizeof y, "mode: probabilistic\npercentage: %g\nscale_values: true\n", pct);
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, y, &err), KILN_OK);
    if (!in.st) return;
    kiln_payload *pl = corpus_payload(file);
    CHECK(pl != NULL);
    if (!pl) return;
    /* find a series the hash keeps at this percentage */
    kiln_batch *b = kiln_batch_new(64);
    for (long i = 0; i < 64; i++) add(b, "t", "app", i, pl);
    CHECK_EQ_INT(PL.consume(in.st, b, &err), KILN_OK);
    kiln_profile *kept = NULL;
    size_t nkept = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!(b->v[i].flags & KILN_PROFILE_DROPPED)) {
            if (!kept) kept = &b->v[i];
            nkept++;
        }
    CHECK(kept != NULL);
    if (!kept) goto out;
    CHECK_EQ_INT(mock_host_counter(in.m, "sampling_scaled_profiles_total"), nkept);
    /* the kept profile got a new payload; the shared one is untouched and undecoded */
    CHECK(kept->payload != pl);
    CHECK_EQ_INT(kiln_payload_is_decoded(pl), 0);
    CHECK_EQ_INT(kiln_payload_is_decoded(kept->payload), 1);
    const kiln_pprof *sp;
    CHECK_EQ_INT(kiln_payload_pprof(kept->payload, &sp, &err), KILN_OK);
    size_t n_samples;
    long long want[4], got[4];
    size_t nt = test_raw_totals(rawtxt, &n_samples, want, 4);
    CHECK(nt >= 1);
    sums(sp, got, nt);
    CHECK_EQ_INT(sp->n_sample, n_samples);
    /* an independent decode of the original, scaled here value by value */
    const kiln_pprof *orig;
    CHECK_EQ_INT(kiln_payload_pprof(pl, &orig, &err), KILN_OK);
    long long ref[4] = {0};
    for (size_t i = 0; i < orig->n_sample; i++)
        for (size_t k = 0; k < nt; k++) {
            long double r = (long double)orig->sample[i]->value[k] * 100.0L / (long double)pct;
            ref[k] += (long long)(r >= 0 ? r + 0.5L : r - 0.5L);
        }
    for (size_t k = 0; k < nt; k++) {
        if (100 % (int)pct == 0 && (double)(int)pct == pct)
            CHECK_EQ_INT(got[k], want[k] * (100 / (int)pct)); /* exact multiple */
        CHECK_EQ_INT(got[k], ref[k]);
        long double exact = (long double)want[k] * 100.0L / (long double)pct;
        long double diff = (long double)got[k] - exact;
        CHECK(diff <= (long double)n_samples / 2 && diff >= -(long double)n_samples / 2);
    }
    /* everything but the values is the same profile */
    CHECK_EQ_INT(sp->n_location, orig->n_location);
    CHECK_EQ_INT(sp->n_function, orig->n_function);
    CHECK_EQ_INT(sp->period, orig->period);
    /* the scaled payload encodes and decodes back to the same values */
    const uint8_t *bytes;
    size_t blen;
    CHECK_EQ_INT(kiln_payload_bytes(kept->payload, &bytes, &blen, NULL, &err), KILN_OK);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *back;
    CHECK_EQ_INT(kiln_pprof_decode(a, bytes, blen, NULL, &back, &err), KILN_OK);
    long long bt[4];
    sums(back, bt, nt);
    for (size_t k = 0; k < nt; k++) CHECK_EQ_INT(bt[k], got[k]);
    kiln_arena_destroy(a);
out:
    kiln_batch_unref(b);
    kiln_payload_unref(pl);
    drop_inst(&in);
}

static void t_scale_values(void)
{
    scale_case("pprof__sample.cpu.pb.gz", "pprof__sample.cpu.pb.gz.raw.txt", 25);
    scale_case("pprof__sample.cpu.pb.gz", "pprof__sample.cpu.pb.gz.raw.txt", 50);
    scale_case("pprof__sample.cpu.pb.gz", "pprof__sample.cpu.pb.gz.raw.txt", 30);
    scale_case("pprof__sample.cpu.pb.gz", "pprof__sample.cpu.pb.gz.raw.txt", 12.5);
}

static void t_scale_off_or_full_does_not_decode(void)
{
    static const char *const ys[] = {
        "mode: probabilistic\npercentage: 100\nscale_values: true\n",
        "mode: probabilistic\npercentage: 40\n",
    };
    for (size_t k = 0; k < 2; k++) {
        inst in;
        kiln_err err;
        CHECK_EQ_INT(make(&in, ys[k], &err), KILN_OK);
        kiln_payload *pl = corpus_payload("pprof__sample.cpu.pb.gz");
        kiln_batch *b = kiln_batch_new(50);
        for (long i = 0; i < 50; i++) add(b, "t", "app", i, pl);
        CHECK_EQ_INT(PL.consume(in.st, b, &err), KILN_OK);
        for (size_t i = 0; i < b->n; i++)
            if (!(b->v[i].flags & KILN_PROFILE_DROPPED)) CHECK(b->v[i].payload == pl);
        CHECK(kiln_batch_live(b) > 0);
        CHECK_EQ_INT(kiln_payload_is_decoded(pl), 0);
        CHECK_EQ_INT(mock_host_counter(in.m, "sampling_scaled_profiles_total"), 0);
        kiln_batch_unref(b);
        kiln_payload_unref(pl);
        drop_inst(&in);
    }
}

static void t_scale_value_table(void)
{
    static const struct {
        int64_t v;
        double pct;
        int64_t want;
    } c[] = {
        {7, 25, 28},       {-7, 25, -28},   {1, 30, 3},   {2, 30, 7},       {-2, 30, -7},
        {5, 33.3, 15},     {10, 100, 10},   {0, 1, 0},    {3, 12.5, 24},    {1, 40, 3},
        {INT64_MAX, 50, INT64_MAX},         {INT64_MIN, 50, INT64_MIN},
        {3, 2, 150},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int64_t got = kiln_sampling_scale_value(c[i].v, c[i].pct);
        if (got != c[i].want) fprintf(stderr, "  case %zu: %lld\n", i, (long long)got);
        CHECK_EQ_INT(got, c[i].want);
    }
}

static void t_scale_bad_payload_fails(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "mode: probabilistic\npercentage: 50\nscale_values: true\n", &err), KILN_OK);
    uint8_t junk[] = "definitely not a pprof profile";
    kiln_payload *pl = kiln_payload_from_bytes(KILN_FMT_PPROF, junk, sizeof junk, 1, NULL, NULL);
    kiln_batch *b = kiln_batch_new(64);
    for (long i = 0; i < 64; i++) add(b, "t", "app", i, pl);
    kiln_err_clear(&err);
    int rc = PL.consume(in.st, b, &err);
    CHECK(rc != KILN_OK);
    CHECK_CONTAINS(err.msg, "sampling: scale_values");
    kiln_batch_unref(b);
    kiln_payload_unref(pl);
    drop_inst(&in);
}

/* ---- rate limits ---------------------------------------------------------------------- */

/* One profile of `tenant` in its own batch; returns consume's status and
 * whether it survived. */
static int one(inst *in, const char *tenant, long series, kiln_payload *pl, int *kept, kiln_err *err)
{
    kiln_batch *b = kiln_batch_new(1);
    add(b, tenant, "app", series, pl);
    kiln_err_clear(err);
    int rc = PL.consume(in->st, b, err);
    if (kept) *kept = rc == KILN_OK && !(b->v[0].flags & KILN_PROFILE_DROPPED);
    if (rc == KILN_OK && !*kept) CHECK(dropped(&b->v[0], "rate_limited"));
    kiln_batch_unref(b);
    return rc;
}

static int kept_count(inst *in, const char *tenant, long series, kiln_payload *pl, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        int kept;
        kiln_err err;
        CHECK_EQ_INT(one(in, tenant, series, pl, &kept, &err), KILN_OK);
        k += kept;
    }
    return k;
}

static void t_rate_profiles_per_tenant(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "mode: rate_limit\nprofiles_per_second: 2\n", &err), KILN_OK);
    kiln_payload *pl = corpus_payload("pprof__sample.cpu.pb.gz");
    /* burst defaults to the rate: 2 at once, then nothing */
    CHECK_EQ_INT(kept_count(&in, "a", 1, pl, 5), 2);
    /* another tenant has its own bucket; series do not matter per tenant */
    CHECK_EQ_INT(kept_count(&in, "b", 2, pl, 1), 1);
    CHECK_EQ_INT(kept_count(&in, "a", 3, pl, 1), 0);
    /* half a second refills one token */
    in.now += 500000000;
    CHECK_EQ_INT(kept_count(&in, "a", 1, pl, 3), 1);
    /* a long pause refills up to the burst only */
    in.now += 60LL * 1000000000;
    CHECK_EQ_INT(kept_count(&in, "a", 1, pl, 5), 2);
    /* 10 seconds at 2/s: 20 profiles spread evenly all pass */
    int k = 0;
    for (int i = 0; i < 20; i++) {
        in.now += 500000000;
        k += kept_count(&in, "a", 1, pl, 1);
    }
    CHECK_EQ_INT(k, 20);
    CHECK_EQ_INT(kiln_payload_is_decoded(pl), 0);
    CHECK_EQ_INT(mock_host_counter(in.m, "sampling_rate_limited_profiles_total"), 3 + 1 + 2 + 3);
    kiln_payload_unref(pl);
    drop_inst(&in);
}

static void t_rate_burst_and_fractional(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "mode: rate_limit\nprofiles_per_second: 0.5\nburst_profiles: 3\n", &err), KILN_OK);
    CHECK_EQ_INT(kept_count(&in, "a", 1, NULL, 10), 3);
    in.now += 1999999999; /* just short of one token */
    CHECK_EQ_INT(kept_count(&in, "a", 1, NULL, 1), 0);
    in.now += 1;
    CHECK_EQ_INT(kept_count(&in, "a", 1, NULL, 2), 1);
    drop_inst(&in);
}

static void t_rate_per_series(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "mode: rate_limit\nprofiles_per_second: 1\nper: series\n", &err), KILN_OK);
    CHECK_EQ_INT(kept_count(&in, "a", 1, NULL, 3), 1);
    CHECK_EQ_INT(kept_count(&in, "a", 2, NULL, 3), 1);
    /* the same labels under another tenant are another series */
    CHECK_EQ_INT(kept_count(&in, "b", 1, NULL, 3), 1);
    drop_inst(&in);
}

static void t_rate_bytes_refuse_message(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "mode: rate_limit\nbytes_per_second: 4KiB\non_limit: refuse\n", &err), KILN_OK);
    kiln_payload *pl = corpus_payload("pprof__sample.cpu.pb.gz"); /* 1836 bytes */
    int kept;
    CHECK_EQ_INT(one(&in, "team-a", 1, pl, &kept, &err), KILN_OK);
    CHECK_EQ_INT(one(&in, "team-a", 1, pl, &kept, &err), KILN_OK);
    int rc = one(&in, "team-a", 1, pl, &kept, &err);
    CHECK_EQ_INT(rc, KILN_ELIMIT);
    CHECK_EQ_INT(kiln_status_http(rc), 429);
    CHECK_EQ_STR(err.msg, "push rate limit (4.0 KiB/s) exceeded while adding 1.8 KiB for tenant 'team-a'");
    /* 1836 - (4096 - 3672) = 1412 bytes to wait for at 4096 B/s: 345 ms */
    in.now += 340000000;
    CHECK_EQ_INT(one(&in, "team-a", 1, pl, &kept, &err), KILN_ELIMIT);
    in.now += 10000000;
    CHECK_EQ_INT(one(&in, "team-a", 1, pl, &kept, &err), KILN_OK);
    CHECK_EQ_INT(kiln_payload_is_decoded(pl), 0);
    kiln_payload_unref(pl);
    drop_inst(&in);
}

static void t_rate_too_big_for_burst(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "mode: rate_limit\nbytes_per_second: 1KiB\n", &err), KILN_OK);
    kiln_payload *pl = corpus_payload("pprof__sample.cpu.pb.gz"); /* 1836 > 1024 */
    CHECK_EQ_INT(kept_count(&in, "a", 1, pl, 1), 0);
    in.now += 3600LL * 1000000000;
    CHECK_EQ_INT(kept_count(&in, "a", 1, pl, 1), 0);
    kiln_payload_unref(pl);
    drop_inst(&in);
}

static void t_rate_refuse_refunds_batch(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "mode: rate_limit\nprofiles_per_second: 1\nburst_profiles: 3\n"
                           "on_limit: refuse\nper: series\n",
                     &err),
                 KILN_OK);
    /* 4 profiles of series 1 in one batch: the 4th is over, the batch is
     * refused, and the 3 tokens it took are given back */
    kiln_batch *b = kiln_batch_new(4);
    for (int i = 0; i < 4; i++) add(b, "a", "app", 1, NULL);
    kiln_err_clear(&err);
    CHECK_EQ_INT(PL.consume(in.st, b, &err), KILN_ELIMIT);
    CHECK_CONTAINS(err.msg, "push rate limit (1 profiles/s) exceeded while adding 1 profile for series '{");
    CHECK_CONTAINS(err.msg, "i=\"1\"");
    CHECK_CONTAINS(err.msg, "of tenant 'a'");
    kiln_batch_unref(b);
    b = kiln_batch_new(3);
    for (int i = 0; i < 3; i++) add(b, "a", "app", 1, NULL);
    CHECK_EQ_INT(PL.consume(in.st, b, &err), KILN_OK);
    CHECK_EQ_INT(kiln_batch_live(b), 3);
    kiln_batch_unref(b);
    drop_inst(&in);
}

static void t_rate_lru_bound(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "mode: rate_limit\nprofiles_per_second: 1\nmax_tracked: 2\n", &err), KILN_OK);
    CHECK_EQ_INT(kept_count(&in, "a", 1, NULL, 1), 1); /* tracked: a */
    CHECK_EQ_INT(kept_count(&in, "b", 1, NULL, 1), 1); /* b a */
    CHECK_EQ_INT(kept_count(&in, "a", 1, NULL, 1), 0); /* a b: a is empty */
    CHECK_EQ_INT(kept_count(&in, "c", 1, NULL, 1), 1); /* c a: b forgotten */
    kiln_sampling_state *s = in.st;
    CHECK_EQ_INT(kiln_sampling_limiter_tracked(s->lim), 2);
    CHECK_EQ_INT(kept_count(&in, "a", 1, NULL, 1), 0); /* a still tracked and empty: a c */
    CHECK_EQ_INT(kept_count(&in, "b", 1, NULL, 1), 1); /* b was forgotten: full again; b a */
    CHECK_EQ_INT(kept_count(&in, "c", 1, NULL, 1), 1); /* c was forgotten (LRU): c b */
    CHECK_EQ_INT(kept_count(&in, "b", 1, NULL, 1), 0);
    CHECK_EQ_INT(kiln_sampling_limiter_tracked(s->lim), 2);
    drop_inst(&in);
}

static void t_limiter_many_keys_bounded(void)
{
    /* several shards: never more than max_tracked keys */
    kiln_sampling_limiter *l = kiln_sampling_limiter_new(5000, 1, 1, 0, 0);
    CHECK(l != NULL);
    for (uint64_t k = 0; k < 100000; k++) {
        uint64_t key = k * 0x9e3779b97f4a7c15ULL;
        CHECK(kiln_sampling_limiter_take(l, key, 0, 0, NULL) == 1);
    }
    CHECK_EQ_INT(kiln_sampling_limiter_tracked(l), 5000);
    /* the most recent keys are still there (and empty) */
    int over = 0;
    CHECK_EQ_INT(kiln_sampling_limiter_take(l, 99999 * 0x9e3779b97f4a7c15ULL, 0, 0, &over), 0);
    CHECK_EQ_INT(over, KILN_SAMPLING_OVER_PROFILES);
    kiln_sampling_limiter_free(l);
}

typedef struct th_arg {
    kiln_sampling_limiter *l;
    int allowed;
} th_arg;

static void *hammer(void *arg)
{
    th_arg *a = arg;
    for (int i = 0; i < 20000; i++) a->allowed += kiln_sampling_limiter_take(a->l, 42, 10, 5, NULL);
    return NULL;
}

static void t_limiter_threads(void)
{
    /* a fixed clock: exactly the burst passes however the threads interleave */
    kiln_sampling_limiter *l = kiln_sampling_limiter_new(10, 1, 1000, 1, 5000);
    pthread_t th[4];
    th_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (th_arg){l, 0};
        pthread_create(&th[i], NULL, hammer, &a[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += a[i].allowed;
    }
    CHECK_EQ_INT(total, 500); /* bytes: 5000 / 10 is the tighter bucket */
    kiln_sampling_limiter_free(l);
}

static void t_ibytes(void)
{
    static const struct {
        uint64_t n;
        const char *want;
    } c[] = {
        {0, "0 B"},           {9, "9 B"},           {10, "10 B"},         {1023, "1023 B"},
        {1024, "1.0 KiB"},    {1836, "1.8 KiB"},    {1258291, "1.2 MiB"}, {4194304, "4.0 MiB"},
        {12582912, "12 MiB"}, {1073741824, "1.0 GiB"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char buf[32];
        CHECK_EQ_STR(kiln_sampling_ibytes(c[i].n, buf, sizeof buf), c[i].want);
    }
}

static void t_already_dropped_left_alone(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "mode: rate_limit\nprofiles_per_second: 1\n", &err), KILN_OK);
    kiln_batch *b = kiln_batch_new(2);
    kiln_profile_drop(add(b, "a", "app", 1, NULL), "earlier");
    add(b, "a", "app", 1, NULL);
    CHECK_EQ_INT(PL.consume(in.st, b, &err), KILN_OK);
    CHECK(!(b->v[1].flags & KILN_PROFILE_DROPPED)); /* the dropped one took no token */
    CHECK_EQ_STR(b->v[0].drop_reason, "earlier");
    kiln_batch_unref(b);
    drop_inst(&in);
}

int main(void)
{
    RUN(t_bad_configs);
    RUN(t_probabilistic_series);
    RUN(t_probabilistic_seed_changes_choice);
    RUN(t_probabilistic_per_profile);
    RUN(t_scale_values);
    RUN(t_scale_off_or_full_does_not_decode);
    RUN(t_scale_value_table);
    RUN(t_scale_bad_payload_fails);
    RUN(t_rate_profiles_per_tenant);
    RUN(t_rate_burst_and_fractional);
    RUN(t_rate_per_series);
    RUN(t_rate_bytes_refuse_message);
    RUN(t_rate_too_big_for_burst);
    RUN(t_rate_refuse_refunds_batch);
    RUN(t_rate_lru_bound);
    RUN(t_limiter_many_keys_bounded);
    RUN(t_limiter_threads);
    RUN(t_ibytes);
    RUN(t_already_dropped_left_alone);
    return test_summary();
}
