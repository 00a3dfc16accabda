/* processors/relabel/tests/relabel_test_util.h — helpers shared by the relabel
 * processor's plugin tests: load a YAML config through the real config layer
 * (kiln_yaml_load_string + kiln_cfg_apply + validate + create, against the
 * mock core) and build batches with given labels.
 *
 * Memory: an rt owns its mock host, config tree, config struct and plugin
 * state; rt_close frees them. Strings returned by dollars() are malloc'ed
 * (caller frees).
 */
#ifndef KILN_RELABEL_TEST_UTIL_H
#define KILN_RELABEL_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include <kiln/kiln.h>

#include "kiln_config.h"
#include "mock_host.h"
#include "testlib.h"

extern const kiln_plugin kiln_plugin_descriptor;
#define PL kiln_plugin_descriptor

typedef struct rt {
    mock_host *m;
    kiln_node *root;
    void *cfg;
    void *st;
} rt;

static inline void rt_close(rt *t)
{
    if (t->st) PL.destroy(t->st);
    if (t->cfg) {
        kiln_cfg_free(PL.fields, t->cfg);
        free(t->cfg);
    }
    kiln_yaml_free(t->root);
    mock_host_free(t->m);
    memset(t, 0, sizeof *t);
}

/* Loads `yaml` as the processor's config (named t.yaml in messages), then
 * runs validate and create. Returns the first failing status (err says why)
 * and leaves *t closed in that case. */
static inline int rt_open(rt *t, const char *yaml, kiln_err *err)
{
    memset(t, 0, sizeof *t);
    kiln_err_clear(err);
    t->m = mock_host_new("processor/relabel", "processor");
    t->cfg = calloc(1, PL.cfg_size);
    int rc = kiln_yaml_load_string("t.yaml", yaml, strlen(yaml), &t->root, err);
    if (rc == KILN_OK) rc = kiln_cfg_apply(PL.fields, t->root, t->cfg, err);
    if (rc == KILN_OK) rc = PL.validate(t->cfg, t->root, err);
    if (rc == KILN_OK) rc = PL.create(mock_host_host(t->m), t->cfg, &t->st, err);
    if (rc != KILN_OK) {
        t->st = NULL;
        rt_close(t);
    }
    return rc;
}

/* A copy of s with every '$' doubled, so that kiln's ${ENV} expansion in
 * YAML values gives back exactly s. */
static inline char *dollars(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++) n += *p == '$' ? 2 : 1;
    char *o = malloc(n + 1), *w = o;
    for (const char *p = s; *p; p++) {
        *w++ = *p;
        if (*p == '$') *w++ = '$';
    }
    *w = 0;
    return o;
}

/* Sets labels from a NULL-ended list of name, value pairs. */
static inline void set_labels(kiln_labels *ls, const char *const *kv)
{
    for (size_t i = 0; kv && kv[i]; i += 2) kiln_labels_set(ls, kv[i], kv[i + 1]);
}

/* A one-profile batch with labels `kv` and payload `pl` (reference taken). */
static inline kiln_batch *one_profile(const char *const *kv, kiln_payload *pl)
{
    kiln_batch *b = kiln_batch_new(1);
    kiln_profile *p = kiln_batch_add(b);
    kiln_profile_set_tenant(p, "t");
    set_labels(&p->labels, kv);
    p->payload = pl;
    return b;
}

/* 1 if ls holds exactly the pairs of kv. On a difference, prints both. */
static inline int labels_are(const kiln_labels *ls, const char *const *kv)
{
    kiln_labels want = KILN_LABELS_INIT;
    set_labels(&want, kv);
    int eq = kiln_labels_equal(ls, &want);
    if (!eq) {
        char a[2048], b[2048];
        kiln_labels_format(ls, a, sizeof a);
        kiln_labels_format(&want, b, sizeof b);
        fprintf(stderr, "    labels %s\n    wanted %s\n", a, b);
    }
    kiln_labels_free(&want);
    return eq;
}

#endif
