/* pipeline/objstore_internal.h — what the object store backends share
 * (see include/kiln/objstore.h for the public contract).
 *
 *   objstore.c      dispatch through a backend table, key checks, a small
 *                   growable string buffer (kiln_osbuf)
 *   objstore_fs.c   the filesystem backend
 *   objstore_s3.c   the S3 backend (libcurl): requests, retries, multipart
 *   s3_sign.c       AWS Signature Version 4 (OpenSSL's SHA-256 and HMAC)
 *   s3_xml.c        a small bounded XML reader for S3's responses
 *
 * Memory: a kiln_osbuf owns its bytes (free with kiln_osbuf_free). Strings
 * returned through char ** by the s3_xml functions are malloc'ed and owned by
 * the caller; a kiln_s3_list_page owns its items (kiln_s3_list_page_free).
 */
#ifndef KILN_OBJSTORE_INTERNAL_H
#define KILN_OBJSTORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/err.h>
#include <kiln/objstore.h>

/* ---- the backend table ----------------------------------------------------- */

typedef struct kiln_objstore_vt {
    void (*close)(kiln_objstore *os);
    int (*put)(kiln_objstore *os, const char *key, const uint8_t *data, size_t len, kiln_err *err);
    int (*get)(kiln_objstore *os, const char *key, uint8_t **data, size_t *len, kiln_err *err);
    int (*get_range)(kiln_objstore *os, const char *key, uint64_t off, size_t len, uint8_t **data,
                     size_t *got, kiln_err *err);
    int (*size)(kiln_objstore *os, const char *key, uint64_t *size, kiln_err *err);
    int (*del)(kiln_objstore *os, const char *key, kiln_err *err);
    int (*list)(kiln_objstore *os, const char *prefix,
                int (*fn)(const char *key, uint64_t size, void *arg), void *arg, kiln_err *err);
} kiln_objstore_vt;

/* Every backend's struct starts with this. desc is malloc'ed, freed by the
 * backend's close. */
struct kiln_objstore {
    const kiln_objstore_vt *vt;
    char *desc;
};

/* Longest key accepted (S3's own limit is 1024 bytes). */
#define KILN_OBJSTORE_KEY_MAX 1024

/* A key: non-empty, at most KILN_OBJSTORE_KEY_MAX bytes, no leading or
 * trailing '/', no empty, "." or ".." segment, no control byte (< 0x20,
 * 0x7f), and no segment that looks like the filesystem backend's temporary
 * files ("<name>.tmp.<12 random characters>"). KILN_EINVAL otherwise. */
int kiln_objstore_check_key(const char *key, kiln_err *err);
/* A list prefix: "" or like a key, except that it may end with '/'. */
int kiln_objstore_check_prefix(const char *prefix, kiln_err *err);
/* 1 if a path segment (len bytes) is a temporary file's name. */
int kiln_objstore_is_tmp_name(const char *seg, size_t len);
/* Length of the random part of a temporary file's name. */
#define KILN_OBJSTORE_TMP_RAND 12

/* ---- a growable, always NUL-terminated byte buffer ---------------------------- */

typedef struct kiln_osbuf {
    char *p;    /* NULL until the first add */
    size_t len; /* bytes used, the NUL not counted */
    size_t cap;
} kiln_osbuf;

/* Each returns KILN_OK or KILN_ENOMEM (the buffer stays as it was). */
int kiln_osbuf_reserve(kiln_osbuf *b, size_t more);
int kiln_osbuf_add(kiln_osbuf *b, const void *data, size_t n);
int kiln_osbuf_adds(kiln_osbuf *b, const char *s);
int kiln_osbuf_addf(kiln_osbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kiln_osbuf_free(kiln_osbuf *b);
/* Hands the bytes over (malloc'ed, NUL-terminated, never NULL unless out of
 * memory) and empties the buffer. */
char *kiln_osbuf_take(kiln_osbuf *b);

/* ---- AWS Signature Version 4 (s3_sign.c) -------------------------------------- */

typedef struct kiln_s3_kv {
    const char *name;
    const char *value; /* NULL is taken as "" */
} kiln_s3_kv;

typedef struct kiln_s3_sign_in {
    const char *method;        /* "GET", "PUT", ... */
    const char *canonical_uri; /* the path as sent, already URI-encoded ("/test%24file.text") */
    const kiln_s3_kv *query;   /* raw (not encoded) names and values, any order */
    size_t n_query;
    const kiln_s3_kv *headers; /* the headers to sign, names in any case, values as sent */
    size_t n_headers;
    const char *payload_hash;  /* lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;      /* "20130524T000000Z" (the x-amz-date header's value) */
    const char *region;
    const char *service;       /* "s3" */
    const char *access_key_id;
    const char *secret_access_key;
} kiln_s3_sign_in;

/* Appends the URI encoding of s[0..n) (RFC 3986 unreserved characters kept,
 * every other byte as %XX with upper-case hex; '/' kept when keep_slash). */
int kiln_s3_uri_encode(kiln_osbuf *out, const char *s, size_t n, int keep_slash);
/* Appends the canonical query string: names and values encoded, pairs
 * sorted by name then value, joined with '&' ("a=1&b=" for an empty b). The
 * same string serves as the URL's query. */
int kiln_s3_canonical_query(kiln_osbuf *out, const kiln_s3_kv *q, size_t n);
/* out: 64 lowercase hex digits and a NUL. */
void kiln_s3_sha256_hex(const void *data, size_t len, char out[65]);
/* "YYYYMMDDTHHMMSSZ" for a UNIX time (UTC). */
void kiln_s3_amz_date(int64_t unix_seconds, char out[17]);
/* Signs a request: fills auth with the Authorization header's value
 * ("AWS4-HMAC-SHA256 Credential=...,SignedHeaders=...,Signature=...").
 * creq and sts, when not NULL, receive the canonical request and the string
 * to sign (for tests and debugging). KILN_EINVAL for a malformed input. */
int kiln_s3_sign(const kiln_s3_sign_in *in, kiln_osbuf *auth, kiln_osbuf *creq, kiln_osbuf *sts,
                 kiln_err *err);

/* ---- S3's XML responses (s3_xml.c) ----------------------------------------------
 * A bounded reader for the few documents S3 answers with: at most
 * KILN_S3_XML_DEPTH nested elements, names up to 63 bytes, the text of one
 * element up to KILN_S3_XML_TEXT bytes after decoding entities; no DOCTYPE.
 * It never reads past len and needs no NUL at the end. */

#define KILN_S3_XML_DEPTH 16
#define KILN_S3_XML_TEXT 16384

typedef struct kiln_s3_xml_cb {
    /* Both may be NULL. path[0..depth) are the open elements' names, the
     * root first; a non-zero return stops the walk and is returned. text is
     * the element's own text (entities and CDATA decoded), NUL-terminated;
     * for an element with children only the text after the last child. */
    int (*start)(void *arg, const char *const *path, int depth);
    int (*end)(void *arg, const char *const *path, int depth, const char *text, size_t text_len);
} kiln_s3_xml_cb;

/* Walks a whole document. KILN_EUNPROC with the byte offset for a document
 * that is not well-formed or is over a limit. */
int kiln_s3_xml_walk(const char *xml, size_t len, const kiln_s3_xml_cb *cb, void *arg,
                     kiln_err *err);

typedef struct kiln_s3_list_item {
    char *key;     /* as S3 sent it, prefix included */
    uint64_t size;
} kiln_s3_list_item;

typedef struct kiln_s3_list_page {
    kiln_s3_list_item *items;
    size_t n, cap;
    int truncated;    /* <IsTruncated>true</IsTruncated> */
    char *next_token; /* <NextContinuationToken>, NULL when absent */
} kiln_s3_list_page;

/* A ListObjectsV2 answer (<ListBucketResult>). An <Error> document or any
 * other root is KILN_EUNPROC. Every <Contents> needs a <Key> and a <Size>. */
int kiln_s3_xml_list(const char *xml, size_t len, kiln_s3_list_page *out, kiln_err *err);
void kiln_s3_list_page_free(kiln_s3_list_page *p);

/* The <UploadId> of an <InitiateMultipartUploadResult> (malloc'ed). */
int kiln_s3_xml_upload_id(const char *xml, size_t len, char **upload_id, kiln_err *err);

/* 1 if the document is an <Error>: code and msg receive its <Code> and
 * <Message> (cut to fit, NUL-terminated; "" when absent). 0 if it is
 * another document or not XML at all (code and msg then ""). */
int kiln_s3_xml_error(const char *xml, size_t len, char *code, size_t code_cap, char *msg,
                      size_t msg_cap);

/* Appends s with &, <, >, " and ' escaped for XML text. */
int kiln_s3_xml_escape(kiln_osbuf *out, const char *s);

#endif
