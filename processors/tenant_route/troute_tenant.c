/* processors/tenant_route/troute_tenant.c — tenant ID validation as Grafana
 * dskit's tenant package does it (the rules Pyroscope applies to
 * X-Scope-OrgID): 1..150 bytes, only a-z A-Z 0-9 and ! - _ . * ' ( ),
 * and neither "." nor "..". The messages follow dskit's wording.
 *
 * Memory: nothing is allocated.
 */
#include "tenant_route.h"

#include <stdio.h>
#include <string.h>

static int id_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
           c == '-' || c == '_' || c == '.' || c == '*' || c == '\'' || c == '(' || c == ')';
}

int kiln_troute_tenant_valid(const char *id, kiln_err *err)
{
    size_t len = strlen(id);
    if (len == 0) return kiln_err_set(err, KILN_EINVAL, "tenant ID is empty");
    if (len > KILN_TENANT_MAX)
        return kiln_err_set(err, KILN_EINVAL, "tenant ID is too long: max %d characters (got %zu)",
                            KILN_TENANT_MAX, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (id_char_ok(c)) continue;
        char ch[8];
        if (c >= 0x20 && c < 0x7f)
            snprintf(ch, sizeof ch, "%c", c);
        else
            snprintf(ch, sizeof ch, "\\x%02x", c);
        char shown[KILN_TENANT_MAX + 1];
        for (size_t k = 0; k < len; k++) {
            unsigned char d = (unsigned char)id[k];
            shown[k] = d >= 0x20 && d < 0x7f ? (char)d : '?';
        }
        shown[len] = 0;
        return kiln_err_set(err, KILN_EINVAL,
                            "tenant ID '%s' contains unsupported character '%s' (byte %zu)", shown, ch, i);
    }
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return kiln_err_set(err, KILN_EINVAL, "tenant ID is '.' or '..'");
    return KILN_OK;
}
