/* kiln/err.h — status codes and the error object every fallible call fills.
 *
 * Convention: a function that can fail returns an int status (KILN_OK == 0,
 * a negative KILN_E* otherwise) and, when given a non-NULL `kiln_err *`,
 * writes a message with context into it (which component, which field,
 * which byte). The caller owns the kiln_err (usually on its stack); nothing
 * in it needs freeing.
 *
 * The retriable flag tells an exporter's retry loop and a receiver's answer
 * apart: retriable errors become HTTP 429/503 or gRPC UNAVAILABLE for the
 * sender, the others 4xx/5xx that the sender must not repeat as is.
 */
#ifndef KILN_ERR_H
#define KILN_ERR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    KILN_OK = 0,
    KILN_ERR = -1,       /* generic failure */
    KILN_EINVAL = -2,    /* bad input or bad config: the sender's fault (400) */
    KILN_EAGAIN = -3,    /* full or busy: try again later (429 / UNAVAILABLE) */
    KILN_ETOOBIG = -4,   /* over a size limit (413) */
    KILN_ENOMEM = -5,    /* allocation failed */
    KILN_ENOTFOUND = -6, /* no such file, symbol, route, object */
    KILN_EIO = -7,       /* I/O failure (disk, network); usually retriable */
    KILN_EUNPROC = -8,   /* well-formed request whose payload cannot be used (422) */
    KILN_ELIMIT = -9,    /* a per-tenant limit was hit (rate: 429, others 400) */
    KILN_EFATAL = -10,   /* the component is broken; only destroy is allowed */
    KILN_ECANCELED = -11 /* shutting down */
};

#define KILN_ERR_MSG_MAX 512

typedef struct kiln_err {
    int code;      /* one of the KILN_E* values, KILN_OK when unset */
    int retriable; /* 1: the same request may succeed later */
    char msg[KILN_ERR_MSG_MAX];
} kiln_err;

/* Sets code, retriable (derived from code: EAGAIN and EIO are retriable)
 * and the message. Returns `code` so callers can `return kiln_err_set(...)`.
 * `e` may be NULL (then only the code is returned). */
int kiln_err_set(kiln_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int kiln_err_vset(kiln_err *e, int code, const char *fmt, va_list ap);

/* Prepends context to an existing message: "ctx: old message". Keeps the code. */
void kiln_err_prefix(kiln_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears the error. */
void kiln_err_clear(kiln_err *e);

/* Short symbolic name of a status ("EINVAL"). Never NULL. */
const char *kiln_strstatus(int code);

/* The HTTP status a receiver answers for a status (400, 413, 422, 429, 500,
 * 503). KILN_OK maps to 200. */
int kiln_status_http(int code);

#ifdef __cplusplus
}
#endif
#endif
