/* processors/relabel/relabel_regex.h — RE2-syntax regular expressions on top
 * of PCRE2, and Go-style replacement templates, for the relabel processor.
 *
 * Prometheus compiles relabel regexes with Go's regexp (RE2 syntax): it
 * accepts no backreferences, lookaround, atomic groups, possessive
 * quantifiers, recursion or conditionals, and a few escapes mean something
 * else than in PCRE (\v, \s). kiln_relabel_re_compile checks a pattern
 * against RE2's syntax, rewrites the few constructs whose meaning differs,
 * anchors it as Prometheus (`^(?s:re)$`) or pprof (`^(re)$`) does, and
 * compiles it with PCRE2 (UTF mode, JIT when available).
 *
 * Matching follows Go on any input: a subject that is not valid UTF-8 is
 * matched as Go's regexp does (each invalid byte reads as U+FFFD), with the
 * capture offsets mapped back onto the original bytes.
 *
 * Memory: a kiln_relabel_re owns its PCRE2 code and a copy of the pattern
 * (kiln_relabel_re_free releases them). A compiled regex is read-only and
 * may be used by several threads at once, each with its own
 * kiln_relabel_matcher (match data and scratch memory are per matcher).
 * A kiln_relabel_tpl owns its segments (kiln_relabel_tpl_free).
 */
#ifndef KILN_RELABEL_REGEX_H
#define KILN_RELABEL_REGEX_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>

/* How a pattern is anchored. */
typedef enum kiln_relabel_anchor {
    KILN_RE_PROMETHEUS = 0, /* ^(?s:re)$ — relabel_configs[].regex */
    KILN_RE_PPROF = 1       /* ^(re)$    — drop_frames / keep_frames, as pprof */
} kiln_relabel_anchor;

typedef struct kiln_relabel_re {
    pcre2_code *code;
    uint32_t ncap;   /* capture groups (group 0 not counted); in pprof mode this
                        includes the group the anchoring adds */
    char *src;       /* the pattern as written (malloc'ed) */
} kiln_relabel_re;

/* Checks `pat` against RE2 syntax and compiles it. On failure returns
 * KILN_EINVAL with `invalid regex "<pat>": <why> at offset <n>` in err (n is
 * a byte offset into `pat`); nothing stays allocated. */
int kiln_relabel_re_compile(kiln_relabel_re *re, const char *pat, kiln_relabel_anchor anchor,
                            kiln_err *err);
void kiln_relabel_re_free(kiln_relabel_re *re);

/* Number of the named group `name` in the user's pattern, or -1. */
int kiln_relabel_re_group(const kiln_relabel_re *re, const char *name, size_t len);

/* Shared match settings: the backtracking budget of one match. Created by the
 * processor at create time, read-only afterwards (thread-safe). */
pcre2_match_context *kiln_relabel_match_context(uint32_t match_limit);

/* Per-thread matching state. `pairs` must be at least 1 + the largest ncap of
 * the regexes it will run. */
typedef struct kiln_relabel_matcher {
    pcre2_match_data *md;
    const pcre2_match_context *mc;
    uint32_t pairs;
    /* offsets of the last match, in the subject as given: ov[2i], ov[2i+1]
     * (PCRE2_UNSET for groups that did not take part) */
    PCRE2_SIZE *ov;
    /* scratch for invalid UTF-8 subjects (malloc'ed, grown on demand) */
    char *fix;
    size_t *fix_map;
    size_t fix_cap;
    uint64_t limit_hits; /* matches abandoned at the backtracking budget */
} kiln_relabel_matcher;

int kiln_relabel_matcher_init(kiln_relabel_matcher *m, uint32_t pairs,
                              const pcre2_match_context *mc);
void kiln_relabel_matcher_free(kiln_relabel_matcher *m);

/* Runs `re` on s[0..len). Returns 1 on a match (offsets in m->ov), 0 when it
 * does not match. A match abandoned at the backtracking budget (or any other
 * PCRE2 failure) counts as no match and bumps m->limit_hits. */
int kiln_relabel_re_match(const kiln_relabel_re *re, kiln_relabel_matcher *m, const char *s,
                          size_t len);

/* A replacement template as Go's Regexp.Expand reads it: `$$` is a `$`;
 * `$name` / `${name}` name a group by number ("1") or by name, where name is
 * the longest run of letters, digits and `_` (so `$1x` names group "1x");
 * a malformed `$` is kept as text; an unknown group expands to nothing. The
 * group names are resolved against `re` when the template is parsed. */
typedef struct kiln_relabel_tpl_seg {
    int group;       /* >= 0: the text of that group; -1: the literal below; -2: nothing */
    const char *lit; /* into the template's own copy */
    size_t len;
} kiln_relabel_tpl_seg;

typedef struct kiln_relabel_tpl {
    char *raw; /* the template as written (malloc'ed) */
    kiln_relabel_tpl_seg *seg;
    size_t n;
    int has_dollar; /* the template contains a `$` (Prometheus: varInRegexTemplate) */
} kiln_relabel_tpl;

int kiln_relabel_tpl_parse(kiln_relabel_tpl *t, const char *tmpl, const kiln_relabel_re *re,
                           kiln_err *err);
void kiln_relabel_tpl_free(kiln_relabel_tpl *t);

/* Expands `t` with the groups of the last match of `m` over `subject` into
 * arena memory (NUL-terminated). Returns NULL when out of memory. */
char *kiln_relabel_tpl_expand(const kiln_relabel_tpl *t, const kiln_relabel_matcher *m,
                              const kiln_relabel_re *re, const char *subject, kiln_arena *a,
                              size_t *len_out);

/* UTF-8 helpers with Go's rules (no surrogates, no overlong forms, at most
 * U+10FFFF). Decode returns the width of the rune at s (1 and U+FFFD for an
 * invalid byte); valid tells whether the whole string is well-formed. */
size_t kiln_relabel_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
int kiln_relabel_utf8_valid(const char *s, size_t n);
size_t kiln_relabel_utf8_encode(uint32_t cp, char out[4]);

/* Writes s as Go's %q would (quoted, with \" \\ \n \t and \xNN escapes) into
 * buf (truncated to cap, always NUL-terminated). Returns buf. */
char *kiln_relabel_quote(const char *s, char *buf, size_t cap);

#endif
