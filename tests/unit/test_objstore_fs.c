/* tests/unit/test_objstore_fs.c — the filesystem object store
 * (pipeline/objstore_fs.c through include/kiln/objstore.h): put/get/size,
 * ranges at and past the end, list order against strcmp-sorted keys with
 * prefixes and early stop, temporary files hidden, delete and the empty
 * directories it removes, bad keys, and atomicity: readers racing a writer
 * only ever see a whole object; puts racing deletes in one directory never
 * fail.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/objstore.h>

static char root[256];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void fresh_root(void)
{
    if (root[0]) nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    snprintf(root, sizeof root, "/tmp/kiln-objfs.XXXXXX");
    if (!mkdtemp(root)) perror("mkdtemp");
}

static kiln_objstore *open_store(void)
{
    kiln_objstore *os = NULL;
    kiln_err err = {0};
    char dir[300];
    snprintf(dir, sizeof dir, "%s/store/sub/", root); /* nested, trailing slash */
    int rc = kiln_objstore_open_fs(dir, &os, &err);
    if (rc) printf("  open: %s\n", err.msg);
    return os;
}

static int exists(const char *rel)
{
    char p[600];
    struct stat st;
    snprintf(p, sizeof p, "%s/store/sub/%s", root, rel);
    return stat(p, &st) == 0;
}

static void t_put_get_size(void)
{
    fresh_root();
    kiln_objstore *os = open_store();
    CHECK(os != NULL);
    if (!os) return;
    char want[80];
    snprintf(want, sizeof want, "fs:%s/store/sub", root);
    CHECK_EQ_STR(kiln_objstore_describe(os), want);

    uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7);
    kiln_err err = {0};
    CHECK_EQ_INT(kiln_objstore_put(os, "tenant/01HX/data", data, sizeof data, &err), KILN_OK);
    CHECK(exists("tenant/01HX/data"));
    uint8_t *got = NULL;
    size_t n = 0;
    CHECK_EQ_INT(kiln_objstore_get(os, "tenant/01HX/data", &got, &n, &err), KILN_OK);
    CHECK_EQ_INT(n, sizeof data);
    CHECK(got && memcmp(got, data, n) == 0);
    free(got);
    uint64_t sz = 0;
    CHECK_EQ_INT(kiln_objstore_size(os, "tenant/01HX/data", &sz, &err), KILN_OK);
    CHECK_EQ_INT(sz, 1000);

    /* overwrite with a shorter object */
    CHECK_EQ_INT(kiln_objstore_put(os, "tenant/01HX/data", (const uint8_t *)"xyz", 3, &err), KILN_OK);
    CHECK_EQ_INT(kiln_objstore_get(os, "tenant/01HX/data", &got, &n, &err), KILN_OK);
    CHECK_EQ_INT(n, 3);
    CHECK(got && memcmp(got, "xyz", 3) == 0);
    free(got);

    /* an empty object */
    CHECK_EQ_INT(kiln_objstore_put(os, "empty", NULL, 0, &err), KILN_OK);
    CHECK_EQ_INT(kiln_objstore_get(os, "empty", &got, &n, &err), KILN_OK);
    CHECK(got != NULL);
    CHECK_EQ_INT(n, 0);
    free(got);

    /* missing */
    CHECK_EQ_INT(kiln_objstore_get(os, "tenant/nope", &got, &n, &err), KILN_ENOTFOUND);
    CHECK(got == NULL);
    CHECK_CONTAINS(err.msg, "tenant/nope");
    CHECK_EQ_INT(err.retriable, 0);
    CHECK_EQ_INT(kiln_objstore_size(os, "tenant/nope", &sz, &err), KILN_ENOTFOUND);
    CHECK_EQ_INT(kiln_objstore_get(os, "empty/below", &got, &n, &err), KILN_ENOTFOUND);
    /* a "directory" is not an object */
    CHECK_EQ_INT(kiln_objstore_get(os, "tenant/01HX", &got, &n, &err), KILN_ENOTFOUND);
    CHECK_EQ_INT(kiln_objstore_size(os, "tenant", &sz, &err), KILN_ENOTFOUND);
    /* a key cannot also be a directory on a filesystem */
    CHECK_EQ_INT(kiln_objstore_put(os, "empty/below", data, 1, &err), KILN_EINVAL);
    CHECK_EQ_INT(kiln_objstore_put(os, "tenant/01HX", data, 1, &err), KILN_EINVAL);
    kiln_objstore_close(os);
}

static void t_ranges(void)
{
    fresh_root();
    kiln_objstore *os = open_store();
    if (!os) return;
    kiln_err err = {0};
    const char *s = "0123456789abcdef";
    CHECK_EQ_INT(kiln_objstore_put(os, "r", (const uint8_t *)s, 16, &err), KILN_OK);
    uint8_t *d = NULL;
    size_t got = 99;
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", 3, 4, &d, &got, &err), KILN_OK);
    CHECK_EQ_INT(got, 4);
    CHECK(d && memcmp(d, "3456", 4) == 0);
    free(d);
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", 12, 100, &d, &got, &err), KILN_OK);
    CHECK_EQ_INT(got, 4);
    CHECK(d && memcmp(d, "cdef", 4) == 0);
    free(d);
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", 16, 5, &d, &got, &err), KILN_OK);
    CHECK_EQ_INT(got, 0);
    CHECK(d != NULL);
    free(d);
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", 1000, 5, &d, &got, &err), KILN_OK);
    CHECK_EQ_INT(got, 0);
    free(d);
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", 0, 0, &d, &got, &err), KILN_OK);
    CHECK_EQ_INT(got, 0);
    free(d);
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", 0, 16, &d, &got, &err), KILN_OK);
    CHECK_EQ_INT(got, 16);
    CHECK(d && memcmp(d, s, 16) == 0);
    free(d);
    CHECK_EQ_INT(kiln_objstore_get_range(os, "missing", 0, 1, &d, &got, &err), KILN_ENOTFOUND);
    CHECK(d == NULL);
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", UINT64_MAX, 2, &d, &got, &err), KILN_EINVAL);
    kiln_objstore_close(os);
}

/* ---- list ----------------------------------------------------------------------- */

typedef struct seen {
    char keys[64][64];
    uint64_t sizes[64];
    int n, stop_after;
} seen;

static int collect(const char *key, uint64_t size, void *arg)
{
    seen *s = arg;
    if (s->n < 64) {
        snprintf(s->keys[s->n], 64, "%s", key);
        s->sizes[s->n] = size;
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? 7 : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *list_keys[] = {"ab", "a-b", "a/x", "a/y/z", "a0", "b/c", "B", "a.b", "tenant/01J/meta.json",
                                  "tenant/01J/index", "tenant/01J-x", "tenant/01K/meta.json", "zz/\xc3\xa9t\xc3\xa9",
                                  "a/y0"};
#define NKEYS (sizeof list_keys / sizeof list_keys[0])

/* the reference: the keys with that prefix, sorted by strcmp */
static int expected(const char *prefix, const char **out)
{
    int n = 0;
    for (size_t i = 0; i < NKEYS; i++)
        if (strncmp(list_keys[i], prefix, strlen(prefix)) == 0) out[n++] = list_keys[i];
    qsort(out, (size_t)n, sizeof *out, cmp_str);
    return n;
}

static void check_list(kiln_objstore *os, const char *prefix)
{
    const char *want[NKEYS];
    int nw = expected(prefix, want);
    seen s = {0};
    kiln_err err = {0};
    CHECK_EQ_INT(kiln_objstore_list(os, prefix, collect, &s, &err), KILN_OK);
    CHECK_EQ_INT(s.n, nw);
    int same = s.n == nw;
    for (int i = 0; same && i < nw; i++) {
        if (strcmp(s.keys[i], want[i]) != 0) same = 0;
        if (s.sizes[i] != strlen(want[i])) same = 0; /* each object holds its own key */
    }
    if (!same) {
        printf("  prefix \"%s\":", prefix);
        for (int i = 0; i < s.n && i < 64; i++) printf(" %s", s.keys[i]);
        printf("\n");
    }
    CHECK(same);
}

static void t_list(void)
{
    fresh_root();
    kiln_objstore *os = open_store();
    if (!os) return;
    kiln_err err = {0};
    seen s0 = {0};
    CHECK_EQ_INT(kiln_objstore_list(os, "", collect, &s0, &err), KILN_OK);
    CHECK_EQ_INT(s0.n, 0);
    for (size_t i = 0; i < NKEYS; i++)
        CHECK_EQ_INT(kiln_objstore_put(os, list_keys[i], (const uint8_t *)list_keys[i], strlen(list_keys[i]), &err),
                     KILN_OK);
    /* leftovers of a crashed put are not objects */
    char p[600];
    snprintf(p, sizeof p, "%s/store/sub/a/x.tmp.abcdefghijkl", root);
    FILE *f = fopen(p, "w");
    if (f) fclose(f);
    snprintf(p, sizeof p, "%s/store/sub/tenant/01J/meta.json.tmp.0123456789ab", root);
    f = fopen(p, "w");
    if (f) fclose(f);

    const char *prefixes[] = {"", "a", "a/", "a/y", "a/y/", "tenant/", "tenant/01J", "tenant/01J/", "tenant/01J/m",
                              "B", "zz/", "nothing", "nothing/", "a/x/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) check_list(os, prefixes[i]);

    /* fn's non-zero return stops the walk and is returned */
    seen s = {.stop_after = 3};
    CHECK_EQ_INT(kiln_objstore_list(os, "", collect, &s, &err), 7);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_STR(s.keys[0], "B");
    CHECK_EQ_STR(s.keys[1], "a-b");
    CHECK_EQ_STR(s.keys[2], "a.b");

    CHECK_EQ_INT(kiln_objstore_list(os, "/a", collect, &s, &err), KILN_EINVAL);
    CHECK_EQ_INT(kiln_objstore_list(os, "a//", collect, &s, &err), KILN_EINVAL);
    CHECK_EQ_INT(kiln_objstore_list(os, "../", collect, &s, &err), KILN_EINVAL);
    kiln_objstore_close(os);
}

static void t_delete(void)
{
    fresh_root();
    kiln_objstore *os = open_store();
    if (!os) return;
    kiln_err err = {0};
    CHECK_EQ_INT(kiln_objstore_put(os, "t/b1/meta", (const uint8_t *)"m", 1, &err), KILN_OK);
    CHECK_EQ_INT(kiln_objstore_put(os, "t/b1/data", (const uint8_t *)"d", 1, &err), KILN_OK);
    CHECK_EQ_INT(kiln_objstore_put(os, "t/b2/meta", (const uint8_t *)"m", 1, &err), KILN_OK);
    CHECK_EQ_INT(kiln_objstore_delete(os, "t/b1/meta", &err), KILN_OK);
    CHECK(!exists("t/b1/meta"));
    CHECK(exists("t/b1"));
    CHECK_EQ_INT(kiln_objstore_delete(os, "t/b1/data", &err), KILN_OK);
    CHECK(!exists("t/b1")); /* emptied directories go */
    CHECK(exists("t/b2/meta"));
    CHECK_EQ_INT(kiln_objstore_delete(os, "t/b1/data", &err), KILN_OK); /* missing: fine */
    CHECK_EQ_INT(kiln_objstore_delete(os, "never/was", &err), KILN_OK);
    CHECK_EQ_INT(kiln_objstore_delete(os, "t", &err), KILN_OK); /* a directory: not an object */
    CHECK(exists("t/b2/meta"));
    CHECK_EQ_INT(kiln_objstore_delete(os, "t/b2/meta", &err), KILN_OK);
    CHECK(!exists("t"));
    CHECK(exists("")); /* the root stays */
    seen s = {0};
    CHECK_EQ_INT(kiln_objstore_list(os, "", collect, &s, &err), KILN_OK);
    CHECK_EQ_INT(s.n, 0);
    kiln_objstore_close(os);
}

static void t_bad_keys(void)
{
    fresh_root();
    kiln_objstore *os = open_store();
    if (!os) return;
    char longkey[1100];
    memset(longkey, 'k', 1025);
    longkey[1025] = 0;
    const char *bad[] = {"", "/a", "a/", "a//b", "..", "../x", "a/../b", "a/..", ".", "a/./b", "a\x01" "b",
                         "a\x7f", "x.tmp.abcdefghijkl", "d/x.tmp.0123456789ab/y", longkey};
    kiln_err err = {0};
    uint8_t *d = NULL;
    size_t n = 0;
    uint64_t sz;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int a = kiln_objstore_put(os, bad[i], (const uint8_t *)"x", 1, &err);
        int b = kiln_objstore_get(os, bad[i], &d, &n, &err);
        int c = kiln_objstore_get_range(os, bad[i], 0, 1, &d, &n, &err);
        int e = kiln_objstore_size(os, bad[i], &sz, &err);
        int f = kiln_objstore_delete(os, bad[i], &err);
        if (a != KILN_EINVAL || b != KILN_EINVAL || c != KILN_EINVAL || e != KILN_EINVAL || f != KILN_EINVAL)
            printf("  key \"%.40s\": %d %d %d %d %d\n", bad[i], a, b, c, e, f);
        CHECK(a == KILN_EINVAL && b == KILN_EINVAL && c == KILN_EINVAL && e == KILN_EINVAL && f == KILN_EINVAL);
    }
    CHECK_EQ_INT(kiln_objstore_put(os, "a/../b", (const uint8_t *)"x", 1, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "\"..\"");
    CHECK(!exists("b"));
    /* near-misses that are fine */
    const char *good[] = {"...", "a/..b", "x.tmp.short", "x.tmp.ABCDEFGHIJKL", "k=v,w;u@h", "with space"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK_EQ_INT(kiln_objstore_put(os, good[i], (const uint8_t *)"x", 1, &err), KILN_OK);
    memset(longkey, 'k', 1024);
    longkey[1024] = 0;
    for (int i = 200; i < 1024; i += 200) longkey[i] = '/';
    CHECK_EQ_INT(kiln_objstore_put(os, longkey, (const uint8_t *)"x", 1, &err), KILN_OK);
    kiln_objstore_close(os);

    CHECK_EQ_INT(kiln_objstore_open_fs("", &os, &err), KILN_EINVAL);
    CHECK(os == NULL);
    CHECK_EQ_INT(kiln_objstore_open_fs("/proc/version/x", &os, &err) != KILN_OK, 1);
}

/* ---- concurrency ------------------------------------------------------------------- */

#define SMALL (100 * 1000)
#define LARGE (300 * 1000)

typedef struct race {
    kiln_objstore *os;
    volatile int stop;
    int reads, torn, errors, writes;
    pthread_mutex_t mu;
} race;

static void *writer(void *arg)
{
    race *r = arg;
    uint8_t *a = malloc(SMALL), *b = malloc(LARGE);
    memset(a, 'A', SMALL);
    memset(b, 'B', LARGE);
    kiln_err err = {0};
    for (int i = 0; i < 60; i++) {
        if (kiln_objstore_put(r->os, "hot/obj", i % 2 ? a : b, i % 2 ? SMALL : LARGE, &err) != KILN_OK) {
            printf("  put: %s\n", err.msg);
            __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
        }
        __atomic_add_fetch(&r->writes, 1, __ATOMIC_RELAXED);
    }
    r->stop = 1;
    free(a);
    free(b);
    return NULL;
}

static void *reader(void *arg)
{
    race *r = arg;
    kiln_err err = {0};
    while (!r->stop) {
        uint8_t *d = NULL;
        size_t n = 0;
        if (kiln_objstore_get(r->os, "hot/obj", &d, &n, &err) != KILN_OK) {
            __atomic_add_fetch(&r->errors, 1, __ATOMIC_RELAXED);
            continue;
        }
        int ok = (n == SMALL || n == LARGE);
        for (size_t i = 0; ok && i < n; i++)
            if (d[i] != (n == SMALL ? 'A' : 'B')) ok = 0;
        if (!ok) __atomic_add_fetch(&r->torn, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&r->reads, 1, __ATOMIC_RELAXED);
        free(d);
    }
    return NULL;
}

static int count_tmp(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) n += count_tmp(p);
        else if (strstr(de->d_name, ".tmp.")) n++;
    }
    closedir(d);
    return n;
}

static void t_readers_never_see_partial_objects(void)
{
    fresh_root();
    race r = {0};
    r.os = open_store();
    if (!r.os) return;
    kiln_err err = {0};
    uint8_t first[SMALL];
    memset(first, 'A', SMALL);
    CHECK_EQ_INT(kiln_objstore_put(r.os, "hot/obj", first, SMALL, &err), KILN_OK);
    pthread_t w, rd[3];
    for (int i = 0; i < 3; i++) pthread_create(&rd[i], NULL, reader, &r);
    pthread_create(&w, NULL, writer, &r);
    pthread_join(w, NULL);
    for (int i = 0; i < 3; i++) pthread_join(rd[i], NULL);
    printf("  %d writes, %d reads, %d torn, %d errors\n", r.writes, r.reads, r.torn, r.errors);
    CHECK_EQ_INT(r.writes, 60);
    CHECK(r.reads > 10);
    CHECK_EQ_INT(r.torn, 0);
    CHECK_EQ_INT(r.errors, 0);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/store", root);
    CHECK_EQ_INT(count_tmp(dir), 0);
    kiln_objstore_close(r.os);
}

typedef struct churn {
    kiln_objstore *os;
    const char *key;
    int fails;
} churn;

static void *churner(void *arg)
{
    churn *c = arg;
    kiln_err err = {0};
    for (int i = 0; i < 300; i++) {
        if (kiln_objstore_put(c->os, c->key, (const uint8_t *)"v", 1, &err) != KILN_OK) {
            printf("  put %s: %s\n", c->key, err.msg);
            c->fails++;
        }
        if (kiln_objstore_delete(c->os, c->key, &err) != KILN_OK) c->fails++;
    }
    return NULL;
}

static void t_puts_race_deletes(void)
{
    /* two threads put and delete in the same directory: a delete removing
     * the emptied directory must never make the other's put fail */
    fresh_root();
    kiln_objstore *os = open_store();
    if (!os) return;
    churn a = {os, "c/d/e/k1", 0}, b = {os, "c/d/e/k2", 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, churner, &a);
    pthread_create(&tb, NULL, churner, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_EQ_INT(a.fails + b.fails, 0);
    CHECK(!exists("c"));
    kiln_objstore_close(os);
}

int main(void)
{
    RUN(t_put_get_size);
    RUN(t_ranges);
    RUN(t_list);
    RUN(t_delete);
    RUN(t_bad_keys);
    RUN(t_readers_never_see_partial_objects);
    RUN(t_puts_race_deletes);
    if (root[0]) nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary();
}
