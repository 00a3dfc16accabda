/* receivers/pprof/tests/test_tenant.c — tenant resolution and dskit's
 * tenant ID rules, table-driven. */
#include <string.h>

#include "pprofrx.h"
#include "testlib.h"

typedef struct tcase {
    const char *hdr; /* NULL: header absent */
    const char *want;  /* tenant, or NULL when refused */
    const char *err;   /* substring of the error */
} tcase;

static const tcase cases[] = {
    {NULL, "anonymous", NULL},
    {"", "anonymous", NULL},
    {"team-a", "team-a", NULL},
    {"A.b_c-d!e*f'g(h)i", "A.b_c-d!e*f'g(h)i", NULL},
    {"a|a", "a", NULL}, /* duplicates collapse (dskit NormalizeTenantIDs) */
    {"a|b", NULL, "too many org IDs"},
    {"a|", NULL, "too many org IDs"},
    {".", NULL, "tenant ID is '.' or '..'"},
    {"..", NULL, "tenant ID is '.' or '..'"},
    {"...", "...", NULL},
    {"back\\slash", NULL, "tenant ID 'back\\slash' contains unsupported character '\\' (byte 4)"},
    {"sp ace", NULL, "contains unsupported character ' '"},
    {"col:on", NULL, "contains unsupported character ':'"},
    {"sl/ash", NULL, "contains unsupported character '/'"},
    {"caf\xc3\xa9", NULL, "contains unsupported character '\\xc3' (byte 3)"},
    {"|", NULL, "tenant ID is empty"},
};

static void t_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[KILN_TENANT_MAX + 1];
        kiln_err e;
        kiln_err_clear(&e);
        int rc = kiln_pprofrx_tenant(cases[i].hdr, "anonymous", out, sizeof out, &e);
        if (cases[i].want) {
            CHECK_EQ_INT(rc, KILN_OK);
            CHECK_EQ_STR(out, cases[i].want);
        } else {
            CHECK_EQ_INT(rc, KILN_EINVAL);
            CHECK_CONTAINS(e.msg, cases[i].err);
        }
    }
}

static void t_length(void)
{
    char id[200], out[KILN_TENANT_MAX + 1];
    kiln_err e;
    memset(id, 'x', sizeof id);
    id[150] = 0;
    CHECK_EQ_INT(kiln_pprofrx_tenant(id, "anonymous", out, sizeof out, &e), KILN_OK);
    CHECK_EQ_INT(strlen(out), 150);
    id[150] = 'x';
    id[151] = 0;
    CHECK_EQ_INT(kiln_pprofrx_tenant(id, "anonymous", out, sizeof out, &e), KILN_EINVAL);
    CHECK_EQ_STR(e.msg, "tenant ID is too long: max 150 characters (got 151)");
    /* dskit checks the characters before the length */
    id[0] = '$';
    CHECK_EQ_INT(kiln_pprofrx_tenant(id, "anonymous", out, sizeof out, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "unsupported character '$' (byte 0)");
}

static void t_default(void)
{
    char out[KILN_TENANT_MAX + 1];
    kiln_err e;
    CHECK_EQ_INT(kiln_pprofrx_tenant(NULL, "fallback", out, sizeof out, &e), KILN_OK);
    CHECK_EQ_STR(out, "fallback");
    CHECK_EQ_INT(kiln_pprofrx_tenant_valid("ok", 2, &e), KILN_OK);
    CHECK_EQ_INT(kiln_pprofrx_tenant_valid("a|b", 3, &e), KILN_EINVAL);
}

int main(void)
{
    RUN(t_table);
    RUN(t_length);
    RUN(t_default);
    return test_summary();
}
