/* bench/ingest_load.c — the load generator of the ingest benchmark.
 *
 * POSTs a list of files to http://HOST:PORT/ingest over N keep-alive
 * HTTP/1.1 connections (one pthread and one blocking socket each). Request k
 * carries file k % nfiles as its body and the label set
 * {i=k % nseries}, so the requests spread over `nseries` series. Every
 * request's header is built once before the clock starts; bodies are sent
 * from the file buffers with writev (no copy per request). Each response is
 * read in full (status line, headers, Content-Length body). The run ends after
 * `-n` requests or `-t` seconds, whichever comes first.
 *
 * Output (stdout), one line a human can read and one `RESULT key=value ...`
 * line for scripts: requests, status counts, seconds, requests/s, MB/s of
 * bodies sent (compressed, as on the wire), MB/s uncompressed (from the gzip
 * trailer's ISIZE; equal to the body for plain files), latency p50/p99/max.
 *
 * Memory: everything is allocated once in main (file buffers, headers,
 * per-thread latency arrays) and freed at exit. Not part of kiln; built by
 * bench/run_ingest.sh, never by CMake or CI.
 *
 * usage: ingest_load [-h host] [-p port] [-c conns] [-n requests] [-t secs]
 *                    [-s series] [-a app] [-T tenant] [-L latency-file] FILE...
 * -L writes one line per request (connection, start second, latency in ms).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef struct body {
    const char *path;
    uint8_t *data;
    size_t len;
    size_t raw_len; /* ISIZE of the gzip trailer, or len */
} body;

typedef struct req {
    char *hdr;
    size_t hdr_len;
    const body *b;
} req;

typedef struct run {
    const char *host;
    int port;
    req *reqs;     /* nfiles * nseries, indexed by k % nreqs */
    size_t nreqs;
    size_t nfiles, nseries;
    long total;    /* requests to send */
    double t0, deadline; /* monotonic seconds */
    atomic_long next;
} run;

#define NSTATUS 600

typedef struct worker {
    pthread_t th;
    run *r;
    int id;
    double *lat;   /* seconds per completed request */
    double *start; /* its start, seconds since the run began */
    long nlat, caplat;
    long status[NSTATUS];
    long errors;   /* connection failures / broken responses */
    long reconnects;
    double bytes_sent, raw_sent; /* of requests answered 200 */
    double bytes_all;
    char *rbuf;
    size_t rcap, rlen, rpos;
} worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int read_file(const char *path, body *b)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "ingest_load: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size <= 0) {
        fprintf(stderr, "ingest_load: %s: empty or unreadable\n", path);
        fclose(f);
        return -1;
    }
    b->len = (size_t)st.st_size;
    b->data = malloc(b->len);
    if (!b->data || fread(b->data, 1, b->len, f) != b->len) {
        fprintf(stderr, "ingest_load: %s: short read\n", path);
        fclose(f);
        return -1;
    }
    fclose(f);
    b->path = path;
    b->raw_len = b->len;
    if (b->len >= 18 && b->data[0] == 0x1f && b->data[1] == 0x8b) {
        const uint8_t *t = b->data + b->len - 4;
        b->raw_len = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
    }
    return 0;
}

static int connect_to(const run *r)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)r->port);
    if (inet_pton(AF_INET, r->host, &sa.sin_addr) != 1) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int send_all(int fd, const req *q)
{
    struct iovec iov[2] = {{q->hdr, q->hdr_len}, {q->b->data, q->b->len}};
    int n = 2;
    struct iovec *v = iov;
    while (n > 0) {
        ssize_t w = writev(fd, v, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        size_t left = (size_t)w;
        while (n > 0 && left >= v->iov_len) {
            left -= v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (char *)v->iov_base + left;
            v->iov_len -= left;
        }
    }
    return 0;
}

/* Makes at least `need` unread bytes available in w->rbuf. */
static int fill(worker *w, int fd, size_t need)
{
    if (w->rlen - w->rpos >= need) return 0;
    if (w->rpos > 0) {
        memmove(w->rbuf, w->rbuf + w->rpos, w->rlen - w->rpos);
        w->rlen -= w->rpos;
        w->rpos = 0;
    }
    if (need > w->rcap) {
        char *nb = realloc(w->rbuf, need);
        if (!nb) return -1;
        w->rbuf = nb;
        w->rcap = need;
    }
    while (w->rlen < need) {
        ssize_t n = read(fd, w->rbuf + w->rlen, w->rcap - w->rlen);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        w->rlen += (size_t)n;
    }
    return 0;
}

static int ieq_prefix(const char *s, const char *end, const char *lit)
{
    size_t l = strlen(lit);
    if ((size_t)(end - s) < l) return 0;
    return strncasecmp(s, lit, l) == 0;
}

/* Reads one response. Returns the status (or -1 on a broken connection) and
 * sets *close_after when the server said Connection: close. */
static int read_response(worker *w, int fd, int *close_after)
{
    *close_after = 0;
    /* find the end of the headers */
    size_t scanned = 0;
    const char *hend;
    for (;;) {
        char *s = w->rbuf + w->rpos;
        size_t avail = w->rlen - w->rpos;
        hend = avail >= 4 ? memmem(s + (scanned > 3 ? scanned - 3 : 0),
                                   avail - (scanned > 3 ? scanned - 3 : 0), "\r\n\r\n", 4)
                          : NULL;
        if (hend) break;
        scanned = avail;
        if (avail > 64 * 1024) return -1;
        if (fill(w, fd, avail + 1) != 0) return -1;
    }
    char *s = w->rbuf + w->rpos;
    const char *he = hend + 2; /* end of the last header line incl. CRLF */
    if (!ieq_prefix(s, he, "HTTP/1.")) return -1;
    int status = atoi(s + 9);
    long clen = -1;
    const char *line = memchr(s, '\n', (size_t)(he - s));
    while (line && line + 1 < he) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(he - line));
        if (!eol) break;
        if (ieq_prefix(line, eol, "content-length:"))
            clen = strtol(line + 15, NULL, 10);
        else if (ieq_prefix(line, eol, "connection:")) {
            const char *v = line + 11;
            while (*v == ' ') v++;
            if (ieq_prefix(v, eol, "close")) *close_after = 1;
        }
        line = eol;
    }
    size_t hlen = (size_t)(hend + 4 - s);
    if (clen < 0) {
        /* no length: the body runs to the close (not expected from kiln) */
        *close_after = 1;
        clen = 0;
    }
    if (fill(w, fd, hlen + (size_t)clen) != 0) return -1;
    w->rpos += hlen + (size_t)clen;
    if (w->rpos == w->rlen) w->rpos = w->rlen = 0;
    return status;
}

static void *work(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    int fd = -1;
    for (;;) {
        long k = atomic_fetch_add(&r->next, 1);
        if (k >= r->total) break;
        double t0 = now_s();
        if (t0 > r->deadline) break;
        const req *q = &r->reqs[(size_t)k % r->nreqs];
        int status = -1;
        for (int attempt = 0; attempt < 2 && status < 0; attempt++) {
            if (fd < 0) {
                fd = connect_to(r);
                if (fd < 0) break;
                if (attempt > 0 || w->nlat > 0) w->reconnects++;
            }
            int close_after = 0;
            if (send_all(fd, q) == 0) status = read_response(w, fd, &close_after);
            if (status < 0 || close_after) {
                close(fd);
                fd = -1;
                w->rlen = w->rpos = 0;
            }
        }
        double t1 = now_s();
        if (status < 0) {
            w->errors++;
            continue;
        }
        if (status < NSTATUS) w->status[status]++;
        w->bytes_all += (double)q->b->len;
        if (status == 200) {
            w->bytes_sent += (double)q->b->len;
            w->raw_sent += (double)q->b->raw_len;
        }
        if (w->nlat == w->caplat) {
            long nc = w->caplat ? w->caplat * 2 : 4096;
            double *nl = realloc(w->lat, (size_t)nc * sizeof *nl);
            if (!nl) break;
            w->lat = nl;
            double *ns = realloc(w->start, (size_t)nc * sizeof *ns);
            if (!ns) break;
            w->start = ns;
            w->caplat = nc;
        }
        w->start[w->nlat] = t0 - r->t0;
        w->lat[w->nlat++] = t1 - t0;
    }
    if (fd >= 0) close(fd);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr, "usage: ingest_load [-h host] [-p port] [-c conns] [-n requests] [-t secs]\n"
                    "                   [-s series] [-a app] [-T tenant] [-L latency-file] FILE...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *app = "bench.app", *tenant = NULL, *latfile = NULL;
    int port = 4040, conns = 4, opt;
    long total = 1000;
    double secs = 20;
    size_t nseries = 50;
    while ((opt = getopt(argc, argv, "h:p:c:n:t:s:a:T:L:")) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'n': total = atol(optarg); break;
        case 't': secs = atof(optarg); break;
        case 's': nseries = (size_t)atol(optarg); break;
        case 'a': app = optarg; break;
        case 'T': tenant = optarg; break;
        case 'L': latfile = optarg; break;
        default: usage();
        }
    }
    if (optind >= argc || conns < 1 || total < 1 || nseries < 1 || port < 1) usage();
    size_t nfiles = (size_t)(argc - optind);
    body *bodies = calloc(nfiles, sizeof *bodies);
    if (!bodies) return 1;
    for (size_t i = 0; i < nfiles; i++)
        if (read_file(argv[optind + (int)i], &bodies[i]) != 0) return 1;

    /* One request per (k mod nreqs): with nreqs = nfiles * nseries
     * entries, request k uses file k % nfiles and series k % nseries. */
    size_t nreqs = nfiles * nseries;
    req *reqs = calloc(nreqs, sizeof *reqs);
    if (!reqs) return 1;
    for (size_t k = 0; k < nreqs; k++) {
        const body *b = &bodies[k % nfiles];
        char tbuf[300] = "";
        if (tenant) snprintf(tbuf, sizeof tbuf, "X-Scope-OrgID: %s\r\n", tenant);
        char h[1024];
        /* name=<app>{i=<n>} with the braces and '=' percent-encoded */
        int n = snprintf(h, sizeof h,
                         "POST /ingest?name=%s%%7Bi%%3D%zu%%7D&format=pprof&spyName=bench HTTP/1.1\r\n"
                         "Host: %s:%d\r\n"
                         "User-Agent: kiln-ingest-load\r\n"
                         "Content-Type: application/octet-stream\r\n"
                         "%s"
                         "Content-Length: %zu\r\n\r\n",
                         app, k % nseries, host, port, tbuf, b->len);
        if (n < 0 || (size_t)n >= sizeof h) return 1;
        reqs[k].hdr = malloc((size_t)n);
        if (!reqs[k].hdr) return 1;
        memcpy(reqs[k].hdr, h, (size_t)n);
        reqs[k].hdr_len = (size_t)n;
        reqs[k].b = b;
    }

    run r = {.host = host, .port = port, .reqs = reqs, .nreqs = nreqs, .nfiles = nfiles,
             .nseries = nseries, .total = total};
    atomic_init(&r.next, 0);
    worker *ws = calloc((size_t)conns, sizeof *ws);
    if (!ws) return 1;
    double t0 = now_s();
    r.t0 = t0;
    r.deadline = t0 + secs;
    for (int i = 0; i < conns; i++) {
        ws[i].r = &r;
        ws[i].id = i;
        if (pthread_create(&ws[i].th, NULL, work, &ws[i]) != 0) {
            fprintf(stderr, "ingest_load: pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < conns; i++) pthread_join(ws[i].th, NULL);
    double el = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;

    long status[NSTATUS] = {0}, errors = 0, reconnects = 0, nlat = 0;
    double bytes = 0, raw = 0, bytes_all = 0;
    for (int i = 0; i < conns; i++) {
        for (int s = 0; s < NSTATUS; s++) status[s] += ws[i].status[s];
        errors += ws[i].errors;
        reconnects += ws[i].reconnects;
        nlat += ws[i].nlat;
        bytes += ws[i].bytes_sent;
        raw += ws[i].raw_sent;
        bytes_all += ws[i].bytes_all;
    }
    double *lat = malloc((size_t)(nlat ? nlat : 1) * sizeof *lat);
    if (!lat) return 1;
    long at = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(lat + at, ws[i].lat, (size_t)ws[i].nlat * sizeof *lat);
        at += ws[i].nlat;
    }
    if (latfile) {
        FILE *lf = fopen(latfile, "w");
        if (!lf) {
            fprintf(stderr, "ingest_load: %s: %s\n", latfile, strerror(errno));
            return 1;
        }
        fprintf(lf, "conn start_s latency_ms\n");
        for (int i = 0; i < conns; i++)
            for (long k = 0; k < ws[i].nlat; k++)
                fprintf(lf, "%d %.6f %.3f\n", i, ws[i].start[k], ws[i].lat[k] * 1e3);
        fclose(lf);
    }
    qsort(lat, (size_t)nlat, sizeof *lat, cmp_d);
    double p50 = nlat ? lat[(nlat - 1) / 2] : 0;
    double p99 = nlat ? lat[(long)((double)(nlat - 1) * 0.99)] : 0;
    double pmax = nlat ? lat[nlat - 1] : 0;
    long ok = status[200], other = 0;
    char codes[512] = "";
    size_t cl = 0;
    for (int s = 0; s < NSTATUS; s++) {
        if (!status[s]) continue;
        if (s != 200) other += status[s];
        cl += (size_t)snprintf(codes + cl, sizeof codes - cl, "%s%d:%ld", cl ? "," : "", s,
                               status[s]);
        if (cl >= sizeof codes) break;
    }
    printf("ingest_load: %ld requests in %.3f s over %d connections (%zu files, %zu series): "
           "%.1f req/s, %.1f ok/s, %.2f MB/s sent (%.2f MB/s uncompressed), "
           "latency p50 %.3f ms p99 %.3f ms max %.3f ms; status %s; errors %ld; "
           "generator CPU %.2f s (%.0f%% of one core)\n",
           nlat, el, conns, nfiles, nseries, (double)nlat / el, (double)ok / el,
           bytes_all / el / 1e6, raw / el / 1e6, p50 * 1e3, p99 * 1e3, pmax * 1e3,
           codes[0] ? codes : "-", errors, cpu, 100 * cpu / el);
    printf("RESULT requests=%ld ok=%ld non200=%ld errors=%ld reconnects=%ld secs=%.6f "
           "rps=%.3f ok_rps=%.3f mb_s=%.3f raw_mb_s=%.3f ok_bytes=%.0f ok_raw_bytes=%.0f "
           "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f gen_cpu_s=%.3f status=%s\n",
           nlat, ok, other, errors, reconnects, el, (double)nlat / el, (double)ok / el,
           bytes / el / 1e6, raw / el / 1e6, bytes, raw, p50 * 1e3, p99 * 1e3, pmax * 1e3, cpu,
           codes[0] ? codes : "-");

    for (int i = 0; i < conns; i++) {
        free(ws[i].lat);
        free(ws[i].start);
        free(ws[i].rbuf);
    }
    free(ws);
    free(lat);
    for (size_t k = 0; k < nreqs; k++) free(reqs[k].hdr);
    free(reqs);
    for (size_t i = 0; i < nfiles; i++) free(bodies[i].data);
    free(bodies);
    return (errors || other) ? 3 : 0;
}
