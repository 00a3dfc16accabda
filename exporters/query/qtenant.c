/* exporters/query/qtenant.c — the tenants a read request may see, from
 * X-Scope-OrgID (or the configured header) by the rules of Grafana dskit as
 * Pyroscope's read path applies them:
 *   - `|` joins several tenant IDs (federation); each is checked, the list
 *     is de-duplicated and sorted; a query then reads every one of them and
 *     nothing else;
 *   - an ID has at most 150 bytes of a-z A-Z 0-9 ! - _ . * ' ( ) and is
 *     neither "." nor "..";
 *   - no header (or an empty one): the default tenant (`anonymous`).
 *
 * Memory: *out is a malloc'ed array of malloc'ed strings
 * (kiln_query_strv_free).
 */
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
           c == '-' || c == '_' || c == '.' || c == '*' || c == '\'' || c == '(' || c == ')';
}

static int check(const char *id, size_t len, kiln_err *err)
{
    if (len == 0) return kiln_err_set(err, KILN_EINVAL, "tenant ID is empty");
    for (size_t i = 0; i < len; i++)
        if (!id_char((unsigned char)id[i]))
            return kiln_err_set(err, KILN_EINVAL,
                                "tenant ID '%.*s' contains unsupported character (byte %zu)",
                                (int)(len > 160 ? 160 : len), id, i);
    if (len > KILN_TENANT_MAX)
        return kiln_err_set(err, KILN_EINVAL, "tenant ID is too long: max %d characters",
                            KILN_TENANT_MAX);
    if ((len == 1 && id[0] == '.') || (len == 2 && id[0] == '.' && id[1] == '.'))
        return kiln_err_set(err, KILN_EINVAL, "tenant ID is '.' or '..'");
    return KILN_OK;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void kiln_query_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

int kiln_query_tenants(const char *hdr, const char *def, char ***out, size_t *n, kiln_err *err)
{
    *out = NULL;
    *n = 0;
    const char *v = hdr && *hdr ? hdr : def;
    if (!v || !*v) v = KILN_TENANT_DEFAULT;
    size_t len = strlen(v), parts = 1;
    for (size_t i = 0; i < len; i++) parts += v[i] == '|';
    char **ids = calloc(parts, sizeof *ids);
    if (!ids) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    size_t k = 0;
    const char *p = v, *end = v + len;
    int rc = KILN_OK;
    for (;;) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        size_t l = bar ? (size_t)(bar - p) : (size_t)(end - p);
        if ((rc = check(p, l, err)) != KILN_OK) break;
        if (!(ids[k++] = strndup(p, l))) {
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            break;
        }
        if (!bar) break;
        p = bar + 1;
    }
    if (rc != KILN_OK) {
        kiln_query_strv_free(ids, k);
        return rc;
    }
    if (k > 1) qsort(ids, k, sizeof *ids, cmp);
    size_t w = 0;
    for (size_t i = 0; i < k; i++) {
        if (w && !strcmp(ids[w - 1], ids[i])) {
            free(ids[i]);
            continue;
        }
        ids[w++] = ids[i];
    }
    *out = ids;
    *n = w;
    return KILN_OK;
}
