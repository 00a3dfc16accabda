/* pipeline/pprof_peek.c — kiln_pprof_peek_scan: a zero-copy walk over the
 * top level of an uncompressed pprof message that learns the sample types,
 * period type, period, times, default sample type and the number of samples
 * without unpacking anything else (see include/kiln/pprof.h).
 *
 * Checks the framing and wire types of every top-level field (as the full
 * decoder does), that the string indices it needs are in range, that
 * string_table[0] is "" and that time_nanos does not appear twice (pprof's
 * "concatenated profiles"). Nested messages other than sample_type and
 * period_type are skipped, not checked.
 *
 * Memory: none allocated; the kiln_str results point into `data`. A string
 * is cut at its first NUL byte, as the full decoder cuts it.
 */
#include "pprof_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

static int perr(kiln_err *err, const uint8_t *base, const uint8_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int perr(kiln_err *err, const uint8_t *base, const uint8_t *at, const char *fmt, ...)
{
    char msg[KILN_ERR_MSG_MAX - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kiln_err_set(err, KILN_EINVAL, "pprof peek: %s at byte %zu", msg, (size_t)(at - base));
}

/* Reads the two string indices of a ValueType message. */
static int peek_vt(const uint8_t *base, const uint8_t *p, const uint8_t *end, int64_t *type,
                   int64_t *unit, const char *what, kiln_err *err)
{
    while (p < end) {
        const uint8_t *at = p;
        uint64_t k = 0, v = 0;
        if (!kp_varint(&p, end, &k) || (k >> 3) == 0 || (k >> 3) > UINT32_MAX || p - at > 5)
            return perr(err, base, at, "%s: bad field key", what);
        unsigned wt = (unsigned)(k & 7);
        uint64_t fn = k >> 3;
        if (fn == 1 || fn == 2) {
            if (wt != 0) return perr(err, base, at, "%s: field %" PRIu64 " has wire type %u, expected 0", what, fn, wt);
            if (!kp_varint(&p, end, &v)) return perr(err, base, at, "%s: bad varint", what);
            if (fn == 1)
                *type = (int64_t)v;
            else
                *unit = (int64_t)v;
        } else if (!kp_skip(&p, end, wt)) {
            return perr(err, base, at, "%s: cannot skip field %" PRIu64 " of wire type %u", what, fn, wt);
        }
    }
    return KILN_OK;
}

typedef struct want {
    int64_t idx;
    kiln_str *dst;
} want;

static int cmp_want(const void *x, const void *y)
{
    int64_t a = ((const want *)x)->idx, b = ((const want *)y)->idx;
    return a < b ? -1 : a > b;
}

int kiln_pprof_peek_scan(const uint8_t *data, size_t len, kiln_pprof_peek *out, kiln_err *err)
{
    memset(out, 0, sizeof *out);
    if (!data || !len) return kiln_err_set(err, KILN_EINVAL, "pprof peek: empty input");
    const uint8_t *p = data, *end = data + len, *first_str = NULL;
    int64_t ti[KILN_PPROF_PEEK_MAX_TYPES], ui[KILN_PPROF_PEEK_MAX_TYPES];
    int64_t pt = 0, pu = 0, dflt = 0;
    size_t n_str = 0;
    int seen_time = 0;
    while (p < end) {
        const uint8_t *at = p;
        uint64_t k = 0, v = 0;
        if (!kp_varint(&p, end, &k)) return perr(err, data, at, "truncated field key");
        uint64_t fn = k >> 3;
        unsigned wt = (unsigned)(k & 7);
        if (fn == 0 || fn > UINT32_MAX || p - at > 5)
            return perr(err, data, at, "invalid field number %" PRIu64, fn);
        switch (fn) {
        case 1: case 2: case 3: case 4: case 5: case 6: case 11: {
            if (wt != 2) return perr(err, data, at, "field %" PRIu64 " has wire type %u, expected 2", fn, wt);
            const uint8_t *lp = p;
            if (!kp_varint(&p, end, &v)) return perr(err, data, lp, "field %" PRIu64 ": truncated length", fn);
            if (v > (uint64_t)(end - p))
                return perr(err, data, lp, "field %" PRIu64 ": length %" PRIu64 " runs past the end (%zu bytes left)",
                            fn, v, (size_t)(end - p));
            const uint8_t *me = p + v;
            int rc = KILN_OK;
            if (fn == 1) {
                if (out->n_types == KILN_PPROF_PEEK_MAX_TYPES)
                    return perr(err, data, at, "more than %d sample types", KILN_PPROF_PEEK_MAX_TYPES);
                ti[out->n_types] = ui[out->n_types] = 0;
                rc = peek_vt(data, p, me, &ti[out->n_types], &ui[out->n_types], "sample_type", err);
                out->n_types++;
            } else if (fn == 2) {
                out->n_samples++;
            } else if (fn == 6) {
                if (!n_str) first_str = at;
                n_str++;
            } else if (fn == 11) {
                rc = peek_vt(data, p, me, &pt, &pu, "period_type", err);
            }
            if (rc) return rc;
            p = me;
            break;
        }
        case 13: /* comment: packed or not */
            if (wt != 0 && wt != 2) return perr(err, data, at, "comment has wire type %u", wt);
            if (!kp_skip(&p, end, wt)) return perr(err, data, at, "comment: truncated");
            break;
        case 7: case 8: case 9: case 10: case 12: case 14: case 15:
            if (wt != 0) return perr(err, data, at, "field %" PRIu64 " has wire type %u, expected 0", fn, wt);
            if (!kp_varint(&p, end, &v)) return perr(err, data, at, "field %" PRIu64 ": bad varint", fn);
            if (fn == 9) {
                if (seen_time) return perr(err, data, at, "time_nanos appears twice: concatenated profiles detected");
                if (v) seen_time = 1;
                out->time_nanos = (int64_t)v;
            } else if (fn == 10) {
                out->duration_nanos = (int64_t)v;
            } else if (fn == 12) {
                out->period = (int64_t)v;
            } else if (fn == 14) {
                dflt = (int64_t)v;
            }
            break;
        default:
            if (!kp_skip(&p, end, wt))
                return perr(err, data, at, "cannot skip unknown field %" PRIu64 " of wire type %u", fn, wt);
        }
    }
    if (!n_str) return kiln_err_set(err, KILN_EINVAL, "pprof peek: string_table is empty");

    /* resolve the string indices, in one pass from the first string (there
     * are always at least three wanted indices, so string_table[0] is seen) */
    want w[2 * KILN_PPROF_PEEK_MAX_TYPES + 3];
    size_t nw = 0;
    for (size_t i = 0; i < out->n_types; i++) {
        w[nw++] = (want){ti[i], &out->type[i]};
        w[nw++] = (want){ui[i], &out->unit[i]};
    }
    w[nw++] = (want){pt, &out->period_type};
    w[nw++] = (want){pu, &out->period_unit};
    w[nw++] = (want){dflt, &out->default_sample_type};
    for (size_t i = 0; i < nw; i++)
        if (w[i].idx < 0 || (uint64_t)w[i].idx >= n_str)
            return kiln_err_set(err, KILN_EINVAL,
                                "pprof peek: string index %" PRId64 " out of range (string_table has %zu entries)",
                                w[i].idx, n_str);
    if (nw > 1) qsort(w, nw, sizeof w[0], cmp_want);
    size_t wi = 0;
    int64_t si = 0;
    p = first_str;
    while (p < end && wi < nw) {
        uint64_t k = 0, v = 0;
        kp_varint(&p, end, &k);
        unsigned wt = (unsigned)(k & 7);
        if ((k >> 3) != 6) {
            kp_skip(&p, end, wt);
            continue;
        }
        kp_varint(&p, end, &v);
        if (si == 0 && v != 0)
            return perr(err, data, p, "string_table[0] must be \"\" (has %" PRIu64 " bytes)", v);
        const uint8_t *nul = memchr(p, 0, v);
        size_t sl = nul ? (size_t)(nul - p) : (size_t)v;
        while (wi < nw && w[wi].idx == si) {
            w[wi].dst->p = (const char *)p;
            w[wi].dst->len = sl;
            wi++;
        }
        p += v;
        si++;
    }
    return KILN_OK;
}
