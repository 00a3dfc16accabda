/* processors/relabel/relabel_rules.c — parsing and applying Prometheus
 * relabel_configs (see relabel_rules.h).
 *
 * Applying mirrors Prometheus's labels.Builder: the profile's labels are
 * the read-only base, `add` holds labels set by rules (in the order they
 * were first set), `del` the names deleted. Get looks in add, then del,
 * then base; Range walks base (minus del and add) then add, over a
 * snapshot taken when the rule starts. Only at the end is the profile's
 * kiln_labels edited, and only where something differs.
 *
 * Memory: rules own their strings (malloc); apply allocates only in the
 * caller's scratch arena and, for the final edit, through kiln_labels_*.
 */
#include "relabel_rules.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "relabel_md5.h"

static const char *const action_names[KILN_RL_N_ACTIONS] = {
    "replace",  "keep",     "drop",      "keepequal", "dropequal", "hashmod",
    "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase"};

const char *kiln_relabel_action_name(kiln_relabel_action a)
{
    return (unsigned)a < KILN_RL_N_ACTIONS ? action_names[a] : "?";
}

/* ---- names ---------------------------------------------------------------------- */

static int is_alpha_(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_word_(int c) { return is_alpha_(c) || (c >= '0' && c <= '9'); }

int kiln_relabel_name_valid(const char *s, size_t n, int legacy)
{
    if (n == 0) return 0;
    if (!legacy) return kiln_relabel_utf8_valid(s, n);
    if (!is_alpha_((unsigned char)s[0])) return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_word_((unsigned char)s[i])) return 0;
    return 1;
}

/* A `$` variable at s[i] ('$'): `$word+` or `${word+}`. Returns its length or 0. */
static size_t legacy_var(const char *s, size_t n, size_t i)
{
    size_t j = i + 1;
    if (j < n && s[j] == '{') {
        size_t k = j + 1;
        while (k < n && is_word_((unsigned char)s[k])) k++;
        if (k == j + 1 || k >= n || s[k] != '}') return 0;
        return k + 1 - i;
    }
    size_t k = j;
    while (k < n && is_word_((unsigned char)s[k])) k++;
    return k == j ? 0 : k - i;
}

/* Prometheus's relabelTargetLegacy, ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$ :
 * a letter/underscore or a variable first, then word characters and
 * variables. */
int kiln_relabel_target_legacy_valid(const char *s, size_t n)
{
    if (n == 0) return 0;
    size_t i = 0;
    if (is_alpha_((unsigned char)s[0])) {
        i = 1;
    } else if (s[0] == '$') {
        size_t v = legacy_var(s, n, 0);
        if (!v) return 0;
        i = v;
    } else {
        return 0;
    }
    while (i < n) {
        if (is_word_((unsigned char)s[i])) {
            i++;
        } else if (s[i] == '$') {
            size_t v = legacy_var(s, n, i);
            if (!v) return 0;
            i += v;
        } else {
            return 0;
        }
    }
    return 1;
}

/* a name that may carry $ variables (target_label of replace, replacement of labelmap) */
static int name_with_vars_valid(const char *s, int legacy)
{
    size_t n = strlen(s);
    return legacy ? kiln_relabel_target_legacy_valid(s, n) : kiln_relabel_name_valid(s, n, 0);
}

/* ---- parsing ----------------------------------------------------------------------- */

static const char valid_fields[] =
    "action, modulus, regex, replacement, separator, source_labels, target_label";
static const char valid_actions[] =
    "replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, "
    "lowercase, uppercase";

static void rule_free(kiln_relabel_rule *r)
{
    for (size_t i = 0; i < r->n_source; i++) free(r->source[i]);
    free(r->source);
    free(r->separator);
    kiln_relabel_re_free(&r->regex);
    free(r->target);
    kiln_relabel_tpl_free(&r->target_tpl);
    kiln_relabel_tpl_free(&r->replacement);
    memset(r, 0, sizeof *r);
}

void kiln_relabel_rules_free(kiln_relabel_rules *rs)
{
    if (!rs) return;
    for (size_t i = 0; i < rs->n; i++) rule_free(&rs->v[i]);
    free(rs->v);
    if (rs->ctype) freelocale(rs->ctype);
    memset(rs, 0, sizeof *rs);
}

/* The text of a scalar field: NULL node or null value -> "" (Go's yaml sets
 * the zero value); a mapping or list is an error. */
static int scalar_text(const kiln_node *n, const char **out, kiln_err *err)
{
    if (!n || n->kind == KILN_NODE_NULL) {
        *out = "";
        return KILN_OK;
    }
    if (n->kind != KILN_NODE_SCALAR) return kiln_node_err(err, n, "must be a string, not %s", n->kind == KILN_NODE_MAP ? "a mapping" : "a list");
    *out = n->scalar ? n->scalar : "";
    return KILN_OK;
}

static int parse_rule(kiln_relabel_rule *r, const kiln_node *rn, int legacy, kiln_err *err)
{
    memset(r, 0, sizeof *r);
    if (rn->kind != KILN_NODE_MAP)
        return kiln_node_err(err, rn, "a relabel rule must be a mapping (with action, source_labels, regex, ...)");
    const kiln_node *f_src = NULL, *f_sep = NULL, *f_re = NULL, *f_mod = NULL, *f_tgt = NULL,
                    *f_rep = NULL, *f_act = NULL;
    int g_src = 0, g_sep = 0, g_re = 0, g_mod = 0, g_tgt = 0, g_rep = 0, g_act = 0;
    for (size_t i = 0; i < rn->n; i++) {
        const char *k = rn->keys[i];
        const kiln_node *v = rn->items[i];
        if (strcmp(k, "source_labels") == 0) f_src = v, g_src = 1;
        else if (strcmp(k, "separator") == 0) f_sep = v, g_sep = 1;
        else if (strcmp(k, "regex") == 0) f_re = v, g_re = 1;
        else if (strcmp(k, "modulus") == 0) f_mod = v, g_mod = 1;
        else if (strcmp(k, "target_label") == 0) f_tgt = v, g_tgt = 1;
        else if (strcmp(k, "replacement") == 0) f_rep = v, g_rep = 1;
        else if (strcmp(k, "action") == 0) f_act = v, g_act = 1;
        else return kiln_node_err(err, v, "unknown field \"%s\" in a relabel rule; valid fields: %s", k, valid_fields);
    }
    int rc;
    const char *s = "";
    /* action (Prometheus: case-insensitive; null -> empty) */
    const char *act = "replace";
    if (g_act) {
        if ((rc = scalar_text(f_act, &act, err))) return rc;
        if (!*act) return kiln_node_err(err, f_act ? f_act : rn, "relabel action cannot be empty");
    }
    int ai = -1;
    for (int a = 0; a < KILN_RL_N_ACTIONS; a++)
        if (strcasecmp(act, action_names[a]) == 0) ai = a;
    if (ai < 0) {
        char q[200];
        return kiln_node_err(err, f_act, "unknown relabel action %s; valid actions: %s",
                             kiln_relabel_quote(act, q, sizeof q), valid_actions);
    }
    r->action = (kiln_relabel_action)ai;
    /* source_labels: a list of label names (null: none given) */
    if (f_src && f_src->kind == KILN_NODE_NULL) g_src = 0;
    if (g_src) {
        if (f_src->kind != KILN_NODE_SEQ) return kiln_node_err(err, f_src, "must be a list of label names");
        r->source = calloc(f_src->n ? f_src->n : 1, sizeof *r->source);
        if (!r->source) goto oom;
        for (size_t i = 0; i < f_src->n; i++) {
            const kiln_node *it = f_src->items[i];
            if (it->kind != KILN_NODE_SCALAR)
                return kiln_node_err(err, it, "must be a label name (a string)");
            char q[200];
            if (!kiln_relabel_name_valid(it->scalar, strlen(it->scalar), legacy))
                return kiln_node_err(err, it, "%s is not a valid label name",
                                     kiln_relabel_quote(it->scalar, q, sizeof q));
            r->source[i] = strdup(it->scalar);
            if (!r->source[i]) goto oom;
            r->n_source = i + 1;
        }
    }
    /* separator, target_label, replacement: strings with defaults */
    if ((rc = scalar_text(f_sep, &s, err))) return rc;
    r->separator = strdup(g_sep ? s : ";");
    if ((rc = scalar_text(f_tgt, &s, err))) return rc;
    r->target = strdup(s);
    const char *rep = "";
    if ((rc = scalar_text(f_rep, &rep, err))) return rc;
    if (!g_rep) rep = "$1";
    if (!r->separator || !r->target) goto oom;
    /* modulus */
    if (g_mod && f_mod->kind != KILN_NODE_NULL) {
        if ((rc = scalar_text(f_mod, &s, err))) return rc;
        int64_t v;
        kiln_err pe;
        if (kiln_parse_int(s, &v, &pe) != KILN_OK || v < 0)
            return kiln_node_err(err, f_mod, "modulus must be a non-negative integer, not \"%s\"", s);
        r->modulus = (uint64_t)v;
    }
    /* regex: default (.*); a null value is the empty regex, as in Prometheus */
    const char *restr = "(.*)";
    r->regex_is_default = !g_re;
    if (g_re && (rc = scalar_text(f_re, &restr, err))) return rc;
    if ((rc = kiln_relabel_re_compile(&r->regex, restr, KILN_RE_PROMETHEUS, err)) != KILN_OK) {
        if (rc == KILN_ENOMEM) return rc;
        char msg[KILN_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return kiln_node_err(err, f_re ? f_re : rn, "%s", msg);
    }
    if ((rc = kiln_relabel_tpl_parse(&r->replacement, rep, &r->regex, err))) return rc;
    if ((rc = kiln_relabel_tpl_parse(&r->target_tpl, r->target, &r->regex, err))) return rc;

    /* Prometheus's Config.Validate, in its order and with its words */
    kiln_relabel_action A = r->action;
    const char *an = action_names[A];
    char q[300];
    const kiln_node *tn = f_tgt ? f_tgt : rn;
    if (A == KILN_RL_HASHMOD && r->modulus == 0)
        return kiln_node_err(err, f_mod ? f_mod : rn, "relabel configuration for hashmod requires non-zero modulus");
    int needs_target = A == KILN_RL_REPLACE || A == KILN_RL_HASHMOD || A == KILN_RL_LOWERCASE ||
                       A == KILN_RL_UPPERCASE || A == KILN_RL_KEEPEQUAL || A == KILN_RL_DROPEQUAL;
    if (needs_target && !*r->target)
        return kiln_node_err(err, rn, "relabel configuration for %s action requires 'target_label' value", an);
    int tdollar = strchr(r->target, '$') != NULL;
    if (A == KILN_RL_REPLACE && !tdollar && !kiln_relabel_name_valid(r->target, strlen(r->target), legacy))
        return kiln_node_err(err, tn, "%s is invalid 'target_label' for %s action", kiln_relabel_quote(r->target, q, sizeof q), an);
    if (A == KILN_RL_REPLACE && tdollar && !name_with_vars_valid(r->target, legacy))
        return kiln_node_err(err, tn, "%s is invalid 'target_label' for %s action", kiln_relabel_quote(r->target, q, sizeof q), an);
    int caseeq = A == KILN_RL_LOWERCASE || A == KILN_RL_UPPERCASE || A == KILN_RL_KEEPEQUAL || A == KILN_RL_DROPEQUAL;
    if (caseeq && !kiln_relabel_name_valid(r->target, strlen(r->target), legacy))
        return kiln_node_err(err, tn, "%s is invalid 'target_label' for %s action", kiln_relabel_quote(r->target, q, sizeof q), an);
    if (caseeq && strcmp(rep, "$1") != 0)
        return kiln_node_err(err, f_rep ? f_rep : rn, "'replacement' can not be set for %s action", an);
    if (A == KILN_RL_LABELMAP && !name_with_vars_valid(rep, legacy))
        return kiln_node_err(err, f_rep ? f_rep : rn, "%s is invalid 'replacement' for %s action", kiln_relabel_quote(rep, q, sizeof q), an);
    if (A == KILN_RL_HASHMOD && !kiln_relabel_name_valid(r->target, strlen(r->target), legacy))
        return kiln_node_err(err, tn, "%s is invalid 'target_label' for %s action", kiln_relabel_quote(r->target, q, sizeof q), an);
    if ((A == KILN_RL_DROPEQUAL || A == KILN_RL_KEEPEQUAL) &&
        (g_re || r->modulus != 0 || strcmp(r->separator, ";") != 0 || strcmp(rep, "$1") != 0))
        return kiln_node_err(err, rn, "%s action requires only 'source_labels' and `target_label`, and no other fields", an);
    if ((A == KILN_RL_LABELDROP || A == KILN_RL_LABELKEEP) &&
        (g_src || *r->target || r->modulus != 0 || strcmp(r->separator, ";") != 0 || strcmp(rep, "$1") != 0))
        return kiln_node_err(err, rn, "%s action requires only 'regex', and no other fields", an);
    (void)g_tgt;
    return KILN_OK;
oom:
    return kiln_err_set(err, KILN_ENOMEM, "out of memory parsing relabel_configs");
}

int kiln_relabel_rules_parse(kiln_relabel_rules *rs, const kiln_node *seq, int legacy_names, kiln_err *err)
{
    memset(rs, 0, sizeof *rs);
    rs->legacy_names = legacy_names;
    rs->max_pairs = 1;
    if (!seq || seq->kind == KILN_NODE_NULL) return KILN_OK;
    if (seq->kind != KILN_NODE_SEQ)
        return kiln_node_err(err, seq, "must be a list of relabel rules (each a mapping with action, source_labels, regex, ...)");
    if (seq->n) {
        rs->v = calloc(seq->n, sizeof *rs->v);
        if (!rs->v) return kiln_err_set(err, KILN_ENOMEM, "out of memory parsing relabel_configs");
    }
    for (size_t i = 0; i < seq->n; i++) {
        int rc = parse_rule(&rs->v[i], seq->items[i], legacy_names, err);
        rs->n = i + 1;
        if (rc != KILN_OK) {
            kiln_relabel_rules_free(rs);
            return rc;
        }
        if (rs->v[i].regex.ncap + 1 > rs->max_pairs) rs->max_pairs = rs->v[i].regex.ncap + 1;
    }
    rs->ctype = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    return KILN_OK;
}

/* ---- case mapping ---------------------------------------------------------------------- */

char *kiln_relabel_case(const kiln_relabel_rules *rs, const char *s, size_t n, int upper, kiln_arena *a)
{
    char *out = kiln_arena_alloc(a, n * 3 + 1); /* an invalid byte grows to U+FFFD's 3 bytes */
    if (!out) return NULL;
    size_t w = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (upper && c >= 'a' && c <= 'z') c -= 32;
            else if (!upper && c >= 'A' && c <= 'Z') c += 32;
            out[w++] = (char)c;
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = kiln_relabel_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        uint32_t m = cp;
        if (rs && rs->ctype && cp != 0xFFFD)
            m = (uint32_t)(upper ? towupper_l((wint_t)cp, rs->ctype) : towlower_l((wint_t)cp, rs->ctype));
        w += kiln_relabel_utf8_encode(m, out + w);
        i += k;
    }
    out[w] = 0;
    return out;
}

/* ---- applying: the labels.Builder of Prometheus ------------------------------------------ */

typedef struct lb_kv {
    const char *name;
    const char *value;
} lb_kv;

typedef struct lbuilder {
    const kiln_labels *base;
    uint8_t *shadow; /* per base label: 1 once it is in add or del (not visible as base) */
    lb_kv *add;
    size_t nadd, capadd;
    const char **del;
    size_t ndel, capdel;
    kiln_arena *a;
} lbuilder;

static int lb_grow(kiln_arena *a, void **arr, size_t *cap, size_t need, size_t esz)
{
    if (need <= *cap) return KILN_OK;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *n = kiln_arena_alloc(a, nc * esz);
    if (!n) return KILN_ENOMEM;
    if (*cap) memcpy(n, *arr, *cap * esz);
    *arr = n;
    *cap = nc;
    return KILN_OK;
}

/* Index of `name` among the base labels (sorted by strcmp), or -1. */
static long base_find(const kiln_labels *ls, const char *name)
{
    size_t lo = 0, hi = ls->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ls->v[mid].name, name);
        if (c == 0) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static void lb_shadow(lbuilder *b, const char *name)
{
    long i = base_find(b->base, name);
    if (i >= 0) b->shadow[i] = 1;
}

static const char *lb_get(const lbuilder *b, const char *name)
{
    for (size_t i = 0; i < b->nadd; i++)
        if (strcmp(b->add[i].name, name) == 0) return b->add[i].value;
    long i = base_find(b->base, name);
    return i < 0 || b->shadow[i] ? "" : b->base->v[i].value; /* shadowed and not in add: deleted */
}

static int lb_del(lbuilder *b, const char *name)
{
    for (size_t i = 0; i < b->nadd; i++)
        if (strcmp(b->add[i].name, name) == 0) {
            memmove(&b->add[i], &b->add[i + 1], (b->nadd - i - 1) * sizeof *b->add);
            b->nadd--;
            break;
        }
    if (lb_grow(b->a, (void **)&b->del, &b->capdel, b->ndel + 1, sizeof *b->del)) return KILN_ENOMEM;
    b->del[b->ndel++] = name;
    lb_shadow(b, name);
    return KILN_OK;
}

static int lb_set(lbuilder *b, const char *name, const char *value)
{
    if (!*value) return lb_del(b, name); /* an empty label is a missing label */
    for (size_t i = 0; i < b->nadd; i++)
        if (strcmp(b->add[i].name, name) == 0) {
            b->add[i].value = value;
            return KILN_OK;
        }
    if (lb_grow(b->a, (void **)&b->add, &b->capadd, b->nadd + 1, sizeof *b->add)) return KILN_ENOMEM;
    b->add[b->nadd].name = name;
    b->add[b->nadd].value = value;
    b->nadd++;
    lb_shadow(b, name);
    return KILN_OK;
}

/* The labels as Range would visit them now (a snapshot in arena memory). */
static lb_kv *lb_snapshot(const lbuilder *b, size_t *n)
{
    size_t cap = b->base->n + b->nadd;
    lb_kv *v = kiln_arena_alloc(b->a, (cap ? cap : 1) * sizeof *v);
    if (!v) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < b->base->n; i++) {
        if (b->shadow[i]) continue;
        v[w].name = b->base->v[i].name;
        v[w].value = b->base->v[i].value;
        w++;
    }
    for (size_t k = 0; k < b->nadd; k++) v[w++] = b->add[k];
    *n = w;
    return v;
}

/* The source values joined with the separator (arena memory). */
static const char *join_sources(const kiln_relabel_rule *r, const lbuilder *b, size_t *len)
{
    if (r->n_source == 1) {
        const char *v = lb_get(b, r->source[0]);
        *len = strlen(v);
        return v;
    }
    const char *vals[16];
    const char **vp = r->n_source <= 16 ? vals : kiln_arena_alloc(b->a, r->n_source * sizeof *vp);
    if (!vp) return NULL;
    size_t sl = strlen(r->separator), total = 0;
    for (size_t i = 0; i < r->n_source; i++) {
        vp[i] = lb_get(b, r->source[i]);
        total += strlen(vp[i]) + (i ? sl : 0);
    }
    char *out = kiln_arena_alloc(b->a, total + 1);
    if (!out) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < r->n_source; i++) {
        if (i) {
            memcpy(out + w, r->separator, sl);
            w += sl;
        }
        size_t l = strlen(vp[i]);
        memcpy(out + w, vp[i], l);
        w += l;
    }
    out[w] = 0;
    *len = w;
    return out;
}

/* One rule. Returns KILN_RELABEL_KEEP, KILN_RELABEL_DROPPED or KILN_ENOMEM. */
static int run_rule(const kiln_relabel_rules *rs, const kiln_relabel_rule *r, lbuilder *b,
                    kiln_relabel_matcher *m)
{
    size_t vlen = 0;
    const char *val = r->n_source ? join_sources(r, b, &vlen) : "";
    if (!val) return KILN_ENOMEM;
    switch (r->action) {
    case KILN_RL_DROP:
        return kiln_relabel_re_match(&r->regex, m, val, vlen) ? KILN_RELABEL_DROPPED : KILN_RELABEL_KEEP;
    case KILN_RL_KEEP:
        return kiln_relabel_re_match(&r->regex, m, val, vlen) ? KILN_RELABEL_KEEP : KILN_RELABEL_DROPPED;
    case KILN_RL_DROPEQUAL:
        return strcmp(lb_get(b, r->target), val) == 0 ? KILN_RELABEL_DROPPED : KILN_RELABEL_KEEP;
    case KILN_RL_KEEPEQUAL:
        return strcmp(lb_get(b, r->target), val) != 0 ? KILN_RELABEL_DROPPED : KILN_RELABEL_KEEP;
    case KILN_RL_REPLACE: {
        /* Prometheus's fast path: add or delete a fixed label pair */
        if (vlen == 0 && r->regex_is_default && !r->target_tpl.has_dollar && !r->replacement.has_dollar)
            return lb_set(b, r->target, r->replacement.raw) ? KILN_ENOMEM : KILN_RELABEL_KEEP;
        if (!kiln_relabel_re_match(&r->regex, m, val, vlen)) return KILN_RELABEL_KEEP;
        size_t tl, rl;
        char *tgt = kiln_relabel_tpl_expand(&r->target_tpl, m, &r->regex, val, b->a, &tl);
        if (!tgt) return KILN_ENOMEM;
        if (!kiln_relabel_name_valid(tgt, tl, rs->legacy_names)) return KILN_RELABEL_KEEP;
        char *res = kiln_relabel_tpl_expand(&r->replacement, m, &r->regex, val, b->a, &rl);
        if (!res) return KILN_ENOMEM;
        if (rl == 0) return lb_del(b, tgt) ? KILN_ENOMEM : KILN_RELABEL_KEEP;
        return lb_set(b, tgt, res) ? KILN_ENOMEM : KILN_RELABEL_KEEP;
    }
    case KILN_RL_LOWERCASE:
    case KILN_RL_UPPERCASE: {
        char *c = kiln_relabel_case(rs, val, vlen, r->action == KILN_RL_UPPERCASE, b->a);
        if (!c) return KILN_ENOMEM;
        return lb_set(b, r->target, c) ? KILN_ENOMEM : KILN_RELABEL_KEEP;
    }
    case KILN_RL_HASHMOD: {
        char *num = kiln_arena_alloc(b->a, 24);
        if (!num) return KILN_ENOMEM;
        snprintf(num, 24, "%" PRIu64, kiln_relabel_hashmod(val, vlen, r->modulus));
        return lb_set(b, r->target, num) ? KILN_ENOMEM : KILN_RELABEL_KEEP;
    }
    case KILN_RL_LABELMAP:
    case KILN_RL_LABELDROP:
    case KILN_RL_LABELKEEP: {
        size_t n;
        lb_kv *snap = lb_snapshot(b, &n);
        if (!snap) return KILN_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            const char *nm = snap[i].name;
            size_t nl = strlen(nm);
            int hit = kiln_relabel_re_match(&r->regex, m, nm, nl);
            if (r->action == KILN_RL_LABELMAP) {
                if (!hit) continue;
                size_t rl;
                char *res = kiln_relabel_tpl_expand(&r->replacement, m, &r->regex, nm, b->a, &rl);
                if (!res) return KILN_ENOMEM;
                if (rl == 0) continue; /* kiln keeps no label with an empty name */
                if (lb_set(b, res, snap[i].value)) return KILN_ENOMEM;
            } else if (hit == (r->action == KILN_RL_LABELDROP)) {
                if (lb_del(b, nm)) return KILN_ENOMEM;
            }
        }
        return KILN_RELABEL_KEEP;
    }
    default:
        return KILN_RELABEL_KEEP;
    }
}

int kiln_relabel_rules_apply(const kiln_relabel_rules *rs, kiln_relabel_matcher *m, kiln_arena *scratch,
                             kiln_labels *ls, int *changed, uint64_t applied[KILN_RL_N_ACTIONS])
{
    *changed = 0;
    lbuilder b;
    memset(&b, 0, sizeof b);
    b.base = ls;
    b.a = scratch;
    b.shadow = kiln_arena_calloc(scratch, ls->n + 1);
    if (!b.shadow) return KILN_ENOMEM;
    for (size_t i = 0; i < rs->n; i++) {
        const kiln_relabel_rule *r = &rs->v[i];
        if (applied) applied[r->action]++;
        int rc = run_rule(rs, r, &b, m);
        if (rc != KILN_RELABEL_KEEP) return rc; /* dropped (ls untouched) or ENOMEM */
    }
    if (b.ndel == 0 && b.nadd == 0) return KILN_RELABEL_KEEP;
    /* commit: base minus del and add, plus add (labels.Builder.Labels). The
     * builder's strings may point into ls (names and values of base labels),
     * which the edits below free: copy them all first. */
    for (size_t i = 0; i < b.ndel; i++) {
        b.del[i] = kiln_arena_strndup(scratch, b.del[i], strlen(b.del[i]));
        if (!b.del[i]) return KILN_ENOMEM;
    }
    for (size_t k = 0; k < b.nadd; k++) {
        b.add[k].name = kiln_arena_strndup(scratch, b.add[k].name, strlen(b.add[k].name));
        b.add[k].value = kiln_arena_strndup(scratch, b.add[k].value, strlen(b.add[k].value));
        if (!b.add[k].name || !b.add[k].value) return KILN_ENOMEM;
    }
    for (size_t i = 0; i < b.ndel; i++) {
        int readded = 0;
        for (size_t k = 0; k < b.nadd && !readded; k++) readded = strcmp(b.add[k].name, b.del[i]) == 0;
        if (!readded && kiln_labels_del(ls, b.del[i])) *changed = 1;
    }
    for (size_t k = 0; k < b.nadd; k++) {
        const char *cur = kiln_labels_get(ls, b.add[k].name);
        if (cur && strcmp(cur, b.add[k].value) == 0) continue;
        if (kiln_labels_set(ls, b.add[k].name, b.add[k].value) != KILN_OK) return KILN_ENOMEM;
        *changed = 1;
    }
    return KILN_RELABEL_KEEP;
}
