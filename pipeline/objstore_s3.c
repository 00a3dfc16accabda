/* pipeline/objstore_s3.c — the S3 backend of the object store, over libcurl
 * (HTTP/HTTPS, TLS by OpenSSL), signed with AWS Signature Version 4
 * (s3_sign.c); S3's XML answers are read by s3_xml.c.
 *
 * Requests: path-style (endpoint/bucket/key) or virtual-hosted
 * (bucket.endpoint/key; path-style is used anyway for an IP-literal
 * endpoint). Every request carries x-amz-date, x-amz-content-sha256 (the
 * body's SHA-256), the session token when there is one, and is signed again
 * for each attempt. get_range sends a Range header; list is ListObjectsV2
 * with continuation tokens; put above part_size is a multipart upload
 * (Create, UploadPart for each part, Complete; Abort when a step fails), so
 * the object appears whole or not at all.
 *
 * Retries: connection failures and timeouts, HTTP 5xx, 408, 429, and the
 * S3 error codes SlowDown, RequestTimeout, InternalError, ServiceUnavailable
 * and Throttling are retried up to max_retries times with exponential
 * backoff (100 ms doubling, at most 10 s, with jitter); then KILN_EIO with
 * err->retriable = 1. Errors name the method, the key, the HTTP status, S3's
 * <Code> and <Message>, and the attempts made.
 *
 * Threads: curl easy handles come from a small pool under a mutex, one per
 * request in flight, so a store serves several threads at once and keeps
 * connections alive between requests. curl_global_init is called at open
 * (it is thread-safe and counted in libcurl >= 7.84).
 *
 * Memory: the store owns copies of every config string (the secret is
 * wiped at close); get/get_range return malloc'ed buffers the caller frees.
 */
#include "objstore_internal.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#define POOL_MAX 8
#define MIB ((int64_t)1 << 20)
#define PART_MIN (5 * MIB)             /* S3's smallest part (but the last) */
#define PART_MAX (5 * 1024 * MIB)      /* and its largest */
#define PART_DEFAULT (16 * MIB)
#define PARTS_MAX 10000
#define XML_MAX ((size_t)64 << 20)     /* an XML answer larger than this is refused */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 10000

typedef struct s3_store {
    kiln_objstore base;
    char *scheme; /* "http" or "https" */
    char *host;   /* the Host of every request: endpoint host[:port], or bucket.host[:port] */
    char *bucket, *region, *akid, *secret, *token; /* token NULL when there is none */
    char *prefix; /* "" or "some/prefix/" */
    int path_style;
    size_t part_size;
    int max_retries;
    long timeout_ms;
    int insecure;
    pthread_mutex_t mu;
    CURL *pool[POOL_MAX];
    int npool;
} s3_store;

/* ---- one request ------------------------------------------------------------------- */

typedef struct s3_req {
    const char *method; /* GET PUT POST DELETE HEAD */
    const char *key;    /* the caller's key (no store prefix); NULL: the bucket itself */
    kiln_s3_kv query[4];
    size_t n_query;
    char range[64];     /* "bytes=a-b" or "" */
    const uint8_t *body;
    size_t body_len;
    const char *content_type; /* for POST */
    size_t max_body;          /* keep at most this much of the answer; 0: no limit */
    int ok_404, ok_416;       /* answers that are not errors for this call */
    int error_in_200;         /* a 200 may carry an <Error> (CompleteMultipartUpload) */
} s3_req;

typedef struct s3_resp {
    long status;
    kiln_osbuf body;
    char etag[256];
    int64_t content_length; /* -1: not sent */
    int overflow;           /* the answer was over max_body */
    size_t max_body;
    int prealloc;           /* size the buffer from Content-Length (GET) */
} s3_resp;

typedef struct upload_src {
    const uint8_t *p;
    size_t len, pos;
} upload_src;

static size_t on_read(char *buf, size_t sz, size_t nmemb, void *arg)
{
    upload_src *u = arg;
    size_t n = sz * nmemb, left = u->len - u->pos;
    if (n > left) n = left;
    if (n) memcpy(buf, u->p + u->pos, n);
    u->pos += n;
    return n;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
    upload_src *u = arg;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > u->len) return CURL_SEEKFUNC_CANTSEEK;
    u->pos = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *buf, size_t sz, size_t nmemb, void *arg)
{
    s3_resp *rs = arg;
    size_t n = sz * nmemb;
    if (rs->max_body && n > rs->max_body - rs->body.len) {
        rs->overflow = 1;
        return 0; /* aborts the transfer */
    }
    if (kiln_osbuf_add(&rs->body, buf, n)) return 0;
    return n;
}

static int hdr_is(const char *b, size_t len, const char *name)
{
    size_t l = strlen(name);
    return len > l && b[l] == ':' && strncasecmp(b, name, l) == 0;
}

static void hdr_value(const char *b, size_t len, size_t namelen, char *out, size_t cap)
{
    const char *v = b + namelen + 1, *e = b + len;
    while (v < e && (*v == ' ' || *v == '\t')) v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t')) e--;
    size_t l = (size_t)(e - v);
    if (l >= cap) l = cap - 1;
    memcpy(out, v, l);
    out[l] = 0;
}

static size_t on_header(char *b, size_t sz, size_t nmemb, void *arg)
{
    s3_resp *rs = arg;
    size_t len = sz * nmemb;
    if (len >= 5 && memcmp(b, "HTTP/", 5) == 0) { /* a new answer (after a 100, say) */
        rs->etag[0] = 0;
        rs->content_length = -1;
    } else if (hdr_is(b, len, "etag")) {
        hdr_value(b, len, 4, rs->etag, sizeof rs->etag);
    } else if (hdr_is(b, len, "content-length")) {
        char v[32];
        hdr_value(b, len, 14, v, sizeof v);
        char *end;
        errno = 0;
        long long cl = strtoll(v, &end, 10);
        if (errno == 0 && end != v && *end == 0 && cl >= 0) {
            rs->content_length = cl;
            /* room for the body at once (bounded by what we would keep) */
            size_t want = (size_t)cl;
            if (rs->max_body && want > rs->max_body) want = rs->max_body;
            if (rs->prealloc && want <= ((size_t)1 << 32)) kiln_osbuf_reserve(&rs->body, want);
        }
    }
    return len;
}

/* ---- the handle pool ------------------------------------------------------------------ */

static CURL *pool_get(s3_store *st)
{
    CURL *h = NULL;
    pthread_mutex_lock(&st->mu);
    if (st->npool) h = st->pool[--st->npool];
    pthread_mutex_unlock(&st->mu);
    if (h) curl_easy_reset(h);
    else h = curl_easy_init();
    return h;
}

static void pool_put(s3_store *st, CURL *h)
{
    if (!h) return;
    pthread_mutex_lock(&st->mu);
    if (st->npool < POOL_MAX) {
        st->pool[st->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&st->mu);
    if (h) curl_easy_cleanup(h);
}

/* ---- building and sending ------------------------------------------------------------- */

typedef struct prepared {
    kiln_osbuf path; /* encoded, also the canonical URI */
    kiln_osbuf url;
    char payload_hash[65];
} prepared;

static int prepare(s3_store *st, const s3_req *rq, prepared *pp)
{
    int rc = kiln_osbuf_adds(&pp->path, "/");
    if (!rc && st->path_style) {
        rc = kiln_s3_uri_encode(&pp->path, st->bucket, strlen(st->bucket), 0);
        if (!rc && rq->key) rc = kiln_osbuf_adds(&pp->path, "/");
    }
    if (!rc && rq->key) {
        rc = kiln_s3_uri_encode(&pp->path, st->prefix, strlen(st->prefix), 1);
        if (!rc) rc = kiln_s3_uri_encode(&pp->path, rq->key, strlen(rq->key), 1);
    }
    if (!rc) rc = kiln_osbuf_addf(&pp->url, "%s://%s%s", st->scheme, st->host, pp->path.p);
    if (!rc && rq->n_query) {
        rc = kiln_osbuf_adds(&pp->url, "?");
        if (!rc) rc = kiln_s3_canonical_query(&pp->url, rq->query, rq->n_query);
    }
    kiln_s3_sha256_hex(rq->body, rq->body_len, pp->payload_hash);
    return rc;
}

static void prepared_free(prepared *pp)
{
    kiln_osbuf_free(&pp->path);
    kiln_osbuf_free(&pp->url);
}

/* Appends the line "name: value" ("name:" alone when value is NULL, which
 * tells curl not to send a header it would add itself). */
static struct curl_slist *add_hdr(struct curl_slist *l, int *oom, const char *name, const char *v)
{
    kiln_osbuf line = {0};
    struct curl_slist *n = NULL;
    if (kiln_osbuf_addf(&line, v ? "%s: %s" : "%s:", name, v ? v : "") == KILN_OK)
        n = curl_slist_append(l, line.p); /* copies the line */
    kiln_osbuf_free(&line);
    if (!n) {
        *oom = 1;
        return l;
    }
    return n;
}

/* One attempt. Returns the curl result; fills rs. */
static CURLcode send_once(s3_store *st, CURL *h, const s3_req *rq, const prepared *pp, s3_resp *rs,
                          char errbuf[CURL_ERROR_SIZE], kiln_err *err, int *sign_rc)
{
    char date[17];
    kiln_s3_amz_date((int64_t)time(NULL), date);
    kiln_s3_kv hv[6];
    size_t nh = 0;
    hv[nh++] = (kiln_s3_kv){"host", st->host};
    hv[nh++] = (kiln_s3_kv){"x-amz-content-sha256", pp->payload_hash};
    hv[nh++] = (kiln_s3_kv){"x-amz-date", date};
    if (rq->range[0]) hv[nh++] = (kiln_s3_kv){"range", rq->range};
    if (st->token) hv[nh++] = (kiln_s3_kv){"x-amz-security-token", st->token};
    if (rq->content_type) hv[nh++] = (kiln_s3_kv){"content-type", rq->content_type};
    kiln_s3_sign_in si = {
        .method = rq->method,
        .canonical_uri = pp->path.p,
        .query = rq->query,
        .n_query = rq->n_query,
        .headers = hv,
        .n_headers = nh,
        .payload_hash = pp->payload_hash,
        .amz_date = date,
        .region = st->region,
        .service = "s3",
        .access_key_id = st->akid,
        .secret_access_key = st->secret,
    };
    kiln_osbuf auth = {0};
    *sign_rc = kiln_s3_sign(&si, &auth, NULL, NULL, err);
    if (*sign_rc) return CURLE_OK;

    int oom = 0;
    struct curl_slist *hl = NULL;
    hl = add_hdr(hl, &oom, "Host", st->host);
    hl = add_hdr(hl, &oom, "x-amz-content-sha256", pp->payload_hash);
    hl = add_hdr(hl, &oom, "x-amz-date", date);
    hl = add_hdr(hl, &oom, "Authorization", auth.p);
    if (rq->range[0]) hl = add_hdr(hl, &oom, "Range", rq->range);
    if (st->token) hl = add_hdr(hl, &oom, "x-amz-security-token", st->token);
    if (rq->content_type) hl = add_hdr(hl, &oom, "Content-Type", rq->content_type);
    hl = add_hdr(hl, &oom, "Expect", NULL); /* no 100-continue round trip */
    kiln_osbuf_free(&auth);
    if (oom) {
        curl_slist_free_all(hl);
        *sign_rc = kiln_err_set(err, KILN_ENOMEM, "s3: out of memory for headers");
        return CURLE_OK;
    }

    upload_src src = {rq->body, rq->body_len, 0};
    rs->status = 0;
    rs->body.len = 0;
    if (rs->body.p) rs->body.p[0] = 0;
    rs->etag[0] = 0;
    rs->content_length = -1;
    rs->overflow = 0;
    rs->max_body = rq->max_body;
    rs->prealloc = strcmp(rq->method, "GET") == 0;
    errbuf[0] = 0;

    curl_easy_setopt(h, CURLOPT_URL, pp->url.p);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln-objstore/1");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, st->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, st->timeout_ms < 10000 ? st->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, rs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, rs);
    if (st->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &src);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &src);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
    if (cc == CURLE_OK && rs->content_length < 0) {
        curl_off_t cl = -1;
        if (curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl >= 0)
            rs->content_length = cl;
    }
    /* the handle must not keep pointers to this call's memory */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hl);
    return cc;
}

static int curl_retriable(CURLcode cc)
{
    switch (cc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_FUNCTION_NOT_FOUND:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_TOO_MANY_REDIRECTS:
        return 0;
    default:
        return 1;
    }
}

static int code_retriable(const char *code)
{
    static const char *const codes[] = {"SlowDown", "RequestTimeout", "InternalError",
                                        "ServiceUnavailable", "Throttling", "ThrottlingException",
                                        "RequestThrottled", NULL};
    for (int i = 0; codes[i]; i++)
        if (strcmp(code, codes[i]) == 0) return 1;
    return 0;
}

static void backoff_sleep(int attempt)
{
    long d = BACKOFF_FIRST_MS;
    for (int i = 0; i < attempt && d < BACKOFF_MAX_MS; i++) d *= 2;
    if (d > BACKOFF_MAX_MS) d = BACKOFF_MAX_MS;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        r = (uint32_t)t.tv_nsec;
    }
    long ms = d / 2 + (long)(r % (uint32_t)(d / 2 + 1)); /* half fixed, half random */
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Sends rq with retries. KILN_OK when the answer is 2xx (or an allowed 404
 * or 416: see rs->status); otherwise an error naming the request. */
static int s3_do(s3_store *st, const s3_req *rq, s3_resp *rs, kiln_err *err)
{
    prepared pp = {0};
    if (prepare(st, rq, &pp)) {
        prepared_free(&pp);
        return kiln_err_set(err, KILN_ENOMEM, "s3: out of memory");
    }
    CURL *h = pool_get(st);
    if (!h) {
        prepared_free(&pp);
        return kiln_err_set(err, KILN_ENOMEM, "s3: curl_easy_init failed");
    }
    char errbuf[CURL_ERROR_SIZE];
    int rc = KILN_OK, attempt;
    for (attempt = 0;; attempt++) {
        int sign_rc = 0;
        CURLcode cc = send_once(st, h, rq, &pp, rs, errbuf, err, &sign_rc);
        if (sign_rc) {
            rc = sign_rc;
            break;
        }
        int retriable, code;
        char what[512];
        if (cc != CURLE_OK) {
            if (rs->overflow) {
                rc = kiln_err_set(err, KILN_ETOOBIG, "s3 %s \"%s\" in %s: the answer is over %zu bytes",
                                  rq->method, rq->key ? rq->key : "", st->bucket, rq->max_body);
                break;
            }
            retriable = curl_retriable(cc);
            code = retriable ? KILN_EIO : KILN_EINVAL;
            snprintf(what, sizeof what, "%s (curl %d)", errbuf[0] ? errbuf : curl_easy_strerror(cc), (int)cc);
        } else {
            char s3code[64] = "", s3msg[300] = "";
            int is_err_doc = 0;
            if (rs->status >= 300 || (rs->status == 200 && rq->error_in_200))
                is_err_doc = kiln_s3_xml_error(rs->body.p ? rs->body.p : "", rs->body.len, s3code,
                                               sizeof s3code, s3msg, sizeof s3msg);
            if ((rs->status >= 200 && rs->status < 300 && !is_err_doc) ||
                (rs->status == 404 && rq->ok_404) || (rs->status == 416 && rq->ok_416)) {
                rc = KILN_OK;
                break;
            }
            long s = rs->status;
            retriable = s >= 500 || s == 408 || s == 429 || code_retriable(s3code);
            if (retriable) code = KILN_EIO;
            else if (s == 404) code = strcmp(s3code, "NoSuchBucket") == 0 ? KILN_EINVAL : KILN_ENOTFOUND;
            else if (s == 413) code = KILN_ETOOBIG;
            else if (s >= 300 && s < 500) code = KILN_EINVAL; /* credentials, region, request */
            else code = KILN_ERR;
            snprintf(what, sizeof what, "HTTP %ld%s%s%s%s", s, s3code[0] ? " " : "", s3code,
                     s3msg[0] ? ": " : "", s3msg);
        }
        if (!retriable || attempt >= st->max_retries) {
            rc = kiln_err_set(err, code, "s3 %s \"%s\" in %s: %s (%d attempt%s)", rq->method,
                              rq->key ? rq->key : "", st->bucket, what, attempt + 1, attempt ? "s" : "");
            break;
        }
        backoff_sleep(attempt);
    }
    pool_put(st, h);
    prepared_free(&pp);
    return rc;
}

static void resp_free(s3_resp *rs)
{
    kiln_osbuf_free(&rs->body);
}

/* The answer's body as a malloc'ed buffer (never NULL on success). */
static uint8_t *take_body(s3_resp *rs, size_t *len)
{
    *len = rs->body.len;
    return (uint8_t *)kiln_osbuf_take(&rs->body);
}

/* ---- operations ----------------------------------------------------------------------- */

static int s3_put_single(s3_store *st, const char *key, const uint8_t *data, size_t len, kiln_err *err)
{
    s3_req rq = {.method = "PUT", .key = key, .body = data, .body_len = len, .max_body = XML_MAX};
    s3_resp rs = {0};
    int rc = s3_do(st, &rq, &rs, err);
    resp_free(&rs);
    return rc;
}

static void abort_upload(s3_store *st, const char *key, const char *upload_id)
{
    s3_req rq = {.method = "DELETE", .key = key, .max_body = XML_MAX, .ok_404 = 1};
    rq.query[rq.n_query++] = (kiln_s3_kv){"uploadId", upload_id};
    s3_resp rs = {0};
    s3_do(st, &rq, &rs, NULL); /* best effort: a bucket lifecycle rule cleans up the rest */
    resp_free(&rs);
}

static int s3_put_multipart(s3_store *st, const char *key, const uint8_t *data, size_t len,
                            kiln_err *err)
{
    size_t part = st->part_size;
    if ((len + part - 1) / part > PARTS_MAX) part = (len + PARTS_MAX - 1) / PARTS_MAX;
    size_t nparts = (len + part - 1) / part;

    /* 1. create */
    s3_req rq = {.method = "POST", .key = key, .content_type = "application/octet-stream",
                 .max_body = XML_MAX};
    rq.query[rq.n_query++] = (kiln_s3_kv){"uploads", ""};
    s3_resp rs = {0};
    int rc = s3_do(st, &rq, &rs, err);
    if (rc) {
        resp_free(&rs);
        return rc;
    }
    char *upload_id = NULL;
    rc = kiln_s3_xml_upload_id(rs.body.p ? rs.body.p : "", rs.body.len, &upload_id, err);
    if (rc) {
        kiln_err_prefix(err, "s3 CreateMultipartUpload \"%s\" in %s", key, st->bucket);
        resp_free(&rs);
        return rc;
    }

    /* 2. the parts, in order */
    char **etags = calloc(nparts, sizeof *etags);
    if (!etags) rc = kiln_err_set(err, KILN_ENOMEM, "s3: out of memory");
    for (size_t i = 0; i < nparts && rc == KILN_OK; i++) {
        char num[24];
        snprintf(num, sizeof num, "%zu", i + 1);
        s3_req pr = {.method = "PUT", .key = key, .body = data + i * part,
                     .body_len = i + 1 < nparts ? part : len - i * part, .max_body = XML_MAX};
        pr.query[pr.n_query++] = (kiln_s3_kv){"partNumber", num};
        pr.query[pr.n_query++] = (kiln_s3_kv){"uploadId", upload_id};
        rc = s3_do(st, &pr, &rs, err);
        if (rc) {
            kiln_err_prefix(err, "part %zu of %zu", i + 1, nparts);
            break;
        }
        if (!rs.etag[0]) {
            rc = kiln_err_set(err, KILN_EIO, "s3 UploadPart %zu of \"%s\" in %s: no ETag in the answer",
                              i + 1, key, st->bucket);
            break;
        }
        if (!(etags[i] = strdup(rs.etag))) rc = kiln_err_set(err, KILN_ENOMEM, "s3: out of memory");
    }

    /* 3. complete */
    if (rc == KILN_OK) {
        kiln_osbuf x = {0};
        int brc = kiln_osbuf_adds(&x, "<CompleteMultipartUpload "
                                      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        for (size_t i = 0; i < nparts && !brc; i++) {
            brc = kiln_osbuf_addf(&x, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
            if (!brc) brc = kiln_s3_xml_escape(&x, etags[i]);
            if (!brc) brc = kiln_osbuf_adds(&x, "</ETag></Part>");
        }
        if (!brc) brc = kiln_osbuf_adds(&x, "</CompleteMultipartUpload>");
        if (brc) {
            rc = kiln_err_set(err, KILN_ENOMEM, "s3: out of memory");
        } else {
            s3_req cr = {.method = "POST", .key = key, .body = (const uint8_t *)x.p, .body_len = x.len,
                         .content_type = "application/xml", .max_body = XML_MAX, .error_in_200 = 1};
            cr.query[cr.n_query++] = (kiln_s3_kv){"uploadId", upload_id};
            rc = s3_do(st, &cr, &rs, err);
            if (rc) kiln_err_prefix(err, "CompleteMultipartUpload");
        }
        kiln_osbuf_free(&x);
    }
    if (rc) abort_upload(st, key, upload_id);
    for (size_t i = 0; etags && i < nparts; i++) free(etags[i]);
    free(etags);
    free(upload_id);
    resp_free(&rs);
    return rc;
}

static int s3_put(kiln_objstore *os, const char *key, const uint8_t *data, size_t len, kiln_err *err)
{
    s3_store *st = (s3_store *)os;
    if (len > st->part_size) return s3_put_multipart(st, key, data, len, err);
    return s3_put_single(st, key, data, len, err);
}

static int s3_get(kiln_objstore *os, const char *key, uint8_t **data, size_t *len, kiln_err *err)
{
    s3_store *st = (s3_store *)os;
    s3_req rq = {.method = "GET", .key = key};
    s3_resp rs = {0};
    int rc = s3_do(st, &rq, &rs, err);
    if (rc == KILN_OK) {
        *data = take_body(&rs, len);
        if (!*data) rc = kiln_err_set(err, KILN_ENOMEM, "s3: out of memory");
    }
    resp_free(&rs);
    return rc;
}

static int s3_size(kiln_objstore *os, const char *key, uint64_t *size, kiln_err *err)
{
    s3_store *st = (s3_store *)os;
    s3_req rq = {.method = "HEAD", .key = key, .max_body = XML_MAX};
    s3_resp rs = {0};
    int rc = s3_do(st, &rq, &rs, err);
    if (rc == KILN_OK) {
        if (rs.content_length < 0)
            rc = kiln_err_set(err, KILN_EIO, "s3 HEAD \"%s\" in %s: no Content-Length", key, st->bucket);
        else *size = (uint64_t)rs.content_length;
    }
    resp_free(&rs);
    return rc;
}

static int s3_get_range(kiln_objstore *os, const char *key, uint64_t off, size_t len, uint8_t **data,
                        size_t *got, kiln_err *err)
{
    s3_store *st = (s3_store *)os;
    if (len == 0) { /* no byte range can say "nothing": check that the object is there */
        uint64_t sz;
        int rc = s3_size(os, key, &sz, err);
        if (rc) return rc;
        if (!(*data = malloc(1))) return kiln_err_set(err, KILN_ENOMEM, "s3: out of memory");
        *got = 0;
        return KILN_OK;
    }
    s3_req rq = {.method = "GET", .key = key, .ok_416 = 1};
    snprintf(rq.range, sizeof rq.range, "bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    s3_resp rs = {0};
    int rc = s3_do(st, &rq, &rs, err);
    if (rc == KILN_OK) {
        if (rs.status == 416) { /* starts at or after the end */
            rs.body.len = 0;
        } else if (rs.status == 200) { /* a server that ignores Range sends it all */
            size_t n = off >= rs.body.len ? 0 : rs.body.len - (size_t)off;
            if (n > len) n = len;
            if (n) memmove(rs.body.p, rs.body.p + off, n);
            rs.body.len = n;
        } else if (rs.body.len > len) {
            rs.body.len = len;
        }
        if (rs.body.p) rs.body.p[rs.body.len] = 0;
        *data = take_body(&rs, got);
        if (!*data) rc = kiln_err_set(err, KILN_ENOMEM, "s3: out of memory");
    }
    resp_free(&rs);
    return rc;
}

static int s3_del(kiln_objstore *os, const char *key, kiln_err *err)
{
    s3_store *st = (s3_store *)os;
    s3_req rq = {.method = "DELETE", .key = key, .max_body = XML_MAX, .ok_404 = 1};
    s3_resp rs = {0};
    int rc = s3_do(st, &rq, &rs, err);
    resp_free(&rs);
    return rc;
}

static int s3_list(kiln_objstore *os, const char *prefix,
                   int (*fn)(const char *key, uint64_t size, void *arg), void *arg, kiln_err *err)
{
    s3_store *st = (s3_store *)os;
    size_t plen = strlen(st->prefix);
    kiln_osbuf full = {0};
    if (kiln_osbuf_adds(&full, st->prefix) || kiln_osbuf_adds(&full, prefix))
        return kiln_err_set(err, KILN_ENOMEM, "s3: out of memory");
    char *token = NULL, *last = NULL;
    int rc = KILN_OK;
    size_t pages = 0;
    for (;;) {
        s3_req rq = {.method = "GET", .key = NULL, .max_body = XML_MAX};
        rq.query[rq.n_query++] = (kiln_s3_kv){"list-type", "2"};
        rq.query[rq.n_query++] = (kiln_s3_kv){"prefix", full.p};
        if (token) rq.query[rq.n_query++] = (kiln_s3_kv){"continuation-token", token};
        s3_resp rs = {0};
        rc = s3_do(st, &rq, &rs, err);
        if (rc) {
            resp_free(&rs);
            break;
        }
        kiln_s3_list_page pg;
        rc = kiln_s3_xml_list(rs.body.p ? rs.body.p : "", rs.body.len, &pg, err);
        resp_free(&rs);
        if (rc) {
            kiln_err_prefix(err, "s3 ListObjectsV2 \"%s\" in %s, page %zu", prefix, st->bucket, pages + 1);
            break;
        }
        pages++;
        for (size_t i = 0; i < pg.n && rc == KILN_OK; i++) {
            const char *k = pg.items[i].key;
            if (strncmp(k, st->prefix, plen) != 0 || strncmp(k + plen, prefix, strlen(prefix)) != 0) {
                rc = kiln_err_set(err, KILN_EUNPROC, "s3 ListObjectsV2 in %s: key \"%.128s\" is not under \"%s\"",
                                  st->bucket, k, full.p);
                break;
            }
            if (last && strcmp(k, last) <= 0) {
                rc = kiln_err_set(err, KILN_EUNPROC,
                                  "s3 ListObjectsV2 in %s: keys out of order (\"%.128s\" after \"%.128s\")",
                                  st->bucket, k, last);
                break;
            }
            free(last);
            if (!(last = strdup(k))) {
                rc = kiln_err_set(err, KILN_ENOMEM, "s3: out of memory");
                break;
            }
            const char *rel = k + plen;
            size_t rl = strlen(rel);
            if (rl == 0 || rel[rl - 1] == '/') continue; /* a console's "folder" marker */
            rc = fn(rel, pg.items[i].size, arg);
        }
        if (rc == KILN_OK && pg.truncated) {
            if (!pg.next_token || !pg.next_token[0] || (token && strcmp(token, pg.next_token) == 0)) {
                rc = kiln_err_set(err, KILN_EUNPROC,
                                  "s3 ListObjectsV2 in %s: truncated page %zu without a new continuation token",
                                  st->bucket, pages);
            } else {
                free(token);
                token = pg.next_token;
                pg.next_token = NULL;
            }
        }
        int more = pg.truncated;
        kiln_s3_list_page_free(&pg);
        if (rc || !more) break;
    }
    free(token);
    free(last);
    kiln_osbuf_free(&full);
    return rc;
}

/* ---- open / close ------------------------------------------------------------------------ */

static void wipe_free(char *s)
{
    if (!s) return;
    volatile char *v = s;
    while (*v) *v++ = 0;
    free(s);
}

static void s3_close(kiln_objstore *os)
{
    s3_store *st = (s3_store *)os;
    for (int i = 0; i < st->npool; i++) curl_easy_cleanup(st->pool[i]);
    pthread_mutex_destroy(&st->mu);
    free(st->scheme);
    free(st->host);
    free(st->bucket);
    free(st->region);
    free(st->akid);
    wipe_free(st->secret);
    wipe_free(st->token);
    free(st->prefix);
    free(st->base.desc);
    free(st);
    curl_global_cleanup();
}

static const kiln_objstore_vt s3_vt = {s3_close, s3_put, s3_get, s3_get_range, s3_size, s3_del, s3_list};

/* cfg value, else the first set environment variable; NULL if none ("" counts as unset). */
static const char *pick(const char *v, const char *env1, const char *env2)
{
    if (v && v[0]) return v;
    const char *e = env1 ? getenv(env1) : NULL;
    if (e && e[0]) return e;
    e = env2 ? getenv(env2) : NULL;
    if (e && e[0]) return e;
    return NULL;
}

static int is_ip_literal(const char *host, size_t n)
{
    if (n && host[0] == '[') return 1; /* IPv6 */
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (host[i] == '.') dots++;
        else if (!isdigit((unsigned char)host[i])) return 0;
    }
    return dots == 3;
}

static int bucket_ok(const char *b, int vhost)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (!vhost) ok = ok || (c >= 'A' && c <= 'Z') || c == '_';
        if (!ok) return 0;
    }
    if (vhost && (b[0] == '-' || b[0] == '.' || b[n - 1] == '-' || b[n - 1] == '.')) return 0;
    return 1;
}

int kiln_objstore_open_s3(const kiln_s3_config *cfg, kiln_objstore **out, kiln_err *err)
{
    *out = NULL;
    if (!cfg) return kiln_err_set(err, KILN_EINVAL, "objstore s3: no configuration");
    const char *bucket = cfg->bucket;
    if (!bucket || !bucket[0]) return kiln_err_set(err, KILN_EINVAL, "objstore s3: bucket is required");
    const char *region = pick(cfg->region, "AWS_REGION", "AWS_DEFAULT_REGION");
    if (!region) region = "us-east-1";
    for (const char *p = region; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
            return kiln_err_set(err, KILN_EINVAL, "objstore s3: region \"%s\" is not like \"eu-west-1\"", region);
    const char *akid = pick(cfg->access_key_id, "AWS_ACCESS_KEY_ID", NULL);
    const char *secret = pick(cfg->secret_access_key, "AWS_SECRET_ACCESS_KEY", NULL);
    const char *token = pick(cfg->session_token, "AWS_SESSION_TOKEN", NULL);
    if (!akid) return kiln_err_set(err, KILN_EINVAL, "objstore s3: no access_key_id (nor $AWS_ACCESS_KEY_ID)");
    if (!secret)
        return kiln_err_set(err, KILN_EINVAL, "objstore s3: no secret_access_key (nor $AWS_SECRET_ACCESS_KEY)");
    for (const char *p = akid; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == '/' || *p == 0x7f)
            return kiln_err_set(err, KILN_EINVAL, "objstore s3: access_key_id has a bad character");
    if (token)
        for (const char *p = token; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return kiln_err_set(err, KILN_EINVAL, "objstore s3: session_token has a control character");

    /* endpoint: scheme://host[:port][/] */
    char defep[128];
    const char *ep = cfg->endpoint && cfg->endpoint[0] ? cfg->endpoint : NULL;
    if (!ep) {
        snprintf(defep, sizeof defep, "https://s3.%s.amazonaws.com", region);
        ep = defep;
    }
    const char *scheme, *hp;
    if (strncmp(ep, "https://", 8) == 0) scheme = "https", hp = ep + 8;
    else if (strncmp(ep, "http://", 7) == 0) scheme = "http", hp = ep + 7;
    else if (!strstr(ep, "://")) scheme = "https", hp = ep;
    else return kiln_err_set(err, KILN_EINVAL, "objstore s3: endpoint \"%s\": only http:// and https://", ep);
    size_t hl = strcspn(hp, "/?#");
    if (hl == 0) return kiln_err_set(err, KILN_EINVAL, "objstore s3: endpoint \"%s\" has no host", ep);
    if (hp[hl] && strcmp(hp + hl, "/") != 0)
        return kiln_err_set(err, KILN_EINVAL, "objstore s3: endpoint \"%s\": a path is not supported", ep);
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)hp[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_'))
            return kiln_err_set(err, KILN_EINVAL, "objstore s3: endpoint \"%s\": bad character in the host", ep);
    }
    size_t namelen = hl; /* the host without the port */
    if (hp[0] == '[') {
        const char *rb = memchr(hp, ']', hl);
        namelen = rb ? (size_t)(rb - hp) + 1 : hl;
    } else {
        const char *colon = memchr(hp, ':', hl);
        if (colon) namelen = (size_t)(colon - hp);
    }
    int path_style = cfg->force_path_style || is_ip_literal(hp, namelen);
    if (!bucket_ok(bucket, !path_style))
        return kiln_err_set(err, KILN_EINVAL,
                            "objstore s3: bucket \"%s\" is not a valid %s bucket name", bucket,
                            path_style ? "S3" : "virtual-hosted (DNS)");

    /* prefix: without surrounding '/', checked like a key */
    const char *pfx = cfg->prefix ? cfg->prefix : "";
    while (*pfx == '/') pfx++;
    size_t pl = strlen(pfx);
    while (pl && pfx[pl - 1] == '/') pl--;
    char pbuf[KILN_OBJSTORE_KEY_MAX + 2];
    if (pl > KILN_OBJSTORE_KEY_MAX / 2)
        return kiln_err_set(err, KILN_EINVAL, "objstore s3: prefix is longer than %d bytes",
                            KILN_OBJSTORE_KEY_MAX / 2);
    memcpy(pbuf, pfx, pl);
    pbuf[pl] = 0;
    if (pl) {
        int rc = kiln_objstore_check_key(pbuf, err);
        if (rc) {
            kiln_err_prefix(err, "objstore s3: prefix");
            return rc;
        }
        pbuf[pl++] = '/';
        pbuf[pl] = 0;
    }

    int64_t part = cfg->part_size ? cfg->part_size : PART_DEFAULT;
    if (part < PART_MIN || part > PART_MAX)
        return kiln_err_set(err, KILN_EINVAL, "objstore s3: part_size %lld is outside S3's 5MiB..5GiB",
                            (long long)part);
    if ((uint64_t)part > SIZE_MAX / 2)
        return kiln_err_set(err, KILN_EINVAL, "objstore s3: part_size too large for this machine");
    int64_t tmo = cfg->timeout_ns ? cfg->timeout_ns : (int64_t)60 * 1000000000;
    if (tmo < 1000000) return kiln_err_set(err, KILN_EINVAL, "objstore s3: timeout must be at least 1ms");
    int retries = cfg->max_retries == 0 ? 5 : cfg->max_retries < 0 ? 0 : cfg->max_retries;
    if (retries > 30) retries = 30;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return kiln_err_set(err, KILN_ERR, "objstore s3: curl_global_init failed");
    s3_store *st = calloc(1, sizeof *st);
    if (!st) {
        curl_global_cleanup();
        return kiln_err_set(err, KILN_ENOMEM, "objstore s3: out of memory");
    }
    st->base.vt = &s3_vt;
    pthread_mutex_init(&st->mu, NULL);
    st->path_style = path_style;
    st->part_size = (size_t)part;
    st->max_retries = retries;
    st->timeout_ms = (long)(tmo / 1000000);
    st->insecure = cfg->insecure_skip_verify;
    st->scheme = strdup(scheme);
    st->bucket = strdup(bucket);
    st->region = strdup(region);
    st->akid = strdup(akid);
    st->secret = strdup(secret);
    st->token = token ? strdup(token) : NULL;
    st->prefix = strdup(pbuf);
    kiln_osbuf hb = {0}, db = {0};
    int brc = path_style ? kiln_osbuf_add(&hb, hp, hl) : kiln_osbuf_addf(&hb, "%s.%.*s", bucket, (int)hl, hp);
    if (!brc) brc = kiln_osbuf_addf(&db, "s3:%s%s%.*s", bucket, pl ? "/" : "", pl ? (int)pl - 1 : 0, pbuf);
    st->host = brc ? NULL : kiln_osbuf_take(&hb);
    st->base.desc = brc ? NULL : kiln_osbuf_take(&db);
    kiln_osbuf_free(&hb);
    kiln_osbuf_free(&db);
    if (!st->scheme || !st->bucket || !st->region || !st->akid || !st->secret || (token && !st->token) ||
        !st->prefix || !st->host || !st->base.desc) {
        s3_close(&st->base);
        return kiln_err_set(err, KILN_ENOMEM, "objstore s3: out of memory");
    }
    *out = &st->base;
    return KILN_OK;
}
