/* tests/fuzz/fuzz_s3_xml.c — libFuzzer target for the XML reader of S3's
 * answers (pipeline/s3_xml.c): ListObjectsV2 pages, InitiateMultipartUpload,
 * Error documents and the generic walk.
 *
 * Checks, on top of "no crash, no leak, no hang, no read past the input"
 * (the input is copied to an exact-size buffer without a NUL): the walk never
 * reports more than KILN_S3_XML_DEPTH open elements nor text over
 * KILN_S3_XML_TEXT; a parsed page has a key for every item; Error's code and
 * message fit their buffers and hold no control byte; and escaping the
 * input's first line as XML text and reading it back gives the same bytes.
 * Seeds: tests/fuzz/seeds_s3_xml/.
 *
 * libkiln's sources, linked into every target, now call libcurl and libcrypto:
 */
// fuzz-pkgs: libcurl libcrypto
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objstore_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int f_start(void *arg, const char *const *path, int depth)
{
    if (depth < 1 || depth > KILN_S3_XML_DEPTH) abort();
    for (int i = 0; i < depth; i++)
        if (!path[i] || strlen(path[i]) > 63 || !path[i][0]) abort();
    ++*(int *)arg;
    return 0;
}

static int f_end(void *arg, const char *const *path, int depth, const char *text, size_t len)
{
    if (depth < 1 || depth > KILN_S3_XML_DEPTH || len > KILN_S3_XML_TEXT || text[len] != 0) abort();
    --*(int *)arg;
    return 0;
}

static void check_clean(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n >= cap) abort(); /* not terminated inside its buffer */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 20)) return 0;
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);

    int open = 0;
    kiln_s3_xml_cb cb = {f_start, f_end};
    if (kiln_s3_xml_walk(buf, size, &cb, &open, NULL) == KILN_OK && open != 0) abort();

    kiln_s3_list_page pg;
    kiln_err err = {0};
    if (kiln_s3_xml_list(buf, size, &pg, &err) == KILN_OK) {
        if (pg.n > pg.cap) abort();
        for (size_t i = 0; i < pg.n; i++)
            if (!pg.items[i].key) abort();
        kiln_s3_list_page_free(&pg);
    } else if (pg.items || pg.n || pg.next_token) {
        abort(); /* a failed parse leaves nothing behind */
    }

    char *id = NULL;
    if (kiln_s3_xml_upload_id(buf, size, &id, &err) == KILN_OK) {
        if (!id || !id[0]) abort();
        free(id);
    } else if (id) {
        abort();
    }

    char code[16], msg[40];
    int is_err = kiln_s3_xml_error(buf, size, code, sizeof code, msg, sizeof msg);
    check_clean(code, sizeof code);
    check_clean(msg, sizeof msg);
    if (!is_err && (code[0] || msg[0])) abort();

    /* escape the first line (no NUL, no control byte but tab) and read it back */
    size_t l = 0;
    while (l < size && l < 30 && (buf[l] == '\t' || (unsigned char)buf[l] >= 0x20)) l++;
    char line[31];
    memcpy(line, buf, l);
    line[l] = 0;
    kiln_osbuf x = {0};
    if (kiln_osbuf_adds(&x, "<Error><Code>") == KILN_OK && kiln_s3_xml_escape(&x, line) == KILN_OK &&
        kiln_osbuf_adds(&x, "</Code></Error>") == KILN_OK) {
        char back[64];
        if (kiln_s3_xml_error(x.p, x.len, back, sizeof back, NULL, 0) != 1) abort();
        for (size_t i = 0; i < l; i++)
            if (line[i] == '\t') line[i] = ' ';
        if (strcmp(back, line) != 0) abort();
    }
    kiln_osbuf_free(&x);
    free(buf);
    return 0;
}
