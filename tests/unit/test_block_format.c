/* tests/unit/test_block_format.c — block ids (ULIDs), tenant escaping,
 * object keys and meta.json: round trips and the inputs they must refuse. */
#include "test_block_util.h"

static void t_ids(void)
{
    kiln_block_id a, b;
    kiln_err err;
    CHECK_EQ_INT(kiln_block_id_new(1700000000123456789LL, a, &err), KILN_OK);
    CHECK_EQ_INT(kiln_block_id_new(1700000000124456789LL, b, &err), KILN_OK);
    CHECK_EQ_INT(strlen(a), KILN_BLOCK_ID_LEN);
    int64_t ms;
    CHECK(kiln_block_id_parse(a, &ms));
    CHECK_EQ_INT(ms, 1700000000123LL);
    CHECK(strcmp(a, b) < 0); /* sortable by time */
    kiln_block_id c;
    CHECK_EQ_INT(kiln_block_id_new(1700000000123456789LL, c, &err), KILN_OK);
    CHECK(strcmp(a, c) != 0); /* random part */
    CHECK(memcmp(a, c, 10) == 0);
    CHECK(!kiln_block_id_parse("01M80R0BVB16BC40K7RT79F6M", NULL));   /* 25 chars */
    CHECK(!kiln_block_id_parse("01M80R0BVB16BC40K7RT79F6MI", NULL));  /* I is not Crockford */
    CHECK(!kiln_block_id_parse("81M80R0BVB16BC40K7RT79F6M2", NULL));  /* over 48 bits of time */
    CHECK(!kiln_block_id_parse("01m80r0bvb16bc40k7rt79f6m2", NULL));  /* lowercase */
    CHECK(kiln_block_id_parse("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", NULL));
}

static void t_tenant_escape(void)
{
    const char *ok[] = {"anonymous", "team-a.b_c", "../x", ".hidden", "a/b", "a b", "\xc3\xbc", "%", "x."};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char esc[64], back[64];
        size_t n = kiln_blocks_tenant_escape(ok[i], esc, sizeof esc);
        CHECK_EQ_INT(n, strlen(esc));
        CHECK(strchr(esc, '/') == NULL);
        CHECK(esc[0] != '.');
        CHECK_EQ_INT(kiln_blocks_tenant_unescape(esc, back, sizeof back), 0);
        CHECK_EQ_STR(back, ok[i]);
    }
    char esc[64];
    kiln_blocks_tenant_escape("../x", esc, sizeof esc);
    CHECK_EQ_STR(esc, "%2E.%2Fx");
    kiln_blocks_tenant_escape("anonymous", esc, sizeof esc);
    CHECK_EQ_STR(esc, "anonymous");
    const char *bad[] = {"%G0", "%2", "a/b", "", "%00", ".x", "a%2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char back[64];
        CHECK(kiln_blocks_tenant_unescape(bad[i], back, sizeof back) != 0);
    }
    char key[128];
    CHECK_EQ_INT(kiln_block_key("a b", "01M80R0BVB16BC40K7RT79F6M2", "meta.json", key, sizeof key), KILN_OK);
    CHECK_EQ_STR(key, "a%20b/01M80R0BVB16BC40K7RT79F6M2/meta.json");
    /* truncation is reported */
    CHECK(kiln_block_key("anonymous", "01M80R0BVB16BC40K7RT79F6M2", "meta.json", key, 20) != KILN_OK);
}

static void fill_meta(kiln_block_meta *m)
{
    memset(m, 0, sizeof *m);
    m->version = KILN_BLOCK_FORMAT_VERSION;
    snprintf(m->id, sizeof m->id, "01M80R0BVB16BC40K7RT79F6M2");
    m->tenant = strdup("team \"x\"\n\\y");
    m->min_time_ns = -5;
    m->max_time_ns = INT64_MAX;
    m->created_ns = 1700000000000000000LL;
    m->n_series = 1;
    m->n_profiles = 2;
    m->n_samples = UINT64_MAX;
    m->n_stacks = 4;
    m->n_locations = 5;
    m->n_functions = 6;
    m->n_mappings = 7;
    m->n_strings = 8;
    m->level = 3;
    m->n_sources = 2;
    m->sources = calloc(2, sizeof *m->sources);
    snprintf(m->sources[0], sizeof m->sources[0], "01M80R0BVB16BC40K7RT79F6M2");
    snprintf(m->sources[1], sizeof m->sources[1], "01M80R0BVB16BC40K7RT79F6M3");
    m->n_parents = 1;
    m->parents = calloc(1, sizeof *m->parents);
    snprintf(m->parents[0], sizeof m->parents[0], "01M80R0BVB16BC40K7RT79F6M4");
    snprintf(m->source, sizeof m->source, "compactor");
    for (int i = 0; i < KILN_BLOCK_NFILES; i++) m->files[i] = (kiln_block_file){100u + (uint64_t)i, 0xfffffff0u + (uint32_t)i};
}

static void t_meta_roundtrip(void)
{
    kiln_block_meta m, d;
    fill_meta(&m);
    char *json;
    size_t len;
    kiln_err err;
    CHECK_EQ_INT(kiln_block_meta_encode(&m, &json, &len, &err), KILN_OK);
    CHECK_EQ_INT(kiln_block_meta_decode((const uint8_t *)json, len, &d, &err), KILN_OK);
    CHECK_EQ_STR(d.id, m.id);
    CHECK_EQ_STR(d.tenant, m.tenant);
    CHECK_EQ_INT(d.min_time_ns, -5);
    CHECK(d.max_time_ns == INT64_MAX);
    CHECK(d.n_samples == UINT64_MAX);
    CHECK_EQ_INT(d.level, 3);
    CHECK_EQ_INT(d.n_sources, 2);
    CHECK_EQ_STR(d.sources[1], "01M80R0BVB16BC40K7RT79F6M3");
    CHECK_EQ_INT(d.n_parents, 1);
    CHECK_EQ_STR(d.parents[0], "01M80R0BVB16BC40K7RT79F6M4");
    CHECK_EQ_STR(d.source, "compactor");
    for (int i = 0; i < KILN_BLOCK_NFILES; i++) {
        CHECK(d.files[i].size == m.files[i].size);
        CHECK(d.files[i].crc32 == m.files[i].crc32);
    }
    kiln_block_meta_free(&d);
    free(json);
    kiln_block_meta_free(&m);
}

static int decodes(const char *json, char *msg, size_t cap)
{
    kiln_block_meta d;
    kiln_err err;
    kiln_err_clear(&err);
    int rc = kiln_block_meta_decode((const uint8_t *)json, strlen(json), &d, &err);
    if (rc == KILN_OK) kiln_block_meta_free(&d);
    snprintf(msg, cap, "%s", err.msg);
    return rc == KILN_OK;
}

#define GOOD_FILES "\"files\": [{\"name\": \"index.bin\", \"size\": 1, \"crc32\": 2}, " \
    "{\"name\": \"symbols.bin\", \"size\": 1, \"crc32\": 2}, {\"name\": \"samples.bin\", \"size\": 1, \"crc32\": 2}]"
#define GOOD_REST "\"id\": \"01M80R0BVB16BC40K7RT79F6M2\", \"tenant\": \"t\", \"min_time_ns\": 1, " \
    "\"max_time_ns\": 2, \"created_ns\": 3, \"stats\": {\"series\": 1, \"profiles\": 1, \"samples\": 1, " \
    "\"stacks\": 1, \"locations\": 1, \"functions\": 1, \"mappings\": 0, \"strings\": 2}, " \
    "\"compaction\": {\"level\": 1, \"sources\": [\"01M80R0BVB16BC40K7RT79F6M2\"], \"parents\": []}, "

static void t_meta_refusals(void)
{
    char msg[600];
    CHECK(decodes("{\"format\": \"kiln-block\", \"version\": 1, " GOOD_REST GOOD_FILES "}", msg, sizeof msg));
    /* unknown keys and escapes are fine */
    CHECK(decodes("{\"format\": \"kiln-block\", \"version\": 1, \"future\": {\"x\": [1, true, null, \"\\u00e9\\ud83d\\ude00\"]}, " GOOD_REST GOOD_FILES "}", msg, sizeof msg));
    CHECK(!decodes("{\"format\": \"kiln-block\", \"version\": 2, " GOOD_REST GOOD_FILES "}", msg, sizeof msg));
    CHECK_CONTAINS(msg, "version 2");
    CHECK(!decodes("{\"format\": \"other\", \"version\": 1, " GOOD_REST GOOD_FILES "}", msg, sizeof msg));
    CHECK(!decodes("{\"format\": \"kiln-block\", \"version\": 1, " GOOD_REST "\"files\": []}", msg, sizeof msg));
    CHECK_CONTAINS(msg, "missing");
    CHECK(!decodes("{\"format\": \"kiln-block\", \"version\": 1, " GOOD_REST GOOD_FILES "} x", msg, sizeof msg));
    CHECK(!decodes("{\"format\": \"kiln-block\", \"version\": 1, " GOOD_REST GOOD_FILES, msg, sizeof msg));
    CHECK(!decodes("{\"format\": \"kiln-block\", \"version\": 1.5, " GOOD_REST GOOD_FILES "}", msg, sizeof msg));
    CHECK(!decodes("{\"format\": \"kiln-block\", \"version\": 1, \"bad\": \"\\ud800\", " GOOD_REST GOOD_FILES "}", msg, sizeof msg));
    CHECK(!decodes("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", msg, sizeof msg));
    CHECK(!decodes("", msg, sizeof msg));
}

int main(void)
{
    RUN(t_ids);
    RUN(t_tenant_escape);
    RUN(t_meta_roundtrip);
    RUN(t_meta_refusals);
    return test_summary();
}
