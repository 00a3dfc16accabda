/* bench/blocks/bench_storage.c — storage efficiency of the block format.
 *
 * Workload: `-m` minutes (60) of profiles every `-i` seconds (15) from `-s`
 * series (50): half CPU series (corpus CPU profiles: sample.cpu, fib, the
 * Pyroscope Go CPU profile, parca's labels profile), half heap series (the
 * ten consecutive parca__many_* heap profiles, in order, then again), each
 * with its own labels (service_name, env, region, pod) and, per profile,
 * values varied: every sample's values scaled by a random factor in
 * [0.5, 1.5] (CPU values kept multiples of the sampling period) and about
 * 15% of the samples left out. Each profile is encoded as the sender would
 * (pprof, gzip level 1 as Go's runtime/pprof writes it): those bytes are
 * "received". They go through heads cut every 15 minutes (level-1 blocks),
 * then compaction into one level-2 block of the hour.
 *
 * Output: one human table and a `RESULT k=v ...` line: received gzip bytes,
 * level-1 block bytes, compacted bytes, samples stored, bytes per sample,
 * and the ratio compacted / received (target <= 0.2).
 *
 * Not part of kiln; built by bench/blocks/run.sh against a build's libkiln.
 *
 * usage: bench_storage -d SCRATCH_DIR [-s series] [-m minutes] [-i seconds] [-r seed] CORPUS_DIR
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kiln/blocks.h>
#include <kiln/kiln.h>

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)n + 1);
    if (d && fread(d, 1, (size_t)n, f) != (size_t)n) {
        free(d);
        d = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return d;
}

typedef struct base {
    kiln_arena *a;
    kiln_pprof *p;
    int64_t **orig; /* original values per sample */
    int64_t period;
} base;

static int load_base(const char *dir, const char *name, base *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    uint8_t *d = read_file(path, &len);
    if (!d) {
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    b->a = kiln_arena_new(0);
    kiln_err err;
    if (kiln_pprof_decode(b->a, d, len, NULL, &b->p, &err) != KILN_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        free(d);
        return -1;
    }
    free(d);
    b->orig = calloc(b->p->n_sample, sizeof *b->orig);
    for (size_t i = 0; i < b->p->n_sample; i++) {
        b->orig[i] = malloc(b->p->sample[i]->n_value * sizeof **b->orig);
        memcpy(b->orig[i], b->p->sample[i]->value, b->p->sample[i]->n_value * sizeof **b->orig);
    }
    b->period = b->p->period > 0 ? b->p->period : 1;
    return 0;
}

static double rnd(uint64_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    return (double)(*st >> 11) / 9007199254740992.0;
}

/* Varies the base profile's values in place (restored from orig each time). */
static void vary(base *b, int cpu, uint64_t *rng)
{
    for (size_t i = 0; i < b->p->n_sample; i++) {
        kiln_pprof_sample *s = b->p->sample[i];
        int drop = rnd(rng) < 0.15;
        double f = 0.5 + rnd(rng);
        for (size_t k = 0; k < s->n_value; k++) {
            int64_t v = drop ? 0 : (int64_t)((double)b->orig[i][k] * f);
            if (cpu && k == s->n_value - 1 && b->period > 1) v = (v / b->period) * b->period;
            if (cpu && k == 0 && s->n_value > 1) v = (int64_t)((double)b->orig[i][k] * f + 0.5);
            s->value[k] = v;
        }
    }
}

static uint64_t block_bytes(const kiln_block_meta *m)
{
    return m->files[0].size + m->files[1].size + m->files[2].size + 1024; /* + meta.json, roughly */
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int series = 50, minutes = 60, interval = 15;
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    int o;
    while ((o = getopt(argc, argv, "d:s:m:i:r:")) != -1) {
        switch (o) {
        case 'd': dir = optarg; break;
        case 's': series = atoi(optarg); break;
        case 'm': minutes = atoi(optarg); break;
        case 'i': interval = atoi(optarg); break;
        case 'r': rng = strtoull(optarg, NULL, 0) | 1; break;
        default: goto usage;
        }
    }
    if (!dir || optind != argc - 1) {
    usage:
        fprintf(stderr, "usage: %s -d SCRATCH_DIR [-s series] [-m minutes] [-i seconds] [-r seed] CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const char *corpus = argv[optind];
    static const char *const cpu_files[] = {"pprof__sample.cpu.pb.gz", "parca__fib.pb.gz",
                                            "pyroscope-io__cpu.pprof.gz", "parca__labels.pb.gz"};
    static const char *const heap_files[] = {
        "parca__many_1644509272337470000.pb.gz", "parca__many_1644509275338070000.pb.gz",
        "parca__many_1644509278338696000.pb.gz", "parca__many_1644509281339135000.pb.gz",
        "parca__many_1644509284338649000.pb.gz", "parca__many_1644509287338709000.pb.gz",
        "parca__many_1644509290338056000.pb.gz", "parca__many_1644509293338714000.pb.gz",
        "parca__many_1644509296350592000.pb.gz", "parca__many_1644509299337903000.pb.gz"};
    base cpu[4], heap[10];
    for (int i = 0; i < 4; i++)
        if (load_base(corpus, cpu_files[i], &cpu[i])) return 1;
    for (int i = 0; i < 10; i++)
        if (load_base(corpus, heap_files[i], &heap[i])) return 1;

    char data[4096], tmp[4096];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(tmp, sizeof tmp, "%s/tmp", dir);
    kiln_objstore *os;
    kiln_err err;
    if (kiln_objstore_open_fs(data, &os, &err) != KILN_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const int64_t H = 3600000000000LL;
    const int64_t t0 = (1700000000000000000LL / H) * H;
    const int steps = minutes * 60 / interval;
    const int per_head = 15 * 60 / interval;
    uint64_t received = 0, raw_received = 0, profiles = 0, l1_bytes = 0, l1_blocks = 0;
    struct timespec c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &c0);
    kiln_head *h = NULL;
    for (int step = 0; step < steps; step++) {
        int64_t t = t0 + (int64_t)step * interval * 1000000000LL;
        if (!h && kiln_head_new("bench", NULL, t, &h, &err) != KILN_OK) return 1;
        for (int s = 0; s < series; s++) {
            int is_cpu = s < series / 2;
            base *b = is_cpu ? &cpu[s % 4] : &heap[(step + s) % 10];
            vary(b, is_cpu, &rng);
            b->p->time_nanos = t;
            uint8_t *gz;
            size_t gzn;
            if (kiln_pprof_encode(b->p, 1, &gz, &gzn, &err) != KILN_OK) {
                fprintf(stderr, "encode: %s\n", err.msg);
                return 1;
            }
            received += gzn;
            /* what the receiver does: decode the received bytes */
            kiln_arena *a = kiln_arena_new(0);
            kiln_pprof *p;
            if (kiln_pprof_decode(a, gz, gzn, NULL, &p, &err) != KILN_OK) {
                fprintf(stderr, "decode: %s\n", err.msg);
                return 1;
            }
            uint8_t *raw;
            size_t rawn;
            if (kiln_pprof_encode(p, 0, &raw, &rawn, &err) == KILN_OK) {
                raw_received += rawn;
                free(raw);
            }
            kiln_labels ls = KILN_LABELS_INIT;
            char svc[32], pod[32];
            snprintf(svc, sizeof svc, "svc-%02d", s % (series / 2 ? series / 2 : 1));
            snprintf(pod, sizeof pod, "pod-%08x", (unsigned)(s * 2654435761u));
            kiln_labels_set(&ls, "service_name", svc);
            kiln_labels_set(&ls, "__name__", is_cpu ? "process_cpu" : "memory");
            kiln_labels_set(&ls, "env", s % 3 ? "prod" : "staging");
            kiln_labels_set(&ls, "region", s % 2 ? "eu-west-1" : "us-east-1");
            kiln_labels_set(&ls, "pod", pod);
            if (kiln_head_append(h, &ls, t, (int64_t)interval * 1000000000LL, p, &err) != KILN_OK) {
                fprintf(stderr, "append: %s\n", err.msg);
                return 1;
            }
            kiln_labels_free(&ls);
            kiln_arena_destroy(a);
            free(gz);
            profiles++;
        }
        if ((step + 1) % per_head == 0 || step + 1 == steps) {
            kiln_block_meta m;
            memset(&m, 0, sizeof m);
            int empty;
            if (kiln_head_write_block(h, os, tmp, &m, &empty, &err) != KILN_OK) {
                fprintf(stderr, "write: %s\n", err.msg);
                return 1;
            }
            l1_bytes += block_bytes(&m);
            l1_blocks++;
            kiln_block_meta_free(&m);
            kiln_head_free(h);
            h = NULL;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &c1);
    double ingest_s = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    static const int64_t ranges[] = {3600000000000LL};
    kiln_compact_opts co = {ranges, 1, t0 + 100 * H, 0, tmp, 0, NULL, 0, NULL};
    kiln_compact_result cr;
    clock_gettime(CLOCK_MONOTONIC, &c0);
    if (kiln_blocks_compact(os, "bench", &co, &cr, &err) != KILN_OK) {
        fprintf(stderr, "compact: %s\n", err.msg);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &c1);
    double compact_s = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    kiln_blocks_list l;
    if (kiln_blocks_list_tenant(os, "bench", &l, NULL, NULL, &err) != KILN_OK) return 1;
    uint64_t stored = 0, samples = 0, series_n = 0, stacks = 0, files[3] = {0};
    for (size_t i = 0; i < l.n; i++) {
        if (!l.visible[i]) continue;
        stored += block_bytes(&l.v[i]);
        samples += l.v[i].n_samples;
        series_n += l.v[i].n_series;
        stacks += l.v[i].n_stacks;
        for (int f = 0; f < 3; f++) files[f] += l.v[i].files[f].size;
        if (kiln_block_verify(os, &l.v[i], &err) != KILN_OK) {
            fprintf(stderr, "verify: %s\n", err.msg);
            return 1;
        }
    }
    printf("workload: %d series (%d cpu, %d heap), %d min every %d s: %llu profiles received\n", series,
           series / 2, series - series / 2, minutes, interval, (unsigned long long)profiles);
    printf("received pprof: %llu bytes gzip (%llu raw), %.1f bytes gzip per stored sample\n",
           (unsigned long long)received, (unsigned long long)raw_received,
           samples ? (double)received / (double)samples : 0);
    printf("level-1 blocks: %llu blocks, %llu bytes (%.3f of received)\n", (unsigned long long)l1_blocks,
           (unsigned long long)l1_bytes, (double)l1_bytes / (double)received);
    printf("after compaction: %zu block(s), %llu bytes = index %llu + symbols %llu + samples %llu (+ meta)\n",
           l.n, (unsigned long long)stored, (unsigned long long)files[0], (unsigned long long)files[1],
           (unsigned long long)files[2]);
    printf("  %llu series, %llu samples, %llu stacks: %.2f bytes per sample; %.4f of received (1/%.1f)\n",
           (unsigned long long)series_n, (unsigned long long)samples, (unsigned long long)stacks,
           (double)stored / (double)samples, (double)stored / (double)received,
           (double)received / (double)stored);
    printf("time: heads %.2f s (%.0f profiles/s, with encode+decode of the workload), compaction %.2f s\n",
           ingest_s, (double)profiles / ingest_s, compact_s);
    printf("RESULT profiles=%llu received_gz=%llu received_raw=%llu l1_bytes=%llu stored=%llu samples=%llu "
           "bytes_per_sample=%.3f ratio=%.5f compact_s=%.3f\n",
           (unsigned long long)profiles, (unsigned long long)received, (unsigned long long)raw_received,
           (unsigned long long)l1_bytes, (unsigned long long)stored, (unsigned long long)samples,
           (double)stored / (double)samples, (double)stored / (double)received, compact_s);
    kiln_blocks_list_free(&l);
    kiln_objstore_close(os);
    return 0;
}
