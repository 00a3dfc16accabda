/* pipeline/attime.c — kiln_attime (kiln/text.h): times as Pyroscope's
 * attime.Parse (a rough port of graphite's attime) reads the `from` and
 * `until` of /ingest and of the query API. Nothing is allocated; the
 * input is not modified.
 *
 * Steps (Pyroscope's order):
 *  1. trim spaces at both ends, then drop every `_`, `,` and ` `;
 *  2. all digits: 8 digits that form a valid date with year > 1900 are
 *     YYYYMMDD at 00:00 UTC; otherwise the digit count picks the unit
 *     (13 ms, 16 µs, 19 ns, anything else seconds); values beyond int64
 *     saturate as Go's strconv.Atoi does;
 *  3. otherwise the text is split at the first `+` (else the first `-`);
 *     the part before is ignored (the reference is always now) and the rest
 *     is `[+-]<digits><unit>` where the unit is everything after the digits,
 *     recognised by its prefix: s=1s, mon|M=30d, min|m=60s, h, d, w, y=365d,
 *     anything else 0 (so `now-3h30m` is now-3h and `now-5ms` now-5min).
 * Garbage never fails: it means now. */
#include <kiln/text.h>

#include <string.h>

#define NS 1000000000LL

static int drop_char(char c) { return c == '_' || c == ',' || c == ' '; }

/* Saturating a*b for a >= 0, b > 0. */
static int64_t sat_mul(int64_t a, int64_t b)
{
    if (a > INT64_MAX / b) return INT64_MAX;
    return a * b;
}

int64_t kiln_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int kiln_days_in_month(int64_t y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

int64_t kiln_attime(const char *s, size_t len, int64_t now_ns)
{
    if (!s) return now_ns;
    kiln_trim_space(&s, &len);

    /* pass 1: count the kept characters and see whether they are all digits */
    size_t kept = 0;
    int digits = 1;
    for (size_t i = 0; i < len; i++) {
        if (drop_char(s[i])) continue;
        kept++;
        if (s[i] < '0' || s[i] > '9') digits = 0;
    }
    if (kept == 0) return now_ns; /* "" is no number; no offset either */

    if (digits) {
        if (kept == 8) {
            int v[8], k = 0;
            for (size_t i = 0; i < len; i++)
                if (!drop_char(s[i])) v[k++] = s[i] - '0';
            int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
            int m = v[4] * 10 + v[5];
            int d = v[6] * 10 + v[7];
            if (y > 1900 && m >= 1 && m <= 12 && d >= 1 && d <= kiln_days_in_month(y, m))
                return sat_mul(kiln_days_from_civil(y, m, d) * 86400, NS); /* >= 1901 */
        }
        int64_t n = 0;
        for (size_t i = 0; i < len; i++) {
            if (drop_char(s[i])) continue;
            int dgt = s[i] - '0';
            if (n > (INT64_MAX - dgt) / 10) {
                n = INT64_MAX;
                break;
            }
            n = n * 10 + dgt;
        }
        switch (kept) {
        case 13: return sat_mul(n, 1000000);
        case 16: return sat_mul(n, 1000);
        case 19: return n;
        default: return sat_mul(n, NS);
        }
    }

    /* relative: find the first '+' among kept characters, else the first '-' */
    size_t at = len;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '+') {
            at = i;
            break;
        }
    if (at == len)
        for (size_t i = 0; i < len; i++)
            if (s[i] == '-') {
                at = i;
                break;
            }
    if (at == len) return now_ns;

    int64_t sign = s[at] == '-' ? -1 : 1;
    size_t i = at + 1;
    while (i < len && drop_char(s[i])) i++;
    int64_t num = 0;
    int sat = 0;
    while (i < len && (drop_char(s[i]) || (s[i] >= '0' && s[i] <= '9'))) {
        if (!drop_char(s[i])) {
            int dgt = s[i] - '0';
            if (!sat && num > (INT64_MAX - dgt) / 10) sat = 1;
            if (sat)
                num = INT64_MAX;
            else
                num = num * 10 + dgt;
        }
        i++;
    }
    /* the unit: the kept characters from i on, matched by prefix */
    char u[4];
    size_t ul = 0;
    for (; i < len && ul < sizeof u; i++)
        if (!drop_char(s[i])) u[ul++] = s[i];
    int64_t mult = 0;
    if (ul >= 1 && u[0] == 's')
        mult = 1;
    else if ((ul >= 3 && memcmp(u, "mon", 3) == 0) || (ul >= 1 && u[0] == 'M'))
        mult = 3600LL * 24 * 30;
    else if (ul >= 1 && u[0] == 'm') /* "min" and "m" */
        mult = 60;
    else if (ul >= 1 && u[0] == 'h')
        mult = 3600;
    else if (ul >= 1 && u[0] == 'd')
        mult = 3600LL * 24;
    else if (ul >= 1 && u[0] == 'w')
        mult = 3600LL * 24 * 7;
    else if (ul >= 1 && u[0] == 'y')
        mult = 3600LL * 24 * 365;
    /* Go computes num*sign*mult and *time.Second in wrapping int64 */
    uint64_t d = (uint64_t)num * (uint64_t)sign * (uint64_t)mult * (uint64_t)NS;
    return (int64_t)((uint64_t)now_ns + d);
}
