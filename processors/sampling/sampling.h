/* processors/sampling/sampling.h — private to the `sampling` processor:
 * its config struct (filled by the core from the field table in
 * sampling.c), its state, the token-bucket limiter (sampling_limiter.c) and
 * the value scaling (sampling_scale.c).
 *
 * Memory: the config belongs to the core; the state owns the limiter; a
 * limiter owns all of its entries (one allocation per shard, made at
 * create, never grown: memory is bounded by max_tracked).
 */
#ifndef KILN_SAMPLING_H
#define KILN_SAMPLING_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>

enum { KILN_SAMPLING_PROBABILISTIC = 0, KILN_SAMPLING_RATE_LIMIT = 1 };
enum { KILN_SAMPLING_PER_AUTO = 0, KILN_SAMPLING_PER_SERIES, KILN_SAMPLING_PER_PROFILE,
       KILN_SAMPLING_PER_TENANT };
enum { KILN_SAMPLING_ON_LIMIT_DROP = 0, KILN_SAMPLING_ON_LIMIT_REFUSE = 1 };

typedef struct kiln_sampling_cfg {
    int mode;                   /* KILN_SAMPLING_PROBABILISTIC | _RATE_LIMIT */
    double percentage;          /* probabilistic: 0..100 kept */
    int per;                    /* KILN_SAMPLING_PER_* */
    int64_t hash_seed;          /* probabilistic: seed of kiln_labels_hash */
    int scale_values;           /* probabilistic: multiply kept values by 100/percentage */
    double profiles_per_second; /* rate_limit: 0 = no profile limit */
    int64_t bytes_per_second;   /* rate_limit: 0 = no byte limit */
    int64_t burst_profiles;     /* 0 = ceil(profiles_per_second) */
    int64_t burst_bytes;        /* 0 = bytes_per_second */
    int64_t max_tracked;        /* rate_limit: keys with a bucket at most */
    int on_limit;               /* KILN_SAMPLING_ON_LIMIT_* */
} kiln_sampling_cfg;

/* ---- the limiter: token buckets per key, LRU-bounded ---------------------- */

typedef struct kiln_sampling_limiter kiln_sampling_limiter;

/* A limiter holding at most `max_tracked` keys (>= 1). A rate of 0 leaves
 * that dimension unlimited. Rates are per second; bursts are bucket sizes.
 * Returns NULL when out of memory. The caller owns it. */
kiln_sampling_limiter *kiln_sampling_limiter_new(size_t max_tracked, double profiles_rate,
                                                 double profiles_burst, double bytes_rate,
                                                 double bytes_burst);
void kiln_sampling_limiter_free(kiln_sampling_limiter *l);

enum { KILN_SAMPLING_OVER_PROFILES = 1, KILN_SAMPLING_OVER_BYTES = 2 };

/* Takes one profile of `bytes` bytes from the bucket of `key` at monotonic
 * time `now_ns` (a key seen for the first time starts with full buckets;
 * when the limiter is full the least recently used key is forgotten).
 * Returns 1 and takes the tokens when both buckets hold enough; otherwise
 * takes nothing, returns 0 and sets *over to the KILN_SAMPLING_OVER_* that
 * failed (profiles checked first). Thread-safe. */
int kiln_sampling_limiter_take(kiln_sampling_limiter *l, uint64_t key, uint64_t bytes,
                               int64_t now_ns, int *over);

/* Gives back what a successful take of `bytes` took from `key` (capped at
 * the bursts); nothing if the key was forgotten since. Thread-safe. */
void kiln_sampling_limiter_refund(kiln_sampling_limiter *l, uint64_t key, uint64_t bytes);

/* Keys tracked now. Thread-safe. */
size_t kiln_sampling_limiter_tracked(kiln_sampling_limiter *l);

/* ---- scaling ------------------------------------------------------------------ */

/* Scales one value by 100/percentage, rounding half away from zero and
 * saturating at the int64 range; exact (integer arithmetic) when the
 * percentage is a whole number. */
int64_t kiln_sampling_scale_value(int64_t v, double percentage);

/* A new payload (refcount 1, caller owns) holding a copy of `src`'s profile
 * with every sample value scaled by 100/percentage. Decodes its own copy from
 * the uncompressed bytes: the shared model of `src` is neither produced nor
 * touched. KILN_EUNPROC if `src` is not pprof, decode errors as
 * kiln_pprof_decode reports them. */
int kiln_sampling_scale_payload(kiln_payload *src, double percentage, kiln_payload **out,
                                kiln_err *err);

/* Writes `n` bytes as go-humanize's IBytes does ("512 B", "1.2 MiB",
 * "12 MiB"). Returns buf. */
char *kiln_sampling_ibytes(uint64_t n, char *buf, size_t cap);

/* ---- the processor state ------------------------------------------------------ */

typedef int64_t (*kiln_sampling_clock_fn)(void *arg);

typedef struct kiln_sampling_state {
    kiln_host *host;
    const kiln_sampling_cfg *cfg;
    int per;                   /* resolved from cfg->per and the mode */
    uint64_t keep_below;       /* probabilistic: keep when (hash >> 11) < keep_below */
    kiln_sampling_limiter *lim;
    kiln_sampling_clock_fn now;
    void *now_arg;
    kiln_counter *kept;
    kiln_counter *scaled;
    kiln_counter *limited;
    kiln_gauge *tracked;
} kiln_sampling_state;

/* Tests: replaces the monotonic clock of a state made by the plugin's create. */
void kiln_sampling_set_clock(void *state, kiln_sampling_clock_fn fn, void *arg);

#endif
