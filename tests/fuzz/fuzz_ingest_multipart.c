/* tests/fuzz/fuzz_ingest_multipart.c — libFuzzer target for the pprof
 * receiver's body parsers: the multipart/form-data scanner (boundary from a
 * Content-Type, parts, headers), the sample_type_config JSON parser, and
 * the folded / lines text reader (whose model must pass pprof validation).
 *
 * Input: the first line is the Content-Type, the rest the body. Checks, on
 * top of "no crash, no leak, no hang": every part lies inside the body, in
 * order, and the form's parts are ones the scanner returned.
 * Seeds: tests/fuzz/seeds_ingest_multipart/.
 */
// fuzz-sources: receivers/pprof/multipart.c receivers/pprof/stconfig.c receivers/pprof/ingest_labels.c receivers/pprof/folded.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../receivers/pprof/pprofrx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 400 ? size : 400);
    size_t ctl = nl ? (size_t)(nl - data) : 0;
    char ct[401];
    memcpy(ct, data, ctl);
    ct[ctl] = 0;
    const uint8_t *body = nl ? nl + 1 : data;
    size_t blen = size - (size_t)(body - data);
    /* a copy of exactly blen bytes, so reading past the body is caught */
    uint8_t *b = malloc(blen ? blen : 1);
    if (!b) return 0;
    memcpy(b, body, blen);

    kiln_err e;
    char bnd[KILN_PPROFRX_BOUNDARY_MAX + 1];
    size_t bl;
    if (kiln_pprofrx_mp_boundary(ct, bnd, sizeof bnd, &bl, &e) == KILN_OK) {
        if (bl == 0 || bl > KILN_PPROFRX_BOUNDARY_MAX || strlen(bnd) > bl) abort();
        kiln_pprofrx_mp mp;
        kiln_pprofrx_mp_init(&mp, b, blen, bnd, bl);
        kiln_pprofrx_part p;
        size_t end = 0, n = 0;
        int rc;
        while ((rc = kiln_pprofrx_mp_next(&mp, &p, &e)) == 1) {
            if (p.data < b || p.data + p.len > b + blen) abort();
            if (p.offset != (size_t)(p.data - b) || p.offset < end) abort();
            if (p.index != n++) abort();
            if (p.name_ok && strlen(p.name) >= sizeof p.name) abort();
            end = p.offset + p.len;
        }
        if (rc != 0 && rc != KILN_EINVAL) abort();
        if (n > KILN_PPROFRX_MAX_PARTS) abort();
    }

    kiln_pprofrx_form f;
    if (kiln_pprofrx_form_read(ct, b, blen, &f, &e) == KILN_OK) {
        if (f.has_profile && (f.profile.data < b || f.profile.data + f.profile.len > b + blen))
            abort();
        if (f.has_stc) {
            kiln_pprofrx_stc stc;
            if (kiln_pprofrx_stc_parse(f.sample_type_config.data, f.sample_type_config.len, &stc,
                                       &e) == KILN_OK) {
                kiln_str types[3] = {{"samples", 7}, {"contentions", 11}, {"delay", 5}};
                char name[64];
                kiln_pprofrx_type_name(types, 3, &stc, name, sizeof name);
                kiln_pprofrx_stc_free(&stc);
            }
        }
    }
    /* the whole input as sample_type_config JSON too */
    kiln_pprofrx_stc stc;
    if (kiln_pprofrx_stc_parse(data, size, &stc, &e) == KILN_OK) {
        for (size_t i = 0; i < stc.n; i++)
            if (!stc.v[i].key) abort();
        kiln_pprofrx_stc_free(&stc);
    }
    /* the body as folded text and as lines */
    for (int mode = 0; mode < 2; mode++) {
        kiln_arena *a = kiln_arena_new(0);
        if (!a) break;
        kiln_pprofrx_text_type t = {"cpu", "nanoseconds", "cpu", "nanoseconds", 10000000, 10000000};
        kiln_pprof *pp = NULL;
        if (kiln_pprofrx_folded(a, b, blen, mode, &t, 1, 2, &pp, &e) == KILN_OK && pp) {
            if (kiln_pprof_validate(pp, &e) != KILN_OK) abort();
            if (pp->n_sample == 0 || pp->n_location != pp->n_function) abort();
        }
        kiln_arena_destroy(a);
    }
    free(b);
    return 0;
}
