/* pipeline/text.c — see include/kiln/text.h. */
#include <kiln/text.h>

size_t kiln_utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t l;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        l = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        l = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        l = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < l) return 0;
    unsigned cp = c & (0xFFu >> (l + 1));
    for (size_t i = 1; i < l; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return 0;
    return l;
}

size_t kiln_utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int kiln_hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Length of the Unicode space at p (at most n bytes), 0 if none. The set is
 * Go's unicode.IsSpace: \t \n \v \f \r space U+0085 U+00A0 U+1680
 * U+2000..U+200A U+2028 U+2029 U+202F U+205F U+3000. */
static size_t space_at(const unsigned char *p, size_t n)
{
    if (n == 0) return 0;
    unsigned c = p[0];
    if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
    if (c == 0xC2 && n >= 2 && (p[1] == 0x85 || p[1] == 0xA0)) return 2;
    if (n >= 3) {
        unsigned c1 = p[1], c2 = p[2];
        if (c == 0xE1 && c1 == 0x9A && c2 == 0x80) return 3;            /* U+1680 */
        if (c == 0xE2 && c1 == 0x80 && (c2 <= 0x8A || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF) &&
            c2 >= 0x80)
            return 3;                                                   /* U+2000.. */
        if (c == 0xE2 && c1 == 0x81 && c2 == 0x9F) return 3;            /* U+205F */
        if (c == 0xE3 && c1 == 0x80 && c2 == 0x80) return 3;            /* U+3000 */
    }
    return 0;
}

/* Length of the Unicode space ending at p[n-1], 0 if none. */
static size_t space_before(const unsigned char *p, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        size_t s = space_at(p + n - k, k);
        if (s == k) return k;
    }
    return 0;
}

void kiln_trim_space(const char **p, size_t *len)
{
    const unsigned char *s = (const unsigned char *)*p;
    size_t n = *len, k;
    while (n && (k = space_at(s, n)) != 0) {
        s += k;
        n -= k;
    }
    while (n && (k = space_before(s, n)) != 0) n -= k;
    *p = (const char *)s;
    *len = n;
}
