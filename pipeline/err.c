/* pipeline/err.c — kiln_err helpers (see include/kiln/err.h). */
#include <kiln/err.h>

#include <stdio.h>
#include <string.h>

int kiln_err_vset(kiln_err *e, int code, const char *fmt, va_list ap)
{
    if (!e) return code;
    e->code = code;
    e->retriable = (code == KILN_EAGAIN || code == KILN_EIO);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return code;
}

int kiln_err_set(kiln_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_err_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

void kiln_err_prefix(kiln_err *e, const char *fmt, ...)
{
    if (!e) return;
    char pre[KILN_ERR_MSG_MAX], old[KILN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old);
}

void kiln_err_clear(kiln_err *e)
{
    if (!e) return;
    e->code = KILN_OK;
    e->retriable = 0;
    e->msg[0] = 0;
}

const char *kiln_strstatus(int code)
{
    switch (code) {
    case KILN_OK: return "OK";
    case KILN_ERR: return "ERR";
    case KILN_EINVAL: return "EINVAL";
    case KILN_EAGAIN: return "EAGAIN";
    case KILN_ETOOBIG: return "ETOOBIG";
    case KILN_ENOMEM: return "ENOMEM";
    case KILN_ENOTFOUND: return "ENOTFOUND";
    case KILN_EIO: return "EIO";
    case KILN_EUNPROC: return "EUNPROC";
    case KILN_ELIMIT: return "ELIMIT";
    case KILN_EFATAL: return "EFATAL";
    case KILN_ECANCELED: return "ECANCELED";
    default: return "EUNKNOWN";
    }
}

int kiln_status_http(int code)
{
    switch (code) {
    case KILN_OK: return 200;
    case KILN_EINVAL: return 400;
    case KILN_ENOTFOUND: return 404;
    case KILN_ETOOBIG: return 413;
    case KILN_EUNPROC: return 422;
    case KILN_EAGAIN:
    case KILN_ELIMIT: return 429;
    case KILN_EIO:
    case KILN_ECANCELED: return 503;
    default: return 500;
    }
}
