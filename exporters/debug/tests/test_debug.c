/* Plugin test: the debug exporter against the mock core. */
#include <stdio.h>
#include <stdlib.h>

#include <kiln/kiln.h>

#include "debug_fmt.h"
#include "kiln_config.h"
#include "mock_host.h"
#include "testlib.h"

extern const kiln_plugin kiln_plugin_descriptor;
#define PL kiln_plugin_descriptor

static kiln_batch *corpus_batch(const char *name, const char *tenant)
{
    size_t len;
    uint8_t *data = test_read_corpus(name, &len);
    if (!data) return NULL;
    kiln_batch *b = kiln_batch_new(1);
    kiln_profile *p = kiln_batch_add(b);
    kiln_profile_set_tenant(p, tenant);
    kiln_labels_set(&p->labels, "service_name", "my app");
    kiln_labels_set(&p->labels, "__name__", "process_cpu");
    p->payload = kiln_payload_from_bytes(KILN_FMT_PPROF, data, len, 0, NULL, NULL);
    return b;
}

/* The debug exporter from yaml on a fresh mock core; NULL (and the reason on
 * stderr) when it is refused. */
static void *make(mock_plugin *mp, const char *yaml)
{
    kiln_err err;
    if (mock_plugin_make(mp, &PL, mock_host_new("exporter/debug", "exporter"), yaml, &err) == KILN_OK) return mp->st;
    fprintf(stderr, "debug exporter: %s\n", err.msg);
    return NULL;
}

static void t_normal_line_has_exact_totals(void)
{
    mock_plugin mp;
    void *st = make(&mp, "verbosity: normal\n");
    mock_host *m = mp.m;
    CHECK(st != NULL);
    if (!st) return;
    kiln_batch *b = corpus_batch("pprof__sample.cpu.pb.gz", "team-a");
    kiln_err err;
    CHECK_EQ_INT(PL.consume(st, b, &err), KILN_OK);
    size_t n_samples;
    long long totals[2];
    CHECK_EQ_INT(test_raw_totals("pprof__sample.cpu.pb.gz.raw.txt", &n_samples, totals, 2), 2);
    char want[256];
    snprintf(want, sizeof want, "samples=%zu total.samples/count=%lld total.cpu/nanoseconds=%lld bytes=%zu",
             n_samples, totals[0], totals[1], (size_t)1836);
    const char *log = mock_host_log(m);
    CHECK_CONTAINS(log, "profile tenant=team-a ");
    CHECK_CONTAINS(log, "labels=\"{__name__=\\\"process_cpu\\\", service_name=\\\"my app\\\"}\"");
    CHECK_CONTAINS(log, "types=samples/count,cpu/nanoseconds ");
    CHECK_CONTAINS(log, want);
    CHECK_EQ_INT(mock_host_counter(m, "debug_lines_total"), 1);
    kiln_batch_unref(b);
    mock_plugin_drop(&mp);
}

static void t_basic_and_sampling(void)
{
    mock_plugin mp;
    void *st = make(&mp, "verbosity: basic\nsampling_initial: 1\nsampling_thereafter: 2\n");
    mock_host *m = mp.m;
    CHECK(st != NULL);
    if (!st) return;
    kiln_err err;
    for (int i = 0; i < 4; i++) {
        kiln_batch *b = corpus_batch("pprof__sample.cpu.pb.gz", "t");
        CHECK_EQ_INT(PL.consume(st, b, &err), KILN_OK);
        kiln_batch_unref(b);
    }
    /* first batch, then every second after it: batches 1 and 3 of 1..4 -> 2 lines */
    CHECK_EQ_INT(mock_host_counter(m, "debug_lines_total"), 2);
    CHECK_CONTAINS(mock_host_log(m), "batch profiles=1 samples=");
    mock_plugin_drop(&mp);
}

static void t_bad_payload_fails_batch(void)
{
    mock_plugin mp;
    void *st = make(&mp, "{}\n");
    CHECK(st != NULL);
    if (!st) return;
    kiln_batch *b = kiln_batch_new(1);
    kiln_profile *p = kiln_batch_add(b);
    kiln_profile_set_tenant(p, "t");
    uint8_t junk[] = "not a profile at all";
    p->payload = kiln_payload_from_bytes(KILN_FMT_PPROF, junk, sizeof junk, 1, NULL, NULL);
    kiln_err err;
    kiln_err_clear(&err);
    CHECK(PL.consume(st, b, &err) != KILN_OK);
    CHECK(err.msg[0] != 0);
    CHECK(!err.retriable);
    kiln_batch_unref(b);
    mock_plugin_drop(&mp);
}

static void t_quote(void)
{
    char buf[64];
    kiln_debug_quote("plain", buf, sizeof buf);
    CHECK_EQ_STR(buf, "plain");
    kiln_debug_quote("a b\"c\\", buf, sizeof buf);
    CHECK_EQ_STR(buf, "\"a b\\\"c\\\\\"");
    kiln_debug_quote("", buf, sizeof buf);
    CHECK_EQ_STR(buf, "\"\"");
    kiln_debug_quote("k=v", buf, sizeof buf);
    CHECK_EQ_STR(buf, "\"k=v\"");
}

int main(void)
{
    RUN(t_normal_line_has_exact_totals);
    RUN(t_basic_and_sampling);
    RUN(t_bad_payload_fails_batch);
    RUN(t_quote);
    return test_summary();
}
