/* config/parse_scalar.c — the scalar syntaxes of config values: durations
 * (Go's time.ParseDuration plus "d"), byte sizes, booleans, integers and
 * numbers, and the matching formatters used in messages and `kiln components`.
 *
 * Memory: nothing is allocated; results go to the caller's variables.
 */
#include "kiln_config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value as shown in messages: at most 64 bytes, '?' for control bytes. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s), k = 0, lim = n < 64 ? n : 64;
    for (size_t i = 0; i < lim && k + 1 < cap; i++)
        buf[k++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"') ? '?' : s[i];
    if (n > lim && k + 4 < cap) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = 0;
    return buf;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* ---- durations ---------------------------------------------------------------- */

typedef struct unit {
    const char *name;
    uint64_t mult;
} unit;

static const unit duration_units[] = {
    {"ns", 1ull},
    {"us", 1000ull},
    {"\xc2\xb5s", 1000ull}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000ull}, /* U+03BC greek mu */
    {"ms", 1000000ull},
    {"s", 1000000000ull},
    {"m", 60ull * 1000000000ull},
    {"h", 3600ull * 1000000000ull},
    {"d", 86400ull * 1000000000ull},
    {NULL, 0},
};

int kiln_parse_duration(const char *s, int64_t *ns, kiln_err *err)
{
    char sh[80];
    const char *orig = s ? s : "";
    s = orig;
    int neg = 0;
    const uint64_t lim = 1ull << 63; /* |INT64_MIN| */
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return KILN_OK;
    }
    if (!*s) goto bad;
    uint64_t total = 0;
    while (*s) {
        if (!(*s == '.' || is_digit(*s))) goto bad;
        uint64_t v = 0;
        int pre = 0, post = 0;
        while (is_digit(*s)) {
            uint64_t d = (uint64_t)(*s - '0');
            if (v > (lim - d) / 10) goto range;
            v = v * 10 + d;
            s++;
            pre = 1;
        }
        uint64_t f = 0;
        double scale = 1;
        int f_over = 0;
        if (*s == '.') {
            s++;
            while (is_digit(*s)) {
                post = 1;
                if (!f_over) {
                    if (f > (lim - 9) / 10) {
                        f_over = 1; /* further digits cannot matter */
                    } else {
                        f = f * 10 + (uint64_t)(*s - '0');
                        scale *= 10;
                    }
                }
                s++;
            }
        }
        if (!pre && !post) goto bad;
        const char *u = s;
        while (*s && *s != '.' && !is_digit(*s)) s++;
        size_t ul = (size_t)(s - u);
        if (ul == 0) {
            if (!*s && !neg && pre && !post && u == orig + strspn(orig, "0123456789")) {
                if (err)
                    kiln_err_set(err, KILN_EINVAL,
                                 "expected a duration like 24h, got \"%s\" (a unit is required: "
                                 "ns, us, ms, s, m, h, d)",
                                 shown(orig, sh, sizeof sh));
                return KILN_EINVAL;
            }
            goto bad;
        }
        uint64_t mult = 0;
        for (const unit *t = duration_units; t->name; t++)
            if (strlen(t->name) == ul && memcmp(t->name, u, ul) == 0) mult = t->mult;
        if (!mult) goto bad;
        if (v > lim / mult) goto range;
        v *= mult;
        if (f > 0) {
            double extra = (double)f * ((double)mult / scale);
            if (extra >= (double)lim) goto range;
            v += (uint64_t)extra;
            if (v > lim) goto range;
        }
        total += v;
        if (total > lim) goto range;
    }
    if (!neg && total > lim - 1) goto range;
    *ns = neg ? (int64_t)(0 - total) : (int64_t)total;
    return KILN_OK;
bad:
    return kiln_err_set(err, KILN_EINVAL, "expected a duration like 24h, got \"%s\"",
                        shown(orig, sh, sizeof sh));
range:
    return kiln_err_set(err, KILN_EINVAL, "duration \"%s\" is out of range (at most about 292 years)",
                        shown(orig, sh, sizeof sh));
}

/* ---- byte sizes ----------------------------------------------------------------- */

static const unit byte_units[] = {
    {"b", 1ull},
    {"k", 1ull << 10}, {"ki", 1ull << 10}, {"kib", 1ull << 10}, {"kb", 1000ull},
    {"m", 1ull << 20}, {"mi", 1ull << 20}, {"mib", 1ull << 20}, {"mb", 1000000ull},
    {"g", 1ull << 30}, {"gi", 1ull << 30}, {"gib", 1ull << 30}, {"gb", 1000000000ull},
    {"t", 1ull << 40}, {"ti", 1ull << 40}, {"tib", 1ull << 40}, {"tb", 1000000000000ull},
    {"p", 1ull << 50}, {"pi", 1ull << 50}, {"pib", 1ull << 50}, {"pb", 1000000000000000ull},
    {NULL, 0},
};

int kiln_parse_bytes(const char *s, int64_t *bytes, kiln_err *err)
{
    char sh[80];
    const char *orig = s ? s : "";
    s = orig;
    if (*s == '+') s++;
    uint64_t v = 0;
    int digits = 0;
    const uint64_t max = (uint64_t)INT64_MAX;
    while (is_digit(*s)) {
        uint64_t d = (uint64_t)(*s++ - '0');
        if (v > (max - d) / 10) goto range;
        v = v * 10 + d;
        digits = 1;
    }
    double frac = 0, scale = 1;
    int has_frac = 0;
    if (*s == '.') {
        s++;
        while (is_digit(*s)) {
            if (scale < 1e18) {
                frac = frac * 10 + (*s - '0');
                scale *= 10;
            }
            if (*s != '0') has_frac = 1;
            s++;
            digits = 1;
        }
    }
    if (!digits) goto bad;
    while (*s == ' ') s++;
    char u[4];
    size_t ul = strlen(s);
    if (ul > 3) goto bad;
    for (size_t i = 0; i < ul; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        u[i] = c;
    }
    u[ul] = 0;
    uint64_t mult = ul == 0 ? 1 : 0;
    for (const unit *t = byte_units; t->name && !mult; t++)
        if (strcmp(t->name, u) == 0) mult = t->mult;
    if (!mult) goto bad;
    if (has_frac && mult == 1)
        return kiln_err_set(err, KILN_EINVAL, "a size in bytes must be whole, got \"%s\"",
                            shown(orig, sh, sizeof sh));
    if (v > max / mult) goto range;
    v *= mult;
    if (has_frac) {
        double extra = floor(frac / scale * (double)mult + 0.5);
        if (extra >= (double)(max - v)) goto range;
        v += (uint64_t)extra;
    }
    *bytes = (int64_t)v;
    return KILN_OK;
bad:
    return kiln_err_set(err, KILN_EINVAL, "expected a size like 512KiB or 4MB, got \"%s\"",
                        shown(orig, sh, sizeof sh));
range:
    return kiln_err_set(err, KILN_EINVAL, "size \"%s\" is out of range (at most 8EiB)",
                        shown(orig, sh, sizeof sh));
}

/* ---- bool, int, double ------------------------------------------------------------ */

int kiln_parse_bool(const char *s, int *out, kiln_err *err)
{
    static const char *const yes[] = {"true", "yes", "on", NULL};
    static const char *const no[] = {"false", "no", "off", NULL};
    char sh[80];
    const char *v = s ? s : "";
    for (int i = 0; yes[i]; i++)
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return KILN_OK;
        }
    for (int i = 0; no[i]; i++)
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return KILN_OK;
        }
    return kiln_err_set(err, KILN_EINVAL, "expected true or false, got \"%s\"", shown(v, sh, sizeof sh));
}

int kiln_parse_int(const char *s, int64_t *out, kiln_err *err)
{
    char sh[80];
    const char *orig = s ? s : "", *p = orig;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    if (!is_digit(*p)) goto bad;
    uint64_t v = 0;
    const uint64_t lim = neg ? (1ull << 63) : (uint64_t)INT64_MAX;
    for (; is_digit(*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (lim - d) / 10) {
            return kiln_err_set(err, KILN_EINVAL, "integer \"%s\" is out of range",
                                shown(orig, sh, sizeof sh));
        }
        v = v * 10 + d;
    }
    if (*p) goto bad;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return KILN_OK;
bad:
    return kiln_err_set(err, KILN_EINVAL, "expected an integer, got \"%s\"", shown(orig, sh, sizeof sh));
}

int kiln_parse_double(const char *s, double *out, kiln_err *err)
{
    char sh[80];
    const char *v = s ? s : "";
    char *end = NULL;
    if (!*v || !(is_digit(*v) || *v == '-' || *v == '+' || *v == '.')) goto bad;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d)) goto bad;
    *out = d;
    return KILN_OK;
bad:
    return kiln_err_set(err, KILN_EINVAL, "expected a number, got \"%s\"", shown(v, sh, sizeof sh));
}

/* ---- formatters -------------------------------------------------------------------------- */

char *kiln_format_duration(int64_t ns, char *buf, size_t cap)
{
    if (!cap) return buf;
    uint64_t v = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    const char *sign = ns < 0 ? "-" : "";
    if (v == 0) {
        snprintf(buf, cap, "0s");
    } else if (v < 1000000000ull) {
        if (v % 1000000ull == 0)
            snprintf(buf, cap, "%s%llums", sign, (unsigned long long)(v / 1000000ull));
        else if (v % 1000ull == 0)
            snprintf(buf, cap, "%s%lluus", sign, (unsigned long long)(v / 1000ull));
        else
            snprintf(buf, cap, "%s%lluns", sign, (unsigned long long)v);
    } else {
        unsigned long long h = v / 3600000000000ull, m = v / 60000000000ull % 60,
                           sec = v / 1000000000ull % 60, frac = v % 1000000000ull;
        char hs[32] = "", ms[8] = "", ss[40] = "";
        if (h) snprintf(hs, sizeof hs, "%lluh", h);
        if (m) snprintf(ms, sizeof ms, "%llum", m);
        if (frac) {
            char fr[16];
            snprintf(fr, sizeof fr, "%09llu", frac);
            for (int i = 8; i > 0 && fr[i] == '0'; i--) fr[i] = 0;
            snprintf(ss, sizeof ss, "%llu.%ss", sec, fr);
        } else if (sec) {
            snprintf(ss, sizeof ss, "%llus", sec);
        }
        snprintf(buf, cap, "%s%s%s%s", sign, hs, ms, ss);
    }
    return buf;
}

char *kiln_format_bytes(int64_t bytes, char *buf, size_t cap)
{
    static const unit shown_units[] = {
        {"PiB", 1ull << 50}, {"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20},
        {"KiB", 1ull << 10}, {"PB", 1000000000000000ull}, {"TB", 1000000000000ull},
        {"GB", 1000000000ull}, {"MB", 1000000ull}, {"KB", 1000ull}, {NULL, 0},
    };
    if (!cap) return buf;
    uint64_t v = bytes < 0 ? 0 - (uint64_t)bytes : (uint64_t)bytes;
    const char *sign = bytes < 0 ? "-" : "";
    if (v) {
        for (const unit *u = shown_units; u->name; u++) {
            if (v % u->mult == 0) {
                snprintf(buf, cap, "%s%llu%s", sign, (unsigned long long)(v / u->mult), u->name);
                return buf;
            }
        }
    }
    snprintf(buf, cap, "%s%lluB", sign, (unsigned long long)v);
    return buf;
}
