/* kiln/text.h — small text helpers shared by parsers (JSON, selectors,
 * error bodies): UTF-8 and hex digits. No state, no allocation. */
#ifndef KILN_TEXT_H
#define KILN_TEXT_H

#include <stddef.h>

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

#ifdef __cplusplus
}
#endif
#endif
