/* receivers/pprof/labelset.c — the `name` query parameter of /ingest:
 * `app.name{k=v,k2=v2}`, parsed as Pyroscope's labelset.Parse does.
 *
 * Zero-copy: the app name, keys and values are slices of the caller's
 * string; only the tag array is malloc'ed (kiln_pprofrx_labelset_free).
 *
 * The parser is the same small state machine as Pyroscope's, fed the input
 * followed by one extra `{` (which ends the app name when there is no tag
 * set and is otherwise harmless):
 *   NAME   `{` -> check the trimmed app name, go to KEY; else app name text
 *   KEY    `}` -> DONE; `=` -> VALUE; else key text
 *   VALUE  `,` or `}` -> store key=value (trimmed), back to KEY; else value
 *   DONE   everything ignored
 * Consequences kept on purpose: a pair without a closing `,`/`}` is dropped;
 * `a=b}c=d}` stores both pairs; a key is not reset by `,` without `=`
 * (`{a,b=c}` makes the key "a,b", which is rejected). */
#include <kiln/text.h>
#include "pprofrx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_NAME, ST_KEY, ST_VALUE, ST_DONE };


static int label_rune_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.';
}

static int app_rune_ok(unsigned char c) { return c == '-' || c == '/' || label_rune_ok(c); }

/* "'c'" for printable ASCII, else "'\xNN'" (the first byte of the rune). */
static void fmt_char(char *buf, size_t cap, unsigned char c)
{
    if (c >= 0x20 && c < 0x7f && c != '\'')
        snprintf(buf, cap, "'%c'", c);
    else
        snprintf(buf, cap, "'\\x%02x'", c);
}

static int check_app(const char *s, size_t n, kiln_err *err)
{
    if (n == 0) return kiln_err_set(err, KILN_EINVAL, "name: service name is required");
    for (size_t i = 0; i < n; i++) {
        if (!app_rune_ok((unsigned char)s[i])) {
            char ch[16];
            fmt_char(ch, sizeof ch, (unsigned char)s[i]);
            return kiln_err_set(err, KILN_EINVAL,
                                "name: invalid service name: %.*s: character is not allowed: %s",
                                (int)(n > 200 ? 200 : n), s, ch);
        }
    }
    return KILN_OK;
}

static int check_key(const char *s, size_t n, kiln_err *err)
{
    if (n == 0) return kiln_err_set(err, KILN_EINVAL, "name: label name is required");
    for (size_t i = 0; i < n; i++) {
        if (!label_rune_ok((unsigned char)s[i])) {
            char ch[16];
            fmt_char(ch, sizeof ch, (unsigned char)s[i]);
            return kiln_err_set(err, KILN_EINVAL,
                                "name: invalid label name: %.*s: character is not allowed: %s",
                                (int)(n > 200 ? 200 : n), s, ch);
        }
    }
    return KILN_OK;
}

static int put_tag(kiln_pprofrx_labelset *ls, kiln_str k, kiln_str v, kiln_err *err)
{
    if (k.len == 8 && memcmp(k.p, "__name__", 8) == 0) {
        ls->app = v;
        return KILN_OK;
    }
    for (size_t i = 0; i < ls->n; i++) {
        if (ls->tags[i].key.len == k.len && memcmp(ls->tags[i].key.p, k.p, k.len) == 0) {
            ls->tags[i].val = v;
            return KILN_OK;
        }
    }
    if (ls->n == ls->cap) {
        size_t nc = ls->cap ? ls->cap * 2 : 8;
        kiln_pprofrx_tag *nt = realloc(ls->tags, nc * sizeof *nt);
        if (!nt) return kiln_err_set(err, KILN_ENOMEM, "name: out of memory");
        ls->tags = nt;
        ls->cap = nc;
    }
    ls->tags[ls->n].key = k;
    ls->tags[ls->n].val = v;
    ls->n++;
    return KILN_OK;
}

int kiln_pprofrx_labelset_parse(const char *s, size_t len, kiln_pprofrx_labelset *out,
                                kiln_err *err)
{
    memset(out, 0, sizeof *out);
    int st = ST_NAME;
    size_t tok = 0;              /* start of the app name / value being read */
    size_t key_start = 0, key_end = 0;
    int key_open = 0;            /* key text is being collected */
    for (size_t i = 0; i <= len && st != ST_DONE; i++) {
        char c = i < len ? s[i] : '{'; /* the extra `{` */
        switch (st) {
        case ST_NAME:
            if (c == '{') {
                const char *p = s;
                size_t n = i;
                kiln_trim_space(&p, &n);
                int rc = check_app(p, n, err);
                if (rc != KILN_OK) {
                    kiln_pprofrx_labelset_free(out);
                    return rc;
                }
                out->app.p = p;
                out->app.len = n;
                st = ST_KEY;
                key_open = 0;
            }
            break;
        case ST_KEY:
            if (c == '}') {
                st = ST_DONE;
            } else if (c == '=') {
                if (!key_open) key_start = key_end = i;
                st = ST_VALUE;
                tok = i + 1;
            } else {
                if (!key_open) {
                    key_start = i;
                    key_open = 1;
                }
                key_end = i + 1;
            }
            break;
        case ST_VALUE:
            if (c == ',' || c == '}') {
                kiln_str k = {s + key_start, key_end - key_start};
                kiln_str v = {s + tok, i - tok};
                /* the key text never contains `=` (that ended it): a stray `=`
                 * inside a value belongs to the value */
                kiln_trim_space(&k.p, &k.len);
                kiln_trim_space(&v.p, &v.len);
                int rc = KILN_OK;
                if (!(k.len == 8 && memcmp(k.p, "__name__", 8) == 0)) rc = check_key(k.p, k.len, err);
                if (rc == KILN_OK) rc = put_tag(out, k, v, err);
                if (rc != KILN_OK) {
                    kiln_pprofrx_labelset_free(out);
                    return rc;
                }
                key_open = 0;
                st = ST_KEY;
            }
            break;
        }
    }
    if (out->app.len == 0) {
        kiln_pprofrx_labelset_free(out);
        return kiln_err_set(err, KILN_EINVAL, "name: service name is required");
    }
    return KILN_OK;
}

void kiln_pprofrx_labelset_free(kiln_pprofrx_labelset *ls)
{
    free(ls->tags);
    memset(ls, 0, sizeof *ls);
}

const kiln_str *kiln_pprofrx_labelset_get(const kiln_pprofrx_labelset *ls, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < ls->n; i++)
        if (ls->tags[i].key.len == kl && memcmp(ls->tags[i].key.p, key, kl) == 0)
            return &ls->tags[i].val;
    return NULL;
}
