/* tests/fuzz/fuzz_pprof.c — libFuzzer target for the pprof decoder.
 *
 * Each input is decoded as given (gzip or plain, told apart by the magic),
 * and, when plain, also gzip'ed and decoded again: both paths must agree.
 * Plain inputs are checked against protobuf-c's own unpack + validation:
 * whatever kiln accepts, protobuf-c accepts with equal content; whatever
 * protobuf-c accepts and validates, kiln accepts too, except for what kiln
 * refuses on purpose as google/pprof does (concatenated profiles, a
 * non-empty string_table[0] hidden behind a NUL, groups, bools not sent as
 * varints, field number 0 — protobuf-c takes it in a non-canonical key). On success the
 * profile is encoded (plain and gzip), decoded again and must be equal;
 * peek must agree; top and a self-merge must run and give a valid profile.
 * Any disagreement aborts (a crash for libFuzzer).
 */
#include <kiln/pprof.h>

#include "pprof_internal.h"

#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                                                              \
    do {                                                                                       \
        fprintf(stderr, "fuzz_pprof: " __VA_ARGS__);                                           \
        fputc('\n', stderr);                                                                   \
        abort();                                                                               \
    } while (0)

static int str_is(kiln_str s, const char *c) { return s.len == strlen(c) && memcmp(s.p, c, s.len) == 0; }

static void check_profile(kiln_pprof *p)
{
    kiln_err e = {0};
    char why[256];
    if (kiln_pprof_validate(p, &e)) FAIL("decoded profile does not validate: %s", e.msg);
    for (int level = 0; level <= 1; level++) {
        uint8_t *buf;
        size_t n;
        if (kiln_pprof_encode(p, level, &buf, &n, &e)) FAIL("encode: %s", e.msg);
        kiln_arena *a = kiln_arena_new(0);
        kiln_pprof *q = NULL;
        if (kiln_pprof_decode(a, buf, n, NULL, &q, &e)) FAIL("re-decode: %s", e.msg);
        if (!kiln_pprof_equal(p, q, why, sizeof why)) FAIL("round trip differs: %s", why);
        if (level == 0) {
            kiln_pprof_peek pk;
            if (kiln_pprof_peek_scan(buf, n, &pk, &e)) FAIL("peek of an encoded profile: %s", e.msg);
            if (pk.n_samples != p->n_sample || pk.n_types != p->n_sample_type) FAIL("peek counts differ");
            for (size_t i = 0; i < pk.n_types; i++)
                if (!str_is(pk.type[i], kp_str(p, p->sample_type[i]->type))) FAIL("peek type %zu differs", i);
            if (pk.time_nanos != p->time_nanos || pk.period != p->period) FAIL("peek times differ");
        }
        kiln_arena_destroy(a);
        free(buf);
    }
    for (size_t si = 0; si < p->n_sample_type && si < 2; si++) {
        kiln_pprof_fn_total *top;
        size_t nt;
        int64_t total;
        if (kiln_pprof_top(p, si, &top, &nt, &total, &e)) FAIL("top: %s", e.msg);
        free(top);
    }
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *in[2] = {p, p}, *m = NULL;
    if (kiln_pprof_merge(a, in, 2, &m, &e) == KILN_OK) {
        if (kiln_pprof_validate(m, &e)) FAIL("merged profile does not validate: %s", e.msg);
    }
    kiln_arena_destroy(a);
}

static int known_difference(const char *msg)
{
    return strstr(msg, "concatenated profiles") || strstr(msg, "string_table[0] must be") ||
           strstr(msg, "unsupported wire type") || strstr(msg, "bool field") ||
           strstr(msg, "invalid field number 0");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kiln_pprof_limits lim = {.max_inflated = 32u << 20};
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = NULL;
    kiln_err e = {0};
    int rc = kiln_pprof_decode(a, data, size, &lim, &p, &e);
    if (rc && !e.msg[0]) FAIL("error without a message (rc %d)", rc);
    if (rc == KILN_OK) check_profile(p);

    if (!kiln_is_gzip(data, size) && size > 0) {
        /* protobuf-c on the same bytes */
        kiln_arena *b = kiln_arena_new(0);
        kiln_pprof *q = NULL;
        kiln_err e2 = {0};
        int rc2 = kiln_pprof_unpack_pc(b, data, size, &q, &e2);
        char why[256];
        if (rc == KILN_OK && rc2 != KILN_OK) FAIL("kiln accepts, protobuf-c refuses: %s", e2.msg);
        if (rc == KILN_OK && !kiln_pprof_equal(p, q, why, sizeof why)) FAIL("kiln != protobuf-c: %s", why);
        if (rc != KILN_OK && rc2 == KILN_OK && rc != KILN_ETOOBIG && !known_difference(e.msg))
            FAIL("protobuf-c accepts, kiln refuses: %s", e.msg);
        kiln_arena_destroy(b);

        /* the gzip path gives the same answer */
        struct libdeflate_compressor *c = libdeflate_alloc_compressor(1);
        size_t cap = libdeflate_gzip_compress_bound(c, size);
        uint8_t *gz = malloc(cap);
        size_t gn = libdeflate_gzip_compress(c, data, size, gz, cap);
        libdeflate_free_compressor(c);
        kiln_arena *g = kiln_arena_new(0);
        kiln_pprof *r = NULL;
        int rc3 = kiln_pprof_decode(g, gz, gn, &lim, &r, &e2);
        if ((rc == KILN_OK) != (rc3 == KILN_OK)) FAIL("plain %d and gzip %d paths disagree", rc, rc3);
        if (rc == KILN_OK && !kiln_pprof_equal(p, r, why, sizeof why)) FAIL("gzip path differs: %s", why);
        kiln_arena_destroy(g);
        free(gz);
    }
    kiln_arena_destroy(a);
    return 0;
}
