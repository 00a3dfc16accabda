/* exporters/query/qtime.c — times of the legacy HTTP API: `from`/`until`
 * read as Pyroscope's attime.Parse reads them, and the timeline step
 * (Pyroscope's timeline.CalcPointInterval with Grafana's interval rounding).
 *
 * attime (shared/reference/pyroscope-apis.md (a)): spaces, `_` and `,` are
 * dropped; all digits: 8 digits forming a valid date are YYYYMMDD (UTC),
 * otherwise the digit count picks the unit (13 ms, 16 us, 19 ns, any other
 * seconds); else the text is split at the first `+` (or `-`), the part
 * before is ignored (always now) and the rest is <n><unit> with units s,
 * m/min, h, d, w, M/mon (30 d), y (365 d). Garbage means now.
 *
 * Nothing is allocated.
 */
#include "query.h"

#include <string.h>

#define NS 1000000000LL

static int dropped(char c) { return c == '_' || c == ',' || c == ' ' || c == '\t'; }

static int64_t sat_mul(int64_t a, int64_t b)
{
    if (a > INT64_MAX / b) return INT64_MAX;
    return a * b;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int mdays(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

int64_t kiln_query_attime(const char *s, int64_t now_ns)
{
    if (!s) return now_ns;
    char t[64];
    size_t k = 0;
    for (const char *p = s; *p && k < sizeof t - 1; p++)
        if (!dropped(*p)) t[k++] = *p;
    t[k] = 0;
    if (k == 0) return now_ns;
    int digits = strspn(t, "0123456789") == k;
    if (digits) {
        if (k == 8) {
            int y = (t[0] - '0') * 1000 + (t[1] - '0') * 100 + (t[2] - '0') * 10 + (t[3] - '0');
            int m = (t[4] - '0') * 10 + (t[5] - '0');
            int d = (t[6] - '0') * 10 + (t[7] - '0');
            if (y > 1900 && m >= 1 && m <= 12 && d >= 1 && d <= mdays(y, m))
                return sat_mul(days_from_civil(y, m, d) * 86400, NS);
        }
        int64_t n = 0;
        for (size_t i = 0; i < k; i++) {
            int dg = t[i] - '0';
            if (n > (INT64_MAX - dg) / 10) {
                n = INT64_MAX;
                break;
            }
            n = n * 10 + dg;
        }
        switch (k) {
        case 13: return sat_mul(n, 1000000);
        case 16: return sat_mul(n, 1000);
        case 19: return n;
        default: return sat_mul(n, NS);
        }
    }
    const char *at = strchr(t, '+');
    if (!at) at = strchr(t, '-');
    if (!at) return now_ns;
    int64_t sign = *at == '-' ? -1 : 1;
    const char *p = at + 1;
    int64_t num = 0;
    while (*p >= '0' && *p <= '9') {
        int dg = *p - '0';
        num = num > (INT64_MAX - dg) / 10 ? INT64_MAX : num * 10 + dg;
        p++;
    }
    int64_t mult = 0;
    if (p[0] == 's') mult = 1;
    else if (!strncmp(p, "mon", 3) || p[0] == 'M') mult = 3600LL * 24 * 30;
    else if (p[0] == 'm') mult = 60;
    else if (p[0] == 'h') mult = 3600;
    else if (p[0] == 'd') mult = 3600LL * 24;
    else if (p[0] == 'w') mult = 3600LL * 24 * 7;
    else if (p[0] == 'y') mult = 3600LL * 24 * 365;
    /* Go computes this in wrapping int64 */
    uint64_t d = (uint64_t)num * (uint64_t)sign * (uint64_t)mult * (uint64_t)NS;
    return (int64_t)((uint64_t)now_ns + d);
}

/* Grafana's roundInterval (ms in, ms out). */
static int64_t round_interval_ms(int64_t ms)
{
    static const int64_t lim[][2] = {
        {10, 1},           {15, 10},          {35, 20},          {75, 50},
        {150, 100},        {350, 200},        {750, 500},        {1500, 1000},
        {3500, 2000},      {7500, 5000},      {12500, 10000},    {17500, 15000},
        {25000, 20000},    {45000, 30000},    {90000, 60000},    {210000, 120000},
        {450000, 300000},  {750000, 600000},  {1050000, 900000}, {1500000, 1200000},
        {2700000, 1800000}, {5400000, 3600000}, {9000000, 7200000}, {16200000, 10800000},
        {24300000, 21600000}, {32400000, 28800000}, {86400000, 43200000},
        {604800000, 86400000}, {1814400000, 604800000}, {3628800000, 2592000000},
    };
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if (ms <= lim[i][0]) return lim[i][1];
    return 31536000000LL; /* 1 y */
}

int64_t kiln_query_point_interval_s(int64_t from_ms, int64_t until_ms)
{
    int64_t range = until_ms - from_ms;
    if (range < 0) range = 0;
    int64_t calc = range / 1500; /* ms */
    if (calc < 15000) return 15;
    int64_t r = round_interval_ms(calc) / 1000;
    return r < 15 ? 15 : r;
}
