/* exporters/debug/debug_fmt.c — see debug_fmt.h. */
#include "debug_fmt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct out {
    char *p;
    size_t n, cap;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->n < o->cap ? o->p + o->n : NULL, o->n < o->cap ? o->cap - o->n : 0, fmt, ap);
    va_end(ap);
    if (w > 0) o->n += (size_t)w;
}

size_t kiln_debug_quote(const char *s, char *buf, size_t cap)
{
    int plain = *s != 0;
    for (const char *c = s; *c; c++)
        if (*c == ' ' || *c == '"' || *c == '\\' || *c == '=' || (unsigned char)*c < 0x20) plain = 0;
    out o = {buf, 0, cap};
    if (plain) {
        put(&o, "%s", s);
    } else {
        put(&o, "\"");
        for (const char *c = s; *c; c++) {
            if (*c == '"' || *c == '\\')
                put(&o, "\\%c", *c);
            else if (*c == '\n')
                put(&o, "\\n");
            else if ((unsigned char)*c < 0x20)
                put(&o, "\\x%02x", (unsigned char)*c);
            else
                put(&o, "%c", *c);
        }
        put(&o, "\"");
    }
    if (cap && o.n >= cap) buf[cap - 1] = 0;
    return o.n;
}

static const char *str(const kiln_pprof *p, int64_t i)
{
    return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "";
}

void kiln_debug_totals_init(kiln_debug_totals *t) { memset(t, 0, sizeof *t); }

void kiln_debug_totals_add(kiln_debug_totals *t, const kiln_pprof *p)
{
    t->profiles++;
    t->samples += p->n_sample;
    for (size_t k = 0; k < p->n_sample_type; k++) {
        char name[128];
        snprintf(name, sizeof name, "%s/%s", str(p, p->sample_type[k]->type), str(p, p->sample_type[k]->unit));
        size_t j = 0;
        while (j < t->n_types && strcmp(t->name[j], name) != 0) j++;
        if (j == t->n_types) {
            if (t->n_types == KILN_DEBUG_MAX_TYPES) continue;
            memcpy(t->name[j], name, sizeof name);
            t->n_types++;
        }
        for (size_t i = 0; i < p->n_sample; i++)
            if (k < p->sample[i]->n_value) t->total[j] += p->sample[i]->value[k];
    }
}

size_t kiln_debug_format_totals(const kiln_debug_totals *t, char *buf, size_t cap)
{
    out o = {buf, 0, cap};
    put(&o, "samples=%" PRIu64, t->samples);
    for (size_t j = 0; j < t->n_types; j++) {
        char q[300], key[160];
        snprintf(key, sizeof key, "total.%s", t->name[j]);
        kiln_debug_quote(key, q, sizeof q);
        put(&o, " %s=%" PRId64, q, t->total[j]);
    }
    if (cap && o.n >= cap) buf[cap - 1] = 0;
    return o.n;
}

size_t kiln_debug_format_profile(const kiln_profile *pr, const kiln_pprof *p, size_t bytes, char *buf,
                                 size_t cap)
{
    out o = {buf, 0, cap};
    char q[4096], lab[4096];
    kiln_debug_quote(pr->tenant ? pr->tenant : "", q, sizeof q);
    put(&o, "tenant=%s", q);
    kiln_labels_format(&pr->labels, lab, sizeof lab);
    kiln_debug_quote(lab, q, sizeof q);
    put(&o, " labels=%s types=", q);
    for (size_t k = 0; k < p->n_sample_type; k++)
        put(&o, "%s%s/%s", k ? "," : "", str(p, p->sample_type[k]->type), str(p, p->sample_type[k]->unit));
    kiln_debug_totals t;
    kiln_debug_totals_init(&t);
    kiln_debug_totals_add(&t, p);
    char tot[2048];
    kiln_debug_format_totals(&t, tot, sizeof tot);
    put(&o, " %s bytes=%zu", tot, bytes);
    if (cap && o.n >= cap) buf[cap - 1] = 0;
    return o.n;
}
