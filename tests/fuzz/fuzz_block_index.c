/* tests/fuzz/fuzz_block_index.c — index.bin decoding: the header,
 * checksum, zstd frame and every section. The checksum would stop almost
 * every mutation at the door, so half of the inputs get a correct header
 * and checksum computed here (first byte odd): then the section decoders
 * themselves see the fuzzed bytes (as raw zstd-compressed content). */
#include <stdlib.h>
#include <string.h>

#include "block_internal.h"

static void walk(const kb_index *x)
{
    volatile uint64_t sink = 0;
    for (uint32_t i = 0; i < x->n_series; i++)
        for (uint32_t j = 0; j < x->series[i].n_labels; j++)
            sink += strlen(x->series[i].names[j]) + strlen(x->series[i].values[j]);
    for (uint32_t i = 0; i < x->n_post; i++)
        for (uint32_t j = 0; j < x->post[i].n; j++) sink += x->series[x->post[i].ids[j]].n_prof;
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    kb_index x;
    kiln_err err;
    if (len && (data[0] & 1)) {
        /* wrap data[1..] as the raw sections of a well-formed index */
        uint8_t *z;
        size_t zn;
        if (kb_zstd_compress(data + 1, len - 1, 1, &z, &zn, &err) != KILN_OK) return 0;
        kb_buf b = {0};
        kb_buf_put(&b, KB_INDEX_MAGIC, 4);
        kb_buf_u32le(&b, KILN_BLOCK_FORMAT_VERSION);
        kb_buf_u32le(&b, 0);
        kb_buf_u64le(&b, len - 1);
        kb_buf_u32le(&b, kb_crc32(z, zn));
        kb_buf_put(&b, z, zn);
        free(z);
        if (kb_index_decode(b.p, b.n, 1u << 20, 1u << 20, &x, &err) == KILN_OK) {
            walk(&x);
            kb_index_free(&x);
        }
        kb_buf_free(&b);
        return 0;
    }
    if (kb_index_decode(data, len, 0, 0, &x, &err) == KILN_OK) {
        walk(&x);
        kb_index_free(&x);
    }
    return 0;
}
