/* exporters/query/qpprofjson.c — a pprof profile as protojson (the
 * google.v1.Profile that SelectMergeProfile answers to a JSON client):
 * lowerCamelCase field names, 64-bit integers as strings, fields with
 * default values (0, false, empty) left out as protojson does; repeated
 * strings keep every element (string_table[0] is "").
 *
 * Memory: writes into the caller's buffer; allocates nothing else.
 */
#include "query.h"

#include <inttypes.h>

typedef struct jw {
    kq_buf *o;
    int first;
} jw;

static void key(jw *w, const char *k)
{
    if (!w->first) kiln_query_buf_putc(w->o, ',');
    w->first = 0;
    kiln_query_buf_putc(w->o, '"');
    kiln_query_buf_puts(w->o, k);
    kiln_query_buf_puts(w->o, "\":");
}

static void i64(jw *w, const char *k, int64_t v)
{
    if (!v) return;
    key(w, k);
    kiln_query_buf_printf(w->o, "\"%" PRId64 "\"", v);
}

static void u64(jw *w, const char *k, uint64_t v)
{
    if (!v) return;
    key(w, k);
    kiln_query_buf_printf(w->o, "\"%" PRIu64 "\"", v);
}

static void bln(jw *w, const char *k, int v)
{
    if (!v) return;
    key(w, k);
    kiln_query_buf_puts(w->o, "true");
}

static void open_obj(jw *w) { kiln_query_buf_putc(w->o, '{'), w->first = 1; }

static void value_type(kq_buf *o, const kiln_pprof_value_type *vt)
{
    jw w = {o, 1};
    open_obj(&w);
    i64(&w, "type", vt->type);
    i64(&w, "unit", vt->unit);
    kiln_query_buf_putc(o, '}');
}

void kiln_query_pprof_json(const kiln_pprof *p, kq_buf *o)
{
    jw w = {o, 1};
    open_obj(&w);
    if (p->n_sample_type) {
        key(&w, "sampleType");
        kiln_query_buf_putc(o, '[');
        for (size_t i = 0; i < p->n_sample_type; i++) {
            if (i) kiln_query_buf_putc(o, ',');
            value_type(o, p->sample_type[i]);
        }
        kiln_query_buf_putc(o, ']');
    }
    if (p->n_sample) {
        key(&w, "sample");
        kiln_query_buf_putc(o, '[');
        for (size_t i = 0; i < p->n_sample; i++) {
            const kiln_pprof_sample *s = p->sample[i];
            if (i) kiln_query_buf_putc(o, ',');
            jw sw = {o, 1};
            open_obj(&sw);
            if (s->n_location_id) {
                key(&sw, "locationId");
                kiln_query_buf_putc(o, '[');
                for (size_t k = 0; k < s->n_location_id; k++)
                    kiln_query_buf_printf(o, "%s\"%" PRIu64 "\"", k ? "," : "", s->location_id[k]);
                kiln_query_buf_putc(o, ']');
            }
            if (s->n_value) {
                key(&sw, "value");
                kiln_query_buf_putc(o, '[');
                for (size_t k = 0; k < s->n_value; k++)
                    kiln_query_buf_printf(o, "%s\"%" PRId64 "\"", k ? "," : "", s->value[k]);
                kiln_query_buf_putc(o, ']');
            }
            if (s->n_label) {
                key(&sw, "label");
                kiln_query_buf_putc(o, '[');
                for (size_t k = 0; k < s->n_label; k++) {
                    const kiln_pprof_label *l = s->label[k];
                    if (k) kiln_query_buf_putc(o, ',');
                    jw lw = {o, 1};
                    open_obj(&lw);
                    i64(&lw, "key", l->key);
                    i64(&lw, "str", l->str);
                    i64(&lw, "num", l->num);
                    i64(&lw, "numUnit", l->num_unit);
                    kiln_query_buf_putc(o, '}');
                }
                kiln_query_buf_putc(o, ']');
            }
            kiln_query_buf_putc(o, '}');
        }
        kiln_query_buf_putc(o, ']');
    }
    if (p->n_mapping) {
        key(&w, "mapping");
        kiln_query_buf_putc(o, '[');
        for (size_t i = 0; i < p->n_mapping; i++) {
            const kiln_pprof_mapping *m = p->mapping[i];
            if (i) kiln_query_buf_putc(o, ',');
            jw mw = {o, 1};
            open_obj(&mw);
            u64(&mw, "id", m->id);
            u64(&mw, "memoryStart", m->memory_start);
            u64(&mw, "memoryLimit", m->memory_limit);
            u64(&mw, "fileOffset", m->file_offset);
            i64(&mw, "filename", m->filename);
            i64(&mw, "buildId", m->build_id);
            bln(&mw, "hasFunctions", m->has_functions);
            bln(&mw, "hasFilenames", m->has_filenames);
            bln(&mw, "hasLineNumbers", m->has_line_numbers);
            bln(&mw, "hasInlineFrames", m->has_inline_frames);
            kiln_query_buf_putc(o, '}');
        }
        kiln_query_buf_putc(o, ']');
    }
    if (p->n_location) {
        key(&w, "location");
        kiln_query_buf_putc(o, '[');
        for (size_t i = 0; i < p->n_location; i++) {
            const kiln_pprof_location *l = p->location[i];
            if (i) kiln_query_buf_putc(o, ',');
            jw lw = {o, 1};
            open_obj(&lw);
            u64(&lw, "id", l->id);
            u64(&lw, "mappingId", l->mapping_id);
            u64(&lw, "address", l->address);
            if (l->n_line) {
                key(&lw, "line");
                kiln_query_buf_putc(o, '[');
                for (size_t k = 0; k < l->n_line; k++) {
                    if (k) kiln_query_buf_putc(o, ',');
                    jw nw = {o, 1};
                    open_obj(&nw);
                    u64(&nw, "functionId", l->line[k]->function_id);
                    i64(&nw, "line", l->line[k]->line);
                    kiln_query_buf_putc(o, '}');
                }
                kiln_query_buf_putc(o, ']');
            }
            bln(&lw, "isFolded", l->is_folded);
            kiln_query_buf_putc(o, '}');
        }
        kiln_query_buf_putc(o, ']');
    }
    if (p->n_function) {
        key(&w, "function");
        kiln_query_buf_putc(o, '[');
        for (size_t i = 0; i < p->n_function; i++) {
            const kiln_pprof_function *f = p->function[i];
            if (i) kiln_query_buf_putc(o, ',');
            jw fw = {o, 1};
            open_obj(&fw);
            u64(&fw, "id", f->id);
            i64(&fw, "name", f->name);
            i64(&fw, "systemName", f->system_name);
            i64(&fw, "filename", f->filename);
            i64(&fw, "startLine", f->start_line);
            kiln_query_buf_putc(o, '}');
        }
        kiln_query_buf_putc(o, ']');
    }
    if (p->n_string_table) {
        key(&w, "stringTable");
        kiln_query_buf_putc(o, '[');
        for (size_t i = 0; i < p->n_string_table; i++) {
            if (i) kiln_query_buf_putc(o, ',');
            kiln_query_buf_jstrz(o, p->string_table[i]);
        }
        kiln_query_buf_putc(o, ']');
    }
    i64(&w, "dropFrames", p->drop_frames);
    i64(&w, "keepFrames", p->keep_frames);
    i64(&w, "timeNanos", p->time_nanos);
    i64(&w, "durationNanos", p->duration_nanos);
    if (p->period_type) {
        key(&w, "periodType");
        value_type(o, p->period_type);
    }
    i64(&w, "period", p->period);
    if (p->n_comment) {
        key(&w, "comment");
        kiln_query_buf_putc(o, '[');
        for (size_t i = 0; i < p->n_comment; i++)
            kiln_query_buf_printf(o, "%s\"%" PRId64 "\"", i ? "," : "", p->comment[i]);
        kiln_query_buf_putc(o, ']');
    }
    i64(&w, "defaultSampleType", p->default_sample_type);
    kiln_query_buf_putc(o, '}');
}
