/* pipeline/block_internal.h — what the block_*.c files share (private to
 * libkiln): byte buffers and varints, checksums and zstd frames, an
 * open-addressing id table, the symbol table builder, the decoded index,
 * the head's series, the reader's lazy symbol cache and the block writer.
 *
 * Memory: a kb_buf owns its bytes (kb_buf_free). A kb_symtab owns its
 * arrays and an arena holding string bytes and location lines. A kb_index
 * keeps every string and array in its own arena. The writer owns its
 * scratch file and buffers until kb_writer_finish / kb_writer_abort.
 */
#ifndef KILN_BLOCK_INTERNAL_H
#define KILN_BLOCK_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/arena.h>
#include <kiln/blocks.h>
#include <kiln/err.h>

/* Everything declared here stays inside libkiln (not exported: only
 * kiln_-prefixed symbols are). */
#pragma GCC visibility push(hidden)

/* ---- limits applied when decoding (corrupt input never allocates more) -- */

#define KB_MAX_RAW (1u << 30)        /* raw bytes of one section or chunk */
#define KB_MAX_META (4u << 20)       /* bytes of meta.json */
#define KB_MAX_LABELS 1024           /* labels of one series */
#define KB_MAX_DEPTH 65536           /* nodes walked for one stack */

/* ---- byte buffers and varints -------------------------------------------- */

typedef struct kb_buf {
    uint8_t *p;
    size_t n, cap;
    int oom; /* an append failed: the content is incomplete */
} kb_buf;

int kb_buf_reserve(kb_buf *b, size_t extra);
void kb_buf_put(kb_buf *b, const void *p, size_t n);
void kb_buf_u8(kb_buf *b, uint8_t v);
void kb_buf_u32le(kb_buf *b, uint32_t v);
void kb_buf_u64le(kb_buf *b, uint64_t v);
void kb_buf_uv(kb_buf *b, uint64_t v);  /* LEB128 */
void kb_buf_sv(kb_buf *b, int64_t v);   /* zigzag + LEB128 */
void kb_buf_str(kb_buf *b, const char *s, size_t n); /* length + bytes */
void kb_buf_free(kb_buf *b);

static inline uint64_t kb_zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t kb_unzz(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* A reader over a byte range. Every get fails (returns -1 and sets bad)
 * past the end or on a malformed varint; later gets keep failing. */
typedef struct kb_rd {
    const uint8_t *p, *end;
    int bad;
} kb_rd;

static inline void kb_rd_init(kb_rd *r, const uint8_t *p, size_t n)
{
    r->p = p;
    r->end = p + n;
    r->bad = 0;
}
int kb_rd_uv(kb_rd *r, uint64_t *v);
int kb_rd_sv(kb_rd *r, int64_t *v);
int kb_rd_u32le(kb_rd *r, uint32_t *v);
int kb_rd_u64le(kb_rd *r, uint64_t *v);
int kb_rd_bytes(kb_rd *r, size_t n, const uint8_t **p);
/* a varint that must be <= max */
int kb_rd_uvmax(kb_rd *r, uint64_t max, uint64_t *v);
static inline size_t kb_rd_left(const kb_rd *r) { return (size_t)(r->end - r->p); }

/* ---- checksums and compression -------------------------------------------- */

uint32_t kb_crc32(const void *p, size_t n);
uint32_t kb_crc32_update(uint32_t crc, const void *p, size_t n);

/* zstd-compresses src into *out (malloc'ed). */
int kb_zstd_compress(const uint8_t *src, size_t n, int level, uint8_t **out, size_t *out_n,
                     kiln_err *err);
/* Decompresses exactly `raw_n` bytes (the frame must say so too). */
int kb_zstd_decompress(const uint8_t *src, size_t n, size_t raw_n, uint8_t **out, kiln_err *err);

/* ---- hashing and the id table ------------------------------------------------- */

uint64_t kb_hash_bytes(const void *p, size_t n, uint64_t seed);
static inline uint64_t kb_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Maps a hash to ids (>= 1) whose records the caller keeps; equality is the
 * caller's callback. Grows itself. */
typedef struct kb_map {
    uint32_t *id;
    uint32_t *h;
    size_t cap, n;
} kb_map;

/* The id whose record eq() accepts, or 0; *slot is where an insert goes. */
uint32_t kb_map_find(const kb_map *m, uint32_t h, int (*eq)(const void *ctx, uint32_t id),
                     const void *ctx, size_t *slot);
/* Inserts at the slot find returned (may grow: slot is recomputed). */
int kb_map_insert(kb_map *m, size_t slot, uint32_t h, uint32_t id);
void kb_map_free(kb_map *m);
size_t kb_map_bytes(const kb_map *m);

/* ---- the symbol table builder (heads and compaction) ---------------------------- */

enum { KB_SYM_STRINGS = 0, KB_SYM_MAPPINGS, KB_SYM_FUNCTIONS, KB_SYM_LOCATIONS, KB_SYM_STACKS,
       KB_NSYM };

/* Entries per symbol chunk, by section. */
extern const uint32_t kb_sym_per_chunk[KB_NSYM];
extern const char *const kb_sym_names[KB_NSYM];

typedef struct kb_mapping {
    uint64_t start, limit, offset;
    uint32_t filename, build_id; /* string ids */
    uint32_t flags;
} kb_mapping;

typedef struct kb_function {
    uint32_t name, system_name, filename; /* string ids */
    int64_t start_line;
} kb_function;

typedef struct kb_location {
    uint32_t mapping;
    uint32_t n_lines;
    uint64_t address;
    int is_folded;
    kiln_block_line *lines; /* in the symtab's arena */
} kb_location;

typedef struct kb_symtab {
    kiln_arena *arena;
    /* index = id; strings from 0 ("" is id 0), others from 1 (slot 0 unused) */
    const char **str;
    uint32_t *str_len;
    size_t n_str, cap_str;
    kb_map str_map;
    kb_mapping *map;
    size_t n_map, cap_map;
    kb_map map_map;
    kb_function *fn;
    size_t n_fn, cap_fn;
    kb_map fn_map;
    kb_location *loc;
    size_t n_loc, cap_loc;
    kb_map loc_map;
    uint32_t *node_parent, *node_loc;
    size_t n_node, cap_node;
    /* (parent, location) -> node, keys stored inline: one cache line per probe */
    struct kb_node_slot {
        uint32_t parent, loc, id, pad;
    } *node_tab;
    size_t node_tab_cap;
    /* whole stacks (128-bit hash of the root-first location ids) -> leaf
     * node: a stack seen before costs one probe instead of one per frame */
    struct kb_stack_slot {
        uint64_t h1, h2;
        uint32_t node, depth;
    } *stack_tab;
    size_t stack_tab_cap, stack_tab_n;
} kb_symtab;

int kb_symtab_init(kb_symtab *s);
void kb_symtab_free(kb_symtab *s);
size_t kb_symtab_bytes(const kb_symtab *s);
/* Each returns the id (creating the entry) or 0 / UINT32_MAX on OOM:
 * string -> UINT32_MAX; others -> 0 (0 is never a valid result for them). */
uint32_t kb_sym_string(kb_symtab *s, const char *p, size_t n);
uint32_t kb_sym_mapping(kb_symtab *s, const kb_mapping *m);
uint32_t kb_sym_function(kb_symtab *s, const kb_function *f);
uint32_t kb_sym_location(kb_symtab *s, uint32_t mapping, uint64_t address, int is_folded,
                         const kiln_block_line *lines, uint32_t n_lines);
uint32_t kb_sym_node(kb_symtab *s, uint32_t parent, uint32_t loc);
/* The leaf node of the stack with root-first locations locs[0..n), or 0
 * if it was never remembered; remember: kb_sym_stack_put. */
uint32_t kb_sym_stack_get(const kb_symtab *s, const uint32_t *locs, size_t n, uint64_t *h1,
                          uint64_t *h2);
int kb_sym_stack_put(kb_symtab *s, uint64_t h1, uint64_t h2, size_t n, uint32_t node);
/* Counts as stored: strings incl. "", others without slot 0. */
static inline uint64_t kb_sym_count(const kb_symtab *s, int sec)
{
    switch (sec) {
    case KB_SYM_STRINGS: return s->n_str;
    case KB_SYM_MAPPINGS: return s->n_map ? s->n_map - 1 : 0;
    case KB_SYM_FUNCTIONS: return s->n_fn ? s->n_fn - 1 : 0;
    case KB_SYM_LOCATIONS: return s->n_loc ? s->n_loc - 1 : 0;
    default: return s->n_node ? s->n_node - 1 : 0;
    }
}

/* ---- the decoded index ----------------------------------------------------------- */

typedef struct kb_chunk_loc {
    uint64_t off, clen, rlen;
    uint32_t crc;
} kb_chunk_loc;

typedef struct kb_sample_chunk {
    int64_t min_t, max_t;
    uint64_t n_prof, n_samp;
    kb_chunk_loc loc;
} kb_sample_chunk;

typedef struct kb_series_ent {
    uint32_t n_labels;
    const char **names, **values; /* sorted by name */
    uint32_t *name_id, *value_id; /* index string ids */
    int64_t min_t, max_t;
    uint64_t n_prof, n_samp;
    uint32_t first_chunk, n_chunks;
} kb_series_ent;

typedef struct kb_posting {
    uint32_t name, value; /* index string ids (sorted strings: id order = byte order) */
    uint32_t n;
    uint32_t *ids;
} kb_posting;

typedef struct kb_symsec {
    uint64_t n;         /* entries */
    uint32_t per_chunk;
    uint32_t n_chunks;
    kb_chunk_loc *chunks;
} kb_symsec;

typedef struct kb_index {
    kiln_arena *arena;
    uint32_t n_str;
    const char **str;
    kb_series_ent *series;
    uint32_t n_series;
    kb_sample_chunk *chunks;
    uint32_t n_chunks;
    kb_posting *post;
    uint32_t n_post;
    kb_symsec sym[KB_NSYM];
} kb_index;

/* index.bin: header + one zstd frame */
#define KB_INDEX_MAGIC "KLNI"
#define KB_INDEX_HDR 24
enum { KB_SEC_STRINGS = 1, KB_SEC_SERIES = 2, KB_SEC_CHUNKS = 3, KB_SEC_POSTINGS = 4,
       KB_SEC_SYMBOLS = 5 };

/* Decodes a whole index.bin. Checks its header, checksum and every cross
 * reference (string ids, chunk ranges, posting ids, chunk offsets against
 * the object sizes given: 0 = unknown). */
int kb_index_decode(const uint8_t *data, size_t len, uint64_t symbols_size, uint64_t samples_size,
                    kb_index *x, kiln_err *err);
void kb_index_free(kb_index *x);

/* ---- symbol chunks (decoded) ------------------------------------------------------ */

typedef struct kb_symchunk {
    uint32_t first; /* id of entry 0 (strings: 0-based; others: 1-based ids) */
    uint32_t n;
    /* by section: */
    const char **str;   /* strings (NUL-terminated, point into raw) */
    kb_mapping *map;
    kb_function *fn;
    kb_location *loc;   /* lines point into `lines` */
    kiln_block_line *lines;
    uint32_t *parent, *nloc;
    uint8_t *raw;       /* owned: the decompressed bytes (strings point into it) */
} kb_symchunk;

/* Decodes one symbol chunk of section `sec` holding entries [first, first+n). */
int kb_symchunk_decode(int sec, const uint8_t *raw, size_t rlen, uint32_t first, uint32_t n,
                       kb_symchunk *c, kiln_err *err);
void kb_symchunk_free(kb_symchunk *c);
/* Encodes entries [first, first + n) of section sec of a symtab (raw, not compressed). */
void kb_symchunk_encode(const kb_symtab *s, int sec, uint32_t first, uint32_t n, kb_buf *out);

/* ---- sample chunks ------------------------------------------------------------------- */

/* One profile as the chunk encoder sees it. */
typedef struct kb_prof_in {
    int64_t time, dur;
    const uint32_t *stack;
    const int64_t *value;
    const uint64_t *span; /* may be NULL */
    size_t n;
} kb_prof_in;

/* Encodes profiles (sorted by time) into a raw chunk. Samples of each
 * profile are sorted by (stack, span) and equal ones summed; *n_samp gets
 * the samples written. */
int kb_chunk_encode(const kb_prof_in *p, size_t n, kb_buf *out, uint64_t *n_samp,
                    int64_t *min_t, int64_t *max_t, kiln_err *err);
/* Decodes a raw chunk, appending to *o (arrays grown with realloc). */
int kb_chunk_decode(const uint8_t *raw, size_t rlen, int want_samples, int64_t from, int64_t to,
                    uint64_t expect_prof, uint64_t expect_samp, kiln_block_samples *o,
                    kiln_err *err);

/* ---- the block writer ------------------------------------------------------------------ */

typedef struct kb_writer kb_writer;

typedef struct kb_series_in {
    size_t n_labels;
    const char *const *names; /* sorted by name, unique */
    const char *const *values;
    size_t n_prof;
    const kb_prof_in *prof; /* sorted by time */
} kb_series_in;

/* Starts a block. tmp_dir holds the samples scratch file. */
int kb_writer_new(kiln_objstore *os, const char *tenant, const char *id, const char *tmp_dir,
                  kb_writer **out, kiln_err *err);
/* Adds a series; calls must come in label order (kb_labels_cmp). */
int kb_writer_series(kb_writer *w, const kb_series_in *s, kiln_err *err);
/* Writes symbols, samples, index, then the meta (fields filled here:
 * version, id, tenant, counts, times, files, created; the caller's
 * level, sources, parents and source are taken from `m`). */
int kb_writer_finish(kb_writer *w, const kb_symtab *syms, kiln_block_meta *m, kiln_err *err);
void kb_writer_abort(kb_writer *w);

/* Compares two sorted label arrays as the index orders series. */
int kb_labels_cmp(size_t na, const char *const *an, const char *const *av, size_t nb,
                  const char *const *bn, const char *const *bv);

/* ---- the reader ------------------------------------------------------------------------- */

struct kiln_block {
    kiln_block_meta meta;
    kb_index idx;
    kiln_objstore *os;     /* NULL for a head view */
    kiln_head *head;       /* head views */
    pthread_mutex_t mu;    /* lazy loads */
    kb_symchunk **cache[KB_NSYM];
    uint8_t *cache_bad[KB_NSYM];
    uint32_t head_nseries; /* head views: series visible to the view */
    uint32_t *head_map;    /* head views: view series -> head series */
};

/* Head internals the view needs (block_head.c). */
int kb_head_view_index(kiln_head *h, kb_index *x, uint32_t **map, kiln_err *err);
int kb_head_read_samples(kiln_head *h, uint32_t hs, int64_t from, int64_t to, int want_samples,
                         kiln_block_samples *out, kiln_err *err);
int kb_head_sym(kiln_head *h, int sec, uint32_t id, void *out, kiln_err *err);

/* Loads symbol chunks [a, b] of a section (one coalesced range GET per run). */
int kb_block_load_chunks(kiln_block *b, int sec, const uint32_t *chunks, size_t n, kiln_err *err);

/* Test hook for the crash tests: when $KILN_BLOCKS_CRASH_POINT names this
 * point, log it to stderr and sleep 5 s so the test can kill -9 there. */
void kb_crash_point(const char *name);

#pragma GCC visibility pop

#endif
