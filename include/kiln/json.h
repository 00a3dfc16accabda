/* kiln/json.h — one strict, bounded JSON reader (RFC 8259) for every part of
 * kiln that reads JSON: Connect JSON requests (query exporter), the
 * sample_type_config of an ingest form (pprof receiver).
 *
 * The whole text is parsed into a tree of kiln_json nodes. Every node, key
 * and string lives in the caller's arena: nothing else is allocated, nothing
 * is freed piece by piece. Each node records the byte offset where its value
 * starts, so that callers checking meaning (types, names) can still say
 * which byte is wrong.
 *
 * Limits: nesting depth KILN_JSON_MAX_DEPTH. Errors say what was expected at
 * which byte: "json: expected ':' at byte 12".
 */
#ifndef KILN_JSON_H
#define KILN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/arena.h>
#include <kiln/err.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kiln_json_kind {
    KILN_JSON_NULL,
    KILN_JSON_BOOL,
    KILN_JSON_NUM,
    KILN_JSON_STR,
    KILN_JSON_ARR,
    KILN_JSON_OBJ
} kiln_json_kind;

typedef struct kiln_json kiln_json;
struct kiln_json {
    kiln_json_kind kind;
    int b;              /* BOOL */
    const char *s;      /* STR: decoded UTF-8, NUL-terminated; NUM: the literal as written */
    size_t len;         /* of s */
    size_t n;           /* ARR, OBJ: entries, in document order (repeated keys kept) */
    kiln_json **items;  /* ARR, OBJ */
    const char **keys;  /* OBJ: decoded keys */
    size_t at;          /* byte offset of the value in the text */
};

#define KILN_JSON_MAX_DEPTH 64

/* Flags of kiln_json_parse. */
enum {
    /* Strings as Go's encoding/json reads them: invalid UTF-8 bytes and lone
     * surrogate escapes become U+FFFD instead of an error. Default: strict
     * (both are errors), as protojson requires. */
    KILN_JSON_GO_STRINGS = 1u << 0,
};

/* Parses the whole text (nothing but whitespace may follow the value) into
 * arena `a`; *out is the root. A byte order mark is refused, as Go does. */
int kiln_json_parse(kiln_arena *a, const char *text, size_t len, unsigned flags, kiln_json **out,
                    kiln_err *err);

/* The member `name` (or `alt` when not NULL) of an object; the last
 * occurrence wins, as in Go's decoder. NULL when absent or obj is not an
 * object. */
const kiln_json *kiln_json_get(const kiln_json *obj, const char *name, const char *alt);

/* int64 from a JSON number (integral, "1e3" allowed) or a string holding one
 * (protojson's form); null or absent reads as 0. */
int kiln_json_int64(const kiln_json *v, int64_t *out, kiln_err *err);

/* double from a number or a string ("NaN", "Infinity", "-Infinity" or a
 * decimal number); null or absent reads as 0. */
int kiln_json_double(const kiln_json *v, double *out, kiln_err *err);

#ifdef __cplusplus
}
#endif
#endif
