/* pipeline/s3_xml.c — a small, bounded XML reader for the documents S3
 * answers with (ListBucketResult, InitiateMultipartUploadResult,
 * CompleteMultipartUploadResult, Error), and the escaping kiln needs to
 * write CompleteMultipartUpload.
 *
 * Why not libxml2: these documents are flat and tiny, and a reader that
 * knows only elements, attributes (skipped), text, the five predefined
 * entities, character references, CDATA, comments and processing
 * instructions — and refuses DOCTYPE, so there are no entity expansions to
 * bound — is short enough to read whole and to fuzz to exhaustion
 * (tests/fuzz/fuzz_s3_xml.c). Limits: KILN_S3_XML_DEPTH open elements, 63-byte
 * names, KILN_S3_XML_TEXT bytes of text per element; input is never read past
 * its length.
 *
 * Memory: the walker allocates one state block for the walk and frees it;
 * kiln_s3_xml_list fills a caller-owned page (kiln_s3_list_page_free);
 * kiln_s3_xml_upload_id returns a malloc'ed string.
 */
#include "objstore_internal.h"

#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 63

typedef struct xw {
    const char *p;
    size_t n, i;
    int depth;
    char names[KILN_S3_XML_DEPTH][NAME_MAX_LEN + 1];
    const char *path[KILN_S3_XML_DEPTH];
    char text[KILN_S3_XML_TEXT + 1];
    size_t tlen;
} xw;

static int name_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':';
}

static int name_char(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int bad(xw *w, kiln_err *err, const char *what)
{
    return kiln_err_set(err, KILN_EUNPROC, "s3 xml: %s at byte %zu", what, w->i);
}

/* 1 if the input at w->i starts with s */
static int at(const xw *w, const char *s)
{
    size_t l = strlen(s);
    return w->n - w->i >= l && memcmp(w->p + w->i, s, l) == 0;
}

/* Moves past the next occurrence of end; 0 if there is none. */
static int skip_past(xw *w, const char *end, size_t *from)
{
    size_t l = strlen(end);
    for (size_t j = w->i; j + l <= w->n; j++) {
        if (memcmp(w->p + j, end, l) == 0) {
            if (from) *from = j;
            w->i = j + l;
            return 1;
        }
    }
    return 0;
}

static int add_text(xw *w, kiln_err *err, const char *s, size_t l)
{
    if (l > KILN_S3_XML_TEXT - w->tlen) return bad(w, err, "element text over the size limit");
    memcpy(w->text + w->tlen, s, l);
    w->tlen += l;
    w->text[w->tlen] = 0;
    return KILN_OK;
}

static int parse_name(xw *w, kiln_err *err, char out[NAME_MAX_LEN + 1])
{
    size_t s = w->i;
    if (w->i >= w->n || !name_start((unsigned char)w->p[w->i])) return bad(w, err, "expected a name");
    while (w->i < w->n && name_char((unsigned char)w->p[w->i])) w->i++;
    size_t l = w->i - s;
    if (l > NAME_MAX_LEN) return bad(w, err, "name longer than 63 bytes");
    memcpy(out, w->p + s, l);
    out[l] = 0;
    return KILN_OK;
}

static void skip_ws(xw *w)
{
    while (w->i < w->n && is_ws((unsigned char)w->p[w->i])) w->i++;
}

static int put_utf8(xw *w, kiln_err *err, unsigned long cp)
{
    char b[4];
    size_t l;
    if (cp < 0x80) {
        b[0] = (char)cp;
        l = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        l = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        l = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        l = 4;
    }
    return add_text(w, err, b, l);
}

/* At '&': decodes one reference into the text. */
static int entity(xw *w, kiln_err *err)
{
    size_t s = w->i + 1, e = s;
    while (e < w->n && e - s < 12 && w->p[e] != ';') e++;
    if (e >= w->n || w->p[e] != ';') return bad(w, err, "unterminated character reference");
    const char *r = w->p + s;
    size_t l = e - s;
    char c = 0;
    if (l == 2 && memcmp(r, "lt", 2) == 0) c = '<';
    else if (l == 2 && memcmp(r, "gt", 2) == 0) c = '>';
    else if (l == 3 && memcmp(r, "amp", 3) == 0) c = '&';
    else if (l == 4 && memcmp(r, "quot", 4) == 0) c = '"';
    else if (l == 4 && memcmp(r, "apos", 4) == 0) c = '\'';
    if (c) {
        w->i = e + 1;
        return add_text(w, err, &c, 1);
    }
    if (l == 0 || r[0] != '#') return bad(w, err, "unknown entity");
    unsigned long cp = 0;
    int hex = l > 1 && r[1] == 'x';
    size_t k = hex ? 2 : 1;
    if (k >= l) return bad(w, err, "empty character reference");
    for (; k < l; k++) {
        unsigned char d = (unsigned char)r[k];
        int v;
        if (d >= '0' && d <= '9') v = d - '0';
        else if (hex && d >= 'a' && d <= 'f') v = d - 'a' + 10;
        else if (hex && d >= 'A' && d <= 'F') v = d - 'A' + 10;
        else return bad(w, err, "bad digit in a character reference");
        cp = cp * (hex ? 16 : 10) + (unsigned long)v;
        if (cp > 0x10ffff) return bad(w, err, "character reference out of range");
    }
    /* XML 1.0 Char */
    if (!(cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
          (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000))
        return bad(w, err, "character reference to a character XML does not allow");
    w->i = e + 1;
    return put_utf8(w, err, cp);
}

/* At '<' of a start tag. */
static int start_tag(xw *w, const kiln_s3_xml_cb *cb, void *arg, kiln_err *err, int *self_closed)
{
    w->i++;
    if (w->depth >= KILN_S3_XML_DEPTH) return bad(w, err, "elements nested too deep");
    int rc = parse_name(w, err, w->names[w->depth]);
    if (rc) return rc;
    w->path[w->depth] = w->names[w->depth];
    w->depth++;
    w->tlen = 0;
    w->text[0] = 0;
    if (cb && cb->start && (rc = cb->start(arg, w->path, w->depth)) != 0) return rc;
    /* attributes: name = "value" | 'value', skipped */
    *self_closed = 0;
    for (;;) {
        size_t before = w->i;
        skip_ws(w);
        if (w->i >= w->n) return bad(w, err, "unterminated start tag");
        char c = w->p[w->i];
        if (c == '>') {
            w->i++;
            return KILN_OK;
        }
        if (c == '/') {
            if (w->i + 1 >= w->n || w->p[w->i + 1] != '>') return bad(w, err, "expected '/>'");
            w->i += 2;
            *self_closed = 1;
            return KILN_OK;
        }
        if (w->i == before) return bad(w, err, "expected a space before an attribute");
        char an[NAME_MAX_LEN + 1];
        if ((rc = parse_name(w, err, an)) != 0) return rc;
        skip_ws(w);
        if (w->i >= w->n || w->p[w->i] != '=') return bad(w, err, "expected '=' after an attribute name");
        w->i++;
        skip_ws(w);
        if (w->i >= w->n || (w->p[w->i] != '"' && w->p[w->i] != '\''))
            return bad(w, err, "expected a quoted attribute value");
        char q = w->p[w->i++];
        while (w->i < w->n && w->p[w->i] != q) {
            if (w->p[w->i] == '<') return bad(w, err, "'<' in an attribute value");
            w->i++;
        }
        if (w->i >= w->n) return bad(w, err, "unterminated attribute value");
        w->i++;
    }
}

static int end_element(xw *w, const kiln_s3_xml_cb *cb, void *arg)
{
    int rc = 0;
    if (cb && cb->end) rc = cb->end(arg, w->path, w->depth, w->text, w->tlen);
    w->depth--;
    w->tlen = 0;
    w->text[0] = 0;
    return rc;
}

static int walk(xw *w, const kiln_s3_xml_cb *cb, void *arg, kiln_err *err)
{
    int rc, root_seen = 0, root_done = 0;
    while (w->i < w->n) {
        char c = w->p[w->i];
        if (c == '<') {
            if (at(w, "<?")) {
                if (!skip_past(w, "?>", NULL)) return bad(w, err, "unterminated processing instruction");
            } else if (at(w, "<!--")) {
                w->i += 4;
                if (!skip_past(w, "-->", NULL)) return bad(w, err, "unterminated comment");
            } else if (at(w, "<![CDATA[")) {
                if (w->depth == 0) return bad(w, err, "CDATA outside the root element");
                w->i += 9;
                size_t s = w->i, e;
                if (!skip_past(w, "]]>", &e)) return bad(w, err, "unterminated CDATA section");
                if ((rc = add_text(w, err, w->p + s, e - s)) != 0) return rc;
            } else if (at(w, "<!")) {
                return bad(w, err, "DOCTYPE and other declarations are not accepted");
            } else if (at(w, "</")) {
                if (w->depth == 0) return bad(w, err, "end tag without a start tag");
                w->i += 2;
                char nm[NAME_MAX_LEN + 1];
                if ((rc = parse_name(w, err, nm)) != 0) return rc;
                skip_ws(w);
                if (w->i >= w->n || w->p[w->i] != '>') return bad(w, err, "expected '>' in an end tag");
                if (strcmp(nm, w->names[w->depth - 1]) != 0)
                    return bad(w, err, "end tag does not match the start tag");
                w->i++;
                if ((rc = end_element(w, cb, arg)) != 0) return rc;
                if (w->depth == 0) root_done = 1;
            } else {
                if (root_done) return bad(w, err, "a second root element");
                root_seen = 1;
                int self_closed;
                if ((rc = start_tag(w, cb, arg, err, &self_closed)) != 0) return rc;
                if (self_closed) {
                    if ((rc = end_element(w, cb, arg)) != 0) return rc;
                    if (w->depth == 0) root_done = 1;
                }
            }
        } else if (w->depth == 0) {
            if (!is_ws((unsigned char)c)) return bad(w, err, "text outside the root element");
            w->i++;
        } else if (c == '&') {
            if ((rc = entity(w, err)) != 0) return rc;
        } else {
            size_t s = w->i;
            while (w->i < w->n && w->p[w->i] != '<' && w->p[w->i] != '&') {
                unsigned char b = (unsigned char)w->p[w->i];
                if (b < 0x20 && !is_ws(b)) return bad(w, err, "control byte in text");
                w->i++;
            }
            if ((rc = add_text(w, err, w->p + s, w->i - s)) != 0) return rc;
        }
    }
    if (w->depth > 0) return bad(w, err, "document ends inside an element");
    if (!root_seen) return bad(w, err, "no root element");
    return KILN_OK;
}

int kiln_s3_xml_walk(const char *xml, size_t len, const kiln_s3_xml_cb *cb, void *arg,
                     kiln_err *err)
{
    xw *w = calloc(1, sizeof *w);
    if (!w) return kiln_err_set(err, KILN_ENOMEM, "s3 xml: out of memory");
    w->p = xml;
    w->n = len;
    /* a UTF-8 byte order mark */
    if (len >= 3 && memcmp(xml, "\xef\xbb\xbf", 3) == 0) w->i = 3;
    int rc = walk(w, cb, arg, err);
    free(w);
    return rc;
}

/* ---- ListObjectsV2 --------------------------------------------------------------- */

typedef struct list_st {
    kiln_s3_list_page *out;
    kiln_err *err;
    char *key;
    uint64_t size;
    int have_size;
} list_st;

static void trim(const char **s, size_t *l)
{
    while (*l && is_ws((unsigned char)(*s)[0])) (*s)++, (*l)--;
    while (*l && is_ws((unsigned char)(*s)[*l - 1])) (*l)--;
}

static int parse_u64(const char *s, size_t l, uint64_t *v)
{
    trim(&s, &l);
    if (l == 0 || l > 20) return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < l; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

static char *dup_text(const char *s, size_t l)
{
    char *d = malloc(l + 1);
    if (!d) return NULL;
    memcpy(d, s, l);
    d[l] = 0;
    return d;
}

static int list_start(void *arg, const char *const *path, int depth)
{
    list_st *st = arg;
    if (depth == 1 && strcmp(path[0], "ListBucketResult") != 0)
        return kiln_err_set(st->err, KILN_EUNPROC, "s3 xml: expected <ListBucketResult>, got <%s>",
                            path[0]);
    if (depth == 2 && strcmp(path[1], "Contents") == 0) {
        free(st->key);
        st->key = NULL;
        st->have_size = 0;
    }
    return 0;
}

static int list_end(void *arg, const char *const *path, int depth, const char *text, size_t len)
{
    list_st *st = arg;
    kiln_s3_list_page *o = st->out;
    if (depth == 3 && strcmp(path[1], "Contents") == 0) {
        if (strcmp(path[2], "Key") == 0) {
            if (st->key) return kiln_err_set(st->err, KILN_EUNPROC, "s3 xml: <Contents> with two <Key>s");
            if (memchr(text, 0, len)) return kiln_err_set(st->err, KILN_EUNPROC, "s3 xml: NUL in a <Key>");
            if (!(st->key = dup_text(text, len)))
                return kiln_err_set(st->err, KILN_ENOMEM, "s3 xml: out of memory");
        } else if (strcmp(path[2], "Size") == 0) {
            if (parse_u64(text, len, &st->size))
                return kiln_err_set(st->err, KILN_EUNPROC, "s3 xml: bad <Size> \"%.32s\"", text);
            st->have_size = 1;
        }
        return 0;
    }
    if (depth != 2) return 0;
    if (strcmp(path[1], "Contents") == 0) {
        if (!st->key || !st->have_size)
            return kiln_err_set(st->err, KILN_EUNPROC, "s3 xml: <Contents> without %s (item %zu)",
                                st->key ? "<Size>" : "<Key>", o->n);
        if (o->n == o->cap) {
            size_t cap = o->cap ? o->cap * 2 : 64;
            kiln_s3_list_item *it = realloc(o->items, cap * sizeof *it);
            if (!it) return kiln_err_set(st->err, KILN_ENOMEM, "s3 xml: out of memory");
            o->items = it;
            o->cap = cap;
        }
        o->items[o->n].key = st->key;
        o->items[o->n].size = st->size;
        o->n++;
        st->key = NULL;
    } else if (strcmp(path[1], "IsTruncated") == 0) {
        trim(&text, &len);
        if (len == 4 && memcmp(text, "true", 4) == 0) o->truncated = 1;
        else if (len == 5 && memcmp(text, "false", 5) == 0) o->truncated = 0;
        else return kiln_err_set(st->err, KILN_EUNPROC, "s3 xml: bad <IsTruncated> \"%.16s\"", text);
    } else if (strcmp(path[1], "NextContinuationToken") == 0) {
        if (o->next_token)
            return kiln_err_set(st->err, KILN_EUNPROC, "s3 xml: two <NextContinuationToken>s");
        if (memchr(text, 0, len))
            return kiln_err_set(st->err, KILN_EUNPROC, "s3 xml: NUL in <NextContinuationToken>");
        if (!(o->next_token = dup_text(text, len)))
            return kiln_err_set(st->err, KILN_ENOMEM, "s3 xml: out of memory");
    }
    return 0;
}

void kiln_s3_list_page_free(kiln_s3_list_page *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) free(p->items[i].key);
    free(p->items);
    free(p->next_token);
    memset(p, 0, sizeof *p);
}

int kiln_s3_xml_list(const char *xml, size_t len, kiln_s3_list_page *out, kiln_err *err)
{
    memset(out, 0, sizeof *out);
    list_st st = {.out = out, .err = err};
    static const kiln_s3_xml_cb cb = {list_start, list_end};
    int rc = kiln_s3_xml_walk(xml, len, &cb, &st, err);
    free(st.key);
    if (rc) kiln_s3_list_page_free(out);
    return rc;
}

/* ---- InitiateMultipartUpload --------------------------------------------------------- */

typedef struct upload_st {
    kiln_err *err;
    char *id;
} upload_st;

static int upload_start(void *arg, const char *const *path, int depth)
{
    upload_st *st = arg;
    if (depth == 1 && strcmp(path[0], "InitiateMultipartUploadResult") != 0)
        return kiln_err_set(st->err, KILN_EUNPROC,
                            "s3 xml: expected <InitiateMultipartUploadResult>, got <%s>", path[0]);
    return 0;
}

static int upload_end(void *arg, const char *const *path, int depth, const char *text, size_t len)
{
    upload_st *st = arg;
    if (depth == 2 && strcmp(path[1], "UploadId") == 0) {
        if (st->id) return kiln_err_set(st->err, KILN_EUNPROC, "s3 xml: two <UploadId>s");
        if (len == 0 || memchr(text, 0, len))
            return kiln_err_set(st->err, KILN_EUNPROC, "s3 xml: empty or bad <UploadId>");
        if (!(st->id = dup_text(text, len))) return kiln_err_set(st->err, KILN_ENOMEM, "s3 xml: out of memory");
    }
    return 0;
}

int kiln_s3_xml_upload_id(const char *xml, size_t len, char **upload_id, kiln_err *err)
{
    *upload_id = NULL;
    upload_st st = {.err = err};
    static const kiln_s3_xml_cb cb = {upload_start, upload_end};
    int rc = kiln_s3_xml_walk(xml, len, &cb, &st, err);
    if (rc == KILN_OK && !st.id) rc = kiln_err_set(err, KILN_EUNPROC, "s3 xml: no <UploadId>");
    if (rc) {
        free(st.id);
        return rc;
    }
    *upload_id = st.id;
    return KILN_OK;
}

/* ---- Error ---------------------------------------------------------------------------- */

typedef struct error_st {
    int is_error;
    char *code, *msg;
    size_t code_cap, msg_cap;
} error_st;

static void copy_cut(char *dst, size_t cap, const char *s, size_t l)
{
    if (!dst || cap == 0) return;
    if (l >= cap) l = cap - 1;
    memcpy(dst, s, l);
    dst[l] = 0;
    for (size_t i = 0; i < l; i++) /* keep messages on one printable line */
        if ((unsigned char)dst[i] < 0x20) dst[i] = ' ';
}

static int error_start(void *arg, const char *const *path, int depth)
{
    error_st *st = arg;
    if (depth == 1) {
        st->is_error = strcmp(path[0], "Error") == 0;
        if (!st->is_error) return 1; /* not an error document: stop */
    }
    return 0;
}

static int error_end(void *arg, const char *const *path, int depth, const char *text, size_t len)
{
    error_st *st = arg;
    if (depth != 2) return 0;
    if (strcmp(path[1], "Code") == 0) copy_cut(st->code, st->code_cap, text, len);
    else if (strcmp(path[1], "Message") == 0) copy_cut(st->msg, st->msg_cap, text, len);
    return 0;
}

int kiln_s3_xml_error(const char *xml, size_t len, char *code, size_t code_cap, char *msg,
                      size_t msg_cap)
{
    if (code && code_cap) code[0] = 0;
    if (msg && msg_cap) msg[0] = 0;
    error_st st = {.code = code, .msg = msg, .code_cap = code_cap, .msg_cap = msg_cap};
    static const kiln_s3_xml_cb cb = {error_start, error_end};
    int rc = kiln_s3_xml_walk(xml, len, &cb, &st, NULL);
    if (rc == KILN_OK && st.is_error) return 1;
    if (code && code_cap) code[0] = 0;
    if (msg && msg_cap) msg[0] = 0;
    return 0;
}

int kiln_s3_xml_escape(kiln_osbuf *out, const char *s)
{
    for (; *s; s++) {
        const char *r = NULL;
        switch (*s) {
        case '&': r = "&amp;"; break;
        case '<': r = "&lt;"; break;
        case '>': r = "&gt;"; break;
        case '"': r = "&quot;"; break;
        case '\'': r = "&apos;"; break;
        default: break;
        }
        int rc = r ? kiln_osbuf_adds(out, r) : kiln_osbuf_add(out, s, 1);
        if (rc) return rc;
    }
    return KILN_OK;
}
