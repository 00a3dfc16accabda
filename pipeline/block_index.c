/* pipeline/block_index.c — decoding index.bin (FORMAT.md, "index.bin").
 *
 * index.bin = "KLNI", u32le version, u32le flags (0), u64le raw length,
 * u32le crc32 of the zstd frame, then one zstd frame whose raw bytes are
 * sections, each `uv tag, uv length, bytes`: STRINGS (1), SERIES (2),
 * CHUNKS (3), POSTINGS (4), SYMBOLS (5), in that order; unknown tags after
 * them are skipped (room for later minor versions).
 *
 * Memory: everything decoded lives in the kb_index's arena (kb_index_free).
 */
#include "block_internal.h"

#define BAD(...)                                                                                   \
    do {                                                                                           \
        rc = kiln_err_set(err, KILN_EINVAL, "index.bin: " __VA_ARGS__);                            \
        goto fail;                                                                                 \
    } while (0)

void kb_index_free(kb_index *x)
{
    kiln_arena_destroy(x->arena);
    memset(x, 0, sizeof *x);
}

static void *acalloc(kiln_arena *a, size_t n, size_t sz)
{
    if (n && sz > SIZE_MAX / n) return NULL;
    size_t bytes = n * sz;
    return kiln_arena_calloc(a, bytes ? bytes : 1);
}

static int dec_chunk_loc(kb_rd *r, uint64_t obj_size, kb_chunk_loc *c)
{
    if (kb_rd_uv(r, &c->off) || kb_rd_uv(r, &c->clen) || kb_rd_uvmax(r, KB_MAX_RAW, &c->rlen) ||
        kb_rd_u32le(r, &c->crc))
        return -1;
    if (c->clen > UINT64_MAX - c->off) return -1;
    if (obj_size && c->off + c->clen > obj_size) return -1;
    return 0;
}

int kb_index_decode(const uint8_t *data, size_t len, uint64_t symbols_size, uint64_t samples_size,
                    kb_index *x, kiln_err *err)
{
    int rc = KILN_OK;
    uint8_t *raw = NULL;
    memset(x, 0, sizeof *x);
    if (len < KB_INDEX_HDR || memcmp(data, KB_INDEX_MAGIC, 4) != 0)
        return kiln_err_set(err, KILN_EINVAL, "index.bin: bad magic (not a kiln block index)");
    kb_rd h;
    kb_rd_init(&h, data + 4, KB_INDEX_HDR - 4);
    uint32_t version, flags, crc;
    uint64_t raw_len;
    kb_rd_u32le(&h, &version);
    kb_rd_u32le(&h, &flags);
    kb_rd_u64le(&h, &raw_len);
    kb_rd_u32le(&h, &crc);
    if (version != KILN_BLOCK_FORMAT_VERSION)
        return kiln_err_set(err, KILN_EINVAL, "index.bin: format version %u, this kiln reads %d",
                            version, KILN_BLOCK_FORMAT_VERSION);
    if (kb_crc32(data + KB_INDEX_HDR, len - KB_INDEX_HDR) != crc)
        return kiln_err_set(err, KILN_EINVAL, "index.bin: checksum mismatch (corrupt object)");
    rc = kb_zstd_decompress(data + KB_INDEX_HDR, len - KB_INDEX_HDR, raw_len, &raw, err);
    if (rc != KILN_OK) {
        kiln_err_prefix(err, "index.bin");
        return rc;
    }
    x->arena = kiln_arena_new(64 * 1024);
    if (!x->arena) {
        free(raw);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    kb_rd r;
    kb_rd_init(&r, raw, raw_len);
    int want = KB_SEC_STRINGS;
    while (kb_rd_left(&r)) {
        uint64_t tag, slen;
        const uint8_t *sp;
        if (kb_rd_uv(&r, &tag) || kb_rd_uv(&r, &slen) || kb_rd_bytes(&r, slen, &sp))
            BAD("truncated section header");
        if (tag > KB_SEC_SYMBOLS && want > KB_SEC_SYMBOLS) continue; /* later versions' sections */
        if (tag != (uint64_t)want) BAD("section %llu where %d was expected", (unsigned long long)tag, want);
        want++;
        kb_rd s;
        kb_rd_init(&s, sp, slen);
        uint64_t n;
        switch (tag) {
        case KB_SEC_STRINGS: {
            if (kb_rd_uvmax(&s, slen, &n) || n > UINT32_MAX) BAD("bad string count");
            x->n_str = (uint32_t)n;
            x->str = acalloc(x->arena, n, sizeof *x->str);
            if (!x->str) goto oom;
            const uint8_t *prev = NULL;
            uint64_t prev_len = 0;
            for (uint64_t i = 0; i < n; i++) {
                uint64_t l;
                const uint8_t *b;
                if (kb_rd_uvmax(&s, slen, &l) || kb_rd_bytes(&s, l, &b)) BAD("truncated string %llu", (unsigned long long)i);
                if (memchr(b, 0, l)) BAD("string %llu holds a NUL byte", (unsigned long long)i);
                if (i > 0) {
                    size_t m = l < prev_len ? l : prev_len;
                    int c = memcmp(prev, b, m);
                    if (c > 0 || (c == 0 && prev_len >= l)) BAD("strings not sorted at %llu", (unsigned long long)i);
                }
                char *c = kiln_arena_strndup(x->arena, (const char *)b, l);
                if (!c) goto oom;
                x->str[i] = c;
                prev = b;
                prev_len = l;
            }
            break;
        }
        case KB_SEC_SERIES: {
            if (kb_rd_uvmax(&s, slen, &n) || n > UINT32_MAX) BAD("bad series count");
            x->n_series = (uint32_t)n;
            x->series = acalloc(x->arena, n, sizeof *x->series);
            if (!x->series) goto oom;
            for (uint64_t i = 0; i < n; i++) {
                kb_series_ent *e = &x->series[i];
                uint64_t nl;
                if (kb_rd_uvmax(&s, KB_MAX_LABELS, &nl)) BAD("series %llu: bad label count", (unsigned long long)i);
                e->n_labels = (uint32_t)nl;
                e->names = acalloc(x->arena, nl, sizeof *e->names);
                e->values = acalloc(x->arena, nl, sizeof *e->values);
                e->name_id = acalloc(x->arena, nl, sizeof *e->name_id);
                e->value_id = acalloc(x->arena, nl, sizeof *e->value_id);
                if (!e->names || !e->values || !e->name_id || !e->value_id) goto oom;
                for (uint64_t j = 0; j < nl; j++) {
                    uint64_t a, b;
                    if (kb_rd_uvmax(&s, x->n_str ? x->n_str - 1 : 0, &a) ||
                        kb_rd_uvmax(&s, x->n_str ? x->n_str - 1 : 0, &b) || !x->n_str)
                        BAD("series %llu: bad label string id", (unsigned long long)i);
                    if (j > 0 && a <= e->name_id[j - 1]) BAD("series %llu: labels not sorted", (unsigned long long)i);
                    e->name_id[j] = (uint32_t)a;
                    e->value_id[j] = (uint32_t)b;
                    e->names[j] = x->str[a];
                    e->values[j] = x->str[b];
                }
                uint64_t span, fc, nc;
                if (kb_rd_sv(&s, &e->min_t) || kb_rd_uv(&s, &span) || kb_rd_uv(&s, &e->n_prof) ||
                    kb_rd_uv(&s, &e->n_samp) || kb_rd_uvmax(&s, UINT32_MAX, &fc) ||
                    kb_rd_uvmax(&s, UINT32_MAX, &nc))
                    BAD("series %llu: truncated", (unsigned long long)i);
                e->max_t = (int64_t)((uint64_t)e->min_t + span);
                if (e->max_t < e->min_t) BAD("series %llu: bad time range", (unsigned long long)i);
                e->first_chunk = (uint32_t)fc;
                e->n_chunks = (uint32_t)nc;
                if (i > 0 && kb_labels_cmp(x->series[i - 1].n_labels, x->series[i - 1].names,
                                           x->series[i - 1].values, e->n_labels, e->names,
                                           e->values) >= 0)
                    BAD("series %llu not in label order", (unsigned long long)i);
            }
            break;
        }
        case KB_SEC_CHUNKS:
            if (kb_rd_uvmax(&s, slen, &n) || n > UINT32_MAX) BAD("bad chunk count");
            x->n_chunks = (uint32_t)n;
            x->chunks = acalloc(x->arena, n, sizeof *x->chunks);
            if (!x->chunks) goto oom;
            for (uint64_t i = 0; i < n; i++) {
                kb_sample_chunk *c = &x->chunks[i];
                uint64_t span;
                if (kb_rd_sv(&s, &c->min_t) || kb_rd_uv(&s, &span) || kb_rd_uv(&s, &c->n_prof) ||
                    kb_rd_uv(&s, &c->n_samp) || dec_chunk_loc(&s, samples_size, &c->loc))
                    BAD("chunk %llu: bad entry", (unsigned long long)i);
                c->max_t = (int64_t)((uint64_t)c->min_t + span);
                if (c->max_t < c->min_t) BAD("chunk %llu: bad time range", (unsigned long long)i);
            }
            break;
        case KB_SEC_POSTINGS:
            if (kb_rd_uvmax(&s, slen, &n) || n > UINT32_MAX) BAD("bad postings count");
            x->n_post = (uint32_t)n;
            x->post = acalloc(x->arena, n, sizeof *x->post);
            if (!x->post) goto oom;
            for (uint64_t i = 0; i < n; i++) {
                kb_posting *p = &x->post[i];
                uint64_t a, b, c;
                if (!x->n_str || kb_rd_uvmax(&s, x->n_str - 1, &a) ||
                    kb_rd_uvmax(&s, x->n_str - 1, &b) || kb_rd_uvmax(&s, x->n_series, &c) || c == 0)
                    BAD("postings %llu: bad entry", (unsigned long long)i);
                if (i > 0 && (a < x->post[i - 1].name ||
                              (a == x->post[i - 1].name && b <= x->post[i - 1].value)))
                    BAD("postings not sorted at %llu", (unsigned long long)i);
                p->name = (uint32_t)a;
                p->value = (uint32_t)b;
                p->n = (uint32_t)c;
                p->ids = acalloc(x->arena, c, sizeof *p->ids);
                if (!p->ids) goto oom;
                uint64_t prev = 0;
                for (uint64_t j = 0; j < c; j++) {
                    uint64_t d;
                    if (kb_rd_uv(&s, &d)) BAD("postings %llu: truncated", (unsigned long long)i);
                    if (j > 0 && d == 0) BAD("postings %llu: ids not increasing", (unsigned long long)i);
                    prev += d;
                    if (prev >= x->n_series) BAD("postings %llu: series id out of range", (unsigned long long)i);
                    p->ids[j] = (uint32_t)prev;
                }
            }
            break;
        case KB_SEC_SYMBOLS:
            for (int k = 0; k < KB_NSYM; k++) {
                kb_symsec *y = &x->sym[k];
                uint64_t pc, nc;
                if (kb_rd_uvmax(&s, UINT32_MAX - 1, &y->n) || kb_rd_uvmax(&s, 1u << 24, &pc) ||
                    pc == 0 || kb_rd_uvmax(&s, slen, &nc))
                    BAD("symbols %s: bad table", kb_sym_names[k]);
                if (nc != (y->n + pc - 1) / pc) BAD("symbols %s: %llu chunks for %llu entries", kb_sym_names[k], (unsigned long long)nc, (unsigned long long)y->n);
                y->per_chunk = (uint32_t)pc;
                y->n_chunks = (uint32_t)nc;
                y->chunks = acalloc(x->arena, nc, sizeof *y->chunks);
                if (!y->chunks) goto oom;
                for (uint64_t i = 0; i < nc; i++)
                    if (dec_chunk_loc(&s, symbols_size, &y->chunks[i]))
                        BAD("symbols %s: bad chunk %llu", kb_sym_names[k], (unsigned long long)i);
            }
            if (x->sym[KB_SYM_STRINGS].n == 0) BAD("symbols: no string table");
            break;
        }
        if (s.bad) BAD("section %llu truncated", (unsigned long long)tag);
        if (kb_rd_left(&s)) BAD("section %llu: trailing bytes", (unsigned long long)tag);
    }
    if (r.bad) BAD("truncated");
    if (want <= KB_SEC_SYMBOLS) BAD("section %d missing", want);
    /* cross checks: each series' chunks exist, are in time order and add up */
    for (uint32_t i = 0; i < x->n_series; i++) {
        kb_series_ent *e = &x->series[i];
        if ((uint64_t)e->first_chunk + e->n_chunks > x->n_chunks) BAD("series %u: chunks out of range", i);
        uint64_t np = 0, ns = 0;
        for (uint32_t j = 0; j < e->n_chunks; j++) {
            const kb_sample_chunk *c = &x->chunks[e->first_chunk + j];
            if (j > 0 && c->min_t < x->chunks[e->first_chunk + j - 1].max_t) BAD("series %u: chunks overlap in time", i);
            if (c->min_t < e->min_t || c->max_t > e->max_t) BAD("series %u: chunk outside the series' time range", i);
            np += c->n_prof;
            ns += c->n_samp;
        }
        if (np != e->n_prof || ns != e->n_samp) BAD("series %u: chunk counts do not add up", i);
    }
    free(raw);
    return KILN_OK;
oom:
    rc = kiln_err_set(err, KILN_ENOMEM, "index.bin: out of memory");
fail:
    free(raw);
    kb_index_free(x);
    return rc;
}
