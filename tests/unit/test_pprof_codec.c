/* tests/unit/test_pprof_codec.c — pprof decode / encode / equal / peek.
 *
 * - every file of the corpus: the exact list of files that decode and of those
 *   rejected (with a message, never a crash); each decoded file re-encodes
 *   (plain, gzip 1 and 6), decodes again and is kiln_pprof_equal to the first
 *   decode; kiln's hand-written decoder agrees with protobuf-c's own unpack
 *   on the same bytes; kiln_pprof_peek_scan agrees with the full decode;
 * - crafted profiles for each validation rule, checking the error message
 *   names the field and index;
 * - wire-level cases: packed and unpacked repeated fields, unknown fields,
 *   invalid UTF-8, truncation, concatenated profiles, groups;
 * - gzip: several members, corrupt data, trailing bytes, the size limit.
 */
#include "test_pprof_util.h"

#include "pprof_internal.h"

#include <dirent.h>
#include <libdeflate.h>
#include <sys/stat.h>

/* Files that decode, and files rejected on purpose (legacy text/binary
 * formats, JFR, folded text, a fuzzer-found text input). */
static const char *const expect_ok[] = {
    "parca__alloc_objects.pb.gz", "parca__alloc_space_delta.pb.gz", "parca__fgprof.pb.gz",
    "parca__fib.pb.gz", "parca__labels.pb.gz", "parca__many_1644509272337470000.pb.gz",
    "parca__many_1644509275338070000.pb.gz", "parca__many_1644509278338696000.pb.gz",
    "parca__many_1644509281339135000.pb.gz", "parca__many_1644509284338649000.pb.gz",
    "parca__many_1644509287338709000.pb.gz", "parca__many_1644509290338056000.pb.gz",
    "parca__many_1644509293338714000.pb.gz", "parca__many_1644509296350592000.pb.gz",
    "parca__many_1644509299337903000.pb.gz", "parca__no-python.pb.gz", "parca__node-profile.pb.gz",
    "parca__normal-cpu.stripped.pprof.gz", "parca__normalizer_profile.pb.gz",
    "parca__profile-with-labels.pb.gz", "parca__single-stack.pb.gz", "parca__two-stacks.pb.gz",
    "parca__without-dwarf-cpu.stripped.pprof.gz", "pprof__cppbench.cpu_no_samples_type.pb.gz",
    "pprof__go.nomappings.crash.pb.gz", "pprof__large.cpu.pb.gz", "pprof__sample.cpu.pb.gz",
    "pyroscope-io__cpu.pprof.gz", "speedscope__pprof_simple.prof.gz"};
static const char *const expect_rejected[] = {
    "jfrparser__async-profiler.jfr.gz", "jfrparser__async-profiler_cpu_expected_collapsed.txt.gz",
    "jfrparser__dd-trace-java.jfr.gz", "jfrparser__dd-trace-java_cpu_expected_collapsed.txt.gz",
    "jfrparser__dump2.jfr.gz", "jfrparser__goland-multichunk.jfr.gz",
    "jfrparser__parse_failure_repro1.jfr.gz", "pprof__fuzz_heapz_7e3c9248.txt",
    "pprof__legacy_cppbench.contention.txt", "pprof__legacy_cppbench.cpu.bin",
    "pprof__legacy_go.crc32.cpu.bin", "pprof__legacy_go.godoc.thread.txt",
    "pprof__legacy_gobench.heap.txt", "pprof__legacy_java.contention.txt",
    "pprof__legacy_java.cpu.bin", "pprof__legacy_java.heap.txt", "speedscope__heavy.jfr",
    "speedscope__stackcollapse_alternating.txt", "speedscope__stackcollapse_recursion.txt",
    "speedscope__stackcollapse_simple-crlf.txt", "speedscope__stackcollapse_simple-utf16-be.txt",
    "speedscope__stackcollapse_simple-utf16-le.txt",
    "speedscope__stackcollapse_simple-with-invalids.txt", "speedscope__stackcollapse_simple.txt",
    "speedscope__stackcollapse_tall.txt"};
#define N_OK (sizeof expect_ok / sizeof expect_ok[0])
#define N_REJ (sizeof expect_rejected / sizeof expect_rejected[0])

static int in_list(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0) return 1;
    return 0;
}

static int str_is(kiln_str s, const char *c) { return s.len == strlen(c) && memcmp(s.p, c, s.len) == 0; }

/* peek must report what the full decode has */
static void check_peek(const char *name, const uint8_t *raw, size_t len, const kiln_pprof *p)
{
    kiln_pprof_peek pk;
    kiln_err e = {0};
    int rc = kiln_pprof_peek_scan(raw, len, &pk, &e);
    if (rc) {
        test_fail(__FILE__, __LINE__, "%s: peek failed: %s", name, e.msg);
        return;
    }
    CHECK_EQ_INT(pk.n_types, p->n_sample_type);
    for (size_t i = 0; i < pk.n_types && i < p->n_sample_type; i++) {
        CHECK(str_is(pk.type[i], p->string_table[p->sample_type[i]->type]));
        CHECK(str_is(pk.unit[i], p->string_table[p->sample_type[i]->unit]));
    }
    CHECK(str_is(pk.period_type, p->period_type ? p->string_table[p->period_type->type] : ""));
    CHECK(str_is(pk.period_unit, p->period_type ? p->string_table[p->period_type->unit] : ""));
    CHECK_EQ_INT(pk.period, p->period);
    CHECK_EQ_INT(pk.time_nanos, p->time_nanos);
    CHECK_EQ_INT(pk.duration_nanos, p->duration_nanos);
    CHECK(str_is(pk.default_sample_type, p->string_table[p->default_sample_type]));
    CHECK_EQ_INT(pk.n_samples, p->n_sample);
}

/* re-encode at `level`, decode again, compare */
static void check_roundtrip(const char *name, const kiln_pprof *p, int level)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    kiln_err e = {0};
    int rc = kiln_pprof_encode(p, level, &buf, &n, &e);
    CHECK_EQ_INT(rc, KILN_OK);
    if (rc) return;
    CHECK_EQ_INT(kiln_is_gzip(buf, n), level > 0);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *q = NULL;
    rc = kiln_pprof_decode(a, buf, n, NULL, &q, &e);
    if (rc) test_fail(__FILE__, __LINE__, "%s: re-decode (gzip %d) failed: %s", name, level, e.msg);
    char why[256];
    if (!rc && !kiln_pprof_equal(p, q, why, sizeof why))
        test_fail(__FILE__, __LINE__, "%s: round trip (gzip %d) differs: %s", name, level, why);
    if (!rc && level == 0) check_peek(name, buf, n, q);
    kiln_arena_destroy(a);
    free(buf);
}

static void t_corpus(void)
{
    DIR *d = opendir(test_corpus_dir());
    CHECK(d != NULL);
    if (!d) return;
    size_t n_ok = 0, n_rej = 0, n_files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (name[0] == '.' || !strcmp(name, "MANIFEST.tsv") || !strcmp(name, "README.md") ||
            !strcmp(name, "LICENSES") || !strcmp(name, "expected"))
            continue;
        n_files++;
        size_t len;
        uint8_t *data = test_read_corpus(name, &len);
        CHECK(data != NULL);
        if (!data) continue;
        kiln_arena *a = kiln_arena_new(0);
        kiln_pprof *p = NULL;
        kiln_err e = {0};
        int rc = kiln_pprof_decode(a, data, len, NULL, &p, &e);
        if (rc == KILN_OK) {
            n_ok++;
            if (!in_list(expect_ok, N_OK, name))
                test_fail(__FILE__, __LINE__, "%s decodes but should be rejected", name);
            check_roundtrip(name, p, 0);
            check_roundtrip(name, p, 1);
            check_roundtrip(name, p, 6);
            /* the plain bytes: peek, and protobuf-c's own unpack must agree */
            const uint8_t *raw = data;
            size_t raw_len = len;
            uint8_t *inflated = NULL;
            if (kiln_is_gzip(data, len)) {
                CHECK_EQ_INT(kiln_gunzip(a, data, len, 0, &inflated, &raw_len, &e), KILN_OK);
                raw = inflated;
            }
            check_peek(name, raw, raw_len, p);
            kiln_pprof *q = NULL;
            rc = kiln_pprof_unpack_pc(a, raw, raw_len, &q, &e);
            char why[256];
            if (rc)
                test_fail(__FILE__, __LINE__, "%s: protobuf-c unpack failed: %s", name, e.msg);
            else if (!kiln_pprof_equal(p, q, why, sizeof why))
                test_fail(__FILE__, __LINE__, "%s: kiln decode != protobuf-c unpack: %s", name, why);
        } else {
            n_rej++;
            if (!in_list(expect_rejected, N_REJ, name))
                test_fail(__FILE__, __LINE__, "%s rejected but should decode: %s", name, e.msg);
            CHECK_EQ_INT(rc, KILN_EINVAL);
            CHECK(strncmp(e.msg, "pprof", 5) == 0);
            if (strstr(name, ".jfr")) CHECK_CONTAINS(e.msg, "JFR recording");
            if (strstr(name, "stackcollapse") && !strstr(name, "utf16"))
                CHECK_CONTAINS(e.msg, "looks like text");
            if (strstr(name, "utf16")) CHECK_CONTAINS(e.msg, "UTF-16");
        }
        kiln_arena_destroy(a);
        free(data);
    }
    closedir(d);
    fprintf(stderr, "  corpus: %zu files, %zu decoded, %zu rejected\n", n_files, n_ok, n_rej);
    CHECK_EQ_INT(n_ok, N_OK);
    CHECK_EQ_INT(n_rej, N_REJ);
    CHECK_EQ_INT(n_files, N_OK + N_REJ);
}

/* A few decoded facts pinned to what the corpus MANIFEST records
 * (pprof-decode:ok(S=..,L=..,F=..,M=..)) and to go tool pprof -raw output. */
static void t_corpus_facts(void)
{
    static const struct {
        const char *name;
        size_t s, l, f, m;
    } facts[] = {{"pprof__large.cpu.pb.gz", 20430, 23355, 23038, 4},
                 {"parca__alloc_space_delta.pb.gz", 4942, 816, 473, 1},
                 {"parca__fgprof.pb.gz", 175, 534, 400, 1},
                 {"parca__many_1644509299337903000.pb.gz", 241, 499, 419, 1},
                 {"speedscope__pprof_simple.prof.gz", 9, 30, 25, 0},
                 {"pyroscope-io__cpu.pprof.gz", 7, 29, 28, 1},
                 {"parca__normalizer_profile.pb.gz", 39, 95, 95, 1}};
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
        kiln_arena *a = kiln_arena_new(0);
        kiln_pprof *p = load_corpus(a, facts[i].name);
        CHECK(p != NULL);
        if (p) {
            CHECK_EQ_INT(p->n_sample, facts[i].s);
            CHECK_EQ_INT(p->n_location, facts[i].l);
            CHECK_EQ_INT(p->n_function, facts[i].f);
            CHECK_EQ_INT(p->n_mapping, facts[i].m);
        }
        kiln_arena_destroy(a);
    }
    /* parca__two-stacks.pb.gz.raw.txt: "cpu/nanoseconds", samples 315789468: 1 2 and 52631578: 3 2 */
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = load_corpus(a, "parca__two-stacks.pb.gz");
    CHECK(p != NULL);
    if (p) {
        CHECK_EQ_INT(p->n_sample, 2);
        CHECK_EQ_STR(p->string_table[p->sample_type[0]->type], "cpu");
        CHECK_EQ_STR(p->string_table[p->period_type->unit], "nanoseconds");
        CHECK_EQ_INT(p->sample[0]->value[0], 315789468);
        CHECK_EQ_INT(p->sample[1]->value[0], 52631578);
        CHECK_EQ_INT(p->sample[1]->location_id[0], 3);
        CHECK_EQ_INT(p->sample[1]->location_id[1], 2);
        CHECK_EQ_STR(p->string_table[p->function[p->location[1]->line[0]->function_id - 1]->name],
                     "unwind failed");
    }
    kiln_arena_destroy(a);
}

/* ---- crafted profiles: validation messages ------------------------------------ */

typedef void (*mutator)(kiln_arena *a, kiln_pprof *p);

static void expect_invalid(mutator mut, const char *want, int line)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = tb_example(a);
    kiln_err e = {0};
    if (kiln_pprof_validate(p, &e) != KILN_OK) test_fail(__FILE__, line, "example invalid: %s", e.msg);
    mut(a, p);
    CHECK_EQ_INT(kiln_pprof_validate(p, &e), KILN_EINVAL);
    if (!strstr(e.msg, want)) test_fail(__FILE__, line, "validate: \"%s\" lacks \"%s\"", e.msg, want);
    /* the same through the wire */
    uint8_t *buf;
    size_t n;
    CHECK_EQ_INT(kiln_pprof_encode(p, 0, &buf, &n, &e), KILN_OK);
    kiln_pprof *q = NULL;
    int rc = kiln_pprof_decode(a, buf, n, NULL, &q, &e);
    if (rc != KILN_EINVAL) test_fail(__FILE__, line, "decode accepted an invalid profile (rc %d)", rc);
    else if (!strstr(e.msg, want)) test_fail(__FILE__, line, "decode: \"%s\" lacks \"%s\"", e.msg, want);
    free(buf);
    kiln_arena_destroy(a);
}

static void m_str0(kiln_arena *a, kiln_pprof *p) { p->string_table[0] = kiln_arena_strndup(a, "x", 1); }
static void m_fname(kiln_arena *a, kiln_pprof *p) { p->function[1]->name = 99; }
static void m_line_func(kiln_arena *a, kiln_pprof *p) { p->location[1]->line[1]->function_id = 77; }
static void m_line_func0(kiln_arena *a, kiln_pprof *p) { p->location[2]->line[0]->function_id = 0; }
static void m_values(kiln_arena *a, kiln_pprof *p) { p->sample[2]->n_value = 1; }
static void m_dup_loc(kiln_arena *a, kiln_pprof *p) { p->location[2]->id = 1; }
static void m_func0(kiln_arena *a, kiln_pprof *p) { p->function[0]->id = 0; }
static void m_map_missing(kiln_arena *a, kiln_pprof *p) { p->location[0]->mapping_id = 9; }
static void m_sample_loc(kiln_arena *a, kiln_pprof *p) { p->sample[1]->location_id[1] = 42; }
static void m_no_types(kiln_arena *a, kiln_pprof *p)
{
    p->n_sample_type = 0;
    for (size_t i = 0; i < p->n_sample; i++) p->sample[i]->n_value = 0;
}
static void m_label_key(kiln_arena *a, kiln_pprof *p) { p->sample[0]->label[0]->key = 1000; }
static void m_period_unit(kiln_arena *a, kiln_pprof *p) { p->period_type->unit = -3; }
static void m_dflt(kiln_arena *a, kiln_pprof *p) { p->default_sample_type = 500; }
static void m_dup_map(kiln_arena *a, kiln_pprof *p) { tb_map(a, p, 1, 0, 0, 0, "/lib/x.so", ""); }
static void m_build_id(kiln_arena *a, kiln_pprof *p) { p->mapping[0]->build_id = 64; }

static void t_validation_messages(void)
{
    expect_invalid(m_str0, "string_table[0] must be \"\"", __LINE__);
    expect_invalid(m_fname, "function[1].name: string index 99 out of range", __LINE__);
    expect_invalid(m_line_func, "location[1].line[1].function_id 77 not found", __LINE__);
    expect_invalid(m_line_func0, "location[2].line[0].function_id is 0", __LINE__);
    expect_invalid(m_values, "sample[2] has 1 values, expected 2 (sample_type count)", __LINE__);
    expect_invalid(m_dup_loc, "location[2].id 1 is also the id of location[0]", __LINE__);
    expect_invalid(m_func0, "function[0].id is 0 (reserved)", __LINE__);
    expect_invalid(m_map_missing, "location[0].mapping_id 9 not found", __LINE__);
    expect_invalid(m_sample_loc, "sample[1].location_id[1] 42 not found", __LINE__);
    expect_invalid(m_no_types, "profile has 3 samples but no sample_type", __LINE__);
    expect_invalid(m_label_key, "sample[0].label[0].key: string index 1000 out of range", __LINE__);
    expect_invalid(m_period_unit, "period_type.unit: string index -3 out of range", __LINE__);
    expect_invalid(m_dflt, "default_sample_type: string index 500", __LINE__);
    expect_invalid(m_dup_map, "mapping[1].id 1 is also the id of mapping[0]", __LINE__);
    expect_invalid(m_build_id, "mapping[0].build_id: string index 64", __LINE__);
}

/* Non-dense ids (not 1..n) are valid when references resolve. */
static void t_sparse_ids(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = tb_example(a);
    for (size_t i = 0; i < p->n_function; i++) p->function[i]->id *= 1000003;
    for (size_t i = 0; i < p->n_location; i++) {
        p->location[i]->id += 50;
        for (size_t j = 0; j < p->location[i]->n_line; j++) p->location[i]->line[j]->function_id *= 1000003;
    }
    for (size_t i = 0; i < p->n_sample; i++)
        for (size_t j = 0; j < p->sample[i]->n_location_id; j++) p->sample[i]->location_id[j] += 50;
    p->mapping[0]->id = 7;
    for (size_t i = 0; i < p->n_location; i++) p->location[i]->mapping_id = 7;
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_validate(p, &e), KILN_OK);
    uint8_t *buf;
    size_t n;
    CHECK_EQ_INT(kiln_pprof_encode(p, 0, &buf, &n, &e), KILN_OK);
    kiln_pprof *q = NULL;
    CHECK_EQ_INT(kiln_pprof_decode(a, buf, n, NULL, &q, &e), KILN_OK);
    CHECK(q && kiln_pprof_equal(p, q, NULL, 0));
    free(buf);
    kiln_arena_destroy(a);
}

/* ---- wire-level cases ----------------------------------------------------------- */

/* a tiny protobuf writer */
typedef struct wbuf {
    uint8_t b[4096];
    size_t n;
} wbuf;
static void w_varint(wbuf *w, uint64_t v)
{
    while (v >= 0x80) {
        w->b[w->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    w->b[w->n++] = (uint8_t)v;
}
static void w_key(wbuf *w, unsigned fn, unsigned wt) { w_varint(w, (uint64_t)fn << 3 | wt); }
static void w_bytes(wbuf *w, unsigned fn, const void *p, size_t n)
{
    w_key(w, fn, 2);
    w_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void w_str(wbuf *w, const char *s) { w_bytes(w, 6, s, strlen(s)); }
static void w_msg(wbuf *w, unsigned fn, const wbuf *m) { w_bytes(w, fn, m->b, m->n); }
static void w_int(wbuf *w, unsigned fn, uint64_t v)
{
    w_key(w, fn, 0);
    w_varint(w, v);
}

/* sample_type cpu/ns, one function, one location; the sample is added by
 * the caller (its encoding is what varies). */
static void w_base(wbuf *w)
{
    wbuf vt = {.n = 0}, fn = {.n = 0}, loc = {.n = 0}, line = {.n = 0};
    w_int(&vt, 1, 1);
    w_int(&vt, 2, 2);
    w_msg(w, 1, &vt);
    w_int(&fn, 1, 1);
    w_int(&fn, 2, 3);
    w_msg(w, 5, &fn);
    w_int(&line, 1, 1);
    w_int(&line, 2, 7);
    w_int(&loc, 1, 1);
    w_msg(&loc, 4, &line);
    w_msg(w, 4, &loc);
    w_int(&loc, 1, 2); /* a second location with the same line: id 2 (last id wins) */
    w_msg(w, 4, &loc);
    w_str(w, "");
    w_str(w, "cpu");
    w_str(w, "nanoseconds");
    w_str(w, "main");
}

static kiln_pprof *decode_w(kiln_arena *a, const wbuf *w, kiln_err *e)
{
    kiln_pprof *p = NULL;
    if (kiln_pprof_decode(a, w->b, w->n, NULL, &p, e) != KILN_OK) return NULL;
    return p;
}

static void t_wire_packed_unpacked(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_err e = {0};
    /* packed */
    wbuf w1 = {.n = 0}, s1 = {.n = 0};
    w_base(&w1);
    uint8_t ids[] = {1, 2, 1};
    w_bytes(&s1, 1, ids, 3);
    uint8_t vals[] = {0xe8, 0x07}; /* 1000 */
    w_bytes(&s1, 2, vals, 2);
    w_msg(&w1, 2, &s1);
    /* unpacked, split into several occurrences, fields in reverse order */
    wbuf w2 = {.n = 0}, s2 = {.n = 0};
    w_base(&w2);
    w_int(&s2, 2, 1000);
    w_int(&s2, 1, 1);
    uint8_t ids2[] = {2};
    w_bytes(&s2, 1, ids2, 1);
    w_int(&s2, 1, 1);
    w_msg(&w2, 2, &s2);
    kiln_pprof *p1 = decode_w(a, &w1, &e), *p2 = decode_w(a, &w2, &e);
    CHECK(p1 && p2);
    if (p1 && p2) {
        char why[200];
        CHECK(kiln_pprof_equal(p1, p2, why, sizeof why));
        CHECK_EQ_INT(p1->sample[0]->n_location_id, 3);
        CHECK_EQ_INT(p1->sample[0]->location_id[1], 2);
        CHECK_EQ_INT(p1->sample[0]->value[0], 1000);
        /* protobuf-c agrees on both forms */
        kiln_pprof *q1 = NULL, *q2 = NULL;
        CHECK_EQ_INT(kiln_pprof_unpack_pc(a, w1.b, w1.n, &q1, &e), KILN_OK);
        CHECK_EQ_INT(kiln_pprof_unpack_pc(a, w2.b, w2.n, &q2, &e), KILN_OK);
        CHECK(q1 && kiln_pprof_equal(p1, q1, why, sizeof why));
        CHECK(q2 && kiln_pprof_equal(p2, q2, why, sizeof why));
    }
    kiln_arena_destroy(a);
}

static void t_wire_unknown_and_utf8(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_err e = {0};
    wbuf w = {.n = 0}, s = {.n = 0};
    w_base(&w);
    w_int(&s, 1, 1);
    w_int(&s, 2, 5);
    w_int(&s, 9, 123); /* unknown field inside a sample */
    w_msg(&w, 2, &s);
    w_int(&w, 100, 7); /* unknown top-level varint */
    w_bytes(&w, 101, "zz", 2);
    w_key(&w, 102, 1); /* fixed64 */
    memset(w.b + w.n, 0, 8);
    w.n += 8;
    w_key(&w, 103, 5); /* fixed32 */
    memset(w.b + w.n, 0, 4);
    w.n += 4;
    w_str(&w, "\xff\xfe bad utf-8 \xc3"); /* string 4: invalid UTF-8, accepted */
    w_int(&w, 13, 4);                     /* comment */
    kiln_pprof *p = decode_w(a, &w, &e);
    if (!p) test_fail(__FILE__, __LINE__, "decode: %s", e.msg);
    if (p) {
        CHECK_EQ_INT(p->n_sample, 1);
        CHECK_EQ_INT(p->n_comment, 1);
        CHECK_EQ_STR(p->string_table[p->comment[0]], "\xff\xfe bad utf-8 \xc3");
        uint8_t *buf;
        size_t n;
        CHECK_EQ_INT(kiln_pprof_encode(p, 0, &buf, &n, &e), KILN_OK);
        kiln_pprof *q = NULL;
        CHECK_EQ_INT(kiln_pprof_decode(a, buf, n, NULL, &q, &e), KILN_OK);
        CHECK(q && kiln_pprof_equal(p, q, NULL, 0));
        CHECK(n < w.n); /* unknown fields are not re-encoded */
        free(buf);
    }
    kiln_arena_destroy(a);
}

static void expect_wire_error(const wbuf *w, const char *want, int line)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_err e = {0};
    kiln_pprof *p = NULL;
    int rc = kiln_pprof_decode(a, w->b, w->n, NULL, &p, &e);
    if (rc != KILN_EINVAL) test_fail(__FILE__, line, "decode returned %d, expected EINVAL", rc);
    else if (!strstr(e.msg, want)) test_fail(__FILE__, line, "\"%s\" lacks \"%s\"", e.msg, want);
    kiln_arena_destroy(a);
}

static void t_wire_errors(void)
{
    wbuf base = {.n = 0};
    w_base(&base);
    /* truncation anywhere inside a message */
    for (size_t cut = 1; cut < base.n; cut++) {
        wbuf t = base;
        t.n = cut;
        kiln_arena *a = kiln_arena_new(0);
        kiln_err e = {0};
        kiln_pprof *p = NULL;
        int rc = kiln_pprof_decode(a, t.b, t.n, NULL, &p, &e);
        /* a cut at a field boundary leaves a shorter valid-looking profile,
         * which validation refuses (no string table etc.) or accepts */
        if (rc) CHECK(strstr(e.msg, "pprof") == e.msg);
        kiln_arena_destroy(a);
    }
    wbuf t = base;
    t.n -= 2; /* inside the last string */
    expect_wire_error(&t, "runs past the end", __LINE__);

    /* concatenated profiles: time_nanos twice */
    wbuf c = {.n = 0};
    w_base(&c);
    w_int(&c, 9, 1000);
    size_t half = c.n;
    memcpy(c.b + c.n, c.b, half);
    c.n += half;
    expect_wire_error(&c, "concatenated profiles", __LINE__);

    /* a group (wire type 3) */
    wbuf g = base;
    w_key(&g, 50, 3);
    expect_wire_error(&g, "unsupported wire type", __LINE__);

    /* field number 0 */
    wbuf z = base;
    w_varint(&z, 2);
    w_varint(&z, 0);
    expect_wire_error(&z, "invalid field number 0", __LINE__);

    /* a known varint field with the wrong wire type */
    wbuf wt = base;
    w_bytes(&wt, 12, "ab", 2); /* period as bytes */
    expect_wire_error(&wt, "period", __LINE__);

    /* varint longer than 10 bytes */
    wbuf lv = base;
    w_key(&lv, 12, 0);
    for (int i = 0; i < 11; i++) lv.b[lv.n++] = 0xff;
    lv.b[lv.n++] = 0x01;
    expect_wire_error(&lv, "bad varint", __LINE__);

    /* a sub-message whose length runs past its parent */
    wbuf sm = base, s = {.n = 0};
    w_int(&s, 1, 1);
    w_key(&s, 3, 2);
    w_varint(&s, 50); /* label claims 50 bytes */
    w_msg(&sm, 2, &s);
    expect_wire_error(&sm, "sample.label: length 50 runs past the end", __LINE__);

    /* empty input */
    kiln_arena *a = kiln_arena_new(0);
    kiln_err e = {0};
    kiln_pprof *p = NULL;
    CHECK_EQ_INT(kiln_pprof_decode(a, (const uint8_t *)"", 0, NULL, &p, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "empty");
    kiln_arena_destroy(a);
}

/* strings: a NUL cuts a string (the model keeps C strings), as with protobuf-c */
static void t_wire_nul(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_err e = {0};
    wbuf w = {.n = 0};
    w_base(&w);
    w_bytes(&w, 6, "ab\0cd", 5);
    kiln_pprof *p = decode_w(a, &w, &e), *q = NULL;
    CHECK(p != NULL);
    CHECK_EQ_INT(kiln_pprof_unpack_pc(a, w.b, w.n, &q, &e), KILN_OK);
    if (p && q) {
        CHECK_EQ_STR(p->string_table[4], "ab");
        CHECK(kiln_pprof_equal(p, q, NULL, 0));
    }
    /* string_table[0] must be empty on the wire too */
    wbuf w0 = {.n = 0};
    w_bytes(&w0, 6, "\0x", 2);
    expect_wire_error(&w0, "string_table[0] must be", __LINE__);
    kiln_arena_destroy(a);
}

/* ---- gzip ------------------------------------------------------------------------ */

static uint8_t *gz(const uint8_t *in, size_t n, int level, size_t *out_n)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    size_t cap = libdeflate_gzip_compress_bound(c, n);
    uint8_t *o = malloc(cap);
    *out_n = libdeflate_gzip_compress(c, in, n, o, cap);
    libdeflate_free_compressor(c);
    return o;
}

static void t_gzip(void)
{
    size_t n;
    uint8_t *file = test_read_corpus("pprof__sample.cpu.pb.gz", &n);
    CHECK(file != NULL);
    if (!file) return;
    kiln_arena *a = kiln_arena_new(0);
    kiln_err e = {0};
    uint8_t *raw;
    size_t raw_n;
    CHECK_EQ_INT(kiln_gunzip(a, file, n, 0, &raw, &raw_n, &e), KILN_OK);
    kiln_pprof *ref = NULL;
    CHECK_EQ_INT(kiln_pprof_decode(a, file, n, NULL, &ref, &e), KILN_OK);

    /* three members: the ISIZE of the last one is no size hint for the whole */
    size_t n1, n2, n3;
    size_t cut1 = raw_n / 3, cut2 = raw_n - 100;
    uint8_t *g1 = gz(raw, cut1, 6, &n1), *g2 = gz(raw + cut1, cut2 - cut1, 1, &n2),
            *g3 = gz(raw + cut2, raw_n - cut2, 9, &n3);
    uint8_t *multi = malloc(n1 + n2 + n3 + 8);
    memcpy(multi, g1, n1);
    memcpy(multi + n1, g2, n2);
    memcpy(multi + n1 + n2, g3, n3);
    size_t mn = n1 + n2 + n3;
    uint8_t *out;
    size_t out_n;
    CHECK_EQ_INT(kiln_gunzip(a, multi, mn, 0, &out, &out_n, &e), KILN_OK);
    CHECK_EQ_INT(out_n, raw_n);
    CHECK(out_n == raw_n && memcmp(out, raw, raw_n) == 0);
    kiln_pprof *p = NULL;
    CHECK_EQ_INT(kiln_pprof_decode(a, multi, mn, NULL, &p, &e), KILN_OK);
    CHECK(p && kiln_pprof_equal(ref, p, NULL, 0));

    /* trailing bytes that are not a gzip member */
    memcpy(multi + mn, "garbage!", 8);
    CHECK_EQ_INT(kiln_gunzip(a, multi, mn + 8, 0, &out, &out_n, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "trailing data");

    /* corrupt deflate data / CRC */
    uint8_t *bad = malloc(n);
    memcpy(bad, file, n);
    bad[n / 2] ^= 0x55;
    CHECK_EQ_INT(kiln_pprof_decode(a, bad, n, NULL, &p, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "corrupt gzip");
    /* truncated */
    CHECK_EQ_INT(kiln_pprof_decode(a, file, n - 10, NULL, &p, &e), KILN_EINVAL);
    /* a lying ISIZE is corrupt data too (gzip checks it) */
    memcpy(bad, file, n);
    bad[n - 4] ^= 1;
    CHECK_EQ_INT(kiln_pprof_decode(a, bad, n, NULL, &p, &e), KILN_EINVAL);

    /* size limit: gzip and plain */
    kiln_pprof_limits lim = {.max_inflated = raw_n - 1};
    CHECK_EQ_INT(kiln_pprof_decode(a, file, n, &lim, &p, &e), KILN_ETOOBIG);
    CHECK_CONTAINS(e.msg, "limit");
    CHECK_EQ_INT(kiln_pprof_decode(a, multi, mn, &lim, &p, &e), KILN_ETOOBIG);
    CHECK_EQ_INT(kiln_pprof_decode(a, raw, raw_n, &lim, &p, &e), KILN_ETOOBIG);
    lim.max_inflated = raw_n;
    CHECK_EQ_INT(kiln_pprof_decode(a, file, n, &lim, &p, &e), KILN_OK);
    CHECK_EQ_INT(kiln_pprof_decode(a, multi, mn, &lim, &p, &e), KILN_OK);
    CHECK_EQ_INT(kiln_gunzip(a, (const uint8_t *)"\x1f\x8b", 2, 0, &out, &out_n, &e), KILN_EINVAL);
    CHECK_EQ_INT(kiln_is_gzip((const uint8_t *)"\x1f\x8b", 2), 1);
    CHECK_EQ_INT(kiln_is_gzip((const uint8_t *)"\x1f", 1), 0);

    free(g1);
    free(g2);
    free(g3);
    free(multi);
    free(bad);
    free(file);
    kiln_arena_destroy(a);
}

/* ---- peek ------------------------------------------------------------------------- */

static void t_peek_errors(void)
{
    kiln_pprof_peek pk;
    kiln_err e = {0};
    wbuf w = {.n = 0};
    w_base(&w);
    CHECK_EQ_INT(kiln_pprof_peek_scan(w.b, w.n, &pk, &e), KILN_OK);
    CHECK_EQ_INT(pk.n_types, 1);
    CHECK(str_is(pk.type[0], "cpu") && str_is(pk.unit[0], "nanoseconds"));
    CHECK_EQ_INT(kiln_pprof_peek_scan(w.b, w.n - 2, &pk, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "at byte");
    wbuf bad = {.n = 0}, vt = {.n = 0};
    w_base(&bad);
    w_int(&vt, 1, 40);
    w_msg(&bad, 1, &vt);
    CHECK_EQ_INT(kiln_pprof_peek_scan(bad.b, bad.n, &pk, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "string index 40 out of range");
    wbuf many = {.n = 0};
    w_base(&many);
    for (int i = 0; i < KILN_PPROF_PEEK_MAX_TYPES; i++) w_msg(&many, 1, &vt);
    CHECK_EQ_INT(kiln_pprof_peek_scan(many.b, many.n, &pk, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "more than 16 sample types");
    CHECK_EQ_INT(kiln_pprof_peek_scan(NULL, 0, &pk, &e), KILN_EINVAL);
}

/* ---- equal ------------------------------------------------------------------------ */

static void t_equal(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = tb_example(a), *q = tb_example(a);
    char why[256];
    CHECK(kiln_pprof_equal(p, q, why, sizeof why));
    q->sample[0]->value[1] = 1;
    CHECK(!kiln_pprof_equal(p, q, why, sizeof why));
    CHECK_CONTAINS(why, "sample[0].value[1]");
    q = tb_example(a);
    q->function[2]->name = tb_str(a, q, "other");
    CHECK(!kiln_pprof_equal(p, q, why, sizeof why));
    CHECK_CONTAINS(why, "function[2].name: \"leaf\" != \"other\"");
    q = tb_example(a);
    /* moving a string to a new index keeps equality */
    q->string_table[q->n_string_table] = kiln_arena_strndup(a, "leaf", 4);
    q->function[2]->name = (int64_t)q->n_string_table++;
    CHECK(kiln_pprof_equal(p, q, why, sizeof why));
    q->period_type = NULL;
    CHECK(!kiln_pprof_equal(p, q, why, sizeof why));
    CHECK_CONTAINS(why, "period_type.type");
    kiln_arena_destroy(a);
}

int main(void)
{
    RUN(t_corpus);
    RUN(t_corpus_facts);
    RUN(t_validation_messages);
    RUN(t_sparse_ids);
    RUN(t_wire_packed_unpacked);
    RUN(t_wire_unknown_and_utf8);
    RUN(t_wire_errors);
    RUN(t_wire_nul);
    RUN(t_gzip);
    RUN(t_peek_errors);
    RUN(t_equal);
    return test_summary();
}
