/* processors/tenant_route/tests/troute_test.h — helpers shared by the
 * tenant_route plugin tests: make an instance from YAML against the mock
 * core (with the pipeline's exporter ids), build profiles. Static functions
 * only; each test executable includes it once.
 *
 * Memory: an inst owns its mock host, YAML tree (kept alive until
 * drop_inst, as the core keeps it), config and state.
 */
#ifndef TROUTE_TEST_H
#define TROUTE_TEST_H

#include <stdlib.h>

#include <kiln/kiln.h>

#include "kiln_config.h"
#include "mock_host.h"
#include "tenant_route.h"
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

static const char *const three_exporters[] = {"testsink/a", "testsink/b", "blocks"};

/* Loads yaml, validates, creates with the pipeline's exporters `ids`. */
static int make_with(inst *in, const char *yaml, const char *const *ids, size_t n, kiln_err *err)
{
    memset(in, 0, sizeof *in);
    mock_host *m = mock_host_new("processor/tenant_route", "processor");
    mock_host_set_exporters(m, ids, n);
    int rc = mock_plugin_make(&in->p, &PL, m, yaml, err);
    if (rc != KILN_OK) return rc;
    in->m = in->p.m;
    in->st = in->p.st;
    in->now = 5000000000000LL;
    kiln_troute_set_clock(in->st, fake_clock, in);
    return KILN_OK;
}

static int make(inst *in, const char *yaml, kiln_err *err)
{
    return make_with(in, yaml, three_exporters, 3, err);
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

/* Adds a profile: tenant (NULL: none set), labels "a=1,b=2" (no commas or
 * '=' in values), payload (a reference is taken; may be NULL). */
static kiln_profile *add(kiln_batch *b, const char *tenant, const char *labels, kiln_payload *pl)
{
    kiln_profile *p = kiln_batch_add(b);
    if (tenant) kiln_profile_set_tenant(p, tenant);
    const char *s = labels;
    while (s && *s) {
        const char *eq = strchr(s, '=');
        if (!eq) break;
        const char *end = strchr(eq, ',');
        if (!end) end = eq + strlen(eq);
        kiln_labels_setn(&p->labels, s, (size_t)(eq - s), eq + 1, (size_t)(end - eq - 1));
        s = *end ? end + 1 : end;
    }
    if (pl) p->payload = kiln_payload_ref(pl);
    return p;
}

/* One profile in its own batch through consume; returns the status. */
static int run_one(inst *in, const char *tenant, const char *labels, kiln_payload *pl, kiln_err *err,
                   kiln_batch **out)
{
    kiln_batch *b = kiln_batch_new(1);
    add(b, tenant, labels, pl);
    kiln_err_clear(err);
    int rc = PL.consume(in->st, b, err);
    if (out)
        *out = b;
    else
        kiln_batch_unref(b);
    return rc;
}

#endif
