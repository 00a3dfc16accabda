/* processors/relabel/relabel_regex.c — RE2-syntax regexes on PCRE2 and
 * Go-style replacement templates (see relabel_regex.h).
 *
 * The translator walks the pattern once, the way Go's regexp/syntax parser
 * tokenizes it, and writes a PCRE2 pattern with the same meaning:
 *   - constructs RE2 does not have are errors (backreferences, lookaround,
 *     atomic groups, possessive quantifiers, recursion, conditionals,
 *     callouts, verbs, comments, flags other than imsU, PCRE-only escapes);
 *   - constructs whose meaning differs are rewritten: \v (RE2: vertical tab),
 *     \s and \S (RE2: no vertical tab), octal escapes, \Q...\E, a `{` that
 *     does not start a repeat (RE2: a literal), a `[` inside a class;
 *   - Go's limits are kept: repeat counts up to 1000, no stacked repeats.
 * Each output byte remembers the input offset it came from so PCRE2's
 * error offsets can be reported against the pattern the user wrote.
 *
 * Memory: translation buffers are malloc'ed and freed before returning;
 * the compiled code and the pattern copy belong to the kiln_relabel_re.
 */
#include "relabel_regex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ------------------------------------------------------------------ */

size_t kiln_relabel_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0) {
        *cp = 0xFFFD;
        return 0;
    }
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;      /* no overlong forms */
        else if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F; /* at most U+10FFFF */
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (n < need + 1) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i <= need; i++) {
        unsigned b = s[i];
        unsigned l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (b < l || b > h) {
            *cp = 0xFFFD;
            return 1;
        }
        v = v << 6 | (b & 0x3F);
    }
    *cp = v;
    return need + 1;
}

int kiln_relabel_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t w = kiln_relabel_utf8_decode(u + i, n - i, &cp);
        if (w == 1) return 0; /* a multi-byte lead that did not decode */
        i += w;
    }
    return 1;
}

size_t kiln_relabel_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

char *kiln_relabel_quote(const char *s, char *buf, size_t cap)
{
    size_t w = 0;
    if (cap == 0) return buf;
#define PUTC(ch)                                                                                   \
    do {                                                                                           \
        if (w + 1 < cap) buf[w++] = (ch);                                                          \
    } while (0)
    PUTC('"');
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            PUTC('\\');
            PUTC((char)c);
        } else if (c == '\n') {
            PUTC('\\');
            PUTC('n');
        } else if (c == '\t') {
            PUTC('\\');
            PUTC('t');
        } else if (c < 0x20 || c == 0x7F) {
            char hx[8];
            snprintf(hx, sizeof hx, "\\x%02x", c);
            for (char *h = hx; *h; h++) PUTC(*h);
        } else {
            PUTC((char)c);
        }
    }
    PUTC('"');
#undef PUTC
    buf[w] = 0;
    return buf;
}

/* ---- translation buffer ------------------------------------------------------ */

typedef struct tbuf {
    char *p;
    size_t *map; /* map[i]: offset in the user's pattern of output byte i */
    size_t n, cap;
    int oom;
} tbuf;

static void tput(tbuf *b, const char *s, size_t n, size_t src)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        while (nc < b->n + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        size_t *nm = realloc(b->map, nc * sizeof *nm);
        if (!nm) {
            b->oom = 1;
            return;
        }
        b->map = nm;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    for (size_t i = 0; i < n; i++) b->map[b->n + i] = src;
    b->n += n;
    b->p[b->n] = 0;
}

static void tputs(tbuf *b, const char *s, size_t src) { tput(b, s, strlen(s), src); }

/* Writes code point cp as \x{HEX}. */
static void tput_cp(tbuf *b, uint32_t cp, size_t src)
{
    char tmp[16];
    snprintf(tmp, sizeof tmp, "\\x{%x}", (unsigned)cp);
    tputs(b, tmp, src);
}

/* ---- the RE2 syntax check / translation ----------------------------------------- */

typedef struct tctx {
    const char *pat;
    size_t len;
    tbuf out;
    int failed;
    size_t at;     /* where the first error is, as an offset into pat */
    char why[256]; /* what it is */
} tctx;

static int terr(tctx *t, size_t at, const char *fmt, const char *arg)
{
    if (t->failed) return -1;
    t->failed = 1;
    t->at = at;
    snprintf(t->why, sizeof t->why, fmt, arg ? arg : "");
    return -1;
}

static int is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int is_alnum(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_word(int c) { return is_alnum(c) || c == '_'; }

/* Length of the UTF-8 sequence starting at pat[i] (1 for ASCII or a bad byte). */
static size_t char_len(const tctx *t, size_t i)
{
    uint32_t cp;
    size_t w = kiln_relabel_utf8_decode((const unsigned char *)t->pat + i, t->len - i, &cp);
    return w ? w : 1;
}

/* Parses a repeat `{n}`, `{n,}`, `{n,m}` at pat[i] ('{'). Returns its length,
 * 0 if this `{` does not start one (then it is a literal, as in RE2), or -1
 * on a count RE2 refuses. */
static long parse_repeat(tctx *t, size_t i)
{
    size_t j = i + 1;
    long n = -1, m = -1;
    size_t d0 = j;
    long v = 0;
    /* RE2 reads "{01}" as literal text: no leading zeros */
    if (j + 1 < t->len && t->pat[j] == '0' && t->pat[j + 1] >= '0' && t->pat[j + 1] <= '9') return 0;
    while (j < t->len && t->pat[j] >= '0' && t->pat[j] <= '9') {
        if (v <= 100000) v = v * 10 + (t->pat[j] - '0');
        j++;
    }
    if (j == d0) return 0;
    n = v;
    if (j < t->len && t->pat[j] == ',') {
        j++;
        size_t d1 = j;
        v = 0;
        if (j + 1 < t->len && t->pat[j] == '0' && t->pat[j + 1] >= '0' && t->pat[j + 1] <= '9') return 0;
        while (j < t->len && t->pat[j] >= '0' && t->pat[j] <= '9') {
            if (v <= 100000) v = v * 10 + (t->pat[j] - '0');
            j++;
        }
        m = j == d1 ? -2 /* open */ : v;
    } else {
        m = n;
    }
    if (j >= t->len || t->pat[j] != '}') return 0;
    if (n > 1000 || m > 1000 || (m >= 0 && m < n)) {
        terr(t, i, "invalid repeat count (RE2 allows counts up to 1000, min <= max)", NULL);
        return -1;
    }
    return (long)(j - i + 1);
}

/* Escapes that stand for one character, shared by the top level and classes.
 * pat[i] is the backslash. Sets *cp to the character and returns the length
 * of the escape, 0 if the escape is not a single-character one, -1 on error. */
static long char_escape(tctx *t, size_t i, uint32_t *cp)
{
    if (i + 1 >= t->len) return terr(t, i, "trailing backslash at end of expression", NULL);
    unsigned char c = (unsigned char)t->pat[i + 1];
    switch (c) {
    case 'a': *cp = 7; return 2;
    case 'f': *cp = 12; return 2;
    case 't': *cp = 9; return 2;
    case 'n': *cp = 10; return 2;
    case 'r': *cp = 13; return 2;
    case 'v': *cp = 11; return 2;
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
        size_t j = i + 2;
        if (c != '0' && (j >= t->len || t->pat[j] < '0' || t->pat[j] > '7'))
            return terr(t, i, "backreferences (\\N) are not supported (RE2 syntax)", NULL);
        uint32_t v = c - '0';
        for (int k = 1; k < 3 && j < t->len && t->pat[j] >= '0' && t->pat[j] <= '7'; k++, j++)
            v = v * 8 + (uint32_t)(t->pat[j] - '0');
        *cp = v;
        return (long)(j - i);
    }
    case '8': case '9':
        return terr(t, i, "backreferences (\\N) are not supported (RE2 syntax)", NULL);
    case 'x': {
        size_t j = i + 2;
        if (j < t->len && t->pat[j] == '{') {
            j++;
            uint32_t v = 0;
            size_t d0 = j;
            while (j < t->len && is_hex((unsigned char)t->pat[j])) {
                int h = t->pat[j];
                v = v * 16 + (uint32_t)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
                if (v > 0x10FFFF) return terr(t, i, "invalid escape sequence (\\x{...} above 10FFFF)", NULL);
                j++;
            }
            if (j == d0 || j >= t->len || t->pat[j] != '}')
                return terr(t, i, "invalid escape sequence (\\x{...})", NULL);
            *cp = v;
            return (long)(j + 1 - i);
        }
        if (j + 1 < t->len && is_hex((unsigned char)t->pat[j]) && is_hex((unsigned char)t->pat[j + 1])) {
            int h1 = t->pat[j], h2 = t->pat[j + 1];
            *cp = (uint32_t)((h1 <= '9' ? h1 - '0' : (h1 | 0x20) - 'a' + 10) * 16 +
                             (h2 <= '9' ? h2 - '0' : (h2 | 0x20) - 'a' + 10));
            return 4;
        }
        return terr(t, i, "invalid escape sequence (\\x needs two hex digits or {...})", NULL);
    }
    default:
        break;
    }
    if (c < 0x80 && !is_alnum(c)) { /* escaped punctuation (also space and controls) */
        *cp = c;
        return 2;
    }
    return 0;
}

static const char *const posix_names[] = {"alnum", "alpha", "ascii", "blank", "cntrl",
                                          "digit", "graph", "lower", "print", "punct",
                                          "space", "upper", "word",  "xdigit", NULL};

/* An escape that is neither a character nor a class: explains why RE2 does
 * not have it. */
static int bad_escape(tctx *t, size_t i)
{
    unsigned char c = (unsigned char)t->pat[i + 1];
    switch (c) {
    case 'g':
    case 'k':
        return terr(t, i, "backreferences (\\g, \\k) are not supported (RE2 syntax)", NULL);
    case 'K':
        return terr(t, i, "\\K is not supported (RE2 syntax)", NULL);
    case 'G':
        return terr(t, i, "\\G is not supported (RE2 syntax)", NULL);
    case 'Z':
        return terr(t, i, "\\Z is not supported (RE2 syntax; use \\z or $)", NULL);
    case 'C':
        return terr(t, i, "\\C is not supported (RE2 syntax)", NULL);
    default: {
        char s[3] = {'\\', (char)c, 0};
        if (c >= 0x80) s[1] = '?';
        return terr(t, i, "invalid escape sequence %s (not in RE2 syntax)", s);
    }
    }
}

/* \p{Name}, \pL, \P...: checks the form and copies it; returns the length. */
static long unicode_class(tctx *t, size_t i)
{
    size_t j = i + 2;
    if (j >= t->len) return terr(t, i, "invalid character class range (\\p needs a name)", NULL);
    if (t->pat[j] == '{') {
        size_t k = j + 1;
        while (k < t->len && t->pat[k] != '}') k++;
        if (k >= t->len || k == j + 1)
            return terr(t, i, "invalid character class range (\\p{...})", NULL);
        tput(&t->out, t->pat + i, k + 1 - i, i);
        return (long)(k + 1 - i);
    }
    if (!is_alnum((unsigned char)t->pat[j]))
        return terr(t, i, "invalid character class range (\\p needs a name)", NULL);
    tput(&t->out, t->pat + i, 3, i);
    return 3;
}

/* Inside a class: the class escapes of RE2 (\d \D \w \W \s \S \p \P).
 * Returns the length consumed, 0 if pat[i] is not one, -1 on error. */
static long class_escape_in_class(tctx *t, size_t i)
{
    if (i + 1 >= t->len) return 0;
    char c = t->pat[i + 1];
    switch (c) {
    case 'd': case 'D': case 'w': case 'W':
        tput(&t->out, t->pat + i, 2, i);
        return 2;
    case 's':
        tputs(&t->out, "\\t\\n\\f\\r ", i);
        return 2;
    case 'S':
        tputs(&t->out, "\\x{0}-\\x{8}\\x{b}\\x{e}-\\x{1f}\\x{21}-\\x{10ffff}", i);
        return 2;
    case 'p': case 'P':
        return unicode_class(t, i);
    default:
        return 0;
    }
}

/* One class character at pat[i] (escape or UTF-8 char): writes it and
 * returns its length, with *cp its value; -1 on error. */
static long class_char(tctx *t, size_t i, uint32_t *cp)
{
    if (t->pat[i] == '\\') {
        long n = char_escape(t, i, cp);
        if (n < 0) return -1;
        if (n == 0) return bad_escape(t, i);
        tput_cp(&t->out, *cp, i);
        return n;
    }
    size_t w = char_len(t, i);
    kiln_relabel_utf8_decode((const unsigned char *)t->pat + i, t->len - i, cp);
    if (t->pat[i] == '[' || t->pat[i] == ']' || t->pat[i] == '-' || t->pat[i] == '^')
        tput_cp(&t->out, *cp, i); /* literal for PCRE2 too */
    else
        tput(&t->out, t->pat + i, w, i);
    return (long)w;
}

/* A bracketed class starting at pat[i] ('['). Returns its length or -1. */
static long char_class(tctx *t, size_t i)
{
    size_t j = i + 1;
    tputs(&t->out, "[", i);
    if (j < t->len && t->pat[j] == '^') {
        tputs(&t->out, "^", j);
        j++;
    }
    int first = 1;
    for (;;) {
        if (j >= t->len) return terr(t, i, "missing closing ]", NULL);
        char c = t->pat[j];
        if (c == ']' && !first) {
            tputs(&t->out, "]", j);
            return (long)(j + 1 - i);
        }
        first = 0;
        if (c == '[' && j + 1 < t->len && t->pat[j + 1] == ':') {
            /* [:name:] / [:^name:] when the closing ":]" is there */
            size_t k = j + 2;
            while (k + 1 < t->len && !(t->pat[k] == ':' && t->pat[k + 1] == ']')) k++;
            if (k + 1 < t->len) {
                size_t ns = j + 2 + (t->pat[j + 2] == '^');
                int ok = 0;
                for (int p = 0; posix_names[p]; p++)
                    if (strlen(posix_names[p]) == k - ns && memcmp(posix_names[p], t->pat + ns, k - ns) == 0)
                        ok = 1;
                if (!ok) return terr(t, j, "invalid character class range (unknown [:name:])", NULL);
                tput(&t->out, t->pat + j, k + 2 - j, j);
                j = k + 2;
                continue;
            }
        }
        if (c == '\\') {
            long n = class_escape_in_class(t, j);
            if (n < 0) return -1;
            if (n > 0) {
                j += (size_t)n;
                continue;
            }
        }
        uint32_t lo, hi;
        long n = class_char(t, j, &lo);
        if (n < 0) return -1;
        j += (size_t)n;
        if (j + 1 < t->len && t->pat[j] == '-' && t->pat[j + 1] != ']') {
            tputs(&t->out, "-", j);
            j++;
            if (t->pat[j] == '\\' && j + 1 < t->len && strchr("dDwWsSpP", t->pat[j + 1]))
                return terr(t, j, "invalid character class range (a class cannot end a range)", NULL);
            n = class_char(t, j, &hi);
            if (n < 0) return -1;
            if (hi < lo) return terr(t, j, "invalid character class range (reversed)", NULL);
            j += (size_t)n;
        }
    }
}

/* `(` at pat[i]: group kinds RE2 has are copied, the others refused.
 * Returns the length consumed, -1 on error; *flags_only is set for (?flags). */
static long group_open(tctx *t, size_t i, int *flags_only)
{
    *flags_only = 0;
    size_t j = i + 1;
    if (j < t->len && t->pat[j] == '*') return terr(t, i, "(*VERB) and (*...) options are not supported (RE2 syntax)", NULL);
    if (j >= t->len || t->pat[j] != '?') {
        tputs(&t->out, "(", i);
        return 1;
    }
    j++;
    char c = j < t->len ? t->pat[j] : 0;
    char c2 = j + 1 < t->len ? t->pat[j + 1] : 0;
    if (c == 'P' || c == '<') {
        size_t ns;
        if (c == 'P') {
            if (c2 == '=') return terr(t, i, "backreferences (?P=name) are not supported (RE2 syntax)", NULL);
            if (c2 == '>') return terr(t, i, "recursion (?P>name) is not supported (RE2 syntax)", NULL);
            if (c2 != '<') return terr(t, i, "invalid or unsupported Perl syntax (?P", NULL);
            ns = j + 2;
        } else {
            if (c2 == '=' || c2 == '!')
                return terr(t, i, "lookbehind (?<= (?<! is not supported (RE2 syntax)", NULL);
            ns = j + 1;
        }
        size_t k = ns;
        while (k < t->len && is_word((unsigned char)t->pat[k])) k++;
        if (k >= t->len || t->pat[k] != '>' || k == ns)
            return terr(t, i, "invalid named capture (names are letters, digits and _)", NULL);
        tput(&t->out, t->pat + i, k + 1 - i, i);
        return (long)(k + 1 - i);
    }
    switch (c) {
    case '=': case '!': return terr(t, i, "lookahead (?= (?! is not supported (RE2 syntax)", NULL);
    case '>': return terr(t, i, "atomic groups (?> are not supported (RE2 syntax)", NULL);
    case '|': return terr(t, i, "branch reset groups (?| are not supported (RE2 syntax)", NULL);
    case '#': return terr(t, i, "comments (?# are not supported (RE2 syntax)", NULL);
    case '(': return terr(t, i, "conditionals (?( are not supported (RE2 syntax)", NULL);
    case 'C': return terr(t, i, "callouts (?C are not supported (RE2 syntax)", NULL);
    case '\'': return terr(t, i, "named groups (?'name' are not supported (RE2 syntax; use (?P<name>)", NULL);
    case 'R': case '&': case '+':
        return terr(t, i, "recursion (?R (?&name) (?+N) is not supported (RE2 syntax)", NULL);
    default: break;
    }
    if ((c >= '0' && c <= '9') || (c == '-' && c2 >= '0' && c2 <= '9'))
        return terr(t, i, "recursion (?N) is not supported (RE2 syntax)", NULL);
    if (c == ':') {
        tputs(&t->out, "(?:", i);
        return 3;
    }
    /* flags: [imsU]* optionally followed by - and more, then ) or : */
    size_t k = j;
    int neg = 0, saw = 0;
    for (; k < t->len; k++) {
        char f = t->pat[k];
        if (f == 'i' || f == 'm' || f == 's' || f == 'U') {
            saw = 1;
            continue;
        }
        if (f == '-') {
            if (neg) return terr(t, k, "invalid or unsupported Perl syntax (two '-' in flags)", NULL);
            neg = 1;
            saw = 0;
            continue;
        }
        if (f == ')' || f == ':') {
            if (neg && !saw) return terr(t, k, "invalid or unsupported Perl syntax (missing flags after '-')", NULL);
            *flags_only = f == ')';
            tput(&t->out, t->pat + i, k + 1 - i, i);
            return (long)(k + 1 - i);
        }
        char s[2] = {f, 0};
        if ((unsigned char)f >= 0x80) s[0] = '?';
        return terr(t, k, "unsupported flag '%s' (RE2 knows i, m, s and U)", s);
    }
    return terr(t, i, "missing closing )", NULL);
}

enum { PREV_NONE, PREV_ATOM, PREV_QUANT, PREV_LAZY };

static int translate(tctx *t)
{
    int prev = PREV_NONE;
    size_t i = 0;
    while (i < t->len && !t->failed) {
        unsigned char c = (unsigned char)t->pat[i];
        switch (c) {
        case '\\': {
            if (i + 1 >= t->len) return terr(t, i, "trailing backslash at end of expression", NULL);
            char e = t->pat[i + 1];
            if (e == 'Q') { /* literal text up to \E */
                size_t j = i + 2;
                while (j < t->len && !(t->pat[j] == '\\' && j + 1 < t->len && t->pat[j + 1] == 'E')) {
                    size_t w = char_len(t, j);
                    if (w == 1 && (unsigned char)t->pat[j] < 0x80 && !is_alnum((unsigned char)t->pat[j])) {
                        char s[3] = {'\\', t->pat[j], 0};
                        tput(&t->out, s, 2, j);
                    } else {
                        tput(&t->out, t->pat + j, w, j);
                    }
                    prev = PREV_ATOM;
                    j += w;
                }
                i = j < t->len ? j + 2 : j;
                continue;
            }
            if (e == 'b' || e == 'B' || e == 'A' || e == 'z') {
                tput(&t->out, t->pat + i, 2, i);
                i += 2;
                prev = PREV_ATOM;
                continue;
            }
            if (e == 'd' || e == 'D' || e == 'w' || e == 'W') {
                tput(&t->out, t->pat + i, 2, i);
                i += 2;
                prev = PREV_ATOM;
                continue;
            }
            if (e == 's' || e == 'S') {
                tputs(&t->out, e == 's' ? "[\\t\\n\\f\\r ]" : "[^\\t\\n\\f\\r ]", i);
                i += 2;
                prev = PREV_ATOM;
                continue;
            }
            if (e == 'p' || e == 'P') {
                long n = unicode_class(t, i);
                if (n < 0) return -1;
                i += (size_t)n;
                prev = PREV_ATOM;
                continue;
            }
            uint32_t cp;
            long n = char_escape(t, i, &cp);
            if (n < 0) return -1;
            if (n == 0) return bad_escape(t, i);
            tput_cp(&t->out, cp, i);
            i += (size_t)n;
            prev = PREV_ATOM;
            continue;
        }
        case '(': {
            int flags_only;
            long n = group_open(t, i, &flags_only);
            if (n < 0) return -1;
            i += (size_t)n;
            prev = PREV_NONE;
            continue;
        }
        case ')':
            tputs(&t->out, ")", i);
            i++;
            prev = PREV_ATOM;
            continue;
        case '|':
            tputs(&t->out, "|", i);
            i++;
            prev = PREV_NONE;
            continue;
        case '[': {
            long n = char_class(t, i);
            if (n < 0) return -1;
            i += (size_t)n;
            prev = PREV_ATOM;
            continue;
        }
        case '{':
        case '*':
        case '+':
        case '?': {
            long n = 1;
            if (c == '{') {
                n = parse_repeat(t, i);
                if (n < 0) return -1;
                if (n == 0) { /* not a repeat: a literal brace, as in RE2 */
                    tputs(&t->out, "\\{", i);
                    i++;
                    prev = PREV_ATOM;
                    continue;
                }
            }
            if (prev == PREV_QUANT && c == '?') {
                tputs(&t->out, "?", i);
                i++;
                prev = PREV_LAZY;
                continue;
            }
            if (prev == PREV_QUANT && c == '+')
                return terr(t, i, "possessive quantifiers (*+ ++ ?+ {n}+) are not supported (RE2 syntax)", NULL);
            if (prev == PREV_QUANT || prev == PREV_LAZY)
                return terr(t, i, "invalid nested repetition operator", NULL);
            if (prev == PREV_NONE) return terr(t, i, "missing argument to repetition operator", NULL);
            tput(&t->out, t->pat + i, (size_t)n, i);
            i += (size_t)n;
            prev = PREV_QUANT;
            continue;
        }
        default: {
            size_t w = char_len(t, i);
            tput(&t->out, t->pat + i, w, i);
            i += w;
            prev = PREV_ATOM;
            continue;
        }
        }
    }
    return t->failed ? -1 : 0;
}

/* ---- compile --------------------------------------------------------------------- */

int kiln_relabel_re_compile(kiln_relabel_re *re, const char *pat, kiln_relabel_anchor anchor,
                            kiln_err *err)
{
    memset(re, 0, sizeof *re);
    char q[300];
    size_t ulen = strlen(pat);
    if (!kiln_relabel_utf8_valid(pat, ulen))
        return kiln_err_set(err, KILN_EINVAL, "invalid regex %s: invalid UTF-8",
                            kiln_relabel_quote(pat, q, sizeof q));
    /* Prometheus and pprof build the anchored pattern by concatenation
     * ("^(?s:" + re + ")$"), so a pattern like `a)|(b` or `\Qx` means there
     * what it means in the joined string: translate the joined string. */
    const char *pre = anchor == KILN_RE_PPROF ? "^(" : "^(?s:";
    size_t plen = strlen(pre);
    char *joined = malloc(plen + ulen + 3);
    if (!joined) return kiln_err_set(err, KILN_ENOMEM, "out of memory compiling a regex");
    memcpy(joined, pre, plen);
    memcpy(joined + plen, pat, ulen);
    memcpy(joined + plen + ulen, ")$", 3);
    tctx t;
    memset(&t, 0, sizeof t);
    t.pat = joined;
    t.len = plen + ulen + 2;
    int rc = translate(&t);
    if (rc == 0 && t.out.oom) {
        free(joined);
        free(t.out.p);
        free(t.out.map);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory compiling a regex");
    }
    const char *why = NULL;
    PCRE2_UCHAR msg[256];
    size_t at = 0;
    pcre2_code *code = NULL;
    if (rc < 0) {
        why = t.why;
        at = t.at;
    } else {
        pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
        if (cc) pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
        int ec = 0;
        PCRE2_SIZE eoff = 0;
        code = pcre2_compile((PCRE2_SPTR)t.out.p, t.out.n,
                             PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_CIRCUMFLEX |
                                 PCRE2_NEVER_BACKSLASH_C,
                             &ec, &eoff, cc);
        pcre2_compile_context_free(cc);
        if (!code) {
            if (pcre2_get_error_message(ec, msg, sizeof msg) < 0)
                snprintf((char *)msg, sizeof msg, "error %d", ec);
            why = (const char *)msg;
            at = eoff < t.out.n ? t.out.map[eoff] : t.len;
        }
    }
    free(joined);
    free(t.out.p);
    free(t.out.map);
    if (why) {
        /* an offset inside the anchoring is reported at the nearest end of the user's pattern */
        size_t uat = at < plen ? 0 : at - plen;
        if (uat > ulen) uat = ulen;
        return kiln_err_set(err, KILN_EINVAL, "invalid regex %s: %s at offset %zu",
                            kiln_relabel_quote(pat, q, sizeof q), why, uat);
    }
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* interpreted when JIT is unavailable */
    uint32_t nc = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &nc);
    re->code = code;
    re->ncap = nc;
    re->src = strdup(pat);
    if (!re->src) {
        pcre2_code_free(code);
        re->code = NULL;
        return kiln_err_set(err, KILN_ENOMEM, "out of memory compiling a regex");
    }
    return KILN_OK;
}

void kiln_relabel_re_free(kiln_relabel_re *re)
{
    if (!re) return;
    pcre2_code_free(re->code);
    free(re->src);
    memset(re, 0, sizeof *re);
}

int kiln_relabel_re_group(const kiln_relabel_re *re, const char *name, size_t len)
{
    uint32_t count = 0, esz = 0;
    PCRE2_SPTR table = NULL;
    if (!re->code) return -1;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &esz);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * esz;
        const char *nm = (const char *)e + 2;
        if (strlen(nm) == len && memcmp(nm, name, len) == 0) return (int)(e[0] << 8 | e[1]);
    }
    return -1;
}

/* ---- match ------------------------------------------------------------------------ */

pcre2_match_context *kiln_relabel_match_context(uint32_t match_limit)
{
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    if (mc && match_limit) pcre2_set_match_limit(mc, match_limit);
    return mc;
}

int kiln_relabel_matcher_init(kiln_relabel_matcher *m, uint32_t pairs, const pcre2_match_context *mc)
{
    memset(m, 0, sizeof *m);
    if (pairs < 1) pairs = 1;
    m->md = pcre2_match_data_create(pairs, NULL);
    if (!m->md) return KILN_ENOMEM;
    m->pairs = pairs;
    m->mc = mc;
    m->ov = pcre2_get_ovector_pointer(m->md);
    return KILN_OK;
}

void kiln_relabel_matcher_free(kiln_relabel_matcher *m)
{
    if (!m) return;
    pcre2_match_data_free(m->md);
    free(m->fix);
    free(m->fix_map);
    memset(m, 0, sizeof *m);
}

/* Copies s with every invalid UTF-8 byte replaced by U+FFFD (as Go's
 * regexp reads it) into m->fix, with m->fix_map[i] the offset in s of
 * output byte i (and fix_map[len] = n). Returns the new length or -1. */
static long fix_utf8(kiln_relabel_matcher *m, const char *s, size_t n)
{
    size_t need = n * 3 + 1;
    if (need > m->fix_cap) {
        char *f = realloc(m->fix, need);
        if (!f) return -1;
        m->fix = f;
        size_t *fm = realloc(m->fix_map, need * sizeof *fm);
        if (!fm) return -1;
        m->fix_map = fm;
        m->fix_cap = need;
    }
    size_t w = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = kiln_relabel_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (cp == 0xFFFD && k == 1 && (unsigned char)s[i] >= 0x80) {
            m->fix[w] = (char)0xEF;
            m->fix[w + 1] = (char)0xBF;
            m->fix[w + 2] = (char)0xBD;
            m->fix_map[w] = m->fix_map[w + 1] = m->fix_map[w + 2] = i;
            w += 3;
        } else {
            memcpy(m->fix + w, s + i, k);
            for (size_t j = 0; j < k; j++) m->fix_map[w + j] = i;
            w += k;
        }
        i += k;
    }
    m->fix_map[w] = n;
    return (long)w;
}

int kiln_relabel_re_match(const kiln_relabel_re *re, kiln_relabel_matcher *m, const char *s, size_t len)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, m->md, (pcre2_match_context *)m->mc);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21) {
        long fl = fix_utf8(m, s, len);
        if (fl < 0) {
            m->limit_hits++;
            return 0;
        }
        rc = pcre2_match(re->code, (PCRE2_SPTR)m->fix, (size_t)fl, 0, 0, m->md,
                         (pcre2_match_context *)m->mc);
        if (rc >= 0) {
            uint32_t np = pcre2_get_ovector_count(m->md);
            for (uint32_t k = 0; k < 2 * np; k++)
                if (m->ov[k] != PCRE2_UNSET && m->ov[k] <= (PCRE2_SIZE)fl) m->ov[k] = m->fix_map[m->ov[k]];
            return 1;
        }
        if (rc == PCRE2_ERROR_NOMATCH) return 0;
    }
    m->limit_hits++;
    return 0;
}

/* ---- templates (Go's Regexp.Expand) -------------------------------------------------- */

/* Length of the name at s (letters, digits, '_' by Unicode category, as
 * Go's unicode.IsLetter / unicode.IsDigit), using a PCRE2 pattern compiled
 * for the occasion (templates are parsed at config time only). */
static size_t name_len(pcre2_code *namere, pcre2_match_data *md, const char *s, size_t n)
{
    if (!namere || !md) { /* ASCII fallback */
        size_t i = 0;
        while (i < n && is_word((unsigned char)s[i])) i++;
        return i;
    }
    int rc = pcre2_match(namere, (PCRE2_SPTR)s, n, 0, PCRE2_ANCHORED, md, NULL);
    if (rc <= 0) {
        if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21) {
            /* the prefix before the first invalid byte is what Go reads */
            size_t ok = 0;
            while (ok < n) {
                uint32_t cp;
                size_t w = kiln_relabel_utf8_decode((const unsigned char *)s + ok, n - ok, &cp);
                if (cp == 0xFFFD && w == 1 && (unsigned char)s[ok] >= 0x80) break;
                ok += w;
            }
            if (ok == 0) return 0;
            return name_len(namere, md, s, ok);
        }
        return 0;
    }
    return pcre2_get_ovector_pointer(md)[1];
}

static int seg_add(kiln_relabel_tpl *t, size_t *cap, int group, const char *lit, size_t len)
{
    if (group == -1 && len == 0) return KILN_OK;
    if (group == -1 && t->n && t->seg[t->n - 1].group == -1 &&
        t->seg[t->n - 1].lit + t->seg[t->n - 1].len == lit) { /* extend the previous literal */
        t->seg[t->n - 1].len += len;
        return KILN_OK;
    }
    if (t->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        kiln_relabel_tpl_seg *ns = realloc(t->seg, nc * sizeof *ns);
        if (!ns) return KILN_ENOMEM;
        t->seg = ns;
        *cap = nc;
    }
    t->seg[t->n].group = group;
    t->seg[t->n].lit = lit;
    t->seg[t->n].len = len;
    t->n++;
    return KILN_OK;
}

int kiln_relabel_tpl_parse(kiln_relabel_tpl *t, const char *tmpl, const kiln_relabel_re *re, kiln_err *err)
{
    memset(t, 0, sizeof *t);
    t->raw = strdup(tmpl);
    if (!t->raw) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    t->has_dollar = strchr(tmpl, '$') != NULL;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *namere = pcre2_compile((PCRE2_SPTR) "[\\p{L}\\p{Nd}_]+", PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &eo, NULL);
    pcre2_match_data *md = namere ? pcre2_match_data_create_from_pattern(namere, NULL) : NULL;
    size_t cap = 0;
    const char *s = t->raw;
    size_t n = strlen(s), i = 0, lit = 0;
    int rc = KILN_OK;
    while (i < n && rc == KILN_OK) {
        if (s[i] != '$') {
            i++;
            continue;
        }
        rc = seg_add(t, &cap, -1, s + lit, i - lit);
        i++; /* past '$' */
        if (i < n && s[i] == '$') { /* "$$" is a '$' */
            rc = rc ? rc : seg_add(t, &cap, -1, s + i, 1);
            i++;
            lit = i;
            continue;
        }
        int brace = i < n && s[i] == '{';
        size_t ns = i + (size_t)brace;
        size_t nl = name_len(namere, md, s + ns, n - ns);
        if (nl == 0 || (brace && (ns + nl >= n || s[ns + nl] != '}'))) {
            /* malformed: the '$' stays as text */
            lit = i - 1;
            continue;
        }
        const char *name = s + ns;
        long num = 0;
        for (size_t k = 0; k < nl; k++) {
            if (name[k] < '0' || name[k] > '9' || num >= 100000000) {
                num = -1;
                break;
            }
            num = num * 10 + (name[k] - '0');
        }
        if (name[0] == '0' && nl > 1) num = -1;
        int group;
        if (num >= 0) group = (re && (uint32_t)num <= re->ncap) ? (int)num : -2;
        else group = re ? kiln_relabel_re_group(re, name, nl) : -1;
        if (group < 0) group = -2;
        rc = rc ? rc : seg_add(t, &cap, group, NULL, 0);
        i = ns + nl + (size_t)brace;
        lit = i;
    }
    if (rc == KILN_OK) rc = seg_add(t, &cap, -1, s + lit, n - lit);
    pcre2_match_data_free(md);
    pcre2_code_free(namere);
    if (rc != KILN_OK) {
        kiln_relabel_tpl_free(t);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    return KILN_OK;
}

void kiln_relabel_tpl_free(kiln_relabel_tpl *t)
{
    if (!t) return;
    free(t->raw);
    free(t->seg);
    memset(t, 0, sizeof *t);
}

char *kiln_relabel_tpl_expand(const kiln_relabel_tpl *t, const kiln_relabel_matcher *m,
                              const kiln_relabel_re *re, const char *subject, kiln_arena *a,
                              size_t *len_out)
{
    size_t total = 0;
    for (size_t i = 0; i < t->n; i++) {
        const kiln_relabel_tpl_seg *g = &t->seg[i];
        if (g->group == -1) total += g->len;
        else if (g->group >= 0 && (uint32_t)g->group < m->pairs && m->ov[2 * g->group] != PCRE2_UNSET)
            total += m->ov[2 * g->group + 1] - m->ov[2 * g->group];
    }
    char *out = kiln_arena_alloc(a, total + 1);
    if (!out) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        const kiln_relabel_tpl_seg *g = &t->seg[i];
        if (g->group == -1) {
            memcpy(out + w, g->lit, g->len);
            w += g->len;
        } else if (g->group >= 0 && (uint32_t)g->group < m->pairs && m->ov[2 * g->group] != PCRE2_UNSET) {
            size_t b = m->ov[2 * g->group], e = m->ov[2 * g->group + 1];
            memcpy(out + w, subject + b, e - b);
            w += e - b;
        }
    }
    out[w] = 0;
    (void)re;
    if (len_out) *len_out = w;
    return out;
}
