/* receivers/pprof/stconfig.c — the `sample_type_config` part of an ingest
 * form: JSON as pyroscope-go writes it,
 *   {"alloc_space":{"units":"bytes","aggregation":"average"},
 *    "contentions":{"display-name":"mutex_count","units":"lock_samples"}, ...}
 * read the way Go's encoding/json reads it into
 * map[string]*SampleTypeConfig{Units, DisplayName `display-name`,
 * Aggregation string; Cumulative, Sampled bool}:
 *   - the top level is an object or null (null: no config);
 *   - each value is an object or null; known fields are matched without
 *     regard to case and must have their type (string / bool) or be null;
 *     unknown fields may hold any JSON value and are skipped;
 *   - a repeated key replaces the earlier entry (and a repeated field the
 *     earlier field);
 *   - nothing but whitespace may follow the top-level value.
 * Only the display names are kept: that is all /ingest uses.
 *
 * Memory: kiln_pprofrx_stc owns a malloc'ed entry array and one malloc'ed
 * string buffer (decoded keys and display names); kiln_pprofrx_stc_free. */
#include <kiln/text.h>
#include "pprofrx.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 64

typedef struct jp {
    const uint8_t *s;
    size_t n, i;
    kiln_err *err;
    kiln_pprofrx_stc *out;
} jp;

static int fail(jp *p, const char *what)
{
    return kiln_err_set(p->err, KILN_EINVAL, "sample_type_config: byte %zu: %s", p->i, what);
}

static void ws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static int hex4(jp *p, size_t at, unsigned *v)
{
    if (at + 4 > p->n) return -1;
    unsigned x = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = kiln_hex_digit(p->s[at + k]);
        if (h < 0) return -1;
        x = x * 16 + (unsigned)h;
    }
    *v = x;
    return 0;
}

/* Reads a string at p->i (the opening quote). With `keep`, decodes it into
 * the output buffer and returns its offset in *off; otherwise validates. */
static int str(jp *p, int keep, size_t *off)
{
    if (p->i >= p->n || p->s[p->i] != '"') return fail(p, "expected a string");
    p->i++;
    kiln_pprofrx_stc *o = p->out;
    if (keep) *off = o->strs_len;
    for (;;) {
        if (p->i >= p->n) return fail(p, "unterminated string");
        uint8_t c = p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20) return fail(p, "control character in string");
        char tmp[8];
        size_t tl;
        if (c == '\\') {
            if (p->i + 1 >= p->n) return fail(p, "unterminated escape");
            uint8_t e = p->s[p->i + 1];
            p->i += 2;
            switch (e) {
            case '"': tmp[0] = '"'; tl = 1; break;
            case '\\': tmp[0] = '\\'; tl = 1; break;
            case '/': tmp[0] = '/'; tl = 1; break;
            case 'b': tmp[0] = '\b'; tl = 1; break;
            case 'f': tmp[0] = '\f'; tl = 1; break;
            case 'n': tmp[0] = '\n'; tl = 1; break;
            case 'r': tmp[0] = '\r'; tl = 1; break;
            case 't': tmp[0] = '\t'; tl = 1; break;
            case 'u': {
                unsigned cp, lo;
                if (hex4(p, p->i, &cp) != 0) return fail(p, "bad \\u escape");
                p->i += 4;
                if (cp >= 0xD800 && cp < 0xDC00) {
                    /* a surrogate pair, or U+FFFD as Go substitutes */
                    if (p->i + 6 <= p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u' &&
                        hex4(p, p->i + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        p->i += 6;
                    } else {
                        cp = 0xFFFD;
                    }
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    cp = 0xFFFD;
                }
                tl = kiln_utf8_put(tmp, cp);
                break;
            }
            default: p->i -= 1; return fail(p, "invalid escape");
            }
        } else {
            tmp[0] = (char)c;
            tl = 1;
            p->i++;
        }
        if (keep) {
            if (o->strs_len + tl + 1 > o->strs_cap) return fail(p, "string buffer overflow");
            memcpy(o->strs + o->strs_len, tmp, tl);
            o->strs_len += tl;
        }
    }
    if (keep) o->strs[o->strs_len++] = 0;
    return KILN_OK;
}

static int lit(jp *p, const char *w)
{
    size_t l = strlen(w);
    if (p->n - p->i < l || memcmp(p->s + p->i, w, l) != 0) return -1;
    p->i += l;
    return 0;
}

static int number(jp *p)
{
    size_t st = p->i;
    if (p->i < p->n && p->s[p->i] == '-') p->i++;
    if (p->i >= p->n) return fail(p, "bad number");
    if (p->s[p->i] == '0') {
        p->i++;
    } else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    } else {
        return fail(p, "bad number");
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        size_t d = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        if (d == p->i) return fail(p, "bad number");
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        size_t d = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        if (d == p->i) return fail(p, "bad number");
    }
    (void)st;
    return KILN_OK;
}

/* Validates and skips any JSON value. */
static int skip(jp *p, int depth)
{
    if (depth > MAX_DEPTH) return fail(p, "nesting too deep");
    ws(p);
    if (p->i >= p->n) return fail(p, "expected a value");
    uint8_t c = p->s[p->i];
    int rc;
    if (c == '"') return str(p, 0, NULL);
    if (c == '{' || c == '[') {
        uint8_t close = c == '{' ? '}' : ']';
        p->i++;
        ws(p);
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return KILN_OK;
        }
        for (;;) {
            if (c == '{') {
                ws(p);
                if ((rc = str(p, 0, NULL)) != KILN_OK) return rc;
                ws(p);
                if (p->i >= p->n || p->s[p->i] != ':') return fail(p, "expected ':'");
                p->i++;
            }
            if ((rc = skip(p, depth + 1)) != KILN_OK) return rc;
            ws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == close) {
                p->i++;
                return KILN_OK;
            }
            return fail(p, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (c == 't') return lit(p, "true") == 0 ? KILN_OK : fail(p, "bad literal");
    if (c == 'f') return lit(p, "false") == 0 ? KILN_OK : fail(p, "bad literal");
    if (c == 'n') return lit(p, "null") == 0 ? KILN_OK : fail(p, "bad literal");
    if (c == '-' || (c >= '0' && c <= '9')) return number(p);
    return fail(p, "expected a value");
}

static int key_is(const char *k, const char *w) { return strcasecmp(k, w) == 0; }

/* One entry value: null or an object of fields. *display: offset+1 of the
 * display name in strs (0: none). */
static int entry(jp *p, size_t *display)
{
    *display = 0;
    ws(p);
    if (lit(p, "null") == 0) return KILN_OK;
    if (p->i >= p->n || p->s[p->i] != '{') return fail(p, "expected an object (or null) per sample type");
    p->i++;
    ws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
        return KILN_OK;
    }
    int rc;
    for (;;) {
        ws(p);
        size_t koff, mark = p->out->strs_len;
        if ((rc = str(p, 1, &koff)) != KILN_OK) return rc;
        const char *k = p->out->strs + koff;
        ws(p);
        if (p->i >= p->n || p->s[p->i] != ':') return fail(p, "expected ':'");
        p->i++;
        ws(p);
        int is_str = key_is(k, "units") || key_is(k, "display-name") || key_is(k, "aggregation");
        int is_bool = key_is(k, "cumulative") || key_is(k, "sampled");
        int is_disp = key_is(k, "display-name");
        p->out->strs_len = mark; /* the field name is not kept */
        if (is_str) {
            if (lit(p, "null") == 0) {
                /* Go: null leaves a string field as it was */
            } else if (p->i < p->n && p->s[p->i] == '"') {
                size_t voff;
                if ((rc = str(p, is_disp, &voff)) != KILN_OK) return rc;
                if (is_disp) *display = voff + 1;
            } else {
                return fail(p, "expected a string");
            }
        } else if (is_bool) {
            if (lit(p, "true") != 0 && lit(p, "false") != 0 && lit(p, "null") != 0)
                return fail(p, "expected true or false");
        } else if ((rc = skip(p, 2)) != KILN_OK) {
            return rc;
        }
        ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == '}') {
            p->i++;
            return KILN_OK;
        }
        return fail(p, "expected ',' or '}'");
    }
}

int kiln_pprofrx_stc_parse(const uint8_t *json, size_t len, kiln_pprofrx_stc *out, kiln_err *err)
{
    memset(out, 0, sizeof *out);
    jp p = {json, len, 0, err, out};
    out->strs_cap = len + 16;
    out->strs = malloc(out->strs_cap);
    if (!out->strs) return kiln_err_set(err, KILN_ENOMEM, "sample_type_config: out of memory");
    int rc;
    ws(&p);
    if (lit(&p, "null") == 0) {
        /* no config: Pyroscope's defaults */
    } else if (p.i < p.n && p.s[p.i] == '{') {
        out->present = 1;
        p.i++;
        ws(&p);
        if (p.i < p.n && p.s[p.i] == '}') {
            p.i++;
        } else {
            for (;;) {
                ws(&p);
                size_t koff, disp;
                if ((rc = str(&p, 1, &koff)) != KILN_OK) goto bad;
                ws(&p);
                if (p.i >= p.n || p.s[p.i] != ':') {
                    rc = fail(&p, "expected ':'");
                    goto bad;
                }
                p.i++;
                if ((rc = entry(&p, &disp)) != KILN_OK) goto bad;
                const char *k = out->strs + koff;
                const char *d = disp ? out->strs + disp - 1 : NULL;
                size_t j;
                for (j = 0; j < out->n; j++)
                    if (strcmp(out->v[j].key, k) == 0) break;
                if (j == out->n) {
                    if (out->n == out->cap) {
                        size_t nc = out->cap ? out->cap * 2 : 8;
                        kiln_pprofrx_stc_entry *nv = realloc(out->v, nc * sizeof *nv);
                        if (!nv) {
                            rc = kiln_err_set(err, KILN_ENOMEM, "sample_type_config: out of memory");
                            goto bad;
                        }
                        out->v = nv;
                        out->cap = nc;
                    }
                    out->n++;
                }
                out->v[j].key = k;
                out->v[j].display = d;
                ws(&p);
                if (p.i < p.n && p.s[p.i] == ',') {
                    p.i++;
                    continue;
                }
                if (p.i < p.n && p.s[p.i] == '}') {
                    p.i++;
                    break;
                }
                rc = fail(&p, "expected ',' or '}'");
                goto bad;
            }
        }
    } else {
        rc = fail(&p, "expected an object keyed by sample type (or null)");
        goto bad;
    }
    ws(&p);
    if (p.i != p.n) {
        rc = fail(&p, "unexpected data after the top-level value");
        goto bad;
    }
    return KILN_OK;
bad:
    kiln_pprofrx_stc_free(out);
    return rc;
}

void kiln_pprofrx_stc_free(kiln_pprofrx_stc *stc)
{
    free(stc->v);
    free(stc->strs);
    memset(stc, 0, sizeof *stc);
}
