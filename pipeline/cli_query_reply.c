/* pipeline/cli_query_reply.c — what `kiln query` reads from a server's
 * answer besides protobuf messages: Connect error bodies
 * ({"code":"invalid_argument","message":"..."}, read with libkiln's JSON
 * reader) and printable snippets of other bodies for messages.
 *
 * Memory: strings returned by kiln_cq_connect_error live in the caller's
 * arena; snippets are written into the caller's buffer.
 */
#include <string.h>

#include <kiln/json.h>

#include "cli_query.h"

int kiln_cq_connect_error(kiln_arena *a, const uint8_t *body, size_t len, const char **code,
                          const char **message, kiln_err *err)
{
    kiln_json *root;
    int rc = kiln_json_parse(a, (const char *)body, len, KILN_JSON_GO_STRINGS, &root, err);
    if (rc != KILN_OK) return rc;
    if (root->kind != KILN_JSON_OBJ) return kiln_err_set(err, KILN_EINVAL, "error body is not a JSON object");
    const kiln_json *c = kiln_json_get(root, "code", NULL);
    const kiln_json *m = kiln_json_get(root, "message", NULL);
    if (!c || c->kind != KILN_JSON_STR || !c->len)
        return kiln_err_set(err, KILN_EINVAL, "error body has no \"code\" string");
    if (m && m->kind != KILN_JSON_STR)
        return kiln_err_set(err, KILN_EINVAL, "error body's \"message\" is not a string");
    *code = c->s;
    *message = m ? m->s : "";
    return KILN_OK;
}

/* length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid */
static size_t cqr_utf8_len(const uint8_t *p, size_t n)
{
    size_t want;
    if (p[0] < 0x80) return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) want = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef) want = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4) want = 4;
    else return 0;
    if (n < want) return 0;
    for (size_t i = 1; i < want; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (want == 3 && p[0] == 0xe0 && p[1] < 0xa0) return 0; /* overlong */
    if (want == 3 && p[0] == 0xed && p[1] >= 0xa0) return 0; /* surrogate */
    if (want == 4 && p[0] == 0xf0 && p[1] < 0x90) return 0;
    if (want == 4 && p[0] == 0xf4 && p[1] >= 0x90) return 0;
    return want;
}

void kiln_cq_snippet(const uint8_t *body, size_t len, size_t max, char *buf, size_t cap)
{
    if (!cap) return;
    size_t w = 0, i = 0;
    int space = 0;
    while (i < len && i < max && w + 5 < cap) {
        if (body[i] == '\n' || body[i] == '\r' || body[i] == '\t' || body[i] == ' ') {
            space = w > 0;
            i++;
            continue;
        }
        if (space) {
            buf[w++] = ' ';
            space = 0;
        }
        size_t k = cqr_utf8_len(body + i, len - i);
        if (k == 0 || (k == 1 && (body[i] < 0x20 || body[i] == 0x7f))) {
            buf[w++] = '?';
            i++;
        } else if (w + k + 4 < cap) {
            memcpy(buf + w, body + i, k);
            w += k;
            i += k;
        } else {
            break;
        }
    }
    if (i < len && w + 3 < cap) {
        memcpy(buf + w, "...", 3);
        w += 3;
    }
    buf[w] = 0;
}
