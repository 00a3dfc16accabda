/* pipeline/pprof_internal.h — private helpers shared by the pprof_*.c files.
 *
 * Holds: a 64-bit hash for byte strings and integer sequences, an
 * open-addressing hash index (slots hold a 32-bit hash tag and a 32-bit
 * entry number; the entries themselves live in the caller's arrays), an
 * id -> position index for the 1-based ids of mappings, locations and
 * functions, protobuf varint readers, and the protobuf-c reference unpack
 * (kiln_pprof_unpack_pc, used by tests, fuzz targets and the benchmark to
 * check the hand-written decoder against protobuf-c).
 *
 * Memory: kp_tab and kp_idx own malloc'ed arrays, released with
 * kp_tab_free / kp_idx_free. Nothing here keeps global state.
 */
#ifndef KILN_PPROF_INTERNAL_H
#define KILN_PPROF_INTERNAL_H

#include <kiln/pprof.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashing ------------------------------------------------------------ */

static inline uint64_t kp_mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#define KP_K1 0x9E3779B97F4A7C15ull
#define KP_K2 0xBF58476D1CE4E5B9ull
#define KP_K3 0x94D049BB133111EBull

static inline uint64_t kp_hash_bytes(const void *data, size_t n, uint64_t seed)
{
    const uint8_t *s = (const uint8_t *)data;
    uint64_t h = seed ^ (n * KP_K1);
    while (n >= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        h = kp_mix(h ^ a ^ KP_K2, b ^ KP_K3);
        s += 16;
        n -= 16;
    }
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, s, 8);
        if (n > 8) memcpy(&b, s + 8, n - 8);
    } else if (n) {
        memcpy(&a, s, n);
    }
    return kp_mix(h ^ a ^ KP_K2, b ^ KP_K3 ^ n);
}

/* Incremental hash of 64-bit words. */
static inline uint64_t kp_hash_word(uint64_t h, uint64_t w) { return kp_mix(h ^ w, KP_K2); }

static inline uint64_t kp_hash_u64s(const uint64_t *v, size_t n, uint64_t seed)
{
    uint64_t h = seed ^ (n * KP_K1);
    for (size_t i = 0; i < n; i++) h = kp_mix(h ^ v[i], KP_K2);
    return h;
}

/* The 32 bits used both for the slot position and as the tag. Never 0. */
static inline uint32_t kp_h32(uint64_t h)
{
    uint32_t x = (uint32_t)(h ^ (h >> 32));
    return x ? x : 0x9E3779B9u;
}

/* ---- open-addressing hash index ------------------------------------------
 * slots[i] == 0: empty; otherwise (tag << 32) | (entry + 1). Linear probing,
 * load factor at most 1/2. Lookups compare tags first, then call the
 * caller's equality on the entry number. */
typedef struct kp_tab {
    uint64_t *slots;
    size_t cap; /* power of two */
    size_t n;
} kp_tab;

static inline int kp_tab_init(kp_tab *t, size_t expect)
{
    size_t cap = 16;
    while (cap < expect * 2) cap <<= 1;
    t->slots = (uint64_t *)calloc(cap, sizeof *t->slots);
    t->cap = cap;
    t->n = 0;
    return t->slots ? 0 : -1;
}

static inline void kp_tab_free(kp_tab *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->n = 0;
}

static inline int kp_tab_grow(kp_tab *t)
{
    size_t ncap = t->cap * 2;
    uint64_t *ns = (uint64_t *)calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < t->cap; i++) {
        uint64_t s = t->slots[i];
        if (!s) continue;
        size_t j = (size_t)(s >> 32) & (ncap - 1);
        while (ns[j]) j = (j + 1) & (ncap - 1);
        ns[j] = s;
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 0;
}

/* Finds the entry with hash h for which eq(ctx, entry) is true. Returns the
 * entry number, or -1 with *slot set to the empty slot where it belongs. */
static inline int64_t kp_tab_find(const kp_tab *t, uint32_t h, int (*eq)(void *, uint32_t),
                                  void *ctx, size_t *slot)
{
    size_t mask = t->cap - 1, i = h & mask;
    for (;;) {
        uint64_t s = t->slots[i];
        if (!s) {
            *slot = i;
            return -1;
        }
        if ((uint32_t)(s >> 32) == h && eq(ctx, (uint32_t)s - 1)) return (int64_t)((uint32_t)s - 1);
        i = (i + 1) & mask;
    }
}

/* Inserts entry `e` with hash h at `slot` (from a failed kp_tab_find). */
static inline int kp_tab_put(kp_tab *t, size_t slot, uint32_t h, uint32_t e)
{
    t->slots[slot] = ((uint64_t)h << 32) | ((uint64_t)e + 1);
    t->n++;
    if (t->n * 2 > t->cap) return kp_tab_grow(t);
    return 0;
}

/* ---- id -> position index -------------------------------------------------
 * For the 1-based ids of pprof tables. Three shapes: dense (id == pos + 1,
 * what every common producer writes), a direct array when ids are small,
 * or a hash of id -> pos. */
typedef struct kp_idx {
    int mode; /* 0 dense, 1 direct, 2 hash */
    size_t n;
    uint32_t *direct; /* mode 1: id -> pos + 1 (0: absent); size n_direct */
    size_t n_direct;
    uint64_t *keys; /* mode 2: open addressing, key 0 = empty (ids are non-zero) */
    uint32_t *vals;
    size_t cap;
} kp_idx;

/* Builds the index over ids[0..n). Ids must be non-zero. Returns 0; or -1 when
 * out of memory; or 1 with *dup_a < *dup_b the positions of the first duplicate
 * id found. */
int kiln_pp_idx_build(kp_idx *x, const uint64_t *ids, size_t n, size_t *dup_a, size_t *dup_b);
void kiln_pp_idx_free(kp_idx *x);

/* Position of `id`, or -1. */
static inline int64_t kp_idx_get(const kp_idx *x, uint64_t id)
{
    switch (x->mode) {
    case 0:
        return (id >= 1 && id <= x->n) ? (int64_t)(id - 1) : -1;
    case 1:
        return (id < x->n_direct && x->direct[id]) ? (int64_t)x->direct[id] - 1 : -1;
    default: {
        if (!id) return -1;
        size_t mask = x->cap - 1, i = (size_t)kp_mix(id, KP_K1) & mask;
        for (;;) {
            uint64_t k = x->keys[i];
            if (k == id) return x->vals[i];
            if (!k) return -1;
            i = (i + 1) & mask;
        }
    }
    }
}

/* Builds the three id indexes of a profile (no checks beyond what
 * kiln_pp_idx_build does; ids equal to 0 are left out). Returns KILN_OK or an
 * error (duplicates are reported with the table name). */
typedef struct kp_ids {
    kp_idx mapping, location, function;
} kp_ids;
int kiln_pp_ids_build(const kiln_pprof *p, kp_ids *ids, kiln_err *err);
void kiln_pp_ids_free(kp_ids *ids);

/* ---- arithmetic ----------------------------------------------------------- */

/* Wrapping int64 addition (pprof's Go arithmetic wraps; signed overflow in C
 * is undefined). */
static inline int64_t kp_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t kp_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline uint64_t kp_abs(int64_t v) { return v < 0 ? -(uint64_t)v : (uint64_t)v; }

/* ---- strings ---------------------------------------------------------------- */

/* string_table[i], or "" when i is out of range (for already validated
 * profiles this never happens). */
static inline const char *kp_str(const kiln_pprof *p, int64_t i)
{
    return (i >= 0 && (uint64_t)i < p->n_string_table && p->string_table[i]) ? p->string_table[i]
                                                                            : "";
}

/* ---- protobuf wire reading ----------------------------------------------- */

/* Reads a varint at *pp (< end). Returns 1 and advances, 0 if truncated or
 * longer than 10 bytes. Bits past the 64th are dropped, as protobuf-c does. */
static inline int kp_varint_slow(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end) return 0;
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *out = v;
            *pp = p;
            return 1;
        }
    }
    return 0;
}

static inline int kp_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    if (end - p >= 4) {
        /* unrolled for the 1..4 byte varints that make up most of pprof */
        uint64_t b = p[0], v;
        if (b < 0x80) {
            *out = b;
            *pp = p + 1;
            return 1;
        }
        v = b & 0x7f;
        b = p[1];
        v |= (b & 0x7f) << 7;
        if (b < 0x80) {
            *out = v;
            *pp = p + 2;
            return 1;
        }
        b = p[2];
        v |= (b & 0x7f) << 14;
        if (b < 0x80) {
            *out = v;
            *pp = p + 3;
            return 1;
        }
        b = p[3];
        v |= (b & 0x7f) << 21;
        if (b < 0x80) {
            *out = v;
            *pp = p + 4;
            return 1;
        }
    }
    return kp_varint_slow(pp, end, out);
}

/* Skips a field of wire type wt at *pp. Returns 1, or 0 if broken or of an
 * unsupported wire type (groups 3/4, 6, 7 are refused as pprof refuses them). */
static inline int kp_skip(const uint8_t **pp, const uint8_t *end, unsigned wt)
{
    uint64_t v;
    switch (wt) {
    case 0:
        return kp_varint(pp, end, &v);
    case 1:
        if ((size_t)(end - *pp) < 8) return 0;
        *pp += 8;
        return 1;
    case 2:
        if (!kp_varint(pp, end, &v) || v > (uint64_t)(end - *pp)) return 0;
        *pp += v;
        return 1;
    case 5:
        if ((size_t)(end - *pp) < 4) return 0;
        *pp += 4;
        return 1;
    default:
        return 0;
    }
}

/* ---- reference decoder --------------------------------------------------- */

/* protobuf-c's own unpack with the arena allocator, followed by
 * kiln_pprof_validate. Plain (not gzip'ed) input only. Used to check the
 * hand-written decoder and as the benchmark's reference. */
int kiln_pprof_unpack_pc(kiln_arena *a, const uint8_t *data, size_t len, kiln_pprof **out,
                         kiln_err *err);

#endif
