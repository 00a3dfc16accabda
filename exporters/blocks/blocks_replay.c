/* exporters/blocks/blocks_replay.c — start-up: every WAL segment under
 * wal_dir/<tenant>/ is either already in the store (its block id is among
 * the sources of a visible block: deleted), or replayed into a head. The
 * newest segment of a tenant, if younger than block_duration, becomes the
 * tenant's active head again (appends continue after its last good
 * record; a torn tail is cut off with a warning); the others are queued
 * for upload. A segment whose header is unreadable is renamed *.corrupt
 * and reported.
 *
 * Memory: heads made here are handed to tenants or pending entries.
 */
#define _GNU_SOURCE
#include "blocks.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct load_ctx {
    bx_state *s;
    kiln_head *head;
    kiln_wal_header *hdr;
    uint64_t bad;
    kiln_err *err;
} load_ctx;

static int on_profile(const kiln_wal_profile *wp, void *arg)
{
    load_ctx *c = arg;
    int rc;
    if (!c->head) {
        rc = kiln_head_new(c->hdr->tenant, c->hdr->id, c->hdr->created_ns, &c->head, c->err);
        if (rc != KILN_OK) return rc;
    }
    kiln_arena *a = kiln_arena_new(0);
    if (!a) return kiln_err_set(c->err, KILN_ENOMEM, "out of memory");
    kiln_pprof *p;
    kiln_err e;
    rc = kiln_pprof_decode(a, wp->data, wp->len, NULL, &p, &e);
    if (rc != KILN_OK) {
        /* kiln decoded it before writing it: only a damaged disk gets here */
        c->bad++;
        kiln_arena_destroy(a);
        return KILN_OK;
    }
    rc = kiln_head_append(c->head, wp->labels, wp->time_ns, wp->duration_ns, p, c->err);
    kiln_arena_destroy(a);
    if (rc == KILN_EINVAL) { /* refused when it came in too (the sender was told) */
        c->bad++;
        return KILN_OK;
    }
    return rc;
}

int kiln_bx_load_segment(bx_state *s, const char *path, kiln_head **out, kiln_wal_header *hdr,
                         kiln_wal_replay_result *res, kiln_err *err)
{
    load_ctx c = {s, NULL, hdr, 0, err};
    memset(hdr, 0, sizeof *hdr);
    int rc = kiln_wal_replay(path, hdr, on_profile, &c, res, err);
    if (rc == KILN_OK && !c.head)
        rc = kiln_head_new(hdr->tenant, hdr->id, hdr->created_ns, &c.head, err);
    if (rc != KILN_OK) {
        kiln_head_free(c.head);
        return rc;
    }
    if (c.bad) {
        kiln_counter_add(s->m_corrupt, 1);
        kiln_log_error(s->host, "blocks: %s: %llu profile(s) could not be decoded and were skipped",
                       path, (unsigned long long)c.bad);
    }
    kiln_counter_add(s->m_replayed, res->profiles - c.bad);
    *out = c.head;
    return KILN_OK;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void quarantine(bx_state *s, const char *path, const kiln_err *e)
{
    char to[4200];
    snprintf(to, sizeof to, "%s.corrupt", path);
    if (rename(path, to) != 0) to[0] = 0;
    kiln_counter_add(s->m_corrupt, 1);
    kiln_log_error(s->host, "blocks: WAL segment %s is unreadable (%s); moved to %s", path, e->msg,
                   to[0] ? to : "(rename failed)");
}

static void replay_tenant(bx_state *s, const char *esc, const char *tenant)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", s->cfg->wal_dir, esc);
    DIR *d = opendir(dir);
    if (!d) return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l != KILN_BLOCK_ID_LEN + 4 || strcmp(de->d_name + KILN_BLOCK_ID_LEN, ".wal")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(names, cap * sizeof *nv);
            if (!nv) break;
            names = nv;
        }
        names[n] = strdup(de->d_name);
        if (names[n]) n++;
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_name);
    kiln_blocks_list l;
    kiln_err err;
    int have_list = kiln_blocks_list_tenant_cached(s->os, tenant, s->meta_cache, &l, NULL, NULL, &err) == KILN_OK;
    if (!have_list)
        kiln_log_warn(s->host, "blocks: cannot list blocks of tenant %s (%s); replaying every WAL segment "
                               "(a block written again keeps its id: nothing is counted twice)",
                      tenant, err.msg);
    for (size_t i = 0; i < n; i++) {
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char id[KILN_BLOCK_ID_LEN + 1];
        memcpy(id, names[i], KILN_BLOCK_ID_LEN);
        id[KILN_BLOCK_ID_LEN] = 0;
        if (have_list && kiln_blocks_list_covers(&l, id)) {
            kiln_log_info(s->host, "blocks: WAL segment %s is already in block storage; removing it", path);
            unlink(path);
            continue;
        }
        kiln_head *h = NULL;
        kiln_wal_header hdr;
        kiln_wal_replay_result res;
        if (kiln_bx_load_segment(s, path, &h, &hdr, &res, &err) != KILN_OK) {
            if (err.code == KILN_EINVAL) quarantine(s, path, &err);
            else kiln_log_error(s->host, "blocks: replay of %s failed: %s", path, err.msg);
            continue;
        }
        if (strcmp(hdr.tenant, tenant) != 0 || strcmp(hdr.id, id) != 0) {
            kiln_err e;
            kiln_err_set(&e, KILN_EINVAL, "header names tenant %s, block %s", hdr.tenant, hdr.id);
            kiln_head_free(h);
            quarantine(s, path, &e);
            continue;
        }
        if (res.torn) {
            kiln_counter_add(s->m_torn, 1);
            kiln_log_warn(s->host, "blocks: WAL segment %s: torn tail of %llu bytes after %llu records "
                                   "(a write the crash interrupted; it was never acknowledged) cut off",
                          path, (unsigned long long)(res.file_size - res.valid_end),
                          (unsigned long long)res.records);
        }
        kiln_log_info(s->host, "blocks: replayed %llu profile(s) of tenant %s from %s", (unsigned long long)res.profiles,
                      tenant, path);
        int64_t age = kiln_now_unix_ns() - hdr.created_ns;
        bx_tenant *t = i + 1 == n && age < s->cfg->block_duration ? kiln_bx_tenant_get(s, tenant, 1) : NULL;
        if (t) {
            kiln_wal *w;
            if (kiln_wal_reopen(path, res.valid_end, &w, &err) == KILN_OK) {
                pthread_mutex_lock(&t->mu);
                t->head = h;
                t->wal = w;
                pthread_mutex_unlock(&t->mu);
                continue;
            }
            kiln_log_error(s->host, "blocks: %s", err.msg);
        }
        if (res.torn && truncate(path, (off_t)res.valid_end) != 0)
            kiln_log_warn(s->host, "blocks: cannot truncate %s: %s", path, strerror(errno));
        bx_pending *p = calloc(1, sizeof *p);
        if (!p || !(p->tenant = strdup(tenant)) || !(p->wal_path = strdup(path))) {
            if (p) free(p->tenant);
            free(p);
            kiln_head_free(h);
            continue;
        }
        memcpy(p->id, id, sizeof p->id);
        p->head = h;
        kiln_head_stats st;
        kiln_head_get_stats(h, &st);
        p->bytes = st.bytes;
        kiln_bx_pending_add(s, p);
        /* make sure the tenant is known (compaction, metrics) */
        kiln_bx_tenant_get(s, tenant, 1);
    }
    if (have_list) kiln_blocks_list_free(&l);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

int kiln_bx_replay(bx_state *s, kiln_err *err)
{
    /* scratch files of a block write that died */
    DIR *td = opendir(s->tmp_dir);
    if (td) {
        struct dirent *de;
        while ((de = readdir(td))) {
            if (de->d_name[0] == '.') continue;
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", s->tmp_dir, de->d_name);
            unlink(p);
        }
        closedir(td);
    }
    DIR *d = opendir(s->cfg->wal_dir);
    if (!d) return kiln_err_set(err, KILN_EIO, "cannot read wal_dir %s: %s", s->cfg->wal_dir, strerror(errno));
    struct dirent *de;
    char **dirs = NULL;
    size_t n = 0, cap = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "LOCK")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(dirs, cap * sizeof *nv);
            if (!nv) break;
            dirs = nv;
        }
        dirs[n] = strdup(de->d_name);
        if (dirs[n]) n++;
    }
    closedir(d);
    if (n > 1) qsort(dirs, n, sizeof *dirs, cmp_name);
    for (size_t i = 0; i < n; i++) {
        char tenant[KILN_TENANT_MAX + 8];
        if (kiln_blocks_tenant_unescape(dirs[i], tenant, sizeof tenant) != 0) {
            kiln_log_warn(s->host, "blocks: %s/%s is not a tenant directory; ignored", s->cfg->wal_dir, dirs[i]);
        } else {
            replay_tenant(s, dirs[i], tenant);
        }
        free(dirs[i]);
    }
    free(dirs);
    return KILN_OK;
}
