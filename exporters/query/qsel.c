/* exporters/query/qsel.c — label selectors as Pyroscope reads them
 * (Prometheus' ParseMetricSelector), profile type ids, and the legacy
 * render query `<profile type id>{selector}`.
 *
 * Grammar (whitespace allowed between tokens):
 *   selector := [metric-name] [ '{' [matcher {',' matcher} [',']] '}' ]
 *   metric-name := [a-zA-Z_:][a-zA-Z0-9_:]*     -> __name__="<it>"
 *   matcher  := label op string | string        (a lone string: __name__=)
 *   label    := [a-zA-Z_][a-zA-Z0-9_]* | string (quoted UTF-8 names)
 *   op       := = | != | =~ | !~
 *   string   := "..." | '...' (Go escapes: \a\b\f\n\r\t\v\\\'\" \xHH \NNN
 *               \uHHHH \UHHHHHHHH) | `raw`
 * Regexes are PCRE2 compiled fully anchored (`^(?:re)$` as Prometheus
 * anchors RE2) with `.` matching newlines (Prometheus' (?s)), UTF mode, and
 * a match limit so a pathological pattern cannot hang a query.
 *
 * Memory: a kq_selector owns its names, values, compiled regexes and match
 * data (kiln_query_selector_free). A kq_ptype owns one buffer.
 */
#include <kiln/text.h>
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RE_MATCH_LIMIT 1000000

typedef struct lx {
    const char *s;
    size_t n, i;
    kiln_err *err;
} lx;

static int sfail(lx *l, const char *what)
{
    return kiln_err_set(l->err, KILN_EINVAL, "label selector: %s at byte %zu of \"%.*s\"", what, l->i,
                        (int)(l->n > 200 ? 200 : l->n), l->s);
}

static void sws(lx *l)
{
    while (l->i < l->n && (l->s[l->i] == ' ' || l->s[l->i] == '\t' || l->s[l->i] == '\n' ||
                           l->s[l->i] == '\r'))
        l->i++;
}

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A quoted string at l->i; *out malloc'ed, NUL-terminated (an embedded NUL
 * is refused: label values cannot hold one). */
static int qstring(lx *l, char **out)
{
    char q = l->s[l->i];
    size_t start = ++l->i;
    size_t end = start;
    while (end < l->n && l->s[end] != q) {
        if (q != '`' && l->s[end] == '\\') end++;
        end++;
    }
    if (end >= l->n) return sfail(l, "unterminated string");
    char *o = malloc(end - start + 1);
    if (!o) return kiln_err_set(l->err, KILN_ENOMEM, "out of memory");
    size_t w = 0;
    while (l->i < end) {
        char c = l->s[l->i];
        if (q == '`') {
            o[w++] = c;
            l->i++;
            continue;
        }
        if (c == '\n') {
            free(o);
            return sfail(l, "newline in string");
        }
        if (c != '\\') {
            o[w++] = c;
            l->i++;
            continue;
        }
        l->i++;
        c = l->s[l->i++];
        unsigned cp = 0;
        int nd = 0;
        switch (c) {
        case 'a': o[w++] = '\a'; continue;
        case 'b': o[w++] = '\b'; continue;
        case 'f': o[w++] = '\f'; continue;
        case 'n': o[w++] = '\n'; continue;
        case 'r': o[w++] = '\r'; continue;
        case 't': o[w++] = '\t'; continue;
        case 'v': o[w++] = '\v'; continue;
        case '\\': o[w++] = '\\'; continue;
        case '\'': o[w++] = '\''; continue;
        case '"': o[w++] = '"'; continue;
        case 'x': nd = 2; break;
        case 'u': nd = 4; break;
        case 'U': nd = 8; break;
        default:
            if (c >= '0' && c <= '7') {
                /* three octal digits, value <= 255, written as a byte */
                if (end - l->i < 2 || l->s[l->i] < '0' || l->s[l->i] > '7' || l->s[l->i + 1] < '0' ||
                    l->s[l->i + 1] > '7') {
                    free(o);
                    return sfail(l, "bad octal escape");
                }
                unsigned v = (unsigned)(c - '0') * 64 + (unsigned)(l->s[l->i] - '0') * 8 +
                             (unsigned)(l->s[l->i + 1] - '0');
                l->i += 2;
                if (v > 255 || v == 0) {
                    free(o);
                    return sfail(l, v ? "octal escape out of range" : "NUL in string");
                }
                o[w++] = (char)v;
                continue;
            }
            l->i--;
            free(o);
            return sfail(l, "unknown escape sequence");
        }
        if (end - l->i < (size_t)nd) {
            free(o);
            return sfail(l, "short escape");
        }
        for (int k = 0; k < nd; k++) {
            int h = kiln_hex_digit(l->s[l->i + (size_t)k]);
            if (h < 0) {
                free(o);
                return sfail(l, "bad hex escape");
            }
            cp = cp << 4 | (unsigned)h;
        }
        l->i += (size_t)nd;
        if (cp == 0) {
            free(o);
            return sfail(l, "NUL in string");
        }
        if (nd == 2) {
            o[w++] = (char)cp; /* a byte, as Go's \x */
        } else {
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) {
                free(o);
                return sfail(l, "escape is not a valid Unicode code point");
            }
            /* \uHHHH is 6 source bytes, at most 3 out; \U 10 in, at most 4 out */
            w += kiln_utf8_put(o + w, cp);
        }
    }
    l->i = end + 1;
    o[w] = 0;
    if (strlen(o) != w) {
        free(o);
        return sfail(l, "NUL in string");
    }
    *out = o;
    return KILN_OK;
}

/* ---- matchers --------------------------------------------------------------------------- */

static int re_hit(const char *v, void *arg)
{
    const kq_matcher *m = arg;
    size_t len = strlen(v);
    int rc = pcre2_match(m->re, (PCRE2_SPTR)v, len, 0, 0, m->md, m->mc);
    return rc >= 0;
}

static int compile_re(kq_matcher *m, kiln_err *err)
{
    int ec;
    PCRE2_SIZE eoff;
    uint32_t opts = PCRE2_UTF | PCRE2_DOTALL | PCRE2_ANCHORED | PCRE2_NEVER_BACKSLASH_C;
    /* check the pattern on its own first: wrapping it could hide an
     * unbalanced ')' such as "a)(b" */
    pcre2_code *raw = pcre2_compile((PCRE2_SPTR)m->value, strlen(m->value), opts & ~PCRE2_ANCHORED,
                                    &ec, &eoff, NULL);
    if (!raw) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return kiln_err_set(err, KILN_EINVAL, "label selector: %s%s\"%s\": bad regex at offset %zu: %s",
                            m->name, m->op == KILN_MATCH_RE ? "=~" : "!~", m->value, (size_t)eoff,
                            (const char *)msg);
    }
    pcre2_code_free(raw);
    size_t l = strlen(m->value);
    char *pat = malloc(l + 8);
    if (!pat) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    memcpy(pat, "(?:", 3);
    memcpy(pat + 3, m->value, l);
    memcpy(pat + 3 + l, ")\\z", 4);
    m->re = pcre2_compile((PCRE2_SPTR)pat, l + 6, opts, &ec, &eoff, NULL);
    free(pat);
    if (!m->re) return kiln_err_set(err, KILN_EINVAL, "label selector: bad regex \"%s\"", m->value);
    (void)pcre2_jit_compile(m->re, PCRE2_JIT_COMPLETE); /* interpreted when JIT is unavailable */
    m->md = pcre2_match_data_create_from_pattern(m->re, NULL);
    m->mc = pcre2_match_context_create(NULL);
    if (!m->md || !m->mc) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    pcre2_set_match_limit(m->mc, RE_MATCH_LIMIT);
    pcre2_set_depth_limit(m->mc, RE_MATCH_LIMIT / 10);
    return KILN_OK;
}

static void matcher_free(kq_matcher *m)
{
    free(m->name);
    free(m->value);
    if (m->md) pcre2_match_data_free(m->md);
    if (m->mc) pcre2_match_context_free(m->mc);
    if (m->re) pcre2_code_free(m->re);
    memset(m, 0, sizeof *m);
}

/* Takes name and value (freed on failure too). */
static int add_taken(kq_selector *s, char *name, int op, char *value, kiln_err *err)
{
    if (s->n >= KQ_SELECTOR_MAX_MATCHERS) {
        free(name);
        free(value);
        return kiln_err_set(err, KILN_EINVAL, "label selector: more than %d matchers",
                            KQ_SELECTOR_MAX_MATCHERS);
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4;
        kq_matcher *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) {
            free(name);
            free(value);
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        }
        s->v = nv;
        s->cap = nc;
    }
    kq_matcher *m = &s->v[s->n];
    memset(m, 0, sizeof *m);
    m->name = name;
    m->value = value;
    m->op = op;
    if (op == KILN_MATCH_RE || op == KILN_MATCH_NRE) {
        int rc = compile_re(m, err);
        if (rc != KILN_OK) {
            matcher_free(m);
            return rc;
        }
    }
    s->n++;
    return KILN_OK;
}

int kiln_query_selector_add(kq_selector *s, const char *name, int op, const char *value,
                            kiln_err *err)
{
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    return add_taken(s, n, op, v, err);
}

void kiln_query_selector_free(kq_selector *s)
{
    for (size_t i = 0; i < s->n; i++) matcher_free(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

int kiln_query_matcher_match(const kq_matcher *m, const char *v)
{
    switch (m->op) {
    case KILN_MATCH_EQ: return strcmp(v, m->value) == 0;
    case KILN_MATCH_NEQ: return strcmp(v, m->value) != 0;
    case KILN_MATCH_RE: return re_hit(v, (void *)m);
    default: return !re_hit(v, (void *)m);
    }
}

int kiln_query_selector_match(const kq_selector *s, const char *const *names,
                              const char *const *values, size_t n)
{
    for (size_t i = 0; i < s->n; i++) {
        const char *v = "";
        for (size_t k = 0; k < n; k++)
            if (!strcmp(names[k], s->v[i].name)) {
                v = values[k];
                break;
            }
        if (!kiln_query_matcher_match(&s->v[i], v)) return 0;
    }
    return 1;
}

void kiln_query_selector_block(const kq_selector *s, kiln_block_matcher *out)
{
    for (size_t i = 0; i < s->n; i++) {
        const kq_matcher *m = &s->v[i];
        out[i].name = m->name;
        out[i].op = m->op;
        out[i].value = m->value;
        out[i].fn = m->re ? re_hit : NULL;
        out[i].arg = (void *)m;
    }
}

/* ---- the parser ------------------------------------------------------------------------ */

static int ident(lx *l, int metric, char **out)
{
    size_t st = l->i;
    if (l->i < l->n && (is_alpha(l->s[l->i]) || (metric && l->s[l->i] == ':'))) l->i++;
    else return sfail(l, metric ? "expected a metric name or '{'" : "expected a label name");
    while (l->i < l->n &&
           (is_alpha(l->s[l->i]) || is_digit(l->s[l->i]) || (metric && l->s[l->i] == ':')))
        l->i++;
    *out = strndup(l->s + st, l->i - st);
    return *out ? KILN_OK : kiln_err_set(l->err, KILN_ENOMEM, "out of memory");
}

static int is_quote(char c) { return c == '"' || c == '\'' || c == '`'; }

static int one_matcher(lx *l, kq_selector *out)
{
    char *name = NULL, *value = NULL;
    int rc;
    if (is_quote(l->s[l->i])) {
        if ((rc = qstring(l, &name)) != KILN_OK) return rc;
        sws(l);
        if (l->i >= l->n || l->s[l->i] == ',' || l->s[l->i] == '}') {
            /* {"metric.name"}: a quoted metric name */
            char *n2 = strdup(KILN_LABEL_NAME);
            if (!n2) {
                free(name);
                return kiln_err_set(l->err, KILN_ENOMEM, "out of memory");
            }
            return add_taken(out, n2, KILN_MATCH_EQ, name, l->err);
        }
    } else if ((rc = ident(l, 0, &name)) != KILN_OK) {
        return rc;
    }
    sws(l);
    int op;
    if (l->i + 1 < l->n && l->s[l->i] == '=' && l->s[l->i + 1] == '~') op = KILN_MATCH_RE, l->i += 2;
    else if (l->i + 1 < l->n && l->s[l->i] == '!' && l->s[l->i + 1] == '~') op = KILN_MATCH_NRE, l->i += 2;
    else if (l->i + 1 < l->n && l->s[l->i] == '!' && l->s[l->i + 1] == '=') op = KILN_MATCH_NEQ, l->i += 2;
    else if (l->i < l->n && l->s[l->i] == '=') op = KILN_MATCH_EQ, l->i += 1;
    else {
        free(name);
        return sfail(l, "expected one of =, !=, =~, !~");
    }
    sws(l);
    if (l->i >= l->n || !is_quote(l->s[l->i])) {
        free(name);
        return sfail(l, "expected a quoted label value");
    }
    if ((rc = qstring(l, &value)) != KILN_OK) {
        free(name);
        return rc;
    }
    return add_taken(out, name, op, value, l->err);
}

int kiln_query_selector_parse(const char *s, size_t len, kq_selector *out, kiln_err *err)
{
    if (len > KQ_SELECTOR_MAX_BYTES)
        return kiln_err_set(err, KILN_EINVAL, "label selector: longer than %d bytes",
                            KQ_SELECTOR_MAX_BYTES);
    if (memchr(s, 0, len)) return kiln_err_set(err, KILN_EINVAL, "label selector: NUL byte");
    lx l = {s, len, 0, err};
    sws(&l);
    if (l.i >= l.n) return KILN_OK; /* empty: everything */
    int rc;
    if (l.s[l.i] != '{') {
        char *name;
        if ((rc = ident(&l, 1, &name)) != KILN_OK) return rc;
        char *n2 = strdup(KILN_LABEL_NAME);
        if (!n2) {
            free(name);
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        }
        if ((rc = add_taken(out, n2, KILN_MATCH_EQ, name, err)) != KILN_OK) return rc;
        sws(&l);
        if (l.i >= l.n) return KILN_OK;
        if (l.s[l.i] != '{') return sfail(&l, "expected '{'");
    }
    l.i++; /* '{' */
    for (;;) {
        sws(&l);
        if (l.i >= l.n) return sfail(&l, "unterminated selector (missing '}')");
        if (l.s[l.i] == '}') {
            l.i++;
            break;
        }
        if ((rc = one_matcher(&l, out)) != KILN_OK) return rc;
        sws(&l);
        if (l.i < l.n && l.s[l.i] == ',') {
            l.i++;
            continue;
        }
        if (l.i < l.n && l.s[l.i] == '}') {
            l.i++;
            break;
        }
        if (l.i >= l.n) return sfail(&l, "unterminated selector (missing '}')");
        return sfail(&l, "expected ',' or '}'");
    }
    sws(&l);
    if (l.i != l.n) return sfail(&l, "unexpected text after '}'");
    return KILN_OK;
}

/* ---- profile types ---------------------------------------------------------------------- */

int kiln_query_ptype_parse(const char *s, kq_ptype *out, kiln_err *err)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(s), parts = 1;
    for (size_t i = 0; i < len; i++) parts += s[i] == ':';
    if (parts != 5 && parts != 6)
        return kiln_err_set(err, KILN_EINVAL,
                            "profile-type selection must be of the form "
                            "<name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta), "
                            "got(%zu): \"%.*s\"",
                            parts, (int)(len > 200 ? 200 : len), s);
    /* buf: the id, then the five parts, each NUL-terminated */
    out->buf = malloc(2 * len + 8);
    if (!out->buf) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    char *p = out->buf + len + 1;
    memcpy(p, s, len + 1);
    char *f[6];
    size_t k = 0;
    f[k++] = p;
    for (char *c = p; *c; c++)
        if (*c == ':') {
            *c = 0;
            f[k++] = c + 1;
        }
    out->name = f[0];
    out->sample_type = f[1];
    out->sample_unit = f[2];
    out->period_type = f[3];
    out->period_unit = f[4];
    out->id = out->buf;
    snprintf(out->id, len + 1, "%s:%s:%s:%s:%s", f[0], f[1], f[2], f[3], f[4]);
    return KILN_OK;
}

void kiln_query_ptype_free(kq_ptype *p)
{
    free(p->buf);
    memset(p, 0, sizeof *p);
}

int kiln_query_render_query_parse(const char *q, kq_ptype *pt, kq_selector *sel, kiln_err *err)
{
    memset(pt, 0, sizeof *pt);
    kq_selector all = {0};
    int rc = kiln_query_selector_parse(q, strlen(q), &all, err);
    if (rc != KILN_OK) {
        kiln_query_selector_free(&all);
        return rc;
    }
    const char *type = NULL;
    for (size_t i = 0; i < all.n && rc == KILN_OK; i++) {
        kq_matcher *m = &all.v[i];
        if (!strcmp(m->name, KILN_LABEL_NAME) && m->op == KILN_MATCH_EQ && !type) {
            type = m->value;
            continue;
        }
        rc = kiln_query_selector_add(sel, m->name, m->op, m->value, err);
    }
    if (rc == KILN_OK && !type)
        rc = kiln_err_set(err, KILN_EINVAL, "profile type selection must be provided: "
                                            "query=<name>:<sample-type>:<sample-unit>:<period-type>:"
                                            "<period-unit>{selector}");
    if (rc == KILN_OK) rc = kiln_query_ptype_parse(type, pt, err);
    kiln_query_selector_free(&all);
    return rc;
}
