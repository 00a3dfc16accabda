/* receivers/pprof/pprofrx.h — private declarations of the `pprof` receiver
 * (Pyroscope's legacy `POST /ingest` API). Not part of the plugin API: only
 * the files of this folder, their tests and their fuzz targets include it.
 *
 * The parsers here are zero-copy: what they return points into the caller's
 * input (query strings, the request body) and lives as long as that input.
 * Memory they allocate themselves is named in each function's comment.
 *
 * Files:
 *   labelset.c       name=app.name{k=v,...} (Pyroscope's labelset.Parse)
 *   tenant.c         X-Scope-OrgID validation (dskit's rules)
 *   multipart.c      multipart/form-data scanner (Go mime/multipart rules)
 *   stconfig.c       the sample_type_config JSON part
 *   ingest_labels.c  profile type name and series labels (createLabels)
 *   folded.c         folded/collapsed text -> pprof model
 *   reply.c          JSON error bodies and status names
 *   receiver.c       the plugin: config, routes, request flow
 */
#ifndef KILN_PPROFRX_H
#define KILN_PPROFRX_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>

/* ---- labelset.c ------------------------------------------------------------ */

typedef struct kiln_pprofrx_tag {
    kiln_str key; /* trimmed, validated ([A-Za-z0-9_.]) unless it is __name__ */
    kiln_str val; /* trimmed, raw bytes */
} kiln_pprofrx_tag;

typedef struct kiln_pprofrx_labelset {
    kiln_str app;          /* the app name (or the value of a `__name__` tag) */
    kiln_pprofrx_tag *tags; /* malloc'ed; names unique (a later tag replaces) */
    size_t n, cap;
} kiln_pprofrx_labelset;

/* Parses `s` (len bytes) as Pyroscope's labelset.Parse does, quirks
 * included: text before `{` is the app name (trimmed; [A-Za-z0-9_./-]);
 * `k=v` pairs separated by `,` up to `}`; keys trimmed and checked
 * ([A-Za-z0-9_.]), values raw up to `,`/`}` and trimmed; a pair not closed by
 * `,` or `}` is dropped; after `}` scanning goes on for more pairs. A tag
 * `__name__` replaces the app name (unchecked). On error the message starts
 * with "name: " and says what is wrong (KILN_EINVAL). Strings point into `s`;
 * free the set with kiln_pprofrx_labelset_free. */
int kiln_pprofrx_labelset_parse(const char *s, size_t len, kiln_pprofrx_labelset *out,
                                kiln_err *err);
void kiln_pprofrx_labelset_free(kiln_pprofrx_labelset *ls);
/* The value of tag `key`, or NULL. */
const kiln_str *kiln_pprofrx_labelset_get(const kiln_pprofrx_labelset *ls, const char *key);

/* Trimming (Go's TrimSpace) and from=/until= (Pyroscope's attime) are
 * libkiln's: kiln_trim_space, kiln_attime (kiln/text.h). */

/* ---- tenant.c --------------------------------------------------------------- */

/* Resolves the tenant of a write request from the header value `hdr`
 * (NULL or "" -> `def`). Rules of dskit's tenant package: the value is
 * split at `|`, each ID checked (characters a-z A-Z 0-9 ! - _ . * ' ( ),
 * at most 150 bytes, not "." or ".."), duplicates removed; more than one
 * distinct ID -> "too many org IDs". Writes the ID into out (cap bytes,
 * NUL-terminated). KILN_EINVAL with the reason. */
int kiln_pprofrx_tenant(const char *hdr, const char *def, char *out, size_t cap, kiln_err *err);

/* Checks one tenant ID (no `|` handling). */
int kiln_pprofrx_tenant_valid(const char *id, size_t len, kiln_err *err);

/* ---- multipart.c -------------------------------------------------------------- */

#define KILN_PPROFRX_BOUNDARY_MAX 200  /* RFC 2046 says 70; be lenient */
#define KILN_PPROFRX_MAX_PARTS 1000    /* as Go's multipart reader */
#define KILN_PPROFRX_MAX_HEADER 65536  /* bytes of one part's header block */

/* 1 if the Content-Type names multipart/form-data (case-insensitive). */
int kiln_pprofrx_is_multipart(const char *content_type);

/* Extracts the boundary parameter of a Content-Type (token or quoted
 * string) into out (NUL-terminated). KILN_EINVAL naming the byte at fault. */
int kiln_pprofrx_mp_boundary(const char *content_type, char *out, size_t cap, size_t *len,
                             kiln_err *err);

typedef struct kiln_pprofrx_mp {
    const uint8_t *buf;
    size_t len;
    size_t pos;     /* where the next boundary line starts (after nl) */
    char delim[KILN_PPROFRX_BOUNDARY_MAX + 8]; /* "\r\n--" boundary */
    size_t delim_len;
    int lf_only;    /* the first boundary line ended with "\n" alone */
    int state;      /* 0 before the first part, 1 in parts, 2 done */
    size_t nparts;
} kiln_pprofrx_mp;

typedef struct kiln_pprofrx_part {
    char name[64];      /* form name, NUL-terminated; "" if none */
    int name_ok;        /* 1: Content-Disposition form-data with a name that fit */
    int has_filename;   /* filename= (or filename*=) present and non-empty */
    int quoted_printable; /* Content-Transfer-Encoding: quoted-printable */
    const uint8_t *data; /* points into the body */
    size_t len;
    size_t offset;      /* byte offset of data in the body */
    size_t index;       /* 0-based part number */
} kiln_pprofrx_part;

void kiln_pprofrx_mp_init(kiln_pprofrx_mp *mp, const uint8_t *body, size_t len,
                          const char *boundary, size_t blen);
/* Next part: 1 (part filled), 0 (closing boundary seen), or KILN_EINVAL with
 * the byte offset and part number at fault (missing closing boundary,
 * malformed header, too many parts). */
int kiln_pprofrx_mp_next(kiln_pprofrx_mp *mp, kiln_pprofrx_part *part, kiln_err *err);

/* The parts Pyroscope reads from an ingest form: the first part of each
 * name, with or without filename. Absent parts have data NULL, len 0. */
typedef struct kiln_pprofrx_form {
    kiln_pprofrx_part profile, prev_profile, sample_type_config;
    int has_profile, has_prev, has_stc;
} kiln_pprofrx_form;

int kiln_pprofrx_form_read(const char *content_type, const uint8_t *body, size_t len,
                           kiln_pprofrx_form *form, kiln_err *err);

/* ---- stconfig.c ---------------------------------------------------------------- */

typedef struct kiln_pprofrx_stc_entry {
    const char *key;     /* sample type name */
    const char *display; /* display-name, or NULL */
} kiln_pprofrx_stc_entry;

typedef struct kiln_pprofrx_stc {
    int present; /* 0: no config (JSON null): Pyroscope's defaults apply */
    kiln_pprofrx_stc_entry *v; /* in a */
    size_t n;
    kiln_arena *a; /* owns the entries and every string */
} kiln_pprofrx_stc;

/* Parses the sample_type_config JSON (an object keyed by sample type, each
 * value an object with optional units, display-name, aggregation: string;
 * cumulative, sampled: bool; or null), as Go's encoding/json would into
 * map[string]*SampleTypeConfig: field names case-insensitive, unknown
 * fields ignored, a repeated key replaces. KILN_EINVAL naming the byte. */
int kiln_pprofrx_stc_parse(const uint8_t *json, size_t len, kiln_pprofrx_stc *out, kiln_err *err);
void kiln_pprofrx_stc_free(kiln_pprofrx_stc *stc);

/* ---- ingest_labels.c ---------------------------------------------------------- */

/* Pyroscope's metricName: the series `__name__` for a pprof with these
 * sample types. `stc` NULL or not present: the default display names
 * (samples->cpu, goroutine->goroutines, contentions->mutex_count,
 * delay->mutex_duration). Writes into buf (NUL-terminated). */
void kiln_pprofrx_type_name(const kiln_str *types, size_t n, const kiln_pprofrx_stc *stc,
                            char *buf, size_t cap);

/* createLabels: __name__=type, __delta__="false", service_name=app name,
 * pyroscope_spy=spy, then every tag except names starting with `__`
 * (but `__session_id__`); a tag replaces a label of the same name. */
int kiln_pprofrx_build_labels(kiln_labels *out, const kiln_pprofrx_labelset *ls,
                              const char *type_name, const char *spy, kiln_err *err);

/* The labels of a text-format profile (Pyroscope's Put): __name__=metric,
 * __delta__="false", pyroscope_spy (if spy non-empty), every allowed tag,
 * then service_name=app unless a tag gave one, in which case app_name=app
 * unless a tag gave that too. `app` is the app name without its suffix. */
int kiln_pprofrx_build_labels_text(kiln_labels *out, const kiln_pprofrx_labelset *ls,
                                   const char *metric, kiln_str app, const char *spy,
                                   kiln_err *err);

/* Splits an app name at its last `.`: `a.b.cpu` -> `a.b` + `cpu`; without a
 * dot the suffix is "cpu" (Pyroscope's default) and base the whole name. */
void kiln_pprofrx_split_app(kiln_str app, kiln_str *base, kiln_str *suffix);

/* Pyroscope's convertMetadata for text formats: the profile type of an app
 * name suffix. Fills the series __name__, the sample type/unit, the period
 * type/unit, and whether values are scaled by 1e9/sampleRate. KILN_EINVAL
 * ("unknown profile type") for an unknown suffix. */
typedef struct kiln_pprofrx_suffix_type {
    const char *name;        /* series __name__: process_cpu, memory, ... */
    const char *sample_type, *sample_unit;
    const char *period_type, *period_unit;
    int scale_by_rate;       /* cpu/wall: count * 1e9 / sampleRate, nanoseconds */
} kiln_pprofrx_suffix_type;
int kiln_pprofrx_suffix_type_of(const char *suffix, size_t len, kiln_pprofrx_suffix_type *out,
                                kiln_err *err);

/* ---- folded.c ------------------------------------------------------------------ */

/* What a text profile becomes: one sample type, an optional period, and
 * the factor every count is multiplied by (1, or the period for cpu/wall
 * with a sample rate). */
typedef struct kiln_pprofrx_text_type {
    const char *sample_type, *sample_unit;
    const char *period_type, *period_unit; /* NULL: no period */
    int64_t period;
    uint64_t scale;
} kiln_pprofrx_text_type;

/* Builds a pprof model in `a` from folded text (`lines_mode` 0: `a;b;c 12`
 * per line, split at the last space) or from Pyroscope's `lines` format
 * (1: each line one stack seen once). KILN_EUNPROC naming the line at fault
 * (count not an integer, negative, line over 64 KiB); KILN_OK with *out NULL
 * when the text holds no sample. */
int kiln_pprofrx_folded(kiln_arena *a, const uint8_t *text, size_t len, int lines_mode,
                        const kiln_pprofrx_text_type *t, int64_t time_ns, int64_t duration_ns,
                        kiln_pprof **out, kiln_err *err);

/* ---- reply.c ------------------------------------------------------------------- */

/* The Connect code name Pyroscope's ErrorWithStatus derives from an HTTP
 * status (400 invalid_argument, 413 invalid_argument, 422 unknown, 429
 * resource_exhausted, 503 unavailable, 500 internal, ...). */
const char *kiln_pprofrx_code_name(int http_status);

/* Writes `{"code":"...","message":"..."}` into buf (JSON-escaped, invalid
 * UTF-8 replaced by U+FFFD, truncated to cap). Returns the length. */
size_t kiln_pprofrx_json_error(char *buf, size_t cap, int http_status, const char *msg);

#endif
