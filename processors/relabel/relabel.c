/* processors/relabel/relabel.c — the `relabel` processor: Prometheus
 * relabel_configs over each profile's series labels, plus optional
 * sample-level edits (sample types, frames, sample labels, stack depth).
 *
 * Label rules never decode the payload: a gateway that only relabels
 * forwards the received bytes untouched. The sample-level options decode
 * (once, shared with every other consumer of the payload) and swap in a
 * new payload built from a modified copy of the model.
 *
 * Drops (counted by the core, per reason): "relabel_dropped" (a keep, drop,
 * keepequal or dropequal rule; Pyroscope's dropped_by_relabel_rules),
 * "relabel_empty" (no label left), "relabel_no_service_name" (the rules
 * removed service_name), "no_sample_types" (every sample type removed).
 *
 * Memory: the state owns the compiled rules and regexes (read-only after
 * create, shared by every worker thread); each consume call owns its
 * matcher and scratch arena. Replaced payloads are released with
 * kiln_payload_unref; the new ones are owned by their profile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/kiln.h>

#include "relabel_regex.h"
#include "relabel_rules.h"
#include "relabel_samples.h"

enum { KEEP_ROOT = 0, KEEP_LEAF = 1 };
enum { NAMES_UTF8 = 0, NAMES_LEGACY = 1 };

typedef struct relabel_cfg {
    const kiln_node *relabel_configs;
    kiln_strlist drop_sample_types;
    kiln_strlist keep_sample_types;
    char *drop_frames;
    char *keep_frames;
    kiln_strlist drop_sample_labels;
    int64_t max_stack_depth;
    int max_stack_depth_keep;
    int name_validation_scheme;
    int64_t regex_match_limit;
} relabel_cfg;

static const kiln_cfg_field relabel_fields[] = {
    {"relabel_configs", KILN_CFG_NODE, NULL, offsetof(relabel_cfg, relabel_configs),
     "Prometheus relabel rules (source_labels, separator, regex, modulus, target_label, replacement, "
     "action) run in order on each profile's series labels; never decodes the payload",
     0, 0, 0, NULL},
    {"drop_sample_types", KILN_CFG_STRLIST, NULL, offsetof(relabel_cfg, drop_sample_types),
     "sample types removed by name (e.g. alloc_objects); decodes the payload", 0, 0, 0, NULL},
    {"keep_sample_types", KILN_CFG_STRLIST, NULL, offsetof(relabel_cfg, keep_sample_types),
     "only these sample types are kept (e.g. cpu); decodes the payload", 0, 0, 0, NULL},
    {"drop_frames", KILN_CFG_STRING, NULL, offsetof(relabel_cfg, drop_frames),
     "regex (RE2, fully anchored) on function names: matching frames are cut with everything toward "
     "the leaf, as pprof's drop_frames; decodes the payload",
     0, 0, 0, NULL},
    {"keep_frames", KILN_CFG_STRING, NULL, offsetof(relabel_cfg, keep_frames),
     "regex (RE2, fully anchored): frames matching it are never cut by drop_frames", 0, 0, 0, NULL},
    {"drop_sample_labels", KILN_CFG_STRLIST, NULL, offsetof(relabel_cfg, drop_sample_labels),
     "pprof sample label keys removed (e.g. span_id); samples that become identical are merged; "
     "decodes the payload",
     0, 0, 0, NULL},
    {"max_stack_depth", KILN_CFG_INT, "0", offsetof(relabel_cfg, max_stack_depth),
     "stacks deeper than this are truncated (0: off); decodes the payload", 0, 0, -1, NULL},
    {"max_stack_depth_keep", KILN_CFG_ENUM, "root", offsetof(relabel_cfg, max_stack_depth_keep),
     "which end of a truncated stack is kept: root (as Pyroscope does) or leaf", 0, 0, 0, "root|leaf"},
    {"name_validation_scheme", KILN_CFG_ENUM, "utf8", offsetof(relabel_cfg, name_validation_scheme),
     "label names the rules may write: utf8 (any non-empty UTF-8, Prometheus 3 and Pyroscope) or "
     "legacy ([a-zA-Z_][a-zA-Z0-9_]*)",
     0, 0, 0, "utf8|legacy"},
    {"regex_match_limit", KILN_CFG_INT, "1000000", offsetof(relabel_cfg, regex_match_limit),
     "backtracking budget of one regex match; a match over it counts as no match (and in "
     "kiln_relabel_regex_limit_total)",
     0, 1000, 1000000000, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL}};

typedef struct relabel_state {
    kiln_host *host;
    const relabel_cfg *cfg;
    kiln_relabel_rules rules;
    kiln_relabel_re drop_frames, keep_frames;
    int has_drop_frames, has_keep_frames;
    kiln_relabel_sample_opts sopts;
    int sample_level;
    pcre2_match_context *mc;
    uint32_t pairs;
    kiln_counter *applied[KILN_RL_N_ACTIONS];
    kiln_counter *labels_changed;
    kiln_counter *rewritten;
    kiln_counter *limit_hits;
} relabel_state;

/* The node of a field for error positions (NULL when unknown). */
static const kiln_node *field_node(const kiln_node *map, const char *key)
{
    return map && map->kind == KILN_NODE_MAP ? kiln_node_get(map, key) : NULL;
}

static int positioned(kiln_err *err, const kiln_node *map, const char *key, int rc)
{
    const kiln_node *n = field_node(map, key);
    if (rc == KILN_EINVAL && n) {
        char msg[KILN_ERR_MSG_MAX];
        memcpy(msg, err->msg, sizeof msg);
        return kiln_node_err(err, n, "%s", msg);
    }
    if (rc == KILN_EINVAL) kiln_err_prefix(err, "%s", key);
    return rc;
}

/* Parses and compiles everything the config asks for into `s` (validate
 * and create share it). `map` is the component's node (may be NULL). */
static int build(relabel_state *s, const relabel_cfg *c, const kiln_node *map, kiln_err *err)
{
    int rc = kiln_relabel_rules_parse(&s->rules, c->relabel_configs,
                                      c->name_validation_scheme == NAMES_LEGACY, err);
    if (rc != KILN_OK) return rc;
    if (c->drop_frames) {
        rc = kiln_relabel_re_compile(&s->drop_frames, c->drop_frames, KILN_RE_PPROF, err);
        if (rc != KILN_OK) return positioned(err, map, "drop_frames", rc);
        s->has_drop_frames = 1;
    }
    if (c->keep_frames) {
        if (!c->drop_frames) {
            kiln_err_set(err, KILN_EINVAL,
                         "keep_frames needs drop_frames (pprof applies keep_frames only as an "
                         "exception to drop_frames)");
            return positioned(err, map, "keep_frames", KILN_EINVAL);
        }
        rc = kiln_relabel_re_compile(&s->keep_frames, c->keep_frames, KILN_RE_PPROF, err);
        if (rc != KILN_OK) return positioned(err, map, "keep_frames", rc);
        s->has_keep_frames = 1;
    }
    const struct {
        const kiln_strlist *l;
        const char *name;
    } lists[] = {{&c->drop_sample_types, "drop_sample_types"},
                 {&c->keep_sample_types, "keep_sample_types"},
                 {&c->drop_sample_labels, "drop_sample_labels"}};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        for (size_t k = 0; k < lists[i].l->n; k++)
            if (!lists[i].l->v[k] || !lists[i].l->v[k][0]) {
                kiln_err_set(err, KILN_EINVAL, "entry %zu is empty", k);
                return positioned(err, map, lists[i].name, KILN_EINVAL);
            }
    s->sopts.drop_types = &c->drop_sample_types;
    s->sopts.keep_types = &c->keep_sample_types;
    s->sopts.drop_frames = s->has_drop_frames ? &s->drop_frames : NULL;
    s->sopts.keep_frames = s->has_keep_frames ? &s->keep_frames : NULL;
    s->sopts.drop_labels = &c->drop_sample_labels;
    s->sopts.max_depth = c->max_stack_depth;
    s->sopts.keep_leaf = c->max_stack_depth_keep == KEEP_LEAF;
    s->sample_level = kiln_relabel_samples_active(&s->sopts);
    s->pairs = s->rules.max_pairs;
    if (s->has_drop_frames && s->drop_frames.ncap + 1 > s->pairs) s->pairs = s->drop_frames.ncap + 1;
    if (s->has_keep_frames && s->keep_frames.ncap + 1 > s->pairs) s->pairs = s->keep_frames.ncap + 1;
    return KILN_OK;
}

static void state_free(relabel_state *s)
{
    kiln_relabel_rules_free(&s->rules);
    kiln_relabel_re_free(&s->drop_frames);
    kiln_relabel_re_free(&s->keep_frames);
    pcre2_match_context_free(s->mc);
    free(s);
}

static int relabel_validate(const void *cfg, const kiln_node *node, kiln_err *err)
{
    relabel_state *s = calloc(1, sizeof *s);
    if (!s) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    int rc = build(s, cfg, node, err);
    state_free(s);
    return rc;
}

static int relabel_create(kiln_host *host, const void *cfgp, void **state, kiln_err *err)
{
    const relabel_cfg *cfg = cfgp;
    relabel_state *s = calloc(1, sizeof *s);
    if (!s) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    s->host = host;
    s->cfg = cfg;
    int rc = build(s, cfg, NULL, err);
    if (rc != KILN_OK) {
        state_free(s);
        return rc;
    }
    s->mc = kiln_relabel_match_context((uint32_t)cfg->regex_match_limit);
    if (!s->mc) {
        state_free(s);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->rules.n; i++) {
        kiln_relabel_action a = s->rules.v[i].action;
        if (s->applied[a]) continue;
        char lab[64];
        snprintf(lab, sizeof lab, "action=\"%s\"", kiln_relabel_action_name(a));
        s->applied[a] = host->vt->counter(host, "relabel_rules_applied_total",
                                          "Relabel rules run, by action.", lab);
    }
    s->labels_changed = host->vt->counter(host, "relabel_labels_changed_total",
                                          "Profiles whose series labels the rules changed.", NULL);
    s->rewritten = host->vt->counter(host, "relabel_payloads_rewritten_total",
                                     "Profiles whose payload the sample-level options rebuilt.", NULL);
    s->limit_hits = host->vt->counter(host, "relabel_regex_limit_total",
                                      "Regex matches stopped at regex_match_limit (counted as no match).",
                                      NULL);
    *state = s;
    return KILN_OK;
}

/* Label rules on one profile. Returns KILN_OK (possibly dropped) or KILN_ENOMEM. */
static int relabel_labels(relabel_state *s, kiln_profile *p, kiln_relabel_matcher *m, kiln_arena *scratch,
                          uint64_t *applied)
{
    kiln_arena_reset(scratch);
    const char *svc = kiln_labels_get(&p->labels, KILN_LABEL_SERVICE_NAME);
    int had_service = svc && *svc;
    int changed = 0;
    int rc = kiln_relabel_rules_apply(&s->rules, m, scratch, &p->labels, &changed, applied);
    if (rc < 0) return rc;
    if (rc == KILN_RELABEL_DROPPED) {
        kiln_profile_drop(p, "relabel_dropped");
        return KILN_OK;
    }
    if (changed) kiln_counter_add(s->labels_changed, 1);
    if (p->labels.n == 0) {
        kiln_profile_drop(p, "relabel_empty");
        return KILN_OK;
    }
    svc = kiln_labels_get(&p->labels, KILN_LABEL_SERVICE_NAME);
    if (had_service && !(svc && *svc)) kiln_profile_drop(p, "relabel_no_service_name");
    return KILN_OK;
}

/* Sample-level options on one profile. */
static int relabel_samples(relabel_state *s, kiln_profile *p, kiln_relabel_matcher *m, size_t idx,
                           kiln_err *err)
{
    if (!p->payload) return KILN_OK;
    const kiln_pprof *model;
    int rc = kiln_payload_pprof(p->payload, &model, err);
    if (rc != KILN_OK) {
        kiln_err_prefix(err, "relabel: profile %zu", idx);
        return rc;
    }
    kiln_arena *na;
    kiln_pprof *np;
    rc = kiln_relabel_samples_apply(&s->sopts, model, m, &na, &np, err);
    if (rc < 0) return rc;
    if (rc == KILN_RS_NO_TYPES) {
        kiln_profile_drop(p, "no_sample_types");
        return KILN_OK;
    }
    if (rc == KILN_RS_REBUILT) {
        kiln_payload *pl = kiln_payload_from_pprof(na, np);
        if (!pl) {
            kiln_arena_destroy(na);
            return kiln_err_set(err, KILN_ENOMEM, "relabel: out of memory");
        }
        kiln_payload_inherit(pl, p->payload);
        kiln_payload_unref(p->payload);
        p->payload = pl;
        kiln_counter_add(s->rewritten, 1);
    }
    return KILN_OK;
}

static int relabel_consume(void *state, kiln_batch *b, kiln_err *err)
{
    relabel_state *s = state;
    if (s->rules.n == 0 && !s->sample_level) return KILN_OK;
    kiln_relabel_matcher m;
    if (kiln_relabel_matcher_init(&m, s->pairs, s->mc) != KILN_OK)
        return kiln_err_set(err, KILN_ENOMEM, "relabel: out of memory");
    kiln_arena *scratch = kiln_arena_new(16 << 10);
    if (!scratch) {
        kiln_relabel_matcher_free(&m);
        return kiln_err_set(err, KILN_ENOMEM, "relabel: out of memory");
    }
    uint64_t applied[KILN_RL_N_ACTIONS] = {0};
    int rc = KILN_OK;
    for (size_t i = 0; i < b->n && rc == KILN_OK; i++) {
        kiln_profile *p = &b->v[i];
        if (p->flags & KILN_PROFILE_DROPPED) continue;
        if (s->rules.n) {
            rc = relabel_labels(s, p, &m, scratch, applied);
            if (rc != KILN_OK) {
                kiln_err_set(err, rc, "relabel: out of memory");
                break;
            }
            if (p->flags & KILN_PROFILE_DROPPED) continue;
        }
        if (s->sample_level) rc = relabel_samples(s, p, &m, i, err);
    }
    for (int a = 0; a < KILN_RL_N_ACTIONS; a++)
        if (applied[a]) kiln_counter_add(s->applied[a], applied[a]);
    if (m.limit_hits) kiln_counter_add(s->limit_hits, m.limit_hits);
    kiln_arena_destroy(scratch);
    kiln_relabel_matcher_free(&m);
    return rc;
}

static void relabel_destroy(void *state)
{
    if (state) state_free(state);
}

KILN_PLUGIN_DEFINE = {
    KILN_PLUGIN_HEADER,
    .kind = KILN_KIND_PROCESSOR,
    .type = "relabel",
    .doc = "Prometheus relabel_configs on each profile's series labels (replace, keep, drop, "
           "keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase; "
           "RE2 regex syntax), without decoding the payload; optionally drops sample types, "
           "frames (pprof drop_frames), sample labels, or truncates deep stacks.",
    .fields = relabel_fields,
    .cfg_size = sizeof(relabel_cfg),
    .validate = relabel_validate,
    .create = relabel_create,
    .consume = relabel_consume,
    .destroy = relabel_destroy,
};
