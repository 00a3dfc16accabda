/* tests/fuzz/fuzz_cli_query.c — libFuzzer target for what `kiln query`
 * reads from a server and from its command line: Connect error bodies,
 * printable snippets of other bodies, --from/--until/--timeout texts, and
 * merged profiles (decoded by libkiln, then turned into the call tree,
 * hottest path, folded stacks, the -top report with its inline marks and the
 * tree report, all written to /dev/null). Extra sources on the line below
 * (tests/fuzz/run.sh).
 *
 * Input: byte 0 picks the part (mod 3) and, for profiles, the sample index,
 * --nodecount, --cum and --raw; the rest is the body or the text. Must never
 * crash, leak or hang; the folded lines add up to the tree's total (when
 * no frame name holds a newline); the hottest path is a chain of the tree.
 * Seeds: tests/fuzz/seeds_cli_query/.
 */
// fuzz-sources: pipeline/cli_query_reply.c pipeline/cli_query_time.c pipeline/cli_query_tree.c pipeline/cli_query_print.c
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_query.h"

static void fuzz_profile(uint8_t sel, const uint8_t *d, size_t n)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = NULL;
    kiln_err e;
    kiln_pprof_limits lim = {1 << 22};
    if (kiln_pprof_decode(a, d, n, &lim, &p, &e) == KILN_OK && p->n_sample_type) {
        size_t si = (size_t)(sel >> 2 & 3) % p->n_sample_type;
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            kiln_cq_tree t;
            if (kiln_cq_tree_build(p, si, &t, &e) == KILN_OK) {
                uint32_t *path;
                size_t np;
                if (kiln_cq_tree_hot_path(&t, &path, &np, &e) == KILN_OK) {
                    for (size_t i = 1; i < np; i++)
                        if (t.parent[path[i]] != path[i - 1]) abort();
                    free(path);
                }
                char *buf = NULL;
                size_t len = 0;
                /* names with a newline cannot be told apart from line ends */
                int nl_in_names = 0;
                for (uint32_t i = 0; i < t.n_names; i++) nl_in_names |= strchr(t.names[i], '\n') != NULL;
                FILE *m = open_memstream(&buf, &len);
                if (m && nl_in_names) {
                    kiln_cq_tree_folded(&t, m);
                    fclose(m);
                    free(buf);
                } else if (m) {
                    kiln_cq_tree_folded(&t, m);
                    fclose(m);
                    int64_t sum = 0;
                    for (char *s = buf; s && *s;) {
                        char *nl = strchr(s, '\n');
                        if (!nl) abort();
                        *nl = 0;
                        char *sp = strrchr(s, ' ');
                        if (!sp) abort();
                        sum = kiln_cq_add(sum, strtoll(sp + 1, NULL, 10));
                        s = nl + 1;
                    }
                    /* samples without locations stay on the root (no line); exact
                     * unless some sum saturated */
                    int sat = sum == INT64_MAX || sum == INT64_MIN;
                    for (uint32_t i = 0; i < t.n; i++)
                        sat |= t.total[i] == INT64_MAX || t.total[i] == INT64_MIN || t.self[i] == INT64_MIN;
                    if (!sat && sum != kiln_cq_add(t.total[0], -t.self[0])) abort();
                    free(buf);
                }
                kiln_cq_tree_free(&t);
            }
            kiln_cq_top_opts o = {(long)(sel >> 4 & 3) * 5, (sel & 0x40) ? 0.005 : 0, sel >> 7, (sel >> 6) & 1};
            kiln_cq_print_top(null, p, si, &o, &e);
            kiln_cq_print_tree(null, p, si, o.nodefraction, o.raw, &e);
            fclose(null);
        }
    }
    kiln_arena_destroy(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t sel = data[0];
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (sel % 3) {
    case 0: {
        kiln_arena *a = kiln_arena_new(0);
        const char *code, *msg;
        kiln_err e;
        if (kiln_cq_connect_error(a, d, n, &code, &msg, &e) == KILN_OK && (!code || !*code || !msg)) abort();
        kiln_arena_destroy(a);
        char buf[64];
        kiln_cq_snippet(d, n, (size_t)(sel >> 2), buf, sizeof buf);
        if (strlen(buf) >= sizeof buf) abort();
        break;
    }
    case 1: {
        char *s = malloc(n + 1);
        if (!s) return 0;
        memcpy(s, d, n);
        s[n] = 0;
        int64_t v;
        kiln_err e;
        kiln_cq_parse_time(s, 1714557600123LL, &v, &e);
        kiln_cq_parse_duration(s, &v, &e);
        char out[64];
        kiln_cq_scaled_label((int64_t)n * 977 - 5000, s, (sel & 4) ? "auto" : s, out, sizeof out);
        free(s);
        break;
    }
    default:
        fuzz_profile(sel, d, n);
    }
    return 0;
}
