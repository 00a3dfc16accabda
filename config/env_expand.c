/* config/env_expand.c — ${env:VAR}, ${env:VAR:-default}, ${VAR} and $$ in
 * config values, as the OpenTelemetry Collector expands them.
 *
 * Memory: the result is copied into the caller's arena; the scratch buffer
 * is malloc'ed and freed here. Reads the process environment (getenv); no
 * state of its own.
 */
#include "kiln_config.h"

#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static int buf_put(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

static int name_ok(const char *s, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return 0;
    }
    return 1;
}

/* Copies at most 40 bytes of s for a message, '?' for control bytes. */
static void excerpt(char *dst, size_t cap, const char *s, size_t n)
{
    size_t k = 0, lim = n < 40 ? n : 40;
    for (size_t i = 0; i < lim && k + 1 < cap; i++)
        dst[k++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (n > lim && k + 4 < cap) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = 0;
}

int kiln_env_expand(kiln_arena *a, const char *s, size_t n, char **out, size_t *out_len,
                    char *unset, size_t unset_cap, kiln_err *err)
{
    buf b = {0};
    int rc = KILN_OK, have_unset = 0;
    char ex[64];
    size_t i = 0;
    if (unset && unset_cap) unset[0] = 0;
    while (i < n) {
        const char *d = memchr(s + i, '$', n - i);
        size_t lit = d ? (size_t)(d - (s + i)) : n - i;
        if (lit && buf_put(&b, s + i, lit)) goto nomem;
        i += lit;
        if (i >= n) break;
        /* s[i] == '$' */
        if (i + 1 < n && s[i + 1] == '$') {
            if (buf_put(&b, "$", 1)) goto nomem;
            i += 2;
            continue;
        }
        if (!(i + 1 < n && s[i + 1] == '{')) {
            if (buf_put(&b, "$", 1)) goto nomem;
            i += 1;
            continue;
        }
        const char *start = s + i + 2;
        const char *close = memchr(start, '}', n - (i + 2));
        if (!close) {
            excerpt(ex, sizeof ex, s + i, n - i);
            rc = kiln_err_set(err, KILN_EINVAL, "unterminated \"${\" in \"%s\" (write $$ for a literal $)",
                              ex);
            goto out;
        }
        size_t inner = (size_t)(close - start);
        const char *name = start;
        size_t name_len = inner;
        const char *def = NULL;
        size_t def_len = 0;
        /* scheme: "env:" is the only one; no scheme means env */
        const char *colon = memchr(start, ':', inner);
        if (colon) {
            size_t scheme_len = (size_t)(colon - start);
            if (scheme_len == 3 && memcmp(start, "env", 3) == 0) {
                name = colon + 1;
                name_len = (size_t)(close - name);
            } else if (name_ok(start, scheme_len) && !(colon + 1 < close && colon[1] == '-')) {
                excerpt(ex, sizeof ex, start, scheme_len);
                rc = kiln_err_set(err, KILN_EINVAL,
                                  "unsupported expansion scheme \"%s\" (kiln expands only ${env:NAME})",
                                  ex);
                goto out;
            }
        }
        /* default: NAME:-text */
        for (size_t k = 0; k + 1 < name_len; k++) {
            if (name[k] == ':' && name[k + 1] == '-') {
                def = name + k + 2;
                def_len = name_len - k - 2;
                name_len = k;
                break;
            }
        }
        if (!name_ok(name, name_len)) {
            excerpt(ex, sizeof ex, name, name_len);
            rc = kiln_err_set(err, KILN_EINVAL,
                              "bad environment variable name \"%s\" (expected [A-Za-z_][A-Za-z0-9_]*)",
                              ex);
            goto out;
        }
        char nm[256];
        if (name_len >= sizeof nm) {
            excerpt(ex, sizeof ex, name, name_len);
            rc = kiln_err_set(err, KILN_EINVAL, "environment variable name \"%s\" is too long", ex);
            goto out;
        }
        memcpy(nm, name, name_len);
        nm[name_len] = 0;
        const char *val = getenv(nm);
        if (val) {
            if (buf_put(&b, val, strlen(val))) goto nomem;
        } else if (def) {
            if (buf_put(&b, def, def_len)) goto nomem;
        } else if (!have_unset) {
            have_unset = 1;
            if (unset && unset_cap) {
                size_t k = name_len < unset_cap - 1 ? name_len : unset_cap - 1;
                memcpy(unset, nm, k);
                unset[k] = 0;
            }
        }
        i = (size_t)(close - s) + 1;
    }
    {
        char *r = kiln_arena_strndup(a, b.p ? b.p : "", b.n);
        if (!r) goto nomem;
        *out = r;
        if (out_len) *out_len = b.n;
    }
    goto out;
nomem:
    rc = kiln_err_set(err, KILN_ENOMEM, "out of memory expanding environment variables");
out:
    free(b.p);
    return rc;
}
