/* pipeline/objstore.c — the object store's public entry points: key checks,
 * then dispatch to the backend (objstore_fs.c, objstore_s3.c); and the
 * kiln_osbuf string buffer the backends share.
 *
 * Memory: the store is owned by whoever opened it (kiln_objstore_close).
 * get/get_range hand malloc'ed buffers to the caller. A kiln_osbuf owns its
 * bytes.
 */
#include "objstore_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- keys ------------------------------------------------------------------ */

int kiln_objstore_is_tmp_name(const char *seg, size_t len)
{
    static const char mark[] = ".tmp.";
    const size_t ml = sizeof mark - 1;
    if (len < ml + KILN_OBJSTORE_TMP_RAND + 1) return 0; /* needs a name before the mark */
    const char *m = seg + len - KILN_OBJSTORE_TMP_RAND - ml;
    if (memcmp(m, mark, ml) != 0) return 0;
    for (size_t i = 0; i < KILN_OBJSTORE_TMP_RAND; i++) {
        char c = m[ml + i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return 0;
    }
    return 1;
}

/* Checks a '/'-separated path; allow_trailing: a trailing '/' (prefixes). */
static int check_path(const char *what, const char *s, int allow_trailing, kiln_err *err)
{
    size_t n = strlen(s);
    if (n > KILN_OBJSTORE_KEY_MAX)
        return kiln_err_set(err, KILN_EINVAL, "objstore: %s is %zu bytes long, over the limit of %d",
                            what, n, KILN_OBJSTORE_KEY_MAX);
    if (s[0] == '/')
        return kiln_err_set(err, KILN_EINVAL, "objstore: %s \"%.64s\" starts with '/'", what, s);
    size_t seg = 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i < n && (c < 0x20 || c == 0x7f))
            return kiln_err_set(err, KILN_EINVAL, "objstore: %s \"%.64s\" has control byte 0x%02x at %zu",
                                what, s, c, i);
        if (i < n && c != '/') continue;
        size_t sl = i - seg;
        const char *sp = s + seg;
        if (sl == 0) {
            if (i == n && allow_trailing) break; /* "a/" or "" */
            return kiln_err_set(err, KILN_EINVAL, "objstore: %s \"%.64s\" has an empty segment at byte %zu",
                                what, s, i);
        }
        if ((sl == 1 && sp[0] == '.') || (sl == 2 && sp[0] == '.' && sp[1] == '.'))
            return kiln_err_set(err, KILN_EINVAL, "objstore: %s \"%.64s\" has a \"%.*s\" segment",
                                what, s, (int)sl, sp);
        if (kiln_objstore_is_tmp_name(sp, sl))
            return kiln_err_set(err, KILN_EINVAL,
                                "objstore: %s \"%.64s\" has a segment named like a temporary file "
                                "(\"*.tmp.<12 characters>\")", what, s);
        seg = i + 1;
    }
    return KILN_OK;
}

int kiln_objstore_check_key(const char *key, kiln_err *err)
{
    if (!key || !key[0]) return kiln_err_set(err, KILN_EINVAL, "objstore: empty key");
    return check_path("key", key, 0, err);
}

int kiln_objstore_check_prefix(const char *prefix, kiln_err *err)
{
    if (!prefix || !prefix[0]) return KILN_OK;
    return check_path("prefix", prefix, 1, err);
}

/* ---- dispatch ---------------------------------------------------------------- */

void kiln_objstore_close(kiln_objstore *os)
{
    if (os) os->vt->close(os);
}

const char *kiln_objstore_describe(const kiln_objstore *os)
{
    return os && os->desc ? os->desc : "(none)";
}

int kiln_objstore_put(kiln_objstore *os, const char *key, const uint8_t *data, size_t len,
                      kiln_err *err)
{
    int rc = kiln_objstore_check_key(key, err);
    if (rc) return rc;
    if (!data && len) return kiln_err_set(err, KILN_EINVAL, "objstore: put \"%s\": no data", key);
    return os->vt->put(os, key, data, len, err);
}

int kiln_objstore_get(kiln_objstore *os, const char *key, uint8_t **data, size_t *len,
                      kiln_err *err)
{
    *data = NULL;
    *len = 0;
    int rc = kiln_objstore_check_key(key, err);
    if (rc) return rc;
    return os->vt->get(os, key, data, len, err);
}

int kiln_objstore_get_range(kiln_objstore *os, const char *key, uint64_t off, size_t len,
                            uint8_t **data, size_t *got, kiln_err *err)
{
    *data = NULL;
    *got = 0;
    int rc = kiln_objstore_check_key(key, err);
    if (rc) return rc;
    if (len && off > UINT64_MAX - len)
        return kiln_err_set(err, KILN_EINVAL, "objstore: get_range \"%s\": range overflows", key);
    return os->vt->get_range(os, key, off, len, data, got, err);
}

int kiln_objstore_size(kiln_objstore *os, const char *key, uint64_t *size, kiln_err *err)
{
    *size = 0;
    int rc = kiln_objstore_check_key(key, err);
    if (rc) return rc;
    return os->vt->size(os, key, size, err);
}

int kiln_objstore_delete(kiln_objstore *os, const char *key, kiln_err *err)
{
    int rc = kiln_objstore_check_key(key, err);
    if (rc) return rc;
    return os->vt->del(os, key, err);
}

int kiln_objstore_list(kiln_objstore *os, const char *prefix,
                       int (*fn)(const char *key, uint64_t size, void *arg), void *arg,
                       kiln_err *err)
{
    if (!prefix) prefix = "";
    int rc = kiln_objstore_check_prefix(prefix, err);
    if (rc) return rc;
    return os->vt->list(os, prefix, fn, arg, err);
}

/* ---- kiln_osbuf ---------------------------------------------------------------- */

int kiln_osbuf_reserve(kiln_osbuf *b, size_t more)
{
    if (more > SIZE_MAX - b->len - 1) return KILN_ENOMEM;
    size_t need = b->len + more + 1;
    if (need <= b->cap) return KILN_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p) return KILN_ENOMEM;
    if (!b->p) p[0] = 0;
    b->p = p;
    b->cap = cap;
    return KILN_OK;
}

int kiln_osbuf_add(kiln_osbuf *b, const void *data, size_t n)
{
    if (kiln_osbuf_reserve(b, n)) return KILN_ENOMEM;
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return KILN_OK;
}

int kiln_osbuf_adds(kiln_osbuf *b, const char *s)
{
    return kiln_osbuf_add(b, s, strlen(s));
}

int kiln_osbuf_addf(kiln_osbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return KILN_ERR;
    if ((size_t)n < sizeof small) return kiln_osbuf_add(b, small, (size_t)n);
    if (kiln_osbuf_reserve(b, (size_t)n)) return KILN_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return KILN_OK;
}

void kiln_osbuf_free(kiln_osbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *kiln_osbuf_take(kiln_osbuf *b)
{
    if (!b->p && kiln_osbuf_reserve(b, 0)) return NULL;
    char *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}
