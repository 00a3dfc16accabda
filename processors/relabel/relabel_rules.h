/* processors/relabel/relabel_rules.h — Prometheus relabel_configs: parsing
 * from the YAML tree (with Prometheus's validation, errors at
 * file:line:column) and applying them to a profile's series labels.
 *
 * Semantics are those of prometheus/model/relabel (Process with a
 * labels.Builder): rules run in order; each reads the current labels;
 * keep/drop/keepequal/dropequal end processing with a drop; a label set to
 * "" is removed; labelmap/labeldrop/labelkeep iterate over the labels as
 * they were when the rule started.
 *
 * Memory: a kiln_relabel_rules owns every string, regex and template of its
 * rules (kiln_relabel_rules_free). It is read-only after parsing and may be
 * applied by several threads at once, each with its own matcher and scratch
 * arena. Strings produced while applying live in the caller's scratch arena
 * until they are copied into the kiln_labels (which owns its copies).
 */
#ifndef KILN_RELABEL_RULES_H
#define KILN_RELABEL_RULES_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>

#include "relabel_regex.h"

typedef enum kiln_relabel_action {
    KILN_RL_REPLACE = 0,
    KILN_RL_KEEP,
    KILN_RL_DROP,
    KILN_RL_KEEPEQUAL,
    KILN_RL_DROPEQUAL,
    KILN_RL_HASHMOD,
    KILN_RL_LABELMAP,
    KILN_RL_LABELDROP,
    KILN_RL_LABELKEEP,
    KILN_RL_LOWERCASE,
    KILN_RL_UPPERCASE,
    KILN_RL_N_ACTIONS
} kiln_relabel_action;

/* "replace", "keep", ... */
const char *kiln_relabel_action_name(kiln_relabel_action a);

typedef struct kiln_relabel_rule {
    kiln_relabel_action action;
    char **source; /* source_labels */
    size_t n_source;
    char *separator;
    kiln_relabel_re regex;
    int regex_is_default;   /* regex not written: the default (.*) */
    uint64_t modulus;
    char *target;           /* target_label as written */
    kiln_relabel_tpl target_tpl;  /* replace: target_label expanded per match */
    kiln_relabel_tpl replacement;
} kiln_relabel_rule;

typedef struct kiln_relabel_rules {
    kiln_relabel_rule *v;
    size_t n;
    int legacy_names;   /* 1: Prometheus's legacy label-name rules; 0: UTF-8 */
    uint32_t max_pairs; /* ovector pairs a matcher needs for these rules */
    locale_t ctype;     /* C.UTF-8 for lowercase/uppercase; (locale_t)0 if unavailable */
} kiln_relabel_rules;

/* Parses `seq` (the relabel_configs node: a list of rule mappings; NULL or a
 * null node means no rules). Errors are "file:line:col: path: message" with
 * the path of the offending rule or field. On failure nothing stays
 * allocated in `rs`. */
int kiln_relabel_rules_parse(kiln_relabel_rules *rs, const kiln_node *seq, int legacy_names,
                             kiln_err *err);
void kiln_relabel_rules_free(kiln_relabel_rules *rs);

/* Label-name validity under the chosen scheme (Prometheus
 * model.LabelName.IsValid): UTF-8 — non-empty valid UTF-8; legacy —
 * [a-zA-Z_][a-zA-Z0-9_]*. */
int kiln_relabel_name_valid(const char *s, size_t n, int legacy);
/* Legacy scheme with ${1}/$name variables (Prometheus relabelTargetLegacy). */
int kiln_relabel_target_legacy_valid(const char *s, size_t n);

enum {
    KILN_RELABEL_KEEP = 1,
    KILN_RELABEL_DROPPED = 0 /* a keep/drop/keepequal/dropequal rule dropped it */
};

/* Runs the rules over `ls`, editing it in place. Returns KILN_RELABEL_KEEP or
 * KILN_RELABEL_DROPPED (then `ls` is left as it was), or KILN_ENOMEM.
 * *changed is set to 1 if the label set differs afterwards. `m` must have
 * at least rs->max_pairs pairs; `scratch` is used for temporary strings
 * (the caller resets it). applied[action] (may be NULL) counts rules run. */
int kiln_relabel_rules_apply(const kiln_relabel_rules *rs, kiln_relabel_matcher *m,
                             kiln_arena *scratch, kiln_labels *ls, int *changed,
                             uint64_t applied[KILN_RL_N_ACTIONS]);

/* strings.ToLower / strings.ToUpper as Go has them (Unicode simple case
 * mapping; invalid UTF-8 bytes become U+FFFD), into arena memory. */
char *kiln_relabel_case(const kiln_relabel_rules *rs, const char *s, size_t n, int upper,
                        kiln_arena *a);

#endif
