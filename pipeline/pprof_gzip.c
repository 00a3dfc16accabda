/* pipeline/pprof_gzip.c — gzip detection and whole-buffer gunzip with
 * libdeflate (kiln_is_gzip, kiln_gunzip; see include/kiln/pprof.h).
 *
 * Fast path: a single gzip member whose ISIZE trailer (the last 4 bytes) is
 * plausible is inflated straight into an arena buffer of exactly that size.
 * Otherwise (several members, a lying or wrapped ISIZE) the members are
 * inflated one after the other into a malloc'ed buffer that doubles when
 * libdeflate reports it too small (the member is then inflated again), up to
 * the caller's limit, and the result is copied into the arena.
 *
 * Memory: the output lives in the caller's arena; the libdeflate
 * decompressor and the growth buffer are freed before returning.
 */
#include <kiln/pprof.h>

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#define KILN_GUNZIP_DEFAULT_MAX ((size_t)256 << 20)
/* deflate cannot expand more than 1032:1; a larger ISIZE is a lie */
#define DEFLATE_MAX_RATIO 1032

int kiln_is_gzip(const uint8_t *data, size_t len)
{
    return len >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

static size_t read_isize(const uint8_t *in, size_t in_len)
{
    if (in_len < 18) return 0;
    const uint8_t *t = in + in_len - 4;
    return (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
}

/* The general path: member by member into a growing malloc'ed buffer. */
static int gunzip_members(struct libdeflate_decompressor *d, kiln_arena *a, const uint8_t *in,
                          size_t in_len, size_t max_out, size_t hint, uint8_t **out,
                          size_t *out_len, kiln_err *err)
{
    size_t cap = hint;
    if (cap < in_len * 4) cap = in_len * 4;
    if (cap < 4096) cap = 4096;
    if (cap > max_out) cap = max_out;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) return kiln_err_set(err, KILN_ENOMEM, "gunzip: out of memory (%zu bytes)", cap);

    size_t pos = 0, used = 0;
    unsigned member = 0;
    int rc = KILN_OK;
    while (pos < in_len) {
        if (!kiln_is_gzip(in + pos, in_len - pos)) {
            rc = kiln_err_set(err, KILN_EINVAL,
                              "gunzip: %zu bytes of trailing data at byte %zu after gzip member %u "
                              "(not a gzip header)",
                              in_len - pos, pos, member);
            goto out;
        }
        size_t in_used = 0, out_used = 0;
        enum libdeflate_result r = libdeflate_gzip_decompress_ex(
            d, in + pos, in_len - pos, buf + used, cap - used, &in_used, &out_used);
        if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
            if (cap >= max_out) {
                rc = kiln_err_set(err, KILN_ETOOBIG,
                                  "gunzip: inflated size exceeds the limit of %zu bytes (in gzip "
                                  "member %u at byte %zu)",
                                  max_out, member + 1, pos);
                goto out;
            }
            size_t ncap = cap * 2 > max_out || cap * 2 < cap ? max_out : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                rc = kiln_err_set(err, KILN_ENOMEM, "gunzip: out of memory (%zu bytes)", ncap);
                goto out;
            }
            buf = nb;
            cap = ncap;
            continue; /* inflate this member again */
        }
        if (r != LIBDEFLATE_SUCCESS) {
            rc = kiln_err_set(err, KILN_EINVAL,
                              "gunzip: corrupt gzip data in member %u starting at byte %zu "
                              "(bad header, deflate stream, CRC32 or ISIZE)",
                              member + 1, pos);
            goto out;
        }
        used += out_used;
        pos += in_used;
        member++;
    }
    uint8_t *dst = kiln_arena_alloc(a, used ? used : 1);
    if (!dst) {
        rc = kiln_err_set(err, KILN_ENOMEM, "gunzip: out of memory (%zu bytes)", used);
        goto out;
    }
    memcpy(dst, buf, used);
    *out = dst;
    *out_len = used;
out:
    free(buf);
    return rc;
}

int kiln_gunzip(kiln_arena *a, const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out,
                size_t *out_len, kiln_err *err)
{
    if (!max_out) max_out = KILN_GUNZIP_DEFAULT_MAX;
    if (!kiln_is_gzip(in, in_len))
        return kiln_err_set(err, KILN_EINVAL, "gunzip: input does not start with the gzip magic 1f 8b");
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (!d) return kiln_err_set(err, KILN_ENOMEM, "gunzip: cannot allocate a decompressor");

    int rc;
    size_t isize = read_isize(in, in_len);
    size_t plausible = in_len > SIZE_MAX / DEFLATE_MAX_RATIO ? SIZE_MAX : in_len * DEFLATE_MAX_RATIO;
    if (isize > 0 && isize <= max_out && isize <= plausible) {
        uint8_t *dst = kiln_arena_alloc(a, isize);
        if (!dst) {
            rc = kiln_err_set(err, KILN_ENOMEM, "gunzip: out of memory (%zu bytes)", isize);
            goto done;
        }
        size_t in_used = 0, out_used = 0;
        enum libdeflate_result r =
            libdeflate_gzip_decompress_ex(d, in, in_len, dst, isize, &in_used, &out_used);
        if (r == LIBDEFLATE_SUCCESS && in_used == in_len) {
            *out = dst;
            *out_len = out_used;
            rc = KILN_OK;
            goto done;
        }
        if (r == LIBDEFLATE_BAD_DATA) {
            rc = kiln_err_set(err, KILN_EINVAL,
                              "gunzip: corrupt gzip data in member 1 starting at byte 0 "
                              "(bad header, deflate stream, CRC32 or ISIZE)");
            goto done;
        }
        /* several members, or ISIZE smaller than the data: general path */
    }
    /* the trailer may also be trailing garbage: only a hint for the size */
    rc = gunzip_members(d, a, in, in_len, max_out, isize <= max_out ? isize : 0, out, out_len, err);
done:
    libdeflate_free_decompressor(d);
    return rc;
}
