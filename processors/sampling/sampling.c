/* processors/sampling/sampling.c — the `sampling` processor: its config
 * fields, validation, and consume for both modes.
 *
 *   probabilistic  keeps `percentage` % of the series (per: series, the
 *                  default) or of the profiles (per: profile), decided by a
 *                  hash of the labels (plus tenant-independent seed) so every
 *                  kiln instance keeps the same ones; optionally scales the
 *                  kept profiles' values by 100/percentage (decodes).
 *   rate_limit     token buckets per tenant (default) or per series, in
 *                  profiles/s and/or received bytes/s; over the limit a
 *                  profile is dropped ("rate_limited") or the whole batch is
 *                  refused with KILN_ELIMIT (the receiver answers 429).
 *
 * Nothing here decodes a payload except scale_values. consume may run on
 * several workers at once: the only shared mutable state is the limiter
 * (locked per shard) and the counters (atomic).
 *
 * Memory: the state owns the limiter; the config belongs to the core.
 */
#include "sampling.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(name, type, def, member, doc, min, max, ev)                                              \
    {name, type, def, offsetof(kiln_sampling_cfg, member), doc, 0, min, max, ev}

static const kiln_cfg_field sampling_fields[] = {
    {"mode", KILN_CFG_ENUM, NULL, offsetof(kiln_sampling_cfg, mode),
     "probabilistic: keep a share of series or profiles by hash; rate_limit: token buckets per "
     "tenant or series",
     KILN_CFG_REQUIRED, 0, 0, "probabilistic|rate_limit"},
    F("percentage", KILN_CFG_DOUBLE, "100", percentage,
      "probabilistic: share (0-100) of series (or profiles) kept", 0, 100, NULL),
    F("per", KILN_CFG_ENUM, "auto", per,
      "what is sampled or limited: series|profile (probabilistic, default series), tenant|series "
      "(rate_limit, default tenant)",
      0, 0, "auto|series|profile|tenant"),
    F("hash_seed", KILN_CFG_INT, "0", hash_seed,
      "probabilistic: seed of the label hash; instances with the same seed keep the same series", 0,
      0, NULL),
    F("scale_values", KILN_CFG_BOOL, "false", scale_values,
      "probabilistic: multiply kept profiles' sample values by 100/percentage (decodes the payload)",
      0, 0, NULL),
    F("profiles_per_second", KILN_CFG_DOUBLE, "0", profiles_per_second,
      "rate_limit: profiles per second per key; 0 = no profile limit", 0, -1, NULL),
    F("bytes_per_second", KILN_CFG_BYTES, "0", bytes_per_second,
      "rate_limit: received (possibly compressed) payload bytes per second per key; 0 = no byte "
      "limit",
      0, -1, NULL),
    F("burst_profiles", KILN_CFG_INT, "0", burst_profiles,
      "rate_limit: profile bucket size; 0 = profiles_per_second rounded up", 0, -1, NULL),
    F("burst_bytes", KILN_CFG_BYTES, "0", burst_bytes,
      "rate_limit: byte bucket size (a bigger profile never passes); 0 = bytes_per_second", 0, -1,
      NULL),
    F("max_tracked", KILN_CFG_INT, "10000", max_tracked,
      "rate_limit: keys (tenants or series) with a bucket; the least recently used is forgotten "
      "past it",
      1, 10000000, NULL),
    F("on_limit", KILN_CFG_ENUM, "drop", on_limit,
      "rate_limit: drop the profile (counted as rate_limited) or refuse the whole batch (429)", 0,
      0, "drop|refuse"),
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL}};

/* ---- validation --------------------------------------------------------------- */

static int given(const kiln_node *node, const char *key)
{
    const kiln_node *n = kiln_node_get(node, key);
    return n && n->kind != KILN_NODE_NULL;
}

/* An error at the key's value if the YAML has it, else at the processor. */
static int field_err(kiln_err *err, const kiln_node *node, const char *key, const char *fmt,
                     const char *a, const char *b)
{
    const kiln_node *n = kiln_node_get(node, key);
    if (n) return kiln_node_err(err, n, fmt, a, b);
    if (node) return kiln_node_err(err, node, fmt, a, b);
    return kiln_err_set(err, KILN_EINVAL, fmt, a, b);
}

static int sampling_validate(const void *vcfg, const kiln_node *node, kiln_err *err)
{
    const kiln_sampling_cfg *c = vcfg;
    static const char *const prob_only[] = {"percentage", "hash_seed", "scale_values", NULL};
    static const char *const rate_only[] = {"profiles_per_second", "bytes_per_second",
                                            "burst_profiles", "burst_bytes", "max_tracked",
                                            "on_limit", NULL};
    const char *const *wrong = c->mode == KILN_SAMPLING_PROBABILISTIC ? rate_only : prob_only;
    const char *mode = c->mode == KILN_SAMPLING_PROBABILISTIC ? "probabilistic" : "rate_limit";
    for (size_t i = 0; wrong[i]; i++)
        if (given(node, wrong[i]))
            return field_err(err, node, wrong[i], "%s does not apply to mode %s", wrong[i], mode);
    if (c->mode == KILN_SAMPLING_PROBABILISTIC) {
        if (c->per == KILN_SAMPLING_PER_TENANT)
            return field_err(err, node, "per", "per: %s does not apply to mode %s (use series or profile)",
                             "tenant", mode);
        return KILN_OK;
    }
    if (c->per == KILN_SAMPLING_PER_PROFILE)
        return field_err(err, node, "per", "per: %s does not apply to mode %s (use tenant or series)",
                         "profile", mode);
    if (c->profiles_per_second <= 0 && c->bytes_per_second <= 0)
        return field_err(err, node, "mode", "mode %s needs %s > 0", mode,
                         "profiles_per_second and/or bytes_per_second");
    if (c->burst_profiles > 0 && c->profiles_per_second <= 0)
        return field_err(err, node, "burst_profiles", "%s needs %s > 0", "burst_profiles",
                         "profiles_per_second");
    if (c->burst_bytes > 0 && c->bytes_per_second <= 0)
        return field_err(err, node, "burst_bytes", "%s needs %s > 0", "burst_bytes",
                         "bytes_per_second");
    return KILN_OK;
}

/* ---- lifecycle ------------------------------------------------------------------- */

static int64_t mono_clock(void *arg)
{
    (void)arg;
    return kiln_now_mono_ns();
}

void kiln_sampling_set_clock(void *state, kiln_sampling_clock_fn fn, void *arg)
{
    kiln_sampling_state *s = state;
    s->now = fn ? fn : mono_clock;
    s->now_arg = arg;
}

static int sampling_create(kiln_host *host, const void *vcfg, void **state, kiln_err *err)
{
    const kiln_sampling_cfg *c = vcfg;
    int rc = sampling_validate(vcfg, NULL, err);
    if (rc != KILN_OK) return rc;
    kiln_sampling_state *s = calloc(1, sizeof *s);
    if (!s) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    s->host = host;
    s->cfg = c;
    s->now = mono_clock;
    s->per = c->per;
    if (c->mode == KILN_SAMPLING_PROBABILISTIC) {
        if (s->per == KILN_SAMPLING_PER_AUTO) s->per = KILN_SAMPLING_PER_SERIES;
        /* keep when the top 53 bits of the hash, as a fraction of 2^53, are
         * below percentage/100 */
        s->keep_below = (uint64_t)(c->percentage / 100.0 * 9007199254740992.0);
    } else {
        if (s->per == KILN_SAMPLING_PER_AUTO) s->per = KILN_SAMPLING_PER_TENANT;
        double pb = (double)c->burst_profiles;
        if (c->profiles_per_second > 0 && pb <= 0) {
            pb = (double)(int64_t)c->profiles_per_second;
            if (pb < c->profiles_per_second) pb += 1;
            if (pb < 1) pb = 1;
        }
        double bb = (double)(c->burst_bytes > 0 ? c->burst_bytes : c->bytes_per_second);
        s->lim = kiln_sampling_limiter_new((size_t)c->max_tracked, c->profiles_per_second, pb,
                                           (double)c->bytes_per_second, bb);
        if (!s->lim) {
            free(s);
            return kiln_err_set(err, KILN_ENOMEM, "out of memory for %lld rate-limit buckets",
                                (long long)c->max_tracked);
        }
    }
    const kiln_host_vtbl *vt = host->vt;
    s->kept = vt->counter(host, "sampling_kept_profiles_total", "Profiles the sampler let through.",
                          NULL);
    s->scaled = vt->counter(host, "sampling_scaled_profiles_total",
                            "Profiles decoded and re-made with scaled values (scale_values).", NULL);
    s->limited = vt->counter(host, "sampling_rate_limited_profiles_total",
                             "Profiles over a rate limit (dropped or refused).", NULL);
    s->tracked = vt->gauge(host, "sampling_tracked_keys", "Rate-limit buckets held now.", NULL);
    *state = s;
    return KILN_OK;
}

static void sampling_destroy(void *state)
{
    kiln_sampling_state *s = state;
    if (!s) return;
    kiln_sampling_limiter_free(s->lim);
    free(s);
}

/* ---- probabilistic ------------------------------------------------------------- */

/* splitmix64 finaliser: mixes the profile's time into the seed */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static int keep_profile(const kiln_sampling_state *s, const kiln_profile *p)
{
    uint64_t seed = (uint64_t)s->cfg->hash_seed;
    if (s->per == KILN_SAMPLING_PER_PROFILE)
        seed = mix64(seed ^ mix64((uint64_t)p->time_ns + 0x9e3779b97f4a7c15ULL));
    uint64_t h = kiln_labels_hash(&p->labels, seed);
    return (h >> 11) < s->keep_below;
}

static int consume_probabilistic(kiln_sampling_state *s, kiln_batch *b, kiln_err *err)
{
    const kiln_sampling_cfg *c = s->cfg;
    int scale = c->scale_values && c->percentage > 0 && c->percentage < 100;
    uint64_t kept = 0;
    for (size_t i = 0; i < b->n; i++) {
        kiln_profile *p = &b->v[i];
        if (p->flags & KILN_PROFILE_DROPPED) continue;
        if (!keep_profile(s, p)) {
            kiln_profile_drop(p, "dropped_by_sampling_rules");
            continue;
        }
        kept++;
        if (scale && p->payload) {
            kiln_payload *np;
            int rc = kiln_sampling_scale_payload(p->payload, c->percentage, &np, err);
            if (rc != KILN_OK) return rc;
            kiln_payload_unref(p->payload);
            p->payload = np;
            kiln_counter_add(s->scaled, 1);
        }
    }
    kiln_counter_add(s->kept, kept);
    return KILN_OK;
}

/* ---- rate_limit ------------------------------------------------------------------ */

static uint64_t str_hash(const char *str)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *q = (const unsigned char *)str; *q; q++) {
        h ^= *q;
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

typedef struct taken {
    uint64_t key, bytes;
} taken;

static int refuse(kiln_sampling_state *s, const kiln_profile *p, int over, uint64_t bytes,
                  kiln_err *err)
{
    const kiln_sampling_cfg *c = s->cfg;
    char rate[64], size[64], who[400];
    if (s->per == KILN_SAMPLING_PER_SERIES) {
        char ls[256];
        size_t need = kiln_labels_format(&p->labels, ls, sizeof ls);
        if (need >= sizeof ls) memcpy(ls + sizeof ls - 4, "...", 4);
        snprintf(who, sizeof who, "series '%s' of tenant '%s'", ls, p->tenant ? p->tenant : "");
    } else {
        snprintf(who, sizeof who, "tenant '%s'", p->tenant ? p->tenant : "");
    }
    if (over == KILN_SAMPLING_OVER_BYTES) {
        kiln_sampling_ibytes((uint64_t)c->bytes_per_second, rate, sizeof rate);
        kiln_sampling_ibytes(bytes, size, sizeof size);
        return kiln_err_set(err, KILN_ELIMIT, "push rate limit (%s/s) exceeded while adding %s for %s",
                            rate, size, who);
    }
    return kiln_err_set(err, KILN_ELIMIT,
                        "push rate limit (%g profiles/s) exceeded while adding 1 profile for %s",
                        c->profiles_per_second, who);
}

static int consume_rate_limit(kiln_sampling_state *s, kiln_batch *b, kiln_err *err)
{
    const kiln_sampling_cfg *c = s->cfg;
    int refusing = c->on_limit == KILN_SAMPLING_ON_LIMIT_REFUSE;
    taken small[8];
    taken *tk = small;
    if (refusing && b->n > 8) {
        tk = malloc(b->n * sizeof *tk);
        if (!tk) return kiln_err_set(err, KILN_ENOMEM, "sampling: out of memory");
    }
    size_t ntk = 0;
    uint64_t kept = 0, limited = 0;
    int64_t now = s->now(s->now_arg);
    int rc = KILN_OK;
    for (size_t i = 0; i < b->n; i++) {
        kiln_profile *p = &b->v[i];
        if (p->flags & KILN_PROFILE_DROPPED) continue;
        uint64_t key = str_hash(p->tenant ? p->tenant : KILN_TENANT_DEFAULT);
        if (s->per == KILN_SAMPLING_PER_SERIES) key = kiln_labels_hash(&p->labels, key);
        uint64_t bytes = 0;
        if (c->bytes_per_second > 0 && p->payload) {
            const uint8_t *d;
            size_t len;
            rc = kiln_payload_bytes(p->payload, &d, &len, NULL, err);
            if (rc != KILN_OK) break;
            bytes = len;
        }
        int over = 0;
        if (kiln_sampling_limiter_take(s->lim, key, bytes, now, &over)) {
            if (refusing) tk[ntk++] = (taken){key, bytes};
            kept++;
            continue;
        }
        limited++;
        if (!refusing) {
            kiln_profile_drop(p, "rate_limited");
            continue;
        }
        /* give back what this batch took: the sender will send it again */
        for (size_t k = 0; k < ntk; k++) kiln_sampling_limiter_refund(s->lim, tk[k].key, tk[k].bytes);
        kept = 0;
        rc = refuse(s, p, over, bytes, err);
        break;
    }
    if (tk != small) free(tk);
    kiln_counter_add(s->kept, kept);
    kiln_counter_add(s->limited, limited);
    kiln_gauge_set(s->tracked, (int64_t)kiln_sampling_limiter_tracked(s->lim));
    return rc;
}

static int sampling_consume(void *state, kiln_batch *b, kiln_err *err)
{
    kiln_sampling_state *s = state;
    if (s->cfg->mode == KILN_SAMPLING_PROBABILISTIC) return consume_probabilistic(s, b, err);
    return consume_rate_limit(s, b, err);
}

KILN_PLUGIN_DEFINE = {
    KILN_PLUGIN_HEADER,
    .kind = KILN_KIND_PROCESSOR,
    .type = "sampling",
    .doc = "Keeps a share of series or profiles by label hash (probabilistic, optionally scaling "
           "values), or limits profiles/s and bytes/s per tenant or series (rate_limit), dropping "
           "or refusing with 429. Never decodes payloads unless scale_values is on.",
    .fields = sampling_fields,
    .cfg_size = sizeof(kiln_sampling_cfg),
    .validate = sampling_validate,
    .create = sampling_create,
    .consume = sampling_consume,
    .destroy = sampling_destroy,
};
