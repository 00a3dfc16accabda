/* pipeline/cli_query_time.c — the times and durations of `kiln query`
 * flags: --from/--until in the forms Pyroscope's attime reads (now,
 * now-1h, Unix seconds/ms/µs/ns by digit count, YYYYMMDD) plus RFC 3339
 * and compound offsets (now-1h30m, which attime would read as now-1h);
 * --timeout as 30s / 500ms / 1m. Unlike attime, text that is none of these
 * is an error, not "now".
 *
 * Nothing is allocated.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <kiln/text.h>

#include "cli_query.h"

#define MS_PER_DAY 86400000LL

/* n decimal digits at s (all must be digits) */
static int cqt_num(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* One unit of an offset or duration, in ms; 0 if unknown. `len` bytes at u. */
static int64_t cqt_unit(const char *u, size_t len, int durations)
{
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {{"ms", 1},
                 {"s", 1000},
                 {"m", 60000},
                 {"min", 60000},
                 {"h", 3600000},
                 {"d", MS_PER_DAY},
                 {"w", 7 * MS_PER_DAY},
                 {"M", 30 * MS_PER_DAY},
                 {"mon", 30 * MS_PER_DAY},
                 {"y", 365 * MS_PER_DAY}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strlen(units[i].name) != len || strncmp(units[i].name, u, len) != 0) continue;
        /* durations (--timeout) stop at hours: "1M" there is surely a typo */
        if (durations && units[i].ms > 3600000) return 0;
        return units[i].ms;
    }
    return 0;
}

/* "<n><unit>[<n><unit>...]" -> ms; -1 if malformed or overflowing. */
static int64_t cqt_offset(const char *s, int durations)
{
    int64_t sum = 0;
    if (!*s) return -1;
    while (*s) {
        if (!isdigit((unsigned char)*s)) return -1;
        int64_t n = 0;
        while (isdigit((unsigned char)*s)) {
            if (n > (INT64_MAX - 9) / 10) return -1;
            n = n * 10 + (*s++ - '0');
        }
        const char *u = s;
        while (isalpha((unsigned char)*s)) s++;
        int64_t f = cqt_unit(u, (size_t)(s - u), durations);
        if (!f || n > (INT64_MAX - sum) / f) return -1;
        sum += n * f;
    }
    return sum;
}

/* RFC 3339 date-time or a bare date; -1 if not one. */
static int cqt_rfc3339(const char *s, int64_t *ms)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    size_t n = strlen(s);
    if (n < 10 || cqt_num(s, 4, &y) || s[4] != '-' || cqt_num(s + 5, 2, &mo) || s[7] != '-' ||
        cqt_num(s + 8, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > kiln_days_in_month(y, mo)) return -1;
    int64_t frac_ms = 0, off_min = 0;
    const char *p = s + 10;
    if (*p) {
        if (*p != 'T' && *p != 't' && *p != ' ') return -1;
        p++;
        if (strlen(p) < 8 || cqt_num(p, 2, &h) || p[2] != ':' || cqt_num(p + 3, 2, &mi) || p[5] != ':' ||
            cqt_num(p + 6, 2, &se))
            return -1;
        if (h > 23 || mi > 59 || se > 60) return -1;
        p += 8;
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p)) return -1;
            int64_t scale = 100;
            while (isdigit((unsigned char)*p)) {
                frac_ms += (*p - '0') * scale;
                scale /= 10;
                p++;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (strlen(p) < 6 || cqt_num(p + 1, 2, &oh) || p[3] != ':' || cqt_num(p + 4, 2, &om) || oh > 23 ||
                om > 59)
                return -1;
            off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
            p += 6;
        } else {
            return -1; /* RFC 3339 requires the offset */
        }
        if (*p) return -1;
    }
    *ms = kiln_days_from_civil(y, mo, d) * MS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + se) * 1000 + frac_ms -
          off_min * 60000;
    return 0;
}

int kiln_cq_parse_time(const char *s, int64_t now_ms, int64_t *out_ms, kiln_err *err)
{
    if (!s) s = "";
    size_t n = strlen(s);
    if (!n) goto bad;
    if (strspn(s, "0123456789") == n) {
        if (n > 19) goto bad;
        int64_t v = 0;
        for (size_t i = 0; i < n; i++) {
            if (v > (INT64_MAX - 9) / 10) goto bad;
            v = v * 10 + (s[i] - '0');
        }
        if (n == 8) {
            int y = (int)(v / 10000), m = (int)(v / 100 % 100), d = (int)(v % 100);
            if (y > 1900 && m >= 1 && m <= 12 && d >= 1 && d <= kiln_days_in_month(y, m)) {
                *out_ms = kiln_days_from_civil(y, m, d) * MS_PER_DAY;
                return KILN_OK;
            }
        }
        if (n == 13) *out_ms = v;
        else if (n == 16) *out_ms = v / 1000;
        else if (n == 19) *out_ms = v / 1000000;
        else if (v > INT64_MAX / 1000) goto bad;
        else *out_ms = v * 1000;
        return KILN_OK;
    }
    if (strncmp(s, "now", 3) == 0) {
        if (!s[3]) {
            *out_ms = now_ms;
            return KILN_OK;
        }
        if (s[3] != '-' && s[3] != '+') goto bad;
        int64_t off = cqt_offset(s + 4, 0);
        if (off < 0) goto bad;
        if (s[3] == '-' ? now_ms < INT64_MIN + off : now_ms > INT64_MAX - off) goto bad;
        *out_ms = s[3] == '-' ? now_ms - off : now_ms + off;
        return KILN_OK;
    }
    if (cqt_rfc3339(s, out_ms) == 0) return KILN_OK;
bad:
    return kiln_err_set(err, KILN_EINVAL,
                        "cannot read \"%s\" as a time (now, now-1h, now-30m, now-7d, Unix seconds or "
                        "milliseconds, YYYYMMDD, or RFC 3339 like 2024-05-01T10:00:00Z)",
                        s);
}

int kiln_cq_parse_duration(const char *s, int64_t *out_ms, kiln_err *err)
{
    if (!s || !*s) return kiln_err_set(err, KILN_EINVAL, "empty duration");
    int64_t v = -1;
    size_t n = strlen(s);
    if (strspn(s, "0123456789") == n) { /* plain seconds */
        if (n <= 12) {
            v = 0;
            for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
            v *= 1000;
        }
    } else {
        v = cqt_offset(s, 1);
    }
    if (v <= 0)
        return kiln_err_set(err, KILN_EINVAL, "cannot read \"%s\" as a duration > 0 (30s, 500ms, 2m, 1h)", s);
    *out_ms = v;
    return KILN_OK;
}

void kiln_cq_fmt_time(int64_t ms, char *buf, size_t cap)
{
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int msr = (int)(ms - sec * 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, cap, "%" PRId64 "ms", ms);
        return;
    }
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", msr);
}
