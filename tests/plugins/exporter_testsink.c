/* tests/plugins/exporter_testsink.c — an exporter for runtime tests only
 * (built into build/test-plugins, never installed).
 *
 * It records each profile it takes as one line in `record` (tenant, labels,
 * received bytes) and can be told to be slow (`delay` per batch) or to fail
 * (`fail: retriable|fatal` for the first `fail_count` batches), so tests can
 * drive backpressure, retries, drain on shutdown and error answers.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kiln/kiln.h>

typedef struct sink_cfg {
    char *record;
    int64_t delay;
    int fail;
    int64_t fail_count;
} sink_cfg;

typedef struct sink {
    kiln_host *host;
    const sink_cfg *cfg;
    atomic_long failed;
    FILE *f;
} sink;

static const kiln_cfg_field sink_fields[] = {
    {"record", KILN_CFG_STRING, NULL, offsetof(sink_cfg, record), "file to append a line per profile to", 0, 0, 0, NULL},
    {"delay", KILN_CFG_DURATION, "0s", offsetof(sink_cfg, delay), "sleep this long in each consume", 0, 0, 0, NULL},
    {"fail", KILN_CFG_ENUM, "none", offsetof(sink_cfg, fail), "how the first fail_count batches fail", 0, 0, 0, "none|retriable|fatal"},
    {"fail_count", KILN_CFG_INT, "0", offsetof(sink_cfg, fail_count), "batches that fail", 0, 0, -1, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL}};

static int sink_create(kiln_host *host, const void *cfg, void **state, kiln_err *err)
{
    sink *s = calloc(1, sizeof *s);
    if (!s) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    s->host = host;
    s->cfg = cfg;
    if (s->cfg->record) {
        s->f = fopen(s->cfg->record, "a");
        if (!s->f) {
            free(s);
            return kiln_err_set(err, KILN_EIO, "cannot open %s", ((const sink_cfg *)cfg)->record);
        }
        setvbuf(s->f, NULL, _IOLBF, 0);
    }
    *state = s;
    return KILN_OK;
}

static int sink_consume(void *state, kiln_batch *b, kiln_err *err)
{
    sink *s = state;
    if (s->cfg->delay > 0) {
        struct timespec ts = {s->cfg->delay / 1000000000, s->cfg->delay % 1000000000};
        nanosleep(&ts, NULL);
    }
    if (s->cfg->fail && atomic_fetch_add(&s->failed, 1) < s->cfg->fail_count)
        return kiln_err_set(err, s->cfg->fail == 1 ? KILN_EIO : KILN_EUNPROC, "testsink: told to fail");
    for (size_t i = 0; i < b->n && s->f; i++) {
        char lab[2048];
        kiln_labels_format(&b->v[i].labels, lab, sizeof lab);
        const uint8_t *d;
        size_t len = 0;
        kiln_payload_bytes(b->v[i].payload, &d, &len, NULL, NULL);
        fprintf(s->f, "tenant=%s bytes=%zu labels=%s\n", b->v[i].tenant, len, lab);
    }
    return KILN_OK;
}

static void sink_destroy(void *state)
{
    sink *s = state;
    if (s->f) fclose(s->f);
    free(s);
}

KILN_PLUGIN_DEFINE = {
    KILN_PLUGIN_HEADER,
    .kind = KILN_KIND_EXPORTER,
    .type = "testsink",
    .doc = "Test-only exporter: records, delays or fails on command.",
    .fields = sink_fields,
    .cfg_size = sizeof(sink_cfg),
    .create = sink_create,
    .consume = sink_consume,
    .destroy = sink_destroy,
};
