/* pipeline/log.h — the core's logger.
 *
 * One line per event on stderr:
 *   2026-11-22T03:40:00.123Z info exporter/debug profile tenant=anonymous k=v ...
 * (timestamp UTC, level, component id or "kiln", message, key=value fields
 * written by the caller). Each line is written with one write(2), so lines
 * from different threads never interleave. Thread-safe; no state.
 */
#ifndef KILN_CORE_LOG_H
#define KILN_CORE_LOG_H

#include <stdarg.h>

void kiln_core_vlog(int level, const char *component, const char *fmt, va_list ap);
void kiln_core_log(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *kiln_log_level_name(int level);

#endif
