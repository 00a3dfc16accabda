/* tests/runtime/s3_check.c — drives kiln's S3 object store (libkiln, through
 * include/kiln/objstore.h only) against a real S3-compatible server;
 * built and run by tests/runtime/test_s3.sh (s3rver behind a checking proxy).
 *
 * Usage: s3_check PATH_ENDPOINT VHOST_ENDPOINT BUCKET WORKDIR
 * Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed";
 * exit status 1 if any check failed. Writes WORKDIR/big.expected (the
 * multipart object's bytes) and WORKDIR/hello.expected for the script to
 * compare with s3rver's files.
 *
 * Keys live under the prefix "kiln-rt". The proxy injects faults for keys
 * under "flaky/", "broken/" and "broken-mp/" (see sigv4_proxy.py).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/objstore.h>

static int passed, failed;

#define CHECK(cond, ...)                        \
    do {                                        \
        if (cond) {                             \
            passed++;                           \
            printf("ok - ");                    \
        } else {                                \
            failed++;                           \
            printf("not ok - ");                \
        }                                       \
        printf(__VA_ARGS__);                    \
        printf("\n");                           \
        fflush(stdout);                         \
    } while (0)

#define NPAGE 1100
#define BIG ((size_t)12 << 20)

static uint8_t *pattern(size_t n, uint32_t seed)
{
    uint8_t *p = malloc(n);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
}

static int write_file(const char *dir, const char *name, const uint8_t *d, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(d, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

typedef struct lst {
    int n, in_order, sizes_ok, stop_at;
    char last[256];
    char first[256];
} lst;

static int on_key(const char *key, uint64_t size, void *arg)
{
    lst *l = arg;
    if (l->n == 0) snprintf(l->first, sizeof l->first, "%s", key);
    else if (strcmp(l->last, key) >= 0) l->in_order = 0;
    snprintf(l->last, sizeof l->last, "%s", key);
    if (strncmp(key, "page/", 5) == 0 && size != strlen(key)) l->sizes_ok = 0;
    l->n++;
    return l->stop_at && l->n == l->stop_at ? 99 : 0;
}

static int list_count(kiln_objstore *os, const char *prefix, lst *l, kiln_err *err)
{
    memset(l, 0, sizeof *l);
    l->in_order = l->sizes_ok = 1;
    return kiln_objstore_list(os, prefix, on_key, l, err);
}

typedef struct uploader {
    kiln_objstore *os;
    int from, to, fails;
    char msg[600];
} uploader;

static void *upload_pages(void *arg)
{
    uploader *u = arg;
    kiln_err err = {0};
    for (int i = u->from; i < u->to; i++) {
        char key[64];
        snprintf(key, sizeof key, "page/k%05d", i);
        if (kiln_objstore_put(u->os, key, (const uint8_t *)key, strlen(key), &err) != KILN_OK) {
            u->fails++;
            snprintf(u->msg, sizeof u->msg, "%s", err.msg);
        }
    }
    return NULL;
}

static kiln_objstore *open_store(const char *endpoint, const char *bucket, int path_style, const char *token)
{
    kiln_s3_config c = {
        .endpoint = endpoint, .bucket = bucket, .region = "us-east-1", .access_key_id = "S3RVER",
        .secret_access_key = "S3RVER", .session_token = token, .force_path_style = path_style,
        .prefix = "kiln-rt", .part_size = (int64_t)5 << 20, .max_retries = 3, .timeout_ns = 30000000000LL,
    };
    kiln_objstore *os = NULL;
    kiln_err err = {0};
    int rc = kiln_objstore_open_s3(&c, &os, &err);
    CHECK(rc == KILN_OK, "open %s (%s): %s", endpoint, path_style ? "path-style" : "virtual-hosted",
          rc ? err.msg : kiln_objstore_describe(os));
    return os;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: s3_check PATH_ENDPOINT VHOST_ENDPOINT BUCKET WORKDIR\n");
        return 2;
    }
    const char *bucket = argv[3], *work = argv[4];
    kiln_err err = {0};
    uint8_t *d = NULL;
    size_t n = 0;
    uint64_t sz = 0;
    int rc;

    kiln_objstore *os = open_store(argv[1], bucket, 1, NULL);
    if (!os) goto done;

    /* small objects */
    const char *hello = "hello from kiln";
    rc = kiln_objstore_put(os, "t1/hello", (const uint8_t *)hello, strlen(hello), &err);
    CHECK(rc == KILN_OK, "put t1/hello%s%s", rc ? ": " : "", rc ? err.msg : "");
    write_file(work, "hello.expected", (const uint8_t *)hello, strlen(hello));
    rc = kiln_objstore_get(os, "t1/hello", &d, &n, &err);
    CHECK(rc == KILN_OK && n == strlen(hello) && memcmp(d, hello, n) == 0, "get t1/hello gives the bytes put");
    free(d);
    rc = kiln_objstore_size(os, "t1/hello", &sz, &err);
    CHECK(rc == KILN_OK && sz == strlen(hello), "size t1/hello = %llu", (unsigned long long)sz);
    rc = kiln_objstore_get(os, "t1/missing", &d, &n, &err);
    CHECK(rc == KILN_ENOTFOUND && !err.retriable, "get of a missing key: ENOTFOUND (%s)", err.msg);
    rc = kiln_objstore_size(os, "t1/missing", &sz, &err);
    CHECK(rc == KILN_ENOTFOUND, "size of a missing key: ENOTFOUND");
    rc = kiln_objstore_put(os, "t1/empty", NULL, 0, &err);
    rc = rc ? rc : kiln_objstore_get(os, "t1/empty", &d, &n, &err);
    CHECK(rc == KILN_OK && d && n == 0, "an empty object round-trips");
    free(d);

    /* ranges */
    uint8_t *r1000 = pattern(1000, 7);
    rc = kiln_objstore_put(os, "t1/range", r1000, 1000, &err);
    size_t got = 0;
    rc = rc ? rc : kiln_objstore_get_range(os, "t1/range", 100, 50, &d, &got, &err);
    CHECK(rc == KILN_OK && got == 50 && memcmp(d, r1000 + 100, 50) == 0, "get_range [100,150)");
    free(d);
    rc = kiln_objstore_get_range(os, "t1/range", 990, 50, &d, &got, &err);
    CHECK(rc == KILN_OK && got == 10 && memcmp(d, r1000 + 990, 10) == 0, "get_range past the end is short (%zu)", got);
    free(d);
    rc = kiln_objstore_get_range(os, "t1/range", 1000, 5, &d, &got, &err);
    CHECK(rc == KILN_OK && got == 0, "get_range at the end is empty (rc %d %s)", rc, rc ? err.msg : "");
    free(d);
    rc = kiln_objstore_get_range(os, "t1/nope", 0, 5, &d, &got, &err);
    CHECK(rc == KILN_ENOTFOUND, "get_range of a missing key: ENOTFOUND");
    free(r1000);

    /* keys that need encoding */
    const char *odd = "t1/a b+c=d,e;f@g$h&i'j(k)l*m!n~o_p.q-r/\xc3\xa9t\xc3\xa9";
    rc = kiln_objstore_put(os, odd, (const uint8_t *)"odd", 3, &err);
    CHECK(rc == KILN_OK, "put a key with reserved characters%s%s", rc ? ": " : "", rc ? err.msg : "");
    rc = kiln_objstore_get(os, odd, &d, &n, &err);
    CHECK(rc == KILN_OK && n == 3 && memcmp(d, "odd", 3) == 0, "get it back");
    free(d);
    lst l;
    rc = list_count(os, "t1/a b", &l, &err);
    CHECK(rc == KILN_OK && l.n == 1 && strcmp(l.first, odd) == 0, "list finds it by prefix: \"%s\"", l.first);

    /* pagination: more than 1000 keys (4 threads share the store) */
    uploader up[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        up[i] = (uploader){os, i * NPAGE / 4, (i + 1) * NPAGE / 4, 0, ""};
        pthread_create(&th[i], NULL, upload_pages, &up[i]);
    }
    int ufails = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ufails += up[i].fails;
        if (up[i].fails) printf("# %s\n", up[i].msg);
    }
    CHECK(ufails == 0, "put %d keys from 4 threads (%d failed)", NPAGE, ufails);
    rc = list_count(os, "page/", &l, &err);
    CHECK(rc == KILN_OK && l.n == NPAGE && l.in_order && l.sizes_ok, "list page/: %d keys, in order %d, sizes %d%s%s",
          l.n, l.in_order, l.sizes_ok, rc ? ": " : "", rc ? err.msg : "");
    CHECK(strcmp(l.first, "page/k00000") == 0 && strcmp(l.last, "page/k01099") == 0, "first %s, last %s", l.first,
          l.last);
    rc = list_count(os, "page/k0100", &l, &err);
    CHECK(rc == KILN_OK && l.n == 10 && strcmp(l.first, "page/k01000") == 0, "list page/k0100: %d keys", l.n);
    memset(&l, 0, sizeof l);
    l.in_order = l.sizes_ok = 1;
    l.stop_at = 1050;
    rc = kiln_objstore_list(os, "page/", on_key, &l, &err);
    CHECK(rc == 99 && l.n == 1050, "fn stopping the list on a later page: rc %d after %d keys", rc, l.n);
    rc = list_count(os, "", &l, &err);
    CHECK(rc == KILN_OK && l.n == NPAGE + 4 && l.in_order, "list everything: %d keys (4 in t1/)", l.n);

    /* delete */
    int dfail = 0;
    for (int i = 0; i < 10; i++) {
        char key[64];
        snprintf(key, sizeof key, "page/k%05d", i * 100);
        if (kiln_objstore_delete(os, key, &err) != KILN_OK) dfail++;
    }
    rc = list_count(os, "page/", &l, &err);
    CHECK(dfail == 0 && rc == KILN_OK && l.n == NPAGE - 10, "deleted 10 keys, %d left", l.n);
    rc = kiln_objstore_get(os, "page/k00100", &d, &n, &err);
    CHECK(rc == KILN_ENOTFOUND, "a deleted key is gone");
    rc = kiln_objstore_delete(os, "page/k00100", &err);
    CHECK(rc == KILN_OK, "deleting it again is fine");

    /* multipart: 12 MiB in 5 MiB parts */
    uint8_t *big = pattern(BIG, 12);
    write_file(work, "big.expected", big, BIG);
    rc = kiln_objstore_put(os, "big/obj12", big, BIG, &err);
    CHECK(rc == KILN_OK, "multipart put of 12 MiB%s%s", rc ? ": " : "", rc ? err.msg : "");
    rc = kiln_objstore_size(os, "big/obj12", &sz, &err);
    CHECK(rc == KILN_OK && sz == BIG, "its size is %llu", (unsigned long long)sz);
    rc = kiln_objstore_get(os, "big/obj12", &d, &n, &err);
    CHECK(rc == KILN_OK && n == BIG && memcmp(d, big, BIG) == 0, "get gives the 12 MiB back");
    free(d);
    rc = kiln_objstore_get_range(os, "big/obj12", ((uint64_t)5 << 20) - 10, 20, &d, &got, &err);
    CHECK(rc == KILN_OK && got == 20 && memcmp(d, big + (5 << 20) - 10, 20) == 0, "get_range across a part boundary");
    free(d);

    /* retries */
    rc = kiln_objstore_put(os, "flaky/x", (const uint8_t *)"f", 1, &err);
    CHECK(rc == KILN_OK, "put through two 503 SlowDown answers%s%s", rc ? ": " : "", rc ? err.msg : "");
    rc = kiln_objstore_get(os, "flaky/x", &d, &n, &err);
    CHECK(rc == KILN_OK && n == 1 && d[0] == 'f', "get through two 503 SlowDown answers");
    free(d);
    rc = kiln_objstore_put(os, "broken/x", (const uint8_t *)"b", 1, &err);
    CHECK(rc == KILN_EIO && err.retriable && strstr(err.msg, "SlowDown") && strstr(err.msg, "(4 attempts)") &&
              strstr(err.msg, "broken/x"),
          "a server that keeps failing: %s", err.msg);
    rc = kiln_objstore_put(os, "broken-mp/obj", big, BIG, &err);
    CHECK(rc == KILN_EIO && err.retriable && strstr(err.msg, "part 2 of 3") && strstr(err.msg, "InternalError"),
          "multipart with a failing part: %s", err.msg);
    rc = kiln_objstore_size(os, "broken-mp/obj", &sz, &err);
    CHECK(rc == KILN_ENOTFOUND, "and no object appears");

    /* virtual-hosted, with a session token, same bucket */
    kiln_objstore *vh = open_store(argv[2], bucket, 0, "rt-session-token");
    if (vh) {
        rc = kiln_objstore_get(vh, "t1/hello", &d, &n, &err);
        CHECK(rc == KILN_OK && n == strlen(hello) && memcmp(d, hello, n) == 0,
              "virtual-hosted get of the path-style object%s%s", rc ? ": " : "", rc ? err.msg : "");
        free(d);
        rc = kiln_objstore_put(vh, "vh/one", (const uint8_t *)"v", 1, &err);
        CHECK(rc == KILN_OK, "virtual-hosted put");
        rc = kiln_objstore_get(os, "vh/one", &d, &n, &err);
        CHECK(rc == KILN_OK && n == 1 && d[0] == 'v', "path-style get of the virtual-hosted object");
        free(d);
        rc = list_count(vh, "page/", &l, &err);
        CHECK(rc == KILN_OK && l.n == NPAGE - 10 && l.in_order, "virtual-hosted list: %d keys", l.n);
        rc = kiln_objstore_delete(vh, "vh/one", &err);
        rc = rc ? rc : kiln_objstore_size(os, "vh/one", &sz, &err);
        CHECK(rc == KILN_ENOTFOUND, "virtual-hosted delete");
        kiln_objstore_close(vh);
    }
    free(big);
    kiln_objstore_close(os);
done:
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
