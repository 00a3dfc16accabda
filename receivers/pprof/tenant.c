/* receivers/pprof/tenant.c — the tenant of a write request, from the
 * X-Scope-OrgID header (or the configured header), checked by the rules of
 * Grafana dskit's tenant package as Pyroscope applies them:
 *   - characters a-z A-Z 0-9 and ! - _ . * ' ( ) only (checked first);
 *   - at most 150 bytes (KILN_TENANT_MAX);
 *   - not "." and not "..";
 *   - `|` joins several IDs (federation); they are checked one by one and
 *     de-duplicated, and the write path takes exactly one: more than one
 *     distinct ID is "too many org IDs".
 * A missing or empty header means the default tenant (Pyroscope with
 * multi-tenancy off stamps "anonymous"). Nothing is allocated. */
#include "pprofrx.h"

#include <stdio.h>
#include <string.h>

static int id_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
           c == '-' || c == '_' || c == '.' || c == '*' || c == '\'' || c == '(' || c == ')';
}

int kiln_pprofrx_tenant_valid(const char *id, size_t len, kiln_err *err)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!id_char_ok(c)) {
            char ch[8];
            if (c >= 0x20 && c < 0x7f)
                snprintf(ch, sizeof ch, "%c", c);
            else
                snprintf(ch, sizeof ch, "\\x%02x", c);
            return kiln_err_set(err, KILN_EINVAL,
                                "tenant ID '%.*s' contains unsupported character '%s' (byte %zu)",
                                (int)(len > 160 ? 160 : len), id, ch, i);
        }
    }
    if (len > KILN_TENANT_MAX)
        return kiln_err_set(err, KILN_EINVAL, "tenant ID is too long: max %d characters (got %zu)",
                            KILN_TENANT_MAX, len);
    if ((len == 1 && id[0] == '.') || (len == 2 && id[0] == '.' && id[1] == '.'))
        return kiln_err_set(err, KILN_EINVAL, "tenant ID is '.' or '..'");
    return KILN_OK;
}

int kiln_pprofrx_tenant(const char *hdr, const char *def, char *out, size_t cap, kiln_err *err)
{
    const char *v = (hdr && *hdr) ? hdr : def;
    if (!v || !*v) v = KILN_TENANT_DEFAULT;
    size_t n = strlen(v);
    const char *first = NULL;
    size_t first_len = 0;
    const char *p = v, *end = v + n;
    for (;;) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        size_t l = bar ? (size_t)(bar - p) : (size_t)(end - p);
        int rc = kiln_pprofrx_tenant_valid(p, l, err);
        if (rc != KILN_OK) return rc;
        if (!first) {
            first = p;
            first_len = l;
        } else if (l != first_len || memcmp(p, first, l) != 0) {
            return kiln_err_set(err, KILN_EINVAL,
                                "too many org IDs: the write path takes one tenant, got \"%.*s\"",
                                (int)(n > 320 ? 320 : n), v);
        }
        if (!bar) break;
        p = bar + 1;
    }
    if (first_len + 1 > cap) return kiln_err_set(err, KILN_EINVAL, "tenant ID does not fit");
    memcpy(out, first, first_len);
    out[first_len] = 0;
    if (first_len == 0)
        return kiln_err_set(err, KILN_EINVAL, "tenant ID is empty");
    return KILN_OK;
}
