/* kiln/blocks.h — the profile store: blocks in an object store, the
 * in-memory head, its write-ahead log, compaction and retention.
 *
 * Used by the blocks exporter (writes), the query exporter (reads) and
 * `kiln blocks` (inspects). The on-disk format is exporters/blocks/FORMAT.md
 * (version KILN_BLOCK_FORMAT_VERSION); this header is the only way to read
 * or write it.
 *
 * Layout in the store: <tenant>/<block id>/{index.bin,symbols.bin,
 * samples.bin,meta.json}. A block exists for readers once its meta.json
 * exists (it is written last). <tenant> is the tenant escaped with
 * kiln_blocks_tenant_escape.
 *
 * Series: one per (label set + profile type). The profile type id is
 * Pyroscope's `name:sample_type:sample_unit:period_type:period_unit`, kept
 * as the label `__profile_type__` beside `__type__`, `__unit__`,
 * `__period_type__`, `__period_unit__`, `__name__` and `service_name`.
 *
 * Ids inside a block: strings 0..n-1 (0 is ""), mappings, functions,
 * locations 1..n (0: none), stack nodes 1..n (0: the empty stack). A stack
 * id is the id of its leaf node in a parent-pointer tree of locations, so
 * stacks share their prefixes; a node's parent id is always lower.
 *
 * Thread safety: a kiln_block may be read from several threads at once
 * (lazy loads are locked). A kiln_head is locked internally. A kiln_wal is
 * used by one writer at a time (its owner locks).
 *
 * Memory: every pointer a kiln_block hands out (labels, strings, lines)
 * stays valid until kiln_block_close. Arrays returned through `**out`
 * parameters are malloc'ed; the caller frees them (or calls the matching
 * *_free function).
 */
#ifndef KILN_BLOCKS_H
#define KILN_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/config.h>
#include <kiln/err.h>
#include <kiln/labels.h>
#include <kiln/objstore.h>
#include <kiln/pprof.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_BLOCK_FORMAT_VERSION 1
#define KILN_BLOCK_ID_LEN 26 /* a ULID: 10 chars of ms time + 16 of randomness */

#define KILN_LABEL_PROFILE_TYPE "__profile_type__"
#define KILN_LABEL_TYPE "__type__"
#define KILN_LABEL_UNIT "__unit__"
#define KILN_LABEL_PERIOD_TYPE "__period_type__"
#define KILN_LABEL_PERIOD_UNIT "__period_unit__"

/* ---- storage settings (shared config rows) ----------------------------- */

enum { KILN_BLOCKS_BACKEND_FILESYSTEM = 0, KILN_BLOCKS_BACKEND_S3 = 1 };

typedef struct kiln_blocks_storage {
    int backend; /* KILN_BLOCKS_BACKEND_* */
    char *fs_directory;
    char *s3_endpoint;
    char *s3_bucket;
    char *s3_region;
    char *s3_access_key_id;
    char *s3_secret_access_key;
    char *s3_session_token;
    int s3_force_path_style;
    char *s3_prefix;
    int64_t s3_part_size;
    int s3_insecure_skip_verify;
} kiln_blocks_storage;

/* Rows of a kiln_cfg_field table for a kiln_blocks_storage member M of the
 * config struct T, each field name prefixed by P (a string literal, e.g.
 * "storage."). Use them inside a component's field table so that the
 * blocks exporter, the query exporter and `kiln blocks` read the same
 * settings the same way. */
#define KILN_BLOCKS_STORAGE_FIELDS(P, T, M)                                                        \
    {P "backend", KILN_CFG_ENUM, "filesystem", offsetof(T, M.backend),                             \
     "where blocks are kept: filesystem (a local directory) or s3 (an S3-compatible bucket)", 0,   \
     0, 0, "filesystem|s3"},                                                                       \
    {P "filesystem.directory", KILN_CFG_STRING, "./data/blocks", offsetof(T, M.fs_directory),      \
     "directory holding the blocks (backend filesystem)", 0, 0, 0, NULL},                          \
    {P "s3.endpoint", KILN_CFG_STRING, NULL, offsetof(T, M.s3_endpoint),                           \
     "S3 endpoint URL (http://127.0.0.1:9000); empty: AWS, from the region", 0, 0, 0, NULL},       \
    {P "s3.bucket", KILN_CFG_STRING, NULL, offsetof(T, M.s3_bucket),                               \
     "bucket name (required with backend s3)", 0, 0, 0, NULL},                                     \
    {P "s3.region", KILN_CFG_STRING, NULL, offsetof(T, M.s3_region),                               \
     "region; empty: $AWS_REGION, $AWS_DEFAULT_REGION, then us-east-1", 0, 0, 0, NULL},            \
    {P "s3.access_key_id", KILN_CFG_STRING, NULL, offsetof(T, M.s3_access_key_id),                 \
     "access key; empty: $AWS_ACCESS_KEY_ID", KILN_CFG_SECRET, 0, 0, NULL},                        \
    {P "s3.secret_access_key", KILN_CFG_STRING, NULL, offsetof(T, M.s3_secret_access_key),         \
     "secret key; empty: $AWS_SECRET_ACCESS_KEY", KILN_CFG_SECRET, 0, 0, NULL},                    \
    {P "s3.session_token", KILN_CFG_STRING, NULL, offsetof(T, M.s3_session_token),                 \
     "session token; empty: $AWS_SESSION_TOKEN", KILN_CFG_SECRET, 0, 0, NULL},                     \
    {P "s3.force_path_style", KILN_CFG_BOOL, "false", offsetof(T, M.s3_force_path_style),          \
     "address the bucket as endpoint/bucket/key (MinIO, s3rver) instead of bucket.endpoint/key",   \
     0, 0, 0, NULL},                                                                               \
    {P "s3.prefix", KILN_CFG_STRING, NULL, offsetof(T, M.s3_prefix),                               \
     "key prefix inside the bucket", 0, 0, 0, NULL},                                               \
    {P "s3.part_size", KILN_CFG_BYTES, "16MiB", offsetof(T, M.s3_part_size),                       \
     "multipart upload part size", 0, 5 * 1024 * 1024, 5368709120.0, NULL},                        \
    {P "s3.insecure_skip_verify", KILN_CFG_BOOL, "false", offsetof(T, M.s3_insecure_skip_verify),  \
     "do not verify the endpoint's TLS certificate", 0, 0, 0, NULL}

/* Checks the settings (s3 needs a bucket). */
int kiln_blocks_storage_check(const kiln_blocks_storage *s, kiln_err *err);

/* Opens the object store the settings describe. The caller closes it. */
int kiln_blocks_storage_open(const kiln_blocks_storage *s, kiln_objstore **out, kiln_err *err);

/* ---- ids and keys ---------------------------------------------------------- */

/* A new block id for time `unix_ns` (ms precision) with 80 random bits,
 * NUL-terminated into buf[KILN_BLOCK_ID_LEN + 1]. Ids sort by time. */
int kiln_block_id_new(int64_t unix_ns, char *buf, kiln_err *err);
/* 1 if s is a well-formed id; *unix_ms gets its time (may be NULL). */
int kiln_block_id_parse(const char *s, int64_t *unix_ms);

/* The tenant as it appears in keys and WAL directories: [A-Za-z0-9._-] kept,
 * every other byte (and a leading '.') as %XX. Returns the length needed;
 * writes at most cap bytes, NUL-terminated. kiln_blocks_tenant_unescape is
 * the inverse (returns -1 on a malformed escape). */
size_t kiln_blocks_tenant_escape(const char *tenant, char *buf, size_t cap);
int kiln_blocks_tenant_unescape(const char *esc, char *buf, size_t cap);

/* ---- meta ---------------------------------------------------------------- */

typedef char kiln_block_id[KILN_BLOCK_ID_LEN + 1];

enum { KILN_BLOCK_FILE_INDEX = 0, KILN_BLOCK_FILE_SYMBOLS = 1, KILN_BLOCK_FILE_SAMPLES = 2,
       KILN_BLOCK_NFILES = 3 };

typedef struct kiln_block_file {
    uint64_t size;
    uint32_t crc32; /* zlib crc32 (IEEE) of the whole object */
} kiln_block_file;

typedef struct kiln_block_meta {
    int version;         /* KILN_BLOCK_FORMAT_VERSION */
    kiln_block_id id;
    char *tenant;        /* owned */
    int64_t min_time_ns; /* earliest profile time */
    int64_t max_time_ns; /* latest profile time (inclusive) */
    int64_t created_ns;
    uint64_t n_series, n_profiles, n_samples;
    uint64_t n_stacks, n_locations, n_functions, n_mappings, n_strings;
    int level;           /* 1: cut from a head; >1: made by compaction */
    kiln_block_id *sources; /* the level-1 blocks this block holds (itself at level 1); owned */
    size_t n_sources;
    kiln_block_id *parents; /* the blocks compacted into this one; owned */
    size_t n_parents;
    char source[16];     /* "ingester" or "compactor" */
    kiln_block_file files[KILN_BLOCK_NFILES];
} kiln_block_meta;

extern const char *const kiln_block_file_names[KILN_BLOCK_NFILES]; /* "index.bin", ... */

/* JSON of a meta (malloc'ed, NUL-terminated). */
int kiln_block_meta_encode(const kiln_block_meta *m, char **out, size_t *len, kiln_err *err);
/* Parses meta JSON; checks the version and every field. On failure *m holds
 * nothing to free. */
int kiln_block_meta_decode(const uint8_t *data, size_t len, kiln_block_meta *m, kiln_err *err);
void kiln_block_meta_free(kiln_block_meta *m);
int kiln_block_meta_copy(kiln_block_meta *dst, const kiln_block_meta *src, kiln_err *err);

/* "<tenant-esc>/<id>/<name>" into buf. */
int kiln_block_key(const char *tenant, const char *id, const char *name, char *buf, size_t cap);

/* ---- the store ------------------------------------------------------------ */

/* A listing of one tenant's blocks: every readable meta, sorted by id, with
 * visible[i] = 0 for blocks whose data another block holds too (the
 * compaction rule of FORMAT.md: a block is hidden when another block's
 * sources include all of its sources and that block is larger, or equal
 * and has a higher level, or equal level and a higher id). Metas that
 * cannot be read or parsed are left out and counted in n_bad (their keys
 * and errors go to on_bad when given). */
typedef struct kiln_blocks_list {
    kiln_block_meta *v;
    uint8_t *visible;
    size_t n;
    size_t n_bad;
} kiln_blocks_list;

typedef void (*kiln_blocks_bad_fn)(const char *key, const kiln_err *err, void *arg);

int kiln_blocks_list_tenant(kiln_objstore *os, const char *tenant, kiln_blocks_list *out,
                            kiln_blocks_bad_fn on_bad, void *arg, kiln_err *err);
void kiln_blocks_list_free(kiln_blocks_list *l);
/* Decoded metas by object key, so that listing the same blocks again costs a
 * LIST and no GETs (a meta.json never changes once written). Thread-safe;
 * one cache may serve every tenant. */
typedef struct kiln_blocks_meta_cache kiln_blocks_meta_cache;
kiln_blocks_meta_cache *kiln_blocks_meta_cache_new(void);
void kiln_blocks_meta_cache_free(kiln_blocks_meta_cache *c);
/* kiln_blocks_list_tenant reading only the metas the cache lacks (c may be NULL). */
int kiln_blocks_list_tenant_cached(kiln_objstore *os, const char *tenant, kiln_blocks_meta_cache *c,
                                   kiln_blocks_list *out, kiln_blocks_bad_fn on_bad, void *arg,
                                   kiln_err *err);

/* Recomputes l->visible from the metas (exposed for tests and the head rule). */
void kiln_blocks_list_visibility(kiln_blocks_list *l);
/* 1 if block id `id` is among the sources of a visible block of the list. */
int kiln_blocks_list_covers(const kiln_blocks_list *l, const char *id);

/* The tenants that have at least one object in the store (unescaped,
 * sorted; malloc'ed array of malloc'ed strings; free with
 * kiln_blocks_strv_free). */
int kiln_blocks_tenants(kiln_objstore *os, char ***out, size_t *n, kiln_err *err);
void kiln_blocks_strv_free(char **v, size_t n);

/* Deletes a block: meta first (readers stop seeing it), then the data. */
int kiln_blocks_delete(kiln_objstore *os, const char *tenant, const char *id, kiln_err *err);

/* ---- reading a block ----------------------------------------------------------- */

typedef struct kiln_block kiln_block;

/* Opens a block: reads its index (one GET), checks size and checksum
 * against the meta and decodes it. Symbols and samples are read later, only
 * the parts asked for (range GETs). `m` is copied. */
int kiln_block_open(kiln_objstore *os, const kiln_block_meta *m, kiln_block **out, kiln_err *err);
void kiln_block_close(kiln_block *b);
const kiln_block_meta *kiln_block_get_meta(const kiln_block *b);

typedef struct kiln_block_series_info {
    size_t n_labels;
    const char *const *names;  /* sorted by name */
    const char *const *values;
    int64_t min_time_ns, max_time_ns;
    uint64_t n_profiles, n_samples;
} kiln_block_series_info;

size_t kiln_block_series_count(const kiln_block *b);
int kiln_block_series(const kiln_block *b, uint32_t series, kiln_block_series_info *out);
/* Value of label `name` of a series, or NULL. */
const char *kiln_block_series_label(const kiln_block *b, uint32_t series, const char *name);

enum { KILN_MATCH_EQ = 0, KILN_MATCH_NEQ = 1, KILN_MATCH_RE = 2, KILN_MATCH_NRE = 3 };

/* A label matcher with Prometheus semantics: a missing label has the value
 * "", so `x=""` matches series without x. RE/NRE are fully anchored; the
 * pattern is a POSIX extended regex unless `fn` is given, in which case
 * fn(value, arg) decides (1 = the regex matches). */
typedef struct kiln_block_matcher {
    const char *name;
    int op;
    const char *value;
    int (*fn)(const char *value, void *arg);
    void *arg;
} kiln_block_matcher;

/* The series matching every matcher and having a profile in [from, to)
 * (from = INT64_MIN, to = INT64_MAX for all), via the postings; ids sorted.
 * *ids is malloc'ed (may be NULL when *n is 0). */
int kiln_block_select(kiln_block *b, const kiln_block_matcher *m, size_t n_m, int64_t from_ns,
                      int64_t to_ns, uint32_t **ids, size_t *n, kiln_err *err);

/* Label names (sorted), and the values of one name (sorted), of the whole
 * block. Arrays malloc'ed; strings owned by the block. */
int kiln_block_label_names(const kiln_block *b, const char ***out, size_t *n, kiln_err *err);
int kiln_block_label_values(const kiln_block *b, const char *name, const char ***out, size_t *n,
                            kiln_err *err);

/* Profiles of one series with time in [from, to), sorted by time, and their
 * samples (profile i's samples are [sample_off[i], sample_off[i+1])). Only
 * the chunks overlapping the range are read (one range GET). With
 * want_samples 0 only the per-profile columns are filled. */
typedef struct kiln_block_samples {
    size_t n_profiles;
    int64_t *time_ns;
    int64_t *duration_ns;
    int64_t *total;       /* sum of the profile's values */
    uint64_t *sample_off; /* n_profiles + 1 entries */
    size_t n_samples;
    uint32_t *stack;      /* stack ids, ascending within a profile */
    int64_t *value;
    uint64_t *span;       /* span ids (0: none); NULL when no sample has one */
} kiln_block_samples;

int kiln_block_read_samples(kiln_block *b, uint32_t series, int64_t from_ns, int64_t to_ns,
                            int want_samples, kiln_block_samples *out, kiln_err *err);
void kiln_block_samples_free(kiln_block_samples *s);

typedef struct kiln_block_line {
    uint32_t function;
    int64_t line;
} kiln_block_line;

typedef struct kiln_block_loc {
    uint32_t mapping;
    uint64_t address;
    int is_folded;
    size_t n_lines;
    const kiln_block_line *lines; /* innermost (inlined) first, as in pprof */
} kiln_block_loc;

typedef struct kiln_block_fn {
    const char *name, *system_name, *filename;
    int64_t start_line;
} kiln_block_fn;

typedef struct kiln_block_map {
    uint64_t memory_start, memory_limit, file_offset;
    const char *filename, *build_id;
    uint32_t flags; /* bit 0 has_functions, 1 has_filenames, 2 has_line_numbers, 3 has_inline_frames */
} kiln_block_map;

/* Symbols by id; only the chunks holding the asked ids are read. Errors:
 * KILN_EINVAL for an id out of range, KILN_EIO/KILN_EINVAL when the object
 * is unreadable or corrupt (the message says which chunk). */
int kiln_block_stack_node(kiln_block *b, uint32_t node, uint32_t *parent, uint32_t *location,
                          kiln_err *err);
/* The locations of a stack, leaf first (as pprof's Sample.location_id). If
 * the stack is deeper than cap, KILN_ETOOBIG with *depth set. */
int kiln_block_stack(kiln_block *b, uint32_t stack, uint32_t *locs, size_t cap, size_t *depth,
                     kiln_err *err);
int kiln_block_location(kiln_block *b, uint32_t id, kiln_block_loc *out, kiln_err *err);
int kiln_block_function(kiln_block *b, uint32_t id, kiln_block_fn *out, kiln_err *err);
int kiln_block_mapping(kiln_block *b, uint32_t id, kiln_block_map *out, kiln_err *err);
int kiln_block_string(kiln_block *b, uint32_t id, const char **out, kiln_err *err);

/* Reads, in as few range GETs as possible, every symbol chunk that the
 * given stacks need (their nodes up to the root, their locations,
 * functions, mappings and strings), so that resolving them afterwards does
 * no I/O. Optional: the accessors above load lazily anyway. */
int kiln_block_prefetch_stacks(kiln_block *b, const uint32_t *stacks, size_t n, kiln_err *err);

/* Builds one pprof profile holding the samples of the given series of the
 * block in [from, to) (values summed per stack), with the series' sample
 * type and period type, in arena `a`. All series must share one profile
 * type. For tests, `kiln blocks inspect --top` and query exports. */
int kiln_block_to_pprof(kiln_block *b, const uint32_t *series, size_t n_series, int64_t from_ns,
                        int64_t to_ns, kiln_arena *a, kiln_pprof **out, kiln_err *err);

/* Decodes and checks everything in a block: object sizes and checksums
 * against the meta, every section and chunk (checksums, ids in range,
 * counts equal to the meta). KILN_OK or the first problem found. */
int kiln_block_verify(kiln_objstore *os, const kiln_block_meta *m, kiln_err *err);

/* ---- the head: a block being built in memory ------------------------------------ */

typedef struct kiln_head kiln_head;

/* A new empty head for `tenant` that will become block `id`. */
int kiln_head_new(const char *tenant, const char *id, int64_t created_ns, kiln_head **out,
                  kiln_err *err);
void kiln_head_free(kiln_head *h);

/* Adds one received profile: one series per sample type (labels +
 * __profile_type__ & co.), further split by the samples' string labels as
 * Pyroscope does (span_id / profile_id kept per sample instead). Labels
 * starting with "__" other than __name__ are not kept. `p` must be a
 * validated profile (kiln_pprof_decode). time_ns 0: the profile's own
 * time_nanos (0 too: now). */
int kiln_head_append(kiln_head *h, const kiln_labels *labels, int64_t time_ns, int64_t duration_ns,
                     const kiln_pprof *p, kiln_err *err);

typedef struct kiln_head_stats {
    uint64_t n_series, n_profiles, n_samples, n_stacks, n_locations;
    int64_t min_time_ns, max_time_ns; /* 0 when empty */
    size_t bytes;                     /* memory held */
} kiln_head_stats;
void kiln_head_get_stats(kiln_head *h, kiln_head_stats *out);
const char *kiln_head_id(const kiln_head *h);
const char *kiln_head_tenant(const kiln_head *h);
int64_t kiln_head_created_ns(const kiln_head *h);

/* Writes the head as block `id` of its tenant: the data objects, then the
 * meta (unless the head is empty: then nothing is written and *empty = 1).
 * `tmp_dir` holds a scratch file while samples are written. The written
 * meta is copied to *meta when non-NULL. The head is not changed. */
int kiln_head_write_block(kiln_head *h, kiln_objstore *os, const char *tmp_dir,
                          kiln_block_meta *meta, int *empty, kiln_err *err);

/* A read view of the head with the kiln_block API (the head must not be
 * freed before the view is closed; concurrent appends are safe: the view
 * sees what was there when it was made, plus possibly later profiles). */
int kiln_head_open_view(kiln_head *h, kiln_block **out, kiln_err *err);

/* ---- the write-ahead log ------------------------------------------------------------ */

/* A segment file holds the records of one head: its header names the
 * tenant and the block id the head becomes, so a segment whose block is
 * already stored (kiln_blocks_list_covers) is known to be flushed. */
typedef struct kiln_wal kiln_wal;

typedef struct kiln_wal_profile {
    const kiln_labels *labels;
    int64_t time_ns, duration_ns;
    const uint8_t *data; /* pprof bytes, gzip'ed or plain */
    size_t len;
} kiln_wal_profile;

/* "<dir>/<tenant-esc>/<id>.wal" */
int kiln_wal_path(const char *dir, const char *tenant, const char *id, char *buf, size_t cap);

/* Creates a new segment (header written and fsynced, directory fsynced). */
int kiln_wal_create(const char *dir, const char *tenant, const char *id, int64_t created_ns,
                    kiln_wal **out, kiln_err *err);
/* Reopens an existing segment for appending at byte `end` (the end of its
 * last valid record, from kiln_wal_replay; anything after is cut off). */
int kiln_wal_reopen(const char *path, uint64_t end, kiln_wal **out, kiln_err *err);
/* Appends one record holding n profiles (not synced). */
int kiln_wal_append(kiln_wal *w, const kiln_wal_profile *v, size_t n, kiln_err *err);
/* fdatasync; safe to call from another thread than the appender's while it
 * holds a reference (kiln_wal_ref). */
int kiln_wal_sync(kiln_wal *w, kiln_err *err);
kiln_wal *kiln_wal_ref(kiln_wal *w);
void kiln_wal_unref(kiln_wal *w); /* the last reference closes the file */
uint64_t kiln_wal_size(const kiln_wal *w);
const char *kiln_wal_file(const kiln_wal *w);

typedef struct kiln_wal_header {
    char tenant[256];
    kiln_block_id id;
    int64_t created_ns;
} kiln_wal_header;

typedef struct kiln_wal_replay_result {
    uint64_t records, profiles;
    uint64_t valid_end; /* byte after the last good record */
    uint64_t file_size;
    int torn;           /* 1: bytes after valid_end did not form a record */
} kiln_wal_replay_result;

/* Reads a segment: the header, then calls fn for every profile of every
 * intact record, in order (fn returns KILN_OK to go on; another status
 * stops the replay and is returned). A torn or corrupt tail is not an
 * error: res->torn says so and res->valid_end where the good part ends.
 * A bad header is KILN_EINVAL. */
int kiln_wal_replay(const char *path, kiln_wal_header *hdr,
                    int (*fn)(const kiln_wal_profile *p, void *arg), void *arg,
                    kiln_wal_replay_result *res, kiln_err *err);
/* The same over a buffer (fuzzing). */
int kiln_wal_replay_buf(const uint8_t *data, size_t len, kiln_wal_header *hdr,
                        int (*fn)(const kiln_wal_profile *p, void *arg), void *arg,
                        kiln_wal_replay_result *res, kiln_err *err);

/* Reads records from byte `from` on (a position a previous replay returned
 * as valid_end; 0: from the header). For tailing a segment that is still
 * being appended to. */
int kiln_wal_replay_from(const char *path, uint64_t from, kiln_wal_header *hdr,
                         int (*fn)(const kiln_wal_profile *p, void *arg), void *arg,
                         kiln_wal_replay_result *res, kiln_err *err);

/* The heads a reader adds to a tenant's blocks: one per WAL segment in
 * <wal_dir>/<tenant-esc>/ whose block is not covered by the visible blocks
 * of `l` (kiln_blocks_list_covers), replayed read-only (safe while the
 * exporter appends: a record being written is simply not seen yet). */
typedef struct kiln_wal_head {
    kiln_head *head;
    char *path;
    uint64_t offset; /* bytes read so far (the next refresh reads from here) */
    uint64_t profiles;
    uint64_t skipped; /* profiles that did not decode */
} kiln_wal_head;

typedef struct kiln_wal_heads {
    kiln_wal_head *v;
    size_t n;
} kiln_wal_heads;

/* Brings *hs up to date: new records of known segments are added to their
 * heads, new segments are loaded, segments that are gone or now covered by
 * `l` are dropped (their heads freed: close views of them first). Starts
 * from an empty, zeroed kiln_wal_heads. */
int kiln_wal_heads_refresh(const char *wal_dir, const char *tenant, const kiln_blocks_list *l,
                           kiln_wal_heads *hs, kiln_err *err);
void kiln_wal_heads_free(kiln_wal_heads *hs);

/* ---- compaction and retention ------------------------------------------------------- */

typedef struct kiln_compact_opts {
    const int64_t *ranges;    /* window sizes per level: ranges[0] makes level 2, ...; ascending */
    size_t n_ranges;
    int64_t now_ns;
    int64_t settle_ns;        /* a window is compacted once its end is this far in the past */
    const char *tmp_dir;      /* scratch files */
    int max_jobs;             /* compactions per call (0: no limit) */
    const kiln_block_id *skip; /* blocks left out of planning (known to be damaged) */
    size_t n_skip;
    kiln_blocks_meta_cache *cache; /* may be NULL */
} kiln_compact_opts;

typedef struct kiln_compact_result {
    int jobs;                 /* blocks made */
    int sources_deleted;      /* blocks deleted because a visible block holds their data */
    kiln_block_id bad_block;  /* when a merge failed on a damaged input: its id ("" otherwise) */
} kiln_compact_result;

/* One pass of compaction for a tenant: plans windows from the listing,
 * merges each group (symbols and stacks deduplicated again, series and
 * samples streamed series by series), writes the new block (meta last),
 * then deletes the blocks it replaces. Crash-safe at every step (FORMAT.md).
 * When a merge fails because an input is damaged (KILN_EINVAL), the inputs
 * are verified and the first damaged one is named in res->bad_block, so the
 * caller can leave it out of later passes (opts->skip). */
int kiln_blocks_compact(kiln_objstore *os, const char *tenant, const kiln_compact_opts *o,
                        kiln_compact_result *res, kiln_err *err);

/* Merges the given blocks into one new block `new_id` (level, sources and
 * parents from the inputs) and writes it. Does not delete the inputs. */
int kiln_blocks_merge(kiln_objstore *os, const char *tenant, const kiln_block_meta *in, size_t n,
                      const char *new_id, int level, const char *tmp_dir, kiln_block_meta *out,
                      kiln_err *err);

/* Deletes the tenant's visible blocks whose max time is older than
 * now - retention and whose data came in before that too (the newest
 * source id's time: a backfill of old profiles stays one retention period),
 * the hidden ones (already held by a compacted block),
 * and data objects without a meta older than orphan_grace (by id time).
 * *deleted counts blocks. */
int kiln_blocks_retention(kiln_objstore *os, const char *tenant, int64_t now_ns,
                          int64_t retention_ns, int64_t orphan_grace_ns,
                          kiln_blocks_meta_cache *cache, int *deleted, kiln_err *err);

#ifdef __cplusplus
}
#endif
#endif
