/* tests/unit/test_config_service.c — the whole-file model (kiln_config_load*):
 * components, pipelines, service settings and their defaults, warnings for
 * unused components, and the exact error text (file:line:col: path: ...)
 * for every structural mistake.
 */
#include <stdlib.h>
#include <unistd.h>

#include <kiln/host.h>
#include <kiln/plugin.h>

#include "kiln_config.h"
#include "testlib.h"

static kiln_config *load_ok(const char *yaml)
{
    kiln_config *c = NULL;
    kiln_err e;
    kiln_err_clear(&e);
    int rc = kiln_config_load_string("kiln.yaml", yaml, strlen(yaml), &c, &e);
    if (rc) fprintf(stderr, "  unexpected error: %s\n", e.msg);
    CHECK_EQ_INT(rc, KILN_OK);
    return c;
}

static void expect_err(const char *yaml, const char *msg)
{
    kiln_config *c = (kiln_config *)1;
    kiln_err e;
    kiln_err_clear(&e);
    int rc = kiln_config_load_string("kiln.yaml", yaml, strlen(yaml), &c, &e);
    CHECK_EQ_INT(rc, KILN_EINVAL);
    CHECK(c == NULL);
    CHECK_EQ_STR(e.msg, msg);
}

static const char *full =
    "receivers:\n"                                 /* 1 */
    "  pprof:\n"                                   /* 2 */
    "  pprof/tenant-b:\n"                          /* 3 */
    "    endpoint: :4041\n"                        /* 4 */
    "  otlp/unused:\n"                             /* 5 */
    "processors:\n"                                /* 6 */
    "  relabel/drop_debug:\n"                      /* 7 */
    "    rules: []\n"                              /* 8 */
    "  sampling:\n"                                /* 9 */
    "exporters:\n"                                 /* 10 */
    "  debug:\n"                                   /* 11 */
    "    verbosity: basic\n"                       /* 12 */
    "  blocks/main:\n"                             /* 13 */
    "    retention: 30d\n"                         /* 14 */
    "  kafka/spare: {}\n"                          /* 15 */
    "extensions:\n"                                /* 16 */
    "  health_check:\n"                            /* 17 */
    "  pprof_ext/off:\n"                           /* 18 */
    "service:\n"                                   /* 19 */
    "  extensions: [health_check]\n"               /* 20 */
    "  memory_limit: 1GiB\n"                       /* 21 */
    "  shutdown_timeout: 1m\n"                     /* 22 */
    "  workers: 3\n"                               /* 23 */
    "  telemetry:\n"                               /* 24 */
    "    logs:\n"                                  /* 25 */
    "      level: WARN\n"                          /* 26 */
    "    metrics:\n"                               /* 27 */
    "      address: 127.0.0.1:9999\n"              /* 28 */
    "  pipelines:\n"                               /* 29 */
    "    profiles:\n"                              /* 30 */
    "      receivers: [pprof, pprof/tenant-b]\n"   /* 31 */
    "      processors: [relabel/drop_debug, sampling]\n" /* 32 */
    "      exporters: [debug, blocks/main]\n"      /* 33 */
    "    profiles/gateway:\n"                      /* 34 */
    "      receivers: [pprof]\n"                   /* 35 */
    "      exporters: [blocks/main]\n";            /* 36 */

static void t_full(void)
{
    kiln_config *c = load_ok(full);
    if (!c) return;
    CHECK_EQ_STR(c->path, "kiln.yaml");
    CHECK(c->root != NULL);
    CHECK_EQ_INT(c->n_components, 10);
    static const struct {
        int kind;
        const char *id, *type, *name;
        int has_node, used;
    } want[] = {
        {KILN_KIND_RECEIVER, "pprof", "pprof", "", 0, 1},
        {KILN_KIND_RECEIVER, "pprof/tenant-b", "pprof", "tenant-b", 1, 1},
        {KILN_KIND_RECEIVER, "otlp/unused", "otlp", "unused", 0, 0},
        {KILN_KIND_PROCESSOR, "relabel/drop_debug", "relabel", "drop_debug", 1, 1},
        {KILN_KIND_PROCESSOR, "sampling", "sampling", "", 0, 1},
        {KILN_KIND_EXPORTER, "debug", "debug", "", 1, 1},
        {KILN_KIND_EXPORTER, "blocks/main", "blocks", "main", 1, 1},
        {KILN_KIND_EXPORTER, "kafka/spare", "kafka", "spare", 1, 0},
        {KILN_KIND_EXTENSION, "health_check", "health_check", "", 0, 1},
        {KILN_KIND_EXTENSION, "pprof_ext/off", "pprof_ext", "off", 0, 0},
    };
    for (size_t i = 0; i < c->n_components && i < 10; i++) {
        const kiln_config_component *k = &c->components[i];
        CHECK_EQ_INT(k->kind, want[i].kind);
        CHECK_EQ_STR(k->id, want[i].id);
        CHECK_EQ_STR(k->type, want[i].type);
        CHECK_EQ_STR(k->name, want[i].name);
        CHECK_EQ_INT(k->node != NULL, want[i].has_node);
        CHECK(k->decl != NULL);
        CHECK_EQ_INT(k->used, want[i].used);
        CHECK(kiln_config_find(c, want[i].kind, want[i].id) == k);
    }
    const kiln_config_component *b = kiln_config_find(c, KILN_KIND_EXPORTER, "blocks/main");
    CHECK(b && b->node && b->node->kind == KILN_NODE_MAP);
    if (b) {
        CHECK_EQ_STR(kiln_node_get(b->node, "retention")->scalar, "30d");
        CHECK_EQ_STR(b->decl->path, "exporters.blocks/main");
    }
    const kiln_config_component *p = kiln_config_find(c, KILN_KIND_RECEIVER, "pprof");
    CHECK(p && p->node == NULL && p->decl->kind == KILN_NODE_NULL && p->decl->line == 2);
    CHECK(kiln_config_find(c, KILN_KIND_RECEIVER, "debug") == NULL);
    CHECK(kiln_config_find(c, KILN_KIND_EXPORTER, "nope") == NULL);

    CHECK_EQ_INT(c->n_pipelines, 2);
    if (c->n_pipelines == 2) {
        const kiln_config_pipeline *p0 = &c->pipelines[0], *p1 = &c->pipelines[1];
        CHECK_EQ_STR(p0->id, "profiles");
        CHECK_EQ_INT(p0->n_receivers, 2);
        CHECK_EQ_STR(p0->receivers[1], "pprof/tenant-b");
        CHECK_EQ_INT(p0->n_processors, 2);
        CHECK_EQ_STR(p0->processors[0], "relabel/drop_debug");
        CHECK_EQ_STR(p0->processors[1], "sampling");
        CHECK_EQ_INT(p0->n_exporters, 2);
        CHECK_EQ_STR(p0->exporters[0], "debug");
        CHECK_EQ_STR(p0->exporters[1], "blocks/main");
        CHECK_EQ_STR(p0->node->path, "service.pipelines.profiles");
        CHECK_EQ_STR(p1->id, "profiles/gateway");
        CHECK_EQ_INT(p1->n_receivers, 1);
        CHECK_EQ_INT(p1->n_processors, 0);
        CHECK_EQ_INT(p1->n_exporters, 1);
    }
    CHECK_EQ_INT(c->n_extensions, 1);
    if (c->n_extensions) CHECK_EQ_STR(c->extensions[0], "health_check");
    CHECK_EQ_INT(c->log_level, KILN_LOG_WARN);
    CHECK_EQ_STR(c->metrics_address, "127.0.0.1:9999");
    CHECK_EQ_INT(c->memory_limit, 1LL << 30);
    CHECK_EQ_INT(c->shutdown_timeout, 60000000000LL);
    CHECK_EQ_INT(c->workers, 3);

    CHECK_EQ_INT(c->n_warnings, 3);
    if (c->n_warnings == 3) {
        CHECK_EQ_STR(c->warnings[0], "kiln.yaml:5:3: receivers.otlp/unused: receiver \"otlp/unused\" is "
                                     "defined but not used by any pipeline");
        CHECK_EQ_STR(c->warnings[1], "kiln.yaml:15:3: exporters.kafka/spare: exporter \"kafka/spare\" is "
                                     "defined but not used by any pipeline");
        CHECK_EQ_STR(c->warnings[2], "kiln.yaml:18:3: extensions.pprof_ext/off: extension "
                                     "\"pprof_ext/off\" is defined but not listed in service.extensions");
    }
    kiln_config_free(c);
    kiln_config_free(NULL);
}

static void t_defaults_and_env(void)
{
    setenv("KILN_T_LEVEL", "debug", 1);
    unsetenv("KILN_T_UNSET_ADDR");
    kiln_config *c = load_ok("receivers: {pprof: }\n"
                             "exporters: {debug: }\n"
                             "service:\n"
                             "  telemetry: {logs: {level: \"${env:KILN_T_LEVEL}\"}}\n"
                             "  pipelines:\n"
                             "    profiles: {receivers: [pprof], exporters: [debug]}\n"
                             "  workers: ${env:KILN_T_UNSET_WORKERS:-0}\n");
    if (!c) return;
    CHECK_EQ_INT(c->log_level, KILN_LOG_DEBUG);
    CHECK_EQ_STR(c->metrics_address, ":8888");
    CHECK_EQ_INT(c->memory_limit, 512LL << 20);
    CHECK_EQ_INT(c->shutdown_timeout, 30000000000LL);
    CHECK_EQ_INT(c->workers, 0);
    CHECK_EQ_INT(c->n_warnings, 0);
    CHECK_EQ_INT(c->n_extensions, 0);
    kiln_config_free(c);

    c = load_ok("receivers: {pprof: }\n"
                "exporters: {debug: }\n"
                "service:\n"
                "  telemetry: {metrics: {address: \"${env:KILN_T_UNSET_ADDR}\"}}\n"
                "  pipelines: {profiles: {receivers: [pprof], exporters: [debug]}}\n");
    if (!c) return;
    CHECK_EQ_INT(c->log_level, KILN_LOG_INFO);
    CHECK_EQ_STR(c->metrics_address, "");
    CHECK_EQ_INT(c->n_warnings, 1);
    if (c->n_warnings)
        CHECK_EQ_STR(c->warnings[0], "kiln.yaml:4:34: service.telemetry.metrics.address: environment "
                                     "variable KILN_T_UNSET_ADDR is not set; it expands to \"\"");
    kiln_config_free(c);
}

#define OK_SECTIONS "receivers: {pprof: }\nexporters: {debug: }\n"

static void t_errors_top(void)
{
    expect_err("", "kiln.yaml: the config is empty; it needs at least service.pipelines");
    expect_err("- a\n", "kiln.yaml:1:1: expected a mapping with receivers, processors, exporters, "
                        "extensions and service, got a list");
    expect_err(OK_SECTIONS "recievers: {}\n",
               "kiln.yaml:3:1: recievers: unknown top-level key; valid keys: receivers, processors, "
               "exporters, extensions, service");
    expect_err(OK_SECTIONS "connectors:\n  forward:\n",
               "kiln.yaml:3:1: connectors: unknown top-level key (kiln has no connectors); valid keys: "
               "receivers, processors, exporters, extensions, service");
    expect_err(OK_SECTIONS, "kiln.yaml: no service section; a config needs service.pipelines (see "
                            "config/README.md)");
    expect_err(OK_SECTIONS "service:\n", "kiln.yaml:3:1: service: a config needs service.pipelines");
    expect_err("receivers: [pprof]\n",
               "kiln.yaml:1:12: receivers: expected a mapping of receiver ids to their settings, got a list");
    expect_err("exporters:\n  debug: verbose\n",
               "kiln.yaml:2:10: exporters.debug: expected the exporter's settings as a mapping, got a scalar");
    expect_err("exporters:\n  debug:\n  debug:\n",
               "kiln.yaml:3:3: exporters.debug: duplicate key \"debug\" (first at line 2, column 3)");
}

static void t_errors_ids(void)
{
    static const struct {
        const char *id, *why;
    } bad[] = {
        {"Debug", "the type must match [a-z][a-z0-9_]*"},
        {"1debug", "the type must match [a-z][a-z0-9_]*"},
        {"de-bug", "the type must match [a-z][a-z0-9_]*"},
        {"/x", "the type must match [a-z][a-z0-9_]*"},
        {"debug/", "the name after \"/\" must not be empty"},
        {"debug/a/b", "the name after \"/\" may only hold letters, digits, '_', '.' and '-'"},
        {"'debug/a b'", "the name after \"/\" may only hold letters, digits, '_', '.' and '-'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[256], msg[512], unq[64];
        snprintf(unq, sizeof unq, "%s", bad[i].id[0] == '\'' ? bad[i].id + 1 : bad[i].id);
        if (bad[i].id[0] == '\'') unq[strlen(unq) - 1] = 0;
        snprintf(yaml, sizeof yaml, "exporters:\n  %s:\n", bad[i].id);
        snprintf(msg, sizeof msg, "kiln.yaml:2:3: exporters.%s: bad component id \"%s\": %s", unq, unq,
                 bad[i].why);
        expect_err(yaml, msg);
    }
    /* good ones */
    kiln_config *c = load_ok("receivers: {pprof: }\n"
                             "exporters:\n"
                             "  debug_2/A-b.c_9: {}\n"
                             "service: {pipelines: {profiles: {receivers: [pprof], exporters: [debug_2/A-b.c_9]}}}\n");
    if (c) CHECK_EQ_STR(c->components[1].name, "A-b.c_9");
    kiln_config_free(c);
}

static void t_errors_service(void)
{
    expect_err(OK_SECTIONS "service:\n  pipeline: {}\n",
               "kiln.yaml:4:3: service.pipeline: unknown field; valid fields: pipelines, telemetry, "
               "extensions, memory_limit, shutdown_timeout, workers");
    expect_err(OK_SECTIONS "service:\n  workers: 2\n",
               "kiln.yaml:4:3: service: missing required field \"pipelines\"");
    expect_err(OK_SECTIONS "service:\n  pipelines: {}\n",
               "kiln.yaml:4:14: service.pipelines: at least one pipeline is required");
    expect_err(OK_SECTIONS "service:\n  pipelines: [profiles]\n",
               "kiln.yaml:4:14: service.pipelines: expected a mapping of pipelines, got a list");
    expect_err(OK_SECTIONS "service:\n  telemetry:\n    logs:\n      level: loud\n"
                           "  pipelines: {profiles: {receivers: [pprof], exporters: [debug]}}\n",
               "kiln.yaml:6:14: service.telemetry.logs.level: expected one of: error, warn, info, debug; "
               "got \"loud\"");
    expect_err(OK_SECTIONS "service:\n  telemetry:\n    logs:\n      encoding: json\n"
                           "  pipelines: {profiles: {receivers: [pprof], exporters: [debug]}}\n",
               "kiln.yaml:6:7: service.telemetry.logs.encoding: unknown field; valid fields: level");
    expect_err(OK_SECTIONS "service:\n  telemetry:\n    traces: {}\n"
                           "  pipelines: {profiles: {receivers: [pprof], exporters: [debug]}}\n",
               "kiln.yaml:5:5: service.telemetry.traces: unknown field; valid fields: logs, metrics");
    expect_err(OK_SECTIONS "service:\n  memory_limit: lots\n"
                           "  pipelines: {profiles: {receivers: [pprof], exporters: [debug]}}\n",
               "kiln.yaml:4:17: service.memory_limit: expected a size like 512KiB or 4MB, got \"lots\"");
    expect_err(OK_SECTIONS "service:\n  shutdown_timeout: -5s\n"
                           "  pipelines: {profiles: {receivers: [pprof], exporters: [debug]}}\n",
               "kiln.yaml:4:21: service.shutdown_timeout: must be at least 0s, got -5s");
    expect_err(OK_SECTIONS "service:\n  workers: 10000\n"
                           "  pipelines: {profiles: {receivers: [pprof], exporters: [debug]}}\n",
               "kiln.yaml:4:12: service.workers: must be between 0 and 4096, got 10000");
    expect_err(OK_SECTIONS "extensions: {health_check: }\nservice:\n  extensions: [health_check, zpages]\n"
                           "  pipelines: {profiles: {receivers: [pprof], exporters: [debug]}}\n",
               "kiln.yaml:5:30: service.extensions[1]: extension \"zpages\" is not defined under extensions");
}

static void t_errors_pipelines(void)
{
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    traces:\n      receivers: [pprof]\n      exporters: [debug]\n",
               "kiln.yaml:5:5: service.pipelines.traces: bad pipeline id \"traces\": kiln handles profiles "
               "only: name pipelines profiles or profiles/<name>");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    metrics/x: {receivers: [pprof], exporters: [debug]}\n",
               "kiln.yaml:5:5: service.pipelines.metrics/x: bad pipeline id \"metrics/x\": kiln handles "
               "profiles only: name pipelines profiles or profiles/<name>");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profile: {receivers: [pprof], exporters: [debug]}\n",
               "kiln.yaml:5:5: service.pipelines.profile: bad pipeline id \"profile\": a pipeline id must "
               "be profiles or profiles/<name>");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles/: {receivers: [pprof], exporters: [debug]}\n",
               "kiln.yaml:5:5: service.pipelines.profiles/: bad pipeline id \"profiles/\": the name after "
               "\"profiles/\" must not be empty");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n      receivers: [pprof]\n",
               "kiln.yaml:6:7: service.pipelines.profiles: missing required field \"exporters\"");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n      receivers: [pprof]\n      exporters: []\n",
               "kiln.yaml:7:18: service.pipelines.profiles.exporters: a pipeline needs at least one exporter");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n      exporters: [debug]\n",
               "kiln.yaml:6:7: service.pipelines.profiles: missing required field \"receivers\"");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n",
               "kiln.yaml:5:5: service.pipelines.profiles: a pipeline needs receivers and exporters");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n      receivers: [pprof]\n"
                           "      exporters: [debug, debug/x]\n",
               "kiln.yaml:7:26: service.pipelines.profiles.exporters[1]: exporter \"debug/x\" is not "
               "defined under exporters");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n      receivers: [pprof]\n"
                           "      processors: [batch]\n      exporters: [debug]\n",
               "kiln.yaml:7:20: service.pipelines.profiles.processors[0]: processor \"batch\" is not "
               "defined under processors");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n      receivers: [debug]\n"
                           "      exporters: [debug]\n",
               "kiln.yaml:6:19: service.pipelines.profiles.receivers[0]: receiver \"debug\" is not "
               "defined under receivers");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n      receivers: [pprof]\n"
                           "      exporters:\n        - debug\n        - debug\n",
               "kiln.yaml:9:11: service.pipelines.profiles.exporters[1]: exporter \"debug\" is listed "
               "twice (also at line 8, column 11)");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n      receivers: pprof\n"
                           "      exporters: [debug]\n",
               "kiln.yaml:6:18: service.pipelines.profiles.receivers: expected a list of receiver ids, "
               "got a scalar");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n      receivers: [Pprof]\n"
                           "      exporters: [debug]\n",
               "kiln.yaml:6:19: service.pipelines.profiles.receivers[0]: bad component id \"Pprof\": the "
               "type must match [a-z][a-z0-9_]*");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n      receivers: [pprof]\n"
                           "      exporters: [debug]\n      exporter: [debug]\n",
               "kiln.yaml:8:7: service.pipelines.profiles.exporter: unknown field; valid fields: "
               "receivers, processors, exporters");
    expect_err(OK_SECTIONS "service:\n  pipelines:\n    profiles:\n      receivers: [pprof]\n"
                           "      exporters: [debug]\n    profiles:\n      receivers: [pprof]\n"
                           "      exporters: [debug]\n",
               "kiln.yaml:8:5: service.pipelines.profiles: duplicate key \"profiles\" (first at line 5, "
               "column 5)");
}

static void t_load_file(void)
{
    kiln_config *c = NULL;
    kiln_err e;
    CHECK_EQ_INT(kiln_config_load("/nonexistent/kiln.yaml", &c, &e), KILN_ENOTFOUND);
    CHECK(c == NULL);
    char path[] = "/tmp/kiln_test_service_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK_EQ_INT(write(fd, full, strlen(full)), (long long)strlen(full));
    close(fd);
    CHECK_EQ_INT(kiln_config_load(path, &c, &e), KILN_OK);
    if (c) {
        CHECK_EQ_STR(c->path, path);
        CHECK_EQ_INT(c->n_components, 10);
        CHECK_EQ_INT(c->n_warnings, 3);
        if (c->n_warnings) CHECK(strncmp(c->warnings[0], path, strlen(path)) == 0);
    }
    kiln_config_free(c);
    /* an error names the file */
    FILE *f = fopen(path, "w");
    fputs("receivers: {pprof: }\nexporters:\n  blocks/main:\nservice:\n  pipelines:\n    profiles:\n"
          "      receivers: [pprof]\n      exporters: [blocks/x]\n",
          f);
    fclose(f);
    CHECK_EQ_INT(kiln_config_load(path, &c, &e), KILN_EINVAL);
    char want[512];
    snprintf(want, sizeof want, "%s:8:19: service.pipelines.profiles.exporters[0]: exporter \"blocks/x\" is "
                                "not defined under exporters", path);
    CHECK_EQ_STR(e.msg, want);
    remove(path);
}

int main(void)
{
    RUN(t_full);
    RUN(t_defaults_and_env);
    RUN(t_errors_top);
    RUN(t_errors_ids);
    RUN(t_errors_service);
    RUN(t_errors_pipelines);
    RUN(t_load_file);
    return test_summary();
}
