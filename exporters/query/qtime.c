/* exporters/query/qtime.c — times of the legacy HTTP API: `from`/`until`
 * (Pyroscope's attime: libkiln's kiln_attime) and the timeline step
 * (Pyroscope's timeline.CalcPointInterval with Grafana's interval rounding).
 *
 * Nothing is allocated.
 */
#include "query.h"

#include <string.h>

int64_t kiln_query_attime(const char *s, int64_t now_ns)
{
    return s ? kiln_attime(s, strlen(s), now_ns) : now_ns;
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
