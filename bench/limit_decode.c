/* bench/limit_decode.c — the "limit" of the ingest benchmark: on one core,
 * in a tight loop over the given profiles (round robin), gunzip (libdeflate)
 * and fully decode each one with kiln_pprof_decode into an arena, then free
 * it (kiln_arena_reset). No HTTP, no queues, no pipeline: the ceiling for
 * kiln's ingest path.
 *
 *   limit_decode [-n N] [-t SECS] [-T SECS] [-q] FILE...
 *     -n N     profiles to decode (default 1000; cycles through the files)
 *     -t SECS  stop the limit loop after SECS seconds (0: no cap; default 0)
 *     -T SECS  time cap of each comparison loop (default 3)
 *     -q       no comparisons, only the limit
 *
 * Prints per-file figures, then comparisons on the same (plain) bytes:
 * gunzip alone, kiln's decoder alone, protobuf-c's unpack with kiln's arena
 * allocator, protobuf-c's default malloc unpack + free_unpacked (what a plain
 * protobuf-c program does), the zero-copy peek; then the limit as
 *   RESULT profiles=.. secs=.. profiles_s=.. mb_s=.. raw_mb_s=.. bytes=..
 *          raw_bytes=.. max_rss_mib=.. cpu_s=..
 * (mb_s: compressed MB/s as read; raw_mb_s: uncompressed; MB = 10^6 bytes).
 *
 * Memory: the files are read into malloc'ed buffers once; every decode lives
 * in one arena that is reset after each profile.
 */
#include <kiln/arena.h>
#include <kiln/pprof.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct input {
    const char *path;
    uint8_t *data, *plain;
    size_t len, plain_len;
} input;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (n == cap) b = realloc(b, cap *= 2);
        size_t r = fread(b + n, 1, cap - n, f);
        if (!r) break;
        n += r;
    }
    fclose(f);
    *len = n;
    return b;
}

static double cpu_secs(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec * 1e-6;
}

static double max_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

enum what { W_GUNZIP, W_DECODE_PLAIN, W_PC_ARENA, W_PC_MALLOC, W_PEEK };
static const char *const what_name[] = {"gunzip (libdeflate)", "kiln decode, plain input",
                                        "protobuf-c unpack, arena", "protobuf-c unpack, malloc+free",
                                        "peek (zero-copy scan)"};

/* One pass of `w` over input `in`; returns 0 on success. */
static int one(enum what w, kiln_arena *a, const input *in)
{
    kiln_err e;
    switch (w) {
    case W_GUNZIP: {
        if (in->data == in->plain) return 0;
        uint8_t *o;
        size_t n;
        int rc = kiln_gunzip(a, in->data, in->len, 0, &o, &n, &e);
        kiln_arena_reset(a);
        return rc;
    }
    case W_DECODE_PLAIN: {
        kiln_pprof *p;
        int rc = kiln_pprof_decode(a, in->plain, in->plain_len, NULL, &p, &e);
        kiln_arena_reset(a);
        return rc;
    }
    case W_PC_ARENA: {
        kiln_pprof *p = perftools__profiles__profile__unpack(kiln_arena_pc_allocator(a), in->plain_len,
                                                             in->plain);
        kiln_arena_reset(a);
        return p ? 0 : -1;
    }
    case W_PC_MALLOC: {
        kiln_pprof *p = perftools__profiles__profile__unpack(NULL, in->plain_len, in->plain);
        if (!p) return -1;
        perftools__profiles__profile__free_unpacked(p, NULL);
        return 0;
    }
    case W_PEEK: {
        kiln_pprof_peek pk;
        return kiln_pprof_peek_scan(in->plain, in->plain_len, &pk, &e);
    }
    }
    return -1;
}

/* Runs `w` round robin over the inputs for at most n profiles / cap secs. */
static void compare(enum what w, kiln_arena *a, const input *in, size_t nin, size_t n, double cap)
{
    size_t done = 0, raw = 0, gz = 0;
    double t0 = now(), el = 0;
    while (done < n) {
        const input *x = &in[done % nin];
        if (one(w, a, x)) {
            fprintf(stderr, "limit_decode: %s failed on %s\n", what_name[w], x->path);
            exit(1);
        }
        raw += x->plain_len;
        gz += x->len;
        done++;
        if ((done & 7) == 0 && (el = now() - t0) > cap) break;
    }
    el = now() - t0;
    printf("  %-32s %10.1f profiles/s %9.1f MB/s raw  (%zu profiles, %.2fs)\n", what_name[w],
           (double)done / el, (double)raw / el / 1e6, done, el);
    (void)gz;
}

int main(int argc, char **argv)
{
    size_t n = 1000;
    double cap = 0, cmp_cap = 3;
    int quiet = 0, c;
    while ((c = getopt(argc, argv, "n:t:T:q")) != -1) {
        switch (c) {
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 't': cap = atof(optarg); break;
        case 'T': cmp_cap = atof(optarg); break;
        case 'q': quiet = 1; break;
        default:
            fprintf(stderr, "usage: %s [-n N] [-t SECS] [-T SECS] [-q] FILE...\n", argv[0]);
            return 2;
        }
    }
    size_t nin = (size_t)(argc - optind);
    if (!nin || !n) {
        fprintf(stderr, "usage: %s [-n N] [-t SECS] [-T SECS] [-q] FILE...\n", argv[0]);
        return 2;
    }
    input *in = calloc(nin, sizeof *in);
    kiln_arena *a = kiln_arena_new(0);
    size_t gz_cycle = 0, raw_cycle = 0;
    for (size_t i = 0; i < nin; i++) {
        in[i].path = argv[optind + (int)i];
        in[i].data = read_file(in[i].path, &in[i].len);
        if (!in[i].data) {
            fprintf(stderr, "limit_decode: cannot read %s\n", in[i].path);
            return 1;
        }
        kiln_err e;
        if (kiln_is_gzip(in[i].data, in[i].len)) {
            uint8_t *o;
            if (kiln_gunzip(a, in[i].data, in[i].len, 0, &o, &in[i].plain_len, &e)) {
                fprintf(stderr, "limit_decode: %s: %s\n", in[i].path, e.msg);
                return 1;
            }
            in[i].plain = malloc(in[i].plain_len);
            memcpy(in[i].plain, o, in[i].plain_len);
            kiln_arena_reset(a);
        } else {
            in[i].plain = in[i].data;
            in[i].plain_len = in[i].len;
        }
        kiln_pprof *p;
        if (kiln_pprof_decode(a, in[i].data, in[i].len, NULL, &p, &e)) {
            fprintf(stderr, "limit_decode: %s: %s\n", in[i].path, e.msg);
            return 1;
        }
        kiln_arena_reset(a);
        gz_cycle += in[i].len;
        raw_cycle += in[i].plain_len;
    }
    printf("limit_decode: %zu file(s), %zu bytes gzip / %zu bytes raw per cycle\n", nin, gz_cycle, raw_cycle);

    /* warm-up: one cycle */
    for (size_t i = 0; i < nin; i++) {
        kiln_pprof *p;
        kiln_err e;
        kiln_pprof_decode(a, in[i].data, in[i].len, NULL, &p, &e);
        kiln_arena_reset(a);
    }

    /* the limit */
    size_t done = 0, gz = 0, raw = 0;
    double c0 = cpu_secs(), t0 = now(), el = 0;
    while (done < n) {
        const input *x = &in[done % nin];
        kiln_pprof *p;
        kiln_err e;
        if (kiln_pprof_decode(a, x->data, x->len, NULL, &p, &e)) {
            fprintf(stderr, "limit_decode: %s: %s\n", x->path, e.msg);
            return 1;
        }
        kiln_arena_reset(a);
        gz += x->len;
        raw += x->plain_len;
        done++;
        if (cap > 0 && (done & 7) == 0 && now() - t0 > cap) break;
    }
    el = now() - t0;
    double cpu = cpu_secs() - c0;
    double rss = max_rss_mib();
    printf("  %-32s %10.1f profiles/s %9.1f MB/s raw %8.1f MB/s gzip  (%zu profiles, %.2fs, %.2fs cpu)\n",
           "limit: gunzip + kiln decode", (double)done / el, (double)raw / el / 1e6, (double)gz / el / 1e6,
           done, el, cpu);
    if (cpu > 0 && el > cpu * 1.1)
        printf("  (wall time %.0f%% above cpu time: the core was shared; per cpu second: %.1f profiles/s)\n",
               (el / cpu - 1) * 100, (double)done / cpu);

    if (!quiet) {
        printf("comparisons on the same bytes (each capped at %.1fs):\n", cmp_cap);
        compare(W_GUNZIP, a, in, nin, n, cmp_cap);
        compare(W_DECODE_PLAIN, a, in, nin, n, cmp_cap);
        compare(W_PC_ARENA, a, in, nin, n, cmp_cap);
        compare(W_PC_MALLOC, a, in, nin, n, cmp_cap);
        compare(W_PEEK, a, in, nin, n, cmp_cap);
    }
    printf("RESULT profiles=%zu secs=%.6f profiles_s=%.3f mb_s=%.3f raw_mb_s=%.3f bytes=%zu raw_bytes=%zu "
           "max_rss_mib=%.1f cpu_s=%.6f\n",
           done, el, (double)done / el, (double)gz / el / 1e6, (double)raw / el / 1e6, gz, raw, rss, cpu);
    for (size_t i = 0; i < nin; i++) {
        if (in[i].plain != in[i].data) free(in[i].plain);
        free(in[i].data);
    }
    free(in);
    kiln_arena_destroy(a);
    return 0;
}
