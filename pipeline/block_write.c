/* pipeline/block_write.c — the block writer: series go in one at a time (in
 * label order, profiles in time order), their sample chunks are compressed
 * and appended to a scratch file; finish writes symbols.bin, samples.bin
 * and index.bin, then meta.json last (FORMAT.md, "Writing a block").
 *
 * Memory: the writer owns its arena (series labels), its vectors and the
 * scratch file (removed by finish and abort). The caller's arrays are only
 * read.
 */
#define _GNU_SOURCE
#include "block_internal.h"

#include <kiln/kiln.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_MAX_PROFILES 256
#define CHUNK_MAX_SAMPLES (256u * 1024)
#define ZSTD_LEVEL 6

typedef struct w_series {
    uint32_t n_labels;
    const char **names, **values;
    int64_t min_t, max_t;
    uint64_t n_prof, n_samp;
    uint32_t first_chunk, n_chunks;
} w_series;

struct kb_writer {
    kiln_objstore *os;
    char *tenant;
    kiln_block_id id;
    kiln_arena *arena;
    char tmp_path[4096];
    int fd;
    uint64_t samples_size;
    uint32_t samples_crc;
    w_series *series;
    size_t n_series, cap_series;
    kb_sample_chunk *chunks;
    size_t n_chunks, cap_chunks;
    kb_buf raw; /* scratch for one chunk */
};

int kb_labels_cmp(size_t na, const char *const *an, const char *const *av, size_t nb,
                  const char *const *bn, const char *const *bv)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(an[i], bn[i]);
        if (c) return c < 0 ? -1 : 1;
        c = strcmp(av[i], bv[i]);
        if (c) return c < 0 ? -1 : 1;
    }
    return na < nb ? -1 : na > nb ? 1 : 0;
}

int kb_writer_new(kiln_objstore *os, const char *tenant, const char *id, const char *tmp_dir,
                  kb_writer **out, kiln_err *err)
{
    kb_writer *w = calloc(1, sizeof *w);
    if (!w) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    w->fd = -1;
    w->os = os;
    w->tenant = strdup(tenant);
    w->arena = kiln_arena_new(64 * 1024);
    if (!w->tenant || !w->arena) {
        kb_writer_abort(w);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    snprintf(w->id, sizeof w->id, "%s", id);
    const char *dir = tmp_dir && *tmp_dir ? tmp_dir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    mkdir(dir, 0755);
    snprintf(w->tmp_path, sizeof w->tmp_path, "%s/samples-%s-XXXXXX", dir, id);
    w->fd = mkstemp(w->tmp_path);
    if (w->fd < 0) {
        int e = errno;
        w->tmp_path[0] = 0;
        kb_writer_abort(w);
        return kiln_err_set(err, KILN_EIO, "cannot create a scratch file in %s: %s", dir,
                            strerror(e));
    }
    *out = w;
    return KILN_OK;
}

void kb_writer_abort(kb_writer *w)
{
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    if (w->tmp_path[0]) unlink(w->tmp_path);
    kiln_arena_destroy(w->arena);
    free(w->tenant);
    free(w->series);
    free(w->chunks);
    kb_buf_free(&w->raw);
    free(w);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int flush_chunk(kb_writer *w, const kb_prof_in *p, size_t n, w_series *s, kiln_err *err)
{
    w->raw.n = 0;
    uint64_t ns;
    int64_t mn, mx;
    int rc = kb_chunk_encode(p, n, &w->raw, &ns, &mn, &mx, err);
    if (rc != KILN_OK) return rc;
    uint8_t *z;
    size_t zn;
    rc = kb_zstd_compress(w->raw.p, w->raw.n, ZSTD_LEVEL, &z, &zn, err);
    if (rc != KILN_OK) return rc;
    if (write_all(w->fd, z, zn)) {
        int e = errno;
        free(z);
        return kiln_err_set(err, KILN_EIO, "writing %s: %s", w->tmp_path, strerror(e));
    }
    if (w->n_chunks == w->cap_chunks) {
        size_t nc = w->cap_chunks ? w->cap_chunks * 2 : 256;
        kb_sample_chunk *np = realloc(w->chunks, nc * sizeof *np);
        if (!np) {
            free(z);
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        }
        w->chunks = np;
        w->cap_chunks = nc;
    }
    kb_sample_chunk *c = &w->chunks[w->n_chunks++];
    c->min_t = mn;
    c->max_t = mx;
    c->n_prof = n;
    c->n_samp = ns;
    c->loc.off = w->samples_size;
    c->loc.clen = zn;
    c->loc.rlen = w->raw.n;
    c->loc.crc = kb_crc32(z, zn);
    w->samples_crc = kb_crc32_update(w->samples_crc, z, zn);
    w->samples_size += zn;
    free(z);
    s->n_chunks++;
    s->n_samp += ns;
    return KILN_OK;
}

int kb_writer_series(kb_writer *w, const kb_series_in *in, kiln_err *err)
{
    if (in->n_prof == 0) return KILN_OK; /* a series without profiles is not stored */
    if (w->n_series) {
        const w_series *p = &w->series[w->n_series - 1];
        if (kb_labels_cmp(p->n_labels, p->names, p->values, in->n_labels, in->names, in->values) >= 0)
            return kiln_err_set(err, KILN_ERR, "block writer: series out of label order");
    }
    for (size_t i = 1; i < in->n_prof; i++)
        if (in->prof[i].time < in->prof[i - 1].time)
            return kiln_err_set(err, KILN_ERR, "block writer: profiles out of time order");
    if (w->n_series == w->cap_series) {
        size_t nc = w->cap_series ? w->cap_series * 2 : 64;
        w_series *np = realloc(w->series, nc * sizeof *np);
        if (!np) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        w->series = np;
        w->cap_series = nc;
    }
    w_series *s = &w->series[w->n_series];
    memset(s, 0, sizeof *s);
    s->n_labels = (uint32_t)in->n_labels;
    s->names = kiln_arena_alloc(w->arena, (in->n_labels + 1) * sizeof *s->names);
    s->values = kiln_arena_alloc(w->arena, (in->n_labels + 1) * sizeof *s->values);
    if (!s->names || !s->values) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (size_t i = 0; i < in->n_labels; i++) {
        s->names[i] = kiln_arena_strndup(w->arena, in->names[i], strlen(in->names[i]));
        s->values[i] = kiln_arena_strndup(w->arena, in->values[i], strlen(in->values[i]));
        if (!s->names[i] || !s->values[i]) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    s->first_chunk = (uint32_t)w->n_chunks;
    s->min_t = in->prof[0].time;
    s->max_t = in->prof[in->n_prof - 1].time;
    s->n_prof = in->n_prof;
    size_t start = 0, samples = 0;
    for (size_t i = 0; i < in->n_prof; i++) {
        if (i > start &&
            (i - start >= CHUNK_MAX_PROFILES || samples + in->prof[i].n > CHUNK_MAX_SAMPLES)) {
            int rc = flush_chunk(w, in->prof + start, i - start, s, err);
            if (rc != KILN_OK) return rc;
            start = i;
            samples = 0;
        }
        samples += in->prof[i].n;
    }
    int rc = flush_chunk(w, in->prof + start, in->n_prof - start, s, err);
    if (rc != KILN_OK) return rc;
    w->n_series++;
    return KILN_OK;
}

/* ---- finish: symbols, index, puts ------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct triple {
    uint32_t name, value, series;
} triple;

static int cmp_triple(const void *a, const void *b)
{
    const triple *x = a, *y = b;
    if (x->name != y->name) return x->name < y->name ? -1 : 1;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return x->series < y->series ? -1 : x->series > y->series;
}

static uint32_t str_id(const char **sorted, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(sorted[mid], s);
        if (c == 0) return (uint32_t)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return UINT32_MAX; /* not reached: every label string is in the table */
}

static void sec_begin(kb_buf *b, size_t *mark)
{
    *mark = b->n;
}

/* Wraps bytes [mark, n) of b as a section: inserts the tag and length. */
static void sec_end(kb_buf *b, size_t mark, int tag)
{
    size_t body = b->n - mark;
    uint8_t hdr[20];
    kb_buf t = {0};
    kb_buf_uv(&t, (uint64_t)tag);
    kb_buf_uv(&t, body);
    size_t hn = t.n;
    if (t.oom || hn > sizeof hdr) {
        b->oom = 1;
        kb_buf_free(&t);
        return;
    }
    memcpy(hdr, t.p, hn);
    kb_buf_free(&t);
    if (kb_buf_reserve(b, hn)) return;
    memmove(b->p + mark + hn, b->p + mark, body);
    memcpy(b->p + mark, hdr, hn);
    b->n += hn;
}

static void put_chunk_loc(kb_buf *b, const kb_chunk_loc *c)
{
    kb_buf_uv(b, c->off);
    kb_buf_uv(b, c->clen);
    kb_buf_uv(b, c->rlen);
    kb_buf_u32le(b, c->crc);
}

static int put_obj(kb_writer *w, const char *name, const uint8_t *p, size_t n, kiln_err *err)
{
    char key[1024];
    if (kiln_block_key(w->tenant, w->id, name, key, sizeof key) != KILN_OK)
        return kiln_err_set(err, KILN_EINVAL, "block key too long");
    int rc = kiln_objstore_put(w->os, key, p, n, err);
    if (rc != KILN_OK) kiln_err_prefix(err, "put %s", key);
    return rc;
}

int kb_writer_finish(kb_writer *w, const kb_symtab *syms, kiln_block_meta *m, kiln_err *err)
{
    int rc = KILN_OK;
    kb_buf sym = {0}, idx = {0}, raw = {0};
    kb_symsec secs[KB_NSYM];
    memset(secs, 0, sizeof secs);
    const char **strs = NULL;
    triple *tr = NULL;
    uint8_t *z = NULL, *map = NULL;
    char *json = NULL;
    size_t map_len = 0;

    /* 1. symbols.bin: every section in chunks of kb_sym_per_chunk entries */
    for (int k = 0; k < KB_NSYM; k++) {
        uint64_t n = kb_sym_count(syms, k);
        uint32_t first = k == KB_SYM_STRINGS ? 0 : 1;
        uint32_t pc = kb_sym_per_chunk[k];
        secs[k].n = n;
        secs[k].per_chunk = pc;
        secs[k].n_chunks = (uint32_t)((n + pc - 1) / pc);
        secs[k].chunks = calloc(secs[k].n_chunks ? secs[k].n_chunks : 1, sizeof *secs[k].chunks);
        if (!secs[k].chunks) goto oom;
        for (uint32_t c = 0; c < secs[k].n_chunks; c++) {
            uint32_t cnt = (uint32_t)(n - (uint64_t)c * pc < pc ? n - (uint64_t)c * pc : pc);
            raw.n = 0;
            kb_symchunk_encode(syms, k, first + c * pc, cnt, &raw);
            if (raw.oom) goto oom;
            size_t zn;
            rc = kb_zstd_compress(raw.p, raw.n, ZSTD_LEVEL, &z, &zn, err);
            if (rc != KILN_OK) goto done;
            secs[k].chunks[c] = (kb_chunk_loc){sym.n, zn, raw.n, kb_crc32(z, zn)};
            kb_buf_put(&sym, z, zn);
            free(z);
            z = NULL;
        }
    }
    if (sym.oom) goto oom;

    /* 2. index strings: every label name and value, sorted and unique */
    size_t n_labels = 0;
    for (size_t i = 0; i < w->n_series; i++) n_labels += w->series[i].n_labels;
    strs = malloc((2 * n_labels + 1) * sizeof *strs);
    tr = malloc((n_labels + 1) * sizeof *tr);
    if (!strs || !tr) goto oom;
    size_t ns = 0;
    for (size_t i = 0; i < w->n_series; i++)
        for (uint32_t j = 0; j < w->series[i].n_labels; j++) {
            strs[ns++] = w->series[i].names[j];
            strs[ns++] = w->series[i].values[j];
        }
    if (ns > 1) qsort(strs, ns, sizeof *strs, cmp_str);
    size_t nu = 0;
    for (size_t i = 0; i < ns; i++)
        if (nu == 0 || strcmp(strs[nu - 1], strs[i]) != 0) strs[nu++] = strs[i];

    size_t mark;
    sec_begin(&idx, &mark);
    kb_buf_uv(&idx, nu);
    for (size_t i = 0; i < nu; i++) kb_buf_str(&idx, strs[i], strlen(strs[i]));
    sec_end(&idx, mark, KB_SEC_STRINGS);

    /* 3. series; collect (name, value, series) for the postings */
    size_t nt = 0;
    uint64_t tot_prof = 0, tot_samp = 0;
    int64_t min_t = 0, max_t = 0;
    sec_begin(&idx, &mark);
    kb_buf_uv(&idx, w->n_series);
    for (size_t i = 0; i < w->n_series; i++) {
        const w_series *s = &w->series[i];
        kb_buf_uv(&idx, s->n_labels);
        for (uint32_t j = 0; j < s->n_labels; j++) {
            uint32_t a = str_id(strs, nu, s->names[j]), b = str_id(strs, nu, s->values[j]);
            kb_buf_uv(&idx, a);
            kb_buf_uv(&idx, b);
            tr[nt++] = (triple){a, b, (uint32_t)i};
        }
        kb_buf_sv(&idx, s->min_t);
        kb_buf_uv(&idx, (uint64_t)s->max_t - (uint64_t)s->min_t);
        kb_buf_uv(&idx, s->n_prof);
        kb_buf_uv(&idx, s->n_samp);
        kb_buf_uv(&idx, s->first_chunk);
        kb_buf_uv(&idx, s->n_chunks);
        tot_prof += s->n_prof;
        tot_samp += s->n_samp;
        if (i == 0 || s->min_t < min_t) min_t = s->min_t;
        if (i == 0 || s->max_t > max_t) max_t = s->max_t;
    }
    sec_end(&idx, mark, KB_SEC_SERIES);

    /* 4. chunks */
    sec_begin(&idx, &mark);
    kb_buf_uv(&idx, w->n_chunks);
    for (size_t i = 0; i < w->n_chunks; i++) {
        const kb_sample_chunk *c = &w->chunks[i];
        kb_buf_sv(&idx, c->min_t);
        kb_buf_uv(&idx, (uint64_t)c->max_t - (uint64_t)c->min_t);
        kb_buf_uv(&idx, c->n_prof);
        kb_buf_uv(&idx, c->n_samp);
        put_chunk_loc(&idx, &c->loc);
    }
    sec_end(&idx, mark, KB_SEC_CHUNKS);

    /* 5. postings */
    if (nt > 1) qsort(tr, nt, sizeof *tr, cmp_triple);
    size_t np = 0;
    for (size_t i = 0; i < nt; i++)
        if (i == 0 || tr[i].name != tr[i - 1].name || tr[i].value != tr[i - 1].value) np++;
    sec_begin(&idx, &mark);
    kb_buf_uv(&idx, np);
    for (size_t i = 0; i < nt;) {
        size_t j = i;
        while (j < nt && tr[j].name == tr[i].name && tr[j].value == tr[i].value) j++;
        kb_buf_uv(&idx, tr[i].name);
        kb_buf_uv(&idx, tr[i].value);
        kb_buf_uv(&idx, j - i);
        uint32_t prev = 0;
        for (size_t k = i; k < j; k++) {
            kb_buf_uv(&idx, tr[k].series - prev);
            prev = tr[k].series;
        }
        i = j;
    }
    sec_end(&idx, mark, KB_SEC_POSTINGS);

    /* 6. the symbols table of contents */
    sec_begin(&idx, &mark);
    for (int k = 0; k < KB_NSYM; k++) {
        kb_buf_uv(&idx, secs[k].n);
        kb_buf_uv(&idx, secs[k].per_chunk);
        kb_buf_uv(&idx, secs[k].n_chunks);
        for (uint32_t c = 0; c < secs[k].n_chunks; c++) put_chunk_loc(&idx, &secs[k].chunks[c]);
    }
    sec_end(&idx, mark, KB_SEC_SYMBOLS);
    if (idx.oom) goto oom;

    kb_buf index = {0};
    size_t zn;
    rc = kb_zstd_compress(idx.p, idx.n, ZSTD_LEVEL, &z, &zn, err);
    if (rc != KILN_OK) goto done;
    kb_buf_put(&index, KB_INDEX_MAGIC, 4);
    kb_buf_u32le(&index, KILN_BLOCK_FORMAT_VERSION);
    kb_buf_u32le(&index, 0);
    kb_buf_u64le(&index, idx.n);
    kb_buf_u32le(&index, kb_crc32(z, zn));
    kb_buf_put(&index, z, zn);
    free(z);
    z = NULL;
    kb_buf_free(&idx);
    idx = index;
    if (idx.oom) goto oom;

    /* 7. the data objects, then the meta */
    if (w->samples_size) {
        if (fsync(w->fd) != 0) {
            rc = kiln_err_set(err, KILN_EIO, "fsync %s: %s", w->tmp_path, strerror(errno));
            goto done;
        }
        map_len = (size_t)w->samples_size;
        map = mmap(NULL, map_len, PROT_READ, MAP_SHARED, w->fd, 0);
        if (map == MAP_FAILED) {
            map = NULL;
            rc = kiln_err_set(err, KILN_EIO, "mmap %s: %s", w->tmp_path, strerror(errno));
            goto done;
        }
    }
    static const uint8_t empty[1] = {0};
    if ((rc = put_obj(w, "samples.bin", map ? map : empty, map_len, err)) != KILN_OK) goto done;
    if ((rc = put_obj(w, "symbols.bin", sym.p ? sym.p : empty, sym.n, err)) != KILN_OK) goto done;
    if ((rc = put_obj(w, "index.bin", idx.p, idx.n, err)) != KILN_OK) goto done;
    kb_crash_point(m->level > 1 ? "compact-data-written" : "block-data-written");

    m->version = KILN_BLOCK_FORMAT_VERSION;
    memcpy(m->id, w->id, sizeof m->id);
    if (!m->tenant || strcmp(m->tenant, w->tenant) != 0) {
        free(m->tenant);
        m->tenant = strdup(w->tenant);
        if (!m->tenant) goto oom;
    }
    m->min_time_ns = min_t;
    m->max_time_ns = max_t;
    m->n_series = w->n_series;
    m->n_profiles = tot_prof;
    m->n_samples = tot_samp;
    m->n_strings = kb_sym_count(syms, KB_SYM_STRINGS);
    m->n_mappings = kb_sym_count(syms, KB_SYM_MAPPINGS);
    m->n_functions = kb_sym_count(syms, KB_SYM_FUNCTIONS);
    m->n_locations = kb_sym_count(syms, KB_SYM_LOCATIONS);
    m->n_stacks = kb_sym_count(syms, KB_SYM_STACKS);
    if (!m->created_ns) m->created_ns = kiln_now_unix_ns();
    m->files[KILN_BLOCK_FILE_INDEX] = (kiln_block_file){idx.n, kb_crc32(idx.p, idx.n)};
    m->files[KILN_BLOCK_FILE_SYMBOLS] = (kiln_block_file){sym.n, kb_crc32(sym.p, sym.n)};
    m->files[KILN_BLOCK_FILE_SAMPLES] = (kiln_block_file){w->samples_size, w->samples_crc};
    size_t jl;
    rc = kiln_block_meta_encode(m, &json, &jl, err);
    if (rc != KILN_OK) goto done;
    rc = put_obj(w, "meta.json", (const uint8_t *)json, jl, err);
    if (rc == KILN_OK) kb_crash_point(m->level > 1 ? "compact-meta-written" : "block-meta-written");
    goto done;
oom:
    rc = kiln_err_set(err, KILN_ENOMEM, "out of memory writing block %s", w->id);
done:
    if (map) munmap(map, map_len);
    free(z);
    free(json);
    free(strs);
    free(tr);
    for (int k = 0; k < KB_NSYM; k++) free(secs[k].chunks);
    kb_buf_free(&sym);
    kb_buf_free(&idx);
    kb_buf_free(&raw);
    kb_writer_abort(w);
    return rc;
}
