/* receivers/pprof/multipart.c — a zero-copy multipart/form-data scanner
 * for /ingest bodies, following the rules of Go's mime/multipart reader
 * (which Pyroscope uses), so that what Pyroscope accepts is accepted here:
 *
 *  - the boundary comes from the Content-Type (token or quoted string, with
 *    Go's backslash rule: `\` escapes only a tspecial);
 *  - lines before the first `--boundary` line are preamble and skipped;
 *    a line is a boundary line when `--boundary` is followed by optional
 *    spaces/tabs and the line end; if the first one ends with "\n" alone the
 *    whole body uses "\n" line ends (as Go does);
 *  - part headers end at an empty line; a line starting with a space or tab
 *    continues the previous header;
 *  - a part body ends at "<nl>--boundary" followed by a space, tab, CR, LF,
 *    "--" or the end of the body (otherwise the bytes are data); an empty
 *    body may also be ended by `--boundary` right after the headers;
 *  - `--boundary--` ends the form; whatever follows is epilogue;
 *  - the body ending before that is an error (Go: unexpected EOF).
 *
 * Part data is returned as pointers into the body; nothing is copied and
 * nothing is allocated. Part names are decoded into a 64-byte buffer in the
 * part (a longer name never matches the names /ingest reads). */
#define _GNU_SOURCE /* memmem */
#include "pprofrx.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- media types and parameters (RFC 2045 with Go's leniencies) -------------- */

static int is_tspecial(unsigned char c) { return c && strchr("()<>@,;:\\\"/[]?=", c) != NULL; }
static int is_token(unsigned char c) { return c > 0x20 && c < 0x7f && !is_tspecial(c); }
static int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

typedef struct mt_iter {
    const char *s;
    size_t n, i;
} mt_iter;

static void mt_skip_ws(mt_iter *it)
{
    while (it->i < it->n && is_ws((unsigned char)it->s[it->i])) it->i++;
}

static size_t mt_token(mt_iter *it)
{
    size_t st = it->i;
    while (it->i < it->n && is_token((unsigned char)it->s[it->i])) it->i++;
    return it->i - st;
}

/* The media type or disposition type: token [ "/" token ]. 0 or -1. */
static int mt_type(mt_iter *it, kiln_str *type)
{
    mt_skip_ws(it);
    size_t st = it->i;
    if (mt_token(it) == 0) return -1;
    if (it->i < it->n && it->s[it->i] == '/') {
        it->i++;
        if (mt_token(it) == 0) return -1;
    }
    type->p = it->s + st;
    type->len = it->i - st;
    mt_skip_ws(it);
    if (it->i < it->n && it->s[it->i] != ';') return -1;
    return 0;
}

/* The next `; attr=value`: 1 with attr and the raw value (quotes included
 * when quoted), 0 at the end, -1 on a syntax error (it->i is the byte). */
static int mt_param(mt_iter *it, kiln_str *attr, kiln_str *val, int *quoted)
{
    mt_skip_ws(it);
    if (it->i >= it->n) return 0;
    if (it->s[it->i] != ';') return -1;
    it->i++;
    mt_skip_ws(it);
    if (it->i >= it->n) return 0; /* a trailing `;` is fine */
    size_t st = it->i;
    if (mt_token(it) == 0) return -1;
    attr->p = it->s + st;
    attr->len = it->i - st;
    mt_skip_ws(it);
    if (it->i >= it->n || it->s[it->i] != '=') return -1;
    it->i++;
    mt_skip_ws(it);
    if (it->i < it->n && it->s[it->i] == '"') {
        size_t q = it->i++;
        while (it->i < it->n && it->s[it->i] != '"') {
            unsigned char c = (unsigned char)it->s[it->i];
            if (c == '\r' || c == '\n') return -1;
            if (c == '\\' && it->i + 1 < it->n && is_tspecial((unsigned char)it->s[it->i + 1]))
                it->i++;
            it->i++;
        }
        if (it->i >= it->n) return -1; /* no closing quote */
        it->i++;
        val->p = it->s + q;
        val->len = it->i - q;
        *quoted = 1;
        return 1;
    }
    st = it->i;
    if (mt_token(it) == 0) return -1;
    val->p = it->s + st;
    val->len = it->i - st;
    *quoted = 0;
    return 1;
}

/* Decodes a raw value into out (NUL-terminated, at most cap-1 bytes);
 * returns the decoded length (which may exceed cap-1: then truncated). */
static size_t mt_value(kiln_str v, int quoted, char *out, size_t cap)
{
    size_t o = 0;
    if (!quoted) {
        for (size_t i = 0; i < v.len; i++, o++)
            if (o + 1 < cap) out[o] = v.p[i];
    } else {
        for (size_t i = 1; i + 1 < v.len; i++, o++) {
            if (v.p[i] == '\\' && i + 2 < v.len && is_tspecial((unsigned char)v.p[i + 1])) i++;
            if (o + 1 < cap) out[o] = v.p[i];
        }
    }
    if (cap) out[o < cap ? o : cap - 1] = 0;
    return o;
}

static int str_ieq(kiln_str s, const char *lit)
{
    size_t l = strlen(lit);
    return s.len == l && strncasecmp(s.p, lit, l) == 0;
}

int kiln_pprofrx_is_multipart(const char *ct)
{
    if (!ct) return 0;
    static const char want[] = "multipart/form-data";
    size_t wl = sizeof want - 1, n = strlen(ct);
    for (size_t i = 0; i + wl <= n; i++)
        if (strncasecmp(ct + i, want, wl) == 0) return 1;
    return 0;
}

int kiln_pprofrx_mp_boundary(const char *ct, char *out, size_t cap, size_t *len, kiln_err *err)
{
    mt_iter it = {ct, strlen(ct), 0};
    kiln_str type, attr, val;
    int quoted, found = 0, r;
    if (mt_type(&it, &type) != 0)
        return kiln_err_set(err, KILN_EINVAL, "Content-Type: invalid media type at byte %zu",
                            it.i);
    /* remember seen names to reject duplicates as Go does; few params exist */
    kiln_str seen[16];
    size_t nseen = 0;
    while ((r = mt_param(&it, &attr, &val, &quoted)) == 1) {
        for (size_t k = 0; k < nseen; k++)
            if (seen[k].len == attr.len && strncasecmp(seen[k].p, attr.p, attr.len) == 0)
                return kiln_err_set(err, KILN_EINVAL,
                                    "Content-Type: duplicate parameter \"%.*s\" at byte %zu",
                                    (int)attr.len, attr.p, (size_t)(attr.p - ct));
        if (nseen < 16) seen[nseen++] = attr;
        if (str_ieq(attr, "boundary")) {
            size_t n = mt_value(val, quoted, out, cap);
            if (n == 0)
                return kiln_err_set(err, KILN_EINVAL, "Content-Type: empty boundary");
            if (n > KILN_PPROFRX_BOUNDARY_MAX || n + 1 > cap)
                return kiln_err_set(err, KILN_EINVAL,
                                    "Content-Type: boundary of %zu bytes is too long (max %d)", n,
                                    KILN_PPROFRX_BOUNDARY_MAX);
            *len = n;
            found = 1;
        }
    }
    if (r < 0)
        return kiln_err_set(err, KILN_EINVAL, "Content-Type: invalid media parameter at byte %zu",
                            it.i);
    if (!found)
        return kiln_err_set(err, KILN_EINVAL, "Content-Type: multipart without a boundary parameter");
    return KILN_OK;
}

/* ---- the body ------------------------------------------------------------------ */

void kiln_pprofrx_mp_init(kiln_pprofrx_mp *mp, const uint8_t *body, size_t len,
                          const char *boundary, size_t blen)
{
    memset(mp, 0, sizeof *mp);
    mp->buf = body;
    mp->len = len;
    if (blen > KILN_PPROFRX_BOUNDARY_MAX) blen = KILN_PPROFRX_BOUNDARY_MAX;
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, boundary, blen);
    mp->delim_len = 4 + blen;
}

/* "--boundary" */
static const char *dash_b(const kiln_pprofrx_mp *mp) { return mp->delim + 2; }
static size_t dash_b_len(const kiln_pprofrx_mp *mp) { return mp->delim_len - 2; }

/* The line at pos: [pos, *end) including its "\n" (or up to the body end:
 * *has_nl 0). */
static void line_at(const kiln_pprofrx_mp *mp, size_t pos, size_t *end, int *has_nl)
{
    const uint8_t *nl = memchr(mp->buf + pos, '\n', mp->len - pos);
    *has_nl = nl != NULL;
    *end = nl ? (size_t)(nl - mp->buf) + 1 : mp->len;
}

/* After "--boundary": skips spaces/tabs; 1 if the rest of the line is the
 * line end (`first`: "\r\n" or "\n"; otherwise the body's line end). */
static int rest_is_nl(const kiln_pprofrx_mp *mp, size_t i, size_t end, int first, int *lf)
{
    while (i < end && (mp->buf[i] == ' ' || mp->buf[i] == '\t')) i++;
    size_t r = end - i;
    if (r == 2 && mp->buf[i] == '\r' && mp->buf[i + 1] == '\n') {
        if (lf) *lf = 0;
        return first || !mp->lf_only;
    }
    if (r == 1 && mp->buf[i] == '\n') {
        if (lf) *lf = 1;
        return first || mp->lf_only;
    }
    return 0;
}

static int is_delim_line(const kiln_pprofrx_mp *mp, size_t pos, size_t end, int first, int *lf)
{
    size_t dl = dash_b_len(mp);
    if (end - pos < dl || memcmp(mp->buf + pos, dash_b(mp), dl) != 0) return 0;
    return rest_is_nl(mp, pos + dl, end, first, lf);
}

static int is_final_line(const kiln_pprofrx_mp *mp, size_t pos, size_t end)
{
    size_t dl = dash_b_len(mp);
    if (end - pos < dl + 2 || memcmp(mp->buf + pos, dash_b(mp), dl) != 0 ||
        mp->buf[pos + dl] != '-' || mp->buf[pos + dl + 1] != '-')
        return 0;
    size_t i = pos + dl + 2;
    while (i < end && (mp->buf[i] == ' ' || mp->buf[i] == '\t')) i++;
    if (i == end) return 1;
    return rest_is_nl(mp, i, end, mp->state == 0, NULL);
}

/* After a candidate "<nl>--boundary" ending at i: Go's matchAfterPrefix. */
static int boundary_follows(const kiln_pprofrx_mp *mp, size_t i)
{
    if (i >= mp->len) return 1;
    unsigned char c = mp->buf[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return 1;
    if (c == '-' && i + 1 < mp->len && mp->buf[i + 1] == '-') return 1;
    return 0;
}

static void parse_disposition(const char *v, size_t n, kiln_pprofrx_part *part)
{
    mt_iter it = {v, n, 0};
    kiln_str type, attr, val;
    int quoted, r, have_name = 0;
    if (mt_type(&it, &type) != 0 || !str_ieq(type, "form-data")) return;
    char name[sizeof part->name];
    size_t name_len = 0;
    int has_file = 0;
    kiln_str seen[16];
    size_t nseen = 0;
    while ((r = mt_param(&it, &attr, &val, &quoted)) == 1) {
        for (size_t k = 0; k < nseen; k++)
            if (seen[k].len == attr.len && strncasecmp(seen[k].p, attr.p, attr.len) == 0)
                return; /* Go: duplicate parameter -> no params at all */
        if (nseen < 16) seen[nseen++] = attr;
        if (str_ieq(attr, "name")) {
            name_len = mt_value(val, quoted, name, sizeof name);
            have_name = 1;
        } else if (str_ieq(attr, "filename") || str_ieq(attr, "filename*")) {
            char tmp[2];
            if (mt_value(val, quoted, tmp, sizeof tmp) > 0) has_file = 1;
        }
    }
    if (r < 0) return; /* Go: invalid parameters -> no form name */
    part->has_filename = has_file;
    if (have_name && name_len > 0 && name_len < sizeof part->name) {
        memcpy(part->name, name, name_len + 1);
        part->name_ok = 1;
    }
}

static int hdr_is(const uint8_t *p, size_t klen, const char *name)
{
    size_t l = strlen(name);
    return klen == l && strncasecmp((const char *)p, name, l) == 0;
}

int kiln_pprofrx_mp_next(kiln_pprofrx_mp *mp, kiln_pprofrx_part *part, kiln_err *err)
{
    if (mp->state == 2) return 0;
    size_t pos = mp->pos, end;
    int has_nl, lf = 0;
    if (mp->state == 0) {
        for (;;) {
            if (pos >= mp->len) {
                mp->state = 2;
                return kiln_err_set(err, KILN_EINVAL,
                                    "multipart: no boundary line \"%s\" in %zu bytes of body",
                                    dash_b(mp), mp->len);
            }
            line_at(mp, pos, &end, &has_nl);
            if (has_nl && is_delim_line(mp, pos, end, 1, &lf)) {
                mp->lf_only = lf;
                break;
            }
            if (is_final_line(mp, pos, end)) {
                mp->state = 2;
                return 0;
            }
            pos = end; /* preamble */
        }
        mp->state = 1;
    } else {
        line_at(mp, pos, &end, &has_nl);
        if (is_final_line(mp, pos, end)) {
            mp->state = 2;
            return 0;
        }
        if (!has_nl || !is_delim_line(mp, pos, end, 0, NULL)) {
            mp->state = 2;
            return kiln_err_set(err, KILN_EINVAL,
                                "multipart: expecting a new part or the closing boundary at byte %zu",
                                pos);
        }
    }
    if (mp->nparts >= KILN_PPROFRX_MAX_PARTS) {
        mp->state = 2;
        return kiln_err_set(err, KILN_EINVAL, "multipart: more than %d parts",
                            KILN_PPROFRX_MAX_PARTS);
    }

    /* headers */
    memset(part, 0, sizeof *part);
    part->index = mp->nparts++;
    size_t hstart = end;
    pos = end;
    const uint8_t *cd = NULL, *cte = NULL;
    size_t cd_len = 0, cte_len = 0;
    int last = 0; /* 1: last header was Content-Disposition, 2: C-T-E */
    for (;;) {
        if (pos >= mp->len) {
            mp->state = 2;
            return kiln_err_set(err, KILN_EINVAL,
                                "multipart: part %zu: headers starting at byte %zu are not "
                                "terminated by an empty line",
                                part->index, hstart);
        }
        line_at(mp, pos, &end, &has_nl);
        if (!has_nl) {
            mp->state = 2;
            return kiln_err_set(err, KILN_EINVAL,
                                "multipart: part %zu: header line at byte %zu is cut by the end "
                                "of the body",
                                part->index, pos);
        }
        if (end - hstart > KILN_PPROFRX_MAX_HEADER) {
            mp->state = 2;
            return kiln_err_set(err, KILN_EINVAL,
                                "multipart: part %zu: headers at byte %zu exceed %d bytes",
                                part->index, hstart, KILN_PPROFRX_MAX_HEADER);
        }
        size_t cl = end - pos - 1; /* without "\n" */
        if (cl && mp->buf[pos + cl - 1] == '\r') cl--;
        if (cl == 0) {
            pos = end;
            break;
        }
        const uint8_t *l = mp->buf + pos;
        if (l[0] == ' ' || l[0] == '\t') {
            if (pos == hstart) {
                mp->state = 2;
                return kiln_err_set(err, KILN_EINVAL,
                                    "multipart: part %zu: malformed first header line at byte %zu",
                                    part->index, pos);
            }
            /* continuation: extend the value of the header it belongs to */
            if (last == 1) cd_len = (size_t)(l + cl - cd);
            if (last == 2) cte_len = (size_t)(l + cl - cte);
            pos = end;
            continue;
        }
        const uint8_t *colon = memchr(l, ':', cl);
        if (!colon || colon == l) {
            mp->state = 2;
            return kiln_err_set(err, KILN_EINVAL,
                                "multipart: part %zu: malformed header line at byte %zu", part->index,
                                pos);
        }
        size_t klen = (size_t)(colon - l);
        const uint8_t *v = colon + 1;
        while (v < l + cl && (*v == ' ' || *v == '\t')) v++;
        last = 0;
        if (hdr_is(l, klen, "Content-Disposition") && !cd) {
            cd = v;
            cd_len = (size_t)(l + cl - v);
            last = 1;
        } else if (hdr_is(l, klen, "Content-Transfer-Encoding") && !cte) {
            cte = v;
            cte_len = (size_t)(l + cl - v);
            last = 2;
        }
        pos = end;
    }
    if (cd) parse_disposition((const char *)cd, cd_len, part);
    if (cte) {
        kiln_str s = {(const char *)cte, cte_len};
        while (s.len && is_ws((unsigned char)s.p[s.len - 1])) s.len--;
        if (str_ieq(s, "quoted-printable")) part->quoted_printable = 1;
    }

    /* body: up to "<nl>--boundary" + (space|tab|CR|LF|"--"|end) */
    size_t bstart = pos;
    size_t dl = dash_b_len(mp);
    if (mp->len - bstart >= dl && memcmp(mp->buf + bstart, dash_b(mp), dl) == 0 &&
        boundary_follows(mp, bstart + dl)) {
        part->data = mp->buf + bstart;
        part->len = 0;
        part->offset = bstart;
        mp->pos = bstart;
        return 1;
    }
    /* the needle: "\r\n--boundary", or "\n--boundary" in a "\n" body */
    const char *needle = mp->lf_only ? mp->delim + 1 : mp->delim;
    size_t nlen = mp->lf_only ? mp->delim_len - 1 : mp->delim_len;
    size_t from = bstart;
    for (;;) {
        const uint8_t *hit = NULL;
        if (from < mp->len) hit = memmem(mp->buf + from, mp->len - from, needle, nlen);
        if (!hit) {
            mp->state = 2;
            return kiln_err_set(err, KILN_EINVAL,
                                "multipart: part %zu (\"%s\") starting at byte %zu has no closing "
                                "boundary",
                                part->index, part->name, bstart);
        }
        size_t h = (size_t)(hit - mp->buf);
        if (boundary_follows(mp, h + nlen)) {
            part->data = mp->buf + bstart;
            part->len = h - bstart;
            part->offset = bstart;
            mp->pos = h + nlen - dl; /* at "--boundary" */
            return 1;
        }
        from = h + 1;
    }
}

int kiln_pprofrx_form_read(const char *content_type, const uint8_t *body, size_t len,
                           kiln_pprofrx_form *form, kiln_err *err)
{
    memset(form, 0, sizeof *form);
    char b[KILN_PPROFRX_BOUNDARY_MAX + 1];
    size_t bl;
    int rc = kiln_pprofrx_mp_boundary(content_type, b, sizeof b, &bl, err);
    if (rc != KILN_OK) return rc;
    if (len == 0) return kiln_err_set(err, KILN_EINVAL, "multipart: the body is empty");
    kiln_pprofrx_mp mp;
    kiln_pprofrx_mp_init(&mp, body, len, b, bl);
    kiln_pprofrx_part part;
    while ((rc = kiln_pprofrx_mp_next(&mp, &part, err)) == 1) {
        if (!part.name_ok) continue;
        kiln_pprofrx_part *dst = NULL;
        int *has = NULL;
        if (strcmp(part.name, "profile") == 0) {
            dst = &form->profile;
            has = &form->has_profile;
        } else if (strcmp(part.name, "prev_profile") == 0) {
            dst = &form->prev_profile;
            has = &form->has_prev;
        } else if (strcmp(part.name, "sample_type_config") == 0) {
            dst = &form->sample_type_config;
            has = &form->has_stc;
        }
        if (!dst || *has) continue;
        if (part.quoted_printable)
            return kiln_err_set(err, KILN_EINVAL,
                                "multipart: part %zu (\"%s\"): Content-Transfer-Encoding "
                                "quoted-printable is not supported",
                                part.index, part.name);
        *dst = part;
        *has = 1;
    }
    return rc < 0 ? rc : KILN_OK;
}
