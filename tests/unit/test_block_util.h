/* tests/unit/test_block_util.h — helpers for the test_block*.c tests: a
 * scratch directory with a filesystem object store, corpus decoding, and
 * the reference comparison: per-function flat/cum totals (kiln_pprof_top)
 * of profiles read back from a block versus those of the decoded input.
 *
 * Everything is static and marked unused so each test includes what it
 * needs. Scratch directories are removed by bt_cleanup.
 */
#ifndef KILN_TEST_BLOCK_UTIL_H
#define KILN_TEST_BLOCK_UTIL_H

#include "testlib.h"

#include <kiln/blocks.h>
#include <kiln/kiln.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BT __attribute__((unused)) static

typedef struct bt_store {
    char dir[256];
    char data[300], wal[300], tmp[300];
    kiln_objstore *os;
} bt_store;

BT int bt_open(bt_store *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/kiln-bt.XXXXXX");
    if (!mkdtemp(s->dir)) return -1;
    snprintf(s->data, sizeof s->data, "%s/data", s->dir);
    snprintf(s->wal, sizeof s->wal, "%s/wal", s->dir);
    snprintf(s->tmp, sizeof s->tmp, "%s/tmp", s->dir);
    kiln_err err;
    if (kiln_objstore_open_fs(s->data, &s->os, &err) != KILN_OK) {
        fprintf(stderr, "objstore: %s\n", err.msg);
        return -1;
    }
    return 0;
}

BT void bt_cleanup(bt_store *s)
{
    if (s->os) kiln_objstore_close(s->os);
    s->os = NULL;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", s->dir);
}

BT kiln_pprof *bt_load(kiln_arena *a, const char *name)
{
    size_t len;
    uint8_t *d = test_read_corpus(name, &len);
    if (!d) return NULL;
    kiln_pprof *p = NULL;
    kiln_err err;
    if (kiln_pprof_decode(a, d, len, NULL, &p, &err) != KILN_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        p = NULL;
    }
    free(d);
    return p;
}

BT const char *bt_str(const kiln_pprof *p, int64_t i)
{
    return i > 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "";
}

/* Compares the top tables of two profiles (sample index ia of a, ib of b):
 * same functions with the same flat and cum, and the same total (times
 * `mult` for a). Returns 0 when equal, else prints the first difference. */
BT int bt_top_equal(const kiln_pprof *a, size_t ia, int64_t mult, const kiln_pprof *b, size_t ib,
                    const char *what)
{
    kiln_pprof_fn_total *ra = NULL, *rb = NULL;
    size_t na = 0, nb = 0;
    int64_t ta = 0, tb = 0;
    kiln_err err;
    int bad = 0;
    if (kiln_pprof_top(a, ia, &ra, &na, &ta, &err) != KILN_OK ||
        kiln_pprof_top(b, ib, &rb, &nb, &tb, &err) != KILN_OK) {
        fprintf(stderr, "%s: top failed: %s\n", what, err.msg);
        free(ra);
        free(rb);
        return -1;
    }
    if (ta * mult != tb) {
        fprintf(stderr, "%s: total %lld x %lld != %lld\n", what, (long long)ta, (long long)mult,
                (long long)tb);
        bad = 1;
    }
    /* rows with zero flat and cum are not produced by every input alike */
    size_t i = 0, j = 0;
    while (!bad && (i < na || j < nb)) {
        if (i < na && ra[i].flat == 0 && ra[i].cum == 0) { i++; continue; }
        if (j < nb && rb[j].flat == 0 && rb[j].cum == 0) { j++; continue; }
        if (i >= na || j >= nb) {
            fprintf(stderr, "%s: %zu rows vs %zu\n", what, na, nb);
            bad = 1;
            break;
        }
        if (strcmp(ra[i].name, rb[j].name) || ra[i].flat * mult != rb[j].flat ||
            ra[i].cum * mult != rb[j].cum) {
            fprintf(stderr, "%s: row %zu: %s flat %lld cum %lld vs %s flat %lld cum %lld\n", what,
                    i, ra[i].name, (long long)ra[i].flat, (long long)ra[i].cum, rb[j].name,
                    (long long)rb[j].flat, (long long)rb[j].cum);
            bad = 1;
        }
        i++;
        j++;
    }
    free(ra);
    free(rb);
    return bad;
}

/* Labels {service_name=svc, __name__=name} (caller frees). */
BT void bt_labels(kiln_labels *ls, const char *svc, const char *name)
{
    kiln_labels_set(ls, "service_name", svc);
    kiln_labels_set(ls, "__name__", name);
}

/* Lists a tenant and returns the metas (visible ones first are not
 * reordered; caller frees with kiln_blocks_list_free). */
BT int bt_list(kiln_objstore *os, const char *tenant, kiln_blocks_list *l)
{
    kiln_err err;
    if (kiln_blocks_list_tenant(os, tenant, l, NULL, NULL, &err) != KILN_OK) {
        fprintf(stderr, "list: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Selects series with one matcher name=value (EQ). Caller frees *ids. */
BT size_t bt_select_eq(kiln_block *b, const char *name, const char *value, uint32_t **ids)
{
    kiln_block_matcher m = {name, KILN_MATCH_EQ, value, NULL, NULL};
    size_t n = 0;
    kiln_err err;
    if (kiln_block_select(b, &m, 1, INT64_MIN, INT64_MAX, ids, &n, &err) != KILN_OK) {
        fprintf(stderr, "select: %s\n", err.msg);
        *ids = NULL;
        return 0;
    }
    return n;
}

/* Flips one byte (or truncates to `len` when truncate is set) of an object
 * in the fs store. */
BT int bt_damage(bt_store *s, const char *tenant, const char *id, const char *name, long off,
                 int truncate_to)
{
    char key[512], path[1024];
    if (kiln_block_key(tenant, id, name, key, sizeof key) != KILN_OK) return -1;
    snprintf(path, sizeof path, "%s/%s", s->data, key);
    if (truncate_to >= 0) return truncate(path, truncate_to);
    FILE *f = fopen(path, "r+b");
    if (!f) return -1;
    if (off < 0) {
        fseek(f, 0, SEEK_END);
        off = ftell(f) + off;
    }
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x55, f);
    fclose(f);
    return 0;
}

#endif
