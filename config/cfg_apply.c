/* config/cfg_apply.c — a component's kiln_cfg_field table applied to its
 * YAML map: defaults, values, unknown-field / type / range / enum / required
 * checks with file:line:col errors; freeing; `kiln components` listing.
 *
 * Memory: STRING, STRLIST and STRMAP members of the config struct are
 * malloc'ed here and freed by kiln_cfg_free (which NULLs them). NODE members
 * point into the caller's tree. Defaults of lists and maps are parsed as
 * YAML into a temporary tree freed before returning.
 */
#include "kiln_config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *kiln_cfg_type_name(kiln_cfg_type t)
{
    switch (t) {
    case KILN_CFG_STRING: return "string";
    case KILN_CFG_INT: return "int";
    case KILN_CFG_DOUBLE: return "double";
    case KILN_CFG_BOOL: return "bool";
    case KILN_CFG_DURATION: return "duration";
    case KILN_CFG_BYTES: return "bytes";
    case KILN_CFG_ENUM: return "enum";
    case KILN_CFG_STRLIST: return "list";
    case KILN_CFG_STRMAP: return "map";
    case KILN_CFG_NODE: return "object";
    default: return "unknown";
    }
}

static void *member(void *out, const kiln_cfg_field *f) { return (char *)out + f->offset; }

/* ---- freeing ---------------------------------------------------------------------- */

static void free_strlist(kiln_strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void free_strmap(kiln_strmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    m->keys = m->values = NULL;
    m->n = 0;
}

void kiln_cfg_free(const kiln_cfg_field *fields, void *cfg)
{
    if (!fields || !cfg) return;
    for (const kiln_cfg_field *f = fields; f->name; f++) {
        switch (f->type) {
        case KILN_CFG_STRING: {
            char **p = member(cfg, f);
            free(*p);
            *p = NULL;
            break;
        }
        case KILN_CFG_STRLIST: free_strlist(member(cfg, f)); break;
        case KILN_CFG_STRMAP: free_strmap(member(cfg, f)); break;
        default: break;
        }
    }
}

/* ---- error helpers ------------------------------------------------------------------ */

/* Reports a problem with a value: at the node when there is one, as a bug
 * in the component's table when it came from a default. */
static int value_err(kiln_err *err, const kiln_cfg_field *f, const kiln_node *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int value_err(kiln_err *err, const kiln_cfg_field *f, const kiln_node *n, const char *fmt, ...)
{
    char msg[KILN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n) return kiln_node_err(err, n, "%s", msg);
    return kiln_err_set(err, KILN_EINVAL, "default of field %s: %s (a bug in the component's field table)",
                        f->name, msg);
}

/* Comma-separated names of the fields one level below `prefix` (plen bytes). */
static void valid_fields(const kiln_cfg_field *fields, const char *prefix, size_t plen, char *buf,
                         size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (const kiln_cfg_field *f = fields; f->name; f++) {
        if (strncmp(f->name, prefix, plen) != 0) continue;
        const char *seg = f->name + plen;
        size_t sl = strcspn(seg, ".");
        int dup = 0;
        for (const kiln_cfg_field *g = fields; g < f && !dup; g++)
            if (strncmp(g->name, prefix, plen) == 0 && strncmp(g->name + plen, seg, sl) == 0 &&
                (g->name[plen + sl] == 0 || g->name[plen + sl] == '.'))
                dup = 1;
        if (dup) continue;
        if (k + sl + 8 >= cap) {
            if (k + 4 < cap) memcpy(buf + k, ", ...", 5), k += 5;
            buf[k < cap ? k : cap - 1] = 0;
            return;
        }
        if (k) buf[k++] = ',', buf[k++] = ' ';
        memcpy(buf + k, seg, sl);
        k += sl;
        buf[k] = 0;
    }
}

/* ---- the unknown-key walk --------------------------------------------------------------- */

/* 0: `key` under `prefix` is no field; 1: it is field f (a leaf); 2: f lies below it. */
static int match(const char *fname, const char *prefix, size_t plen, const char *key)
{
    if (strncmp(fname, prefix, plen) != 0) return 0;
    const char *rest = fname + plen;
    size_t kl = strlen(key);
    if (strncmp(rest, key, kl) != 0) return 0;
    if (rest[kl] == 0) return 1;
    if (rest[kl] == '.') return 2;
    return 0;
}

static int check_keys(const kiln_cfg_field *fields, const kiln_node *map, const char *prefix,
                      size_t plen, kiln_err *err)
{
    for (size_t i = 0; i < map->n; i++) {
        const char *key = map->keys[i];
        const kiln_node *child = map->items[i];
        const kiln_cfg_field *inner = NULL;
        int leaf = 0;
        for (const kiln_cfg_field *f = fields; f->name && !leaf; f++) {
            int m = match(f->name, prefix, plen, key);
            if (m == 1) leaf = 1;
            if (m == 2 && !inner) inner = f;
        }
        if (leaf) continue;
        char valid[360];
        if (!inner) {
            valid_fields(fields, prefix, plen, valid, sizeof valid);
            if (!valid[0]) return kiln_node_key_err(err, child, "unknown field; this takes no fields");
            return kiln_node_key_err(err, child, "unknown field; valid fields: %s", valid);
        }
        size_t nplen = plen + strlen(key) + 1; /* inner->name[0..nplen) == prefix key "." */
        if (child->kind == KILN_NODE_NULL) continue;
        if (child->kind != KILN_NODE_MAP) {
            valid_fields(fields, inner->name, nplen, valid, sizeof valid);
            return kiln_node_err(err, child, "expected a mapping with fields %s, got %s", valid,
                                 kiln_node_kind_desc(child));
        }
        int rc = check_keys(fields, child, inner->name, nplen, err);
        if (rc) return rc;
    }
    return KILN_OK;
}

/* The node of a dotted field name, or NULL (after check_keys, every
 * intermediate is a mapping or null). *parent gets the deepest map met. */
static const kiln_node *lookup(const kiln_node *map, const char *name, const kiln_node **parent)
{
    const kiln_node *cur = map;
    const char *seg = name;
    *parent = map;
    for (;;) {
        if (!cur || cur->kind != KILN_NODE_MAP) return NULL;
        *parent = cur;
        size_t sl = strcspn(seg, ".");
        const kiln_node *next = NULL;
        for (size_t i = 0; i < cur->n; i++)
            if (strncmp(cur->keys[i], seg, sl) == 0 && cur->keys[i][sl] == 0) {
                next = cur->items[i];
                break;
            }
        if (!seg[sl]) return next;
        cur = next;
        seg += sl + 1;
    }
}

/* ---- setting one value --------------------------------------------------------------------- */

static void bound_text(const kiln_cfg_field *f, double v, char *buf, size_t cap)
{
    int64_t iv = v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
    switch (f->type) {
    case KILN_CFG_DURATION: kiln_format_duration(iv, buf, cap); break;
    case KILN_CFG_BYTES: kiln_format_bytes(iv, buf, cap); break;
    case KILN_CFG_INT: snprintf(buf, cap, "%lld", (long long)iv); break;
    default: snprintf(buf, cap, "%g", v); break;
    }
}

static int has_range(const kiln_cfg_field *f) { return !(f->min == 0 && f->max == 0); }

static int check_range(const kiln_cfg_field *f, const kiln_node *n, double v, const char *text,
                       kiln_err *err)
{
    if (!n || !has_range(f)) return KILN_OK;
    int has_hi = f->max >= f->min;
    if (v >= f->min && (!has_hi || v <= f->max)) return KILN_OK;
    char lo[48], hi[48];
    bound_text(f, f->min, lo, sizeof lo);
    bound_text(f, f->max, hi, sizeof hi);
    if (has_hi) return kiln_node_err(err, n, "must be between %s and %s, got %s", lo, hi, text);
    return kiln_node_err(err, n, "must be at least %s, got %s", lo, text);
}

static int enum_index(const char *values, const char *word)
{
    int idx = 0;
    size_t wl = strlen(word);
    for (const char *p = values; p && *p; idx++) {
        size_t l = strcspn(p, "|");
        if (l == wl && strncasecmp(p, word, l) == 0) return idx;
        p += l;
        if (*p == '|') p++;
    }
    return -1;
}

static void enum_list(const char *values, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (const char *p = values; p && *p && k + 1 < cap;) {
        size_t l = strcspn(p, "|");
        if (k && k + 2 < cap) buf[k++] = ',', buf[k++] = ' ';
        if (k + l >= cap) l = cap - k - 1;
        memcpy(buf + k, p, l);
        k += l;
        buf[k] = 0;
        p += l;
        if (*p == '|') p++;
    }
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

static int nomem(kiln_err *err, const kiln_cfg_field *f)
{
    return kiln_err_set(err, KILN_ENOMEM, "out of memory setting field %s", f->name);
}

/* A scalar field from its text; `n` is the node (NULL for a default). */
static int set_scalar(const kiln_cfg_field *f, const char *text, const kiln_node *n, void *out,
                      kiln_err *err)
{
    kiln_err e;
    kiln_err_clear(&e);
    void *m = member(out, f);
    switch (f->type) {
    case KILN_CFG_STRING: {
        char *s = dup_str(text);
        if (!s) return nomem(err, f);
        free(*(char **)m);
        *(char **)m = s;
        return KILN_OK;
    }
    case KILN_CFG_INT: {
        int64_t v;
        if (kiln_parse_int(text, &v, &e)) return value_err(err, f, n, "%s", e.msg);
        int rc = check_range(f, n, (double)v, text, err);
        if (!rc) *(int64_t *)m = v;
        return rc;
    }
    case KILN_CFG_DOUBLE: {
        double v;
        if (kiln_parse_double(text, &v, &e)) return value_err(err, f, n, "%s", e.msg);
        int rc = check_range(f, n, v, text, err);
        if (!rc) *(double *)m = v;
        return rc;
    }
    case KILN_CFG_BOOL: {
        int v;
        if (kiln_parse_bool(text, &v, &e)) return value_err(err, f, n, "%s", e.msg);
        *(int *)m = v;
        return KILN_OK;
    }
    case KILN_CFG_DURATION:
    case KILN_CFG_BYTES: {
        int64_t v;
        int rc = f->type == KILN_CFG_DURATION ? kiln_parse_duration(text, &v, &e)
                                              : kiln_parse_bytes(text, &v, &e);
        if (rc) return value_err(err, f, n, "%s", e.msg);
        rc = check_range(f, n, (double)v, text, err);
        if (!rc) *(int64_t *)m = v;
        return rc;
    }
    case KILN_CFG_ENUM: {
        int idx = enum_index(f->enum_values, text);
        if (idx < 0) {
            char list[300];
            enum_list(f->enum_values, list, sizeof list);
            return value_err(err, f, n, "expected one of: %s; got \"%.64s\"", list, text);
        }
        *(int *)m = idx;
        return KILN_OK;
    }
    default:
        return kiln_err_set(err, KILN_EINVAL, "field %s: type %d is not a scalar type", f->name,
                            (int)f->type);
    }
}

static int set_strlist(const kiln_cfg_field *f, const kiln_node *n, void *out, kiln_err *err)
{
    kiln_strlist l = {0, NULL};
    if (n->kind == KILN_NODE_SCALAR) {
        l.v = malloc(sizeof *l.v);
        if (!l.v || !(l.v[0] = dup_str(n->scalar))) {
            free(l.v);
            return nomem(err, f);
        }
        l.n = 1;
    } else if (n->kind == KILN_NODE_SEQ) {
        for (size_t i = 0; i < n->n; i++)
            if (n->items[i]->kind != KILN_NODE_SCALAR)
                return kiln_node_err(err, n->items[i], "expected a string, got %s",
                                     kiln_node_kind_desc(n->items[i]));
        if (n->n) {
            l.v = calloc(n->n, sizeof *l.v);
            if (!l.v) return nomem(err, f);
        }
        for (size_t i = 0; i < n->n; i++) {
            if (!(l.v[i] = dup_str(n->items[i]->scalar))) {
                free_strlist(&l);
                return nomem(err, f);
            }
            l.n = i + 1;
        }
    } else {
        return kiln_node_err(err, n, "expected a list of strings, got %s", kiln_node_kind_desc(n));
    }
    kiln_strlist *dst = member(out, f);
    free_strlist(dst);
    *dst = l;
    return KILN_OK;
}

static int set_strmap(const kiln_cfg_field *f, const kiln_node *n, void *out, kiln_err *err)
{
    kiln_strmap mp = {0, NULL, NULL};
    if (n->kind != KILN_NODE_MAP)
        return kiln_node_err(err, n, "expected a mapping of strings, got %s", kiln_node_kind_desc(n));
    for (size_t i = 0; i < n->n; i++)
        if (n->items[i]->kind != KILN_NODE_SCALAR && n->items[i]->kind != KILN_NODE_NULL)
            return kiln_node_err(err, n->items[i], "expected a string, got %s",
                                 kiln_node_kind_desc(n->items[i]));
    if (n->n) {
        mp.keys = calloc(n->n, sizeof *mp.keys);
        mp.values = calloc(n->n, sizeof *mp.values);
        if (!mp.keys || !mp.values) {
            free(mp.keys);
            free(mp.values);
            return nomem(err, f);
        }
    }
    for (size_t i = 0; i < n->n; i++) {
        const kiln_node *v = n->items[i];
        mp.keys[i] = dup_str(n->keys[i]);
        mp.values[i] = dup_str(v->kind == KILN_NODE_SCALAR ? v->scalar : "");
        mp.n = i + 1;
        if (!mp.keys[i] || !mp.values[i]) {
            free_strmap(&mp);
            return nomem(err, f);
        }
    }
    kiln_strmap *dst = member(out, f);
    free_strmap(dst);
    *dst = mp;
    return KILN_OK;
}

/* A value from a non-null node. */
static int set_from_node(const kiln_cfg_field *f, const kiln_node *n, void *out, kiln_err *err)
{
    switch (f->type) {
    case KILN_CFG_STRLIST: return set_strlist(f, n, out, err);
    case KILN_CFG_STRMAP: return set_strmap(f, n, out, err);
    case KILN_CFG_NODE: *(const kiln_node **)member(out, f) = n; return KILN_OK;
    default:
        if (n->kind != KILN_NODE_SCALAR)
            return kiln_node_err(err, n, "expected a %s, got %s", kiln_cfg_type_name(f->type),
                                 kiln_node_kind_desc(n));
        return set_scalar(f, n->scalar, n, out, err);
    }
}

static int set_default(const kiln_cfg_field *f, void *out, kiln_err *err)
{
    if (!f->def || f->type == KILN_CFG_NODE) return KILN_OK;
    if (f->type != KILN_CFG_STRLIST && f->type != KILN_CFG_STRMAP)
        return set_scalar(f, f->def, NULL, out, err);
    /* lists and maps: the default is YAML ("[a, b]", "{k: v}", "a") */
    kiln_node *root = NULL;
    kiln_err e;
    int rc = kiln_yaml_load_string("<default>", f->def, strlen(f->def), &root, &e);
    if (rc)
        return kiln_err_set(err, KILN_EINVAL,
                            "default of field %s: %s (a bug in the component's field table)", f->name,
                            e.msg);
    if (root->kind != KILN_NODE_NULL) {
        rc = set_from_node(f, root, out, &e);
        if (rc)
            kiln_err_set(err, rc, "default of field %s: %s (a bug in the component's field table)",
                         f->name, e.msg);
    }
    kiln_yaml_free(root);
    return rc;
}

int kiln_cfg_apply(const kiln_cfg_field *fields, const kiln_node *map, void *out, kiln_err *err)
{
    static const kiln_cfg_field none[] = {{NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL}};
    if (!fields) fields = none;
    if (map && map->kind != KILN_NODE_MAP && map->kind != KILN_NODE_NULL)
        return kiln_node_err(err, map, "expected a mapping of fields, got %s", kiln_node_kind_desc(map));
    for (const kiln_cfg_field *f = fields; f->name; f++)
        if (f->type < KILN_CFG_STRING || f->type > KILN_CFG_NODE)
            return kiln_err_set(err, KILN_EINVAL, "field %s: unknown type %d in the field table",
                                f->name, (int)f->type);
    int rc = KILN_OK;
    if (map && map->kind == KILN_NODE_MAP) rc = check_keys(fields, map, "", 0, err);
    for (const kiln_cfg_field *f = fields; !rc && f->name; f++) rc = set_default(f, out, err);
    for (const kiln_cfg_field *f = fields; !rc && f->name; f++) {
        const kiln_node *parent = NULL;
        const kiln_node *n = lookup(map, f->name, &parent);
        if (n && n->kind != KILN_NODE_NULL) {
            rc = set_from_node(f, n, out, err);
        } else if (f->flags & KILN_CFG_REQUIRED) {
            if (parent)
                rc = kiln_node_err(err, parent, "missing required field \"%s\"", f->name);
            else
                rc = kiln_err_set(err, KILN_EINVAL, "missing required field \"%s\"", f->name);
        }
    }
    if (rc) kiln_cfg_free(fields, out);
    return rc;
}

/* ---- describe -------------------------------------------------------------------------------- */

void kiln_cfg_describe(const kiln_cfg_field *fields, FILE *f)
{
    if (!fields || !fields->name) {
        fprintf(f, "  (no fields)\n");
        return;
    }
    for (const kiln_cfg_field *d = fields; d->name; d++) {
        char def[64];
        if (d->flags & KILN_CFG_REQUIRED)
            snprintf(def, sizeof def, "(required)");
        else if (d->def && (d->flags & KILN_CFG_SECRET))
            snprintf(def, sizeof def, "(secret)");
        else if (!d->def)
            snprintf(def, sizeof def, "-");
        else if (!*d->def)
            snprintf(def, sizeof def, "\"\"");
        else
            snprintf(def, sizeof def, "%s", d->def);
        fprintf(f, "  %-32s %-8s %-14s %s", d->name, kiln_cfg_type_name(d->type), def,
                d->doc ? d->doc : "");
        if (d->type == KILN_CFG_ENUM && d->enum_values) {
            char list[300];
            enum_list(d->enum_values, list, sizeof list);
            fprintf(f, " [one of: %s]", list);
        }
        if (has_range(d) && (d->type == KILN_CFG_INT || d->type == KILN_CFG_DOUBLE ||
                             d->type == KILN_CFG_DURATION || d->type == KILN_CFG_BYTES)) {
            char lo[48], hi[48];
            bound_text(d, d->min, lo, sizeof lo);
            bound_text(d, d->max, hi, sizeof hi);
            if (d->max >= d->min)
                fprintf(f, " [range: %s..%s]", lo, hi);
            else
                fprintf(f, " [at least %s]", lo);
        }
        if (d->flags & KILN_CFG_SECRET) fprintf(f, " [secret]");
        fputc('\n', f);
    }
}
