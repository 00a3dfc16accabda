/* tests/fuzz/fuzz_block_samples.c — sample chunk decoding, and the chunk
 * encoder: byte 0 selects the mode. Decode mode: the rest is a raw chunk
 * (its own header's counts are passed as the index's), read with and
 * without samples over a time range from bytes 1-2. Encode mode: the
 * bytes become profiles (stack, value, span triples), are encoded, decoded
 * and must come back with the same per-profile totals. */
#include <stdlib.h>
#include <string.h>

#include "block_internal.h"

static int decode_mode(const uint8_t *d, size_t n)
{
    kb_rd r;
    kb_rd_init(&r, d, n);
    uint64_t np, ns;
    if (kb_rd_uv(&r, &np) || kb_rd_uv(&r, &ns)) return 0;
    kiln_err err;
    for (int want = 0; want < 2; want++) {
        kiln_block_samples s;
        memset(&s, 0, sizeof s);
        int64_t from = want ? INT64_MIN : -1000, to = want ? INT64_MAX : 1000;
        if (kb_chunk_decode(d, n, want, from, to, np, ns, &s, &err) == KILN_OK) {
            if (s.n_profiles > np) abort();
            if (want && s.sample_off[s.n_profiles] != s.n_samples) abort();
        }
        kiln_block_samples_free(&s);
    }
    return 0;
}

static int encode_mode(const uint8_t *d, size_t n)
{
    size_t np = n ? (size_t)(d[0] % 8) + 1 : 1;
    size_t nt = n / 6;
    uint32_t *stack = malloc((nt + 1) * sizeof *stack);
    int64_t *value = malloc((nt + 1) * sizeof *value);
    uint64_t *span = malloc((nt + 1) * sizeof *span);
    kb_prof_in p[8];
    for (size_t i = 0; i < nt; i++) {
        const uint8_t *t = d + 6 * i;
        stack[i] = (uint32_t)t[0] | (uint32_t)t[1] << 8;
        value[i] = (int64_t)(int16_t)((uint16_t)t[2] | (uint16_t)t[3] << 8) * 10000000;
        span[i] = t[4] & 1 ? t[5] : 0;
    }
    size_t per = nt / np, k = 0;
    for (size_t i = 0; i < np; i++) {
        size_t c = i + 1 == np ? nt - k : per;
        p[i] = (kb_prof_in){(int64_t)i * 15, 10, stack + k, value + k, span + k, c};
        k += c;
    }
    kb_buf b = {0};
    uint64_t ns;
    int64_t mn, mx;
    kiln_err err;
    if (kb_chunk_encode(p, np, &b, &ns, &mn, &mx, &err) != KILN_OK) abort();
    kiln_block_samples s;
    memset(&s, 0, sizeof s);
    if (kb_chunk_decode(b.p, b.n, 1, INT64_MIN, INT64_MAX, np, ns, &s, &err) != KILN_OK) abort();
    if (s.n_profiles != np) abort();
    for (size_t i = 0; i < np; i++) {
        uint64_t want = 0, got = 0;
        for (size_t j = 0; j < p[i].n; j++) want += (uint64_t)p[i].value[j];
        for (uint64_t j = s.sample_off[i]; j < s.sample_off[i + 1]; j++) got += (uint64_t)s.value[j];
        if (want != got || (uint64_t)s.total[i] != want) abort();
    }
    kiln_block_samples_free(&s);
    kb_buf_free(&b);
    free(stack);
    free(value);
    free(span);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (!len) return 0;
    return data[0] & 1 ? encode_mode(data + 1, len - 1) : decode_mode(data + 1, len - 1);
}
