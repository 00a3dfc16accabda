/* pipeline/block_verify.c — kiln_block_verify: reads every object of a
 * block whole, checks sizes and checksums against meta.json, decodes the
 * index, every symbol chunk and every sample chunk, and checks that every
 * id points at something and every count adds up to the meta's.
 *
 * Memory: objects and decoded chunks are freed before returning.
 */
#include "block_internal.h"

#include <stdio.h>

static int read_whole(kiln_objstore *os, const kiln_block_meta *m, int f, uint8_t **data,
                      size_t *len, kiln_err *err)
{
    char key[1024];
    if (kiln_block_key(m->tenant, m->id, kiln_block_file_names[f], key, sizeof key) != KILN_OK)
        return kiln_err_set(err, KILN_EINVAL, "block key too long");
    int rc = kiln_objstore_get(os, key, data, len, err);
    if (rc == KILN_ENOTFOUND) return kiln_err_set(err, KILN_EINVAL, "%s is missing", kiln_block_file_names[f]);
    if (rc != KILN_OK) return rc;
    if (*len != m->files[f].size)
        return kiln_err_set(err, KILN_EINVAL, "%s is %zu bytes, meta.json says %llu (truncated or replaced)",
                            kiln_block_file_names[f], *len, (unsigned long long)m->files[f].size);
    uint32_t crc = kb_crc32(*data, *len);
    if (crc != m->files[f].crc32)
        return kiln_err_set(err, KILN_EINVAL, "%s checksum %u, meta.json says %u (corrupt)",
                            kiln_block_file_names[f], crc, m->files[f].crc32);
    return KILN_OK;
}

static int chunk_raw(const uint8_t *obj, const kb_chunk_loc *l, const char *what, uint32_t i,
                     uint8_t **raw, kiln_err *err)
{
    const uint8_t *z = obj + l->off;
    if (kb_crc32(z, l->clen) != l->crc)
        return kiln_err_set(err, KILN_EINVAL, "%s chunk %u: checksum mismatch", what, i);
    int rc = kb_zstd_decompress(z, l->clen, l->rlen, raw, err);
    if (rc != KILN_OK) kiln_err_prefix(err, "%s chunk %u", what, i);
    return rc;
}

int kiln_block_verify(kiln_objstore *os, const kiln_block_meta *m, kiln_err *err)
{
    int rc;
    uint8_t *obj[KILN_BLOCK_NFILES] = {0};
    size_t len[KILN_BLOCK_NFILES] = {0};
    kb_index x;
    memset(&x, 0, sizeof x);
    kiln_block_samples s;
    memset(&s, 0, sizeof s);
    for (int f = 0; f < KILN_BLOCK_NFILES; f++)
        if ((rc = read_whole(os, m, f, &obj[f], &len[f], err)) != KILN_OK) goto done;
    rc = kb_index_decode(obj[KILN_BLOCK_FILE_INDEX], len[KILN_BLOCK_FILE_INDEX],
                         len[KILN_BLOCK_FILE_SYMBOLS], len[KILN_BLOCK_FILE_SAMPLES], &x, err);
    if (rc != KILN_OK) goto done;
    const uint64_t want[KB_NSYM] = {m->n_strings, m->n_mappings, m->n_functions, m->n_locations,
                                    m->n_stacks};
    for (int k = 0; k < KB_NSYM; k++)
        if (x.sym[k].n != want[k]) {
            rc = kiln_err_set(err, KILN_EINVAL, "index holds %llu %s, meta.json %llu",
                              (unsigned long long)x.sym[k].n, kb_sym_names[k],
                              (unsigned long long)want[k]);
            goto done;
        }
    if (x.n_series != m->n_series) {
        rc = kiln_err_set(err, KILN_EINVAL, "index holds %u series, meta.json %llu", x.n_series,
                          (unsigned long long)m->n_series);
        goto done;
    }
    /* symbols: every chunk decodes and every reference resolves */
    for (int k = 0; k < KB_NSYM; k++) {
        const kb_symsec *y = &x.sym[k];
        for (uint32_t c = 0; c < y->n_chunks; c++) {
            uint8_t *raw;
            if ((rc = chunk_raw(obj[KILN_BLOCK_FILE_SYMBOLS], &y->chunks[c], kb_sym_names[k], c, &raw, err)) != KILN_OK)
                goto done;
            uint64_t left = y->n - (uint64_t)c * y->per_chunk;
            uint32_t cnt = left < y->per_chunk ? (uint32_t)left : y->per_chunk;
            uint32_t first = (k == KB_SYM_STRINGS ? 0 : 1) + c * y->per_chunk;
            kb_symchunk ch;
            rc = kb_symchunk_decode(k, raw, y->chunks[c].rlen, first, cnt, &ch, err);
            free(raw);
            if (rc != KILN_OK) goto done;
            const uint64_t ns = x.sym[KB_SYM_STRINGS].n;
            for (uint32_t i = 0; i < cnt && rc == KILN_OK; i++) {
                uint32_t id = first + i;
                switch (k) {
                case KB_SYM_MAPPINGS:
                    if (ch.map[i].filename >= ns || ch.map[i].build_id >= ns)
                        rc = kiln_err_set(err, KILN_EINVAL, "mapping %u: string id out of range", id);
                    break;
                case KB_SYM_FUNCTIONS:
                    if (ch.fn[i].name >= ns || ch.fn[i].system_name >= ns || ch.fn[i].filename >= ns)
                        rc = kiln_err_set(err, KILN_EINVAL, "function %u: string id out of range", id);
                    break;
                case KB_SYM_LOCATIONS:
                    if (ch.loc[i].mapping > x.sym[KB_SYM_MAPPINGS].n)
                        rc = kiln_err_set(err, KILN_EINVAL, "location %u: mapping out of range", id);
                    for (uint32_t j = 0; j < ch.loc[i].n_lines && rc == KILN_OK; j++)
                        if (!ch.loc[i].lines[j].function ||
                            ch.loc[i].lines[j].function > x.sym[KB_SYM_FUNCTIONS].n)
                            rc = kiln_err_set(err, KILN_EINVAL, "location %u: function out of range", id);
                    break;
                case KB_SYM_STACKS:
                    if (ch.nloc[i] > x.sym[KB_SYM_LOCATIONS].n)
                        rc = kiln_err_set(err, KILN_EINVAL, "stack node %u: location out of range", id);
                    break;
                default: break;
                }
            }
            kb_symchunk_free(&ch);
            if (rc != KILN_OK) goto done;
        }
    }
    /* samples: every chunk decodes, ids resolve, counts add up */
    uint64_t np = 0, nsamp = 0;
    int64_t mn = INT64_MAX, mx = INT64_MIN;
    for (uint32_t i = 0; i < x.n_series; i++) {
        const kb_series_ent *e = &x.series[i];
        for (uint32_t j = 0; j < e->n_chunks; j++) {
            const kb_sample_chunk *c = &x.chunks[e->first_chunk + j];
            uint8_t *raw;
            if ((rc = chunk_raw(obj[KILN_BLOCK_FILE_SAMPLES], &c->loc, "sample", e->first_chunk + j, &raw, err)) != KILN_OK)
                goto done;
            kiln_block_samples_free(&s);
            memset(&s, 0, sizeof s);
            rc = kb_chunk_decode(raw, c->loc.rlen, 1, INT64_MIN, INT64_MAX, c->n_prof, c->n_samp, &s, err);
            free(raw);
            if (rc != KILN_OK) goto done;
            for (size_t q = 0; q < s.n_samples; q++)
                if (s.stack[q] > x.sym[KB_SYM_STACKS].n) {
                    rc = kiln_err_set(err, KILN_EINVAL, "series %u: stack id %u out of range", i, s.stack[q]);
                    goto done;
                }
            for (size_t q = 0; q < s.n_profiles; q++) {
                if (s.time_ns[q] < c->min_t || s.time_ns[q] > c->max_t) {
                    rc = kiln_err_set(err, KILN_EINVAL, "series %u: a profile time is outside its chunk's range", i);
                    goto done;
                }
                uint64_t t = 0;
                for (uint64_t r = s.sample_off[q]; r < s.sample_off[q + 1]; r++) t += (uint64_t)s.value[r];
                if ((int64_t)t != s.total[q]) {
                    rc = kiln_err_set(err, KILN_EINVAL, "series %u: a profile total does not match its samples", i);
                    goto done;
                }
            }
        }
        np += e->n_prof;
        nsamp += e->n_samp;
        if (e->n_prof && e->min_t < mn) mn = e->min_t;
        if (e->n_prof && e->max_t > mx) mx = e->max_t;
    }
    if (np != m->n_profiles || nsamp != m->n_samples) {
        rc = kiln_err_set(err, KILN_EINVAL, "blocks hold %llu profiles / %llu samples, meta.json %llu / %llu",
                          (unsigned long long)np, (unsigned long long)nsamp,
                          (unsigned long long)m->n_profiles, (unsigned long long)m->n_samples);
        goto done;
    }
    if (x.n_series && (mn != m->min_time_ns || mx != m->max_time_ns))
        rc = kiln_err_set(err, KILN_EINVAL, "series time range differs from meta.json's");
done:
    if (rc != KILN_OK) kiln_err_prefix(err, "block %s/%s", m->tenant, m->id);
    kiln_block_samples_free(&s);
    kb_index_free(&x);
    for (int f = 0; f < KILN_BLOCK_NFILES; f++) free(obj[f]);
    return rc;
}
