/* pipeline/block_enc.c — the byte-level tools of the block format: growable
 * buffers, LEB128 and zigzag varints, a bounds-checked reader, crc32 (zlib),
 * zstd frames, a byte hash and the open-addressing id table (kb_map).
 *
 * Memory: kb_buf owns its bytes; kb_zstd_* return malloc'ed buffers the
 * caller frees; kb_map owns its two arrays.
 */
#include "block_internal.h"

#include <zlib.h>
#include <zstd.h>

/* ---- buffers -------------------------------------------------------------- */

int kb_buf_reserve(kb_buf *b, size_t extra)
{
    if (b->oom) return -1;
    if (b->n + extra <= b->cap) return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->n + extra) {
        if (nc > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        nc *= 2;
    }
    uint8_t *np = realloc(b->p, nc);
    if (!np) {
        b->oom = 1;
        return -1;
    }
    b->p = np;
    b->cap = nc;
    return 0;
}

void kb_buf_put(kb_buf *b, const void *p, size_t n)
{
    if (!n || kb_buf_reserve(b, n)) return;
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

void kb_buf_u8(kb_buf *b, uint8_t v)
{
    if (kb_buf_reserve(b, 1)) return;
    b->p[b->n++] = v;
}

void kb_buf_u32le(kb_buf *b, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    kb_buf_put(b, t, 4);
}

void kb_buf_u64le(kb_buf *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++) t[i] = (uint8_t)(v >> (8 * i));
    kb_buf_put(b, t, 8);
}

void kb_buf_uv(kb_buf *b, uint64_t v)
{
    if (kb_buf_reserve(b, 10)) return;
    uint8_t *p = b->p + b->n;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->n = (size_t)(p - b->p);
}

void kb_buf_sv(kb_buf *b, int64_t v) { kb_buf_uv(b, kb_zz(v)); }

void kb_buf_str(kb_buf *b, const char *s, size_t n)
{
    kb_buf_uv(b, n);
    kb_buf_put(b, s, n);
}

void kb_buf_free(kb_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- reader ------------------------------------------------------------------ */

int kb_rd_uv(kb_rd *r, uint64_t *v)
{
    if (r->bad) return -1;
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) break;
        uint8_t c = *r->p++;
        if (shift == 63 && c > 1) break;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    r->bad = 1;
    return -1;
}

int kb_rd_sv(kb_rd *r, int64_t *v)
{
    uint64_t u;
    if (kb_rd_uv(r, &u)) return -1;
    *v = kb_unzz(u);
    return 0;
}

int kb_rd_uvmax(kb_rd *r, uint64_t max, uint64_t *v)
{
    if (kb_rd_uv(r, v)) return -1;
    if (*v > max) {
        r->bad = 1;
        return -1;
    }
    return 0;
}

int kb_rd_u32le(kb_rd *r, uint32_t *v)
{
    if (r->bad || kb_rd_left(r) < 4) {
        r->bad = 1;
        return -1;
    }
    const uint8_t *p = r->p;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    r->p += 4;
    return 0;
}

int kb_rd_u64le(kb_rd *r, uint64_t *v)
{
    if (r->bad || kb_rd_left(r) < 8) {
        r->bad = 1;
        return -1;
    }
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    *v = x;
    return 0;
}

int kb_rd_bytes(kb_rd *r, size_t n, const uint8_t **p)
{
    if (r->bad || kb_rd_left(r) < n) {
        r->bad = 1;
        return -1;
    }
    *p = r->p;
    r->p += n;
    return 0;
}

/* ---- crc32 ------------------------------------------------------------------------ */

uint32_t kb_crc32_update(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    uLong c = crc;
    while (n) {
        uInt step = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, step);
        b += step;
        n -= step;
    }
    return (uint32_t)c;
}

uint32_t kb_crc32(const void *p, size_t n) { return kb_crc32_update(0, p, n); }

/* ---- zstd ---------------------------------------------------------------------------- */

int kb_zstd_compress(const uint8_t *src, size_t n, int level, uint8_t **out, size_t *out_n,
                     kiln_err *err)
{
    size_t cap = ZSTD_compressBound(n);
    uint8_t *dst = malloc(cap ? cap : 1);
    if (!dst) return kiln_err_set(err, KILN_ENOMEM, "out of memory compressing %zu bytes", n);
    size_t r = ZSTD_compress(dst, cap, src, n, level);
    if (ZSTD_isError(r)) {
        free(dst);
        return kiln_err_set(err, KILN_ERR, "zstd: %s", ZSTD_getErrorName(r));
    }
    *out = dst;
    *out_n = r;
    return KILN_OK;
}

int kb_zstd_decompress(const uint8_t *src, size_t n, size_t raw_n, uint8_t **out, kiln_err *err)
{
    if (raw_n > KB_MAX_RAW)
        return kiln_err_set(err, KILN_EINVAL, "raw size %zu over the limit %u", raw_n, KB_MAX_RAW);
    unsigned long long fs = ZSTD_getFrameContentSize(src, n);
    if (fs == ZSTD_CONTENTSIZE_ERROR)
        return kiln_err_set(err, KILN_EINVAL, "not a zstd frame (%zu bytes)", n);
    if (fs != ZSTD_CONTENTSIZE_UNKNOWN && fs != raw_n)
        return kiln_err_set(err, KILN_EINVAL, "zstd frame holds %llu bytes, index says %zu", fs,
                            raw_n);
    uint8_t *dst = malloc(raw_n + 1); /* +1: strings chunks are NUL-terminated in place */
    if (!dst) return kiln_err_set(err, KILN_ENOMEM, "out of memory (%zu bytes)", raw_n);
    size_t r = ZSTD_decompress(dst, raw_n, src, n);
    if (ZSTD_isError(r) || r != raw_n) {
        free(dst);
        if (ZSTD_isError(r)) return kiln_err_set(err, KILN_EINVAL, "zstd: %s", ZSTD_getErrorName(r));
        return kiln_err_set(err, KILN_EINVAL, "zstd frame gave %zu bytes, expected %zu", r, raw_n);
    }
    dst[raw_n] = 0;
    *out = dst;
    return KILN_OK;
}

/* ---- hash --------------------------------------------------------------------------------- */

uint64_t kb_hash_bytes(const void *data, size_t n, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = seed ^ (0x9E3779B97F4A7C15ULL * (n + 1));
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ kb_mix64(v)) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, p, n);
    h = (h ^ kb_mix64(v ^ ((uint64_t)n << 56))) * 0x9E3779B97F4A7C15ULL;
    return kb_mix64(h);
}

/* ---- id table ----------------------------------------------------------------------------- */

uint32_t kb_map_find(const kb_map *m, uint32_t h, int (*eq)(const void *ctx, uint32_t id),
                     const void *ctx, size_t *slot)
{
    if (!m->cap) {
        *slot = 0;
        return 0;
    }
    size_t mask = m->cap - 1, i = h & mask;
    for (;;) {
        uint32_t id = m->id[i];
        if (!id) {
            *slot = i;
            return 0;
        }
        if (m->h[i] == h && eq(ctx, id)) {
            *slot = i;
            return id;
        }
        i = (i + 1) & mask;
    }
}

static int map_grow(kb_map *m)
{
    size_t nc = m->cap ? m->cap * 2 : 64;
    uint32_t *nid = calloc(nc, sizeof *nid), *nh = malloc(nc * sizeof *nh);
    if (!nid || !nh) {
        free(nid);
        free(nh);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->id[i]) continue;
        size_t j = m->h[i] & (nc - 1);
        while (nid[j]) j = (j + 1) & (nc - 1);
        nid[j] = m->id[i];
        nh[j] = m->h[i];
    }
    free(m->id);
    free(m->h);
    m->id = nid;
    m->h = nh;
    m->cap = nc;
    return 0;
}

int kb_map_insert(kb_map *m, size_t slot, uint32_t h, uint32_t id)
{
    if ((m->n + 1) * 10 > m->cap * 7) {
        if (map_grow(m)) return -1;
        slot = h & (m->cap - 1);
        while (m->id[slot]) slot = (slot + 1) & (m->cap - 1);
    }
    m->id[slot] = id;
    m->h[slot] = h;
    m->n++;
    return 0;
}

void kb_map_free(kb_map *m)
{
    free(m->id);
    free(m->h);
    memset(m, 0, sizeof *m);
}

size_t kb_map_bytes(const kb_map *m) { return m->cap * 8; }
