/* pipeline/log.c — see log.h. */
#include "log.h"

#include <kiln/host.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *kiln_log_level_name(int level)
{
    switch (level) {
    case KILN_LOG_ERROR: return "error";
    case KILN_LOG_WARN: return "warn";
    case KILN_LOG_INFO: return "info";
    default: return "debug";
    }
}

void kiln_core_vlog(int level, const char *component, const char *fmt, va_list ap)
{
    char line[8192];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - n, ".%03ldZ %s %s ", ts.tv_nsec / 1000000,
                  kiln_log_level_name(level), component ? component : "kiln");
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    if (m < 0) m = 0;
    n += (size_t)m;
    if (n > sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(2, line, n);
    (void)w;
}

void kiln_core_log(int level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_core_vlog(level, component, fmt, ap);
    va_end(ap);
}
