/* kiln/profile.h — the unit that flows: payloads, profiles and batches.
 *
 * kiln_payload  the profile data, immutable and reference-counted, shared by
 *               every pipeline and exporter that sees it. It holds the bytes
 *               as received (with their format and compression) and/or the
 *               decoded model; each missing form is produced lazily, once,
 *               under the payload's lock, the first time a component asks
 *               (kiln_payload_pprof / kiln_payload_bytes). A component that
 *               wants different data makes a new payload; it never writes
 *               into a shared one.
 * kiln_profile  one profile of one series: tenant, labels, time range, and a
 *               reference to its payload. Profiles are plain structs owned
 *               by their batch.
 * kiln_batch    profiles that travel together, reference-counted. The core
 *               gives each pipeline its own batch (profiles copied, payloads
 *               shared), so a processor may edit the batch it is handed;
 *               exporters receive a batch they must treat as read-only and
 *               keep (kiln_batch_ref) if they hold it past consume.
 *
 * Thread safety: ref/unref and the lazy forms of a payload are thread-safe;
 * a batch is edited by one thread at a time (the one running the pipeline).
 */
#ifndef KILN_PROFILE_H
#define KILN_PROFILE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/err.h>
#include <kiln/labels.h>
#include <kiln/pprof.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kiln_format {
    KILN_FMT_UNKNOWN = 0,
    KILN_FMT_PPROF = 1,  /* google pprof protobuf (gzip or plain) */
    KILN_FMT_OTLP = 2,   /* OTLP ExportProfilesServiceRequest */
    KILN_FMT_JFR = 3,    /* Java Flight Recorder */
    KILN_FMT_FOLDED = 4  /* collapsed stacks text */
} kiln_format;

const char *kiln_format_name(kiln_format f);

typedef struct kiln_payload kiln_payload;

/* Counters a payload bumps; the core points every payload it sees at its own
 * (so /metrics shows how often data was decoded). May be left NULL. */
typedef struct kiln_payload_stats {
    atomic_uint_fast64_t decodes;      /* full decodes into the model */
    atomic_uint_fast64_t inflates;     /* gunzips */
    atomic_uint_fast64_t encodes;      /* model -> bytes */
} kiln_payload_stats;

/* Wraps received bytes. With `copy` the bytes are copied; otherwise the
 * payload takes `data` and calls free_fn(free_arg) once the last reference
 * is gone (free_fn NULL: free(data)). Returns NULL when out of memory; in
 * that case ownership of `data` stays with the caller. Refcount starts at 1. */
kiln_payload *kiln_payload_from_bytes(kiln_format fmt, uint8_t *data, size_t len, int copy,
                                      void (*free_fn)(void *), void *free_arg);

/* Wraps a decoded model. Takes the arena (and with it `p`); refcount 1. */
kiln_payload *kiln_payload_from_pprof(kiln_arena *arena, kiln_pprof *p);

kiln_payload *kiln_payload_ref(kiln_payload *pl);
void kiln_payload_unref(kiln_payload *pl);

kiln_format kiln_payload_format(const kiln_payload *pl);

/* Points the payload at the core's counters (done by the core on submit). */
void kiln_payload_set_stats(kiln_payload *pl, kiln_payload_stats *st);

/* Gives `dst` the core context of `src` (its stats counters and decode
 * limits): a processor that replaces a payload calls this so the new
 * payload's decodes and encodes are counted like the old one's. */
void kiln_payload_inherit(kiln_payload *dst, const kiln_payload *src);

/* Sets decode limits used when the model is produced lazily. */
void kiln_payload_set_limits(kiln_payload *pl, const kiln_pprof_limits *lim);

/* The bytes as received (or, for a payload made from a model, its pprof
 * encoding, gzip'ed, produced once). Valid while the caller holds a
 * reference. *gzip is set to 1 if the bytes are gzip'ed. */
int kiln_payload_bytes(kiln_payload *pl, const uint8_t **data, size_t *len, int *gzip,
                       kiln_err *err);

/* The bytes uncompressed (gunzipped once and cached). */
int kiln_payload_raw(kiln_payload *pl, const uint8_t **data, size_t *len, kiln_err *err);

/* The decoded pprof model (decoded once and cached; later calls return the
 * same pointer). The model is shared: read it, never write it. A decode
 * error is cached too and returned to every caller. */
int kiln_payload_pprof(kiln_payload *pl, const kiln_pprof **out, kiln_err *err);

/* Bytes of the payload as received (0 for a model payload not yet encoded).
 * Never produces anything. */
size_t kiln_payload_wire_size(const kiln_payload *pl);

/* 1 if the model has been decoded already (nothing is decoded by asking). */
int kiln_payload_is_decoded(const kiln_payload *pl);

/* Bytes of memory the payload holds now (received + inflated + model). */
size_t kiln_payload_mem(const kiln_payload *pl);

/* Cheap scan of the sample types (kiln_pprof_peek_scan over the raw bytes;
 * gunzips if needed, never unpacks). The result is cached; strings point
 * into the payload. */
int kiln_payload_peek(kiln_payload *pl, const kiln_pprof_peek **out, kiln_err *err);

#define KILN_TENANT_DEFAULT "anonymous"
#define KILN_TENANT_MAX 150

enum {
    KILN_PROFILE_DROPPED = 1u << 0 /* removed by a processor; not exported */
};

typedef struct kiln_profile {
    char *tenant;          /* owned; never NULL inside a submitted batch */
    kiln_labels labels;    /* owned */
    int64_t time_ns;       /* start of the profile, Unix ns */
    int64_t duration_ns;   /* length; 0 if unknown */
    int64_t sample_rate;   /* Hz the profiler sampled at; 0 if unknown */
    kiln_payload *payload; /* one reference owned by the profile */
    uint32_t flags;        /* KILN_PROFILE_* */
    const char *drop_reason; /* static string when DROPPED */
    /* Which exporters of the pipeline get this profile: 0 means all; else
     * bit i selects the pipeline's exporter i, in the order the host's
     * pipeline_exporters() gives (the order of the pipeline's `exporters`
     * list). Set by routing processors; a profile whose mask selects none
     * of the pipeline's exporters is counted as dropped ("no_route"). */
    uint64_t route_mask;
} kiln_profile;

typedef struct kiln_batch {
    atomic_int refs;
    size_t n;
    size_t cap;
    kiln_profile *v;
    size_t bytes; /* request bytes the batch came from, set by the receiver
                     for its own logs; the core counts payload sizes itself */
} kiln_batch;

/* A new empty batch, refcount 1; NULL when out of memory. */
kiln_batch *kiln_batch_new(size_t cap_hint);
kiln_batch *kiln_batch_ref(kiln_batch *b);
/* Drops one reference; the last frees every profile (labels, tenant,
 * payload reference) and the batch. */
void kiln_batch_unref(kiln_batch *b);

/* Appends a zeroed profile and returns it (owned by the batch), or NULL. */
kiln_profile *kiln_batch_add(kiln_batch *b);

/* A new batch with copies of every profile not dropped (labels and tenant
 * duplicated, payloads shared by reference). Refcount 1. */
kiln_batch *kiln_batch_clone(const kiln_batch *b);

/* A new batch with copies of the live profiles whose route_mask is 0 or
 * has `bit` set (payloads shared). Refcount 1; NULL when out of memory. */
kiln_batch *kiln_batch_subset(const kiln_batch *b, uint64_t bit);

/* Marks a profile dropped with a static reason (counted by the core). */
void kiln_profile_drop(kiln_profile *p, const char *reason);

/* Frees the dropped profiles and closes the gaps (order kept). For the
 * owner of the batch only (the pipeline running it). */
void kiln_batch_compact(kiln_batch *b);

/* Number of profiles not dropped. */
size_t kiln_batch_live(const kiln_batch *b);

/* Sets the profile's tenant (copied). */
int kiln_profile_set_tenant(kiln_profile *p, const char *tenant);

#ifdef __cplusplus
}
#endif
#endif
