/* kiln/text.h — small text helpers shared by parsers (JSON, selectors,
 * error bodies, times): UTF-8, hex digits, Go's TrimSpace, Pyroscope's
 * attime. No state, no allocation. */
#ifndef KILN_TEXT_H
#define KILN_TEXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Length (1-4) of the valid UTF-8 sequence at p, with n bytes left; 0 if
 * it is not one (overlong forms, surrogates and code points past U+10FFFF
 * are invalid). n must be at least 1. */
size_t kiln_utf8_len(const unsigned char *p, size_t n);

/* Writes code point cp (at most U+10FFFF) as UTF-8 into o (room for 4
 * bytes); returns the number of bytes written. */
size_t kiln_utf8_put(char *o, unsigned cp);

/* The value of a hex digit (either case), or -1. */
int kiln_hex_digit(int c);

/* Go's strings.TrimSpace on (*p, *len): drops unicode.IsSpace characters
 * (\t \n \v \f \r space U+0085 U+00A0 U+1680 U+2000..U+200A U+2028 U+2029
 * U+202F U+205F U+3000) at both ends, in place. */
void kiln_trim_space(const char **p, size_t *len);

/* A time as Pyroscope's attime.Parse reads `from`/`until` (Unix ns): after
 * trimming, every `_`, `,` and space is dropped; all digits: 8 that form a
 * date after 1900 are YYYYMMDD (00:00 UTC), else the count picks the unit
 * (13 ms, 16 us, 19 ns, other s; saturating); otherwise the text from the
 * first `+` (else `-`) is `[+-]<digits><unit>` relative to now, the unit
 * read by prefix (s, mon|M = 30d, min|m, h, d, w, y = 365d, else 0: `now`).
 * Never fails: garbage means now_ns. */
int64_t kiln_attime(const char *s, size_t len, int64_t now_ns);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12), and the
 * days of month m (1-12) of year y. */
int64_t kiln_days_from_civil(int64_t y, int m, int d);
int kiln_days_in_month(int64_t y, int m);

#ifdef __cplusplus
}
#endif
#endif
