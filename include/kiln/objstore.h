/* kiln/objstore.h — object storage: a local directory or an S3-compatible
 * bucket behind one interface (used by the blocks exporter, the query
 * exporter and `kiln blocks`).
 *
 * Keys are '/'-separated paths without a leading '/' ("anonymous/01J.../meta.json").
 * put is atomic per object: a reader sees the old object, no object, or the
 * whole new one — never part of it (filesystem: write a temp file, fsync,
 * rename; S3: a single PUT, or a multipart upload completed at once).
 *
 * Errors: KILN_ENOTFOUND for a missing key; retriable errors (KILN_EIO with
 * err->retriable = 1: network failures, 5xx, throttling) after the store's
 * own retries are spent; KILN_EINVAL for bad keys or config.
 *
 * Thread safety: one kiln_objstore may be used from several threads at once.
 * Memory: buffers returned by get/get_range are malloc'ed; the caller frees.
 */
#ifndef KILN_OBJSTORE_H
#define KILN_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/err.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_objstore kiln_objstore;

typedef struct kiln_s3_config {
    const char *endpoint;          /* "http://127.0.0.1:4569" or "https://s3.eu-west-1.amazonaws.com";
                                      NULL: AWS from region */
    const char *bucket;
    const char *region;            /* NULL: $AWS_REGION, $AWS_DEFAULT_REGION, then "us-east-1" */
    const char *access_key_id;     /* NULL: $AWS_ACCESS_KEY_ID */
    const char *secret_access_key; /* NULL: $AWS_SECRET_ACCESS_KEY */
    const char *session_token;     /* NULL: $AWS_SESSION_TOKEN (may stay unset) */
    int force_path_style;          /* 1: endpoint/bucket/key; 0: bucket.endpoint/key */
    const char *prefix;            /* key prefix inside the bucket, may be NULL */
    int64_t part_size;             /* multipart part size in bytes; 0: 16 MiB */
    int max_retries;               /* 0: 5 */
    int64_t timeout_ns;            /* per request; 0: 60 s */
    int insecure_skip_verify;      /* 1: do not verify TLS certificates */
} kiln_s3_config;

/* Opens a store rooted at directory `dir` (created if missing). */
int kiln_objstore_open_fs(const char *dir, kiln_objstore **out, kiln_err *err);

/* Opens an S3 store. Nothing is sent until the first call. */
int kiln_objstore_open_s3(const kiln_s3_config *cfg, kiln_objstore **out, kiln_err *err);

void kiln_objstore_close(kiln_objstore *os);

/* "fs:/data" or "s3:bucket/prefix" — for logs. */
const char *kiln_objstore_describe(const kiln_objstore *os);

int kiln_objstore_put(kiln_objstore *os, const char *key, const uint8_t *data, size_t len,
                      kiln_err *err);
int kiln_objstore_get(kiln_objstore *os, const char *key, uint8_t **data, size_t *len,
                      kiln_err *err);
/* Bytes [off, off+len) of the object; *got may be short at the end. */
int kiln_objstore_get_range(kiln_objstore *os, const char *key, uint64_t off, size_t len,
                            uint8_t **data, size_t *got, kiln_err *err);
/* Size of an object (KILN_ENOTFOUND if missing). */
int kiln_objstore_size(kiln_objstore *os, const char *key, uint64_t *size, kiln_err *err);
/* Deleting a missing key is not an error. */
int kiln_objstore_delete(kiln_objstore *os, const char *key, kiln_err *err);

/* Calls fn for every key under `prefix` ("" for all), in lexical order,
 * recursively. fn returns 0 to go on, non-zero to stop (returned as is). */
int kiln_objstore_list(kiln_objstore *os, const char *prefix,
                       int (*fn)(const char *key, uint64_t size, void *arg), void *arg,
                       kiln_err *err);

#ifdef __cplusplus
}
#endif
#endif
