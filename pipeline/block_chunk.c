/* pipeline/block_chunk.c — sample chunks: the per-series columns of
 * samples.bin (FORMAT.md, "Sample chunks"), encoded before zstd as
 *
 *   uv n_profiles, uv n_samples, uv flags (bit 0: span column present),
 *   uv value_scale (the gcd of the chunk's non-zero |values|, >= 1),
 *   times:   sv first, then uv deltas (profiles are sorted by time)
 *   durations: n x sv
 *   counts:  n x uv samples of each profile
 *   totals:  n x sv sum of each profile's values
 *   stacks:  per profile, uv first stack id then uv deltas (ascending)
 *   values:  n_samples x sv (value / value_scale)
 *   spans:   n_samples x uv (only with flag bit 0)
 *
 * Memory: the encoder allocates scratch arrays it frees; the decoder grows
 * the caller's kiln_block_samples arrays with realloc.
 */
#include "block_internal.h"

typedef struct samp {
    uint32_t stack;
    uint64_t span;
    int64_t value;
} samp;

static int samp_cmp(const void *a, const void *b)
{
    const samp *x = a, *y = b;
    if (x->stack != y->stack) return x->stack < y->stack ? -1 : 1;
    if (x->span != y->span) return x->span < y->span ? -1 : 1;
    return 0;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static uint64_t uabs64(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

int kb_chunk_encode(const kb_prof_in *p, size_t n, kb_buf *out, uint64_t *n_samp_out,
                    int64_t *min_t, int64_t *max_t, kiln_err *err)
{
    size_t total_in = 0;
    for (size_t i = 0; i < n; i++) total_in += p[i].n;
    samp *s = malloc((total_in ? total_in : 1) * sizeof *s);
    size_t *cnt = malloc((n ? n : 1) * sizeof *cnt);
    if (!s || !cnt) {
        free(s);
        free(cnt);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory encoding %zu samples", total_in);
    }
    /* sort and merge each profile's samples; find the value scale and spans */
    size_t k = 0;
    uint64_t scale = 0;
    int spans = 0;
    for (size_t i = 0; i < n; i++) {
        size_t start = k;
        for (size_t j = 0; j < p[i].n; j++) {
            s[k].stack = p[i].stack[j];
            s[k].span = p[i].span ? p[i].span[j] : 0;
            s[k].value = p[i].value[j];
            k++;
        }
        if (k - start > 1) qsort(s + start, k - start, sizeof *s, samp_cmp);
        size_t w = start;
        for (size_t j = start; j < k; j++) {
            if (w > start && s[w - 1].stack == s[j].stack && s[w - 1].span == s[j].span) {
                s[w - 1].value = (int64_t)((uint64_t)s[w - 1].value + (uint64_t)s[j].value);
            } else {
                s[w++] = s[j];
            }
        }
        /* summed-to-zero samples are kept: they were sent */
        k = w;
        cnt[i] = k - start;
        for (size_t j = start; j < k; j++) {
            if (s[j].value) scale = gcd64(scale, uabs64(s[j].value));
            if (s[j].span) spans = 1;
        }
    }
    if (!scale) scale = 1;
    size_t n_samp = k;
    kb_buf_uv(out, n);
    kb_buf_uv(out, n_samp);
    kb_buf_uv(out, (uint64_t)spans);
    kb_buf_uv(out, scale);
    for (size_t i = 0; i < n; i++) {
        if (i == 0) kb_buf_sv(out, p[0].time);
        else kb_buf_uv(out, (uint64_t)p[i].time - (uint64_t)p[i - 1].time);
    }
    for (size_t i = 0; i < n; i++) kb_buf_sv(out, p[i].dur);
    for (size_t i = 0; i < n; i++) kb_buf_uv(out, cnt[i]);
    k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = 0;
        for (size_t j = 0; j < cnt[i]; j++) t += (uint64_t)s[k + j].value;
        kb_buf_sv(out, (int64_t)t);
        k += cnt[i];
    }
    k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t prev = 0;
        for (size_t j = 0; j < cnt[i]; j++, k++) {
            kb_buf_uv(out, (uint64_t)(s[k].stack - prev));
            prev = s[k].stack;
        }
    }
    for (size_t j = 0; j < n_samp; j++) kb_buf_sv(out, s[j].value / (int64_t)scale);
    if (spans)
        for (size_t j = 0; j < n_samp; j++) kb_buf_uv(out, s[j].span);
    free(s);
    free(cnt);
    if (out->oom) return kiln_err_set(err, KILN_ENOMEM, "out of memory encoding a chunk");
    *n_samp_out = n_samp;
    *min_t = n ? p[0].time : 0;
    *max_t = n ? p[n - 1].time : 0;
    return KILN_OK;
}

/* Grows the output arrays to hold np more profiles and ns more samples. */
static int out_grow(kiln_block_samples *o, size_t np, size_t ns, int spans)
{
    size_t P = o->n_profiles + np, S = o->n_samples + ns;
    int64_t *t = realloc(o->time_ns, (P ? P : 1) * sizeof *t);
    if (!t) return -1;
    o->time_ns = t;
    int64_t *d = realloc(o->duration_ns, (P ? P : 1) * sizeof *d);
    if (!d) return -1;
    o->duration_ns = d;
    int64_t *tt = realloc(o->total, (P ? P : 1) * sizeof *tt);
    if (!tt) return -1;
    o->total = tt;
    uint64_t *so = realloc(o->sample_off, (P + 1) * sizeof *so);
    if (!so) return -1;
    if (!o->sample_off) so[0] = 0;
    o->sample_off = so;
    if (ns || !o->stack) {
        uint32_t *st = realloc(o->stack, (S ? S : 1) * sizeof *st);
        if (!st) return -1;
        o->stack = st;
        int64_t *v = realloc(o->value, (S ? S : 1) * sizeof *v);
        if (!v) return -1;
        o->value = v;
    }
    if (spans || o->span) {
        int fresh = !o->span;
        uint64_t *sp = realloc(o->span, (S ? S : 1) * sizeof *sp);
        if (!sp) return -1;
        if (fresh) memset(sp, 0, o->n_samples * sizeof *sp);
        o->span = sp;
    }
    return 0;
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        rc = kiln_err_set(err, KILN_EINVAL, "sample chunk: " __VA_ARGS__);                         \
        goto done;                                                                                 \
    } while (0)

int kb_chunk_decode(const uint8_t *raw, size_t rlen, int want_samples, int64_t from, int64_t to,
                    uint64_t expect_prof, uint64_t expect_samp, kiln_block_samples *o,
                    kiln_err *err)
{
    int rc = KILN_OK;
    kb_rd r;
    kb_rd_init(&r, raw, rlen);
    uint64_t np, ns, flags, scale;
    int64_t *time = NULL, *dur = NULL, *tot = NULL;
    uint64_t *cnt = NULL;
    if (kb_rd_uvmax(&r, rlen, &np) || kb_rd_uvmax(&r, rlen, &ns) || kb_rd_uvmax(&r, 1, &flags) ||
        kb_rd_uv(&r, &scale) || scale == 0)
        BAD("bad header");
    if (np != expect_prof || ns != expect_samp)
        BAD("holds %llu profiles / %llu samples, the index says %llu / %llu",
            (unsigned long long)np, (unsigned long long)ns, (unsigned long long)expect_prof,
            (unsigned long long)expect_samp);
    time = malloc((np ? np : 1) * sizeof *time);
    dur = malloc((np ? np : 1) * sizeof *dur);
    tot = malloc((np ? np : 1) * sizeof *tot);
    cnt = malloc((np ? np : 1) * sizeof *cnt);
    if (!time || !dur || !tot || !cnt) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory decoding a chunk");
        goto done;
    }
    for (uint64_t i = 0; i < np; i++) {
        if (i == 0) {
            if (kb_rd_sv(&r, &time[0])) BAD("bad time");
        } else {
            uint64_t d;
            if (kb_rd_uv(&r, &d)) BAD("bad time delta");
            time[i] = (int64_t)((uint64_t)time[i - 1] + d);
            if (time[i] < time[i - 1]) BAD("times not sorted");
        }
    }
    for (uint64_t i = 0; i < np; i++)
        if (kb_rd_sv(&r, &dur[i])) BAD("bad duration");
    uint64_t sum = 0;
    for (uint64_t i = 0; i < np; i++) {
        if (kb_rd_uvmax(&r, ns, &cnt[i])) BAD("bad sample count");
        sum += cnt[i];
    }
    if (sum != ns) BAD("sample counts add up to %llu, not %llu", (unsigned long long)sum,
                       (unsigned long long)ns);
    for (uint64_t i = 0; i < np; i++)
        if (kb_rd_sv(&r, &tot[i])) BAD("bad total");
    /* which profiles are wanted, and how many samples they hold */
    uint64_t sel_p = 0, sel_s = 0;
    for (uint64_t i = 0; i < np; i++)
        if (time[i] >= from && time[i] < to) {
            sel_p++;
            sel_s += cnt[i];
        }
    if (!want_samples) sel_s = 0;
    if (out_grow(o, sel_p, sel_s, want_samples && (flags & 1))) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory decoding a chunk");
        goto done;
    }
    size_t P = o->n_profiles, S = o->n_samples;
    for (uint64_t i = 0; i < np; i++) {
        if (!(time[i] >= from && time[i] < to)) continue;
        o->time_ns[P] = time[i];
        o->duration_ns[P] = dur[i];
        o->total[P] = tot[i];
        P++;
    }
    if (!want_samples) {
        for (size_t i = o->n_profiles; i < P; i++) o->sample_off[i + 1] = o->sample_off[i];
        o->n_profiles = P;
        goto done; /* the sample columns are not read (nor checked) */
    }
    /* stacks, then values, then spans: three passes over the same profiles */
    {
        size_t s = S;
        for (uint64_t i = 0; i < np; i++) {
            int sel = time[i] >= from && time[i] < to;
            uint64_t prev = 0;
            for (uint64_t j = 0; j < cnt[i]; j++) {
                uint64_t d;
                if (kb_rd_uv(&r, &d)) BAD("bad stack id");
                prev += d;
                if (prev > UINT32_MAX || (j > 0 && d == 0 && !(flags & 1)))
                    BAD("stack ids out of order");
                if (sel) o->stack[s++] = (uint32_t)prev;
            }
        }
        s = S;
        for (uint64_t i = 0; i < np; i++) {
            int sel = time[i] >= from && time[i] < to;
            for (uint64_t j = 0; j < cnt[i]; j++) {
                int64_t v;
                if (kb_rd_sv(&r, &v)) BAD("bad value");
                if (sel) o->value[s++] = (int64_t)((uint64_t)v * scale);
            }
        }
        if (flags & 1) {
            s = S;
            for (uint64_t i = 0; i < np; i++) {
                int sel = time[i] >= from && time[i] < to;
                for (uint64_t j = 0; j < cnt[i]; j++) {
                    uint64_t v;
                    if (kb_rd_uv(&r, &v)) BAD("bad span id");
                    if (sel) o->span[s++] = v;
                }
            }
        } else if (o->span) {
            memset(o->span + S, 0, sel_s * sizeof *o->span);
        }
        if (kb_rd_left(&r)) BAD("%zu trailing bytes", kb_rd_left(&r));
        size_t q = o->n_profiles;
        for (uint64_t i = 0; i < np; i++) {
            if (!(time[i] >= from && time[i] < to)) continue;
            o->sample_off[q + 1] = o->sample_off[q] + cnt[i];
            q++;
        }
        o->n_profiles = P;
        o->n_samples = S + sel_s;
    }
done:
    free(time);
    free(dur);
    free(tot);
    free(cnt);
    return rc;
}

void kiln_block_samples_free(kiln_block_samples *s)
{
    if (!s) return;
    free(s->time_ns);
    free(s->duration_ns);
    free(s->total);
    free(s->sample_off);
    free(s->stack);
    free(s->value);
    free(s->span);
    memset(s, 0, sizeof *s);
}
