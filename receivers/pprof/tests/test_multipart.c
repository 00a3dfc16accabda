/* receivers/pprof/tests/test_multipart.c — the multipart scanner and the
 * sample_type_config parser.
 *
 * Real bodies: tests/fixtures/{go,node}_*.body were written by Go's
 * mime/multipart (as pyroscope-go uploads) and Node 20's FormData (as
 * @pyroscope/nodejs uploads) by gen_go.go / gen_node.mjs; the profile part
 * must come out byte-identical to the file that went in.
 * Hand-written bodies: the expected parts are what Go 1.19's
 * multipart.Reader returned for the same bytes (run once, recorded here). */
#include <stdlib.h>
#include <string.h>

#include "pprofrx.h"
#include "testlib.h"

static uint8_t *read_data(const char *name, size_t *len)
{
    char path[1024];
    const char *src = getenv("KILN_SRC");
    snprintf(path, sizeof path, "%s/receivers/pprof/tests/fixtures/%s", src ? src : ".", name);
    uint8_t *b = test_read_file(path, len);
    if (!b) fprintf(stderr, "cannot read %s\n", path);
    return b;
}

static char *read_ct(const char *name)
{
    size_t n;
    uint8_t *b = read_data(name, &n);
    if (!b) return NULL;
    char *s = malloc(n + 1);
    memcpy(s, b, n);
    s[n] = 0;
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
    free(b);
    return s;
}

static void check_real(const char *base, const char *profile_file, int corpus, int want_stc)
{
    char bn[128], cn[128];
    snprintf(bn, sizeof bn, "%s.body", base);
    snprintf(cn, sizeof cn, "%s.ct", base);
    size_t blen, plen;
    uint8_t *body = read_data(bn, &blen);
    char *ct = read_ct(cn);
    uint8_t *prof = corpus ? test_read_corpus(profile_file, &plen) : read_data(profile_file, &plen);
    CHECK(body && ct && prof);
    if (!body || !ct || !prof) return;
    CHECK(kiln_pprofrx_is_multipart(ct));
    kiln_pprofrx_form f;
    kiln_err e;
    kiln_err_clear(&e);
    int rc = kiln_pprofrx_form_read(ct, body, blen, &f, &e);
    CHECK_EQ_INT(rc, KILN_OK);
    if (rc != KILN_OK) fprintf(stderr, "  %s: %s\n", base, e.msg);
    CHECK(f.has_profile);
    CHECK(f.profile.has_filename);
    CHECK_EQ_INT(f.profile.len, plen);
    CHECK(f.profile.len == plen && memcmp(f.profile.data, prof, plen) == 0);
    CHECK(f.profile.data >= body && f.profile.data + f.profile.len <= body + blen); /* zero-copy */
    CHECK_EQ_INT(f.has_stc, want_stc);
    CHECK_EQ_INT(f.has_prev, 0);
    free(body);
    free(ct);
    free(prof);
}

static void t_go_body(void) { check_real("go_cpu", "pprof__sample.cpu.pb.gz", 1, 0); }
static void t_node_body(void) { check_real("node_cpu", "pprof__sample.cpu.pb.gz", 1, 0); }

static void t_go_block_stc(void)
{
    check_real("go_block", "go_block.pb.gz", 0, 1);
    size_t blen;
    uint8_t *body = read_data("go_block.body", &blen);
    char *ct = read_ct("go_block.ct");
    if (!body || !ct) return;
    kiln_pprofrx_form f;
    kiln_err e;
    CHECK_EQ_INT(kiln_pprofrx_form_read(ct, body, blen, &f, &e), KILN_OK);
    kiln_pprofrx_stc stc;
    CHECK_EQ_INT(kiln_pprofrx_stc_parse(f.sample_type_config.data, f.sample_type_config.len, &stc, &e),
                 KILN_OK);
    CHECK_EQ_INT(stc.present, 1);
    CHECK_EQ_INT(stc.n, 2);
    for (size_t i = 0; i < stc.n; i++) {
        if (strcmp(stc.v[i].key, "contentions") == 0)
            CHECK_EQ_STR(stc.v[i].display, "block_count");
        else if (strcmp(stc.v[i].key, "delay") == 0)
            CHECK_EQ_STR(stc.v[i].display, "block_duration");
        else
            CHECK(!"unexpected key");
    }
    /* with it the Go block profile is `block`; without, the defaults say mutex */
    kiln_str types[2] = {{"contentions", 11}, {"delay", 5}};
    char name[64];
    kiln_pprofrx_type_name(types, 2, &stc, name, sizeof name);
    CHECK_EQ_STR(name, "block");
    kiln_pprofrx_type_name(types, 2, NULL, name, sizeof name);
    CHECK_EQ_STR(name, "mutex");
    kiln_pprofrx_stc_free(&stc);
    free(body);
    free(ct);
}

/* ---- hand-written bodies vs Go's reader -------------------------------------------- */

typedef struct want_part {
    const char *name; /* "" when Go's FormName() is "" */
    int file;
    const char *data;
    size_t len;
} want_part;

typedef struct mcase {
    const char *id, *ct, *body;
    size_t len;
    want_part parts[3];
    size_t nparts;
    const char *err; /* NULL: ends at the closing boundary; else substring */
} mcase;

#define B(s) s, sizeof(s) - 1
#define D(s) s, sizeof(s) - 1

static const mcase mcases[] = {
    {"preamble_quoted", "multipart/form-data; boundary=\"simple boundary\"",
     B("This is the preamble.\r\n--simple boundary\r\nContent-Disposition: form-data; "
       "name=\"profile\"\r\n\r\nDATA1\r\n--simple boundary  \t\r\nContent-Disposition: form-data; "
       "name=\"x\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nline1\r\n--simple "
       "boundaryX not a boundary\r\n--simple boundary--\r\nepilogue"),
     {{"profile", 0, D("DATA1")}, {"x", 1, D("line1\r\n--simple boundaryX not a boundary")}},
     2, NULL},
    {"lf_only", "multipart/form-data; boundary=b",
     B("--b\nContent-Disposition: form-data; name=\"profile\"; filename=\"p\"\n\nabc\n--b\n"
       "Content-Disposition: form-data; name=\"y\"\n\n\n--b--\n"),
     {{"profile", 1, D("abc")}, {"y", 0, D("")}}, 2, NULL},
    {"missing_close", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nabc\r\n"), {{0}}, 0,
     "part 0 (\"profile\") starting at byte 55 has no closing boundary"},
    {"close_at_eof_no_dashes", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nabc\r\n--b"),
     {{"profile", 0, D("abc")}}, 1, "expecting a new part or the closing boundary at byte 60"},
    {"no_boundary", "multipart/form-data; boundary=b", B("hello\r\nworld\r\n"), {{0}}, 0,
     "no boundary line \"--b\""},
    {"empty_form", "multipart/form-data; boundary=b", B("--b--\r\n"), {{0}}, 0, NULL},
    {"empty_part_direct", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\n--b--\r\n"),
     {{"profile", 0, D("")}}, 1, NULL},
    {"empty_part_crlf", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\n\r\n--b--\r\n"),
     {{"profile", 0, D("")}}, 1, NULL},
    {"continuation", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data;\r\n name=\"profile\";\r\n\tfilename=\"p.pprof\"\r\n"
       "\r\nZ\r\n--b--"),
     {{"profile", 1, D("Z")}}, 1, NULL},
    {"escaped_name", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data; name=\"pro\\\"file\"\r\n\r\nZ\r\n--b--"),
     {{"pro\"file", 0, D("Z")}}, 1, NULL},
    {"attachment", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: attachment; name=\"profile\"\r\n\r\nZ\r\n--b--"),
     {{"", 0, D("Z")}}, 1, NULL},
    {"dup_param", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data; name=\"profile\"; name=\"x\"\r\n\r\nZ\r\n--b--"),
     {{"", 0, D("Z")}}, 1, NULL},
    {"garbage_after_part", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nZ\r\n--b junk\r\n--b--"),
     {{"profile", 0, D("Z")}}, 1, "expecting a new part"},
    {"data_with_crlf_dash", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nA\r\n--bb\r\n--c\r\nB\r\n"
       "--b-x\r\n--b--"),
     {{"profile", 0, D("A\r\n--bb\r\n--c\r\nB\r\n--b-x")}}, 1, NULL},
    {"bad_header", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition form-data\r\n\r\nZ\r\n--b--"), {{0}}, 0,
     "part 0: malformed header line at byte 5"},
    {"first_line_space", "multipart/form-data; boundary=b",
     B("--b\r\n Content-Disposition: form-data; name=\"profile\"\r\n\r\nZ\r\n--b--"), {{0}}, 0,
     "malformed first header line"},
    {"final_with_space", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nZ\r\n--b--  \r\n"),
     {{"profile", 0, D("Z")}}, 1, NULL},
    {"final_in_preamble_then_more", "multipart/form-data; boundary=b",
     B("junk\r\n--b--\r\n--b\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nZ\r\n--b--"),
     {{0}}, 0, NULL},
    {"mixed_nl", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nZ\n--b\r\n"
       "Content-Disposition: form-data; name=\"q\"\r\n\r\nW\r\n--b--"),
     {{"profile", 0, D("Z\n--b\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nW")}}, 1,
     NULL},
    /* Go returns EOF here and forgets the part; kiln calls the body cut */
    {"headers_unterminated", "multipart/form-data; boundary=b",
     B("--b\r\nContent-Disposition: form-data; name=\"profile\"\r\n"), {{0}}, 0,
     "not terminated by an empty line"},
};

static void t_against_go(void)
{
    for (size_t i = 0; i < sizeof mcases / sizeof mcases[0]; i++) {
        const mcase *c = &mcases[i];
        char b[KILN_PPROFRX_BOUNDARY_MAX + 1];
        size_t bl;
        kiln_err e;
        kiln_err_clear(&e);
        CHECK_EQ_INT(kiln_pprofrx_mp_boundary(c->ct, b, sizeof b, &bl, &e), KILN_OK);
        kiln_pprofrx_mp mp;
        kiln_pprofrx_mp_init(&mp, (const uint8_t *)c->body, c->len, b, bl);
        kiln_pprofrx_part p;
        size_t n = 0;
        int rc;
        while ((rc = kiln_pprofrx_mp_next(&mp, &p, &e)) == 1) {
            if (n < c->nparts) {
                const want_part *w = &c->parts[n];
                CHECK_EQ_STR(p.name_ok ? p.name : "", w->name);
                CHECK_EQ_INT(p.has_filename, w->file);
                CHECK_EQ_INT(p.len, w->len);
                CHECK(p.len == w->len && memcmp(p.data, w->data, w->len) == 0);
                CHECK_EQ_INT(p.offset, (size_t)(p.data - (const uint8_t *)c->body));
            }
            n++;
        }
        if (n != c->nparts || (c->err ? rc != KILN_EINVAL : rc != 0))
            fprintf(stderr, "  case %s: %zu parts rc=%d err=%s\n", c->id, n, rc, e.msg);
        CHECK_EQ_INT(n, c->nparts);
        if (c->err) {
            CHECK_EQ_INT(rc, KILN_EINVAL);
            CHECK_CONTAINS(e.msg, c->err);
        } else {
            CHECK_EQ_INT(rc, 0);
        }
        /* once done, it stays done */
        CHECK_EQ_INT(kiln_pprofrx_mp_next(&mp, &p, &e), 0);
    }
}

typedef struct bcase {
    const char *ct;
    const char *want; /* NULL: error */
    const char *err;
} bcase;

static const bcase bcases[] = {
    /* accepted by Go's mime.ParseMediaType */
    {"multipart/form-data; boundary=\"a\\\"b\"", "a\"b", NULL},
    {"multipart/form-data;boundary=abc;", "abc", NULL},
    {"multipart/form-data; BOUNDARY=XyZ", "XyZ", NULL},
    {"multipart/form-data; charset=utf-8; boundary=\"x y\"", "x y", NULL},
    {"multipart/form-data; boundary=\"C:\\dev\"", "C:\\dev", NULL}, /* MSIE rule: \d stays */
    {"Multipart/Form-Data; boundary=----formdata-undici-052692519314",
     "----formdata-undici-052692519314", NULL},
    /* refused by it */
    {"multipart/form-data; boundary=a=b", NULL, "invalid media parameter at byte"},
    {"multipart/form-data; boundary=a; boundary=b", NULL, "duplicate parameter \"boundary\""},
    {"multipart/form-data", NULL, "without a boundary"},
    {"multipart/form-data; boundary=\"\"", NULL, "empty boundary"},
    {"multipart/form-data; boundary=abc junk", NULL, "invalid media parameter at byte 34"},
    {"multipart/form-data; boundary=\"abc", NULL, "invalid media parameter"},
    {"/form-data; boundary=abc", NULL, "invalid media type at byte 0"},
};

static void t_boundary(void)
{
    for (size_t i = 0; i < sizeof bcases / sizeof bcases[0]; i++) {
        char b[KILN_PPROFRX_BOUNDARY_MAX + 1];
        size_t bl = 0;
        kiln_err e;
        kiln_err_clear(&e);
        int rc = kiln_pprofrx_mp_boundary(bcases[i].ct, b, sizeof b, &bl, &e);
        if (bcases[i].want) {
            CHECK_EQ_INT(rc, KILN_OK);
            if (rc == KILN_OK) {
                CHECK_EQ_STR(b, bcases[i].want);
                CHECK_EQ_INT(bl, strlen(bcases[i].want));
            }
        } else {
            CHECK_EQ_INT(rc, KILN_EINVAL);
            CHECK_CONTAINS(e.msg, bcases[i].err);
        }
    }
    char longb[400];
    memset(longb, 'z', sizeof longb);
    snprintf(longb, sizeof longb, "multipart/form-data; boundary=");
    longb[30] = 'z';
    longb[sizeof longb - 1] = 0;
    char b[KILN_PPROFRX_BOUNDARY_MAX + 1];
    size_t bl;
    kiln_err e;
    CHECK_EQ_INT(kiln_pprofrx_mp_boundary(longb, b, sizeof b, &bl, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "too long");
}

static void t_is_multipart(void)
{
    CHECK(kiln_pprofrx_is_multipart("multipart/form-data; boundary=x"));
    CHECK(kiln_pprofrx_is_multipart("MULTIPART/FORM-DATA"));
    CHECK(!kiln_pprofrx_is_multipart("multipart/mixed; boundary=x"));
    CHECK(!kiln_pprofrx_is_multipart("application/octet-stream"));
    CHECK(!kiln_pprofrx_is_multipart(NULL));
}

static void t_form_rules(void)
{
    kiln_pprofrx_form f;
    kiln_err e;
    /* first part of a name wins; parts with and without filename count; an
     * unknown name is ignored; prev_profile and sample_type_config found */
    static const char body[] =
        "--X\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nignored\r\n"
        "--X\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nFIRST\r\n"
        "--X\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"p\"\r\n\r\nSECOND\r\n"
        "--X\r\nContent-Disposition: form-data; name=\"prev_profile\"; filename=\"p\"\r\n\r\n\r\n"
        "--X\r\nContent-Disposition: form-data; name=\"sample_type_config\"\r\n\r\n{}\r\n--X--\r\n";
    CHECK_EQ_INT(kiln_pprofrx_form_read("multipart/form-data; boundary=X", (const uint8_t *)body,
                                        sizeof body - 1, &f, &e),
                 KILN_OK);
    CHECK(f.has_profile && f.profile.len == 5 && memcmp(f.profile.data, "FIRST", 5) == 0);
    CHECK_EQ_INT(f.profile.index, 1);
    CHECK_EQ_INT(f.profile.has_filename, 0);
    CHECK(f.has_prev && f.prev_profile.len == 0);
    CHECK(f.has_stc && f.sample_type_config.len == 2);

    static const char qp[] =
        "--X\r\nContent-Disposition: form-data; name=\"profile\"\r\n"
        "Content-Transfer-Encoding: Quoted-Printable\r\n\r\nA=3D\r\n--X--";
    CHECK_EQ_INT(kiln_pprofrx_form_read("multipart/form-data; boundary=X", (const uint8_t *)qp,
                                        sizeof qp - 1, &f, &e),
                 KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "quoted-printable is not supported");

    CHECK_EQ_INT(kiln_pprofrx_form_read("multipart/form-data; boundary=X", (const uint8_t *)"", 0,
                                        &f, &e),
                 KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "body is empty");
}

static void t_too_many_parts(void)
{
    size_t cap = (KILN_PPROFRX_MAX_PARTS + 2) * 64, o = 0;
    char *b = malloc(cap);
    for (int i = 0; i < KILN_PPROFRX_MAX_PARTS + 1; i++)
        o += (size_t)snprintf(b + o, cap - o, "--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n");
    o += (size_t)snprintf(b + o, cap - o, "--X--");
    kiln_pprofrx_form f;
    kiln_err e;
    CHECK_EQ_INT(kiln_pprofrx_form_read("multipart/form-data; boundary=X", (uint8_t *)b, o, &f, &e),
                 KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "more than 1000 parts");
    free(b);
}

/* ---- sample_type_config ------------------------------------------------------------ */

typedef struct scase {
    const char *json;
    int ok, present;
    const char *expect; /* "key=display;key2=" in order; or error substring */
} scase;

static const scase scases[] = {
    {"null", 1, 0, ""},
    {"  {}  ", 1, 1, ""},
    {"{\"contentions\":{\"display-name\":\"mutex_count\",\"units\":\"lock_samples\"},"
     "\"delay\":{\"display-name\":\"mutex_duration\",\"units\":\"lock_nanoseconds\"}}",
     1, 1, "contentions=mutex_count;delay=mutex_duration"},
    {"{\"alloc_space\":{\"units\":\"bytes\",\"aggregation\":\"average\",\"cumulative\":true,"
     "\"sampled\":false}}",
     1, 1, "alloc_space="},
    {"{\"a\":null,\"b\":{}}", 1, 1, "a=;b="},
    {"{\"a\":{\"Display-Name\":\"x\"}}", 1, 1, "a=x"},          /* case-insensitive fields */
    {"{\"a\":{\"display-name\":\"x\",\"display-name\":null}}", 1, 1, "a=x"}, /* null: no change */
    {"{\"a\":{\"display-name\":\"x\"},\"a\":{}}", 1, 1, "a="},  /* repeated key replaces */
    {"{\"a\\u00e9\\ud83d\\ude00\":{\"display-name\":\"c\\\"p\\\\u\"}}", 1, 1,
     "a\xc3\xa9\xf0\x9f\x98\x80=c\"p\\u"},
    {"{\"a\":{\"other\":[1,2.5e3,{\"x\":[true,false,null]},\"s\"]}}", 1, 1, "a="},
    {"[]", 0, 0, "byte 0: expected an object keyed by sample type"},
    {"{\"a\":5}", 0, 0, "byte 5: expected an object (or null)"},
    {"{\"a\":{\"units\":5}}", 0, 0, "byte 14: expected a string"},
    {"{\"a\":{\"cumulative\":\"yes\"}}", 0, 0, "expected true or false"},
    {"{\"a\":{}} x", 0, 0, "trailing data at byte 9"},
    {"{\"a\":{}", 0, 0, "expected ',' or '}'"},
    {"{\"a\":{\"x\":01}}", 0, 0, "expected ',' or '}'"},
    {"{\"a\":{\"x\":\"\\q\"}}", 0, 0, "unknown escape"},
    {"{\"a\":{\"x\":\"\x01\"}}", 0, 0, "control character"},
    {"", 0, 0, "byte 0"},
};

static void t_stc(void)
{
    for (size_t i = 0; i < sizeof scases / sizeof scases[0]; i++) {
        const scase *c = &scases[i];
        kiln_pprofrx_stc stc;
        kiln_err e;
        kiln_err_clear(&e);
        int rc = kiln_pprofrx_stc_parse((const uint8_t *)c->json, strlen(c->json), &stc, &e);
        if (!c->ok) {
            CHECK_EQ_INT(rc, KILN_EINVAL);
            CHECK_CONTAINS(e.msg, c->expect);
            CHECK_CONTAINS(e.msg, "sample_type_config: ");
            continue;
        }
        CHECK_EQ_INT(rc, KILN_OK);
        if (rc != KILN_OK) {
            fprintf(stderr, "  %s: %s\n", c->json, e.msg);
            continue;
        }
        CHECK_EQ_INT(stc.present, c->present);
        char got[256] = "";
        size_t o = 0;
        for (size_t k = 0; k < stc.n; k++)
            o += (size_t)snprintf(got + o, sizeof got - o, "%s%s=%s", k ? ";" : "", stc.v[k].key,
                                  stc.v[k].display ? stc.v[k].display : "");
        CHECK_EQ_STR(got, c->expect);
        kiln_pprofrx_stc_free(&stc);
    }
    /* deep nesting in an unknown field is refused, not recursed without end */
    char deep[400];
    size_t o = (size_t)snprintf(deep, sizeof deep, "{\"a\":{\"x\":");
    for (int i = 0; i < 100; i++) deep[o++] = '[';
    for (int i = 0; i < 100; i++) deep[o++] = ']';
    o += (size_t)snprintf(deep + o, sizeof deep - o, "}}");
    kiln_pprofrx_stc stc;
    kiln_err e;
    CHECK_EQ_INT(kiln_pprofrx_stc_parse((uint8_t *)deep, o, &stc, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "nesting too deep");
}

int main(void)
{
    RUN(t_go_body);
    RUN(t_node_body);
    RUN(t_go_block_stc);
    RUN(t_against_go);
    RUN(t_boundary);
    RUN(t_is_multipart);
    RUN(t_form_rules);
    RUN(t_too_many_parts);
    RUN(t_stc);
    return test_summary();
}
