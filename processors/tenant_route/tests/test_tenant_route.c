/* Plugin test: `tenant_route` against the mock core — config validation
 * with positions, tenant choice and validation, routing masks (first
 * matching route wins, default route, unmatched drop), and that routing
 * never decodes a payload. Limits are in test_troute_limits.c. */
#include "troute_test.h"

/* ---- config ------------------------------------------------------------------------ */

static void t_bad_configs(void)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"tenant_from: [header, bogus]\n",
         "t.yaml:1:23: tenant_from[1]: unknown tenant source \"bogus\"; use header, label or default"},
        {"tenant_from: [header, header]\n", "t.yaml:1:23: tenant_from[1]: tenant source \"header\" listed twice"},
        {"tenant_from: [label]\n", "t.yaml:1:15: tenant_from[0]: tenant source \"label\" needs tenant_label"},
        {"tenant_from: []\n", "tenant_from: needs at least one"},
        {"default_tenant: a/b\n", "t.yaml:1:17: default_tenant: default_tenant: tenant ID 'a/b' contains unsupported character '/'"},
        {"default_tenant: '..'\n", "tenant ID is '.' or '..'"},
        {"default_tenant: ''\n", "tenant ID is empty"},
        {"remove_tenant_label: true\n", "t.yaml:1:22: remove_tenant_label: remove_tenant_label: needs tenant_label"},
        {"tenant_label: ''\n", "tenant_label: must not be empty"},
        {"routes: {a: 1}\n", "t.yaml:1:9: routes: expected a list of routes"},
        {"routes:\n  - tenants: [a]\n", "t.yaml:2:5: routes[0]: a route needs exporters"},
        {"routes:\n  - exporters: []\n", "t.yaml:2:16: routes[0].exporters: needs at least one exporter id"},
        {"routes:\n  - {exporters: [blocks], bogus: 1}\n",
         "t.yaml:2:34: routes[0].bogus: unknown field \"bogus\" in a route; valid fields: tenants, match, exporters"},
        {"routes:\n  - {tenants: [a], exporters: [blocks]}\n  - {match: {env: \"(prod\"}, exporters: [blocks]}\n",
         "t.yaml:3:19: routes[1].match.env: label \"env\": invalid regex \"(prod\" (POSIX extended)"},
        {"routes:\n  - {tenants: [ok, \"a b\"], exporters: [blocks]}\n",
         "t.yaml:2:20: routes[0].tenants[1]: tenant ID 'a b' contains unsupported character ' '"},
        {"routes:\n  - {tenants: [], exporters: [blocks]}\n", "an empty tenants list matches nothing"},
        {"routes:\n  - {match: [a], exporters: [blocks]}\n", "expected a mapping of label name to value or regex"},
        {"routes:\n  - {exporters: [{a: 1}]}\n", "expected an exporter id"},
        {"routes:\n  - {tenants: [a], exporters: [testsink/a, testsink/c]}\n",
         "t.yaml:2:44: routes[0].exporters[1]: exporter \"testsink/c\" is not in this pipeline (its exporters: [testsink/a, testsink/b, blocks])"},
        {"default_exporters: [nope]\n", "t.yaml:1:21: default_exporters[0]: exporter \"nope\" is not in this pipeline"},
        {"default_exporters: {a: b}\n", "expected a list of exporter ids"},
        {"limits:\n  overrides:\n    a: {max_foo: 1}\n", "t.yaml:3:18: limits.overrides.a.max_foo: unknown limit \"max_foo\""},
        {"limits:\n  overrides:\n    a: {max_profile_size: 4XB}\n", "t.yaml:3:27: limits.overrides.a.max_profile_size: expected a size"},
        {"limits:\n  overrides:\n    a: {max_series_per_tenant: -1}\n", "must be >= 0 (0 turns the limit off)"},
        {"limits:\n  overrides:\n    a: {max_series_per_tenant: [1]}\n", "expected an integer"},
        {"limits:\n  overrides:\n    \"bad tenant\": {}\n", "tenant ID 'bad tenant' contains unsupported character ' '"},
        {"limits:\n  overrides: [a]\n", "expected a mapping of tenant ID to limits"},
        {"limits:\n  max_label_names_per_series: -1\n", "t.yaml:2:31"},
        {"limits:\n  bogus: 1\n", "unknown field"},
        {"unmatched: sometimes\n", "t.yaml:1:12"},
        {"series_idle_timeout: 0s\n", "t.yaml:1:22"},
        {"max_tracked_tenants: 0\n", "t.yaml:1:22"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        inst in;
        kiln_err err;
        int rc = make(&in, cases[i].yaml, &err);
        CHECK(rc != KILN_OK);
        if (rc == KILN_OK) {
            fprintf(stderr, "  case %zu accepted: %s", i, cases[i].yaml);
            drop_inst(&in);
            continue;
        }
        if (!strstr(err.msg, cases[i].want))
            fprintf(stderr, "  case %zu: \"%s\"\n     lacks \"%s\"\n", i, err.msg, cases[i].want);
        CHECK(strstr(err.msg, cases[i].want) != NULL);
    }
    static const char *const good[] = {
        "{}\n",
        "tenant_from: header\n",
        "tenant_from: [label, default]\ntenant_label: org\nremove_tenant_label: true\n",
        "routes:\n  - tenants: a\n    exporters: testsink/a\ndefault_exporters: blocks\nunmatched: drop\n",
        "limits:\n  max_series_per_tenant: 10\n  overrides:\n    big: {max_series_per_tenant: 0, max_profile_size: 4MiB}\n    small:\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        inst in;
        kiln_err err;
        int rc = make(&in, good[i], &err);
        if (rc != KILN_OK) fprintf(stderr, "  good %zu refused: %s\n", i, err.msg);
        CHECK_EQ_INT(rc, KILN_OK);
        drop_inst(&in);
    }
}

static void t_validate_without_pipeline(void)
{
    /* `kiln validate` checks syntax without a pipeline; create resolves ids */
    const char *y = "routes:\n  - {tenants: [a], exporters: [elsewhere]}\n";
    kiln_node *root;
    kiln_err err;
    CHECK_EQ_INT(kiln_yaml_load_string("t.yaml", y, strlen(y), &root, &err), KILN_OK);
    void *cfg = calloc(1, PL.cfg_size);
    CHECK_EQ_INT(kiln_cfg_apply(PL.fields, root, cfg, &err), KILN_OK);
    CHECK_EQ_INT(PL.validate(cfg, root, &err), KILN_OK);
    mock_host *m = mock_host_new("processor/tenant_route", "processor"); /* no exporters */
    void *st = NULL;
    CHECK_EQ_INT(PL.create(mock_host_host(m), cfg, &st, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "t.yaml:2:32: routes[0].exporters[0]: exporter \"elsewhere\" is not in this pipeline");
    kiln_cfg_free(PL.fields, cfg);
    free(cfg);
    kiln_yaml_free(root);
    mock_host_free(m);
}

/* ---- tenants ------------------------------------------------------------------------- */

static void t_tenant_id_rules(void)
{
    char l150[151], l151[152];
    memset(l150, 'x', 150);
    l150[150] = 0;
    memset(l151, 'y', 151);
    l151[151] = 0;
    static const char *const ok[] = {"a", "anonymous", "Team-1_prod.eu", "!*'()", "a..b", "...", "-"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) CHECK_EQ_INT(kiln_troute_tenant_valid(ok[i], NULL), KILN_OK);
    CHECK_EQ_INT(kiln_troute_tenant_valid(l150, NULL), KILN_OK);
    static const struct {
        const char *id, *msg;
    } bad[] = {
        {"", "tenant ID is empty"},
        {".", "tenant ID is '.' or '..'"},
        {"..", "tenant ID is '.' or '..'"},
        {"a b", "tenant ID 'a b' contains unsupported character ' ' (byte 1)"},
        {"a/b", "unsupported character '/'"},
        {"a|b", "unsupported character '|'"},
        {"a:b", "unsupported character ':'"},
        {"\xc3\xbc", "tenant ID '?\?' contains unsupported character '\\xc3' (byte 0)"},
        {"a\nb", "tenant ID 'a?b' contains unsupported character '\\x0a'"},
        {"#", "unsupported character '#'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kiln_err err;
        kiln_err_clear(&err);
        CHECK_EQ_INT(kiln_troute_tenant_valid(bad[i].id, &err), KILN_EINVAL);
        CHECK_CONTAINS(err.msg, bad[i].msg);
    }
    kiln_err err;
    CHECK_EQ_INT(kiln_troute_tenant_valid(l151, &err), KILN_EINVAL);
    CHECK_EQ_STR(err.msg, "tenant ID is too long: max 150 characters (got 151)");
}

static void t_tenant_sources(void)
{
    char long_label[200];
    snprintf(long_label, sizeof long_label, "org=%0151d", 0);
    static const char *const dflt = "{}\n";
    static const char *const lab = "tenant_label: org\n";
    static const char *const lab_rm = "tenant_label: org\nremove_tenant_label: true\n";
    static const char *const lab_first = "tenant_from: [label, header]\ntenant_label: org\n";
    static const char *const hdr_only = "tenant_from: [header]\n";
    static const char *const fallback = "tenant_label: org\ndefault_tenant: fallback\n";
    const struct {
        const char *yaml, *tenant, *labels;
        int rc;
        const char *want_tenant, *want_labels_or_msg;
    } cases[] = {
        {dflt, "team-a", "service_name=x", KILN_OK, "team-a", "{service_name=\"x\"}"},
        {dflt, "anonymous", "service_name=x", KILN_OK, "anonymous", NULL},
        {dflt, NULL, "service_name=x", KILN_OK, "anonymous", NULL},
        {dflt, "anonymous", "org=t1", KILN_OK, "anonymous", NULL}, /* no tenant_label: label not read */
        {lab, "anonymous", "org=t1,service_name=x", KILN_OK, "t1", "{org=\"t1\", service_name=\"x\"}"},
        {lab, "team-a", "org=t1", KILN_OK, "team-a", NULL}, /* header first */
        {lab, "anonymous", "org=,service_name=x", KILN_OK, "anonymous", NULL}, /* empty label: next source */
        {lab_rm, "anonymous", "org=t1,service_name=x", KILN_OK, "t1", "{service_name=\"x\"}"},
        {lab_rm, "team-a", "org=t1,service_name=x", KILN_OK, "team-a", "{service_name=\"x\"}"},
        {lab_first, "team-a", "org=t1", KILN_OK, "t1", NULL},
        {lab_first, "team-a", "service_name=x", KILN_OK, "team-a", NULL},
        {fallback, "anonymous", "service_name=x", KILN_OK, "fallback", NULL},
        {hdr_only, "team-b", "service_name=x", KILN_OK, "team-b", NULL},
        {hdr_only, "anonymous", "service_name=x", KILN_EINVAL, NULL,
         "no tenant for profile series '{service_name=\"x\"}': no X-Scope-OrgID header"},
        {"tenant_from: [header, label]\ntenant_label: org\n", "anonymous", "service_name=x", KILN_EINVAL,
         NULL, "no X-Scope-OrgID header and no label \"org\""},
        {lab, "anonymous", "org=a|b", KILN_EINVAL, NULL,
         "tenant from label \"org\": tenant ID 'a|b' contains unsupported character '|'"},
        {lab, "anonymous", "org=..", KILN_EINVAL, NULL, "tenant from label \"org\": tenant ID is '.' or '..'"},
        {lab, "anonymous", long_label, KILN_EINVAL, NULL, "tenant ID is too long: max 150 characters (got 151)"},
        {dflt, "bad tenant", "service_name=x", KILN_EINVAL, NULL, "tenant ID 'bad tenant' contains"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        inst in;
        kiln_err err;
        CHECK_EQ_INT(make(&in, cases[i].yaml, &err), KILN_OK);
        if (!in.st) continue;
        kiln_batch *b;
        uint64_t before = mock_host_counter(in.m, "tenant_route_rejected_profiles_total");
        int rc = run_one(&in, cases[i].tenant, cases[i].labels, NULL, &err, &b);
        if (rc != cases[i].rc) fprintf(stderr, "  case %zu: rc %d (%s)\n", i, rc, err.msg);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc == KILN_OK) {
            CHECK_EQ_STR(b->v[0].tenant, cases[i].want_tenant);
            if (cases[i].want_labels_or_msg) {
                char ls[256];
                kiln_labels_format(&b->v[0].labels, ls, sizeof ls);
                CHECK_EQ_STR(ls, cases[i].want_labels_or_msg);
            }
            CHECK_EQ_INT(mock_host_counter(in.m, "tenant_route_rejected_profiles_total"), before);
        } else {
            if (!strstr(err.msg, cases[i].want_labels_or_msg)) fprintf(stderr, "  case %zu: %s\n", i, err.msg);
            CHECK_CONTAINS(err.msg, cases[i].want_labels_or_msg);
            CHECK_EQ_INT(kiln_status_http(rc), 400);
            CHECK_EQ_INT(mock_host_counter(in.m, "tenant_route_rejected_profiles_total"), before + 1);
        }
        kiln_batch_unref(b);
        drop_inst(&in);
    }
}

/* ---- routing ----------------------------------------------------------------------------- */

static const char *const routing_yaml =
    "tenant_label: org\n"
    "routes:\n"
    "  - tenants: [a]\n"
    "    exporters: [testsink/a]\n"
    "  - tenants: [b, b2]\n"
    "    exporters: [testsink/b]\n"
    "  - match: {env: \"prod|staging\"}\n"
    "    exporters: [testsink/a, blocks]\n"
    "  - tenants: [c]\n"
    "    match: {service_name: checkout, region: \"eu-.*\"}\n"
    "    exporters: [blocks, testsink/b]\n"
    "  - match: {tier: \"(gold)?\", kind: \"x\"}\n"
    "    exporters: [testsink/b]\n";

#define EA (1u << 0)
#define EB (1u << 1)
#define BL (1u << 2)

static void t_routing_masks(void)
{
    static const struct {
        const char *tenant, *labels;
        const char *unmatched_yaml;
        uint64_t mask; /* ~0: dropped */
        int route;
    } cases[] = {
        {"a", "service_name=x", "", EA, 0},
        {"a", "service_name=x,env=prod", "", EA, 0}, /* first matching route wins */
        {"b", "service_name=x", "", EB, 1},
        {"b2", "service_name=x", "", EB, 1},
        {"z", "service_name=x,env=prod", "", EA | BL, 2},
        {"z", "service_name=x,env=staging", "", EA | BL, 2},
        {"z", "service_name=x,env=production", "", 0, -1}, /* anchored: no partial match */
        {"z", "service_name=x,env=xprod", "", 0, -1},
        {"z", "service_name=x,env=prod|staging", "", 0, -1},
        {"c", "service_name=checkout,region=eu-west", "", BL | EB, 3},
        {"c", "service_name=checkout,region=us-east", "", 0, -1}, /* every matcher must match */
        {"c", "service_name=checkout2,region=eu-west", "", 0, -1}, /* exact value */
        {"d", "service_name=checkout,region=eu-west", "", 0, -1},  /* tenant must match */
        {"d", "kind=x", "", EB, 4},                                /* missing tier matches "" */
        {"d", "kind=x,tier=gold", "", EB, 4},
        {"d", "kind=x,tier=silver", "", 0, -1},
        {"anonymous", "org=b,service_name=x", "", EB, 1}, /* the tenant from the label routes */
        {"z", "service_name=x", "default_exporters: [blocks]\n", BL, -1},
        {"z", "service_name=x", "default_exporters: [blocks, testsink/a]\nunmatched: drop\n", ~0ULL, -2},
        {"a", "service_name=x", "unmatched: drop\n", EA, 0},
        /* a list of every exporter of the pipeline is mask 0 (all): the core shares the batch */
        {"z", "service_name=x", "default_exporters: [blocks, testsink/a, testsink/b]\n", 0, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char y[2048];
        snprintf(y, sizeof y, "%s%s", routing_yaml, cases[i].unmatched_yaml);
        inst in;
        kiln_err err;
        CHECK_EQ_INT(make(&in, y, &err), KILN_OK);
        if (!in.st) {
            fprintf(stderr, "  %s\n", err.msg);
            continue;
        }
        kiln_payload *pl = corpus_payload("pprof__sample.cpu.pb.gz");
        kiln_batch *b;
        CHECK_EQ_INT(run_one(&in, cases[i].tenant, cases[i].labels, pl, &err, &b), KILN_OK);
        kiln_profile *p = &b->v[0];
        if (cases[i].mask == ~0ULL) {
            CHECK(p->flags & KILN_PROFILE_DROPPED);
            CHECK_EQ_STR(p->drop_reason, "no_route");
            CHECK_EQ_INT(mock_host_counter(in.m, "tenant_route_routed_profiles_total"), 0);
        } else {
            CHECK(!(p->flags & KILN_PROFILE_DROPPED));
            if (p->route_mask != cases[i].mask)
                fprintf(stderr, "  case %zu: mask %llx\n", i, (unsigned long long)p->route_mask);
            CHECK_EQ_INT(p->route_mask, cases[i].mask);
            CHECK_EQ_INT(mock_host_counter(in.m, "tenant_route_routed_profiles_total"), 1);
        }
        /* the route the table picks */
        if (cases[i].route >= -1) {
            kiln_troute_state *s = in.st;
            CHECK_EQ_INT(kiln_troute_match(&s->t, p->tenant, &p->labels), cases[i].route);
        }
        /* routing reads labels only */
        CHECK_EQ_INT(kiln_payload_is_decoded(pl), 0);
        kiln_batch_unref(b);
        kiln_payload_unref(pl);
        drop_inst(&in);
    }
}

/* What each exporter gets, as the core's fan-out (kiln_batch_subset) does. */
static void t_fan_out(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, routing_yaml, &err), KILN_OK);
    kiln_batch *b = kiln_batch_new(6);
    add(b, "a", "service_name=1", NULL);
    add(b, "b", "service_name=2", NULL);
    add(b, "z", "service_name=3,env=prod", NULL);
    add(b, "z", "service_name=4", NULL); /* unmatched, default: everyone */
    add(b, "c", "service_name=checkout,region=eu-1", NULL);
    add(b, "anonymous", "service_name=6,org=a", NULL);
    CHECK_EQ_INT(PL.consume(in.st, b, &err), KILN_OK);
    static const char *const want[3] = {"1 3 4 6 ", "2 4 checkout ", "3 4 checkout "};
    for (int e = 0; e < 3; e++) {
        kiln_batch *sub = kiln_batch_subset(b, 1ULL << e);
        char got[128] = "";
        for (size_t i = 0; i < sub->n; i++) {
            strcat(got, kiln_labels_get(&sub->v[i].labels, "service_name"));
            strcat(got, " ");
        }
        CHECK_EQ_STR(got, want[e]);
        kiln_batch_unref(sub);
    }
    CHECK_EQ_STR(b->v[5].tenant, "a");
    CHECK_EQ_INT(mock_host_counter(in.m, "tenant_route_routed_profiles_total"), 6);
    kiln_batch_unref(b);
    drop_inst(&in);
}

static void t_many_exporters(void)
{
    /* 64 exporters: the last one is bit 63 */
    char *ids[64];
    char y[256];
    for (int i = 0; i < 64; i++) {
        ids[i] = malloc(16);
        snprintf(ids[i], 16, "e/%d", i);
    }
    snprintf(y, sizeof y, "routes:\n  - {tenants: [a], exporters: [e/63, e/0]}\ndefault_exporters: [e/62]\n");
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make_with(&in, y, (const char *const *)ids, 64, &err), KILN_OK);
    kiln_batch *b;
    CHECK_EQ_INT(run_one(&in, "a", "service_name=x", NULL, &err, &b), KILN_OK);
    CHECK(b->v[0].route_mask == ((1ULL << 63) | 1ULL));
    kiln_batch_unref(b);
    CHECK_EQ_INT(run_one(&in, "q", "service_name=x", NULL, &err, &b), KILN_OK);
    CHECK(b->v[0].route_mask == (1ULL << 62));
    kiln_batch_unref(b);
    drop_inst(&in);
    /* all 64 named: mask 0 */
    char all[1024];
    size_t w = (size_t)snprintf(all, sizeof all, "default_exporters: [");
    for (int i = 63; i >= 0; i--) w += (size_t)snprintf(all + w, sizeof all - w, "e/%d%s", i, i ? ", " : "]\n");
    CHECK_EQ_INT(make_with(&in, all, (const char *const *)ids, 64, &err), KILN_OK);
    kiln_troute_state *s = in.st;
    CHECK(s->t.def.mask == 0);
    drop_inst(&in);
    for (int i = 0; i < 64; i++) free(ids[i]);
}

static void t_dropped_profiles_untouched(void)
{
    inst in;
    kiln_err err;
    CHECK_EQ_INT(make(&in, "tenant_from: [header]\n", &err), KILN_OK);
    kiln_batch *b = kiln_batch_new(2);
    kiln_profile_drop(add(b, "anonymous", "service_name=x", NULL), "earlier"); /* would fail: no tenant */
    add(b, "t", "service_name=y", NULL);
    CHECK_EQ_INT(PL.consume(in.st, b, &err), KILN_OK);
    CHECK_EQ_STR(b->v[0].drop_reason, "earlier");
    kiln_batch_unref(b);
    drop_inst(&in);
}

int main(void)
{
    RUN(t_bad_configs);
    RUN(t_validate_without_pipeline);
    RUN(t_tenant_id_rules);
    RUN(t_tenant_sources);
    RUN(t_routing_masks);
    RUN(t_fan_out);
    RUN(t_many_exporters);
    RUN(t_dropped_profiles_untouched);
    return test_summary();
}
