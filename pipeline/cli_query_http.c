/* pipeline/cli_query_http.c — Connect unary calls of `kiln query` over
 * libcurl: POST <url>/querier.v1.QuerierService/<Method> with a binary
 * protobuf body, as Pyroscope's Connect clients send it (HTTP/1.1, no
 * envelope). libcurl brings https, proxies (http_proxy/https_proxy/
 * no_proxy), credentials in the URL and transparent gzip.
 *
 * Memory: the answer body is malloc'ed and handed to the caller; the curl
 * handle, header list and scratch arena are freed before returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <kiln/kiln.h>

#include "cli_query.h"

/* the largest answer accepted: a merged profile of a big query */
#define CQH_MAX_BODY ((size_t)1 << 30)

typedef struct cqh_buf {
    uint8_t *p;
    size_t n, cap;
    int too_big;
} cqh_buf;

static size_t cqh_write(char *data, size_t size, size_t nmemb, void *arg)
{
    cqh_buf *b = arg;
    size_t n = size * nmemb;
    if (b->n + n > CQH_MAX_BODY) {
        b->too_big = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 64 * 1024;
        while (nc < b->n + n + 1) nc *= 2;
        uint8_t *np = realloc(b->p, nc);
        if (!np) return 0;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

static double cqh_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fills f for a non-200 answer. */
static void cqh_status_fail(const char *url, long status, const char *ctype, const cqh_buf *b, kiln_cq_fail *f)
{
    f->http_status = status;
    if (ctype && strncmp(ctype, "application/json", 16) == 0 && b->n) {
        kiln_arena *a = kiln_arena_new(0);
        const char *code, *msg;
        kiln_err e;
        if (a && kiln_cq_connect_error(a, b->p, b->n, &code, &msg, &e) == KILN_OK) {
            snprintf(f->text, sizeof f->text, "%s: %s (HTTP %ld from %s)", code, msg, status, url);
            kiln_arena_destroy(a);
            return;
        }
        kiln_arena_destroy(a);
    }
    char snip[512];
    kiln_cq_snippet(b->p ? b->p : (const uint8_t *)"", b->n, 300, snip, sizeof snip);
    snprintf(f->text, sizeof f->text, "HTTP %ld from %s%s%s", status, url, snip[0] ? ": " : "", snip);
}

int kiln_cq_call(const kiln_cq_conn *c, const char *method, const uint8_t *req, size_t req_len,
                 uint8_t **resp, size_t *resp_len, kiln_cq_fail *f)
{
    *resp = NULL;
    *resp_len = 0;
    memset(f, 0, sizeof *f);
    size_t ulen = strlen(c->url) + strlen(method) + 40;
    char *url = malloc(ulen);
    char tenant_h[512], timeout_h[64];
    char errbuf[CURL_ERROR_SIZE];
    cqh_buf b = {0};
    struct curl_slist *hs = NULL, *t;
    CURL *h = curl_easy_init();
    int rc = -1;
    if (!url || !h) {
        snprintf(f->text, sizeof f->text, "out of memory");
        goto out;
    }
    snprintf(url, ulen, "%s/querier.v1.QuerierService/%s", c->url, method);
    errbuf[0] = 0;
    /* each append is checked: a NULL result frees nothing, so keep the old list */
#define CQH_ADD(s)                                                                                             \
    do {                                                                                                       \
        if (!(t = curl_slist_append(hs, (s)))) {                                                               \
            snprintf(f->text, sizeof f->text, "out of memory");                                                \
            goto out;                                                                                          \
        }                                                                                                      \
        hs = t;                                                                                                \
    } while (0)
    CQH_ADD("Content-Type: application/proto");
    CQH_ADD("Connect-Protocol-Version: 1");
    snprintf(timeout_h, sizeof timeout_h, "Connect-Timeout-Ms: %lld", (long long)c->timeout_ms);
    CQH_ADD(timeout_h);
    if (c->tenant) {
        snprintf(tenant_h, sizeof tenant_h, "X-Scope-OrgID: %s", c->tenant);
        CQH_ADD(tenant_h);
    }
    CQH_ADD("Expect:"); /* no 100-continue round trip for large bodies */
#undef CQH_ADD
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req_len ? (const char *)req : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req_len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl can inflate */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln-query/" KILN_VERSION);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cqh_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    double t0 = cqh_now();
    CURLcode cc = curl_easy_perform(h);
    double ms = (cqh_now() - t0) * 1e3;
    long status = 0;
    char *ctype = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    if (c->verbose) {
        curl_off_t wire = 0;
        curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &wire);
        struct curl_header *ce = NULL;
        const char *enc = "identity";
        if (cc == CURLE_OK && curl_easy_header(h, "Content-Encoding", 0, CURLH_HEADER, -1, &ce) == CURLHE_OK)
            enc = ce->value;
        fprintf(stderr, "kiln query: POST %s -> %ld %s, %zu bytes (content-encoding: %s, %lld on the wire), %.1f ms\n",
                url, status, ctype ? ctype : "-", b.n, enc, (long long)wire, ms);
    }
    if (cc != CURLE_OK) {
        if (b.too_big)
            snprintf(f->text, sizeof f->text, "the answer of %s is larger than %zu bytes", url, CQH_MAX_BODY);
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            snprintf(f->text, sizeof f->text, "no answer from %s within %lld ms (--timeout): %s", url,
                     (long long)c->timeout_ms, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        else
            snprintf(f->text, sizeof f->text, "cannot reach %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    if (status != 200) {
        cqh_status_fail(url, status, ctype, &b, f);
        goto out;
    }
    if (!ctype || strncmp(ctype, "application/proto", 17) != 0) {
        char snip[256];
        kiln_cq_snippet(b.p ? b.p : (const uint8_t *)"", b.n, 120, snip, sizeof snip);
        f->http_status = status;
        snprintf(f->text, sizeof f->text,
                 "%s answered Content-Type %s, not application/proto (is --url a kiln or Pyroscope server?)%s%s",
                 url, ctype ? ctype : "(none)", snip[0] ? ": " : "", snip);
        goto out;
    }
    *resp = b.p;
    *resp_len = b.n;
    b.p = NULL;
    rc = 0;
out:
    free(b.p);
    curl_slist_free_all(hs);
    if (h) curl_easy_cleanup(h);
    free(url);
    return rc;
}
