/* tests/fuzz/fuzz_config.c — libFuzzer target for the config layer.
 *
 * Feeds arbitrary bytes to kiln_config_load_string (libyaml, the tree
 * builder with anchors/aliases/merges, env expansion, the service model)
 * and, when a config loads, applies a field table using every field type
 * to each component (kiln_cfg_apply / kiln_cfg_free). Must never crash,
 * leak or hang. Seeds: tests/fuzz/seeds_config/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kiln_config.h"

typedef struct fcfg {
    char *s;
    int64_t i, d, b;
    double f;
    int flag, e;
    kiln_strlist l;
    kiln_strmap m;
    const kiln_node *node;
    char *nested;
} fcfg;

static const kiln_cfg_field fields[] = {
    {"endpoint", KILN_CFG_STRING, ":4040", offsetof(fcfg, s), "s", 0, 0, 0, NULL},
    {"count", KILN_CFG_INT, "1", offsetof(fcfg, i), "i", 0, 0, 100, NULL},
    {"timeout", KILN_CFG_DURATION, "5s", offsetof(fcfg, d), "d", 0, 1, 0, NULL},
    {"max_size", KILN_CFG_BYTES, "1MiB", offsetof(fcfg, b), "b", 0, 0, 0, NULL},
    {"ratio", KILN_CFG_DOUBLE, "0.5", offsetof(fcfg, f), "f", 0, 0, 1, NULL},
    {"enabled", KILN_CFG_BOOL, "true", offsetof(fcfg, flag), "flag", 0, 0, 0, NULL},
    {"verbosity", KILN_CFG_ENUM, "basic", offsetof(fcfg, e), "e", 0, 0, 0, "basic|normal|detailed"},
    {"tags", KILN_CFG_STRLIST, "[a, b]", offsetof(fcfg, l), "l", 0, 0, 0, NULL},
    {"headers", KILN_CFG_STRMAP, "{k: v}", offsetof(fcfg, m), "m", 0, 0, 0, NULL},
    {"sending_queue", KILN_CFG_NODE, NULL, offsetof(fcfg, node), "node", 0, 0, 0, NULL},
    {"protocols.http.endpoint", KILN_CFG_STRING, NULL, offsetof(fcfg, nested), "n", 0, 0, 0, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kiln_config *c = NULL;
    kiln_err err;
    kiln_err_clear(&err);
    if (kiln_config_load_string("fuzz.yaml", (const char *)data, size, &c, &err) != KILN_OK) {
        if (c) __builtin_trap(); /* failure must leave *out NULL */
        if (!err.msg[0]) __builtin_trap(); /* and say why */
        return 0;
    }
    for (size_t i = 0; i < c->n_components; i++) {
        fcfg cfg;
        memset(&cfg, 0, sizeof cfg);
        kiln_err e;
        if (kiln_cfg_apply(fields, c->components[i].decl, &cfg, &e) == KILN_OK)
            kiln_cfg_free(fields, &cfg);
        else if (cfg.s || cfg.l.v || cfg.m.keys || cfg.nested)
            __builtin_trap(); /* a failed apply leaves nothing allocated */
    }
    kiln_config_free(c);
    return 0;
}
