/* tests/unit/test_objstore_s3.c — the S3 object store (pipeline/objstore_s3.c)
 * against a small fake S3 served from a thread of this test on 127.0.0.1.
 *
 * The fake records every request and checks, independently of what the
 * client meant to send, that the Authorization header is the SigV4
 * signature of the request as it arrived (path, decoded and re-encoded
 * query, the headers named in SignedHeaders) and that x-amz-content-sha256
 * is the SHA-256 of the body received. Scenarios: path-style and
 * virtual-hosted URLs with a prefix and a session token, put/get/size/
 * delete, Range answers (206, 416, a server that ignores Range), list over
 * several pages with awkward continuation tokens, multipart upload (parts,
 * Complete's XML, Abort on failure, an <Error> inside a 200), retries on
 * 503/429/SlowDown/RequestTimeout and none on 403, connection refused,
 * timeouts, and the configuration's checks and environment fallbacks.
 * The real-server test is tests/runtime/test_s3.sh (s3rver).
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "objstore_internal.h"

#define SECRET "test/secret+key"

/* ---- the fake server ---------------------------------------------------------------- */

typedef struct hdr {
    char name[64];
    char value[1024];
} hdr;

typedef struct req {
    char method[12];
    char path[1200];  /* raw, as sent */
    char query[1200]; /* raw, as sent */
    hdr h[24];
    int nh;
    uint8_t *body;
    size_t body_len;
    int sig_ok, sha_ok;
} req;

typedef struct resp {
    int status;
    char extra[512]; /* more header lines, each ending in \r\n */
    char *body;      /* malloc'ed or NULL */
    size_t body_len;
    int delay_ms;
} resp;

typedef struct server server;
typedef void (*handler_fn)(server *s, const req *rq, resp *rs);

#define MAXOBJ 16
struct server {
    int lfd, port;
    pthread_t th;
    volatile int stop;
    handler_fn handler;
    int n;          /* requests so far */
    req log[64];    /* the first 64, bodies freed */
    int bad_sig, bad_sha;
    /* a tiny object map for the handlers */
    char keys[MAXOBJ][256];
    uint8_t *vals[MAXOBJ];
    size_t lens[MAXOBJ];
    int state;      /* handler's own counter */
    uint8_t *parts[8];
    size_t part_lens[8];
};

static const char *get_hdr(const req *r, const char *name)
{
    for (int i = 0; i < r->nh; i++)
        if (strcasecmp(r->h[i].name, name) == 0) return r->h[i].value;
    return NULL;
}

static int unhex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void url_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < n + 0 + 1 && unhex(s[i + 1]) >= 0 && unhex(s[i + 2]) >= 0) {
            out[j++] = (char)(unhex(s[i + 1]) * 16 + unhex(s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = 0;
}

/* The query's value for name, decoded; NULL when absent. */
static const char *qparam(const req *r, const char *name, char *buf, size_t cap)
{
    const char *p = r->query;
    size_t nl = strlen(name);
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t l = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', l);
        size_t kl = eq ? (size_t)(eq - p) : l;
        char k[256];
        url_decode(p, kl, k, sizeof k);
        if (strlen(k) == nl && strcmp(k, name) == 0) {
            if (eq) url_decode(eq + 1, l - kl - 1, buf, cap);
            else buf[0] = 0;
            return buf;
        }
        p += l + (amp ? 1 : 0);
    }
    return NULL;
}

/* Recomputes the signature from the request as received. */
static int verify_sig(const req *r)
{
    const char *auth = get_hdr(r, "authorization");
    const char *date = get_hdr(r, "x-amz-date");
    const char *sha = get_hdr(r, "x-amz-content-sha256");
    if (!auth || !date || !sha) return 0;
    /* Credential=AKID/date/region/s3/aws4_request,SignedHeaders=a;b,Signature=hex */
    const char *cred = strstr(auth, "Credential="), *sh = strstr(auth, "SignedHeaders=");
    if (!cred || !sh) return 0;
    char akid[128], region[64], signed_names[512];
    const char *c = cred + 11, *slash = strchr(c, '/');
    if (!slash || (size_t)(slash - c) >= sizeof akid) return 0;
    memcpy(akid, c, (size_t)(slash - c));
    akid[slash - c] = 0;
    const char *r1 = strchr(slash + 1, '/');
    const char *r2 = r1 ? strchr(r1 + 1, '/') : NULL;
    if (!r2 || (size_t)(r2 - r1 - 1) >= sizeof region) return 0;
    memcpy(region, r1 + 1, (size_t)(r2 - r1 - 1));
    region[r2 - r1 - 1] = 0;
    const char *se = strchr(sh, ',');
    if (!se) return 0;
    snprintf(signed_names, sizeof signed_names, "%.*s", (int)(se - sh - 14), sh + 14);
    /* headers named in SignedHeaders, values as received */
    kiln_s3_kv hv[24];
    size_t nh = 0;
    char names[24][64];
    char *save = NULL;
    for (char *t = strtok_r(signed_names, ";", &save); t && nh < 24; t = strtok_r(NULL, ";", &save)) {
        const char *v = get_hdr(r, t);
        if (!v) return 0;
        snprintf(names[nh], 64, "%s", t);
        hv[nh] = (kiln_s3_kv){names[nh], v};
        nh++;
    }
    /* every x-amz-* header sent must be signed */
    for (int i = 0; i < r->nh; i++) {
        if (strncasecmp(r->h[i].name, "x-amz-", 6) != 0) continue;
        int found = 0;
        for (size_t k = 0; k < nh; k++) found |= strcasecmp(names[k], r->h[i].name) == 0;
        if (!found) return 0;
    }
    /* the query, decoded, to be encoded again by the signer */
    static __thread char qn[16][512], qv[16][1024];
    kiln_s3_kv q[16];
    size_t nq = 0;
    const char *p = r->query;
    while (*p && nq < 16) {
        const char *amp = strchr(p, '&');
        size_t l = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', l);
        size_t kl = eq ? (size_t)(eq - p) : l;
        url_decode(p, kl, qn[nq], sizeof qn[nq]);
        if (eq) url_decode(eq + 1, l - kl - 1, qv[nq], sizeof qv[nq]);
        else qv[nq][0] = 0;
        q[nq] = (kiln_s3_kv){qn[nq], qv[nq]};
        nq++;
        p += l + (amp ? 1 : 0);
    }
    kiln_s3_sign_in in = {.method = r->method, .canonical_uri = r->path, .query = q, .n_query = nq,
                          .headers = hv, .n_headers = nh, .payload_hash = sha, .amz_date = date,
                          .region = region, .service = "s3", .access_key_id = akid,
                          .secret_access_key = SECRET};
    kiln_osbuf want = {0};
    int ok = kiln_s3_sign(&in, &want, NULL, NULL, NULL) == KILN_OK && strcmp(want.p, auth) == 0;
    kiln_osbuf_free(&want);
    return ok;
}

static int read_request(int fd, req *r)
{
    char buf[65536];
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n == sizeof buf - 1) return -1;
        ssize_t got = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (got <= 0) return -1;
        n += (size_t)got;
        buf[n] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    *end = 0;
    char target[2400];
    if (sscanf(buf, "%11s %2399s", r->method, target) != 2) return -1;
    char *qm = strchr(target, '?');
    if (qm) *qm = 0;
    snprintf(r->path, sizeof r->path, "%.1199s", target);
    snprintf(r->query, sizeof r->query, "%.1199s", qm ? qm + 1 : "");
    char *line = strstr(buf, "\r\n");
    while (line && r->nh < 24) {
        line += 2;
        char *next = strstr(line, "\r\n");
        if (next) *next = 0;
        char *colon = strchr(line, ':');
        if (colon) {
            snprintf(r->h[r->nh].name, sizeof r->h[r->nh].name, "%.*s", (int)(colon - line), line);
            const char *v = colon + 1;
            while (*v == ' ') v++;
            snprintf(r->h[r->nh].value, sizeof r->h[r->nh].value, "%s", v);
            r->nh++;
        }
        line = next;
    }
    const char *cl = get_hdr(r, "content-length");
    size_t len = cl ? (size_t)strtoull(cl, NULL, 10) : 0;
    r->body = malloc(len + 1);
    size_t have = n - (size_t)(end + 4 - buf);
    if (have > len) have = len;
    memcpy(r->body, end + 4, have);
    while (have < len) {
        ssize_t got = recv(fd, r->body + have, len - have, 0);
        if (got <= 0) return -1;
        have += (size_t)got;
    }
    r->body_len = len;
    return 0;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        c += w;
        n -= (size_t)w;
    }
}

static const char *reason(int st)
{
    switch (st) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Whatever";
    }
}

static void *serve(void *arg)
{
    server *s = arg;
    while (!s->stop) {
        struct pollfd pfd = {s->lfd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0) continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) continue;
        req *r = calloc(1, sizeof *r);
        if (read_request(fd, r) == 0) {
            char want[65];
            kiln_s3_sha256_hex(r->body, r->body_len, want);
            const char *sha = get_hdr(r, "x-amz-content-sha256");
            r->sha_ok = sha && strcmp(sha, want) == 0;
            r->sig_ok = verify_sig(r);
            if (!r->sha_ok) s->bad_sig++, s->bad_sha++;
            else if (!r->sig_ok) s->bad_sig++;
            resp rs = {.status = 200};
            s->handler(s, r, &rs);
            if (rs.delay_ms) {
                struct timespec ts = {rs.delay_ms / 1000, (rs.delay_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
            /* logged before answering: the client reads the log once it has its answer */
            if (s->n < 64) {
                s->log[s->n] = *r;
                s->log[s->n].body = NULL;
            }
            __atomic_add_fetch(&s->n, 1, __ATOMIC_SEQ_CST);
            char head[1024];
            int hl = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                              rs.status, reason(rs.status), rs.body_len, rs.extra);
            send_all(fd, head, (size_t)hl);
            if (strcmp(r->method, "HEAD") != 0) send_all(fd, rs.body, rs.body_len);
            free(rs.body);
        }
        free(r->body);
        free(r);
        close(fd);
    }
    return NULL;
}

static void start(server *s, handler_fn h)
{
    memset(s, 0, sizeof *s);
    s->handler = h;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s->lfd, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    listen(s->lfd, 16);
    pthread_create(&s->th, NULL, serve, s);
}

static void stop(server *s)
{
    s->stop = 1;
    pthread_join(s->th, NULL);
    close(s->lfd);
    for (int i = 0; i < MAXOBJ; i++) free(s->vals[i]);
    for (int i = 0; i < 8; i++) free(s->parts[i]);
}

static void set_body(resp *rs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_body(resp *rs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(rs->body);
    int n = vasprintf(&rs->body, fmt, ap);
    va_end(ap);
    rs->body_len = n > 0 ? (size_t)n : 0;
}

static void s3_error(resp *rs, int status, const char *code, const char *msg)
{
    rs->status = status;
    set_body(rs, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>"
                 "<RequestId>1</RequestId></Error>", code, msg);
}

/* object map: the key is the request path */
static int slot(server *s, const char *path, int create)
{
    for (int i = 0; i < MAXOBJ; i++)
        if (s->vals[i] && strcmp(s->keys[i], path) == 0) return i;
    if (!create) return -1;
    for (int i = 0; i < MAXOBJ; i++)
        if (!s->vals[i]) {
            snprintf(s->keys[i], sizeof s->keys[i], "%s", path);
            return i;
        }
    return -1;
}

static void store_handler(server *s, const req *r, resp *rs)
{
    int i = slot(s, r->path, strcmp(r->method, "PUT") == 0);
    if (strcmp(r->method, "PUT") == 0) {
        free(s->vals[i]);
        s->vals[i] = malloc(r->body_len + 1);
        memcpy(s->vals[i], r->body, r->body_len);
        s->lens[i] = r->body_len;
        snprintf(rs->extra, sizeof rs->extra, "ETag: \"abc\"\r\n");
    } else if (strcmp(r->method, "DELETE") == 0) {
        if (i >= 0) {
            free(s->vals[i]);
            s->vals[i] = NULL;
        }
        rs->status = 204;
    } else if (i < 0) {
        if (strcmp(r->method, "HEAD") == 0) rs->status = 404;
        else s3_error(rs, 404, "NoSuchKey", "The specified key does not exist.");
    } else if (strcmp(r->method, "HEAD") == 0) {
        rs->body = NULL;
        snprintf(rs->extra, sizeof rs->extra, "X-Len: %zu\r\n", s->lens[i]);
        /* the fake sends Content-Length of the object for HEAD */
        rs->body_len = s->lens[i];
    } else {
        rs->body = malloc(s->lens[i] + 1);
        memcpy(rs->body, s->vals[i], s->lens[i]);
        rs->body_len = s->lens[i];
    }
}

static kiln_objstore *open_s3(server *s, const char *host, int path_style, int retries, const char *prefix)
{
    char ep[128];
    snprintf(ep, sizeof ep, "http://%s:%d", host, s->port);
    kiln_s3_config c = {.endpoint = ep, .bucket = "bkt", .region = "eu-west-1", .access_key_id = "AKTEST",
                        .secret_access_key = SECRET, .session_token = "tok/en+=", .force_path_style = path_style,
                        .prefix = prefix, .max_retries = retries, .timeout_ns = 5000000000LL};
    kiln_objstore *os = NULL;
    kiln_err err = {0};
    if (kiln_objstore_open_s3(&c, &os, &err)) printf("  open: %s\n", err.msg);
    return os;
}

/* ---- scenarios ------------------------------------------------------------------------ */

static void t_path_style_roundtrip(void)
{
    server s;
    start(&s, store_handler);
    kiln_objstore *os = open_s3(&s, "127.0.0.1", 1, 0, "/pfx/");
    if (!os) goto out;
    CHECK_EQ_STR(kiln_objstore_describe(os), "s3:bkt/pfx");
    kiln_err err = {0};
    const char *key = "tenant/a b+c=d~e";
    CHECK_EQ_INT(kiln_objstore_put(os, key, (const uint8_t *)"hello world", 11, &err), KILN_OK);
    CHECK_EQ_STR(s.log[0].method, "PUT");
    CHECK_EQ_STR(s.log[0].path, "/bkt/pfx/tenant/a%20b%2Bc%3Dd~e");
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", s.port);
    CHECK_EQ_STR(get_hdr(&s.log[0], "host"), host);
    CHECK_EQ_STR(get_hdr(&s.log[0], "x-amz-security-token"), "tok/en+=");
    CHECK(get_hdr(&s.log[0], "expect") == NULL);
    const char *auth = get_hdr(&s.log[0], "authorization");
    CHECK_CONTAINS(auth, "AWS4-HMAC-SHA256 Credential=AKTEST/");
    CHECK_CONTAINS(auth, "/eu-west-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                         "x-amz-security-token,Signature=");
    CHECK_EQ_INT(s.log[0].sig_ok, 1);
    CHECK_EQ_INT(s.log[0].sha_ok, 1);

    uint8_t *d = NULL;
    size_t n = 0;
    CHECK_EQ_INT(kiln_objstore_get(os, key, &d, &n, &err), KILN_OK);
    CHECK_EQ_INT(n, 11);
    CHECK(d && memcmp(d, "hello world", 11) == 0);
    free(d);
    uint64_t sz = 0;
    CHECK_EQ_INT(kiln_objstore_size(os, key, &sz, &err), KILN_OK);
    CHECK_EQ_INT(sz, 11);
    CHECK_EQ_STR(s.log[2].method, "HEAD");
    CHECK_EQ_INT(kiln_objstore_delete(os, key, &err), KILN_OK);
    CHECK_EQ_STR(s.log[3].method, "DELETE");
    CHECK_EQ_INT(kiln_objstore_get(os, key, &d, &n, &err), KILN_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "HTTP 404 NoSuchKey: The specified key does not exist.");
    CHECK_CONTAINS(err.msg, key);
    CHECK_EQ_INT(err.retriable, 0);
    CHECK_EQ_INT(kiln_objstore_size(os, key, &sz, &err), KILN_ENOTFOUND);
    CHECK_EQ_INT(kiln_objstore_delete(os, "never/was", &err), KILN_OK);
    /* empty object */
    CHECK_EQ_INT(kiln_objstore_put(os, "empty", NULL, 0, &err), KILN_OK);
    CHECK_EQ_INT(kiln_objstore_get(os, "empty", &d, &n, &err), KILN_OK);
    CHECK(d != NULL);
    CHECK_EQ_INT(n, 0);
    free(d);
    /* bad keys never reach the server */
    int before = s.n;
    CHECK_EQ_INT(kiln_objstore_put(os, "../x", (const uint8_t *)"x", 1, &err), KILN_EINVAL);
    CHECK_EQ_INT(kiln_objstore_get(os, "/x", &d, &n, &err), KILN_EINVAL);
    CHECK_EQ_INT(s.n, before);
    CHECK_EQ_INT(s.bad_sig, 0);
    kiln_objstore_close(os);
out:
    stop(&s);
}

static void t_virtual_hosted(void)
{
    server s;
    start(&s, store_handler);
    /* curl resolves *.localhost to the loopback address itself */
    kiln_objstore *os = open_s3(&s, "s3.localhost", 0, 0, NULL);
    kiln_err err = {0};
    if (os) {
        CHECK_EQ_STR(kiln_objstore_describe(os), "s3:bkt");
        CHECK_EQ_INT(kiln_objstore_put(os, "k/v", (const uint8_t *)"x", 1, &err), KILN_OK);
        if (err.code) printf("  %s\n", err.msg);
        char host[64];
        snprintf(host, sizeof host, "bkt.s3.localhost:%d", s.port);
        CHECK_EQ_STR(get_hdr(&s.log[0], "host"), host);
        CHECK_EQ_STR(s.log[0].path, "/k/v");
        CHECK_EQ_INT(s.log[0].sig_ok, 1);
        kiln_objstore_close(os);
    }
    /* an IP-literal endpoint is path-style whatever force_path_style says */
    os = open_s3(&s, "127.0.0.1", 0, 0, NULL);
    if (os) {
        CHECK_EQ_INT(kiln_objstore_put(os, "k/v", (const uint8_t *)"x", 1, &err), KILN_OK);
        CHECK_EQ_STR(s.log[1].path, "/bkt/k/v");
        kiln_objstore_close(os);
    }
    stop(&s);
}

/* 503 SlowDown twice, then the store */
static void flaky_handler(server *s, const req *r, resp *rs)
{
    if (s->state++ < 2) s3_error(rs, 503, "SlowDown", "Please reduce your request rate.");
    else store_handler(s, r, rs);
}

static void fail_handler(server *s, const req *r, resp *rs)
{
    switch (s->state) {
    case 0: s3_error(rs, 500, "InternalError", "We encountered an internal error. Please try again."); break;
    case 1: s3_error(rs, 403, "AccessDenied", "Access Denied"); break;
    case 2: s3_error(rs, 400, "RequestTimeout", "Your socket connection to the server was not read from"); break;
    case 3: rs->status = 429; break;
    default: rs->status = 200; break;
    }
}

static void t_retries(void)
{
    server s;
    start(&s, flaky_handler);
    kiln_objstore *os = open_s3(&s, "127.0.0.1", 1, 3, NULL);
    kiln_err err = {0};
    if (!os) goto out;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(kiln_objstore_put(os, "a", (const uint8_t *)"abc", 3, &err), KILN_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK_EQ_INT(s.n, 3);
    CHECK(ms >= 100); /* backoff: at least 50 + 100 ms */
    /* every attempt is signed again and carries the body */
    CHECK_EQ_INT(s.bad_sig, 0);
    CHECK(strcmp(get_hdr(&s.log[0], "x-amz-date"), get_hdr(&s.log[2], "x-amz-date")) <= 0);
    kiln_objstore_close(os);
    stop(&s);

    start(&s, fail_handler);
    os = open_s3(&s, "127.0.0.1", 1, 2, NULL);
    if (!os) goto out;
    CHECK_EQ_INT(kiln_objstore_put(os, "b/c", (const uint8_t *)"abc", 3, &err), KILN_EIO);
    CHECK_EQ_INT(err.retriable, 1);
    CHECK_CONTAINS(err.msg, "\"b/c\"");
    CHECK_CONTAINS(err.msg, "HTTP 500 InternalError: We encountered an internal error");
    CHECK_CONTAINS(err.msg, "(3 attempts)");
    CHECK_EQ_INT(s.n, 3);
    s.state = 1;
    CHECK_EQ_INT(kiln_objstore_put(os, "b/c", (const uint8_t *)"abc", 3, &err), KILN_EINVAL);
    CHECK_EQ_INT(err.retriable, 0);
    CHECK_CONTAINS(err.msg, "HTTP 403 AccessDenied");
    CHECK_CONTAINS(err.msg, "(1 attempt)");
    CHECK_EQ_INT(s.n, 4);
    s.state = 2; /* a 400 whose code says "try again" */
    CHECK_EQ_INT(kiln_objstore_put(os, "b/c", (const uint8_t *)"abc", 3, &err), KILN_EIO);
    CHECK_CONTAINS(err.msg, "RequestTimeout");
    CHECK_EQ_INT(s.n, 7);
    s.state = 3; /* 429, no body */
    uint8_t *d = NULL;
    size_t n;
    CHECK_EQ_INT(kiln_objstore_get(os, "b/c", &d, &n, &err), KILN_EIO);
    CHECK_CONTAINS(err.msg, "HTTP 429 (3 attempts)");
    CHECK_EQ_INT(s.n, 10);
    kiln_objstore_close(os);
out:
    stop(&s);
}

static void range_handler(server *s, const req *r, resp *rs)
{
    static const char obj[] = "0123456789abcdef";
    const char *range = get_hdr(r, "range");
    unsigned long long a, b;
    if (s->state == 1 || !range) { /* ignores Range */
        set_body(rs, "%s", obj);
        return;
    }
    if (sscanf(range, "bytes=%llu-%llu", &a, &b) != 2 || a > b) {
        s3_error(rs, 400, "InvalidArgument", "bad range");
        return;
    }
    if (a >= 16) {
        s3_error(rs, 416, "InvalidRange", "The requested range is not satisfiable");
        return;
    }
    if (b > 15) b = 15;
    rs->status = 206;
    set_body(rs, "%.*s", (int)(b - a + 1), obj + a);
    snprintf(rs->extra, sizeof rs->extra, "Content-Range: bytes %llu-%llu/16\r\n", a, b);
}

static void t_ranges(void)
{
    server s;
    start(&s, range_handler);
    kiln_objstore *os = open_s3(&s, "127.0.0.1", 1, 0, NULL);
    kiln_err err = {0};
    uint8_t *d = NULL;
    size_t got = 0;
    if (!os) goto out;
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", 3, 4, &d, &got, &err), KILN_OK);
    CHECK_EQ_STR(get_hdr(&s.log[0], "range"), "bytes=3-6");
    CHECK_EQ_INT(s.log[0].sig_ok, 1);
    CHECK_EQ_INT(got, 4);
    CHECK(d && memcmp(d, "3456", 4) == 0);
    free(d);
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", 12, 100, &d, &got, &err), KILN_OK);
    CHECK_EQ_INT(got, 4);
    CHECK(d && memcmp(d, "cdef", 4) == 0);
    free(d);
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", 16, 5, &d, &got, &err), KILN_OK);
    CHECK_EQ_INT(got, 0);
    CHECK(d != NULL);
    free(d);
    s.state = 1;
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", 10, 3, &d, &got, &err), KILN_OK);
    CHECK_EQ_INT(got, 3);
    CHECK(d && memcmp(d, "abc", 3) == 0);
    free(d);
    CHECK_EQ_INT(kiln_objstore_get_range(os, "r", 20, 3, &d, &got, &err), KILN_OK);
    CHECK_EQ_INT(got, 0);
    free(d);
    kiln_objstore_close(os);
out:
    stop(&s);
}

/* pages of two keys; continuation tokens with characters that need encoding */
static const char *lkeys[] = {"pfx/t/", "pfx/t/a", "pfx/t/a/b", "pfx/t/b", "pfx/t/c d", "pfx/t/\xc3\xa9"};

static void list_handler(server *s, const req *r, resp *rs)
{
    char lt[16], pf[256], tok[256];
    if (!qparam(r, "list-type", lt, sizeof lt) || strcmp(lt, "2") != 0 || !qparam(r, "prefix", pf, sizeof pf)) {
        s3_error(rs, 400, "InvalidArgument", "want list-type=2 and a prefix");
        return;
    }
    int start_i = 0;
    if (qparam(r, "continuation-token", tok, sizeof tok)) {
        if (sscanf(tok, "tok/+= &%d", &start_i) != 1) {
            s3_error(rs, 400, "InvalidArgument", "The continuation token provided is incorrect");
            return;
        }
    }
    int n = (int)(sizeof lkeys / sizeof *lkeys);
    kiln_osbuf b = {0};
    kiln_osbuf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    int i = start_i, put = 0;
    for (; i < n && put < 2; i++) {
        if (strncmp(lkeys[i], pf, strlen(pf)) != 0) continue;
        kiln_osbuf_adds(&b, "<Contents><Key>");
        kiln_s3_xml_escape(&b, lkeys[i]);
        kiln_osbuf_addf(&b, "</Key><Size>%zu</Size></Contents>", strlen(lkeys[i]));
        put++;
    }
    int more = i < n;
    if (s->state == 1 && more) /* broken server: truncated without a token */
        kiln_osbuf_adds(&b, "<IsTruncated>true</IsTruncated>");
    else if (more)
        kiln_osbuf_addf(&b, "<IsTruncated>true</IsTruncated><NextContinuationToken>tok/+= &amp;%d</NextContinuationToken>", i);
    else
        kiln_osbuf_adds(&b, "<IsTruncated>false</IsTruncated>");
    kiln_osbuf_adds(&b, "</ListBucketResult>");
    rs->body_len = b.len;
    rs->body = kiln_osbuf_take(&b);
}

typedef struct seen {
    char keys[16][64];
    uint64_t sizes[16];
    int n;
} seen;

static int collect(const char *key, uint64_t size, void *arg)
{
    seen *s = arg;
    if (s->n < 16) {
        snprintf(s->keys[s->n], 64, "%s", key);
        s->sizes[s->n] = size;
    }
    s->n++;
    return 0;
}

static void t_list_pages(void)
{
    server s;
    start(&s, list_handler);
    kiln_objstore *os = open_s3(&s, "127.0.0.1", 1, 0, "pfx");
    kiln_err err = {0};
    if (!os) goto out;
    seen got = {0};
    CHECK_EQ_INT(kiln_objstore_list(os, "t/", collect, &got, &err), KILN_OK);
    if (err.code) printf("  %s\n", err.msg);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(got.n, 5); /* the "pfx/t/" folder marker is not an object */
    CHECK_EQ_STR(got.keys[0], "t/a");
    CHECK_EQ_STR(got.keys[1], "t/a/b");
    CHECK_EQ_STR(got.keys[2], "t/b");
    CHECK_EQ_STR(got.keys[3], "t/c d");
    CHECK_EQ_STR(got.keys[4], "t/\xc3\xa9");
    CHECK_EQ_INT(got.sizes[1], strlen("pfx/t/a/b"));
    char tok[64];
    CHECK_EQ_STR(qparam(&s.log[1], "continuation-token", tok, sizeof tok), "tok/+= &2");
    CHECK_CONTAINS(s.log[1].query, "continuation-token=tok%2F%2B%3D%20%262");
    CHECK_CONTAINS(s.log[0].query, "prefix=pfx%2Ft%2F");
    CHECK_EQ_STR(s.log[0].path, "/bkt");
    CHECK_EQ_INT(s.bad_sig, 0);

    s.state = 1;
    seen g2 = {0};
    CHECK_EQ_INT(kiln_objstore_list(os, "t/", collect, &g2, &err), KILN_EUNPROC);
    CHECK_CONTAINS(err.msg, "without a new continuation token");
    kiln_objstore_close(os);
out:
    stop(&s);
}

/* multipart: Create, parts, Complete; state bits: 1 = part 2 fails, 2 = the
 * first Complete answers 200 with an <Error> */
static void mp_handler(server *s, const req *r, resp *rs)
{
    char v[256], pn[16];
    if (strcmp(r->method, "POST") == 0 && qparam(r, "uploads", v, sizeof v)) {
        set_body(rs, "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key>"
                     "<UploadId>up/load+id=1</UploadId></InitiateMultipartUploadResult>");
        return;
    }
    if (!qparam(r, "uploadId", v, sizeof v) || strcmp(v, "up/load+id=1") != 0) {
        store_handler(s, r, rs);
        return;
    }
    if (strcmp(r->method, "PUT") == 0 && qparam(r, "partNumber", pn, sizeof pn)) {
        int n = atoi(pn);
        if (n < 1 || n > 8) {
            s3_error(rs, 400, "InvalidArgument", "part number");
            return;
        }
        if ((s->state & 1) && n == 2) {
            s3_error(rs, 400, "InvalidArgument", "part 2 is cursed");
            return;
        }
        free(s->parts[n - 1]);
        s->parts[n - 1] = malloc(r->body_len + 1);
        memcpy(s->parts[n - 1], r->body, r->body_len);
        s->part_lens[n - 1] = r->body_len;
        snprintf(rs->extra, sizeof rs->extra, "ETag: \"etag-%d\"\r\n", n);
        return;
    }
    if (strcmp(r->method, "DELETE") == 0) {
        rs->status = 204;
        return;
    }
    if (strcmp(r->method, "POST") == 0) {
        if (s->state & 2) {
            s->state &= ~2;
            set_body(rs, "<?xml version=\"1.0\"?>\n\n<Error><Code>InternalError</Code><Message>retry me</Message></Error>");
            return;
        }
        /* check the part list, then join the parts */
        char want[1024] = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
        int np = 0;
        while (np < 8 && s->parts[np]) np++;
        for (int i = 0; i < np; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want),
                     "<Part><PartNumber>%d</PartNumber><ETag>&quot;etag-%d&quot;</ETag></Part>", i + 1, i + 1);
        strcat(want, "</CompleteMultipartUpload>");
        if (r->body_len != strlen(want) || memcmp(r->body, want, r->body_len) != 0) {
            s3_error(rs, 400, "InvalidPart", "part list does not match");
            return;
        }
        int i = slot(s, r->path, 1);
        size_t total = 0;
        for (int k = 0; k < np; k++) total += s->part_lens[k];
        free(s->vals[i]);
        s->vals[i] = malloc(total + 1);
        s->lens[i] = 0;
        for (int k = 0; k < np; k++) {
            memcpy(s->vals[i] + s->lens[i], s->parts[k], s->part_lens[k]);
            s->lens[i] += s->part_lens[k];
        }
        set_body(rs, "<CompleteMultipartUploadResult><Key>k</Key><ETag>\"x-3\"</ETag></CompleteMultipartUploadResult>");
        return;
    }
    s3_error(rs, 400, "InvalidRequest", "unexpected");
}

static void t_multipart(void)
{
    server s;
    start(&s, mp_handler);
    kiln_s3_config c = {.endpoint = NULL, .bucket = "bkt", .access_key_id = "AKTEST", .secret_access_key = SECRET,
                        .force_path_style = 1, .part_size = 5 << 20, .max_retries = 2};
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d/", s.port);
    c.endpoint = ep;
    kiln_objstore *os = NULL;
    kiln_err err = {0};
    CHECK_EQ_INT(kiln_objstore_open_s3(&c, &os, &err), KILN_OK);
    if (!os) goto out;
    size_t len = (11 << 20) + 123;
    uint8_t *data = malloc(len);
    for (size_t i = 0; i < len; i++) data[i] = (uint8_t)((i * 2654435761u) >> 13);
    s.state = 2; /* the first Complete gets an <Error> in a 200 */
    CHECK_EQ_INT(kiln_objstore_put(os, "big/obj", data, len, &err), KILN_OK);
    if (err.code) printf("  %s\n", err.msg);
    /* POST ?uploads, 3 parts, Complete (an error in a 200), Complete */
    CHECK_EQ_INT(s.n, 6);
    CHECK_EQ_STR(s.log[0].method, "POST");
    CHECK_EQ_STR(s.log[0].query, "uploads=");
    CHECK_EQ_STR(get_hdr(&s.log[0], "content-type"), "application/octet-stream");
    CHECK_EQ_STR(s.log[1].query, "partNumber=1&uploadId=up%2Fload%2Bid%3D1");
    CHECK_EQ_INT(s.part_lens[0], 5 << 20);
    CHECK_EQ_INT(s.part_lens[1], 5 << 20);
    CHECK_EQ_INT(s.part_lens[2], (1 << 20) + 123);
    CHECK_EQ_STR(s.log[4].method, "POST");
    CHECK_EQ_STR(get_hdr(&s.log[4], "content-type"), "application/xml");
    CHECK_EQ_STR(s.log[5].query, "uploadId=up%2Fload%2Bid%3D1");
    CHECK_EQ_INT(s.bad_sig, 0);
    uint8_t *d = NULL;
    size_t n = 0;
    CHECK_EQ_INT(kiln_objstore_get(os, "big/obj", &d, &n, &err), KILN_OK);
    CHECK_EQ_INT(n, len);
    CHECK(d && memcmp(d, data, len) == 0);
    free(d);

    /* a part fails for good: no Complete, an Abort */
    for (int i = 0; i < 8; i++) {
        free(s.parts[i]);
        s.parts[i] = NULL;
    }
    s.state = 1;
    int before = s.n;
    CHECK_EQ_INT(kiln_objstore_put(os, "big/two", data, len, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "part 2 of 3");
    CHECK_CONTAINS(err.msg, "part 2 is cursed");
    CHECK_EQ_INT(s.n - before, 4); /* create, part 1, part 2, abort */
    CHECK_EQ_STR(s.log[before + 3].method, "DELETE");
    CHECK_EQ_STR(s.log[before + 3].query, "uploadId=up%2Fload%2Bid%3D1");
    CHECK_EQ_INT(kiln_objstore_size(os, "big/two", &(uint64_t){0}, &err), KILN_ENOTFOUND);
    /* exactly part_size is one PUT */
    before = s.n;
    CHECK_EQ_INT(kiln_objstore_put(os, "big/one", data, 5 << 20, &err), KILN_OK);
    CHECK_EQ_INT(s.n - before, 1);
    CHECK_EQ_STR(s.log[before].query, "");
    free(data);
    kiln_objstore_close(os);
out:
    stop(&s);
}

static void t_connection_failures(void)
{
    /* a port nobody listens on */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", ntohs(a.sin_port));
    kiln_s3_config c = {.endpoint = ep, .bucket = "bkt", .access_key_id = "A", .secret_access_key = "S",
                        .force_path_style = 1, .max_retries = 1};
    kiln_objstore *os = NULL;
    kiln_err err = {0};
    CHECK_EQ_INT(kiln_objstore_open_s3(&c, &os, &err), KILN_OK);
    if (!os) return;
    CHECK_EQ_INT(kiln_objstore_put(os, "k", (const uint8_t *)"x", 1, &err), KILN_EIO);
    CHECK_EQ_INT(err.retriable, 1);
    CHECK_CONTAINS(err.msg, "(curl 7)");
    CHECK_CONTAINS(err.msg, "(2 attempts)");
    kiln_objstore_close(os);
}

static void slow_handler(server *s, const req *r, resp *rs)
{
    rs->delay_ms = 1500;
}

static void t_timeout(void)
{
    server s;
    start(&s, slow_handler);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", s.port);
    kiln_s3_config c = {.endpoint = ep, .bucket = "bkt", .access_key_id = "A", .secret_access_key = "S",
                        .force_path_style = 1, .max_retries = -1, .timeout_ns = 300000000};
    kiln_objstore *os = NULL;
    kiln_err err = {0};
    CHECK_EQ_INT(kiln_objstore_open_s3(&c, &os, &err), KILN_OK);
    if (os) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        uint8_t *d = NULL;
        size_t n;
        CHECK_EQ_INT(kiln_objstore_get(os, "k", &d, &n, &err), KILN_EIO);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        CHECK(ms < 1200);
        CHECK_CONTAINS(err.msg, "(curl 28)");
        CHECK_CONTAINS(err.msg, "(1 attempt)");
        kiln_objstore_close(os);
    }
    stop(&s);
}

static void t_config(void)
{
    kiln_objstore *os = NULL;
    kiln_err err = {0};
    kiln_s3_config c = {.bucket = "bkt", .access_key_id = "A", .secret_access_key = "S"};
    CHECK_EQ_INT(kiln_objstore_open_s3(&c, &os, &err), KILN_OK);
    CHECK_EQ_STR(kiln_objstore_describe(os), "s3:bkt");
    kiln_objstore_close(os);

    kiln_s3_config bad = c;
    bad.bucket = NULL;
    CHECK_EQ_INT(kiln_objstore_open_s3(&bad, &os, &err), KILN_EINVAL);
    CHECK(os == NULL);
    CHECK_CONTAINS(err.msg, "bucket");
    bad = c;
    bad.part_size = 1 << 20;
    CHECK_EQ_INT(kiln_objstore_open_s3(&bad, &os, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "part_size");
    bad = c;
    bad.endpoint = "ftp://h";
    CHECK_EQ_INT(kiln_objstore_open_s3(&bad, &os, &err), KILN_EINVAL);
    bad.endpoint = "http://h:9000/some/path";
    CHECK_EQ_INT(kiln_objstore_open_s3(&bad, &os, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "path");
    bad.endpoint = "http://";
    CHECK_EQ_INT(kiln_objstore_open_s3(&bad, &os, &err), KILN_EINVAL);
    bad = c;
    bad.bucket = "Bad_Bucket";
    CHECK_EQ_INT(kiln_objstore_open_s3(&bad, &os, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "virtual-hosted");
    bad.force_path_style = 1; /* legal for path-style */
    CHECK_EQ_INT(kiln_objstore_open_s3(&bad, &os, &err), KILN_OK);
    kiln_objstore_close(os);
    bad = c;
    bad.prefix = "a/../b";
    CHECK_EQ_INT(kiln_objstore_open_s3(&bad, &os, &err), KILN_EINVAL);
    bad = c;
    bad.region = "EU West";
    CHECK_EQ_INT(kiln_objstore_open_s3(&bad, &os, &err), KILN_EINVAL);

    /* credentials and region from the environment */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    kiln_s3_config e = {.bucket = "bkt"};
    CHECK_EQ_INT(kiln_objstore_open_s3(&e, &os, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "AWS_ACCESS_KEY_ID");
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    CHECK_EQ_INT(kiln_objstore_open_s3(&e, &os, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "AWS_SECRET_ACCESS_KEY");
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("AWS_REGION", "ap-south-1", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    server s;
    start(&s, store_handler);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", s.port);
    e.endpoint = ep;
    e.access_key_id = ""; /* an empty value (an unset ${env:...}) counts as unset */
    CHECK_EQ_INT(kiln_objstore_open_s3(&e, &os, &err), KILN_OK);
    if (os) {
        CHECK_EQ_INT(kiln_objstore_put(os, "k", (const uint8_t *)"x", 1, &err), KILN_OK);
        CHECK_CONTAINS(get_hdr(&s.log[0], "authorization"), "Credential=ENVKEY/");
        CHECK_CONTAINS(get_hdr(&s.log[0], "authorization"), "/ap-south-1/s3/aws4_request");
        CHECK_EQ_STR(get_hdr(&s.log[0], "x-amz-security-token"), "envtoken");
        CHECK_EQ_INT(s.log[0].sig_ok, 1);
        kiln_objstore_close(os);
    }
    stop(&s);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_REGION");
    unsetenv("AWS_SESSION_TOKEN");
}

typedef struct par {
    kiln_objstore *os;
    int id, fails;
} par;

static void *par_worker(void *arg)
{
    par *p = arg;
    kiln_err err = {0};
    for (int i = 0; i < 20; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "w%d/%d", p->id, i % 3);
        snprintf(val, sizeof val, "%d-%d", p->id, i);
        if (kiln_objstore_put(p->os, key, (const uint8_t *)val, strlen(val), &err)) p->fails++;
        uint8_t *d = NULL;
        size_t n = 0;
        if (kiln_objstore_get(p->os, key, &d, &n, &err) || n != strlen(val) || memcmp(d, val, n)) p->fails++;
        free(d);
    }
    return NULL;
}

static void locked_store(server *s, const req *r, resp *rs)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    store_handler(s, r, rs);
    pthread_mutex_unlock(&mu);
}

static void t_threads_share_a_store(void)
{
    server s;
    start(&s, locked_store);
    kiln_objstore *os = open_s3(&s, "127.0.0.1", 1, 0, NULL);
    if (os) {
        pthread_t th[4];
        par p[4];
        for (int i = 0; i < 4; i++) {
            p[i] = (par){os, i, 0};
            pthread_create(&th[i], NULL, par_worker, &p[i]);
        }
        int fails = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            fails += p[i].fails;
        }
        CHECK_EQ_INT(fails, 0);
        CHECK_EQ_INT(s.n, 160);
        CHECK_EQ_INT(s.bad_sig, 0);
        kiln_objstore_close(os);
    }
    stop(&s);
}

int main(void)
{
    /* requests must go to the fake, not through a proxy of the machine */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    RUN(t_path_style_roundtrip);
    RUN(t_virtual_hosted);
    RUN(t_retries);
    RUN(t_ranges);
    RUN(t_list_pages);
    RUN(t_multipart);
    RUN(t_connection_failures);
    RUN(t_timeout);
    RUN(t_config);
    RUN(t_threads_share_a_store);
    return test_summary();
}
