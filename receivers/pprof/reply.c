/* receivers/pprof/reply.c — error bodies of /ingest, shaped like Pyroscope's
 * httputil.ErrorWithStatus: {"code":"<connect code>","message":"<text>"},
 * the Connect code derived from the HTTP status. Writes into the caller's
 * buffer; nothing is allocated. */
#include <kiln/text.h>
#include "pprofrx.h"

#include <stdio.h>
#include <string.h>

const char *kiln_pprofrx_code_name(int s)
{
    switch (s) {
    case 400: return "invalid_argument";
    case 401: return "unauthenticated";
    case 403: return "permission_denied";
    case 404: return "not_found";
    case 408: return "deadline_exceeded";
    case 409: return "aborted";
    case 412: return "failed_precondition";
    case 413: return "invalid_argument";
    case 429: return "resource_exhausted";
    case 501: return "unimplemented";
    case 503: return "unavailable";
    case 504: return "deadline_exceeded";
    case 500: return "internal";
    default: return "unknown";
    }
}

size_t kiln_pprofrx_json_error(char *buf, size_t cap, int status, const char *msg)
{
    const char *code = kiln_pprofrx_code_name(status);
    int head = snprintf(buf, cap, "{\"code\":\"%s\",\"message\":\"", code);
    if (head < 0 || (size_t)head + 3 > cap) {
        if (cap) buf[0] = 0;
        return 0;
    }
    size_t o = (size_t)head;
    const unsigned char *m = (const unsigned char *)(msg ? msg : "");
    size_t n = strlen((const char *)m);
    for (size_t i = 0; i < n;) {
        unsigned char c = m[i];
        char esc[8];
        const char *piece = esc;
        size_t pl, step = 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            pl = 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            pl = 6;
        } else {
            size_t l = kiln_utf8_len(m + i, n - i);
            if (l == 0) {
                piece = "\\ufffd";
                pl = 6;
            } else {
                piece = (const char *)m + i;
                pl = step = l;
            }
        }
        if (o + pl + 3 > cap) break; /* keep room for "}\0: the message is cut */
        memcpy(buf + o, piece, pl);
        o += pl;
        i += step;
    }
    buf[o++] = '"';
    buf[o++] = '}';
    buf[o] = 0;
    return o;
}
