/* tests/fuzz/fuzz_json.c — libFuzzer target for libkiln's JSON reader
 * (kiln/json.h), in both string modes. Byte 0 picks strict or Go strings;
 * the rest is the text. A parse that succeeds is walked: every node has a
 * known kind, strings are NUL-terminated at their length, objects have a
 * key per item, offsets lie inside the text, and in strict mode every string
 * is valid UTF-8. Must never crash, leak or hang. Seeds: tests/fuzz/seeds_json/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/json.h>
#include <kiln/text.h>

static void walk(const kiln_json *j, size_t n, int strict, int depth)
{
    if (depth > KILN_JSON_MAX_DEPTH + 1 || j->kind > KILN_JSON_OBJ || j->at >= n) abort();
    if (j->kind == KILN_JSON_STR || j->kind == KILN_JSON_NUM) {
        if (!j->s || strlen(j->s) > j->len || j->s[j->len] != 0) abort();
        for (size_t i = 0; strict && j->kind == KILN_JSON_STR && i < j->len;) {
            size_t l = kiln_utf8_len((const unsigned char *)j->s + i, j->len - i);
            if (!l && j->s[i] != 0) abort();
            i += l ? l : 1;
        }
    }
    for (size_t i = 0; (j->kind == KILN_JSON_ARR || j->kind == KILN_JSON_OBJ) && i < j->n; i++) {
        if (j->kind == KILN_JSON_OBJ && !j->keys[i]) abort();
        walk(j->items[i], n, strict, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int strict = !(data[0] & 1);
    kiln_arena *a = kiln_arena_new(0);
    if (!a) return 0;
    kiln_json *j;
    kiln_err err;
    if (kiln_json_parse(a, (const char *)data + 1, size - 1, strict ? 0 : KILN_JSON_GO_STRINGS, &j, &err) ==
        KILN_OK) {
        walk(j, size - 1, strict, 0);
        int64_t i64;
        double d;
        (void)kiln_json_int64(j, &i64, &err);
        (void)kiln_json_double(j, &d, &err);
        if (j->kind == KILN_JSON_OBJ && j->n) (void)kiln_json_get(j, j->keys[0], NULL);
    }
    kiln_arena_destroy(a);
    return 0;
}
