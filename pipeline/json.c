/* pipeline/json.c — kiln's JSON reader (kiln/json.h): a strict RFC 8259
 * parser into arena-held nodes, and the protojson readings of int64 and
 * double values.
 *
 * Memory: every node, key and string lives in the caller's arena; the only
 * malloc is a temporary child list per open array/object, freed before
 * returning.
 */
#include <kiln/json.h>
#include <kiln/text.h>

#include <errno.h>
#include <math.h> /* NAN and INFINITY only: macros, no libm */
#include <stdlib.h>
#include <string.h>

typedef struct jp {
    kiln_arena *a;
    const unsigned char *s;
    size_t n, i;
    kiln_err *err;
    unsigned flags;
} jp;

static int jfail(jp *p, const char *what)
{
    return kiln_err_set(p->err, KILN_EINVAL, "json: %s at byte %zu", what, p->i);
}

static void ws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static kiln_json *node(jp *p, kiln_json_kind k)
{
    kiln_json *j = kiln_arena_calloc(p->a, sizeof *j);
    if (j) {
        j->kind = k;
        j->at = p->i;
    }
    return j;
}

static int hex4(jp *p, unsigned *out)
{
    if (p->n - p->i < 4) return -1;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = p->s[p->i + k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    p->i += 4;
    *out = v;
    return 0;
}

/* p->i is at the opening quote. */
static int str(jp *p, const char **out, size_t *olen)
{
    p->i++;
    size_t start = p->i;
    /* the decoded text is never longer than three times the source (an
     * invalid byte read the Go way becomes the 3-byte U+FFFD) */
    size_t end = start;
    while (end < p->n && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->n) return jfail(p, "unterminated string");
    size_t room = p->flags & KILN_JSON_GO_STRINGS ? 3 * (end - start) + 1 : end - start + 1;
    char *o = kiln_arena_alloc(p->a, room);
    if (!o) return kiln_err_set(p->err, KILN_ENOMEM, "out of memory");
    size_t w = 0;
    while (p->i < p->n) {
        unsigned char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            o[w] = 0;
            *out = o;
            *olen = w;
            return KILN_OK;
        }
        if (c < 0x20) return jfail(p, "control character in string");
        if (c != '\\') {
            size_t l = kiln_utf8_len(p->s + p->i, p->n - p->i);
            if (!l && (p->flags & KILN_JSON_GO_STRINGS)) {
                w += kiln_utf8_put(o + w, 0xFFFD);
                p->i++;
                continue;
            }
            if (!l) return jfail(p, "invalid UTF-8 in string");
            memcpy(o + w, p->s + p->i, l);
            w += l;
            p->i += l;
            continue;
        }
        p->i++;
        if (p->i >= p->n) return jfail(p, "unterminated escape");
        c = p->s[p->i++];
        switch (c) {
        case '"': o[w++] = '"'; break;
        case '\\': o[w++] = '\\'; break;
        case '/': o[w++] = '/'; break;
        case 'b': o[w++] = '\b'; break;
        case 'f': o[w++] = '\f'; break;
        case 'n': o[w++] = '\n'; break;
        case 'r': o[w++] = '\r'; break;
        case 't': o[w++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (hex4(p, &cp) != 0) return jfail(p, "bad \\u escape");
            if (cp >= 0xD800 && cp < 0xDC00) {
                unsigned lo;
                int pair = p->n - p->i >= 6 && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u';
                if (pair) {
                    size_t back = p->i;
                    p->i += 2;
                    if (hex4(p, &lo) != 0 || lo < 0xDC00 || lo >= 0xE000) {
                        if (!(p->flags & KILN_JSON_GO_STRINGS)) return jfail(p, "bad low surrogate");
                        p->i = back; /* Go: U+FFFD, and the next escape is read on its own */
                        pair = 0;
                    }
                }
                if (pair) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else if (p->flags & KILN_JSON_GO_STRINGS) cp = 0xFFFD;
                else return jfail(p, "lone high surrogate");
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                if (!(p->flags & KILN_JSON_GO_STRINGS)) return jfail(p, "lone low surrogate");
                cp = 0xFFFD;
            }
            /* 6 source bytes (or 12 for a pair) always hold the encoding */
            w += kiln_utf8_put(o + w, cp);
            break;
        }
        default: p->i--; return jfail(p, "unknown escape");
        }
    }
    return jfail(p, "unterminated string");
}

static int value(jp *p, kiln_json **out, int depth);

static int lit(jp *p, const char *w)
{
    size_t l = strlen(w);
    if (p->n - p->i < l || memcmp(p->s + p->i, w, l) != 0) return jfail(p, "unexpected token");
    p->i += l;
    return KILN_OK;
}

static int num(jp *p, kiln_json *j)
{
    size_t st = p->i;
    if (p->i < p->n && p->s[p->i] == '-') p->i++;
    if (p->i >= p->n) return jfail(p, "bad number");
    if (p->s[p->i] == '0') {
        p->i++;
    } else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    } else {
        return jfail(p, "bad number");
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        size_t d = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        if (d == p->i) return jfail(p, "bad number fraction");
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        size_t d = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        if (d == p->i) return jfail(p, "bad number exponent");
    }
    j->s = kiln_arena_strndup(p->a, (const char *)p->s + st, p->i - st);
    j->len = p->i - st;
    return j->s ? KILN_OK : kiln_err_set(p->err, KILN_ENOMEM, "out of memory");
}

/* Collects children in a temporary growing array, then copies to the arena. */
typedef struct kids {
    kiln_json **v;
    const char **k;
    size_t n, cap;
} kids;

static int kids_add(kids *c, const char *key, kiln_json *v)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        kiln_json **nv = realloc(c->v, nc * sizeof *nv);
        if (!nv) return -1;
        c->v = nv;
        const char **nk = realloc(c->k, nc * sizeof *nk);
        if (!nk) return -1;
        c->k = nk;
        c->cap = nc;
    }
    c->v[c->n] = v;
    c->k[c->n] = key;
    c->n++;
    return 0;
}

static int kids_done(jp *p, kids *c, kiln_json *j, int obj)
{
    int rc = KILN_OK;
    j->n = c->n;
    if (c->n) {
        j->items = kiln_arena_alloc(p->a, c->n * sizeof *j->items);
        if (obj) j->keys = kiln_arena_alloc(p->a, c->n * sizeof *j->keys);
        if (!j->items || (obj && !j->keys)) rc = kiln_err_set(p->err, KILN_ENOMEM, "out of memory");
        else {
            memcpy(j->items, c->v, c->n * sizeof *j->items);
            if (obj) memcpy(j->keys, c->k, c->n * sizeof *j->keys);
        }
    }
    free(c->v);
    free(c->k);
    return rc;
}

static int value(jp *p, kiln_json **out, int depth)
{
    if (depth > KILN_JSON_MAX_DEPTH) return jfail(p, "nesting too deep");
    ws(p);
    if (p->i >= p->n) return jfail(p, "unexpected end");
    unsigned char c = p->s[p->i];
    kiln_json *j;
    int rc;
    switch (c) {
    case '{': {
        if (!(j = node(p, KILN_JSON_OBJ))) return kiln_err_set(p->err, KILN_ENOMEM, "out of memory");
        p->i++;
        kids k = {0};
        ws(p);
        if (p->i < p->n && p->s[p->i] == '}') {
            p->i++;
        } else {
            for (;;) {
                ws(p);
                if (p->i >= p->n || p->s[p->i] != '"') {
                    rc = jfail(p, "expected a member name");
                    goto obj_fail;
                }
                const char *key;
                size_t kl;
                if ((rc = str(p, &key, &kl)) != KILN_OK) goto obj_fail;
                ws(p);
                if (p->i >= p->n || p->s[p->i] != ':') {
                    rc = jfail(p, "expected ':'");
                    goto obj_fail;
                }
                p->i++;
                kiln_json *v;
                if ((rc = value(p, &v, depth + 1)) != KILN_OK) goto obj_fail;
                if (kids_add(&k, key, v) != 0) {
                    rc = kiln_err_set(p->err, KILN_ENOMEM, "out of memory");
                    goto obj_fail;
                }
                ws(p);
                if (p->i < p->n && p->s[p->i] == ',') {
                    p->i++;
                    continue;
                }
                if (p->i < p->n && p->s[p->i] == '}') {
                    p->i++;
                    break;
                }
                rc = jfail(p, "expected ',' or '}'");
                goto obj_fail;
            }
        }
        if ((rc = kids_done(p, &k, j, 1)) != KILN_OK) return rc;
        *out = j;
        return KILN_OK;
    obj_fail:
        free(k.v);
        free(k.k);
        return rc;
    }
    case '[': {
        if (!(j = node(p, KILN_JSON_ARR))) return kiln_err_set(p->err, KILN_ENOMEM, "out of memory");
        p->i++;
        kids k = {0};
        ws(p);
        if (p->i < p->n && p->s[p->i] == ']') {
            p->i++;
        } else {
            for (;;) {
                kiln_json *v;
                if ((rc = value(p, &v, depth + 1)) != KILN_OK) goto arr_fail;
                if (kids_add(&k, NULL, v) != 0) {
                    rc = kiln_err_set(p->err, KILN_ENOMEM, "out of memory");
                    goto arr_fail;
                }
                ws(p);
                if (p->i < p->n && p->s[p->i] == ',') {
                    p->i++;
                    continue;
                }
                if (p->i < p->n && p->s[p->i] == ']') {
                    p->i++;
                    break;
                }
                rc = jfail(p, "expected ',' or ']'");
                goto arr_fail;
            }
        }
        if ((rc = kids_done(p, &k, j, 0)) != KILN_OK) return rc;
        *out = j;
        return KILN_OK;
    arr_fail:
        free(k.v);
        free(k.k);
        return rc;
    }
    case '"':
        if (!(j = node(p, KILN_JSON_STR))) return kiln_err_set(p->err, KILN_ENOMEM, "out of memory");
        if ((rc = str(p, &j->s, &j->len)) != KILN_OK) return rc;
        *out = j;
        return KILN_OK;
    case 't':
    case 'f':
        if (!(j = node(p, KILN_JSON_BOOL))) return kiln_err_set(p->err, KILN_ENOMEM, "out of memory");
        j->b = c == 't';
        if ((rc = lit(p, j->b ? "true" : "false")) != KILN_OK) return rc;
        *out = j;
        return KILN_OK;
    case 'n':
        if (!(j = node(p, KILN_JSON_NULL))) return kiln_err_set(p->err, KILN_ENOMEM, "out of memory");
        if ((rc = lit(p, "null")) != KILN_OK) return rc;
        *out = j;
        return KILN_OK;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            if (!(j = node(p, KILN_JSON_NUM))) return kiln_err_set(p->err, KILN_ENOMEM, "out of memory");
            if ((rc = num(p, j)) != KILN_OK) return rc;
            *out = j;
            return KILN_OK;
        }
        return jfail(p, "unexpected character");
    }
}

int kiln_json_parse(kiln_arena *a, const char *text, size_t len, unsigned flags, kiln_json **out,
                    kiln_err *err)
{
    jp p = {a, (const unsigned char *)text, len, 0, err, flags};
    /* a UTF-8 byte order mark is not JSON; Go's decoder refuses it too */
    int rc = value(&p, out, 0);
    if (rc != KILN_OK) return rc;
    ws(&p);
    if (p.i != p.n) return jfail(&p, "trailing data");
    return KILN_OK;
}

const kiln_json *kiln_json_get(const kiln_json *obj, const char *name, const char *alt)
{
    if (!obj || obj->kind != KILN_JSON_OBJ) return NULL;
    /* the last occurrence wins, as in Go's decoder */
    for (size_t i = obj->n; i-- > 0;)
        if (!strcmp(obj->keys[i], name) || (alt && !strcmp(obj->keys[i], alt))) return obj->items[i];
    return NULL;
}

/* Parses an integer literal (optionally with an exponent that keeps it
 * integral, as protojson accepts "1e3"). */
static int int_text(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 64) return -1;
    char t[80];
    memcpy(t, s, len);
    t[len] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (*end == 0 && errno == 0) {
        if (end == t || (t[0] == '-' && end == t + 1)) return -1;
        *out = v;
        return 0;
    }
    /* a float form: accept when it is an exact integer within range */
    errno = 0;
    double d = strtod(t, &end);
    if (*end != 0 || errno != 0 || end == t) return -1;
    /* written so that NaN (strtod reads "nan") fails the range test too */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != (double)(int64_t)d) return -1;
    *out = (int64_t)d;
    return 0;
}

int kiln_json_int64(const kiln_json *v, int64_t *out, kiln_err *err)
{
    if (!v || v->kind == KILN_JSON_NULL) {
        *out = 0;
        return KILN_OK;
    }
    if ((v->kind == KILN_JSON_NUM || v->kind == KILN_JSON_STR) && int_text(v->s, v->len, out) == 0)
        return KILN_OK;
    return kiln_err_set(err, KILN_EINVAL, "expected an integer%s%.*s%s",
                        v->kind == KILN_JSON_STR || v->kind == KILN_JSON_NUM ? " (got \"" : "",
                        v->kind == KILN_JSON_STR || v->kind == KILN_JSON_NUM ? (int)(v->len > 40 ? 40 : v->len) : 0,
                        v->kind == KILN_JSON_STR || v->kind == KILN_JSON_NUM ? v->s : "",
                        v->kind == KILN_JSON_STR || v->kind == KILN_JSON_NUM ? "\")" : "");
}

int kiln_json_double(const kiln_json *v, double *out, kiln_err *err)
{
    if (!v || v->kind == KILN_JSON_NULL) {
        *out = 0;
        return KILN_OK;
    }
    if (v->kind == KILN_JSON_STR) {
        if (!strcmp(v->s, "NaN")) {
            *out = NAN;
            return KILN_OK;
        }
        if (!strcmp(v->s, "Infinity")) {
            *out = INFINITY;
            return KILN_OK;
        }
        if (!strcmp(v->s, "-Infinity")) {
            *out = -INFINITY;
            return KILN_OK;
        }
    }
    if ((v->kind == KILN_JSON_NUM || v->kind == KILN_JSON_STR) && v->len > 0 && v->len < 64) {
        char t[64];
        memcpy(t, v->s, v->len);
        t[v->len] = 0;
        char *end;
        errno = 0;
        double d = strtod(t, &end);
        /* strtod also reads hex and "inf"; JSON numbers are decimal */
        int plain = strspn(t, "0123456789+-.eE") == v->len;
        if (*end == 0 && end != t && plain && errno != ERANGE) {
            *out = d;
            return KILN_OK;
        }
    }
    return kiln_err_set(err, KILN_EINVAL, "expected a number");
}
