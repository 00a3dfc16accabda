/* pipeline/block_meta.c — meta.json of a block: encoding, and decoding with
 * a small JSON parser (objects, arrays, strings with escapes, integers,
 * true/false/null; depth-limited). Unknown keys are ignored so that later
 * minor versions can add fields; the version number is checked.
 *
 * Memory: kiln_block_meta owns `tenant`, `sources` and `parents` (malloc);
 * the parser's tree lives in an arena freed before returning.
 */
#include "block_internal.h"

#include <inttypes.h>
#include <stdio.h>

#include <kiln/kiln.h>

const char *const kiln_block_file_names[KILN_BLOCK_NFILES] = {"index.bin", "symbols.bin",
                                                              "samples.bin"};

void kiln_block_meta_free(kiln_block_meta *m)
{
    if (!m) return;
    free(m->tenant);
    free(m->sources);
    free(m->parents);
    memset(m, 0, sizeof *m);
}

int kiln_block_meta_copy(kiln_block_meta *dst, const kiln_block_meta *src, kiln_err *err)
{
    *dst = *src;
    dst->tenant = NULL;
    dst->sources = dst->parents = NULL;
    dst->tenant = strdup(src->tenant ? src->tenant : "");
    if (src->n_sources) dst->sources = malloc(src->n_sources * sizeof *dst->sources);
    if (src->n_parents) dst->parents = malloc(src->n_parents * sizeof *dst->parents);
    if (!dst->tenant || (src->n_sources && !dst->sources) || (src->n_parents && !dst->parents)) {
        kiln_block_meta_free(dst);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    if (src->n_sources) memcpy(dst->sources, src->sources, src->n_sources * sizeof *dst->sources);
    if (src->n_parents) memcpy(dst->parents, src->parents, src->n_parents * sizeof *dst->parents);
    return KILN_OK;
}


/* ---- encode ------------------------------------------------------------------ */

static void json_str(kb_buf *b, const char *s)
{
    kb_buf_u8(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            kb_buf_u8(b, '\\');
            kb_buf_u8(b, *p);
        } else if (*p < 0x20) {
            char t[8];
            snprintf(t, sizeof t, "\\u%04x", *p);
            kb_buf_put(b, t, 6);
        } else {
            kb_buf_u8(b, *p);
        }
    }
    kb_buf_u8(b, '"');
}

static void json_raw(kb_buf *b, const char *s) { kb_buf_put(b, s, strlen(s)); }

static void json_i64(kb_buf *b, const char *key, int64_t v, int comma)
{
    char t[96];
    snprintf(t, sizeof t, "%s\"%s\": %" PRId64, comma ? ",\n  " : "", key, v);
    json_raw(b, t);
}

static void json_u64(kb_buf *b, const char *key, uint64_t v, int comma)
{
    char t[96];
    snprintf(t, sizeof t, "%s\"%s\": %" PRIu64, comma ? ", " : "", key, v);
    json_raw(b, t);
}

static void json_ids(kb_buf *b, const kiln_block_id *ids, size_t n)
{
    kb_buf_u8(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) json_raw(b, ", ");
        json_str(b, ids[i]);
    }
    kb_buf_u8(b, ']');
}

int kiln_block_meta_encode(const kiln_block_meta *m, char **out, size_t *len, kiln_err *err)
{
    kb_buf b = {0};
    json_raw(&b, "{\n  \"format\": \"kiln-block\",\n  \"version\": ");
    char t[64];
    snprintf(t, sizeof t, "%d", m->version ? m->version : KILN_BLOCK_FORMAT_VERSION);
    json_raw(&b, t);
    json_raw(&b, ",\n  \"id\": ");
    json_str(&b, m->id);
    json_raw(&b, ",\n  \"tenant\": ");
    json_str(&b, m->tenant ? m->tenant : "");
    json_i64(&b, "min_time_ns", m->min_time_ns, 1);
    json_i64(&b, "max_time_ns", m->max_time_ns, 1);
    json_i64(&b, "created_ns", m->created_ns, 1);
    json_raw(&b, ",\n  \"source\": ");
    json_str(&b, m->source[0] ? m->source : "ingester");
    json_raw(&b, ",\n  \"stats\": {");
    json_u64(&b, "series", m->n_series, 0);
    json_u64(&b, "profiles", m->n_profiles, 1);
    json_u64(&b, "samples", m->n_samples, 1);
    json_u64(&b, "stacks", m->n_stacks, 1);
    json_u64(&b, "locations", m->n_locations, 1);
    json_u64(&b, "functions", m->n_functions, 1);
    json_u64(&b, "mappings", m->n_mappings, 1);
    json_u64(&b, "strings", m->n_strings, 1);
    json_raw(&b, "},\n  \"compaction\": {");
    json_u64(&b, "level", (uint64_t)m->level, 0);
    json_raw(&b, ", \"sources\": ");
    json_ids(&b, m->sources, m->n_sources);
    json_raw(&b, ", \"parents\": ");
    json_ids(&b, m->parents, m->n_parents);
    json_raw(&b, "},\n  \"files\": [");
    for (int i = 0; i < KILN_BLOCK_NFILES; i++) {
        json_raw(&b, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
        json_str(&b, kiln_block_file_names[i]);
        json_u64(&b, "size", m->files[i].size, 1);
        json_u64(&b, "crc32", m->files[i].crc32, 1);
        kb_buf_u8(&b, '}');
    }
    json_raw(&b, "\n  ]\n}\n");
    kb_buf_u8(&b, 0);
    if (b.oom) {
        kb_buf_free(&b);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory encoding meta.json");
    }
    *out = (char *)b.p;
    *len = b.n - 1;
    return KILN_OK;
}

/* ---- a small JSON parser ------------------------------------------------------------ */

enum { J_NULL, J_BOOL, J_INT, J_STR, J_ARR, J_OBJ };

typedef struct jv jv;
struct jv {
    int t;
    int64_t i;
    uint64_t u;   /* J_INT: the value if it is non-negative */
    int neg;
    char *s;
    size_t n;     /* arr/obj: entries */
    char **keys;
    jv **items;
};

typedef struct jp {
    const char *p, *end;
    kiln_arena *a;
    const char *start;
    char msg[128];
} jp;

static void ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static jv *jfail(jp *j, const char *what)
{
    if (!j->msg[0])
        snprintf(j->msg, sizeof j->msg, "%s at byte %zu", what, (size_t)(j->p - j->start));
    return NULL;
}

static void put_utf8(char *d, size_t *k, uint32_t c)
{
    if (c < 0x80) d[(*k)++] = (char)c;
    else if (c < 0x800) {
        d[(*k)++] = (char)(0xc0 | c >> 6);
        d[(*k)++] = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        d[(*k)++] = (char)(0xe0 | c >> 12);
        d[(*k)++] = (char)(0x80 | ((c >> 6) & 0x3f));
        d[(*k)++] = (char)(0x80 | (c & 0x3f));
    } else {
        d[(*k)++] = (char)(0xf0 | c >> 18);
        d[(*k)++] = (char)(0x80 | ((c >> 12) & 0x3f));
        d[(*k)++] = (char)(0x80 | ((c >> 6) & 0x3f));
        d[(*k)++] = (char)(0x80 | (c & 0x3f));
    }
}

static int hex4(const char *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
        else return -1;
        *v = *v << 4 | d;
    }
    return 0;
}

static char *jstring(jp *j)
{
    j->p++; /* the opening quote */
    const char *s = j->p;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p == '\\') j->p++;
        j->p++;
    }
    if (j->p >= j->end) return (char *)jfail(j, "unterminated string");
    size_t raw = (size_t)(j->p - s);
    char *d = kiln_arena_alloc(j->a, raw + 1);
    if (!d) return (char *)jfail(j, "out of memory");
    size_t k = 0;
    for (const char *q = s; q < j->p; q++) {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20) return (char *)jfail(j, "control character in string");
        if (c != '\\') {
            d[k++] = (char)c;
            continue;
        }
        q++;
        switch (*q) {
        case '"': d[k++] = '"'; break;
        case '\\': d[k++] = '\\'; break;
        case '/': d[k++] = '/'; break;
        case 'b': d[k++] = '\b'; break;
        case 'f': d[k++] = '\f'; break;
        case 'n': d[k++] = '\n'; break;
        case 'r': d[k++] = '\r'; break;
        case 't': d[k++] = '\t'; break;
        case 'u': {
            uint32_t c1;
            if (j->p - q < 5 || hex4(q + 1, &c1)) return (char *)jfail(j, "bad \\u escape");
            q += 4;
            if (c1 == 0) return (char *)jfail(j, "NUL in string");
            if (c1 >= 0xd800 && c1 < 0xdc00) {
                uint32_t c2;
                if (j->p - q < 7 || q[1] != '\\' || q[2] != 'u' || hex4(q + 3, &c2) ||
                    c2 < 0xdc00 || c2 >= 0xe000)
                    return (char *)jfail(j, "bad surrogate pair");
                q += 6;
                c1 = 0x10000 + ((c1 - 0xd800) << 10) + (c2 - 0xdc00);
            } else if (c1 >= 0xdc00 && c1 < 0xe000) {
                return (char *)jfail(j, "lone low surrogate");
            }
            /* at most 4 bytes out for 6 or 12 in: fits in raw */
            put_utf8(d, &k, c1);
            break;
        }
        default: return (char *)jfail(j, "bad escape");
        }
    }
    d[k] = 0;
    j->p++;
    return d;
}

static jv *jvalue(jp *j, int depth)
{
    ws(j);
    if (j->p >= j->end) return jfail(j, "unexpected end");
    if (depth > 16) return jfail(j, "nested too deep");
    jv *v = kiln_arena_calloc(j->a, sizeof *v);
    if (!v) return jfail(j, "out of memory");
    char c = *j->p;
    if (c == '"') {
        v->t = J_STR;
        v->s = jstring(j);
        return v->s ? v : NULL;
    }
    if (c == '{' || c == '[') {
        int obj = c == '{';
        v->t = obj ? J_OBJ : J_ARR;
        j->p++;
        size_t cap = 0;
        ws(j);
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
            j->p++;
            return v;
        }
        for (;;) {
            char *key = NULL;
            if (obj) {
                ws(j);
                if (j->p >= j->end || *j->p != '"') return jfail(j, "expected a key");
                key = jstring(j);
                if (!key) return NULL;
                ws(j);
                if (j->p >= j->end || *j->p != ':') return jfail(j, "expected ':'");
                j->p++;
            }
            jv *item = jvalue(j, depth + 1);
            if (!item) return NULL;
            if (v->n == cap) {
                size_t nc = cap ? cap * 2 : 8;
                jv **ni = kiln_arena_alloc(j->a, nc * sizeof *ni);
                char **nk = kiln_arena_alloc(j->a, nc * sizeof *nk);
                if (!ni || !nk) return jfail(j, "out of memory");
                if (v->n) {
                    memcpy(ni, v->items, v->n * sizeof *ni);
                    memcpy(nk, v->keys, v->n * sizeof *nk);
                }
                v->items = ni;
                v->keys = nk;
                cap = nc;
            }
            v->keys[v->n] = key;
            v->items[v->n++] = item;
            ws(j);
            if (j->p >= j->end) return jfail(j, "unexpected end");
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p == (obj ? '}' : ']')) {
                j->p++;
                return v;
            }
            return jfail(j, "expected ',' or a closing bracket");
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        v->t = J_INT;
        if (c == '-') {
            v->neg = 1;
            j->p++;
        }
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jfail(j, "bad number");
        uint64_t u = 0;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            uint64_t d = (uint64_t)(*j->p - '0');
            if (u > (UINT64_MAX - d) / 10) return jfail(j, "number too large");
            u = u * 10 + d;
            j->p++;
        }
        if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
            return jfail(j, "only integers are expected");
        if (v->neg) {
            if (u > (uint64_t)INT64_MAX + 1) return jfail(j, "number too small");
            v->i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
        } else {
            v->u = u;
            v->i = u > INT64_MAX ? INT64_MAX : (int64_t)u;
        }
        return v;
    }
    static const struct {
        const char *w;
        int t, b;
    } lits[] = {{"true", J_BOOL, 1}, {"false", J_BOOL, 0}, {"null", J_NULL, 0}};
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(lits[i].w);
        if ((size_t)(j->end - j->p) >= l && memcmp(j->p, lits[i].w, l) == 0) {
            v->t = lits[i].t;
            v->i = lits[i].b;
            j->p += l;
            return v;
        }
    }
    return jfail(j, "unexpected character");
}

static const jv *jget(const jv *o, const char *key)
{
    if (!o || o->t != J_OBJ) return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0) return o->items[i];
    return NULL;
}

#define MBAD(...)                                                                                  \
    do {                                                                                           \
        rc = kiln_err_set(err, KILN_EINVAL, "meta.json: " __VA_ARGS__);                            \
        goto done;                                                                                 \
    } while (0)

static int get_i64(const jv *o, const char *key, int64_t *out)
{
    const jv *v = jget(o, key);
    if (!v || v->t != J_INT || (!v->neg && v->u > INT64_MAX)) return -1;
    *out = v->i;
    return 0;
}

static int get_u64(const jv *o, const char *key, uint64_t *out)
{
    const jv *v = jget(o, key);
    if (!v || v->t != J_INT || v->neg) return -1;
    *out = v->u;
    return 0;
}

static int get_ids(const jv *a, kiln_block_id **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!a || a->t != J_ARR) return -1;
    if (a->n > 1000000) return -1;
    if (!a->n) return 0;
    kiln_block_id *v = malloc(a->n * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < a->n; i++) {
        if (a->items[i]->t != J_STR || !kiln_block_id_parse(a->items[i]->s, NULL)) {
            free(v);
            return -1;
        }
        memcpy(v[i], a->items[i]->s, KILN_BLOCK_ID_LEN + 1);
    }
    *out = v;
    *n = a->n;
    return 0;
}

int kiln_block_meta_decode(const uint8_t *data, size_t len, kiln_block_meta *m, kiln_err *err)
{
    int rc = KILN_OK;
    memset(m, 0, sizeof *m);
    if (len > KB_MAX_META) return kiln_err_set(err, KILN_EINVAL, "meta.json: %zu bytes, over the limit", len);
    jp j = {(const char *)data, (const char *)data + len, kiln_arena_new(len * 2 + 1024),
            (const char *)data, {0}};
    if (!j.a) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    jv *root = jvalue(&j, 0);
    if (root) {
        ws(&j);
        if (j.p != j.end) root = jfail(&j, "trailing bytes");
    }
    if (!root) MBAD("%s", j.msg);
    if (root->t != J_OBJ) MBAD("not an object");
    int64_t ver;
    if (get_i64(root, "version", &ver)) MBAD("no version");
    if (ver != KILN_BLOCK_FORMAT_VERSION)
        MBAD("format version %" PRId64 ", this kiln reads %d", ver, KILN_BLOCK_FORMAT_VERSION);
    m->version = (int)ver;
    const jv *f = jget(root, "format");
    if (!f || f->t != J_STR || strcmp(f->s, "kiln-block") != 0) MBAD("format is not \"kiln-block\"");
    const jv *id = jget(root, "id");
    if (!id || id->t != J_STR || !kiln_block_id_parse(id->s, NULL)) MBAD("bad id");
    memcpy(m->id, id->s, KILN_BLOCK_ID_LEN + 1);
    const jv *t = jget(root, "tenant");
    if (!t || t->t != J_STR || !t->s[0] || strlen(t->s) > KILN_TENANT_MAX) MBAD("bad tenant");
    m->tenant = strdup(t->s);
    if (!m->tenant) MBAD("out of memory");
    if (get_i64(root, "min_time_ns", &m->min_time_ns) || get_i64(root, "max_time_ns", &m->max_time_ns) ||
        m->max_time_ns < m->min_time_ns)
        MBAD("bad time range");
    if (get_i64(root, "created_ns", &m->created_ns)) MBAD("bad created_ns");
    const jv *src = jget(root, "source");
    if (src && src->t == J_STR) snprintf(m->source, sizeof m->source, "%s", src->s);
    const jv *st = jget(root, "stats");
    if (!st || get_u64(st, "series", &m->n_series) || get_u64(st, "profiles", &m->n_profiles) ||
        get_u64(st, "samples", &m->n_samples) || get_u64(st, "stacks", &m->n_stacks) ||
        get_u64(st, "locations", &m->n_locations) || get_u64(st, "functions", &m->n_functions) ||
        get_u64(st, "mappings", &m->n_mappings) || get_u64(st, "strings", &m->n_strings))
        MBAD("bad stats");
    const jv *c = jget(root, "compaction");
    int64_t level;
    if (!c || get_i64(c, "level", &level) || level < 1 || level > 100) MBAD("bad compaction level");
    m->level = (int)level;
    if (get_ids(jget(c, "sources"), &m->sources, &m->n_sources) || m->n_sources == 0)
        MBAD("bad compaction sources");
    if (get_ids(jget(c, "parents"), &m->parents, &m->n_parents)) MBAD("bad compaction parents");
    const jv *files = jget(root, "files");
    if (!files || files->t != J_ARR) MBAD("no files");
    int seen[KILN_BLOCK_NFILES] = {0};
    for (size_t i = 0; i < files->n; i++) {
        const jv *e = files->items[i];
        const jv *nm = jget(e, "name");
        if (!nm || nm->t != J_STR) MBAD("file %zu: no name", i);
        for (int k = 0; k < KILN_BLOCK_NFILES; k++) {
            if (strcmp(nm->s, kiln_block_file_names[k]) != 0) continue;
            uint64_t crc;
            if (get_u64(e, "size", &m->files[k].size) || get_u64(e, "crc32", &crc) ||
                crc > UINT32_MAX)
                MBAD("file %s: bad size or crc32", nm->s);
            m->files[k].crc32 = (uint32_t)crc;
            seen[k] = 1;
        }
    }
    for (int k = 0; k < KILN_BLOCK_NFILES; k++)
        if (!seen[k]) MBAD("file %s missing", kiln_block_file_names[k]);
done:
    kiln_arena_destroy(j.a);
    if (rc != KILN_OK) kiln_block_meta_free(m);
    return rc;
}
