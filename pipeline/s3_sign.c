/* pipeline/s3_sign.c — AWS Signature Version 4 for S3 requests, with
 * OpenSSL's SHA-256 and HMAC (libcrypto).
 *
 * The steps, as AWS documents them: a canonical request (method, URI,
 * sorted query, sorted lower-case headers with trimmed values, the signed
 * header names, the payload hash), its SHA-256 in a string to sign with the
 * date and the credential scope, a signing key derived from the secret by
 * HMAC over date, region, service and "aws4_request", and the HMAC of the
 * string to sign with that key.
 *
 * Memory: results go into caller-owned kiln_osbufs; nothing is kept.
 */
#include "objstore_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char hexdig[] = "0123456789abcdef";

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[d[i] >> 4];
        out[2 * i + 1] = hexdig[d[i] & 15];
    }
    out[2 * n] = 0;
}

void kiln_s3_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        memset(out, '0', 64); /* cannot happen with a working libcrypto */
        out[64] = 0;
        return;
    }
    to_hex(md, 32, out);
}

void kiln_s3_amz_date(int64_t unix_seconds, char out[17])
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int kiln_s3_uri_encode(kiln_osbuf *out, const char *s, size_t n, int keep_slash)
{
    static const char up[] = "0123456789ABCDEF";
    if (kiln_osbuf_reserve(out, n * 3)) return KILN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            out->p[out->len++] = (char)c;
        } else {
            out->p[out->len++] = '%';
            out->p[out->len++] = up[c >> 4];
            out->p[out->len++] = up[c & 15];
        }
    }
    out->p[out->len] = 0;
    return KILN_OK;
}

typedef struct enc_pair {
    char *name, *value;
} enc_pair;

static int cmp_pair(const void *a, const void *b)
{
    const enc_pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

int kiln_s3_canonical_query(kiln_osbuf *out, const kiln_s3_kv *q, size_t n)
{
    if (n == 0) return kiln_osbuf_add(out, "", 0);
    enc_pair *pairs = calloc(n, sizeof *pairs);
    if (!pairs) return KILN_ENOMEM;
    int rc = KILN_OK;
    for (size_t i = 0; i < n && rc == KILN_OK; i++) {
        kiln_osbuf nb = {0}, vb = {0};
        const char *v = q[i].value ? q[i].value : "";
        if (kiln_s3_uri_encode(&nb, q[i].name, strlen(q[i].name), 0) ||
            kiln_s3_uri_encode(&vb, v, strlen(v), 0)) {
            kiln_osbuf_free(&nb);
            kiln_osbuf_free(&vb);
            rc = KILN_ENOMEM;
            break;
        }
        pairs[i].name = kiln_osbuf_take(&nb);
        pairs[i].value = kiln_osbuf_take(&vb);
        if (!pairs[i].name || !pairs[i].value) rc = KILN_ENOMEM;
    }
    if (rc == KILN_OK) {
        if (n > 1) qsort(pairs, n, sizeof *pairs, cmp_pair);
        for (size_t i = 0; i < n && rc == KILN_OK; i++)
            rc = kiln_osbuf_addf(out, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
    }
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
    return rc;
}

typedef struct canon_hdr {
    char *name;  /* lower case */
    char *value; /* trimmed, inner runs of spaces folded */
} canon_hdr;

static int cmp_hdr(const void *a, const void *b)
{
    return strcmp(((const canon_hdr *)a)->name, ((const canon_hdr *)b)->name);
}

static char *canon_value(const char *v)
{
    size_t n = strlen(v);
    char *o = malloc(n + 1);
    if (!o) return NULL;
    size_t j = 0;
    int space = 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == ' ' || c == '\t') {
            space = 1;
            continue;
        }
        if (space && j) o[j++] = ' ';
        space = 0;
        o[j++] = c;
    }
    o[j] = 0;
    return o;
}

/* out may be the same buffer as key. */
static int hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int olen = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, msg, mlen, md, &olen) || olen != 32) return KILN_ERR;
    memcpy(out, md, 32);
    memset(md, 0, sizeof md);
    return KILN_OK;
}

int kiln_s3_sign(const kiln_s3_sign_in *in, kiln_osbuf *auth, kiln_osbuf *creq_out,
                 kiln_osbuf *sts_out, kiln_err *err)
{
    if (!in->method || !in->canonical_uri || !in->payload_hash || !in->amz_date || !in->region ||
        !in->service || !in->access_key_id || !in->secret_access_key)
        return kiln_err_set(err, KILN_EINVAL, "sigv4: a required input is missing");
    if (strlen(in->amz_date) != 16 || in->amz_date[8] != 'T' || in->amz_date[15] != 'Z')
        return kiln_err_set(err, KILN_EINVAL, "sigv4: x-amz-date \"%s\" is not YYYYMMDDTHHMMSSZ",
                            in->amz_date);
    if (in->n_headers == 0)
        return kiln_err_set(err, KILN_EINVAL, "sigv4: no headers to sign (host is required)");

    int rc = KILN_OK;
    kiln_osbuf creq = {0}, shdr = {0}, sts = {0};
    canon_hdr *h = calloc(in->n_headers, sizeof *h);
    if (!h) return kiln_err_set(err, KILN_ENOMEM, "sigv4: out of memory");
    size_t nh = 0;
    for (size_t i = 0; i < in->n_headers; i++) {
        const char *nm = in->headers[i].name;
        size_t nl = strlen(nm);
        if (nl == 0) {
            rc = kiln_err_set(err, KILN_EINVAL, "sigv4: header %zu has no name", i);
            goto out;
        }
        h[nh].name = malloc(nl + 1);
        h[nh].value = canon_value(in->headers[i].value ? in->headers[i].value : "");
        if (!h[nh].name || !h[nh].value) {
            free(h[nh].name);
            free(h[nh].value);
            rc = kiln_err_set(err, KILN_ENOMEM, "sigv4: out of memory");
            goto out;
        }
        for (size_t k = 0; k <= nl; k++) {
            char c = nm[k];
            h[nh].name[k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        nh++;
    }
    if (nh > 1) qsort(h, nh, sizeof *h, cmp_hdr);

    /* 1. the canonical request */
    rc = kiln_osbuf_addf(&creq, "%s\n%s\n", in->method, in->canonical_uri);
    if (!rc) rc = kiln_s3_canonical_query(&creq, in->query, in->n_query);
    if (!rc) rc = kiln_osbuf_add(&creq, "\n", 1);
    for (size_t i = 0; i < nh && !rc; i++) {
        if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
            /* a repeated header: values joined with ',' on one line */
            creq.len--; /* drop the '\n' */
            rc = kiln_osbuf_addf(&creq, ",%s\n", h[i].value);
            continue;
        }
        rc = kiln_osbuf_addf(&creq, "%s:%s\n", h[i].name, h[i].value);
        if (!rc) rc = kiln_osbuf_addf(&shdr, "%s%s", shdr.len ? ";" : "", h[i].name);
    }
    if (!rc) rc = kiln_osbuf_addf(&creq, "\n%s\n%s", shdr.p, in->payload_hash);
    if (rc) {
        rc = kiln_err_set(err, KILN_ENOMEM, "sigv4: out of memory");
        goto out;
    }

    /* 2. the string to sign */
    char date[9];
    memcpy(date, in->amz_date, 8);
    date[8] = 0;
    char creq_hash[65];
    kiln_s3_sha256_hex(creq.p, creq.len, creq_hash);
    if (kiln_osbuf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", in->amz_date, date,
                        in->region, in->service, creq_hash)) {
        rc = kiln_err_set(err, KILN_ENOMEM, "sigv4: out of memory");
        goto out;
    }

    /* 3. the signing key and the signature */
    {
        kiln_osbuf k0 = {0};
        unsigned char k[32], sig[32];
        if (kiln_osbuf_addf(&k0, "AWS4%s", in->secret_access_key)) {
            rc = kiln_err_set(err, KILN_ENOMEM, "sigv4: out of memory");
            goto out;
        }
        rc = hmac(k0.p, k0.len, date, 8, k);
        if (k0.p) memset(k0.p, 0, k0.len); /* do not leave the secret in freed memory */
        kiln_osbuf_free(&k0);
        if (!rc) rc = hmac(k, 32, in->region, strlen(in->region), k);
        if (!rc) rc = hmac(k, 32, in->service, strlen(in->service), k);
        if (!rc) rc = hmac(k, 32, "aws4_request", 12, k);
        if (!rc) rc = hmac(k, 32, sts.p, sts.len, sig);
        memset(k, 0, sizeof k);
        if (rc) {
            rc = kiln_err_set(err, KILN_ERR, "sigv4: HMAC-SHA256 failed in libcrypto");
            goto out;
        }
        char sighex[65];
        to_hex(sig, 32, sighex);
        if (kiln_osbuf_addf(auth, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request,SignedHeaders=%s,"
                                  "Signature=%s",
                            in->access_key_id, date, in->region, in->service, shdr.p, sighex)) {
            rc = kiln_err_set(err, KILN_ENOMEM, "sigv4: out of memory");
            goto out;
        }
    }
    if (creq_out && kiln_osbuf_add(creq_out, creq.p, creq.len))
        rc = kiln_err_set(err, KILN_ENOMEM, "sigv4: out of memory");
    if (sts_out && kiln_osbuf_add(sts_out, sts.p, sts.len))
        rc = kiln_err_set(err, KILN_ENOMEM, "sigv4: out of memory");
out:
    for (size_t i = 0; i < nh; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
    kiln_osbuf_free(&creq);
    kiln_osbuf_free(&shdr);
    kiln_osbuf_free(&sts);
    return rc;
}
