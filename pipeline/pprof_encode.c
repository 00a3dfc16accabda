/* pipeline/pprof_encode.c — kiln_pprof_encode: protobuf-c pack of the model,
 * optionally gzip'ed with libdeflate (see include/kiln/pprof.h).
 *
 * Memory: *out is malloc'ed and owned by the caller; the intermediate plain
 * buffer (when gzip'ing) and the compressor are freed here.
 */
#include <kiln/pprof.h>

#include <libdeflate.h>
#include <stdlib.h>

int kiln_pprof_encode(const kiln_pprof *p, int gzip_level, uint8_t **out, size_t *out_len,
                      kiln_err *err)
{
    if (!p) return kiln_err_set(err, KILN_EINVAL, "pprof encode: profile is NULL");
    if (gzip_level < 0 || gzip_level > 12)
        return kiln_err_set(err, KILN_EINVAL, "pprof encode: gzip level %d not in 0..12", gzip_level);
    size_t n = perftools__profiles__profile__get_packed_size(p);
    uint8_t *plain = malloc(n ? n : 1);
    if (!plain) return kiln_err_set(err, KILN_ENOMEM, "pprof encode: out of memory (%zu bytes)", n);
    size_t w = perftools__profiles__profile__pack(p, plain);
    if (w != n) {
        free(plain);
        return kiln_err_set(err, KILN_ERR, "pprof encode: packed %zu bytes, expected %zu", w, n);
    }
    if (gzip_level == 0) {
        *out = plain;
        *out_len = n;
        return KILN_OK;
    }
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(gzip_level);
    if (!c) {
        free(plain);
        return kiln_err_set(err, KILN_ENOMEM, "pprof encode: cannot allocate a gzip compressor");
    }
    size_t bound = libdeflate_gzip_compress_bound(c, n);
    uint8_t *gz = malloc(bound);
    size_t gn = gz ? libdeflate_gzip_compress(c, plain, n, gz, bound) : 0;
    libdeflate_free_compressor(c);
    free(plain);
    if (!gn) {
        free(gz);
        return kiln_err_set(err, KILN_ENOMEM, "pprof encode: gzip failed (out of memory?)");
    }
    *out = gz;
    *out_len = gn;
    return KILN_OK;
}
