/* tests/fuzz/fuzz_query_connect.c — libFuzzer target for the Connect request
 * decoding of the query exporter: request bodies of every
 * querier.v1.QuerierService method as application/proto (protobuf-c) and
 * application/json (the exporter's own JSON parser and protojson readings),
 * then the response encoders over a small result built from what was
 * decoded. Extra sources are named on the line below (tests/fuzz/run.sh).
 *
 * Input: byte 0 picks the method (mod the method count) and the codec (bit
 * 7: JSON), the rest is the body. Must never crash, leak or hang; a decoded
 * Select* request carries non-NULL strings; every encoding of a result
 * succeeds. Seeds: tests/fuzz/seeds_query_connect/.
 */
// fuzz-sources: exporters/query/qconnect.c exporters/query/qbuf.c exporters/query/qexec.c exporters/query/qsel.c exporters/query/qtree.c exporters/query/qflame.c exporters/query/qstore.c exporters/query/qpprofjson.c exporters/query/qtenant.c exporters/query/qtime.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../exporters/query/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int m = (data[0] & 0x7f) % KQ_M_COUNT;
    int json = data[0] >> 7;
    kq_req r;
    kiln_err err;
    int rc = json ? kiln_query_decode_json(m, data + 1, size - 1, &r, &err)
                  : kiln_query_decode_proto(m, data + 1, size - 1, &r, &err);
    if (rc != KILN_OK) return 0;
    if ((m == KQ_M_SELECT_MERGE_STACKTRACES || m == KQ_M_SELECT_SERIES || m == KQ_M_SELECT_MERGE_PROFILE) &&
        (!r.ptype || !r.selector))
        abort();
    /* a result made of the request's strings, encoded both ways */
    kq_result res;
    memset(&res, 0, sizeof res);
    res.method = m == KQ_M_DIFF || m == KQ_M_SELECT_MERGE_PROFILE ? KQ_M_SELECT_MERGE_STACKTRACES : m;
    for (size_t i = 0; i < r.n_matchers; i++)
        kiln_query_strv_add(&res.strs, &res.n_strs, r.matchers[i], strlen(r.matchers[i]));
    if (r.ptype) kiln_query_strv_add(&res.strs, &res.n_strs, r.ptype, strlen(r.ptype));
    if (kiln_query_tree_init(&res.tree, 1, &err) == KILN_OK) {
        res.have_tree = 1;
        if (r.n_call_site)
            kiln_query_tree_add_stack(&res.tree, (const char *const *)r.call_site, r.n_call_site, 0,
                                      r.max_nodes ? r.max_nodes : 1, &err);
        if (kiln_query_tree_finish(&res.tree, &err) == KILN_OK)
            kiln_query_flame(&res.tree, r.max_nodes, &res.flame, &err);
    }
    if (r.n_group_by) {
        res.series = calloc(1, sizeof *res.series);
        if (res.series) {
            res.n_series = 1;
            for (size_t i = 0; i < r.n_group_by; i++)
                kiln_labels_set(&res.series[0].labels, r.group_by[i], r.selector ? r.selector : "");
        }
    }
    for (int j = 0; j < 2; j++) {
        kq_buf b = {0};
        if (kiln_query_encode(&res, j, &b, &err) != KILN_OK && !b.oom) abort();
        kiln_query_buf_free(&b);
    }
    kiln_query_result_free(&res);
    kiln_query_req_free(&r);
    return 0;
}
