/* exporters/query/tests/qtest.h — fixtures for the query exporter's plugin
 * tests: a scratch directory with a filesystem store, blocks written from
 * corpus files through the real head/block writer (kiln_head_*), WAL
 * segments written through the real WAL writer, the plugin created on the
 * mock core from YAML, and request helpers (Connect JSON/proto, GET).
 *
 * Everything is static and marked unused; each test includes what it
 * needs. qt_done removes the scratch directory.
 */
#ifndef KILN_QUERY_QTEST_H
#define KILN_QUERY_QTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kiln/blocks.h>
#include <kiln/kiln.h>

#include "kiln_config.h"
#include "mock_host.h"
#include "query.h"
#include "testlib.h"

#define QT __attribute__((unused)) static

extern const kiln_plugin kiln_plugin_descriptor;

typedef struct qt_fx {
    char dir[256], data[300], wal[300], tmp[300];
    kiln_objstore *os;
    mock_host *m;
    void *cfg, *st;
} qt_fx;

QT int qt_open(qt_fx *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/kiln-qt.XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    snprintf(f->wal, sizeof f->wal, "%s/wal", f->dir);
    snprintf(f->tmp, sizeof f->tmp, "%s/tmp", f->dir);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' '%s'", f->wal, f->tmp);
    if (system(cmd) != 0) return -1;
    kiln_err err;
    if (kiln_objstore_open_fs(f->data, &f->os, &err) != KILN_OK) {
        fprintf(stderr, "objstore: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Creates the plugin on a mock core with `extra` YAML appended. */
QT int qt_start(qt_fx *f, const char *extra)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "storage:\n  filesystem:\n    directory: %s\nwal_dir: %s\nsync_interval: 0s\n%s", f->data,
             f->wal, extra ? extra : "");
    kiln_node *root = NULL;
    kiln_err err;
    f->cfg = calloc(1, kiln_plugin_descriptor.cfg_size);
    if (kiln_yaml_load_string("t.yaml", yaml, strlen(yaml), &root, &err) != KILN_OK ||
        kiln_cfg_apply(kiln_plugin_descriptor.fields, root, f->cfg, &err) != KILN_OK) {
        fprintf(stderr, "config: %s\n", err.msg);
        kiln_yaml_free(root);
        return -1;
    }
    kiln_yaml_free(root);
    f->m = mock_host_new("exporter/query", "exporter");
    if (kiln_plugin_descriptor.create(mock_host_host(f->m), f->cfg, &f->st, &err) != KILN_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        return -1;
    }
    if (kiln_plugin_descriptor.start(f->st, &err) != KILN_OK) return -1;
    return 0;
}

QT void qt_done(qt_fx *f)
{
    if (f->st) {
        kiln_plugin_descriptor.shutdown(f->st, kiln_now_mono_ns() + 1000000000LL);
        kiln_plugin_descriptor.destroy(f->st);
    }
    if (f->cfg) {
        kiln_cfg_free(kiln_plugin_descriptor.fields, f->cfg);
        free(f->cfg);
    }
    mock_host_free(f->m);
    if (f->os) kiln_objstore_close(f->os);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", f->dir);
    memset(f, 0, sizeof *f);
}

/* labels "k1", "v1", ..., NULL */
QT void qt_labels(kiln_labels *ls, const char *const *kv)
{
    for (size_t i = 0; kv && kv[i]; i += 2) kiln_labels_set(ls, kv[i], kv[i + 1]);
}

/* Writes one block of `tenant` holding the corpus file at time t_ns. */
QT int qt_block(qt_fx *f, const char *tenant, const char *file, const char *const *kv, int64_t t_ns)
{
    size_t len;
    uint8_t *d = test_read_corpus(file, &len);
    if (!d) return -1;
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p;
    kiln_err err;
    int rc = kiln_pprof_decode(a, d, len, NULL, &p, &err);
    free(d);
    kiln_head *h = NULL;
    char id[KILN_BLOCK_ID_LEN + 1];
    kiln_labels ls = KILN_LABELS_INIT;
    qt_labels(&ls, kv);
    if (rc == KILN_OK) rc = kiln_block_id_new(t_ns, id, &err);
    if (rc == KILN_OK) rc = kiln_head_new(tenant, id, t_ns, &h, &err);
    if (rc == KILN_OK) rc = kiln_head_append(h, &ls, t_ns, 10000000000LL, p, &err);
    int empty = 0;
    if (rc == KILN_OK) rc = kiln_head_write_block(h, f->os, f->tmp, NULL, &empty, &err);
    if (rc != KILN_OK) fprintf(stderr, "qt_block %s: %s\n", file, err.msg);
    kiln_head_free(h);
    kiln_labels_free(&ls);
    kiln_arena_destroy(a);
    return rc == KILN_OK ? 0 : -1;
}

/* Appends the corpus file to a new WAL segment of `tenant` (a head). */
QT int qt_wal(qt_fx *f, const char *tenant, const char *file, const char *const *kv, int64_t t_ns)
{
    size_t len;
    uint8_t *d = test_read_corpus(file, &len);
    if (!d) return -1;
    char id[KILN_BLOCK_ID_LEN + 1];
    kiln_err err;
    kiln_wal *w = NULL;
    kiln_labels ls = KILN_LABELS_INIT;
    qt_labels(&ls, kv);
    int rc = kiln_block_id_new(t_ns, id, &err);
    if (rc == KILN_OK) rc = kiln_wal_create(f->wal, tenant, id, t_ns, &w, &err);
    kiln_wal_profile wp = {&ls, t_ns, 10000000000LL, d, len};
    if (rc == KILN_OK) rc = kiln_wal_append(w, &wp, 1, &err);
    if (rc == KILN_OK) rc = kiln_wal_sync(w, &err);
    if (rc != KILN_OK) fprintf(stderr, "qt_wal %s: %s\n", file, err.msg);
    if (w) kiln_wal_unref(w);
    kiln_labels_free(&ls);
    free(d);
    return rc == KILN_OK ? 0 : -1;
}

/* POSTs a Connect request; headers NULL-ended name/value pairs or NULL. */
QT int qt_connect(qt_fx *f, const char *method, const char *ctype, const char *tenant, const void *body,
                  size_t len, mock_http_reply *out)
{
    char path[256];
    snprintf(path, sizeof path, "/querier.v1.QuerierService/%s", method);
    const char *h[] = {"Content-Type", ctype, "X-Scope-OrgID", tenant, NULL};
    if (!tenant) h[2] = NULL;
    return mock_http_request(f->m, "POST", path, h, body, len, out);
}

QT int qt_json(qt_fx *f, const char *method, const char *tenant, const char *body, mock_http_reply *out)
{
    return qt_connect(f, method, "application/json", tenant, body, strlen(body), out);
}

QT int qt_get(qt_fx *f, const char *target, const char *tenant, mock_http_reply *out)
{
    const char *h[] = {"X-Scope-OrgID", tenant, NULL};
    return mock_http_request(f->m, "GET", target, tenant ? h : NULL, NULL, 0, out);
}

/* Parses a reply body as JSON into arena a (NULL on failure, printed). */
QT const kiln_json *qt_parse(kiln_arena *a, const mock_http_reply *r)
{
    kiln_json *j;
    kiln_err err;
    if (!r->body || kiln_json_parse(a, r->body, r->len, 0, &j, &err) != KILN_OK) {
        fprintf(stderr, "bad JSON reply (%s): %.300s\n", r->body ? err.msg : "no body",
                r->body ? r->body : "");
        return NULL;
    }
    return j;
}

/* Integer member (number or protojson string); def when missing. */
QT int64_t qt_int(const kiln_json *o, const char *name, int64_t def)
{
    const kiln_json *v = kiln_json_get(o, name, NULL);
    int64_t x;
    kiln_err err;
    if (!v || kiln_json_int64(v, &x, &err) != KILN_OK) return def;
    return x;
}

/* The sum of self values over a flamebearer-style level list, and checks
 * the structure: every level's nodes are inside their parents' spans. */
QT int64_t qt_levels_self(const kiln_json *levels, int per, int inner_levels_object)
{
    int64_t self = 0;
    for (size_t i = 0; levels && i < levels->n; i++) {
        const kiln_json *l = levels->items[i];
        if (inner_levels_object) l = kiln_json_get(l, "values", NULL);
        for (size_t k = 0; l && k + (size_t)per - 1 < l->n; k += (size_t)per) {
            int64_t v;
            kiln_err err;
            if (kiln_json_int64(l->items[k + 2], &v, &err) == KILN_OK) self += v;
        }
    }
    return self;
}

#endif
