/* tests/fuzz/fuzz_block_wal.c — WAL segment replay: header, records,
 * checksums, torn tails. Odd first byte: the rest is used as one record
 * body behind a correct header and record checksum (so the body parser
 * sees the fuzzed bytes); even: the rest is a whole segment. */
#include <stdlib.h>
#include <string.h>

#include "block_internal.h"

static int on_profile(const kiln_wal_profile *p, void *arg)
{
    size_t *n = arg;
    *n += p->len + (p->labels ? p->labels->n : 0);
    return KILN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (!len) return 0;
    kiln_wal_header h;
    kiln_wal_replay_result res;
    kiln_err err;
    size_t n = 0;
    if (data[0] & 1) {
        kb_buf hdr = {0}, b = {0};
        kb_buf_str(&hdr, "t", 1);
        kb_buf_put(&hdr, "01M80R0BVB16BC40K7RT79F6M2", 26);
        kb_buf_sv(&hdr, 1);
        kb_buf_put(&b, "KLNW", 4);
        kb_buf_u32le(&b, 1);
        kb_buf_u32le(&b, (uint32_t)hdr.n);
        kb_buf_put(&b, hdr.p, hdr.n);
        kb_buf_u32le(&b, kb_crc32(hdr.p, hdr.n));
        kb_buf_u32le(&b, (uint32_t)(len - 1));
        kb_buf_u32le(&b, kb_crc32(data + 1, len - 1));
        kb_buf_put(&b, data + 1, len - 1);
        if (kiln_wal_replay_buf(b.p, b.n, &h, on_profile, &n, &res, &err) == KILN_OK &&
            res.valid_end > b.n)
            abort();
        kb_buf_free(&hdr);
        kb_buf_free(&b);
        return 0;
    }
    if (kiln_wal_replay_buf(data + 1, len - 1, &h, on_profile, &n, &res, &err) == KILN_OK &&
        res.valid_end > len - 1)
        abort();
    return 0;
}
