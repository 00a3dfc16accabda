/* pipeline/pprof_validate.c — the checks google/pprof makes on a decoded
 * profile (its decoder's string-index checks plus Profile.CheckValid), and the
 * id -> position indexes of mappings, locations and functions that the other
 * pprof_*.c files share (kiln_pp_idx_*, kiln_pp_ids_*).
 *
 * Errors name the field and its index, e.g.
 *   "location[12].line[0].function_id 77 not found"
 *   "sample[3] has 1 values, expected 2 (sample_type count)".
 *
 * Memory: the indexes are malloc'ed and freed before kiln_pprof_validate
 * returns; kiln_pp_ids_build's result is freed by kiln_pp_ids_free.
 */
#include "pprof_internal.h"

#include <inttypes.h>
#include <stdio.h>

/* ---- id index -------------------------------------------------------------- */

int kiln_pp_idx_build(kp_idx *x, const uint64_t *ids, size_t n, size_t *dup_a, size_t *dup_b)
{
    memset(x, 0, sizeof *x);
    x->n = n;
    size_t i;
    uint64_t max = 0;
    int dense = 1;
    for (i = 0; i < n; i++) {
        if (ids[i] != i + 1) dense = 0;
        if (ids[i] > max) max = ids[i];
    }
    if (dense) {
        x->mode = 0;
        return 0;
    }
    if (max <= 2 * (uint64_t)n + 1024) {
        x->mode = 1;
        x->n_direct = (size_t)max + 1;
        x->direct = calloc(x->n_direct, sizeof *x->direct);
        if (!x->direct) return -1;
        for (i = 0; i < n; i++) {
            uint64_t id = ids[i];
            if (!id) continue;
            if (x->direct[id]) {
                *dup_a = x->direct[id] - 1;
                *dup_b = i;
                return 1;
            }
            x->direct[id] = (uint32_t)i + 1;
        }
        return 0;
    }
    x->mode = 2;
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    x->cap = cap;
    x->keys = calloc(cap, sizeof *x->keys);
    x->vals = malloc(cap * sizeof *x->vals);
    if (!x->keys || !x->vals) return -1;
    for (i = 0; i < n; i++) {
        uint64_t id = ids[i];
        if (!id) continue;
        size_t j = (size_t)kp_mix(id, KP_K1) & (cap - 1);
        while (x->keys[j] && x->keys[j] != id) j = (j + 1) & (cap - 1);
        if (x->keys[j] == id) {
            *dup_a = x->vals[j];
            *dup_b = i;
            return 1;
        }
        x->keys[j] = id;
        x->vals[j] = (uint32_t)i;
    }
    return 0;
}

void kiln_pp_idx_free(kp_idx *x)
{
    free(x->direct);
    free(x->keys);
    free(x->vals);
    memset(x, 0, sizeof *x);
}

/* Collects ids of one table into a temporary array and indexes them. */
#define BUILD_IDX(tbl, field, name)                                                            \
    do {                                                                                       \
        size_t n_ = p->n_##tbl;                                                                \
        uint64_t *v_ = malloc((n_ ? n_ : 1) * sizeof *v_);                                     \
        if (!v_) {                                                                             \
            rc = kiln_err_set(err, KILN_ENOMEM, "pprof: out of memory indexing " name "s");    \
            goto fail;                                                                         \
        }                                                                                      \
        for (size_t i_ = 0; i_ < n_; i_++) v_[i_] = p->tbl[i_] ? p->tbl[i_]->id : 0;           \
        size_t a_ = 0, b_ = 0;                                                                 \
        int r_ = kiln_pp_idx_build(&ids->field, v_, n_, &a_, &b_);                             \
        uint64_t dupid_ = r_ == 1 ? v_[b_] : 0;                                                \
        free(v_);                                                                              \
        if (r_ < 0) {                                                                          \
            rc = kiln_err_set(err, KILN_ENOMEM, "pprof: out of memory indexing " name "s");    \
            goto fail;                                                                         \
        }                                                                                      \
        if (r_ > 0) {                                                                          \
            rc = kiln_err_set(err, KILN_EINVAL,                                                \
                              name "[%zu].id %" PRIu64 " is also the id of " name "[%zu]", b_, \
                              dupid_, a_);                                                     \
            goto fail;                                                                         \
        }                                                                                      \
    } while (0)

int kiln_pp_ids_build(const kiln_pprof *p, kp_ids *ids, kiln_err *err)
{
    int rc = KILN_OK;
    memset(ids, 0, sizeof *ids);
    BUILD_IDX(mapping, mapping, "mapping");
    BUILD_IDX(location, location, "location");
    BUILD_IDX(function, function, "function");
    return KILN_OK;
fail:
    kiln_pp_ids_free(ids);
    return rc;
}

void kiln_pp_ids_free(kp_ids *ids)
{
    kiln_pp_idx_free(&ids->mapping);
    kiln_pp_idx_free(&ids->location);
    kiln_pp_idx_free(&ids->function);
}

/* ---- validation --------------------------------------------------------- */

#define STR_OK(i) ((i) >= 0 && (uint64_t)(i) < nstr)
#define CHECK_STR(val, ...)                                                                    \
    do {                                                                                       \
        int64_t v_ = (val);                                                                    \
        if (!STR_OK(v_)) {                                                                     \
            char where_[160];                                                                  \
            snprintf(where_, sizeof where_, __VA_ARGS__);                                      \
            return kiln_err_set(err, KILN_EINVAL,                                              \
                                "%s: string index %" PRId64                                    \
                                " out of range (string_table has %zu entries)",                \
                                where_, v_, nstr);                                             \
        }                                                                                      \
    } while (0)

static int check_strings(const kiln_pprof *p, kiln_err *err)
{
    size_t nstr = p->n_string_table;
    if (nstr == 0)
        return kiln_err_set(err, KILN_EINVAL, "string_table is empty (string_table[0] must be \"\")");
    if (!p->string_table[0] || p->string_table[0][0] != '\0')
        return kiln_err_set(err, KILN_EINVAL, "string_table[0] must be \"\"");
    for (size_t i = 1; i < nstr; i++)
        if (!p->string_table[i]) return kiln_err_set(err, KILN_EINVAL, "string_table[%zu] is NULL", i);
    for (size_t i = 0; i < p->n_sample_type; i++) {
        const kiln_pprof_value_type *vt = p->sample_type[i];
        if (!vt) return kiln_err_set(err, KILN_EINVAL, "sample_type[%zu] is NULL", i);
        CHECK_STR(vt->type, "sample_type[%zu].type", i);
        CHECK_STR(vt->unit, "sample_type[%zu].unit", i);
    }
    if (p->period_type) {
        CHECK_STR(p->period_type->type, "period_type.type");
        CHECK_STR(p->period_type->unit, "period_type.unit");
    }
    CHECK_STR(p->drop_frames, "drop_frames");
    CHECK_STR(p->keep_frames, "keep_frames");
    CHECK_STR(p->default_sample_type, "default_sample_type");
    CHECK_STR(p->doc_url, "doc_url");
    for (size_t i = 0; i < p->n_comment; i++) CHECK_STR(p->comment[i], "comment[%zu]", i);
    for (size_t i = 0; i < p->n_mapping; i++) {
        const kiln_pprof_mapping *m = p->mapping[i];
        if (!m) return kiln_err_set(err, KILN_EINVAL, "mapping[%zu] is NULL", i);
        CHECK_STR(m->filename, "mapping[%zu].filename", i);
        CHECK_STR(m->build_id, "mapping[%zu].build_id", i);
    }
    for (size_t i = 0; i < p->n_function; i++) {
        const kiln_pprof_function *f = p->function[i];
        if (!f) return kiln_err_set(err, KILN_EINVAL, "function[%zu] is NULL", i);
        CHECK_STR(f->name, "function[%zu].name", i);
        CHECK_STR(f->system_name, "function[%zu].system_name", i);
        CHECK_STR(f->filename, "function[%zu].filename", i);
    }
    for (size_t i = 0; i < p->n_sample; i++) {
        const kiln_pprof_sample *s = p->sample[i];
        if (!s) return kiln_err_set(err, KILN_EINVAL, "sample[%zu] is NULL", i);
        for (size_t j = 0; j < s->n_label; j++) {
            const kiln_pprof_label *l = s->label[j];
            if (!l) return kiln_err_set(err, KILN_EINVAL, "sample[%zu].label[%zu] is NULL", i, j);
            CHECK_STR(l->key, "sample[%zu].label[%zu].key", i, j);
            CHECK_STR(l->str, "sample[%zu].label[%zu].str", i, j);
            CHECK_STR(l->num_unit, "sample[%zu].label[%zu].num_unit", i, j);
        }
    }
    return KILN_OK;
}

static int check_refs(const kiln_pprof *p, const kp_ids *ids, kiln_err *err)
{
    size_t nt = p->n_sample_type;
    if (p->n_sample && !nt)
        return kiln_err_set(err, KILN_EINVAL, "profile has %zu samples but no sample_type",
                            p->n_sample);
    for (size_t i = 0; i < p->n_location; i++) {
        const kiln_pprof_location *l = p->location[i];
        if (l->mapping_id && kp_idx_get(&ids->mapping, l->mapping_id) < 0)
            return kiln_err_set(err, KILN_EINVAL, "location[%zu].mapping_id %" PRIu64 " not found",
                                i, l->mapping_id);
        for (size_t j = 0; j < l->n_line; j++) {
            const kiln_pprof_line *ln = l->line[j];
            if (!ln)
                return kiln_err_set(err, KILN_EINVAL, "location[%zu].line[%zu] is NULL", i, j);
            if (!ln->function_id)
                return kiln_err_set(err, KILN_EINVAL,
                                    "location[%zu].line[%zu].function_id is 0 (line without function)",
                                    i, j);
            if (kp_idx_get(&ids->function, ln->function_id) < 0)
                return kiln_err_set(err, KILN_EINVAL,
                                    "location[%zu].line[%zu].function_id %" PRIu64 " not found", i,
                                    j, ln->function_id);
        }
    }
    for (size_t i = 0; i < p->n_sample; i++) {
        const kiln_pprof_sample *s = p->sample[i];
        if (s->n_value != nt)
            return kiln_err_set(err, KILN_EINVAL,
                                "sample[%zu] has %zu values, expected %zu (sample_type count)", i,
                                s->n_value, nt);
        for (size_t j = 0; j < s->n_location_id; j++)
            if (kp_idx_get(&ids->location, s->location_id[j]) < 0)
                return kiln_err_set(err, KILN_EINVAL,
                                    "sample[%zu].location_id[%zu] %" PRIu64 " not found", i, j,
                                    s->location_id[j]);
    }
    return KILN_OK;
}

static int check_ids_nonzero(const kiln_pprof *p, kiln_err *err)
{
    for (size_t i = 0; i < p->n_mapping; i++)
        if (!p->mapping[i]->id)
            return kiln_err_set(err, KILN_EINVAL, "mapping[%zu].id is 0 (reserved)", i);
    for (size_t i = 0; i < p->n_location; i++) {
        if (!p->location[i]) return kiln_err_set(err, KILN_EINVAL, "location[%zu] is NULL", i);
        if (!p->location[i]->id)
            return kiln_err_set(err, KILN_EINVAL, "location[%zu].id is 0 (reserved)", i);
    }
    for (size_t i = 0; i < p->n_function; i++)
        if (!p->function[i]->id)
            return kiln_err_set(err, KILN_EINVAL, "function[%zu].id is 0 (reserved)", i);
    return KILN_OK;
}

int kiln_pprof_validate(const kiln_pprof *p, kiln_err *err)
{
    if (!p) return kiln_err_set(err, KILN_EINVAL, "profile is NULL");
    int rc = check_strings(p, err);
    if (rc) return rc;
    rc = check_ids_nonzero(p, err);
    if (rc) return rc;
    kp_ids ids;
    rc = kiln_pp_ids_build(p, &ids, err);
    if (rc) return rc;
    rc = check_refs(p, &ids, err);
    kiln_pp_ids_free(&ids);
    return rc;
}
