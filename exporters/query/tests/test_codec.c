/* Unit test: the codecs of the query API — Connect
 * requests from proto and JSON (the same request both ways must decode to
 * the same thing), responses to proto (read back with protobuf-c) and
 * protojson, Connect error codes, attime, the timeline step and tenant
 * headers. */
#include "qtest.h"

#include <kiln/proto/querier.pb-c.h>
#include <kiln/proto/types.pb-c.h>

static void same_req(const kq_req *a, const kq_req *b, int line)
{
    int ok = !strcmp(a->ptype, b->ptype) && !strcmp(a->selector, b->selector) && a->start_ms == b->start_ms &&
             a->end_ms == b->end_ms && a->has_max_nodes == b->has_max_nodes && a->max_nodes == b->max_nodes &&
             a->format == b->format && a->n_call_site == b->n_call_site;
    for (size_t i = 0; ok && i < a->n_call_site; i++) ok = !strcmp(a->call_site[i], b->call_site[i]);
    if (!ok) test_fail(__FILE__, line, "requests differ");
}

static void t_requests(void)
{
    /* SelectMergeStacktraces in proto */
    Querier__V1__SelectMergeStacktracesRequest q = QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__INIT;
    q.profile_typeid = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
    q.label_selector = "{service_name=\"api\"}";
    q.has_start = q.has_end = q.has_max_nodes = q.has_format = 1;
    q.start = 1700000000000;
    q.end = 1700003600000;
    q.max_nodes = 512;
    q.format = QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_FLAMEGRAPH;
    Types__V1__Location l1 = TYPES__V1__LOCATION__INIT, l2 = TYPES__V1__LOCATION__INIT;
    l1.name = "main";
    l2.name = "f";
    Types__V1__Location *ls[] = {&l1, &l2};
    Types__V1__StackTraceSelector sts = TYPES__V1__STACK_TRACE_SELECTOR__INIT;
    sts.n_call_site = 2;
    sts.call_site = ls;
    q.stack_trace_selector = &sts;
    uint8_t buf[1024];
    size_t n = querier__v1__select_merge_stacktraces_request__pack(&q, buf);
    kq_req rp, rj, rs;
    kiln_err err;
    CHECK_EQ_INT(kiln_query_decode_proto(KQ_M_SELECT_MERGE_STACKTRACES, buf, n, &rp, &err), KILN_OK);
    CHECK_EQ_INT(rp.max_nodes, 512);
    CHECK(rp.has_max_nodes);
    CHECK_EQ_INT(rp.n_call_site, 2);
    /* the same in protojson, camelCase */
    const char *js = "{\"profileTypeID\":\"process_cpu:cpu:nanoseconds:cpu:nanoseconds\","
                     "\"labelSelector\":\"{service_name=\\\"api\\\"}\",\"start\":\"1700000000000\","
                     "\"end\":1700003600000,\"maxNodes\":\"512\",\"format\":\"PROFILE_FORMAT_FLAMEGRAPH\","
                     "\"stackTraceSelector\":{\"callSite\":[{\"name\":\"main\"},{\"name\":\"f\"}]},\"unknown\":[1]}";
    CHECK_EQ_INT(kiln_query_decode_json(KQ_M_SELECT_MERGE_STACKTRACES, (const uint8_t *)js, strlen(js), &rj, &err),
                 KILN_OK);
    same_req(&rp, &rj, __LINE__);
    /* and with the proto field names, enum as a number */
    const char *js2 = "{\"profile_typeID\":\"process_cpu:cpu:nanoseconds:cpu:nanoseconds\","
                      "\"label_selector\":\"{service_name=\\\"api\\\"}\",\"start\":1700000000000,"
                      "\"end\":\"1700003600000\",\"max_nodes\":512,\"format\":1,"
                      "\"stack_trace_selector\":{\"call_site\":[{\"name\":\"main\"},{\"name\":\"f\"}]}}";
    CHECK_EQ_INT(kiln_query_decode_json(KQ_M_SELECT_MERGE_STACKTRACES, (const uint8_t *)js2, strlen(js2), &rs, &err),
                 KILN_OK);
    same_req(&rp, &rs, __LINE__);
    kiln_query_req_free(&rp);
    kiln_query_req_free(&rj);
    kiln_query_req_free(&rs);

    /* SelectSeries: step, group_by, aggregation, limit */
    Querier__V1__SelectSeriesRequest ss = QUERIER__V1__SELECT_SERIES_REQUEST__INIT;
    ss.profile_typeid = "a:b:c:d:e";
    char *gb[] = {"pod", "env"};
    ss.n_group_by = 2;
    ss.group_by = gb;
    ss.has_step = ss.has_aggregation = ss.has_limit = 1;
    ss.step = 15.5;
    ss.aggregation = TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE;
    ss.limit = 3;
    n = querier__v1__select_series_request__pack(&ss, buf);
    CHECK_EQ_INT(kiln_query_decode_proto(KQ_M_SELECT_SERIES, buf, n, &rp, &err), KILN_OK);
    const char *js3 = "{\"profileTypeID\":\"a:b:c:d:e\",\"groupBy\":[\"pod\",\"env\"],\"step\":15.5,"
                      "\"aggregation\":\"TIME_SERIES_AGGREGATION_TYPE_AVERAGE\",\"limit\":\"3\"}";
    CHECK_EQ_INT(kiln_query_decode_json(KQ_M_SELECT_SERIES, (const uint8_t *)js3, strlen(js3), &rj, &err), KILN_OK);
    CHECK(rp.step == 15.5 && rj.step == 15.5);
    CHECK_EQ_INT(rp.aggregation, KQ_AGG_AVERAGE);
    CHECK_EQ_INT(rj.aggregation, KQ_AGG_AVERAGE);
    CHECK_EQ_INT(rp.n_group_by, 2);
    CHECK_EQ_INT(rj.n_group_by, 2);
    CHECK_EQ_STR(rj.group_by[1], "env");
    CHECK(rp.has_limit && rj.has_limit && rp.limit == 3 && rj.limit == 3);
    kiln_query_req_free(&rp);
    kiln_query_req_free(&rj);

    /* LabelValues, Diff */
    const char *js4 = "{\"name\":\"env\",\"matchers\":[\"{a=\\\"b\\\"}\"],\"start\":\"1\",\"end\":\"2\"}";
    CHECK_EQ_INT(kiln_query_decode_json(KQ_M_LABEL_VALUES, (const uint8_t *)js4, strlen(js4), &rj, &err), KILN_OK);
    CHECK_EQ_STR(rj.name, "env");
    CHECK_EQ_INT(rj.n_matchers, 1);
    kiln_query_req_free(&rj);
    const char *js5 = "{\"left\":{\"profileTypeID\":\"a:b:c:d:e\",\"start\":1,\"end\":2},"
                      "\"right\":{\"profileTypeID\":\"a:b:c:d:e\",\"labelSelector\":\"{x=\\\"y\\\"}\"}}";
    CHECK_EQ_INT(kiln_query_decode_json(KQ_M_DIFF, (const uint8_t *)js5, strlen(js5), &rj, &err), KILN_OK);
    CHECK(rj.left && rj.right && rj.left->end_ms == 2 && !strcmp(rj.right->selector, "{x=\"y\"}"));
    kiln_query_req_free(&rj);

    /* errors name the field */
    static const char *const bad[] = {"{\"start\":\"x\"}", "{\"matchers\":\"a\"}", "{\"matchers\":[1]}",
                                      "[]", "{\"name\":3}"};
    static const int meth[] = {KQ_M_LABEL_NAMES, KQ_M_LABEL_NAMES, KQ_M_LABEL_NAMES, KQ_M_LABEL_NAMES,
                               KQ_M_LABEL_VALUES};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kiln_err_clear(&err);
        if (kiln_query_decode_json(meth[i], (const uint8_t *)bad[i], strlen(bad[i]), &rj, &err) != KILN_EINVAL)
            test_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
        CHECK(strstr(err.msg, kiln_query_method_names[meth[i]]) == err.msg);
    }
    CHECK_EQ_INT(kiln_query_decode_json(KQ_M_SELECT_SERIES, (const uint8_t *)"{\"aggregation\":\"MEDIAN\"}", 24, &rj,
                                        &err),
                 KILN_EINVAL);
    CHECK_EQ_INT(kiln_query_decode_proto(KQ_M_SERIES, (const uint8_t *)"\x0a\x05" "ab", 4, &rj, &err), KILN_EINVAL);
}

static void t_responses(void)
{
    kiln_err err;
    kq_result r;
    memset(&r, 0, sizeof r);
    r.method = KQ_M_LABEL_NAMES;
    kq_buf b = {0};
    CHECK_EQ_INT(kiln_query_encode(&r, 1, &b, &err), KILN_OK);
    CHECK_EQ_STR(b.p, "{}"); /* protojson leaves empty fields out */
    kiln_query_buf_free(&b);
    kiln_query_strv_add(&r.strs, &r.n_strs, "a\"b", 3);
    kiln_query_strv_add(&r.strs, &r.n_strs, "\xc3\xa9\x01", 3);
    CHECK_EQ_INT(kiln_query_encode(&r, 1, &b, &err), KILN_OK);
    CHECK_EQ_STR(b.p, "{\"names\":[\"a\\\"b\",\"\xc3\xa9\\u0001\"]}");
    kiln_query_buf_free(&b);
    CHECK_EQ_INT(kiln_query_encode(&r, 0, &b, &err), KILN_OK);
    Types__V1__LabelValuesResponse *lv = types__v1__label_values_response__unpack(NULL, b.n, (uint8_t *)b.p);
    CHECK(lv && lv->n_names == 2 && !strcmp(lv->names[0], "a\"b"));
    if (lv) types__v1__label_values_response__free_unpacked(lv, NULL);
    kiln_query_buf_free(&b);
    kiln_query_result_free(&r);

    /* profile types: ids parsed into their parts */
    memset(&r, 0, sizeof r);
    r.method = KQ_M_PROFILE_TYPES;
    kiln_query_strv_add(&r.strs, &r.n_strs, "memory:alloc_in_new_tlab_bytes:bytes::", 38);
    CHECK_EQ_INT(kiln_query_encode(&r, 1, &b, &err), KILN_OK);
    CHECK_EQ_STR(b.p, "{\"profileTypes\":[{\"ID\":\"memory:alloc_in_new_tlab_bytes:bytes::\",\"name\":\"memory\","
                      "\"sampleType\":\"alloc_in_new_tlab_bytes\",\"sampleUnit\":\"bytes\"}]}");
    kiln_query_buf_free(&b);
    kiln_query_result_free(&r);

    /* a flame graph both ways */
    memset(&r, 0, sizeof r);
    r.method = KQ_M_SELECT_MERGE_STACKTRACES;
    CHECK_EQ_INT(kiln_query_tree_init(&r.tree, 1, &err), KILN_OK);
    r.have_tree = 1;
    const char *st[] = {"main", "work"};
    kiln_query_tree_add_stack(&r.tree, st, 2, 0, 7, &err);
    kiln_query_tree_add_stack(&r.tree, st, 1, 0, 3, &err);
    kiln_query_tree_finish(&r.tree, &err);
    CHECK_EQ_INT(kiln_query_flame(&r.tree, 100, &r.flame, &err), KILN_OK);
    CHECK_EQ_INT(kiln_query_encode(&r, 1, &b, &err), KILN_OK);
    CHECK_EQ_STR(b.p, "{\"flamegraph\":{\"names\":[\"total\",\"main\",\"work\"],\"levels\":[{\"values\":[\"0\",\"10\","
                      "\"0\",\"0\"]},{\"values\":[\"0\",\"10\",\"3\",\"1\"]},{\"values\":[\"3\",\"7\",\"7\",\"2\"]}],"
                      "\"total\":\"10\",\"maxSelf\":\"7\"}}");
    kiln_query_buf_free(&b);
    CHECK_EQ_INT(kiln_query_encode(&r, 0, &b, &err), KILN_OK);
    Querier__V1__SelectMergeStacktracesResponse *fr =
        querier__v1__select_merge_stacktraces_response__unpack(NULL, b.n, (uint8_t *)b.p);
    CHECK(fr && fr->flamegraph && fr->flamegraph->total == 10 && fr->flamegraph->n_levels == 3 &&
          fr->flamegraph->levels[2]->n_values == 4 && fr->flamegraph->levels[2]->values[0] == 3 &&
          !strcmp(fr->flamegraph->names[2], "work"));
    if (fr) querier__v1__select_merge_stacktraces_response__free_unpacked(fr, NULL);
    kiln_query_buf_free(&b);
    kiln_query_result_free(&r);

    /* series and points */
    memset(&r, 0, sizeof r);
    r.method = KQ_M_SELECT_SERIES;
    r.series = calloc(1, sizeof *r.series);
    r.n_series = 1;
    kiln_labels_set(&r.series[0].labels, "pod", "p1");
    r.series[0].pts = malloc(2 * sizeof *r.series[0].pts);
    r.series[0].pts[0] = (kq_point){1000, 2.5};
    r.series[0].pts[1] = (kq_point){2000, 0};
    r.series[0].n = 2;
    CHECK_EQ_INT(kiln_query_encode(&r, 1, &b, &err), KILN_OK);
    CHECK_EQ_STR(b.p, "{\"series\":[{\"labels\":[{\"name\":\"pod\",\"value\":\"p1\"}],\"points\":[{\"value\":2.5,"
                      "\"timestamp\":\"1000\"},{\"timestamp\":\"2000\"}]}]}");
    kiln_query_buf_free(&b);
    CHECK_EQ_INT(kiln_query_encode(&r, 0, &b, &err), KILN_OK);
    Querier__V1__SelectSeriesResponse *sr = querier__v1__select_series_response__unpack(NULL, b.n, (uint8_t *)b.p);
    CHECK(sr && sr->n_series == 1 && sr->series[0]->n_points == 2 && sr->series[0]->points[0]->value == 2.5 &&
          sr->series[0]->points[1]->timestamp == 2000 && !strcmp(sr->series[0]->labels[0]->value, "p1"));
    if (sr) querier__v1__select_series_response__free_unpacked(sr, NULL);
    kiln_query_buf_free(&b);
    kiln_query_result_free(&r);
}

static void t_connect_codes(void)
{
    CHECK_EQ_STR(kiln_query_connect_code(KILN_EINVAL), "invalid_argument");
    CHECK_EQ_INT(kiln_query_connect_http("invalid_argument"), 400);
    CHECK_EQ_INT(kiln_query_connect_http("unauthenticated"), 401);
    CHECK_EQ_INT(kiln_query_connect_http("not_found"), 404);
    CHECK_EQ_INT(kiln_query_connect_http("resource_exhausted"), 429);
    CHECK_EQ_INT(kiln_query_connect_http("canceled"), 499);
    CHECK_EQ_INT(kiln_query_connect_http("unimplemented"), 501);
    CHECK_EQ_INT(kiln_query_connect_http("unavailable"), 503);
    CHECK_EQ_INT(kiln_query_connect_http("deadline_exceeded"), 504);
    CHECK_EQ_INT(kiln_query_connect_http("failed_precondition"), 400);
    kq_buf b = {0};
    kiln_query_connect_error(&b, "internal", "x\"y\n");
    CHECK_EQ_STR(b.p, "{\"code\":\"internal\",\"message\":\"x\\\"y\\n\"}");
    kiln_query_buf_free(&b);
}

static void t_times_and_tenants(void)
{
    const int64_t now = 1700000000123456789LL, S = 1000000000LL;
    CHECK_EQ_INT(kiln_query_attime("now", now), now);
    CHECK_EQ_INT(kiln_query_attime(NULL, now), now);
    CHECK_EQ_INT(kiln_query_attime("now-1h", now), now - 3600 * S);
    CHECK_EQ_INT(kiln_query_attime("now-7d", now), now - 7 * 86400 * S);
    CHECK_EQ_INT(kiln_query_attime("now-30m", now), now - 1800 * S);
    CHECK_EQ_INT(kiln_query_attime("1700000000", now), 1700000000 * S);
    CHECK_EQ_INT(kiln_query_attime("1700000000123", now), 1700000000123000000LL);
    CHECK_EQ_INT(kiln_query_attime("1700000000123456789", now), 1700000000123456789LL);
    CHECK_EQ_INT(kiln_query_attime("20231114", now), 1699920000 * S);
    CHECK_EQ_INT(kiln_query_attime("garbage", now), now);
    CHECK_EQ_INT(kiln_query_point_interval_s(0, 3600000), 15);
    CHECK_EQ_INT(kiln_query_point_interval_s(0, 86400000), 60);
    CHECK_EQ_INT(kiln_query_point_interval_s(0, 7 * 86400000LL), 300);
    CHECK_EQ_INT(kiln_query_point_interval_s(0, 30 * 86400000LL), 1800);

    char **t;
    size_t n;
    kiln_err err;
    CHECK_EQ_INT(kiln_query_tenants("b|a|b", "anonymous", &t, &n, &err), KILN_OK);
    CHECK(n == 2 && !strcmp(t[0], "a") && !strcmp(t[1], "b"));
    kiln_query_strv_free(t, n);
    CHECK_EQ_INT(kiln_query_tenants(NULL, "anonymous", &t, &n, &err), KILN_OK);
    CHECK(n == 1 && !strcmp(t[0], "anonymous"));
    kiln_query_strv_free(t, n);
    CHECK_EQ_INT(kiln_query_tenants("", NULL, &t, &n, &err), KILN_OK);
    CHECK(n == 1 && !strcmp(t[0], "anonymous"));
    kiln_query_strv_free(t, n);
    static const char *const bad[] = {"a b", "..", ".", "a||b", "a|", "x/y", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kiln_query_tenants(bad[i], "anonymous", &t, &n, &err) != KILN_EINVAL)
            test_fail(__FILE__, __LINE__, "tenant \"%s\" accepted", bad[i]);
    char longid[200];
    memset(longid, 'a', 151);
    longid[151] = 0;
    CHECK_EQ_INT(kiln_query_tenants(longid, "anonymous", &t, &n, &err), KILN_EINVAL);
    longid[150] = 0;
    CHECK_EQ_INT(kiln_query_tenants(longid, "anonymous", &t, &n, &err), KILN_OK);
    kiln_query_strv_free(t, n);
}

int main(void)
{
    RUN(t_requests);
    RUN(t_responses);
    RUN(t_connect_codes);
    RUN(t_times_and_tenants);
    return test_summary();
}
