/* pipeline/cli_blocks.c — `kiln blocks list|inspect|verify`: the blocks a
 * config's blocks exporter keeps (storage settings read from the config),
 * and the WAL segments not yet in the store (heads), read-only (safe while
 * kiln runs).
 *
 *   list     one line per block and head: tenant, id, level, time range,
 *            series, profiles, samples, bytes, and whether a compacted
 *            block hides it
 *   inspect  the same with meta details and every series; --totals adds,
 *            per profile type, the profile count and the per-function flat
 *            and cum totals over everything a query would read (visible
 *            blocks + heads), one `fn` line per function
 *   verify   decodes every block whole and checks every checksum, id and
 *            count; exit status 1 if any block is damaged
 *
 * Memory: everything is freed before returning.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kiln/blocks.h>
#include <kiln/kiln.h>

#include "kiln_config.h"

int kiln_cli_blocks(int argc, char **argv, const char *plugin_dir);

typedef struct cli_storage {
    kiln_blocks_storage s;
} cli_storage;

static const kiln_cfg_field storage_fields[] = {KILN_BLOCKS_STORAGE_FIELDS("", cli_storage, s),
                                                {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL}};

static void usage(FILE *f)
{
    fprintf(f, "usage: kiln blocks list|inspect|verify --config FILE [--tenant T] [--exporter ID]\n"
               "                   [--block ID] [--totals] [--top N] [--no-wal]\n");
}

static void fmt_time(int64_t ns, char *buf, size_t cap)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)((ns % 1000000000) / 1000000));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ---- totals --------------------------------------------------------------------------- */

typedef struct ptype_acc {
    char *ptype;
    uint64_t profiles;
    kiln_pprof **parts;
    size_t n, cap;
} ptype_acc;

typedef struct totals {
    ptype_acc *v;
    size_t n, cap;
    kiln_arena *a;
} totals;

static ptype_acc *acc_get(totals *t, const char *pt)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->v[i].ptype, pt)) return &t->v[i];
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 8;
        ptype_acc *nv = realloc(t->v, nc * sizeof *nv);
        if (!nv) return NULL;
        t->v = nv;
        t->cap = nc;
    }
    ptype_acc *a = &t->v[t->n++];
    memset(a, 0, sizeof *a);
    a->ptype = strdup(pt);
    return a;
}

/* Adds one block (or head view) to the per-profile-type totals. */
static int add_totals(totals *t, kiln_block *b)
{
    const char **types;
    size_t nt;
    kiln_err err;
    if (kiln_block_label_values(b, KILN_LABEL_PROFILE_TYPE, &types, &nt, &err) != KILN_OK) return -1;
    int rc = 0;
    for (size_t i = 0; i < nt && !rc; i++) {
        kiln_block_matcher m = {KILN_LABEL_PROFILE_TYPE, KILN_MATCH_EQ, types[i], NULL, NULL};
        uint32_t *ids;
        size_t n;
        if (kiln_block_select(b, &m, 1, INT64_MIN, INT64_MAX, &ids, &n, &err) != KILN_OK) {
            rc = -1;
            break;
        }
        ptype_acc *acc = acc_get(t, types[i]);
        for (size_t k = 0; acc && k < n; k++) {
            kiln_block_series_info si;
            kiln_block_series(b, ids[k], &si);
            acc->profiles += si.n_profiles;
        }
        kiln_pprof *p = NULL;
        if (acc && n && kiln_block_to_pprof(b, ids, n, INT64_MIN, INT64_MAX, t->a, &p, &err) == KILN_OK) {
            if (acc->n == acc->cap) {
                size_t nc = acc->cap ? acc->cap * 2 : 8;
                kiln_pprof **np = realloc(acc->parts, nc * sizeof *np);
                if (np) {
                    acc->parts = np;
                    acc->cap = nc;
                }
            }
            if (acc->n < acc->cap) acc->parts[acc->n++] = p;
        } else if (n) {
            fprintf(stderr, "kiln blocks: block %s: %s\n", kiln_block_get_meta(b)->id, err.msg);
            rc = -1;
        }
        free(ids);
    }
    free(types);
    return rc;
}

static void print_totals(totals *t, const char *tenant, long top)
{
    for (size_t i = 0; i < t->n; i++) {
        ptype_acc *a = &t->v[i];
        kiln_pprof *m = a->n ? a->parts[0] : NULL;
        kiln_err err;
        if (a->n > 1 && kiln_pprof_merge(t->a, a->parts, a->n, &m, &err) != KILN_OK) {
            fprintf(stderr, "kiln blocks: merging %s: %s\n", a->ptype, err.msg);
            continue;
        }
        kiln_pprof_fn_total *rows = NULL;
        size_t nr = 0;
        int64_t total = 0;
        if (m && kiln_pprof_top(m, 0, &rows, &nr, &total, &err) != KILN_OK) nr = 0;
        printf("totals tenant=%s profile_type=%s profiles=%" PRIu64 " total=%" PRId64 " functions=%zu\n",
               tenant, a->ptype, a->profiles, total, nr);
        for (size_t k = 0; k < nr && (top < 0 || (long)k < top); k++)
            printf("fn profile_type=%s flat=%" PRId64 " cum=%" PRId64 " name=%s\n", a->ptype, rows[k].flat,
                   rows[k].cum, rows[k].name);
        free(rows);
    }
}

static void free_totals(totals *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].ptype);
        free(t->v[i].parts);
    }
    free(t->v);
    kiln_arena_destroy(t->a);
}

/* ---- the commands ----------------------------------------------------------------------- */

typedef struct opts {
    const char *cmd, *config, *tenant, *exporter, *block;
    int totals, no_wal;
    long top;
} opts;

static void print_series(kiln_block *b, const char *what)
{
    for (uint32_t i = 0; i < kiln_block_series_count(b); i++) {
        kiln_block_series_info si;
        kiln_block_series(b, i, &si);
        printf("    %s %u profiles=%" PRIu64 " samples=%" PRIu64 " {", what, i, si.n_profiles, si.n_samples);
        for (size_t k = 0; k < si.n_labels; k++)
            printf("%s%s=\"%s\"", k ? ", " : "", si.names[k], si.values[k]);
        printf("}\n");
    }
}

static int do_tenant(const opts *o, kiln_objstore *os, const char *wal_dir, const char *tenant, int *bad)
{
    kiln_blocks_list l;
    kiln_err err;
    if (kiln_blocks_list_tenant(os, tenant, &l, NULL, NULL, &err) != KILN_OK) {
        fprintf(stderr, "kiln blocks: tenant %s: %s\n", tenant, err.msg);
        (*bad)++;
        return -1;
    }
    if (l.n_bad) {
        fprintf(stderr, "kiln blocks: tenant %s: %zu unreadable meta.json\n", tenant, l.n_bad);
        *bad += (int)l.n_bad;
    }
    totals t = {NULL, 0, 0, kiln_arena_new(0)};
    for (size_t i = 0; i < l.n; i++) {
        const kiln_block_meta *m = &l.v[i];
        if (o->block && strcmp(o->block, m->id)) continue;
        char a[40], b[40];
        fmt_time(m->min_time_ns, a, sizeof a);
        fmt_time(m->max_time_ns, b, sizeof b);
        uint64_t size = m->files[0].size + m->files[1].size + m->files[2].size;
        const char *state = l.visible[i] ? "" : " hidden (in a compacted block)";
        if (!strcmp(o->cmd, "verify")) {
            int rc = kiln_block_verify(os, m, &err);
            printf("%s %s/%s level=%d%s\n", rc == KILN_OK ? "ok" : "CORRUPT", tenant, m->id, m->level,
                   rc == KILN_OK ? state : "");
            if (rc != KILN_OK) {
                printf("  %s\n", err.msg);
                (*bad)++;
            }
            continue;
        }
        printf("block tenant=%s id=%s level=%d min=%s max=%s series=%" PRIu64 " profiles=%" PRIu64
               " samples=%" PRIu64 " bytes=%" PRIu64 "%s\n",
               tenant, m->id, m->level, a, b, m->n_series, m->n_profiles, m->n_samples, size, state);
        if (!strcmp(o->cmd, "inspect")) {
            printf("  stacks=%" PRIu64 " locations=%" PRIu64 " functions=%" PRIu64 " mappings=%" PRIu64
                   " strings=%" PRIu64 " source=%s\n",
                   m->n_stacks, m->n_locations, m->n_functions, m->n_mappings, m->n_strings, m->source);
            for (int f = 0; f < KILN_BLOCK_NFILES; f++)
                printf("  file %s size=%" PRIu64 " crc32=%08x\n", kiln_block_file_names[f], m->files[f].size,
                       m->files[f].crc32);
            printf("  sources=%zu:", m->n_sources);
            for (size_t k = 0; k < m->n_sources && k < 8; k++) printf(" %s", m->sources[k]);
            printf("%s\n", m->n_sources > 8 ? " ..." : "");
            kiln_block *blk;
            if (kiln_block_open(os, m, &blk, &err) != KILN_OK) {
                printf("  UNREADABLE: %s\n", err.msg);
                (*bad)++;
                continue;
            }
            /* series of a hidden block are counted in the block that hides it */
            print_series(blk, l.visible[i] ? "series" : "hidden-series");
            if (o->totals && l.visible[i] && add_totals(&t, blk) != 0) (*bad)++;
            kiln_block_close(blk);
        }
    }
    kiln_wal_heads hs = {0};
    if (!o->no_wal && !o->block && wal_dir && kiln_wal_heads_refresh(wal_dir, tenant, &l, &hs, &err) != KILN_OK)
        fprintf(stderr, "kiln blocks: WAL of tenant %s: %s\n", tenant, err.msg);
    for (size_t i = 0; i < hs.n; i++) {
        kiln_wal_head *wh = &hs.v[i];
        kiln_head_stats st;
        kiln_head_get_stats(wh->head, &st);
        char a[40], b[40];
        fmt_time(st.min_time_ns, a, sizeof a);
        fmt_time(st.max_time_ns, b, sizeof b);
        if (!strcmp(o->cmd, "verify")) {
            printf("%s %s/%s wal %s\n", wh->skipped ? "CORRUPT" : "ok", tenant, kiln_head_id(wh->head), wh->path);
            if (wh->skipped) (*bad)++;
            continue;
        }
        printf("head tenant=%s id=%s level=0 min=%s max=%s series=%" PRIu64 " profiles=%" PRIu64
               " samples=%" PRIu64 " wal=%s%s\n",
               tenant, kiln_head_id(wh->head), a, b, st.n_series, st.n_profiles, st.n_samples,
               wh->path, wh->skipped ? " (some profiles unreadable)" : "");
        if (!strcmp(o->cmd, "inspect")) {
            kiln_block *v;
            if (kiln_head_open_view(wh->head, &v, &err) == KILN_OK) {
                print_series(v, "series");
                if (o->totals && add_totals(&t, v) != 0) (*bad)++;
                kiln_block_close(v);
            }
        }
    }
    if (o->totals) print_totals(&t, tenant, o->top);
    kiln_wal_heads_free(&hs);
    free_totals(&t);
    kiln_blocks_list_free(&l);
    return 0;
}

int kiln_cli_blocks(int argc, char **argv, const char *plugin_dir)
{
    (void)plugin_dir;
    opts o = {0};
    o.top = -1;
    int i = 0;
    /* accept argv starting at "blocks" or at the subcommand */
    if (i < argc && !strcmp(argv[i], "blocks")) i++;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!o.cmd && a[0] != '-') o.cmd = a;
        else if (!strcmp(a, "--config") && i + 1 < argc) o.config = argv[++i];
        else if (!strncmp(a, "--config=", 9)) o.config = a + 9;
        else if (!strcmp(a, "--tenant") && i + 1 < argc) o.tenant = argv[++i];
        else if (!strcmp(a, "--exporter") && i + 1 < argc) o.exporter = argv[++i];
        else if (!strcmp(a, "--block") && i + 1 < argc) o.block = argv[++i];
        else if (!strcmp(a, "--top") && i + 1 < argc) o.top = atol(argv[++i]);
        else if (!strcmp(a, "--totals")) o.totals = 1;
        else if (!strcmp(a, "--no-wal")) o.no_wal = 1;
        else if (!strcmp(a, "--plugin-dir") && i + 1 < argc) i++;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "kiln blocks: unknown argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o.cmd || (strcmp(o.cmd, "list") && strcmp(o.cmd, "inspect") && strcmp(o.cmd, "verify"))) {
        usage(stderr);
        return 2;
    }
    if (!o.config) {
        fprintf(stderr, "kiln blocks: --config FILE is required\n");
        return 2;
    }
    kiln_config *cfg = NULL;
    kiln_err err;
    if (kiln_config_load(o.config, &cfg, &err) != KILN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const kiln_config_component *comp = NULL;
    for (size_t k = 0; k < cfg->n_components; k++) {
        const kiln_config_component *c = &cfg->components[k];
        if (c->kind != KILN_KIND_EXPORTER || strcmp(c->type, "blocks")) continue;
        if (o.exporter && strcmp(o.exporter, c->id)) continue;
        if (comp) {
            fprintf(stderr, "kiln blocks: %s has several blocks exporters (%s, %s); choose one with --exporter\n",
                    o.config, comp->id, c->id);
            kiln_config_free(cfg);
            return 2;
        }
        comp = c;
    }
    if (!comp) {
        fprintf(stderr, "kiln blocks: %s has no blocks exporter%s%s\n", o.config, o.exporter ? " named " : "",
                o.exporter ? o.exporter : "");
        kiln_config_free(cfg);
        return 1;
    }
    cli_storage st;
    memset(&st, 0, sizeof st);
    const kiln_node *sn = comp->node ? kiln_node_get(comp->node, "storage") : NULL;
    if (kiln_cfg_apply(storage_fields, sn, &st, &err) != KILN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        kiln_config_free(cfg);
        return 1;
    }
    const kiln_node *wn = comp->node ? kiln_node_get(comp->node, "wal_dir") : NULL;
    const char *wal_dir = wn && wn->kind == KILN_NODE_SCALAR ? wn->scalar : "./data/wal";
    kiln_objstore *os = NULL;
    int bad = 0, rc = 0;
    if (kiln_blocks_storage_open(&st.s, &os, &err) != KILN_OK) {
        fprintf(stderr, "kiln blocks: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    char **tenants = NULL;
    size_t nt = 0;
    if (o.tenant) {
        tenants = calloc(1, sizeof *tenants);
        if (tenants && (tenants[0] = strdup(o.tenant))) nt = 1;
    } else {
        if (kiln_blocks_tenants(os, &tenants, &nt, &err) != KILN_OK) {
            fprintf(stderr, "kiln blocks: %s\n", err.msg);
            rc = 1;
            goto out;
        }
        /* tenants that only have WAL segments so far */
        DIR *d = o.no_wal ? NULL : opendir(wal_dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            char t[KILN_TENANT_MAX + 8];
            if (de->d_name[0] == '.' || kiln_blocks_tenant_unescape(de->d_name, t, sizeof t) != 0) continue;
            if (!strcmp(de->d_name, "LOCK")) continue;
            int seen = 0;
            for (size_t k = 0; k < nt; k++) seen |= !strcmp(tenants[k], t);
            if (seen) continue;
            char **nv = realloc(tenants, (nt + 1) * sizeof *nv);
            if (!nv) break;
            tenants = nv;
            if ((tenants[nt] = strdup(t))) nt++;
        }
        if (d) closedir(d);
        if (nt > 1) qsort(tenants, nt, sizeof *tenants, cmp_str);
    }
    printf("storage %s, wal %s\n", kiln_objstore_describe(os), o.no_wal ? "(not read)" : wal_dir);
    for (size_t k = 0; k < nt; k++) do_tenant(&o, os, o.no_wal ? NULL : wal_dir, tenants[k], &bad);
    kiln_blocks_strv_free(tenants, nt);
    if (!strcmp(o.cmd, "verify")) printf("%s\n", bad ? "verify: problems found" : "verify: all blocks ok");
    if (bad) rc = 1;
out:
    if (os) kiln_objstore_close(os);
    kiln_cfg_free(storage_fields, &st);
    kiln_config_free(cfg);
    return rc;
}
