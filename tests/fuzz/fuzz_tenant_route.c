/* tests/fuzz/fuzz_tenant_route.c — libFuzzer target for the tenant_route
 * processor: its config (routes, matchers, overrides) and consume.
 *
 * Input: an optional YAML config, then a NUL byte, then profile lines
 * "tenant\tname=value\tname=value...\n" (any bytes but NUL). Without a NUL
 * the whole input is profile lines under a fixed config that turns every
 * check on. Each line becomes one profile of one batch; its payload is the
 * line's own bytes (so size limits and the decode for max_stack_depth run
 * on junk). Config errors must carry a message; consume must never crash,
 * leak or hang, and a failure must say why. Seeds: tests/fuzz/seeds_tenant_route/.
 */
// fuzz-sources: processors/tenant_route/tenant_route.c processors/tenant_route/troute_config.c processors/tenant_route/troute_limits.c processors/tenant_route/troute_series.c processors/tenant_route/troute_tenant.c tests/mock_host.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_config.h"

#include "../../processors/tenant_route/tenant_route.h"
#include "../mock_host.h"

extern const kiln_plugin kiln_plugin_descriptor;

static const char fixed_cfg[] =
    "tenant_label: org\n"
    "remove_tenant_label: true\n"
    "routes:\n"
    "  - {tenants: [a, b], exporters: [x]}\n"
    "  - {match: {env: \"p(rod|re)+\", zone: \"[a-c]-[0-9]*\"}, exporters: [y, x]}\n"
    "  - {match: {k: v}, exporters: [z]}\n"
    "default_exporters: [z]\n"
    "limits:\n"
    "  max_label_names_per_series: 6\n"
    "  max_label_name_length: 12\n"
    "  max_label_value_length: 24\n"
    "  max_series_per_tenant: 8\n"
    "  max_profile_size: 64\n"
    "  overrides:\n"
    "    big: {max_profile_size: 0, max_stack_depth: 3, max_profile_uncompressed_size: 100}\n"
    "max_tracked_tenants: 3\n";

static const char *const exporters[] = {"x", "y", "z"};

static void add_line(kiln_batch *b, const uint8_t *p, size_t n)
{
    kiln_profile *pr = kiln_batch_add(b);
    if (!pr) return;
    const uint8_t *end = p + n, *f = p;
    const uint8_t *tab = memchr(f, '\t', (size_t)(end - f));
    const uint8_t *tend = tab ? tab : end;
    if (tend > f) {
        char t[256];
        size_t tl = (size_t)(tend - f) < sizeof t - 1 ? (size_t)(tend - f) : sizeof t - 1;
        memcpy(t, f, tl);
        t[tl] = 0;
        kiln_profile_set_tenant(pr, t);
    }
    f = tab ? tab + 1 : end;
    while (f < end) {
        tab = memchr(f, '\t', (size_t)(end - f));
        const uint8_t *fe = tab ? tab : end;
        const uint8_t *eq = memchr(f, '=', (size_t)(fe - f));
        if (eq)
            kiln_labels_setn(&pr->labels, (const char *)f, (size_t)(eq - f), (const char *)eq + 1,
                             (size_t)(fe - eq - 1));
        f = tab ? tab + 1 : end;
    }
    pr->payload = kiln_payload_from_bytes(KILN_FMT_PPROF, (uint8_t *)p, n, 1, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    const char *yaml = fixed_cfg;
    size_t ylen = sizeof fixed_cfg - 1;
    const uint8_t *rest = data;
    size_t rlen = size;
    if (nul) {
        yaml = (const char *)data;
        ylen = (size_t)(nul - data);
        rest = nul + 1;
        rlen = size - ylen - 1;
    }
    kiln_node *root = NULL;
    kiln_err err;
    kiln_err_clear(&err);
    void *cfg = calloc(1, kiln_plugin_descriptor.cfg_size);
    mock_host *m = mock_host_new("processor/tenant_route", "processor");
    if (!cfg || !m) goto out;
    mock_host_set_exporters(m, exporters, 3);
    if (kiln_yaml_load_string("fuzz.yaml", yaml, ylen, &root, &err) != KILN_OK) goto out;
    if (kiln_cfg_apply(kiln_plugin_descriptor.fields, root, cfg, &err) != KILN_OK) goto out_free;
    void *st = NULL;
    if (kiln_plugin_descriptor.validate(cfg, root, &err) != KILN_OK ||
        kiln_plugin_descriptor.create(mock_host_host(m), cfg, &st, &err) != KILN_OK) {
        if (!err.msg[0]) __builtin_trap(); /* a refusal says why */
        goto out_cfg;
    }
    kiln_batch *b = kiln_batch_new(4);
    size_t lines = 0;
    for (const uint8_t *p = rest, *end = rest + rlen; p < end && lines < 64; lines++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *le = nl ? nl : end;
        add_line(b, p, (size_t)(le - p));
        p = nl ? nl + 1 : end;
    }
    /* twice: the second pass sees the series and tenants the first left */
    for (int pass = 0; pass < 2 && b; pass++) {
        kiln_batch *c = kiln_batch_clone(b);
        if (!c) break;
        kiln_err_clear(&err);
        int rc = kiln_plugin_descriptor.consume(st, c, &err);
        if (rc != KILN_OK && !err.msg[0]) __builtin_trap();
        for (size_t i = 0; rc == KILN_OK && i < c->n; i++) {
            kiln_profile *p = &c->v[i];
            if (p->flags & KILN_PROFILE_DROPPED) continue;
            /* a live profile has a valid tenant and routes to known exporters */
            if (!p->tenant || kiln_troute_tenant_valid(p->tenant, NULL) != KILN_OK) __builtin_trap();
            if (p->route_mask & ~7ULL) __builtin_trap();
        }
        kiln_batch_unref(c);
    }
    kiln_batch_unref(b);
    kiln_plugin_descriptor.destroy(st);
out_cfg:
    kiln_cfg_free(kiln_plugin_descriptor.fields, cfg);
out_free:
    kiln_yaml_free(root);
    root = NULL;
out:
    kiln_yaml_free(root);
    mock_host_free(m);
    free(cfg);
    return 0;
}
