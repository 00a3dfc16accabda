/* exporters/query/qbuf.c — kq_buf, the growable byte buffer every encoder of
 * the query exporter writes into, and JSON string and number writing.
 *
 * Memory: the buffer owns b->p (malloc'ed, grown by doubling); it is freed
 * by kiln_query_buf_free, or handed to a reply that frees it. A failed
 * allocation sets b->oom and makes every later write a no-op, so writers
 * check once at the end.
 */
#include <kiln/text.h>
#include "query.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kiln_query_buf_reserve(kq_buf *b, size_t n)
{
    if (b->oom) return -1;
    if (b->cap - b->n > n) return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc - b->n <= n) {
        if (nc > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        nc *= 2;
    }
    char *np = realloc(b->p, nc);
    if (!np) {
        b->oom = 1;
        return -1;
    }
    b->p = np;
    b->cap = nc;
    return 0;
}

void kiln_query_buf_put(kq_buf *b, const void *d, size_t n)
{
    if (n == 0 || kiln_query_buf_reserve(b, n) != 0) return;
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = 0;
}

void kiln_query_buf_puts(kq_buf *b, const char *s) { kiln_query_buf_put(b, s, strlen(s)); }

void kiln_query_buf_putc(kq_buf *b, char c)
{
    if (kiln_query_buf_reserve(b, 1) != 0) return;
    b->p[b->n++] = c;
    b->p[b->n] = 0;
}

void kiln_query_buf_printf(kq_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        kiln_query_buf_put(b, small, (size_t)n);
        return;
    }
    if (kiln_query_buf_reserve(b, (size_t)n + 1) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

void kiln_query_buf_i64(kq_buf *b, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%" PRId64, v);
    kiln_query_buf_put(b, t, (size_t)n);
}

void kiln_query_buf_jstr(kq_buf *b, const char *s, size_t n)
{
    /* worst case 6 bytes per input byte, plus quotes */
    if (kiln_query_buf_reserve(b, n + 2) != 0) return;
    kiln_query_buf_putc(b, '"');
    const unsigned char *m = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* copy a run of plain bytes at once */
        size_t j = i;
        while (j < n && m[j] >= 0x20 && m[j] < 0x7f && m[j] != '"' && m[j] != '\\') j++;
        if (j > i) {
            kiln_query_buf_put(b, m + i, j - i);
            i = j;
            if (i >= n) break;
        }
        unsigned char c = m[i];
        char esc[8];
        switch (c) {
        case '"': kiln_query_buf_put(b, "\\\"", 2); i++; continue;
        case '\\': kiln_query_buf_put(b, "\\\\", 2); i++; continue;
        case '\n': kiln_query_buf_put(b, "\\n", 2); i++; continue;
        case '\t': kiln_query_buf_put(b, "\\t", 2); i++; continue;
        case '\r': kiln_query_buf_put(b, "\\r", 2); i++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            kiln_query_buf_put(b, esc, 6);
            i++;
            continue;
        }
        size_t l = kiln_utf8_len(m + i, n - i);
        if (l == 0) {
            kiln_query_buf_put(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
            i++;
        } else {
            kiln_query_buf_put(b, m + i, l);
            i += l;
        }
    }
    kiln_query_buf_putc(b, '"');
}

void kiln_query_buf_jstrz(kq_buf *b, const char *s)
{
    kiln_query_buf_jstr(b, s ? s : "", s ? strlen(s) : 0);
}

void kiln_query_buf_jdouble(kq_buf *b, double v)
{
    if (isnan(v)) {
        kiln_query_buf_puts(b, "\"NaN\"");
        return;
    }
    if (isinf(v)) {
        kiln_query_buf_puts(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    if (v == (double)(int64_t)v && fabs(v) < 9007199254740992.0) {
        kiln_query_buf_i64(b, (int64_t)v);
        return;
    }
    kiln_query_buf_printf(b, "%.17g", v);
}

void kiln_query_buf_free(kq_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void kiln_query_buf_base64(kq_buf *b, const void *d, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *s = d;
    if (kiln_query_buf_reserve(b, (n + 2) / 3 * 4) != 0) return;
    char *o = b->p + b->n;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = al[v >> 18];
        *o++ = al[(v >> 12) & 63];
        *o++ = al[(v >> 6) & 63];
        *o++ = al[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        *o++ = al[v >> 18];
        *o++ = al[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        *o++ = al[v >> 18];
        *o++ = al[(v >> 12) & 63];
        *o++ = al[(v >> 6) & 63];
        *o++ = '=';
    }
    b->n = (size_t)(o - b->p);
}
