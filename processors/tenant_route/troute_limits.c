/* processors/tenant_route/troute_limits.c — the per-tenant limit checks of
 * the `tenant_route` processor, with messages worded as Pyroscope's
 * distributor words them (pkg/validation/validate.go), and the reason names
 * of tenant_route_rejected_profiles_total.
 *
 * Which check reads what:
 *   label limits                   the series labels only
 *   max_profile_size               the received bytes' length (no inflate)
 *   max_profile_uncompressed_size  kiln_payload_raw: gunzips, never decodes
 *   max_stack_depth                kiln_payload_pprof: decodes (shared model)
 *
 * Memory: nothing is allocated; messages go into the caller's kiln_err.
 */
#include "tenant_route.h"

#include <stdio.h>
#include <string.h>

const char *const kiln_troute_reason_names[KILN_TROUTE_R_COUNT] = {
    [KILN_TROUTE_R_MISSING_TENANT] = "missing_tenant",
    [KILN_TROUTE_R_INVALID_TENANT] = "invalid_tenant",
    [KILN_TROUTE_R_LABEL_NAMES] = "max_label_names_per_series",
    [KILN_TROUTE_R_NAME_LENGTH] = "max_label_name_length",
    [KILN_TROUTE_R_VALUE_LENGTH] = "max_label_value_length",
    [KILN_TROUTE_R_SERIES] = "max_series_per_tenant",
    [KILN_TROUTE_R_SIZE] = "max_profile_size",
    [KILN_TROUTE_R_UNCOMPRESSED_SIZE] = "max_profile_uncompressed_size",
    [KILN_TROUTE_R_STACK_DEPTH] = "max_stack_depth",
    [KILN_TROUTE_R_BAD_PAYLOAD] = "bad_payload",
};

char *kiln_troute_labels_str(const kiln_labels *ls, char *buf, size_t cap)
{
    size_t need = kiln_labels_format(ls, buf, cap);
    if (need >= cap && cap >= 4) memcpy(buf + cap - 4, "...", 4);
    return buf;
}

/* The first `max` bytes of s, with "..." when cut (for messages). */
static const char *clip(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);
    if (n < cap) return s;
    memcpy(buf, s, cap - 4);
    memcpy(buf + cap - 4, "...", 4);
    return buf;
}

int kiln_troute_check_labels(const kiln_troute_limits *l, const kiln_labels *ls, int *reason,
                             kiln_err *err)
{
    char lb[200], nb[64];
    if (l->max_label_names_per_series > 0 && (int64_t)ls->n > l->max_label_names_per_series) {
        *reason = KILN_TROUTE_R_LABEL_NAMES;
        return kiln_err_set(err, KILN_EINVAL, "profile series '%s' has %zu label names; limit %lld",
                            kiln_troute_labels_str(ls, lb, sizeof lb), ls->n,
                            (long long)l->max_label_names_per_series);
    }
    for (size_t i = 0; i < ls->n; i++) {
        size_t nl = strlen(ls->v[i].name);
        if (l->max_label_name_length > 0 && (int64_t)nl > l->max_label_name_length) {
            *reason = KILN_TROUTE_R_NAME_LENGTH;
            return kiln_err_set(err, KILN_EINVAL,
                                "profile with labels '%s' has label name too long: '%s' (%zu bytes; limit %lld)",
                                kiln_troute_labels_str(ls, lb, sizeof lb), clip(ls->v[i].name, nb, sizeof nb),
                                nl, (long long)l->max_label_name_length);
        }
        size_t vl = strlen(ls->v[i].value);
        if (l->max_label_value_length > 0 && (int64_t)vl > l->max_label_value_length) {
            *reason = KILN_TROUTE_R_VALUE_LENGTH;
            return kiln_err_set(err, KILN_EINVAL,
                                "profile with labels '%s' has label value too long: '%s' (label %s, %zu bytes; limit %lld)",
                                kiln_troute_labels_str(ls, lb, sizeof lb), clip(ls->v[i].value, nb, sizeof nb),
                                ls->v[i].name, vl, (long long)l->max_label_value_length);
        }
    }
    return KILN_OK;
}

static int payload_err(const kiln_profile *p, int *reason, kiln_err *err)
{
    char lb[200];
    *reason = KILN_TROUTE_R_BAD_PAYLOAD;
    kiln_err_prefix(err, "tenant_route: the profile with labels '%s'",
                    kiln_troute_labels_str(&p->labels, lb, sizeof lb));
    return err->code ? err->code : KILN_EINVAL;
}

int kiln_troute_check_payload(const kiln_troute_limits *l, const kiln_profile *p, int *reason,
                              kiln_err *err)
{
    if (!p->payload) return KILN_OK;
    char lb[200];
    if (l->max_profile_size > 0) {
        const uint8_t *d;
        size_t len;
        int rc = kiln_payload_bytes(p->payload, &d, &len, NULL, err);
        if (rc != KILN_OK) return payload_err(p, reason, err);
        if ((int64_t)len > l->max_profile_size) {
            *reason = KILN_TROUTE_R_SIZE;
            return kiln_err_set(err, KILN_ETOOBIG,
                                "the profile with labels '%s' exceeds the size limit (max_profile_size, actual: %zu, limit: %lld)",
                                kiln_troute_labels_str(&p->labels, lb, sizeof lb), len,
                                (long long)l->max_profile_size);
        }
    }
    if (l->max_profile_uncompressed_size > 0) {
        const uint8_t *d;
        size_t len;
        int rc = kiln_payload_raw(p->payload, &d, &len, err);
        if (rc == KILN_ETOOBIG) {
            /* past the payload's own inflate limit: bigger than ours too */
            *reason = KILN_TROUTE_R_UNCOMPRESSED_SIZE;
            char m[KILN_ERR_MSG_MAX];
            snprintf(m, sizeof m, "%s", err->msg);
            return kiln_err_set(err, KILN_ETOOBIG,
                                "the profile with labels '%s' exceeds the uncompressed size limit (max_profile_uncompressed_size, limit: %lld): %s",
                                kiln_troute_labels_str(&p->labels, lb, sizeof lb),
                                (long long)l->max_profile_uncompressed_size, m);
        }
        if (rc != KILN_OK) return payload_err(p, reason, err);
        if ((int64_t)len > l->max_profile_uncompressed_size) {
            *reason = KILN_TROUTE_R_UNCOMPRESSED_SIZE;
            return kiln_err_set(err, KILN_ETOOBIG,
                                "the profile with labels '%s' exceeds the uncompressed size limit (max_profile_uncompressed_size, actual: %zu, limit: %lld)",
                                kiln_troute_labels_str(&p->labels, lb, sizeof lb), len,
                                (long long)l->max_profile_uncompressed_size);
        }
    }
    if (l->max_stack_depth > 0) {
        const kiln_pprof *pp;
        int rc = kiln_payload_pprof(p->payload, &pp, err);
        if (rc != KILN_OK) return payload_err(p, reason, err);
        for (size_t i = 0; i < pp->n_sample; i++) {
            size_t depth = pp->sample[i]->n_location_id;
            if ((int64_t)depth > l->max_stack_depth) {
                *reason = KILN_TROUTE_R_STACK_DEPTH;
                return kiln_err_set(err, KILN_EUNPROC,
                                    "the profile with labels '%s' has a stack of %zu frames (sample %zu); max_stack_depth %lld",
                                    kiln_troute_labels_str(&p->labels, lb, sizeof lb), depth, i,
                                    (long long)l->max_stack_depth);
            }
        }
    }
    return KILN_OK;
}
