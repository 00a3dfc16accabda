/* tests/fuzz/fuzz_relabel.c — libFuzzer target for the relabel processor.
 *
 * Extra sources and the PCRE2 library are named on the two lines below the
 * comment (read by tests/fuzz/run.sh).
 *
 * Input: the processor's YAML config (relabel_configs and the sample-level
 * options), optionally followed by a line "---" and label lines
 * "name=value" (the series labels). The config goes through the real
 * config layer, validate and create; then consume runs over a batch of two
 * profiles carrying those labels: one without payload and one with a small
 * pprof model built here (so drop_frames, sample types, sample labels and
 * stack depth run too). Must never crash, leak or hang; a config that
 * validate accepts must create; every dropped profile has a reason; labels
 * stay sorted and unique. Seeds: tests/fuzz/seeds_relabel/.
 */
// fuzz-sources: processors/relabel/relabel.c processors/relabel/relabel_md5.c processors/relabel/relabel_regex.c processors/relabel/relabel_rules.c processors/relabel/relabel_samples.c
// fuzz-pkgs: libpcre2-8
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/kiln.h>

#include "kiln_config.h"

extern const kiln_plugin kiln_plugin_descriptor;

/* ---- a minimal core: counters and nothing else ------------------------------- */

typedef struct fz_core {
    kiln_counter counters[32];
    size_t n;
} fz_core;

static void fz_vlog(kiln_host *h, int level, const char *fmt, va_list ap) {}
static kiln_counter *fz_counter(kiln_host *h, const char *name, const char *help, const char *labels)
{
    fz_core *c = h->core;
    return c->n < 32 ? &c->counters[c->n++] : NULL;
}
static kiln_gauge *fz_gauge(kiln_host *h, const char *name, const char *help, const char *labels)
{
    return NULL;
}
static void fz_dropped(kiln_host *h, const char *reason, uint64_t n) {}

static const kiln_host_vtbl fz_vtbl = {
    .size = sizeof(kiln_host_vtbl),
    .vlog = fz_vlog,
    .counter = fz_counter,
    .gauge = fz_gauge,
    .count_dropped = fz_dropped,
};

/* ---- a small profile: 2 sample types, inline frames, sample labels -------------- */

static kiln_pprof *tiny_profile(kiln_arena *a)
{
    static const char *const strs[] = {"",          "samples",    "count",   "cpu",
                                       "nanoseconds", "main.main",  "main.work", "runtime.mallocgc",
                                       "span_id",   "abc",        "thread",  "t1", "math.Abs"};
    enum { NSTR = sizeof strs / sizeof strs[0] };
    kiln_pprof *p = kiln_arena_calloc(a, sizeof *p);
    static const kiln_pprof init = PERFTOOLS__PROFILES__PROFILE__INIT;
    *p = init;
    p->n_string_table = NSTR;
    p->string_table = kiln_arena_alloc(a, NSTR * sizeof(char *));
    for (size_t i = 0; i < NSTR; i++) p->string_table[i] = kiln_arena_strndup(a, strs[i], strlen(strs[i]));
    static const kiln_pprof_value_type vt_init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    p->n_sample_type = 2;
    p->sample_type = kiln_arena_alloc(a, 2 * sizeof *p->sample_type);
    for (int i = 0; i < 2; i++) {
        p->sample_type[i] = kiln_arena_alloc(a, sizeof(kiln_pprof_value_type));
        *p->sample_type[i] = vt_init;
        p->sample_type[i]->type = 1 + 2 * i;
        p->sample_type[i]->unit = 2 + 2 * i;
    }
    static const kiln_pprof_function fn_init = PERFTOOLS__PROFILES__FUNCTION__INIT;
    const int64_t fnames[] = {5, 6, 7, 12};
    p->n_function = 4;
    p->function = kiln_arena_alloc(a, 4 * sizeof *p->function);
    for (int i = 0; i < 4; i++) {
        p->function[i] = kiln_arena_alloc(a, sizeof(kiln_pprof_function));
        *p->function[i] = fn_init;
        p->function[i]->id = (uint64_t)i + 1;
        p->function[i]->name = fnames[i];
    }
    /* location 4 has two lines: math.Abs inlined into main.work */
    static const kiln_pprof_location loc_init = PERFTOOLS__PROFILES__LOCATION__INIT;
    static const kiln_pprof_line line_init = PERFTOOLS__PROFILES__LINE__INIT;
    p->n_location = 4;
    p->location = kiln_arena_alloc(a, 4 * sizeof *p->location);
    for (int i = 0; i < 4; i++) {
        kiln_pprof_location *l = kiln_arena_alloc(a, sizeof *l);
        *l = loc_init;
        l->id = (uint64_t)i + 1;
        l->n_line = i == 3 ? 2 : 1;
        l->line = kiln_arena_alloc(a, l->n_line * sizeof *l->line);
        for (size_t k = 0; k < l->n_line; k++) {
            l->line[k] = kiln_arena_alloc(a, sizeof(kiln_pprof_line));
            *l->line[k] = line_init;
            l->line[k]->function_id = i == 3 ? (k == 0 ? 4 : 2) : (uint64_t)i + 1;
        }
        p->location[i] = l;
    }
    static const kiln_pprof_sample s_init = PERFTOOLS__PROFILES__SAMPLE__INIT;
    static const kiln_pprof_label l_init = PERFTOOLS__PROFILES__LABEL__INIT;
    static const uint64_t stacks[3][3] = {{3, 2, 1}, {4, 1, 0}, {2, 1, 0}};
    static const size_t depth[3] = {3, 2, 2};
    p->n_sample = 3;
    p->sample = kiln_arena_alloc(a, 3 * sizeof *p->sample);
    for (int i = 0; i < 3; i++) {
        kiln_pprof_sample *s = kiln_arena_alloc(a, sizeof *s);
        *s = s_init;
        s->n_location_id = depth[i];
        s->location_id = kiln_arena_alloc(a, 3 * sizeof(uint64_t));
        memcpy(s->location_id, stacks[i], 3 * sizeof(uint64_t));
        s->n_value = 2;
        s->value = kiln_arena_alloc(a, 2 * sizeof(int64_t));
        s->value[0] = i;
        s->value[1] = 10 * i;
        s->n_label = 2;
        s->label = kiln_arena_alloc(a, 2 * sizeof *s->label);
        for (int k = 0; k < 2; k++) {
            s->label[k] = kiln_arena_alloc(a, sizeof(kiln_pprof_label));
            *s->label[k] = l_init;
            s->label[k]->key = k ? 10 : 8;
            s->label[k]->str = k ? 11 : 9;
        }
        p->sample[i] = s;
    }
    return p;
}

/* ---- the target ------------------------------------------------------------------ */

static void add_labels(kiln_labels *ls, const char *txt, size_t n)
{
    size_t i = 0, count = 0;
    while (i < n && count < 64) {
        const char *line = txt + i;
        const char *nl = memchr(line, '\n', n - i);
        size_t ll = nl ? (size_t)(nl - line) : n - i;
        const char *eq = memchr(line, '=', ll);
        if (eq && eq > line && !memchr(line, 0, ll)) {
            kiln_labels_setn(ls, line, (size_t)(eq - line), eq + 1, ll - (size_t)(eq - line) - 1);
            count++;
        }
        i += ll + 1;
    }
}

static void check_profile(const kiln_profile *p)
{
    if ((p->flags & KILN_PROFILE_DROPPED) && !p->drop_reason) __builtin_trap();
    for (size_t i = 1; i < p->labels.n; i++)
        if (strcmp(p->labels.v[i - 1].name, p->labels.v[i].name) >= 0) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const kiln_plugin *pl = &kiln_plugin_descriptor;
    const char *in = (const char *)data;
    size_t ylen = size;
    const char *labels = NULL;
    size_t llen = 0;
    for (size_t i = 0; i + 5 <= size; i++) {
        if (memcmp(in + i, "\n---\n", 5) == 0) {
            ylen = i + 1;
            labels = in + i + 5;
            llen = size - i - 5;
            break;
        }
    }
    kiln_node *root = NULL;
    kiln_err err;
    kiln_err_clear(&err);
    if (kiln_yaml_load_string("fuzz.yaml", in, ylen, &root, &err) != KILN_OK) return 0;
    void *cfg = calloc(1, pl->cfg_size);
    if (!cfg) {
        kiln_yaml_free(root);
        return 0;
    }
    if (kiln_cfg_apply(pl->fields, root, cfg, &err) != KILN_OK) {
        free(cfg);
        kiln_yaml_free(root);
        return 0;
    }
    int valid = pl->validate(cfg, root, &err) == KILN_OK;
    if (!valid && !err.msg[0]) __builtin_trap(); /* a refusal says why */
    fz_core core;
    memset(&core, 0, sizeof core);
    kiln_host host = {.vt = &fz_vtbl, .core = &core, .id = "relabel/fuzz", .kind = "processor",
                      .log_level = KILN_LOG_ERROR};
    void *st = NULL;
    int created = pl->create(&host, cfg, &st, &err) == KILN_OK;
    if (valid != created) __builtin_trap(); /* validate and create agree */
    if (created) {
        kiln_batch *b = kiln_batch_new(2);
        for (int k = 0; k < 2; k++) {
            kiln_profile *p = kiln_batch_add(b);
            kiln_profile_set_tenant(p, "t");
            kiln_labels_set(&p->labels, "service_name", "svc");
            kiln_labels_set(&p->labels, "__name__", "process_cpu");
            if (labels) add_labels(&p->labels, labels, llen);
            if (k == 1) {
                kiln_arena *a = kiln_arena_new(0);
                p->payload = kiln_payload_from_pprof(a, tiny_profile(a));
            }
        }
        if (pl->consume(st, b, &err) == KILN_OK) {
            for (size_t i = 0; i < b->n; i++) {
                check_profile(&b->v[i]);
                const kiln_pprof *m;
                kiln_err e2;
                if (b->v[i].payload && !(b->v[i].flags & KILN_PROFILE_DROPPED) &&
                    kiln_payload_pprof(b->v[i].payload, &m, &e2) == KILN_OK &&
                    kiln_pprof_validate(m, &e2) != KILN_OK)
                    __builtin_trap(); /* a rebuilt profile is valid pprof */
            }
        }
        kiln_batch_unref(b);
        pl->destroy(st);
    }
    kiln_cfg_free(pl->fields, cfg);
    free(cfg);
    kiln_yaml_free(root);
    return 0;
}
