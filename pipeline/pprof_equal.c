/* pipeline/pprof_equal.c — kiln_pprof_equal: deep content equality of two
 * profiles. Every field of every message is compared; string-valued fields
 * are compared by the strings they name (two profiles with differently
 * ordered string tables are equal), ids and numbers by value. The string
 * table itself (e.g. unused entries) is not compared. A missing period_type
 * equals an empty one, as in pprof.
 *
 * Memory: nothing is allocated.
 */
#include "pprof_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

static int differ(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int differ(char *why, size_t cap, const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return 0;
}

#define SAME_STR(x, y) (strcmp(kp_str(a, (x)), kp_str(b, (y))) == 0)
#define EQ_NUM(x, y, ...)                                                                      \
    do {                                                                                       \
        if ((x) != (y)) {                                                                      \
            char w_[200];                                                                      \
            snprintf(w_, sizeof w_, __VA_ARGS__);                                              \
            return differ(why, cap, "%s: %" PRId64 " != %" PRId64, w_, (int64_t)(x),         \
                          (int64_t)(y));                                                       \
        }                                                                                      \
    } while (0)
#define EQ_STR(x, y, ...)                                                                      \
    do {                                                                                       \
        if (!SAME_STR(x, y)) {                                                                 \
            char w_[200];                                                                      \
            snprintf(w_, sizeof w_, __VA_ARGS__);                                              \
            return differ(why, cap, "%s: \"%.60s\" != \"%.60s\"", w_, kp_str(a, (x)),         \
                          kp_str(b, (y)));                                                     \
        }                                                                                      \
    } while (0)

static int vt_equal(const kiln_pprof *a, const kiln_pprof *b, const kiln_pprof_value_type *x,
                    const kiln_pprof_value_type *y, const char *what, char *why, size_t cap)
{
    int64_t xt = x ? x->type : 0, xu = x ? x->unit : 0, yt = y ? y->type : 0, yu = y ? y->unit : 0;
    EQ_STR(xt, yt, "%s.type", what);
    EQ_STR(xu, yu, "%s.unit", what);
    return 1;
}

int kiln_pprof_equal(const kiln_pprof *a, const kiln_pprof *b, char *why, size_t cap)
{
    if (why && cap) why[0] = 0;
    if (a == b) return 1;
    if (!a || !b) return differ(why, cap, "one profile is NULL");
    char what[64];

    EQ_NUM(a->n_sample_type, b->n_sample_type, "sample_type count");
    for (size_t i = 0; i < a->n_sample_type; i++) {
        snprintf(what, sizeof what, "sample_type[%zu]", i);
        if (!vt_equal(a, b, a->sample_type[i], b->sample_type[i], what, why, cap)) return 0;
    }
    if (!vt_equal(a, b, a->period_type, b->period_type, "period_type", why, cap)) return 0;
    EQ_NUM(a->period, b->period, "period");
    EQ_NUM(a->time_nanos, b->time_nanos, "time_nanos");
    EQ_NUM(a->duration_nanos, b->duration_nanos, "duration_nanos");
    EQ_STR(a->drop_frames, b->drop_frames, "drop_frames");
    EQ_STR(a->keep_frames, b->keep_frames, "keep_frames");
    EQ_STR(a->default_sample_type, b->default_sample_type, "default_sample_type");
    EQ_STR(a->doc_url, b->doc_url, "doc_url");
    EQ_NUM(a->n_comment, b->n_comment, "comment count");
    for (size_t i = 0; i < a->n_comment; i++) EQ_STR(a->comment[i], b->comment[i], "comment[%zu]", i);

    EQ_NUM(a->n_mapping, b->n_mapping, "mapping count");
    for (size_t i = 0; i < a->n_mapping; i++) {
        const kiln_pprof_mapping *x = a->mapping[i], *y = b->mapping[i];
        EQ_NUM(x->id, y->id, "mapping[%zu].id", i);
        EQ_NUM(x->memory_start, y->memory_start, "mapping[%zu].memory_start", i);
        EQ_NUM(x->memory_limit, y->memory_limit, "mapping[%zu].memory_limit", i);
        EQ_NUM(x->file_offset, y->file_offset, "mapping[%zu].file_offset", i);
        EQ_STR(x->filename, y->filename, "mapping[%zu].filename", i);
        EQ_STR(x->build_id, y->build_id, "mapping[%zu].build_id", i);
        EQ_NUM(!!x->has_functions, !!y->has_functions, "mapping[%zu].has_functions", i);
        EQ_NUM(!!x->has_filenames, !!y->has_filenames, "mapping[%zu].has_filenames", i);
        EQ_NUM(!!x->has_line_numbers, !!y->has_line_numbers, "mapping[%zu].has_line_numbers", i);
        EQ_NUM(!!x->has_inline_frames, !!y->has_inline_frames, "mapping[%zu].has_inline_frames", i);
    }

    EQ_NUM(a->n_function, b->n_function, "function count");
    for (size_t i = 0; i < a->n_function; i++) {
        const kiln_pprof_function *x = a->function[i], *y = b->function[i];
        EQ_NUM(x->id, y->id, "function[%zu].id", i);
        EQ_STR(x->name, y->name, "function[%zu].name", i);
        EQ_STR(x->system_name, y->system_name, "function[%zu].system_name", i);
        EQ_STR(x->filename, y->filename, "function[%zu].filename", i);
        EQ_NUM(x->start_line, y->start_line, "function[%zu].start_line", i);
    }

    EQ_NUM(a->n_location, b->n_location, "location count");
    for (size_t i = 0; i < a->n_location; i++) {
        const kiln_pprof_location *x = a->location[i], *y = b->location[i];
        EQ_NUM(x->id, y->id, "location[%zu].id", i);
        EQ_NUM(x->mapping_id, y->mapping_id, "location[%zu].mapping_id", i);
        EQ_NUM(x->address, y->address, "location[%zu].address", i);
        EQ_NUM(!!x->is_folded, !!y->is_folded, "location[%zu].is_folded", i);
        EQ_NUM(x->n_line, y->n_line, "location[%zu] line count", i);
        for (size_t j = 0; j < x->n_line; j++) {
            const kiln_pprof_line *u = x->line[j], *v = y->line[j];
            EQ_NUM(u->function_id, v->function_id, "location[%zu].line[%zu].function_id", i, j);
            EQ_NUM(u->line, v->line, "location[%zu].line[%zu].line", i, j);
            EQ_NUM(u->column, v->column, "location[%zu].line[%zu].column", i, j);
        }
    }

    EQ_NUM(a->n_sample, b->n_sample, "sample count");
    for (size_t i = 0; i < a->n_sample; i++) {
        const kiln_pprof_sample *x = a->sample[i], *y = b->sample[i];
        EQ_NUM(x->n_location_id, y->n_location_id, "sample[%zu] location count", i);
        for (size_t j = 0; j < x->n_location_id; j++)
            EQ_NUM(x->location_id[j], y->location_id[j], "sample[%zu].location_id[%zu]", i, j);
        EQ_NUM(x->n_value, y->n_value, "sample[%zu] value count", i);
        for (size_t j = 0; j < x->n_value; j++)
            EQ_NUM(x->value[j], y->value[j], "sample[%zu].value[%zu]", i, j);
        EQ_NUM(x->n_label, y->n_label, "sample[%zu] label count", i);
        for (size_t j = 0; j < x->n_label; j++) {
            const kiln_pprof_label *u = x->label[j], *v = y->label[j];
            EQ_STR(u->key, v->key, "sample[%zu].label[%zu].key", i, j);
            EQ_STR(u->str, v->str, "sample[%zu].label[%zu].str", i, j);
            EQ_NUM(u->num, v->num, "sample[%zu].label[%zu].num", i, j);
            EQ_STR(u->num_unit, v->num_unit, "sample[%zu].label[%zu].num_unit", i, j);
        }
    }
    return 1;
}
