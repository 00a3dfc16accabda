/* pipeline/payload.c — reference-counted profile payloads with lazily
 * produced forms (see include/kiln/profile.h).
 *
 * A payload holds up to four forms of one profile: the bytes as received,
 * the uncompressed bytes, the cheap "peek" scan, and the decoded model.
 * Each missing form is produced at most once, under `mu`; a per-form state
 * word (0 = not yet, 1 = done, -1 = failed) is read with acquire ordering so
 * that callers after the first skip the lock. Failures are cached with their
 * error so every consumer sees the same answer.
 *
 * Memory: the payload owns the received bytes (or calls free_fn), one arena
 * for the uncompressed bytes, one arena for the model, and the encodings it
 * made from a model. All go with the last reference.
 */
#include <kiln/profile.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD_MAGIC 0x6b706c64u /* "kpld" */

struct kiln_payload {
    uint32_t magic;
    atomic_int refs;
    kiln_format fmt;
    pthread_mutex_t mu;
    kiln_payload_stats *stats;
    kiln_pprof_limits lim;

    /* as received (NULL for a payload made from a model until encoded) */
    uint8_t *data;
    size_t len;
    void (*free_fn)(void *);
    void *free_arg;
    atomic_int bytes_state;
    kiln_err bytes_err;

    /* uncompressed */
    atomic_int raw_state;
    kiln_arena *raw_arena;
    const uint8_t *raw;
    size_t raw_len;
    uint8_t *raw_owned; /* malloc'ed plain encoding of a model payload */
    kiln_err raw_err;

    /* peek */
    atomic_int peek_state;
    kiln_pprof_peek peek;
    kiln_err peek_err;

    /* model */
    atomic_int model_state;
    kiln_arena *model_arena;
    kiln_pprof *model;
    kiln_err model_err;
};

const char *kiln_format_name(kiln_format f)
{
    switch (f) {
    case KILN_FMT_PPROF: return "pprof";
    case KILN_FMT_OTLP: return "otlp";
    case KILN_FMT_JFR: return "jfr";
    case KILN_FMT_FOLDED: return "folded";
    default: return "unknown";
    }
}

static kiln_payload *payload_alloc(kiln_format fmt)
{
    kiln_payload *pl = calloc(1, sizeof *pl);
    if (!pl) return NULL;
    pl->magic = PAYLOAD_MAGIC;
    atomic_init(&pl->refs, 1);
    pl->fmt = fmt;
    pthread_mutex_init(&pl->mu, NULL);
    return pl;
}

kiln_payload *kiln_payload_from_bytes(kiln_format fmt, uint8_t *data, size_t len, int copy,
                                      void (*free_fn)(void *), void *free_arg)
{
    kiln_payload *pl = payload_alloc(fmt);
    if (!pl) return NULL;
    if (copy) {
        pl->data = malloc(len ? len : 1);
        if (!pl->data) {
            free(pl);
            return NULL;
        }
        if (len) memcpy(pl->data, data, len);
    } else {
        pl->data = data;
        pl->free_fn = free_fn;
        pl->free_arg = free_arg;
    }
    pl->len = len;
    atomic_store(&pl->bytes_state, 1);
    return pl;
}

kiln_payload *kiln_payload_from_pprof(kiln_arena *arena, kiln_pprof *p)
{
    kiln_payload *pl = payload_alloc(KILN_FMT_PPROF);
    if (!pl) return NULL;
    pl->model_arena = arena;
    pl->model = p;
    atomic_store(&pl->model_state, 1);
    return pl;
}

kiln_payload *kiln_payload_ref(kiln_payload *pl)
{
    atomic_fetch_add_explicit(&pl->refs, 1, memory_order_relaxed);
    return pl;
}

void kiln_payload_unref(kiln_payload *pl)
{
    if (!pl) return;
    if (atomic_fetch_sub_explicit(&pl->refs, 1, memory_order_acq_rel) != 1) return;
    if (pl->free_fn)
        pl->free_fn(pl->free_arg);
    else
        free(pl->data);
    free(pl->raw_owned);
    kiln_arena_destroy(pl->raw_arena);
    kiln_arena_destroy(pl->model_arena);
    pthread_mutex_destroy(&pl->mu);
    pl->magic = 0;
    free(pl);
}

kiln_format kiln_payload_format(const kiln_payload *pl) { return pl->fmt; }
void kiln_payload_set_stats(kiln_payload *pl, kiln_payload_stats *st)
{
    pthread_mutex_lock(&pl->mu);
    if (!pl->stats && st) {
        /* count what was produced before the payload reached the core
         * (a receiver's peek gunzips) */
        if (atomic_load(&pl->raw_state) == 1 && pl->raw_arena) atomic_fetch_add(&st->inflates, 1);
        if (atomic_load(&pl->model_state) == 1 && atomic_load(&pl->bytes_state) == 1 && pl->raw)
            atomic_fetch_add(&st->decodes, 1);
    }
    pl->stats = st;
    pthread_mutex_unlock(&pl->mu);
}

void kiln_payload_inherit(kiln_payload *dst, const kiln_payload *src)
{
    dst->lim = src->lim;
    kiln_payload_set_stats(dst, src->stats);
}

size_t kiln_payload_wire_size(const kiln_payload *pl)
{
    return atomic_load(&((kiln_payload *)pl)->bytes_state) == 1 ? pl->len : 0;
}
void kiln_payload_set_limits(kiln_payload *pl, const kiln_pprof_limits *lim)
{
    if (lim) pl->lim = *lim;
}

static size_t max_inflated(const kiln_payload *pl)
{
    return pl->lim.max_inflated ? pl->lim.max_inflated : (size_t)256 << 20;
}

/* Runs `make` under the lock unless the state says it ran already. */
static int lazily(kiln_payload *pl, atomic_int *state, kiln_err *cached,
                  int (*make)(kiln_payload *, kiln_err *), kiln_err *err)
{
    int s = atomic_load_explicit(state, memory_order_acquire);
    if (s == 0) {
        pthread_mutex_lock(&pl->mu);
        s = atomic_load_explicit(state, memory_order_relaxed);
        if (s == 0) {
            kiln_err_clear(cached);
            s = make(pl, cached) == KILN_OK ? 1 : -1;
            atomic_store_explicit(state, s, memory_order_release);
        }
        pthread_mutex_unlock(&pl->mu);
    }
    if (s == 1) return KILN_OK;
    if (err) *err = *cached;
    return cached->code ? cached->code : KILN_ERR;
}

static int make_model(kiln_payload *pl, kiln_err *err);

/* Encodes the model (gzip level 1: cheapest; receivers of our encodings
 * are other kiln instances and backends that inflate either way). */
static int make_bytes(kiln_payload *pl, kiln_err *err)
{
    uint8_t *out;
    size_t n;
    int rc = kiln_pprof_encode(pl->model, 1, &out, &n, err);
    if (rc != KILN_OK) return rc;
    if (pl->stats) atomic_fetch_add(&pl->stats->encodes, 1);
    pl->data = out;
    pl->len = n;
    return KILN_OK;
}

int kiln_payload_bytes(kiln_payload *pl, const uint8_t **data, size_t *len, int *gzip,
                       kiln_err *err)
{
    int rc = lazily(pl, &pl->bytes_state, &pl->bytes_err, make_bytes, err);
    if (rc != KILN_OK) return rc;
    *data = pl->data;
    *len = pl->len;
    if (gzip) *gzip = kiln_is_gzip(pl->data, pl->len);
    return KILN_OK;
}

static int make_raw(kiln_payload *pl, kiln_err *err)
{
    if (atomic_load_explicit(&pl->bytes_state, memory_order_acquire) != 1) {
        /* a model payload: its plain encoding */
        uint8_t *out;
        size_t n;
        int rc = kiln_pprof_encode(pl->model, 0, &out, &n, err);
        if (rc != KILN_OK) return rc;
        if (pl->stats) atomic_fetch_add(&pl->stats->encodes, 1);
        pl->raw_owned = out;
        pl->raw = out;
        pl->raw_len = n;
        return KILN_OK;
    }
    if (!kiln_is_gzip(pl->data, pl->len)) {
        pl->raw = pl->data;
        pl->raw_len = pl->len;
        return KILN_OK;
    }
    /* size the arena from the gzip ISIZE trailer when it is plausible */
    size_t hint = pl->len * 4;
    if (pl->len >= 18) {
        const uint8_t *t = pl->data + pl->len - 4;
        size_t isz = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
        if (isz > hint && isz <= max_inflated(pl)) hint = isz;
    }
    pl->raw_arena = kiln_arena_new(hint + 64);
    if (!pl->raw_arena) return kiln_err_set(err, KILN_ENOMEM, "out of memory inflating payload");
    uint8_t *out;
    size_t n;
    int rc = kiln_gunzip(pl->raw_arena, pl->data, pl->len, max_inflated(pl), &out, &n, err);
    if (rc != KILN_OK) return rc;
    if (pl->stats) atomic_fetch_add(&pl->stats->inflates, 1);
    pl->raw = out;
    pl->raw_len = n;
    return KILN_OK;
}

int kiln_payload_raw(kiln_payload *pl, const uint8_t **data, size_t *len, kiln_err *err)
{
    int rc = lazily(pl, &pl->raw_state, &pl->raw_err, make_raw, err);
    if (rc != KILN_OK) return rc;
    *data = pl->raw;
    *len = pl->raw_len;
    return KILN_OK;
}

static int make_peek(kiln_payload *pl, kiln_err *err)
{
    if (pl->fmt != KILN_FMT_PPROF)
        return kiln_err_set(err, KILN_EUNPROC, "cannot scan a %s payload as pprof",
                            kiln_format_name(pl->fmt));
    /* the lock is held: produce the raw form inline rather than re-locking */
    if (atomic_load_explicit(&pl->raw_state, memory_order_acquire) == 0) {
        kiln_err_clear(&pl->raw_err);
        int s = make_raw(pl, &pl->raw_err) == KILN_OK ? 1 : -1;
        atomic_store_explicit(&pl->raw_state, s, memory_order_release);
    }
    if (atomic_load(&pl->raw_state) != 1) {
        *err = pl->raw_err;
        return err->code;
    }
    return kiln_pprof_peek_scan(pl->raw, pl->raw_len, &pl->peek, err);
}

int kiln_payload_peek(kiln_payload *pl, const kiln_pprof_peek **out, kiln_err *err)
{
    int rc = lazily(pl, &pl->peek_state, &pl->peek_err, make_peek, err);
    if (rc != KILN_OK) return rc;
    *out = &pl->peek;
    return KILN_OK;
}

static int make_model(kiln_payload *pl, kiln_err *err)
{
    if (pl->fmt != KILN_FMT_PPROF)
        return kiln_err_set(err, KILN_EUNPROC, "cannot decode a %s payload as pprof",
                            kiln_format_name(pl->fmt));
    if (atomic_load_explicit(&pl->raw_state, memory_order_acquire) == 0) {
        kiln_err_clear(&pl->raw_err);
        int s = make_raw(pl, &pl->raw_err) == KILN_OK ? 1 : -1;
        atomic_store_explicit(&pl->raw_state, s, memory_order_release);
    }
    if (atomic_load(&pl->raw_state) != 1) {
        *err = pl->raw_err;
        return err->code;
    }
    pl->model_arena = kiln_arena_new(pl->raw_len * 4 + 4096);
    if (!pl->model_arena) return kiln_err_set(err, KILN_ENOMEM, "out of memory decoding payload");
    int rc = kiln_pprof_decode(pl->model_arena, pl->raw, pl->raw_len, &pl->lim, &pl->model, err);
    if (pl->stats) atomic_fetch_add(&pl->stats->decodes, 1);
    return rc;
}

int kiln_payload_pprof(kiln_payload *pl, const kiln_pprof **out, kiln_err *err)
{
    int rc = lazily(pl, &pl->model_state, &pl->model_err, make_model, err);
    if (rc != KILN_OK) return rc;
    *out = pl->model;
    return KILN_OK;
}

int kiln_payload_is_decoded(const kiln_payload *pl)
{
    return atomic_load_explicit(&((kiln_payload *)pl)->model_state, memory_order_acquire) == 1;
}

size_t kiln_payload_mem(const kiln_payload *pl)
{
    size_t n = sizeof *pl + pl->len;
    if (pl->raw_arena) n += kiln_arena_used(pl->raw_arena);
    if (pl->raw_owned) n += pl->raw_len;
    if (pl->model_arena) n += kiln_arena_used(pl->model_arena);
    return n;
}
