/* config/yaml_load.c — YAML text to a kiln_node tree, with libyaml's event API.
 *
 * Each node records file, 1-based line and column, and its dotted path
 * ("exporters.debug/detailed.verbosity", sequence items "receivers[0]").
 * Values (not keys) get ${env:...} expansion (env_expand.c). Anchors and
 * aliases are accepted (an alias is a deep copy, paths rewritten), merge
 * keys `<<` are applied, duplicate keys are an error, and the tree is
 * bounded in depth, node count and bytes (KILN_YAML_MAX_*).
 *
 * Memory: the whole tree (nodes, strings, the file name, warnings) lives in
 * one arena owned by the root; kiln_yaml_free releases it. The anchor table
 * and the per-map key tables are malloc'ed scratch freed before returning.
 */
#include "kiln_config.h"
#include "strtab.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct kdoc {
    kiln_knode root; /* first: the root pointer is the doc pointer */
    kiln_arena *arena;
    char **warnings;
    size_t n_warnings, cap_warnings;
} kdoc;

typedef struct ctx {
    yaml_parser_t p;
    kiln_arena *a;
    kdoc *doc;
    const char *file;
    const char *src;
    size_t src_len;
    size_t nodes;
    kiln_strtab anchors; /* name (arena) -> kiln_node* */
    kiln_err *err;
} ctx;

/* ---- errors and allocation ---------------------------------------------------- */

static int pos_err(ctx *c, int code, int line, int col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int pos_err(ctx *c, int code, int line, int col, const char *path, const char *fmt, ...)
{
    char msg[KILN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path)
        return kiln_err_set(c->err, code, "%s:%d:%d: %s: %s", c->file, line, col, path, msg);
    return kiln_err_set(c->err, code, "%s:%d:%d: %s", c->file, line, col, msg);
}

static int nomem(ctx *c)
{
    return kiln_err_set(c->err, KILN_ENOMEM, "%s: out of memory loading the config", c->file);
}

static void *ctx_alloc(ctx *c, size_t n)
{
    if (kiln_arena_used(c->a) + n > KILN_YAML_MAX_MEM) {
        kiln_err_set(c->err, KILN_ETOOBIG,
                     "%s: the config tree grows beyond %u MiB (aliases expanding too much?)",
                     c->file, KILN_YAML_MAX_MEM >> 20);
        return NULL;
    }
    void *p = kiln_arena_calloc(c->a, n);
    if (!p) nomem(c);
    return p;
}

static char *ctx_strndup(ctx *c, const char *s, size_t n)
{
    char *p = ctx_alloc(c, n + 1);
    if (p) memcpy(p, s, n);
    return p;
}

static const char *path_key(ctx *c, const char *parent, const char *key)
{
    size_t pl = strlen(parent), kl = strlen(key);
    char *p = ctx_alloc(c, pl + kl + 2);
    if (!p) return NULL;
    if (pl) {
        memcpy(p, parent, pl);
        p[pl++] = '.';
    }
    memcpy(p + pl, key, kl);
    return p;
}

static const char *path_idx(ctx *c, const char *parent, size_t i)
{
    size_t pl = strlen(parent);
    char *p = ctx_alloc(c, pl + 24);
    if (!p) return NULL;
    memcpy(p, parent, pl);
    snprintf(p + pl, 24, "[%zu]", i);
    return p;
}

static kiln_node *new_node(ctx *c, kiln_node_kind kind, int line, int col, const char *path)
{
    if (++c->nodes > KILN_YAML_MAX_NODES) {
        pos_err(c, KILN_ETOOBIG, line, col, path,
                "the config has more than %d nodes (aliases expanding too much?)",
                KILN_YAML_MAX_NODES);
        return NULL;
    }
    kiln_knode *k = ctx_alloc(c, sizeof *k);
    if (!k) return NULL;
    k->n.kind = kind;
    k->n.file = c->file;
    k->n.line = line;
    k->n.col = col;
    k->n.path = path;
    k->key_line = line;
    k->key_col = col;
    return &k->n;
}

/* Appends to a MAP or SEQ node, doubling its arrays in the arena. */
static int append(ctx *c, kiln_node *n, size_t *cap, char *key, kiln_node *item)
{
    if (n->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        kiln_node **items = ctx_alloc(c, nc * sizeof *items);
        if (!items) return c->err ? c->err->code : KILN_ENOMEM;
        if (n->n) memcpy(items, n->items, n->n * sizeof *items);
        n->items = items;
        if (n->kind == KILN_NODE_MAP) {
            char **keys = ctx_alloc(c, nc * sizeof *keys);
            if (!keys) return c->err ? c->err->code : KILN_ENOMEM;
            if (n->n) memcpy(keys, n->keys, n->n * sizeof *keys);
            n->keys = keys;
        }
        *cap = nc;
    }
    if (n->kind == KILN_NODE_MAP) n->keys[n->n] = key;
    n->items[n->n++] = item;
    return KILN_OK;
}

static int fail_code(ctx *c)
{
    return c->err && c->err->code ? c->err->code : KILN_ENOMEM;
}

static int add_warning(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int add_warning(ctx *c, const char *fmt, ...)
{
    kdoc *d = c->doc;
    char msg[KILN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (d->n_warnings == d->cap_warnings) {
        size_t nc = d->cap_warnings ? d->cap_warnings * 2 : 4;
        char **w = ctx_alloc(c, nc * sizeof *w);
        if (!w) return fail_code(c);
        if (d->n_warnings) memcpy(w, d->warnings, d->n_warnings * sizeof *w);
        d->warnings = w;
        d->cap_warnings = nc;
    }
    char *s = ctx_strndup(c, msg, strlen(msg));
    if (!s) return fail_code(c);
    d->warnings[d->n_warnings++] = s;
    return KILN_OK;
}

/* ---- libyaml errors ---------------------------------------------------------------- */

static int yaml_fail(ctx *c)
{
    yaml_parser_t *p = &c->p;
    if (p->error == YAML_MEMORY_ERROR) return nomem(c);
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_READER_ERROR) {
        /* the reader reports a byte offset: turn it into line:col */
        size_t off = p->problem_offset < c->src_len ? p->problem_offset : c->src_len;
        int line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            unsigned char ch = (unsigned char)c->src[i];
            if (ch == '\n') {
                line++;
                col = 1;
            } else if ((ch & 0xC0) != 0x80) {
                col++;
            }
        }
        if (p->problem_value >= 0)
            return pos_err(c, KILN_EINVAL, line, col, NULL, "%s (byte 0x%02x)", problem,
                           (unsigned)p->problem_value & 0xffu);
        return pos_err(c, KILN_EINVAL, line, col, NULL, "%s", problem);
    }
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->context)
        return pos_err(c, KILN_EINVAL, line, col, NULL, "%s: %s (started at line %d, column %d)",
                       p->context, problem, (int)p->context_mark.line + 1,
                       (int)p->context_mark.column + 1);
    return pos_err(c, KILN_EINVAL, line, col, NULL, "%s", problem);
}

static int next_event(ctx *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->p, ev)) return yaml_fail(c);
    return KILN_OK;
}

/* ---- building ------------------------------------------------------------------------------ */

static int is_null_word(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '~') ||
           (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

static int copy_node(ctx *c, const kiln_node *src, const char *path, int depth, kiln_node **out)
{
    if (depth > KILN_YAML_MAX_DEPTH)
        return pos_err(c, KILN_EINVAL, src->line, src->col, path,
                       "nested deeper than %d levels (through an alias)", KILN_YAML_MAX_DEPTH);
    kiln_node *n = new_node(c, src->kind, src->line, src->col, path);
    if (!n) return fail_code(c);
    const kiln_knode *ks = (const kiln_knode *)src;
    ((kiln_knode *)n)->key_line = ks->key_line;
    ((kiln_knode *)n)->key_col = ks->key_col;
    n->scalar = src->scalar; /* immutable, shared in the arena */
    n->quoted = src->quoted;
    if (src->kind == KILN_NODE_MAP || src->kind == KILN_NODE_SEQ) {
        if (src->n) {
            n->items = ctx_alloc(c, src->n * sizeof *n->items);
            if (!n->items) return fail_code(c);
            if (src->kind == KILN_NODE_MAP) n->keys = src->keys; /* shared */
        }
        for (size_t i = 0; i < src->n; i++) {
            const char *cp = src->kind == KILN_NODE_MAP ? path_key(c, path, src->keys[i])
                                                        : path_idx(c, path, i);
            if (!cp) return fail_code(c);
            int rc = copy_node(c, src->items[i], cp, depth + 1, &n->items[i]);
            if (rc) return rc;
        }
        n->n = src->n;
    }
    *out = n;
    return KILN_OK;
}

static int build(ctx *c, yaml_event_t *ev, const char *path, int depth, kiln_node **out);

static int register_anchor(ctx *c, const yaml_char_t *anchor, kiln_node *n)
{
    if (!anchor) return KILN_OK;
    char *name = ctx_strndup(c, (const char *)anchor, strlen((const char *)anchor));
    if (!name) return fail_code(c);
    if (kiln_strtab_put(&c->anchors, name, n, NULL) < 0) return nomem(c);
    return KILN_OK;
}

static int build_scalar(ctx *c, yaml_event_t *ev, const char *path, kiln_node **out)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (memchr(v, 0, len))
        return pos_err(c, KILN_EINVAL, line, col, path, "a NUL character is not allowed in a value");
    kiln_node *n;
    if (plain && !ev->data.scalar.tag && is_null_word(v, len)) {
        n = new_node(c, KILN_NODE_NULL, line, col, path);
        if (!n) return fail_code(c);
    } else {
        n = new_node(c, KILN_NODE_SCALAR, line, col, path);
        if (!n) return fail_code(c);
        n->quoted = !plain;
        char unset[128];
        size_t outlen;
        int rc = kiln_env_expand(c->a, v, len, &n->scalar, &outlen, unset, sizeof unset, c->err);
        if (rc) {
            char msg[KILN_ERR_MSG_MAX];
            memcpy(msg, c->err->msg, sizeof msg);
            return pos_err(c, rc, line, col, path, "%s", msg);
        }
        if (kiln_arena_used(c->a) > KILN_YAML_MAX_MEM)
            return pos_err(c, KILN_ETOOBIG, line, col, path, "the config tree grows beyond %u MiB",
                           KILN_YAML_MAX_MEM >> 20);
        if (unset[0]) {
            if (path && *path)
                rc = add_warning(c, "%s:%d:%d: %s: environment variable %s is not set; it expands to \"\"",
                                 c->file, line, col, path, unset);
            else
                rc = add_warning(c, "%s:%d:%d: environment variable %s is not set; it expands to \"\"",
                                 c->file, line, col, unset);
            if (rc) return rc;
        }
    }
    int rc = register_anchor(c, ev->data.scalar.anchor, n);
    if (rc) return rc;
    *out = n;
    return KILN_OK;
}

static int build_seq(ctx *c, yaml_event_t *start, const char *path, int depth, kiln_node **out)
{
    int line = (int)start->start_mark.line + 1, col = (int)start->start_mark.column + 1;
    kiln_node *n = new_node(c, KILN_NODE_SEQ, line, col, path);
    if (!n) return fail_code(c);
    size_t cap = 0;
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(c, &ev);
        if (rc) return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        const char *cp = path_idx(c, path, n->n);
        kiln_node *child = NULL;
        if (!cp) {
            yaml_event_delete(&ev);
            return fail_code(c);
        }
        rc = build(c, &ev, cp, depth + 1, &child);
        if (rc) return rc;
        rc = append(c, n, &cap, NULL, child);
        if (rc) return rc;
    }
    *out = n;
    return KILN_OK;
}

/* Adds the entries of merge source `m` (a MAP) that `n` lacks. */
static int merge_from(ctx *c, kiln_node *n, size_t *cap, kiln_strtab *seen, const kiln_node *m,
                      const char *path, int depth)
{
    for (size_t i = 0; i < m->n; i++) {
        if (kiln_strtab_has(seen, m->keys[i])) continue;
        const char *cp = path_key(c, path, m->keys[i]);
        kiln_node *copy = NULL;
        if (!cp) return fail_code(c);
        int rc = copy_node(c, m->items[i], cp, depth + 1, &copy);
        if (rc) return rc;
        rc = append(c, n, cap, m->keys[i], copy);
        if (rc) return rc;
        if (kiln_strtab_put(seen, m->keys[i], copy, NULL) < 0) return nomem(c);
    }
    return KILN_OK;
}

static int build_map(ctx *c, yaml_event_t *start, const char *path, int depth, kiln_node **out)
{
    int line = (int)start->start_mark.line + 1, col = (int)start->start_mark.column + 1;
    kiln_node *n = new_node(c, KILN_NODE_MAP, line, col, path);
    if (!n) return fail_code(c);
    size_t cap = 0;
    kiln_strtab seen = {0};
    const kiln_node **merges = NULL;
    size_t n_merges = 0, cap_merges = 0;
    int rc = KILN_OK;
    for (;;) {
        yaml_event_t kev, vev;
        rc = next_event(c, &kev);
        if (rc) goto out;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        int kline = (int)kev.start_mark.line + 1, kcol = (int)kev.start_mark.column + 1;
        if (kev.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&kev);
            rc = pos_err(c, KILN_EINVAL, kline, kcol, path, "mapping keys must be plain strings");
            goto out;
        }
        const char *kv = (const char *)kev.data.scalar.value;
        size_t klen = kev.data.scalar.length;
        int is_merge = kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && klen == 2 &&
                       kv[0] == '<' && kv[1] == '<';
        if (klen == 0 || memchr(kv, 0, klen)) {
            yaml_event_delete(&kev);
            rc = pos_err(c, KILN_EINVAL, kline, kcol, path,
                         klen ? "a NUL character is not allowed in a key" : "empty mapping key");
            goto out;
        }
        char *key = ctx_strndup(c, kv, klen);
        yaml_event_delete(&kev);
        if (!key) {
            rc = fail_code(c);
            goto out;
        }
        const char *cp = path_key(c, path, key);
        if (!cp) {
            rc = fail_code(c);
            goto out;
        }
        if (!is_merge && kiln_strtab_has(&seen, key)) {
            const kiln_node *first = kiln_strtab_get(&seen, key);
            const kiln_knode *kf = (const kiln_knode *)first;
            rc = pos_err(c, KILN_EINVAL, kline, kcol, cp,
                         "duplicate key \"%s\" (first at line %d, column %d)", key,
                         kf ? kf->key_line : 0, kf ? kf->key_col : 0);
            goto out;
        }
        rc = next_event(c, &vev);
        if (rc) goto out;
        kiln_node *val = NULL;
        rc = build(c, &vev, cp, depth + 1, &val);
        if (rc) goto out;
        ((kiln_knode *)val)->key_line = kline;
        ((kiln_knode *)val)->key_col = kcol;
        if (val->kind == KILN_NODE_NULL) { /* `key:` with nothing: point at the key */
            val->line = kline;
            val->col = kcol;
        }
        if (is_merge) {
            /* `<<: map` or `<<: [map, ...]` */
            size_t k = val->kind == KILN_NODE_SEQ ? val->n : 1;
            for (size_t i = 0; i < k; i++) {
                const kiln_node *m = val->kind == KILN_NODE_SEQ ? val->items[i] : val;
                if (m->kind != KILN_NODE_MAP) {
                    rc = pos_err(c, KILN_EINVAL, m->line, m->col, cp,
                                 "a merge key (<<) takes a mapping or a list of mappings, got %s",
                                 kiln_node_kind_desc(m));
                    goto out;
                }
                if (n_merges == cap_merges) {
                    size_t nc = cap_merges ? cap_merges * 2 : 4;
                    const kiln_node **nm = realloc(merges, nc * sizeof *nm);
                    if (!nm) {
                        rc = nomem(c);
                        goto out;
                    }
                    merges = nm;
                    cap_merges = nc;
                }
                merges[n_merges++] = m;
            }
            continue;
        }
        rc = append(c, n, &cap, key, val);
        if (rc) goto out;
        if (kiln_strtab_put(&seen, key, val, NULL) < 0) {
            rc = nomem(c);
            goto out;
        }
    }
    for (size_t i = 0; i < n_merges; i++) {
        rc = merge_from(c, n, &cap, &seen, merges[i], path, depth);
        if (rc) goto out;
    }
    *out = n;
out:
    kiln_strtab_free(&seen);
    free(merges);
    return rc;
}

/* Builds the node that starts with *ev; always consumes (deletes) *ev. */
static int build(ctx *c, yaml_event_t *ev, const char *path, int depth, kiln_node **out)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    int rc;
    if (depth > KILN_YAML_MAX_DEPTH) {
        yaml_event_delete(ev);
        return pos_err(c, KILN_EINVAL, line, col, path, "nested deeper than %d levels",
                       KILN_YAML_MAX_DEPTH);
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        rc = build_scalar(c, ev, path, out);
        break;
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        const kiln_node *src = kiln_strtab_get(&c->anchors, name);
        if (!src)
            rc = pos_err(c, KILN_EINVAL, line, col, path,
                         "unknown alias *%.64s (an alias must come after its anchor's node)", name);
        else
            rc = copy_node(c, src, path, depth, out);
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
        rc = build_seq(c, ev, path, depth, out);
        if (!rc) rc = register_anchor(c, ev->data.sequence_start.anchor, *out);
        break;
    case YAML_MAPPING_START_EVENT:
        rc = build_map(c, ev, path, depth, out);
        if (!rc) rc = register_anchor(c, ev->data.mapping_start.anchor, *out);
        break;
    default:
        rc = pos_err(c, KILN_EINVAL, line, col, path, "unexpected YAML event %d", (int)ev->type);
        break;
    }
    yaml_event_delete(ev);
    return rc;
}

static int load(ctx *c, kiln_node **root_out)
{
    yaml_event_t ev;
    int rc = next_event(c, &ev); /* STREAM-START */
    if (rc) return rc;
    yaml_event_delete(&ev);
    rc = next_event(c, &ev);
    if (rc) return rc;
    if (ev.type == YAML_STREAM_END_EVENT) { /* empty file */
        yaml_event_delete(&ev);
        c->doc->root.n.kind = KILN_NODE_NULL;
        c->doc->root.n.line = c->doc->root.n.col = 1;
        c->doc->root.key_line = c->doc->root.key_col = 1;
        *root_out = &c->doc->root.n;
        return KILN_OK;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    rc = next_event(c, &ev);
    if (rc) return rc;
    kiln_node *root = NULL;
    rc = build(c, &ev, "", 0, &root);
    if (rc) return rc;
    rc = next_event(c, &ev); /* DOCUMENT-END */
    if (rc) return rc;
    yaml_event_delete(&ev);
    rc = next_event(c, &ev);
    if (rc) return rc;
    if (ev.type != YAML_STREAM_END_EVENT) {
        int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        yaml_event_delete(&ev);
        return pos_err(c, KILN_EINVAL, line, col, NULL,
                       "only one YAML document is allowed in a config file");
    }
    yaml_event_delete(&ev);
    c->doc->root = *(kiln_knode *)root;
    *root_out = &c->doc->root.n;
    return KILN_OK;
}

int kiln_yaml_load_string(const char *name, const char *yaml, size_t len, kiln_node **root,
                          kiln_err *err)
{
    kiln_err local;
    if (!err) err = &local;
    kiln_err_clear(err);
    *root = NULL;
    if (!name) name = "<config>";
    ctx c;
    memset(&c, 0, sizeof c);
    c.err = err;
    c.src = yaml ? yaml : "";
    c.src_len = yaml ? len : 0;
    c.a = kiln_arena_new(len < (1u << 20) ? 4096 + len * 2 : 1u << 21);
    if (!c.a) return kiln_err_set(err, KILN_ENOMEM, "%s: out of memory loading the config", name);
    c.file = kiln_arena_strndup(c.a, name, strlen(name));
    c.doc = kiln_arena_calloc(c.a, sizeof *c.doc);
    if (!c.file || !c.doc) {
        kiln_arena_destroy(c.a);
        return kiln_err_set(err, KILN_ENOMEM, "%s: out of memory loading the config", name);
    }
    c.doc->arena = c.a;
    c.doc->root.n.file = c.file;
    c.doc->root.n.path = "";
    if (!yaml_parser_initialize(&c.p)) {
        kiln_arena_destroy(c.a);
        return kiln_err_set(err, KILN_ENOMEM, "%s: out of memory loading the config", name);
    }
    yaml_parser_set_input_string(&c.p, (const unsigned char *)c.src, c.src_len);
    kiln_node *r = NULL;
    int rc = load(&c, &r);
    yaml_parser_delete(&c.p);
    kiln_strtab_free(&c.anchors);
    if (rc) {
        kiln_arena_destroy(c.a);
        return rc ? rc : KILN_EINVAL;
    }
    *root = r;
    return KILN_OK;
}

int kiln_yaml_load_file(const char *path, kiln_node **root, kiln_err *err)
{
    *root = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return kiln_err_set(err, errno == ENOENT ? KILN_ENOTFOUND : KILN_EIO, "cannot open %s: %s",
                            path, strerror(errno));
    size_t cap = 1 << 14, n = 0;
    char *buf = malloc(cap);
    int rc = KILN_OK;
    if (!buf) {
        fclose(f);
        return kiln_err_set(err, KILN_ENOMEM, "%s: out of memory reading the config", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap > KILN_YAML_MAX_FILE) {
                rc = kiln_err_set(err, KILN_ETOOBIG, "%s: larger than %u MiB; not a config file?",
                                  path, KILN_YAML_MAX_FILE >> 20);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = kiln_err_set(err, KILN_ENOMEM, "%s: out of memory reading the config", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) {
            if (ferror(f)) rc = kiln_err_set(err, KILN_EIO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        n += r;
    }
    fclose(f);
    if (!rc && n > KILN_YAML_MAX_FILE)
        rc = kiln_err_set(err, KILN_ETOOBIG, "%s: larger than %u MiB; not a config file?", path,
                          KILN_YAML_MAX_FILE >> 20);
    if (!rc) rc = kiln_yaml_load_string(path, buf, n, root, err);
    free(buf);
    return rc;
}

void kiln_yaml_free(kiln_node *root)
{
    if (!root) return;
    kdoc *d = (kdoc *)(void *)root;
    kiln_arena_destroy(d->arena);
}

kiln_arena *kiln_yaml_arena(const kiln_node *root)
{
    return root ? ((const kdoc *)(const void *)root)->arena : NULL;
}

char *const *kiln_yaml_warnings(const kiln_node *root, size_t *n)
{
    const kdoc *d = (const kdoc *)(const void *)root;
    *n = d ? d->n_warnings : 0;
    return d ? d->warnings : NULL;
}
