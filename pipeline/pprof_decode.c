/* pipeline/pprof_decode.c — kiln_pprof_decode: gzip detection (magic bytes),
 * gunzip, and a hand-written protobuf decoder that fills the protobuf-c structs
 * of <kiln/proto/profile.pb-c.h> directly, then the checks of
 * kiln_pprof_validate.
 *
 * Why not protobuf_c_message_unpack: it is table-driven and allocates every
 * message, string and array separately; this decoder counts the top-level
 * repeated fields first, allocates each table as one array of structs plus
 * one array of pointers, and bump-allocates the rest from large blocks of the
 * arena (2.5x protobuf-c with the same arena on pprof__large.cpu). It accepts
 * the wire forms protobuf-c accepts for this schema (packed and unpacked
 * repeated scalars, fields in any order, a repeated singular message merged
 * into the first, unknown fields skipped), which tests/fuzz/fuzz_pprof.c
 * checks against protobuf-c; it also refuses what google/pprof's decoder
 * refuses and protobuf-c does not: groups and wire types 6/7, a bool field
 * not sent as a varint, a non-empty string_table[0] (even when its first byte
 * is NUL), a second time_nanos after a non-zero one ("concatenated profiles").
 * Field number 0 is refused (protobuf-c refuses it too, unless the key is
 * non-canonical; google/pprof would skip it as unknown).
 * Strings are not checked for UTF-8 (pprof accepts any bytes, and so does
 * protobuf-c 1.4); a string is cut at its first NUL byte, as with protobuf-c,
 * because the model keeps NUL-terminated strings. Unknown fields are dropped.
 *
 * Validation: while the structs are hot, the decoder checks the common case
 * (ids equal to position + 1, every reference and string index in range);
 * only when that fails does it run kiln_pprof_validate, which then finds the
 * exact error (or accepts sparse but valid ids).
 *
 * kiln_pprof_unpack_pc (the protobuf-c path, pprof_internal.h) is here too.
 *
 * Memory: everything the returned profile points to lives in the caller's
 * arena (the gunzipped bytes too); nothing needs freeing.
 */
#include "pprof_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#define KILN_PPROF_DEFAULT_MAX ((size_t)256 << 20)

typedef struct dec {
    const uint8_t *base; /* start of the buffer, for byte offsets in errors */
    kiln_arena *a;
    uint8_t *cur, *end; /* bump block */
    size_t chunk, next_chunk; /* sizes of the next bump blocks */
    kiln_err *err;
} dec;

static int werr(dec *d, const uint8_t *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int werr(dec *d, const uint8_t *at, const char *fmt, ...)
{
    char msg[KILN_ERR_MSG_MAX - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kiln_err_set(d->err, KILN_EINVAL, "%s at byte %zu", msg, (size_t)(at - d->base));
}

static void *bump_refill(dec *d, size_t n)
{
    size_t c = d->chunk > n ? d->chunk : n;
    uint8_t *p = kiln_arena_alloc(d->a, c);
    if (!p) return NULL;
    d->chunk = d->next_chunk; /* the first block is sized for the whole profile */
    d->cur = p + n;
    d->end = p + c;
    return p;
}

/* 8-byte aligned bump allocation from the arena. */
static inline void *bump(dec *d, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if ((size_t)(d->end - d->cur) < n) return bump_refill(d, n);
    void *p = d->cur;
    d->cur += n;
    return p;
}

static int oom(dec *d) { return kiln_err_set(d->err, KILN_ENOMEM, "pprof decode: out of memory"); }

/* Number of varints in a packed payload (bytes below 0x80 end a varint). */
static size_t count_varints(const uint8_t *p, size_t n)
{
    size_t c = 0;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        /* one bit per byte below 0x80, summed by the multiply into the top byte */
        c += (size_t)((((~w & 0x8080808080808080ull) >> 7) * 0x0101010101010101ull) >> 56);
        p += 8;
        n -= 8;
    }
    while (n--) c += *p++ < 0x80;
    return c;
}

/* Reads a length-delimited field's length at *pp and checks it fits. */
static inline int read_len(dec *d, const uint8_t **pp, const uint8_t *end, size_t *len,
                           const char *what)
{
    const uint8_t *at = *pp;
    uint64_t v = 0;
    *len = 0;
    if (!kp_varint(pp, end, &v)) return werr(d, at, "%s: truncated length", what);
    if (v > (uint64_t)(end - *pp))
        return werr(d, at, "%s: length %" PRIu64 " runs past the end of its message (%zu bytes left)",
                    what, v, (size_t)(end - *pp));
    *len = (size_t)v;
    return KILN_OK;
}

static inline int read_key(dec *d, const uint8_t **pp, const uint8_t *end, uint32_t *fn,
                           unsigned *wt, const char *what)
{
    const uint8_t *at = *pp;
    uint64_t k = 0;
    *fn = 0;
    *wt = 0;
    if (!kp_varint(pp, end, &k)) return werr(d, at, "%s: truncated field key", what);
    /* as protobuf-c: field numbers 1 .. 2^32-1, keys of at most 5 bytes */
    if ((k >> 3) == 0 || (k >> 3) > UINT32_MAX || *pp - at > 5)
        return werr(d, at, "%s: invalid field number %" PRIu64, what, k >> 3);
    *fn = (uint32_t)(k >> 3);
    *wt = (unsigned)(k & 7);
    return KILN_OK;
}

static inline int read_varint(dec *d, const uint8_t **pp, const uint8_t *end, uint64_t *v,
                              const char *what, uint32_t fn, unsigned wt)
{
    const uint8_t *at = *pp;
    *v = 0;
    if (wt != 0)
        return werr(d, at, "%s: field %u has wire type %u, expected 0 (varint)", what, fn, wt);
    if (!kp_varint(pp, end, v)) return werr(d, at, "%s: field %u: bad varint", what, fn);
    return KILN_OK;
}

static inline int skip_field(dec *d, const uint8_t **pp, const uint8_t *end, uint32_t fn,
                             unsigned wt, const char *what)
{
    const uint8_t *at = *pp;
    if (!kp_skip(pp, end, wt))
        return werr(d, at, "%s: cannot skip unknown field %u of wire type %u%s", what, fn, wt,
                    (wt == 3 || wt == 4 || wt > 5) ? " (unsupported wire type)" : " (truncated)");
    return KILN_OK;
}

/* Counts the elements of a repeated scalar field occurrence (packed or not). */
static inline int count_rep(dec *d, const uint8_t **pp, const uint8_t *end, unsigned wt,
                            size_t *n, const char *what)
{
    if (wt == 0) {
        uint64_t v = 0;
        const uint8_t *at = *pp;
        if (!kp_varint(pp, end, &v)) return werr(d, at, "%s: bad varint", what);
        (*n)++;
        return KILN_OK;
    }
    if (wt != 2) return werr(d, *pp, "%s: wire type %u, expected 0 or 2 (packed)", what, wt);
    size_t len = 0;
    int rc = read_len(d, pp, end, &len, what);
    if (rc) return rc;
    if (len && (*pp)[len - 1] >= 0x80) return werr(d, *pp + len - 1, "%s: truncated packed varint", what);
    *n += count_varints(*pp, len);
    *pp += len;
    return KILN_OK;
}

/* Reads the elements of a repeated scalar occurrence into v[*i...]. The
 * counting pass has checked the framing. *maxm1 gets the largest (value - 1)
 * seen (so that 0 counts as the largest), for the reference checks. */
static inline int read_rep(dec *d, const uint8_t **pp, const uint8_t *end, unsigned wt,
                           uint64_t *v, size_t *i, uint64_t *maxm1, const char *what)
{
    uint64_t mx = *maxm1;
    if (wt == 0) {
        kp_varint(pp, end, &v[*i]);
        if (v[*i] - 1 > mx) mx = v[*i] - 1;
        (*i)++;
        *maxm1 = mx;
        return KILN_OK;
    }
    uint64_t len = 0;
    kp_varint(pp, end, &len);
    const uint8_t *q = *pp, *qe = q + len;
    size_t k = *i;
    while (q < qe) {
        uint64_t x;
        if (*q < 0x80) {
            x = *q++;
        } else {
            const uint8_t *at = q;
            if (!kp_varint(&q, qe, &x)) return werr(d, at, "%s: varint longer than 10 bytes", what);
        }
        v[k++] = x;
        mx = x - 1 > mx ? x - 1 : mx;
    }
    *i = k;
    *pp = qe;
    *maxm1 = mx;
    return KILN_OK;
}

/* ---- messages --------------------------------------------------------------- */

static int dec_value_type(dec *d, const uint8_t *p, const uint8_t *end, kiln_pprof_value_type *vt,
                          const char *what)
{
    while (p < end) {
        uint32_t fn = 0;
        unsigned wt = 0;
        uint64_t v = 0;
        int rc = read_key(d, &p, end, &fn, &wt, what);
        if (rc) return rc;
        if (fn == 1 || fn == 2) {
            if ((rc = read_varint(d, &p, end, &v, what, fn, wt))) return rc;
            if (fn == 1)
                vt->type = (int64_t)v;
            else
                vt->unit = (int64_t)v;
        } else if ((rc = skip_field(d, &p, end, fn, wt, what))) {
            return rc;
        }
    }
    return KILN_OK;
}

static const kiln_pprof_label label_init = PERFTOOLS__PROFILES__LABEL__INIT;
static const kiln_pprof_sample sample_init = PERFTOOLS__PROFILES__SAMPLE__INIT;
static const kiln_pprof_value_type vt_init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
static const kiln_pprof_mapping mapping_init = PERFTOOLS__PROFILES__MAPPING__INIT;
static const kiln_pprof_location location_init = PERFTOOLS__PROFILES__LOCATION__INIT;
static const kiln_pprof_line line_init = PERFTOOLS__PROFILES__LINE__INIT;
static const kiln_pprof_function function_init = PERFTOOLS__PROFILES__FUNCTION__INIT;
static const kiln_pprof profile_init = PERFTOOLS__PROFILES__PROFILE__INIT;

static int dec_label(dec *d, const uint8_t *p, const uint8_t *end, kiln_pprof_label *l)
{
    while (p < end) {
        uint32_t fn = 0;
        unsigned wt = 0;
        uint64_t v = 0;
        int rc = read_key(d, &p, end, &fn, &wt, "label");
        if (rc) return rc;
        if (fn >= 1 && fn <= 4) {
            if ((rc = read_varint(d, &p, end, &v, "label", fn, wt))) return rc;
            switch (fn) {
            case 1: l->key = (int64_t)v; break;
            case 2: l->str = (int64_t)v; break;
            case 3: l->num = (int64_t)v; break;
            default: l->num_unit = (int64_t)v; break;
            }
        } else if ((rc = skip_field(d, &p, end, fn, wt, "label"))) {
            return rc;
        }
    }
    return KILN_OK;
}

/* *loc_maxm1: the largest location_id - 1 (0 counts as the largest) */
static int dec_sample(dec *d, const uint8_t *p, const uint8_t *end, kiln_pprof_sample *s,
                      uint64_t *loc_maxm1)
{
    uint64_t val_max = 0;
    *loc_maxm1 = 0;
    /* pass A: count */
    size_t n_loc = 0, n_val = 0, n_lab = 0;
    const uint8_t *q = p;
    int rc;
    while (q < end) {
        uint32_t fn = 0;
        unsigned wt = 0;
        if ((rc = read_key(d, &q, end, &fn, &wt, "sample"))) return rc;
        if (fn == 1) {
            if ((rc = count_rep(d, &q, end, wt, &n_loc, "sample.location_id"))) return rc;
        } else if (fn == 2) {
            if ((rc = count_rep(d, &q, end, wt, &n_val, "sample.value"))) return rc;
        } else if (fn == 3) {
            size_t len = 0;
            if (wt != 2) return werr(d, q, "sample.label: wire type %u, expected 2", wt);
            if ((rc = read_len(d, &q, end, &len, "sample.label"))) return rc;
            q += len;
            n_lab++;
        } else if ((rc = skip_field(d, &q, end, fn, wt, "sample"))) {
            return rc;
        }
    }
    *s = sample_init;
    if (n_loc) {
        if (!(s->location_id = bump(d, n_loc * sizeof(uint64_t)))) return oom(d);
    }
    if (n_val) {
        if (!(s->value = bump(d, n_val * sizeof(int64_t)))) return oom(d);
    }
    kiln_pprof_label *labs = NULL;
    if (n_lab) {
        s->label = bump(d, n_lab * sizeof(kiln_pprof_label *));
        labs = bump(d, n_lab * sizeof(kiln_pprof_label));
        if (!s->label || !labs) return oom(d);
    }
    /* pass B: fill (framing already checked) */
    q = p;
    while (q < end) {
        uint64_t k = 0;
        kp_varint(&q, end, &k);
        uint32_t fn = (uint32_t)(k >> 3);
        unsigned wt = (unsigned)(k & 7);
        if (fn == 1) {
            if ((rc = read_rep(d, &q, end, wt, s->location_id, &s->n_location_id, loc_maxm1,
                               "sample.location_id")))
                return rc;
        } else if (fn == 2) {
            if ((rc = read_rep(d, &q, end, wt, (uint64_t *)s->value, &s->n_value, &val_max,
                               "sample.value")))
                return rc;
        } else if (fn == 3) {
            uint64_t len = 0;
            kp_varint(&q, end, &len);
            kiln_pprof_label *l = &labs[s->n_label];
            *l = label_init;
            s->label[s->n_label++] = l;
            if ((rc = dec_label(d, q, q + len, l))) return rc;
            q += len;
        } else {
            kp_skip(&q, end, wt);
        }
    }
    return KILN_OK;
}

static int dec_mapping(dec *d, const uint8_t *p, const uint8_t *end, kiln_pprof_mapping *m)
{
    while (p < end) {
        uint32_t fn = 0;
        unsigned wt = 0;
        uint64_t v = 0;
        int rc = read_key(d, &p, end, &fn, &wt, "mapping");
        if (rc) return rc;
        if (fn >= 1 && fn <= 10) {
            if (fn >= 7 && wt != 0) /* protobuf-c would take any wire type for a bool; pprof does not */
                return werr(d, p, "mapping: bool field %u has wire type %u, expected 0 (varint)", fn, wt);
            if ((rc = read_varint(d, &p, end, &v, "mapping", fn, wt))) return rc;
            switch (fn) {
            case 1: m->id = v; break;
            case 2: m->memory_start = v; break;
            case 3: m->memory_limit = v; break;
            case 4: m->file_offset = v; break;
            case 5: m->filename = (int64_t)v; break;
            case 6: m->build_id = (int64_t)v; break;
            case 7: m->has_functions = v != 0; break;
            case 8: m->has_filenames = v != 0; break;
            case 9: m->has_line_numbers = v != 0; break;
            default: m->has_inline_frames = v != 0; break;
            }
        } else if ((rc = skip_field(d, &p, end, fn, wt, "mapping"))) {
            return rc;
        }
    }
    return KILN_OK;
}

static int dec_line(dec *d, const uint8_t *p, const uint8_t *end, kiln_pprof_line *l)
{
    while (p < end) {
        uint32_t fn = 0;
        unsigned wt = 0;
        uint64_t v = 0;
        int rc = read_key(d, &p, end, &fn, &wt, "line");
        if (rc) return rc;
        if (fn >= 1 && fn <= 3) {
            if ((rc = read_varint(d, &p, end, &v, "line", fn, wt))) return rc;
            if (fn == 1)
                l->function_id = v;
            else if (fn == 2)
                l->line = (int64_t)v;
            else
                l->column = (int64_t)v;
        } else if ((rc = skip_field(d, &p, end, fn, wt, "line"))) {
            return rc;
        }
    }
    return KILN_OK;
}

static int dec_location(dec *d, const uint8_t *p, const uint8_t *end, kiln_pprof_location *l)
{
    size_t n_line = 0;
    const uint8_t *q = p;
    int rc;
    while (q < end) {
        uint32_t fn = 0;
        unsigned wt = 0;
        uint64_t v = 0;
        if ((rc = read_key(d, &q, end, &fn, &wt, "location"))) return rc;
        if (fn == 4) {
            size_t len = 0;
            if (wt != 2) return werr(d, q, "location.line: wire type %u, expected 2", wt);
            if ((rc = read_len(d, &q, end, &len, "location.line"))) return rc;
            q += len;
            n_line++;
        } else if (fn >= 1 && fn <= 5) {
            if (fn == 5 && wt != 0)
                return werr(d, q, "location: bool field 5 has wire type %u, expected 0 (varint)", wt);
            if ((rc = read_varint(d, &q, end, &v, "location", fn, wt))) return rc;
            if (fn == 1)
                l->id = v;
            else if (fn == 2)
                l->mapping_id = v;
            else if (fn == 3)
                l->address = v;
            else
                l->is_folded = v != 0;
        } else if ((rc = skip_field(d, &q, end, fn, wt, "location"))) {
            return rc;
        }
    }
    if (!n_line) return KILN_OK;
    kiln_pprof_line *lines = bump(d, n_line * sizeof *lines);
    l->line = bump(d, n_line * sizeof *l->line);
    if (!lines || !l->line) return oom(d);
    q = p;
    while (q < end) {
        uint64_t k = 0;
        kp_varint(&q, end, &k);
        uint32_t fn = (uint32_t)(k >> 3);
        unsigned wt = (unsigned)(k & 7);
        if (fn == 4) {
            uint64_t len = 0;
            kp_varint(&q, end, &len);
            kiln_pprof_line *ln = &lines[l->n_line];
            *ln = line_init;
            l->line[l->n_line++] = ln;
            if ((rc = dec_line(d, q, q + len, ln))) return rc;
            q += len;
        } else {
            kp_skip(&q, end, wt);
        }
    }
    return KILN_OK;
}

static int dec_function(dec *d, const uint8_t *p, const uint8_t *end, kiln_pprof_function *f)
{
    while (p < end) {
        uint32_t fn = 0;
        unsigned wt = 0;
        uint64_t v = 0;
        int rc = read_key(d, &p, end, &fn, &wt, "function");
        if (rc) return rc;
        if (fn >= 1 && fn <= 5) {
            if ((rc = read_varint(d, &p, end, &v, "function", fn, wt))) return rc;
            switch (fn) {
            case 1: f->id = v; break;
            case 2: f->name = (int64_t)v; break;
            case 3: f->system_name = (int64_t)v; break;
            case 4: f->filename = (int64_t)v; break;
            default: f->start_line = (int64_t)v; break;
            }
        } else if ((rc = skip_field(d, &p, end, fn, wt, "function"))) {
            return rc;
        }
    }
    return KILN_OK;
}

/* ---- the profile ------------------------------------------------------------- */

typedef struct counts {
    size_t n[16]; /* by field number 1..15 */
} counts;

static const char *const field_names[16] = {
    "?", "sample_type", "sample", "mapping", "location", "function", "string_table", "drop_frames",
    "keep_frames", "time_nanos", "duration_nanos", "period_type", "period", "comment",
    "default_sample_type", "doc_url"};

/* Pass 1 over the top level: checks framing and wire types, counts the
 * repeated fields, refuses concatenated profiles. */
static int scan_top(dec *d, const uint8_t *p, const uint8_t *end, counts *c)
{
    int seen_time = 0;
    memset(c, 0, sizeof *c);
    while (p < end) {
        uint32_t fn = 0;
        unsigned wt = 0;
        int rc;
        const uint8_t *at = p;
        if ((rc = read_key(d, &p, end, &fn, &wt, "profile"))) return rc;
        if (fn > 15) {
            if ((rc = skip_field(d, &p, end, fn, wt, "profile"))) return rc;
            continue;
        }
        switch (fn) {
        case 1: case 2: case 3: case 4: case 5: case 6: case 11: {
            size_t len = 0;
            if (wt != 2)
                return werr(d, at, "%s: wire type %u, expected 2 (length-delimited)", field_names[fn], wt);
            if ((rc = read_len(d, &p, end, &len, field_names[fn]))) return rc;
            p += len;
            c->n[fn]++;
            break;
        }
        case 13:
            if ((rc = count_rep(d, &p, end, wt, &c->n[13], "comment"))) return rc;
            break;
        default: {
            uint64_t v = 0;
            if ((rc = read_varint(d, &p, end, &v, field_names[fn], fn, wt))) return rc;
            if (fn == 9) {
                if (seen_time)
                    return werr(d, at, "time_nanos appears twice: concatenated profiles detected");
                if (v) seen_time = 1;
            }
            break;
        }
        }
    }
    return KILN_OK;
}

/* Decodes into *out. While the structs are hot in cache it also runs the
 * common case of kiln_pprof_validate: ids dense (id == position + 1) and
 * every reference and string index in range; *checked is 1 when all of
 * that held, so the full (slower) validation can be skipped. */
static int decode_raw(dec *d, const uint8_t *data, size_t len, kiln_pprof **out, int *checked)
{
    const uint8_t *end = data + len;
    counts c;
    int rc = scan_top(d, data, end, &c);
    if (rc) return rc;
    const uint64_t n_str = c.n[6], n_types = c.n[1], n_map = c.n[3], n_loc = c.n[4], n_func = c.n[5];
    int bad = n_str == 0 || (c.n[2] && !n_types);
#define BAD_STR(i) ((uint64_t)(i) >= n_str)

    kiln_pprof *p = bump(d, sizeof *p);
    if (!p) return oom(d);
    *p = profile_init;

    kiln_pprof_value_type *vts = NULL;
    kiln_pprof_sample *samples = NULL;
    kiln_pprof_mapping *maps = NULL;
    kiln_pprof_location *locs = NULL;
    kiln_pprof_function *funcs = NULL;
#define ALLOC_TABLE(fnum, arr, ptrs, type)                                                     \
    if (c.n[fnum]) {                                                                           \
        ptrs = bump(d, c.n[fnum] * sizeof(type *));                                            \
        arr = bump(d, c.n[fnum] * sizeof(type));                                               \
        if (!ptrs || !arr) return oom(d);                                                      \
    }
    ALLOC_TABLE(1, vts, p->sample_type, kiln_pprof_value_type)
    ALLOC_TABLE(2, samples, p->sample, kiln_pprof_sample)
    ALLOC_TABLE(3, maps, p->mapping, kiln_pprof_mapping)
    ALLOC_TABLE(4, locs, p->location, kiln_pprof_location)
    ALLOC_TABLE(5, funcs, p->function, kiln_pprof_function)
#undef ALLOC_TABLE
    if (c.n[6] && !(p->string_table = bump(d, c.n[6] * sizeof(char *)))) return oom(d);
    if (c.n[13] && !(p->comment = bump(d, c.n[13] * sizeof(int64_t)))) return oom(d);

    const uint8_t *q = data;
    while (q < end) {
        uint64_t k = 0, v = 0;
        kp_varint(&q, end, &k);
        uint32_t fn = (uint32_t)(k >> 3);
        unsigned wt = (unsigned)(k & 7);
        if (fn > 15) {
            kp_skip(&q, end, wt);
            continue;
        }
        if (fn == 13) {
            uint64_t unused = 0;
            if ((rc = read_rep(d, &q, end, wt, (uint64_t *)p->comment, &p->n_comment, &unused, "comment")))
                return rc;
            continue;
        }
        if (wt == 0) {
            kp_varint(&q, end, &v);
            switch (fn) {
            case 7: p->drop_frames = (int64_t)v; break;
            case 8: p->keep_frames = (int64_t)v; break;
            case 9: p->time_nanos = (int64_t)v; break;
            case 10: p->duration_nanos = (int64_t)v; break;
            case 12: p->period = (int64_t)v; break;
            case 14: p->default_sample_type = (int64_t)v; break;
            case 15: p->doc_url = (int64_t)v; break;
            default: break;
            }
            continue;
        }
        uint64_t l = 0;
        kp_varint(&q, end, &l);
        const uint8_t *me = q + l;
        switch (fn) {
        case 1: {
            kiln_pprof_value_type *vt = &vts[p->n_sample_type];
            *vt = vt_init;
            p->sample_type[p->n_sample_type++] = vt;
            rc = dec_value_type(d, q, me, vt, "sample_type");
            if (rc) break;
            bad |= BAD_STR(vt->type) | BAD_STR(vt->unit);
            break;
        }
        case 2: {
            kiln_pprof_sample *s = &samples[p->n_sample];
            p->sample[p->n_sample++] = s;
            uint64_t loc_maxm1;
            rc = dec_sample(d, q, me, s, &loc_maxm1);
            if (rc) break;
            bad |= (s->n_value != n_types) | (s->n_location_id && loc_maxm1 >= n_loc);
            for (size_t j = 0; j < s->n_label; j++)
                bad |= BAD_STR(s->label[j]->key) | BAD_STR(s->label[j]->str) |
                       BAD_STR(s->label[j]->num_unit);
            break;
        }
        case 3: {
            kiln_pprof_mapping *m = &maps[p->n_mapping];
            *m = mapping_init;
            p->mapping[p->n_mapping++] = m;
            rc = dec_mapping(d, q, me, m);
            if (rc) break;
            bad |= (m->id != p->n_mapping) | BAD_STR(m->filename) | BAD_STR(m->build_id);
            break;
        }
        case 4: {
            kiln_pprof_location *lo = &locs[p->n_location];
            *lo = location_init;
            p->location[p->n_location++] = lo;
            rc = dec_location(d, q, me, lo);
            if (rc) break;
            bad |= (lo->id != p->n_location) | (lo->mapping_id > n_map);
            for (size_t j = 0; j < lo->n_line; j++) bad |= lo->line[j]->function_id - 1 >= n_func;
            break;
        }
        case 5: {
            kiln_pprof_function *f = &funcs[p->n_function];
            *f = function_init;
            p->function[p->n_function++] = f;
            rc = dec_function(d, q, me, f);
            if (rc) break;
            bad |= (f->id != p->n_function) | BAD_STR(f->name) | BAD_STR(f->system_name) |
                   BAD_STR(f->filename);
            break;
        }
        case 6: {
            if (p->n_string_table == 0 && l != 0)
                return werr(d, q, "string_table[0] must be \"\" (has %" PRIu64 " bytes)", l);
            /* cut at the first NUL, as a C string would be */
            const uint8_t *nul = memchr(q, 0, l);
            size_t sl = nul ? (size_t)(nul - q) : (size_t)l;
            char *s = bump(d, sl + 1);
            if (!s) return oom(d);
            memcpy(s, q, sl);
            s[sl] = 0;
            p->string_table[p->n_string_table++] = s;
            break;
        }
        case 11:
            if (!p->period_type) {
                if (!(p->period_type = bump(d, sizeof *p->period_type))) return oom(d);
                *p->period_type = vt_init;
            }
            rc = dec_value_type(d, q, me, p->period_type, "period_type");
            break;
        default:
            break;
        }
        if (rc) {
            if (fn <= 5) {
                size_t idx = fn == 1 ? p->n_sample_type : fn == 2 ? p->n_sample : fn == 3 ? p->n_mapping
                             : fn == 4 ? p->n_location : p->n_function;
                kiln_err_prefix(d->err, "%s[%zu]", field_names[fn], idx - 1);
            }
            return rc;
        }
        q = me;
    }
    for (size_t i = 0; i < p->n_comment; i++) bad |= BAD_STR(p->comment[i]);
    if (p->period_type) bad |= BAD_STR(p->period_type->type) | BAD_STR(p->period_type->unit);
    bad |= BAD_STR(p->drop_frames) | BAD_STR(p->keep_frames) | BAD_STR(p->default_sample_type) |
           BAD_STR(p->doc_url);
#undef BAD_STR
    *checked = !bad;
    *out = p;
    return KILN_OK;
}

/* A hint for inputs that are obviously something else. */
static const char *sniff(const uint8_t *data, size_t len)
{
    if (len >= 4 && memcmp(data, "FLR", 4) == 0) return "the input is a JFR recording, not pprof";
    size_t n = len < 256 ? len : 256, text = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = data[i];
        if ((b >= 0x20 && b < 0x7f) || b == '\n' || b == '\r' || b == '\t') text++;
    }
    if (n >= 8 && text == n)
        return "the input looks like text (legacy pprof text, folded stacks?), not pprof protobuf";
    if (len >= 2 && ((data[0] == 0xff && data[1] == 0xfe) || (data[0] == 0xfe && data[1] == 0xff)))
        return "the input looks like UTF-16 text, not pprof protobuf";
    return NULL;
}

int kiln_pprof_decode(kiln_arena *a, const uint8_t *data, size_t len, const kiln_pprof_limits *lim,
                      kiln_pprof **out, kiln_err *err)
{
    size_t max = lim && lim->max_inflated ? lim->max_inflated : KILN_PPROF_DEFAULT_MAX;
    if (!data || len == 0) return kiln_err_set(err, KILN_EINVAL, "pprof: empty input");
    const uint8_t *raw = data;
    size_t raw_len = len;
    int rc;
    if (kiln_is_gzip(data, len)) {
        uint8_t *o;
        if ((rc = kiln_gunzip(a, data, len, max, &o, &raw_len, err))) {
            kiln_err_prefix(err, "pprof");
            return rc;
        }
        raw = o;
        if (raw_len == 0) return kiln_err_set(err, KILN_EINVAL, "pprof: empty input after gunzip");
    } else if (len > max) {
        return kiln_err_set(err, KILN_ETOOBIG, "pprof: %zu bytes exceed the limit of %zu bytes", len, max);
    }
    /* real profiles decode to 3-5x their size: one block of 4x + 4 KiB holds
     * most, then blocks of the input's size (at least 16 KiB) */
    size_t first = raw_len < (SIZE_MAX - 4096) / 4 ? raw_len * 4 + 4096 : raw_len;
    dec d = {.base = raw, .a = a, .chunk = first, .next_chunk = raw_len > 16384 ? raw_len : 16384, .err = err};
    kiln_pprof *p = NULL;
    int checked = 0;
    rc = decode_raw(&d, raw, raw_len, &p, &checked);
    if (rc == KILN_OK && !checked) rc = kiln_pprof_validate(p, err);
    if (rc) {
        const char *hint = rc == KILN_EINVAL ? sniff(raw, raw_len) : NULL;
        if (hint)
            kiln_err_prefix(err, "pprof: %s", hint);
        else
            kiln_err_prefix(err, "pprof");
        return rc;
    }
    *out = p;
    return KILN_OK;
}

/* ---- protobuf-c reference path ---------------------------------------------- */

int kiln_pprof_unpack_pc(kiln_arena *a, const uint8_t *data, size_t len, kiln_pprof **out,
                         kiln_err *err)
{
    kiln_pprof *p = perftools__profiles__profile__unpack(kiln_arena_pc_allocator(a), len, data);
    if (!p) return kiln_err_set(err, KILN_EINVAL, "pprof: protobuf-c could not unpack the input");
    int rc = kiln_pprof_validate(p, err);
    if (rc) return rc;
    *out = p;
    return KILN_OK;
}
