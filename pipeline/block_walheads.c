/* pipeline/block_walheads.c — heads for readers (the query exporter,
 * `kiln blocks`): the WAL segments of a tenant that are not in the store
 * yet, replayed read-only into heads and kept up to date by tailing. The
 * rule that keeps a profile from being counted twice: a segment is used
 * only while no visible block lists its block id among its sources
 * (FORMAT.md, "Heads").
 *
 * Memory: a kiln_wal_heads owns its heads and paths (kiln_wal_heads_free).
 */
#include "block_internal.h"

#include <dirent.h>
#include <stdio.h>

#include <kiln/kiln.h>

typedef struct tail_ctx {
    kiln_wal_head *h;
    kiln_wal_header *hdr;
    kiln_err *err;
} tail_ctx;

static int on_profile(const kiln_wal_profile *wp, void *arg)
{
    tail_ctx *c = arg;
    if (!c->h->head &&
        kiln_head_new(c->hdr->tenant, c->hdr->id, c->hdr->created_ns, &c->h->head, c->err) != KILN_OK)
        return c->err->code;
    kiln_arena *a = kiln_arena_new(0);
    if (!a) return kiln_err_set(c->err, KILN_ENOMEM, "out of memory");
    kiln_pprof *p;
    kiln_err e;
    int rc = KILN_OK;
    if (kiln_pprof_decode(a, wp->data, wp->len, NULL, &p, &e) == KILN_OK) {
        rc = kiln_head_append(c->h->head, wp->labels, wp->time_ns, wp->duration_ns, p, c->err);
        if (rc == KILN_EINVAL) { /* refused when it came in too */
            rc = KILN_OK;
            c->h->skipped++;
        } else {
            c->h->profiles++;
        }
    } else {
        c->h->skipped++;
    }
    kiln_arena_destroy(a);
    return rc;
}

/* Reads what was appended to h's segment since the last time. */
static int tail(kiln_wal_head *h, kiln_err *err)
{
    kiln_wal_header hdr;
    kiln_wal_replay_result res;
    tail_ctx c = {h, &hdr, err};
    int rc = kiln_wal_replay_from(h->path, h->offset, &hdr, on_profile, &c, &res, err);
    if (rc != KILN_OK) return rc;
    if (!h->head) rc = kiln_head_new(hdr.tenant, hdr.id, hdr.created_ns, &h->head, err);
    h->offset = res.valid_end;
    return rc;
}

static void head_free(kiln_wal_head *h)
{
    kiln_head_free(h->head);
    free(h->path);
    memset(h, 0, sizeof *h);
}

void kiln_wal_heads_free(kiln_wal_heads *hs)
{
    for (size_t i = 0; i < hs->n; i++) head_free(&hs->v[i]);
    free(hs->v);
    memset(hs, 0, sizeof *hs);
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int kiln_wal_heads_refresh(const char *wal_dir, const char *tenant, const kiln_blocks_list *l,
                           kiln_wal_heads *hs, kiln_err *err)
{
    char esc[3 * KILN_TENANT_MAX + 8], dir[4200];
    if (kiln_blocks_tenant_escape(tenant, esc, sizeof esc) >= sizeof esc)
        return kiln_err_set(err, KILN_EINVAL, "tenant too long");
    snprintf(dir, sizeof dir, "%s/%s", wal_dir, esc);
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len != KILN_BLOCK_ID_LEN + 4 || strcmp(de->d_name + KILN_BLOCK_ID_LEN, ".wal")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **nv = realloc(names, cap * sizeof *nv);
            if (!nv) break;
            names = nv;
        }
        if ((names[n] = strdup(de->d_name))) n++;
    }
    if (d) closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_name);
    /* keep, in the new order, the segments that still exist and are not stored */
    kiln_wal_head *nv = calloc(n ? n : 1, sizeof *nv);
    uint8_t *used = calloc(hs->n ? hs->n : 1, 1);
    int rc = KILN_OK;
    if (!nv || !used) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char id[KILN_BLOCK_ID_LEN + 1];
        memcpy(id, names[i], KILN_BLOCK_ID_LEN);
        id[KILN_BLOCK_ID_LEN] = 0;
        if (l && kiln_blocks_list_covers(l, id)) continue;
        char path[4300];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        kiln_wal_head *h = &nv[k];
        for (size_t j = 0; j < hs->n; j++)
            if (!used[j] && !strcmp(hs->v[j].path, path)) {
                *h = hs->v[j];
                used[j] = 1;
                break;
            }
        if (!h->path && !(h->path = strdup(path))) {
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            break;
        }
        kiln_err e;
        int r = tail(h, &e);
        if (r == KILN_ENOTFOUND) { /* uploaded and removed meanwhile */
            head_free(h);
            continue;
        }
        if (r != KILN_OK) {
            /* an unreadable segment: skip it (the exporter reports it) */
            head_free(h);
            continue;
        }
        k++;
    }
    for (size_t j = 0; j < hs->n; j++)
        if (!used[j]) head_free(&hs->v[j]);
    free(hs->v);
    hs->v = nv;
    hs->n = k;
    nv = NULL;
out:
    free(nv);
    free(used);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}
