/* tests/testlib.h — the small test framework every C test uses.
 *
 *   static void t_something(void) { CHECK(x == 1); CHECK_EQ_INT(a, b); }
 *   int main(void) { RUN(t_something); return test_summary(); }
 *
 * CHECK failures print file:line and the expression and count as failed;
 * the test goes on. test_summary prints "N passed, N failed" and returns the
 * exit code. Helpers read corpus files ($KILN_CORPUS, default ../shared/corpus
 * beside the source tree).
 */
#ifndef KILN_TESTLIB_H
#define KILN_TESTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern int test_failures_in_current;
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void test_run(const char *name, void (*fn)(void));
int test_summary(void);

#define RUN(fn) test_run(#fn, fn)
#define CHECK(e) do { if (!(e)) test_fail(__FILE__, __LINE__, "CHECK(%s)", #e); } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (_a != _b) test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, _a, _b); } while (0)
#define CHECK_EQ_STR(a, b) do { const char *_a = (a), *_b = (b); \
    if (!_a || !_b || strcmp(_a, _b) != 0) test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", \
        #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
#define CHECK_CONTAINS(hay, needle) do { const char *_h = (hay), *_n = (needle); \
    if (!_h || !strstr(_h, _n)) test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", \
        _h ? _h : "(null)", _n); } while (0)

/* The corpus directory (no trailing slash). */
const char *test_corpus_dir(void);
/* Reads a whole file (malloc'ed, caller frees); NULL if unreadable. */
uint8_t *test_read_file(const char *path, size_t *len);
/* Reads corpus/<name>. */
uint8_t *test_read_corpus(const char *name, size_t *len);

#endif

/* Reads corpus/expected/<name> (a `go tool pprof -raw` dump) and sums its
 * samples: *n_samples sample lines, totals[k] the sum of value k over them.
 * Returns the number of sample types (0 if the file is unreadable). */
size_t test_raw_totals(const char *name, size_t *n_samples, long long *totals, size_t max_types);
