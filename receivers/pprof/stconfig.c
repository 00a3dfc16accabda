/* receivers/pprof/stconfig.c — the `sample_type_config` part of an ingest
 * form: JSON as pyroscope-go writes it,
 *   {"alloc_space":{"units":"bytes","aggregation":"average"},
 *    "contentions":{"display-name":"mutex_count","units":"lock_samples"}, ...}
 * read the way Go's encoding/json reads it into
 * map[string]*SampleTypeConfig{Units, DisplayName `display-name`,
 * Aggregation string; Cumulative, Sampled bool}:
 *   - the top level is an object or null (null: no config);
 *   - each value is an object or null; known fields are matched without
 *     regard to case and must have their type (string / bool) or be null;
 *     unknown fields may hold any JSON value and are skipped;
 *   - a repeated key replaces the earlier entry (and a repeated field the
 *     earlier field; a null field leaves it as it was);
 *   - strings are read as Go reads them (invalid UTF-8 becomes U+FFFD).
 * The syntax is libkiln's JSON reader (kiln/json.h); this file checks the
 * meaning. Only the display names are kept: that is all /ingest uses.
 *
 * Memory: kiln_pprofrx_stc owns one arena holding the parsed document, the
 * entry array and every string; kiln_pprofrx_stc_free releases it. */
#include <kiln/json.h>
#include "pprofrx.h"

#include <string.h>
#include <strings.h>

static int fail_at(kiln_err *err, const kiln_json *v, const char *what)
{
    return kiln_err_set(err, KILN_EINVAL, "sample_type_config: byte %zu: %s", v->at, what);
}

/* The display name of one entry (NULL: none), checking each known field's type. */
static int entry(const kiln_json *v, const char **display, kiln_err *err)
{
    *display = NULL;
    if (v->kind == KILN_JSON_NULL) return KILN_OK;
    if (v->kind != KILN_JSON_OBJ) return fail_at(err, v, "expected an object (or null) per sample type");
    for (size_t i = 0; i < v->n; i++) {
        const char *k = v->keys[i];
        const kiln_json *f = v->items[i];
        int is_str = !strcasecmp(k, "units") || !strcasecmp(k, "display-name") || !strcasecmp(k, "aggregation");
        int is_bool = !strcasecmp(k, "cumulative") || !strcasecmp(k, "sampled");
        if (f->kind == KILN_JSON_NULL) continue; /* Go: null leaves the field as it was */
        if (is_str && f->kind != KILN_JSON_STR) return fail_at(err, f, "expected a string");
        if (is_bool && f->kind != KILN_JSON_BOOL) return fail_at(err, f, "expected true or false");
        if (!strcasecmp(k, "display-name")) *display = f->s;
    }
    return KILN_OK;
}

int kiln_pprofrx_stc_parse(const uint8_t *json, size_t len, kiln_pprofrx_stc *out, kiln_err *err)
{
    memset(out, 0, sizeof *out);
    out->a = kiln_arena_new(len * 4 + 1024);
    if (!out->a) return kiln_err_set(err, KILN_ENOMEM, "sample_type_config: out of memory");
    kiln_json *doc;
    int rc = kiln_json_parse(out->a, (const char *)json, len, KILN_JSON_GO_STRINGS, &doc, err);
    if (rc != KILN_OK) {
        kiln_err_prefix(err, "sample_type_config");
        goto bad;
    }
    if (doc->kind == KILN_JSON_NULL) return KILN_OK; /* no config: Pyroscope's defaults */
    if (doc->kind != KILN_JSON_OBJ) {
        rc = fail_at(err, doc, "expected an object keyed by sample type (or null)");
        goto bad;
    }
    out->present = 1;
    out->v = doc->n ? kiln_arena_alloc(out->a, doc->n * sizeof *out->v) : NULL;
    if (doc->n && !out->v) {
        rc = kiln_err_set(err, KILN_ENOMEM, "sample_type_config: out of memory");
        goto bad;
    }
    for (size_t i = 0; i < doc->n; i++) {
        const char *d;
        if ((rc = entry(doc->items[i], &d, err)) != KILN_OK) goto bad;
        size_t j = 0;
        while (j < out->n && strcmp(out->v[j].key, doc->keys[i]) != 0) j++;
        if (j == out->n) out->n++; /* else: a repeated key replaces the entry */
        out->v[j].key = doc->keys[i];
        out->v[j].display = d;
    }
    return KILN_OK;
bad:
    kiln_pprofrx_stc_free(out);
    return rc;
}

void kiln_pprofrx_stc_free(kiln_pprofrx_stc *stc)
{
    kiln_arena_destroy(stc->a);
    memset(stc, 0, sizeof *stc);
}
