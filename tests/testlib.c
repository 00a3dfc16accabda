/* tests/testlib.c — see testlib.h. */
#include "testlib.h"

#include <stdarg.h>
#include <stdlib.h>

int test_failures_in_current;
static int passed, failed;

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    test_failures_in_current++;
}

void test_run(const char *name, void (*fn)(void))
{
    test_failures_in_current = 0;
    fn();
    if (test_failures_in_current) {
        failed++;
        fprintf(stderr, "not ok %s\n", name);
    } else {
        passed++;
        fprintf(stderr, "ok %s\n", name);
    }
}

int test_summary(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

const char *test_corpus_dir(void)
{
    const char *d = getenv("KILN_CORPUS");
    return d && *d ? d : "../shared/corpus";
}

uint8_t *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); return NULL; }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

uint8_t *test_read_corpus(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", test_corpus_dir(), name);
    return test_read_file(path, len);
}

size_t test_raw_totals(const char *name, size_t *n_samples, long long *totals, size_t max_types)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/expected/%s", test_corpus_dir(), name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[8192];
    int in_samples = 0, header = 0;
    size_t n_types = 0;
    *n_samples = 0;
    for (size_t k = 0; k < max_types; k++) totals[k] = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Samples:", 8) == 0) {
            in_samples = 1;
            header = 1;
            continue;
        }
        if (strncmp(line, "Locations", 9) == 0 || strncmp(line, "Mappings", 8) == 0) in_samples = 0;
        if (!in_samples) continue;
        if (header) { /* "samples/count cpu/nanoseconds" */
            header = 0;
            char *save, *tok = strtok_r(line, " \t\n", &save);
            while (tok) {
                n_types++;
                tok = strtok_r(NULL, " \t\n", &save);
            }
            continue;
        }
        char *colon = strchr(line, ':');
        if (!colon || line[0] != ' ') continue; /* label lines start deeper, without values */
        *colon = 0;
        char *save, *tok = strtok_r(line, " \t", &save);
        size_t k = 0;
        long long vals[64];
        while (tok && k < 64) {
            char *end;
            long long v = strtoll(tok, &end, 10);
            if (*end) break;
            vals[k++] = v;
            tok = strtok_r(NULL, " \t", &save);
        }
        if (k != n_types || k == 0) continue;
        (*n_samples)++;
        for (size_t j = 0; j < k && j < max_types; j++) totals[j] += vals[j];
    }
    fclose(f);
    return n_types;
}
