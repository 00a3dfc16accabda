/* processors/sampling/sampling_scale.c — `scale_values`: a kept profile's
 * sample values multiplied by 100/percentage, so that sums over the kept
 * profiles estimate the sums over all of them without bias. Also the
 * go-humanize style byte formatting used in rate-limit messages.
 *
 * The shared payload is never written: the profile is decoded afresh from
 * the payload's uncompressed bytes into an arena this file creates, scaled
 * there, and wrapped in a new payload that takes the arena.
 *
 * Memory: kiln_sampling_scale_payload returns a new payload the caller owns
 * (one reference); on failure nothing stays allocated.
 */
#include "sampling.h"

#include <stdio.h>

int64_t kiln_sampling_scale_value(int64_t v, double percentage)
{
    if (percentage >= 100.0 || v == 0) return v;
    if (percentage <= 0) return v; /* nothing is kept at 0%: never called then */
    double whole = (double)(int64_t)percentage;
    if (whole == percentage && percentage >= 1) {
        __int128 num = (__int128)v * 100;
        __int128 d = (__int128)(int64_t)whole;
        __int128 q = (num + (num >= 0 ? d / 2 : -(d / 2))) / d;
        if (q > INT64_MAX) return INT64_MAX;
        if (q < INT64_MIN) return INT64_MIN;
        return (int64_t)q;
    }
    long double r = (long double)v * 100.0L / (long double)percentage;
    if (r >= 9223372036854775807.0L) return INT64_MAX;
    if (r <= -9223372036854775808.0L) return INT64_MIN;
    return (int64_t)(r >= 0 ? r + 0.5L : r - 0.5L);
}

int kiln_sampling_scale_payload(kiln_payload *src, double percentage, kiln_payload **out,
                                kiln_err *err)
{
    *out = NULL;
    if (kiln_payload_format(src) != KILN_FMT_PPROF)
        return kiln_err_set(err, KILN_EUNPROC, "sampling: scale_values needs a pprof payload, got %s",
                            kiln_format_name(kiln_payload_format(src)));
    const uint8_t *raw;
    size_t len;
    int rc = kiln_payload_raw(src, &raw, &len, err);
    if (rc != KILN_OK) return rc;
    kiln_arena *a = kiln_arena_new(len * 4 + 4096);
    if (!a) return kiln_err_set(err, KILN_ENOMEM, "sampling: out of memory scaling a profile");
    kiln_pprof *p = NULL;
    rc = kiln_pprof_decode(a, raw, len, NULL, &p, err);
    if (rc != KILN_OK) {
        kiln_arena_destroy(a);
        kiln_err_prefix(err, "sampling: scale_values");
        return rc;
    }
    for (size_t i = 0; i < p->n_sample; i++) {
        kiln_pprof_sample *s = p->sample[i];
        for (size_t k = 0; k < s->n_value; k++)
            s->value[k] = kiln_sampling_scale_value(s->value[k], percentage);
    }
    kiln_payload *pl = kiln_payload_from_pprof(a, p);
    if (!pl) {
        kiln_arena_destroy(a);
        return kiln_err_set(err, KILN_ENOMEM, "sampling: out of memory scaling a profile");
    }
    kiln_payload_inherit(pl, src);
    *out = pl;
    return KILN_OK;
}

char *kiln_sampling_ibytes(uint64_t n, char *buf, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (n < 10) {
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
        return buf;
    }
    /* go-humanize: e = floor(log_1024(n)); value n/1024^e rounded to one
     * decimal below 10, to a whole number from 10 on */
    double v = (double)n;
    size_t e = 0;
    while (v >= 1024.0 && e + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        e++;
    }
    double r = (double)(uint64_t)(v * 10 + 0.5) / 10;
    if (r < 10)
        snprintf(buf, cap, "%.1f %s", r, units[e]);
    else
        snprintf(buf, cap, "%.0f %s", r, units[e]);
    return buf;
}
