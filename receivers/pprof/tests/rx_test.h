/* receivers/pprof/tests/rx_test.h — a pprof receiver on the mock core, for
 * the receiver's tests: rx_open makes it from YAML (field table, validate,
 * create) and starts it; rx_close shuts it down and frees everything. */
#ifndef KILN_RX_TEST_H
#define KILN_RX_TEST_H

#include <stdio.h>
#include <string.h>

#include <kiln/kiln.h>

#include "mock_host.h"

extern const kiln_plugin kiln_plugin_descriptor;
#define PL kiln_plugin_descriptor

typedef struct rx {
    mock_plugin p; /* owns the core, config and state */
    mock_host *m;  /* p.m */
    void *st;      /* p.st */
} rx;

static inline int rx_open(rx *r, const char *yaml)
{
    memset(r, 0, sizeof *r);
    kiln_err err;
    int rc = mock_plugin_make(&r->p, &PL, mock_host_new("receiver/pprof", "receiver"), yaml, &err);
    if (rc == KILN_OK) rc = PL.start(r->p.st, &err);
    if (rc != KILN_OK) {
        fprintf(stderr, "receiver: %s\n", err.msg);
        return rc;
    }
    r->m = r->p.m;
    r->st = r->p.st;
    return KILN_OK;
}

static inline void rx_close(rx *r)
{
    if (r->p.st) PL.shutdown(r->p.st, kiln_now_mono_ns() + 1000000000LL);
    mock_plugin_drop(&r->p);
}

#endif
