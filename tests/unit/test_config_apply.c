/* tests/unit/test_config_apply.c — kiln_cfg_apply / kiln_cfg_free /
 * kiln_cfg_describe against a field table that uses every field type:
 * defaults, overrides, dotted names, unknown fields, type, range and enum
 * errors with exact positions, required fields, lists and maps, and freeing.
 */
#include <stddef.h>
#include <stdlib.h>

#include "kiln_config.h"
#include "testlib.h"

typedef struct tcfg {
    char *endpoint;
    int64_t max_body;
    int64_t timeout;
    int64_t workers;
    double ratio;
    int compress;
    int verbosity;
    kiln_strlist tags;
    kiln_strmap headers;
    const kiln_node *queue;
    char *grpc_endpoint;
    int64_t grpc_max_msg;
    char *http_endpoint;
    char *password;
    kiln_strlist brokers;
    kiln_strmap labels;
} tcfg;

static const kiln_cfg_field fields[] = {
    {"endpoint", KILN_CFG_STRING, ":4040", offsetof(tcfg, endpoint), "address to listen on", 0, 0, 0, NULL},
    {"max_body", KILN_CFG_BYTES, "16MiB", offsetof(tcfg, max_body), "largest body", 0, 1024, 1073741824, NULL},
    {"timeout", KILN_CFG_DURATION, "30s", offsetof(tcfg, timeout), "request timeout", 0, 1e6, 3.6e12, NULL},
    {"workers", KILN_CFG_INT, "4", offsetof(tcfg, workers), "threads", 0, 1, 0, NULL},
    {"ratio", KILN_CFG_DOUBLE, "0.5", offsetof(tcfg, ratio), "share kept", 0, 0, 1, NULL},
    {"compress", KILN_CFG_BOOL, "true", offsetof(tcfg, compress), "gzip output", 0, 0, 0, NULL},
    {"verbosity", KILN_CFG_ENUM, "normal", offsetof(tcfg, verbosity), "detail", 0, 0, 0, "basic|normal|detailed"},
    {"tags", KILN_CFG_STRLIST, "[a, b]", offsetof(tcfg, tags), "tags", 0, 0, 0, NULL},
    {"headers", KILN_CFG_STRMAP, "{X-A: \"1\"}", offsetof(tcfg, headers), "extra headers", 0, 0, 0, NULL},
    {"sending_queue", KILN_CFG_NODE, NULL, offsetof(tcfg, queue), "queue settings", 0, 0, 0, NULL},
    {"protocols.grpc.endpoint", KILN_CFG_STRING, ":4317", offsetof(tcfg, grpc_endpoint), "gRPC address", 0, 0, 0, NULL},
    {"protocols.grpc.max_recv_msg_size", KILN_CFG_BYTES, "4MiB", offsetof(tcfg, grpc_max_msg), "gRPC limit", 0, 0, 0, NULL},
    {"protocols.http.endpoint", KILN_CFG_STRING, NULL, offsetof(tcfg, http_endpoint), "HTTP address", 0, 0, 0, NULL},
    {"auth.password", KILN_CFG_STRING, "hunter2", offsetof(tcfg, password), "password", KILN_CFG_SECRET, 0, 0, NULL},
    {"brokers", KILN_CFG_STRLIST, NULL, offsetof(tcfg, brokers), "Kafka brokers", KILN_CFG_REQUIRED, 0, 0, NULL},
    {"labels", KILN_CFG_STRMAP, NULL, offsetof(tcfg, labels), "static labels", 0, 0, 0, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL},
};

static kiln_node *load(const char *yaml)
{
    kiln_node *root = NULL;
    kiln_err e;
    int rc = kiln_yaml_load_string("c.yaml", yaml, strlen(yaml), &root, &e);
    if (rc) fprintf(stderr, "  load: %s\n", e.msg);
    CHECK_EQ_INT(rc, KILN_OK);
    return root;
}

/* The component map under exporters.x in `yaml`. */
static const kiln_node *comp(const kiln_node *root)
{
    return kiln_node_get(kiln_node_get(root, "exporters"), "x");
}

static void t_defaults(void)
{
    kiln_node *r = load("exporters:\n  x:\n    brokers: k1:9092\n");
    tcfg c;
    memset(&c, 0, sizeof c);
    kiln_err e;
    CHECK_EQ_INT(kiln_cfg_apply(fields, comp(r), &c, &e), KILN_OK);
    CHECK_EQ_STR(c.endpoint, ":4040");
    CHECK_EQ_INT(c.max_body, 16 << 20);
    CHECK_EQ_INT(c.timeout, 30000000000LL);
    CHECK_EQ_INT(c.workers, 4);
    CHECK(c.ratio == 0.5);
    CHECK_EQ_INT(c.compress, 1);
    CHECK_EQ_INT(c.verbosity, 1);
    CHECK_EQ_INT(c.tags.n, 2);
    if (c.tags.n == 2) {
        CHECK_EQ_STR(c.tags.v[0], "a");
        CHECK_EQ_STR(c.tags.v[1], "b");
    }
    CHECK_EQ_INT(c.headers.n, 1);
    if (c.headers.n == 1) {
        CHECK_EQ_STR(c.headers.keys[0], "X-A");
        CHECK_EQ_STR(c.headers.values[0], "1");
    }
    CHECK(c.queue == NULL);
    CHECK_EQ_STR(c.grpc_endpoint, ":4317");
    CHECK_EQ_INT(c.grpc_max_msg, 4 << 20);
    CHECK(c.http_endpoint == NULL);
    CHECK_EQ_STR(c.password, "hunter2");
    CHECK_EQ_INT(c.brokers.n, 1); /* a single scalar is a one-item list */
    if (c.brokers.n == 1) CHECK_EQ_STR(c.brokers.v[0], "k1:9092");
    CHECK_EQ_INT(c.labels.n, 0);
    CHECK(c.labels.keys == NULL);
    kiln_cfg_free(fields, &c);
    CHECK(c.endpoint == NULL && c.tags.v == NULL && c.tags.n == 0 && c.headers.keys == NULL);
    kiln_cfg_free(fields, &c); /* twice is harmless */
    kiln_yaml_free(r);
}

static void t_overrides(void)
{
    setenv("KILN_T_BROKER", "kafka-1:9092", 1);
    kiln_node *r = load("exporters:\n"
                        "  x:\n"
                        "    endpoint: 0.0.0.0:9999\n"
                        "    max_body: 1GiB\n"
                        "    timeout: 1m30s\n"
                        "    workers: 12\n"
                        "    ratio: 1\n"
                        "    compress: off\n"
                        "    verbosity: Detailed\n"
                        "    tags: []\n"
                        "    headers: {Authorization: \"Bearer t\", X-Empty: }\n"
                        "    sending_queue: {enabled: true, queue_size: 5}\n"
                        "    protocols:\n"
                        "      grpc:\n"
                        "        endpoint: localhost:4317\n"
                        "      http:\n"
                        "        endpoint: localhost:4318\n"
                        "    auth:\n"
                        "      password: \"${env:KILN_T_BROKER}\"\n"
                        "    brokers:\n"
                        "      - ${env:KILN_T_BROKER}\n"
                        "      - kafka-2:9092\n"
                        "    labels:\n"
                        "      env: prod\n"
                        "      region: eu\n"
                        "    timeout_is_not: here\n");
    tcfg c;
    memset(&c, 0, sizeof c);
    kiln_err e;
    /* the last key is unknown: everything allocated so far is released */
    CHECK_EQ_INT(kiln_cfg_apply(fields, comp(r), &c, &e), KILN_EINVAL);
    CHECK_EQ_STR(e.msg, "c.yaml:26:5: exporters.x.timeout_is_not: unknown field; valid fields: endpoint, "
                        "max_body, timeout, workers, ratio, compress, verbosity, tags, headers, "
                        "sending_queue, protocols, auth, brokers, labels");
    CHECK(c.endpoint == NULL && c.brokers.v == NULL);
    kiln_yaml_free(r);

    r = load("exporters:\n"
             "  x:\n"
             "    endpoint: 0.0.0.0:9999\n"
             "    max_body: 1GiB\n"
             "    timeout: 1m30s\n"
             "    workers: 12\n"
             "    ratio: 1\n"
             "    compress: off\n"
             "    verbosity: Detailed\n"
             "    tags: []\n"
             "    headers: {Authorization: \"Bearer t\", X-Empty: }\n"
             "    sending_queue: {enabled: true, queue_size: 5}\n"
             "    protocols:\n"
             "      grpc:\n"
             "        endpoint: localhost:4317\n"
             "      http:\n"
             "        endpoint: localhost:4318\n"
             "    auth:\n"
             "      password: \"${env:KILN_T_BROKER}\"\n"
             "    brokers:\n"
             "      - ${env:KILN_T_BROKER}\n"
             "      - kafka-2:9092\n"
             "    labels:\n"
             "      env: prod\n"
             "      region: eu\n");
    memset(&c, 0, sizeof c);
    int rc = kiln_cfg_apply(fields, comp(r), &c, &e);
    if (rc) fprintf(stderr, "  %s\n", e.msg);
    CHECK_EQ_INT(rc, KILN_OK);
    CHECK_EQ_STR(c.endpoint, "0.0.0.0:9999");
    CHECK_EQ_INT(c.max_body, 1073741824);
    CHECK_EQ_INT(c.timeout, 90000000000LL);
    CHECK_EQ_INT(c.workers, 12);
    CHECK(c.ratio == 1.0);
    CHECK_EQ_INT(c.compress, 0);
    CHECK_EQ_INT(c.verbosity, 2);
    CHECK_EQ_INT(c.tags.n, 0); /* an explicit empty list replaces the default */
    CHECK(c.tags.v == NULL);
    CHECK_EQ_INT(c.headers.n, 2);
    if (c.headers.n == 2) {
        CHECK_EQ_STR(c.headers.keys[0], "Authorization");
        CHECK_EQ_STR(c.headers.values[0], "Bearer t");
        CHECK_EQ_STR(c.headers.keys[1], "X-Empty");
        CHECK_EQ_STR(c.headers.values[1], "");
    }
    CHECK(c.queue != NULL);
    if (c.queue) {
        CHECK_EQ_INT(c.queue->kind, KILN_NODE_MAP);
        CHECK_EQ_STR(c.queue->path, "exporters.x.sending_queue");
        CHECK_EQ_STR(kiln_node_get(c.queue, "queue_size")->scalar, "5");
    }
    CHECK_EQ_STR(c.grpc_endpoint, "localhost:4317");
    CHECK_EQ_INT(c.grpc_max_msg, 4 << 20);
    CHECK_EQ_STR(c.http_endpoint, "localhost:4318");
    CHECK_EQ_STR(c.password, "kafka-1:9092");
    CHECK_EQ_INT(c.brokers.n, 2);
    if (c.brokers.n == 2) {
        CHECK_EQ_STR(c.brokers.v[0], "kafka-1:9092");
        CHECK_EQ_STR(c.brokers.v[1], "kafka-2:9092");
    }
    CHECK_EQ_INT(c.labels.n, 2);
    if (c.labels.n == 2) CHECK_EQ_STR(c.labels.values[1], "eu");
    kiln_cfg_free(fields, &c);
    kiln_yaml_free(r);
}

/* Applies `body` (the lines under `exporters: x:`) and checks the error text. */
static void expect_err(const char *body, const char *msg)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "exporters:\n  x:\n%s", body);
    kiln_node *r = load(yaml);
    if (!r) return;
    tcfg c;
    memset(&c, 0, sizeof c);
    kiln_err e;
    kiln_err_clear(&e);
    int rc = kiln_cfg_apply(fields, comp(r), &c, &e);
    CHECK_EQ_INT(rc, KILN_EINVAL);
    CHECK_EQ_STR(e.msg, msg);
    /* nothing stays allocated after a failure */
    CHECK(c.endpoint == NULL && c.grpc_endpoint == NULL && c.password == NULL);
    CHECK(c.tags.v == NULL && c.headers.keys == NULL && c.brokers.v == NULL && c.labels.keys == NULL);
    kiln_yaml_free(r);
}

static void t_errors(void)
{
    /* unknown fields, at the key, with the fields valid at that level */
    expect_err("    brokers: [b]\n    verbosty: basic\n",
               "c.yaml:4:5: exporters.x.verbosty: unknown field; valid fields: endpoint, max_body, "
               "timeout, workers, ratio, compress, verbosity, tags, headers, sending_queue, protocols, "
               "auth, brokers, labels");
    expect_err("    brokers: [b]\n    protocols:\n      grpc:\n        endpoint: x\n      thrift: {}\n",
               "c.yaml:7:7: exporters.x.protocols.thrift: unknown field; valid fields: grpc, http");
    expect_err("    brokers: [b]\n    protocols:\n      grpc:\n        endpont: x\n",
               "c.yaml:6:9: exporters.x.protocols.grpc.endpont: unknown field; valid fields: "
               "endpoint, max_recv_msg_size");
    expect_err("    brokers: [b]\n    protocols: [grpc]\n",
               "c.yaml:4:16: exporters.x.protocols: expected a mapping with fields grpc, http, got a list");
    /* types */
    expect_err("    brokers: [b]\n    timeout: soon\n",
               "c.yaml:4:14: exporters.x.timeout: expected a duration like 24h, got \"soon\"");
    expect_err("    brokers: [b]\n    max_body: lots\n",
               "c.yaml:4:15: exporters.x.max_body: expected a size like 512KiB or 4MB, got \"lots\"");
    expect_err("    brokers: [b]\n    workers: many\n",
               "c.yaml:4:14: exporters.x.workers: expected an integer, got \"many\"");
    expect_err("    brokers: [b]\n    ratio: half\n",
               "c.yaml:4:12: exporters.x.ratio: expected a number, got \"half\"");
    expect_err("    brokers: [b]\n    compress: maybe\n",
               "c.yaml:4:15: exporters.x.compress: expected true or false, got \"maybe\"");
    expect_err("    brokers: [b]\n    endpoint: {host: x}\n",
               "c.yaml:4:15: exporters.x.endpoint: expected a string, got a mapping");
    expect_err("    brokers: [b]\n    timeout: [1s]\n",
               "c.yaml:4:14: exporters.x.timeout: expected a duration, got a list");
    expect_err("    brokers: {a: b}\n",
               "c.yaml:3:14: exporters.x.brokers: expected a list of strings, got a mapping");
    expect_err("    brokers: [a, [b]]\n",
               "c.yaml:3:18: exporters.x.brokers[1]: expected a string, got a list");
    expect_err("    brokers: [b]\n    labels: [a]\n",
               "c.yaml:4:13: exporters.x.labels: expected a mapping of strings, got a list");
    expect_err("    brokers: [b]\n    labels: {a: {b: c}}\n",
               "c.yaml:4:17: exporters.x.labels.a: expected a string, got a mapping");
    /* ranges */
    expect_err("    brokers: [b]\n    max_body: 2GiB\n",
               "c.yaml:4:15: exporters.x.max_body: must be between 1KiB and 1GiB, got 2GiB");
    expect_err("    brokers: [b]\n    timeout: 500us\n",
               "c.yaml:4:14: exporters.x.timeout: must be between 1ms and 1h, got 500us");
    expect_err("    brokers: [b]\n    workers: 0\n",
               "c.yaml:4:14: exporters.x.workers: must be at least 1, got 0");
    expect_err("    brokers: [b]\n    ratio: 1.5\n",
               "c.yaml:4:12: exporters.x.ratio: must be between 0 and 1, got 1.5");
    /* enums */
    expect_err("    brokers: [b]\n    verbosity: loud\n",
               "c.yaml:4:16: exporters.x.verbosity: expected one of: basic, normal, detailed; got \"loud\"");
    /* required */
    expect_err("    endpoint: x\n", "c.yaml:3:5: exporters.x: missing required field \"brokers\"");
    expect_err("    brokers: ~\n", "c.yaml:3:5: exporters.x: missing required field \"brokers\"");
    /* the component's own value */
    expect_err("    - a\n", "c.yaml:3:5: exporters.x: expected a mapping of fields, got a list");
}

static void t_null_and_missing_map(void)
{
    /* `x:` with no body: all defaults, required fields are reported at the key */
    kiln_node *r = load("exporters:\n  x:\n");
    tcfg c;
    memset(&c, 0, sizeof c);
    kiln_err e;
    CHECK_EQ_INT(kiln_cfg_apply(fields, comp(r), &c, &e), KILN_EINVAL);
    CHECK_EQ_STR(e.msg, "c.yaml:2:3: exporters.x: missing required field \"brokers\"");
    /* no node at all: no position */
    CHECK_EQ_INT(kiln_cfg_apply(fields, NULL, &c, &e), KILN_EINVAL);
    CHECK_EQ_STR(e.msg, "missing required field \"brokers\"");
    kiln_yaml_free(r);

    /* a table without required fields takes NULL and null maps */
    static const kiln_cfg_field opt[] = {
        {"a.b", KILN_CFG_INT, "7", 0, "x", 0, 0, 0, NULL},
        {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL},
    };
    int64_t v = 0;
    CHECK_EQ_INT(kiln_cfg_apply(opt, NULL, &v, &e), KILN_OK);
    CHECK_EQ_INT(v, 7);
    r = load("x:\n  a:\n");
    v = 0;
    CHECK_EQ_INT(kiln_cfg_apply(opt, kiln_node_get(r, "x"), &v, &e), KILN_OK); /* `a:` null: default */
    CHECK_EQ_INT(v, 7);
    kiln_yaml_free(r);
    r = load("x:\n  a: {b: 9}\n");
    CHECK_EQ_INT(kiln_cfg_apply(opt, kiln_node_get(r, "x"), &v, &e), KILN_OK);
    CHECK_EQ_INT(v, 9);
    kiln_yaml_free(r);

    /* a component without fields rejects any key */
    r = load("x:\n  a: 1\n");
    CHECK_EQ_INT(kiln_cfg_apply(NULL, kiln_node_get(r, "x"), &v, &e), KILN_EINVAL);
    CHECK_EQ_STR(e.msg, "c.yaml:2:3: x.a: unknown field; this takes no fields");
    kiln_yaml_free(r);
}

static void t_shallow_copy_map(void)
{
    /* the core hands apply a caller-made copy of a component map (it strips
     * keys it handles itself); a missing required field uses its position */
    kiln_node *r = load("exporters:\n  x:\n    endpoint: e\n    sending_queue: {}\n");
    const kiln_node *x = comp(r);
    kiln_node *copy = calloc(1, sizeof *copy);
    *copy = *x;
    copy->n = 1;
    tcfg c;
    memset(&c, 0, sizeof c);
    kiln_err e;
    CHECK_EQ_INT(kiln_cfg_apply(fields, copy, &c, &e), KILN_EINVAL);
    CHECK_EQ_STR(e.msg, "c.yaml:3:5: exporters.x: missing required field \"brokers\"");
    free(copy);
    kiln_yaml_free(r);
}

static void t_bad_tables(void)
{
    kiln_err e;
    int64_t v;
    static const kiln_cfg_field bad_default[] = {
        {"t", KILN_CFG_DURATION, "forever", 0, "x", 0, 0, 0, NULL},
        {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL},
    };
    CHECK_EQ_INT(kiln_cfg_apply(bad_default, NULL, &v, &e), KILN_EINVAL);
    CHECK_EQ_STR(e.msg, "default of field t: expected a duration like 24h, got \"forever\" (a bug in "
                        "the component's field table)");
    static const kiln_cfg_field bad_type[] = {
        {"t", (kiln_cfg_type)99, NULL, 0, "x", 0, 0, 0, NULL},
        {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL},
    };
    CHECK_EQ_INT(kiln_cfg_apply(bad_type, NULL, &v, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "unknown type 99");
    kiln_strlist l = {0, NULL};
    static const kiln_cfg_field bad_list[] = {
        {"l", KILN_CFG_STRLIST, "[a, [b]]", 0, "x", 0, 0, 0, NULL},
        {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL},
    };
    CHECK_EQ_INT(kiln_cfg_apply(bad_list, NULL, &l, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "default of field l: <default>:1:5: [1]: expected a string, got a list");
    CHECK(l.v == NULL);
}

static void t_describe(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    kiln_cfg_describe(fields, f);
    fclose(f);
    CHECK(buf != NULL);
    if (!buf) return;
    /* one line per field */
    size_t lines = 0;
    for (char *p = buf; *p; p++) lines += *p == '\n';
    CHECK_EQ_INT(lines, sizeof fields / sizeof fields[0] - 1);
    CHECK_CONTAINS(buf, "  endpoint                         string   :4040          address to listen on\n");
    CHECK_CONTAINS(buf, "  timeout                          duration 30s            request timeout [range: 1ms..1h]\n");
    CHECK_CONTAINS(buf, "  workers                          int      4              threads [at least 1]\n");
    CHECK_CONTAINS(buf, "  verbosity                        enum     normal         detail [one of: basic, normal, detailed]\n");
    CHECK_CONTAINS(buf, "  auth.password                    string   (secret)       password [secret]\n");
    CHECK_CONTAINS(buf, "  brokers                          list     (required)     Kafka brokers\n");
    CHECK_CONTAINS(buf, "  protocols.http.endpoint          string   -              HTTP address\n");
    CHECK(strstr(buf, "hunter2") == NULL);
    free(buf);
    CHECK_EQ_STR(kiln_cfg_type_name(KILN_CFG_DURATION), "duration");
    CHECK_EQ_STR(kiln_cfg_type_name(KILN_CFG_STRLIST), "list");
    CHECK_EQ_STR(kiln_cfg_type_name((kiln_cfg_type)42), "unknown");
}

int main(void)
{
    RUN(t_defaults);
    RUN(t_overrides);
    RUN(t_errors);
    RUN(t_null_and_missing_map);
    RUN(t_shallow_copy_map);
    RUN(t_bad_tables);
    RUN(t_describe);
    return test_summary();
}
