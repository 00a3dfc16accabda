/* tests/fuzz/fuzz_block_meta.c — meta.json decoding (the block's JSON
 * parser): any input either fails cleanly or decodes into a meta that
 * encodes and decodes again to the same values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/blocks.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    kiln_block_meta m;
    kiln_err err;
    if (kiln_block_meta_decode(data, len, &m, &err) != KILN_OK) return 0;
    char *json;
    size_t jl;
    if (kiln_block_meta_encode(&m, &json, &jl, &err) != KILN_OK) abort();
    kiln_block_meta m2;
    if (kiln_block_meta_decode((const uint8_t *)json, jl, &m2, &err) != KILN_OK) {
        fprintf(stderr, "re-decode failed: %s\n%s\n", err.msg, json);
        abort();
    }
    if (strcmp(m.id, m2.id) || strcmp(m.tenant, m2.tenant) || m.min_time_ns != m2.min_time_ns ||
        m.max_time_ns != m2.max_time_ns || m.n_samples != m2.n_samples || m.level != m2.level ||
        m.n_sources != m2.n_sources || m.files[2].crc32 != m2.files[2].crc32)
        abort();
    free(json);
    kiln_block_meta_free(&m);
    kiln_block_meta_free(&m2);
    return 0;
}
