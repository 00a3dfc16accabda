/* Unit tests: label sets, errors, arenas, batches. */
#include <stdlib.h>

#include <kiln/kiln.h>

#include "testlib.h"

static void t_labels_sorted_unique(void)
{
    kiln_labels ls = KILN_LABELS_INIT;
    CHECK_EQ_INT(kiln_labels_set(&ls, "service_name", "api"), KILN_OK);
    CHECK_EQ_INT(kiln_labels_set(&ls, "__name__", "process_cpu"), KILN_OK);
    CHECK_EQ_INT(kiln_labels_set(&ls, "env", "prod"), KILN_OK);
    CHECK_EQ_INT(kiln_labels_set(&ls, "env", "dev"), KILN_OK); /* replaces */
    CHECK_EQ_INT(ls.n, 3);
    CHECK_EQ_STR(ls.v[0].name, "__name__");
    CHECK_EQ_STR(ls.v[1].name, "env");
    CHECK_EQ_STR(ls.v[2].name, "service_name");
    CHECK_EQ_STR(kiln_labels_get(&ls, "env"), "dev");
    CHECK(kiln_labels_get(&ls, "en") == NULL);
    CHECK(kiln_labels_get(&ls, "envx") == NULL);
    CHECK_EQ_INT(kiln_labels_setn(&ls, "envx", 3, "v", 1), KILN_OK); /* "env" by length */
    CHECK_EQ_STR(kiln_labels_get(&ls, "env"), "v");
    CHECK_EQ_INT(kiln_labels_del(&ls, "env"), 1);
    CHECK_EQ_INT(kiln_labels_del(&ls, "env"), 0);
    CHECK_EQ_INT(ls.n, 2);
    kiln_labels_free(&ls);
    CHECK_EQ_INT(ls.n, 0);
}

static void t_labels_format_and_hash(void)
{
    kiln_labels a = KILN_LABELS_INIT, b = KILN_LABELS_INIT;
    kiln_labels_set(&a, "b", "x\"y");
    kiln_labels_set(&a, "a", "1");
    char buf[128];
    size_t n = kiln_labels_format(&a, buf, sizeof buf);
    CHECK_EQ_STR(buf, "{a=\"1\", b=\"x\\\"y\"}");
    CHECK_EQ_INT(n, strlen(buf));
    char small[6];
    n = kiln_labels_format(&a, small, sizeof small);
    CHECK_EQ_INT(n, strlen(buf)); /* needed length reported */
    CHECK_EQ_STR(small, "{a=\"1");
    /* insertion order does not matter: same set, same hash and equality */
    kiln_labels_set(&b, "a", "1");
    kiln_labels_set(&b, "b", "x\"y");
    CHECK(kiln_labels_equal(&a, &b));
    CHECK(kiln_labels_hash(&a, 0) == kiln_labels_hash(&b, 0));
    CHECK(kiln_labels_hash(&a, 0) != kiln_labels_hash(&a, 1));
    /* "ab"="" and "a"="b" must not collide by concatenation */
    kiln_labels c = KILN_LABELS_INIT, d = KILN_LABELS_INIT;
    kiln_labels_set(&c, "ab", "");
    kiln_labels_set(&d, "a", "b");
    CHECK(kiln_labels_hash(&c, 0) != kiln_labels_hash(&d, 0));
    kiln_labels copy = KILN_LABELS_INIT;
    CHECK_EQ_INT(kiln_labels_copy(&copy, &a), KILN_OK);
    CHECK(kiln_labels_equal(&copy, &a));
    kiln_labels_set(&copy, "a", "2");
    CHECK(!kiln_labels_equal(&copy, &a));
    kiln_labels_free(&a);
    kiln_labels_free(&b);
    kiln_labels_free(&c);
    kiln_labels_free(&d);
    kiln_labels_free(&copy);
}

static void t_err(void)
{
    kiln_err e;
    kiln_err_clear(&e);
    CHECK_EQ_INT(kiln_err_set(&e, KILN_EAGAIN, "queue %s full", "x"), KILN_EAGAIN);
    CHECK(e.retriable);
    kiln_err_prefix(&e, "exporter %s", "debug");
    CHECK_EQ_STR(e.msg, "exporter debug: queue x full");
    kiln_err_set(&e, KILN_EINVAL, "bad");
    CHECK(!e.retriable);
    CHECK_EQ_INT(kiln_status_http(KILN_EINVAL), 400);
    CHECK_EQ_INT(kiln_status_http(KILN_ETOOBIG), 413);
    CHECK_EQ_INT(kiln_status_http(KILN_EUNPROC), 422);
    CHECK_EQ_INT(kiln_status_http(KILN_EAGAIN), 429);
    CHECK_EQ_INT(kiln_status_http(KILN_ERR), 500);
    CHECK_EQ_STR(kiln_strstatus(KILN_ELIMIT), "ELIMIT");
}

static void t_arena(void)
{
    kiln_arena *a = kiln_arena_new(64);
    char *p = kiln_arena_alloc(a, 10);
    CHECK(((uintptr_t)p & 15) == 0);
    memset(p, 1, 10);
    char *big = kiln_arena_alloc(a, 1 << 20); /* larger than a chunk */
    CHECK(big != NULL);
    memset(big, 2, 1 << 20);
    CHECK_EQ_STR(kiln_arena_strndup(a, "hello world", 5), "hello");
    CHECK(kiln_arena_used(a) >= (1 << 20) + 16);
    unsigned char *z = kiln_arena_calloc(a, 100);
    int all_zero = 1;
    for (int i = 0; i < 100; i++) all_zero &= z[i] == 0;
    CHECK(all_zero);
    kiln_arena_reset(a);
    CHECK_EQ_INT(kiln_arena_used(a), 0);
    CHECK(kiln_arena_alloc(a, 100) != NULL);
    kiln_arena_destroy(a);
}

static void t_batch_clone_compact(void)
{
    kiln_batch *b = kiln_batch_new(0);
    for (int i = 0; i < 5; i++) {
        kiln_profile *p = kiln_batch_add(b);
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        kiln_labels_set(&p->labels, "i", v);
        kiln_profile_set_tenant(p, "t");
        uint8_t data[4] = {1, 2, 3, (uint8_t)i};
        p->payload = kiln_payload_from_bytes(KILN_FMT_PPROF, data, 4, 1, NULL, NULL);
    }
    kiln_profile_drop(&b->v[1], "test");
    kiln_profile_drop(&b->v[3], "test");
    CHECK_EQ_INT(kiln_batch_live(b), 3);
    kiln_batch *c = kiln_batch_clone(b);
    CHECK_EQ_INT(c->n, 3);
    CHECK_EQ_STR(kiln_labels_get(&c->v[1].labels, "i"), "2");
    CHECK(c->v[1].payload == b->v[2].payload); /* shared, not copied */
    kiln_labels_set(&c->v[0].labels, "i", "changed");
    CHECK_EQ_STR(kiln_labels_get(&b->v[0].labels, "i"), "0"); /* the copy is its own */
    kiln_batch_compact(b);
    CHECK_EQ_INT(b->n, 3);
    CHECK_EQ_STR(kiln_labels_get(&b->v[2].labels, "i"), "4");
    kiln_batch_unref(b);
    /* the payloads live on in the clone */
    const uint8_t *d;
    size_t len;
    CHECK_EQ_INT(kiln_payload_bytes(c->v[2].payload, &d, &len, NULL, NULL), KILN_OK);
    CHECK_EQ_INT(len, 4);
    CHECK_EQ_INT(d[3], 4);
    kiln_batch_unref(c);
}

static void t_text(void)
{
    const unsigned char ok2[] = {0xC3, 0xA9}, over[] = {0xC0, 0xAF}, sur[] = {0xED, 0xA0, 0x80},
                        four[] = {0xF0, 0x9F, 0x94, 0xA5};
    CHECK_EQ_INT(kiln_utf8_len((const unsigned char *)"a", 1), 1);
    CHECK_EQ_INT(kiln_utf8_len(ok2, 2), 2);
    CHECK_EQ_INT(kiln_utf8_len(ok2, 1), 0);  /* cut short */
    CHECK_EQ_INT(kiln_utf8_len(over, 2), 0); /* overlong */
    CHECK_EQ_INT(kiln_utf8_len(sur, 3), 0);  /* surrogate */
    CHECK_EQ_INT(kiln_utf8_len(four, 4), 4);
    char o[4];
    CHECK_EQ_INT(kiln_utf8_put(o, 0xE9), 2);
    CHECK(memcmp(o, ok2, 2) == 0);
    CHECK_EQ_INT(kiln_utf8_put(o, 0x1F525), 4);
    CHECK(memcmp(o, four, 4) == 0);
    CHECK_EQ_INT(kiln_hex_digit('f'), 15);
    CHECK_EQ_INT(kiln_hex_digit('B'), 11);
    CHECK_EQ_INT(kiln_hex_digit('g'), -1);
}

int main(void)
{
    RUN(t_text);
    RUN(t_labels_sorted_unique);
    RUN(t_labels_format_and_hash);
    RUN(t_err);
    RUN(t_arena);
    RUN(t_batch_clone_compact);
    return test_summary();
}
