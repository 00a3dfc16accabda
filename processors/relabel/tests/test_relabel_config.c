/* Plugin test: the relabel processor's configuration — validation errors with
 * file:line:column and Prometheus's messages, the RE2 restriction (PCRE-only
 * constructs refused), RE2 semantics on PCRE2 (a table of Go regexp results),
 * hashmod values against Go's crypto/md5, label-name rules, and case mapping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relabel_md5.h"
#include "relabel_regex.h"
#include "relabel_rules.h"
#include "relabel_test_util.h"

/* Loads `yaml` ('$' doubled first) and expects failure with a message
 * containing `want`. */
static void expect_err(const char *yaml, const char *want, int line)
{
    rt t;
    kiln_err err;
    char *y = dollars(yaml);
    int rc = rt_open(&t, y, &err);
    free(y);
    if (rc == KILN_OK) {
        test_fail(__FILE__, line, "config accepted, wanted an error containing \"%s\"", want);
        rt_close(&t);
        return;
    }
    if (!strstr(err.msg, want))
        test_fail(__FILE__, line, "error \"%s\" does not contain \"%s\"", err.msg, want);
}
#define EXPECT_ERR(yaml, want) expect_err((yaml), (want), __LINE__)

static void expect_ok(const char *yaml, int line)
{
    rt t;
    kiln_err err;
    char *y = dollars(yaml);
    int rc = rt_open(&t, y, &err);
    free(y);
    if (rc != KILN_OK) test_fail(__FILE__, line, "config refused: %s", err.msg);
    else rt_close(&t);
}
#define EXPECT_OK(yaml) expect_ok((yaml), __LINE__)

static void t_positions(void)
{
    /* the third rule's regex, at its line and column */
    EXPECT_ERR("relabel_configs:\n"
               "  - source_labels: [a]\n"
               "    target_label: b\n"
               "  - source_labels: [a]\n"
               "    target_label: c\n"
               "  - source_labels: [a]\n"
               "    regex: '('\n"
               "    target_label: d\n",
               "t.yaml:7:12: relabel_configs[2].regex: invalid regex \"(\": missing closing "
               "parenthesis at offset 1");
    EXPECT_ERR("relabel_configs:\n  - action: frobnicate\n",
               "t.yaml:2:13: relabel_configs[0].action: unknown relabel action \"frobnicate\"; "
               "valid actions: replace, keep, drop, keepequal, dropequal, hashmod, labelmap, "
               "labeldrop, labelkeep, lowercase, uppercase");
    EXPECT_ERR("relabel_configs:\n  - source_labels: [a]\n    target_label: shard\n    action: hashmod\n",
               "t.yaml:2:5: relabel_configs[0]: relabel configuration for hashmod requires non-zero "
               "modulus");
    EXPECT_ERR("relabel_configs:\n  - source_labels: [a]\n    target_label: shard\n    action: hashmod\n"
               "    modulus: 0\n",
               "t.yaml:5:14: relabel_configs[0].modulus: relabel configuration for hashmod requires "
               "non-zero modulus");
    EXPECT_ERR("relabel_configs:\n  - source_labels: [a]\n    sourc_labels: [b]\n",
               "t.yaml:3:19: relabel_configs[0].sourc_labels: unknown field \"sourc_labels\" in a "
               "relabel rule; valid fields: action, modulus, regex, replacement, separator, "
               "source_labels, target_label");
    EXPECT_ERR("drop_frames: 'runtime\\.(.*'\n",
               "t.yaml:1:14: drop_frames: invalid regex \"runtime\\\\.(.*\": missing closing "
               "parenthesis at offset 12");
    EXPECT_ERR("keep_frames: 'main\\..*'\n", "t.yaml:1:14: keep_frames: keep_frames needs drop_frames");
    EXPECT_ERR("relabel_configs:\n  action: keep\n", "t.yaml:2:3: relabel_configs: must be a list of relabel rules");
    EXPECT_ERR("relabel_configs:\n  - keep\n", "t.yaml:2:5: relabel_configs[0]: a relabel rule must be a mapping");
    EXPECT_ERR("regex_match_limit: 10\n", "t.yaml:1:20: regex_match_limit");
    EXPECT_ERR("max_stack_depth: -1\n", "t.yaml:1:18: max_stack_depth");
    EXPECT_ERR("max_stack_depth_keep: middle\n", "t.yaml:1:23: max_stack_depth_keep");
    EXPECT_ERR("name_validation_scheme: ascii\n", "t.yaml:1:25: name_validation_scheme");
    EXPECT_ERR("drop_sample_labels: [span_id, '']\n", "drop_sample_labels: entry 1 is empty");
    EXPECT_ERR("keep_sample_types: ['']\n", "keep_sample_types: entry 0 is empty");
}

/* The path as it appears in a whole kiln config. */
static void t_full_config_path(void)
{
    const char *y = "receivers:\n  pprof:\n"
                    "processors:\n  relabel/gw:\n    relabel_configs:\n"
                    "      - source_labels: [service_name]\n        regex: '(?=x)'\n"
                    "        action: drop\n"
                    "exporters:\n  debug:\n"
                    "service:\n  pipelines:\n    profiles:\n      receivers: [pprof]\n"
                    "      processors: [relabel/gw]\n      exporters: [debug]\n";
    kiln_config *c = NULL;
    kiln_err err;
    int rc = kiln_config_load_string("kiln.yaml", y, strlen(y), &c, &err);
    CHECK_EQ_INT(rc, KILN_OK);
    if (rc != KILN_OK) return;
    const kiln_config_component *cc = kiln_config_find(c, KILN_KIND_PROCESSOR, "relabel/gw");
    CHECK(cc != NULL);
    if (cc) {
        void *cfg = calloc(1, PL.cfg_size);
        CHECK_EQ_INT(kiln_cfg_apply(PL.fields, cc->decl, cfg, &err), KILN_OK);
        CHECK_EQ_INT(PL.validate(cfg, cc->node, &err), KILN_EINVAL);
        CHECK_CONTAINS(err.msg, "kiln.yaml:7:16: processors.relabel/gw.relabel_configs[0].regex: "
                                "invalid regex \"(?=x)\": lookahead (?= (?! is not supported (RE2 "
                                "syntax) at offset 0");
        kiln_cfg_free(PL.fields, cfg);
        free(cfg);
    }
    kiln_config_free(c);
}

/* Prometheus's Config.Validate, rule by rule (TestRelabelValidate and the
 * checks in relabel.go), with the UTF-8 name scheme unless said. */
static void t_prometheus_validation(void)
{
    EXPECT_ERR("relabel_configs:\n  - action: ''\n", "relabel action cannot be empty");
    EXPECT_ERR("relabel_configs:\n  - action:\n", "relabel action cannot be empty");
    EXPECT_ERR("relabel_configs:\n  - action: replace\n", "relabel configuration for replace action requires 'target_label' value");
    EXPECT_ERR("relabel_configs:\n  - action: lowercase\n", "relabel configuration for lowercase action requires 'target_label' value");
    EXPECT_ERR("relabel_configs:\n  - action: uppercase\n", "requires 'target_label' value");
    EXPECT_ERR("relabel_configs:\n  - action: keepequal\n", "requires 'target_label' value");
    EXPECT_ERR("relabel_configs:\n  - action: dropequal\n", "requires 'target_label' value");
    EXPECT_ERR("relabel_configs:\n  - {action: hashmod, target_label: x}\n", "requires non-zero modulus");
    /* UTF-8 names: ${3}, 0${3}, -${3} are acceptable targets */
    EXPECT_OK("relabel_configs:\n  - action: lowercase\n    target_label: '${3}'\n");
    EXPECT_OK("relabel_configs:\n  - source_labels: [a]\n    regex: 'some-([^-]+)-([^,]+)'\n"
              "    replacement: '${1}'\n    target_label: '${3}'\n");
    EXPECT_OK("relabel_configs:\n  - source_labels: [a]\n    regex: 'some-([^-]+)-([^,]+)'\n"
              "    replacement: '${1}'\n    target_label: '0${3}'\n");
    EXPECT_OK("relabel_configs:\n  - source_labels: [a]\n    regex: 'some-([^-]+)-([^,]+)'\n"
              "    replacement: '${1}'\n    target_label: '-${3}'\n");
    /* legacy names */
    EXPECT_ERR("name_validation_scheme: legacy\nrelabel_configs:\n  - action: lowercase\n"
               "    target_label: '${3}'\n",
               "\"${3}\" is invalid 'target_label' for lowercase action");
    EXPECT_ERR("name_validation_scheme: legacy\nrelabel_configs:\n  - source_labels: [a]\n"
               "    target_label: 'utf-8.label'\n",
               "\"utf-8.label\" is invalid 'target_label' for replace action");
    EXPECT_ERR("name_validation_scheme: legacy\nrelabel_configs:\n  - source_labels: [a]\n"
               "    target_label: '-${1}'\n",
               "\"-${1}\" is invalid 'target_label' for replace action");
    EXPECT_ERR("name_validation_scheme: legacy\nrelabel_configs:\n  - source_labels: [a-b]\n"
               "    target_label: x\n",
               "\"a-b\" is not a valid label name");
    EXPECT_OK("name_validation_scheme: legacy\nrelabel_configs:\n"
              "  - regex: '__meta_kubernetes_pod_label_(strimzi_io_.+)'\n    action: labelmap\n"
              "    replacement: '$1'\n"
              "  - regex: '__meta_(.+)'\n    action: labelmap\n    replacement: '${1}'\n");
    EXPECT_ERR("name_validation_scheme: legacy\nrelabel_configs:\n  - regex: '(.+)'\n"
               "    action: labelmap\n    replacement: 'x-$1'\n",
               "\"x-$1\" is invalid 'replacement' for labelmap action");
    EXPECT_ERR("relabel_configs:\n  - regex: '(.+)'\n    action: labelmap\n    replacement: ''\n",
               "\"\" is invalid 'replacement' for labelmap action");
    EXPECT_ERR("relabel_configs:\n  - source_labels: [a]\n    action: lowercase\n"
               "    target_label: b\n    replacement: x\n",
               "'replacement' can not be set for lowercase action");
    EXPECT_ERR("relabel_configs:\n  - source_labels: [a]\n    action: keepequal\n"
               "    target_label: b\n    regex: '(.*)'\n",
               "keepequal action requires only 'source_labels' and `target_label`, and no other fields");
    EXPECT_ERR("relabel_configs:\n  - source_labels: [a]\n    action: dropequal\n"
               "    target_label: b\n    separator: ','\n",
               "dropequal action requires only 'source_labels' and `target_label`, and no other fields");
    EXPECT_OK("relabel_configs:\n  - source_labels: [a]\n    action: dropequal\n"
              "    target_label: b\n    separator: ';'\n");
    EXPECT_ERR("relabel_configs:\n  - source_labels: [a]\n    action: labeldrop\n    regex: x\n",
               "labeldrop action requires only 'regex', and no other fields");
    EXPECT_ERR("relabel_configs:\n  - source_labels: []\n    action: labelkeep\n    regex: x\n",
               "labelkeep action requires only 'regex', and no other fields");
    EXPECT_ERR("relabel_configs:\n  - action: labelkeep\n    regex: x\n    target_label: y\n",
               "labelkeep action requires only 'regex', and no other fields");
    EXPECT_ERR("relabel_configs:\n  - action: labeldrop\n    regex: x\n    modulus: 2\n",
               "labeldrop action requires only 'regex', and no other fields");
    EXPECT_ERR("relabel_configs:\n  - source_labels: ['']\n    target_label: x\n", "\"\" is not a valid label name");
    EXPECT_ERR("relabel_configs:\n  - source_labels: a\n    target_label: x\n", "must be a list of label names");
    EXPECT_ERR("relabel_configs:\n  - source_labels: [a]\n    target_label: x\n    regex: [a]\n", "must be a string");
    EXPECT_ERR("relabel_configs:\n  - source_labels: [a]\n    target_label: x\n    action: hashmod\n"
               "    modulus: -3\n",
               "modulus must be a non-negative integer");
    EXPECT_ERR("relabel_configs:\n  - source_labels: [a]\n    target_label: x\n    action: hashmod\n"
               "    modulus: three\n",
               "modulus must be a non-negative integer");
    EXPECT_ERR("drop_sample_types: [cpu, '']\n", "drop_sample_types: entry 1 is empty");
    EXPECT_OK("drop_frames: 'runtime\\..*'\nkeep_frames: 'runtime\\.main'\nmax_stack_depth: 64\n"
              "max_stack_depth_keep: leaf\ndrop_sample_labels: [span_id]\nkeep_sample_types: [cpu]\n");
    EXPECT_OK("{}\n");
    EXPECT_OK("relabel_configs:\n");
    EXPECT_OK("relabel_configs: []\n");
}

/* Prometheus's relabelTargetLegacy cases (TestTargetLabelLegacyValidity). */
static void t_legacy_target_validity(void)
{
    static const struct {
        const char *s;
        int ok;
    } v[] = {{"-label", 0},         {"label", 1},   {"label${1}", 1},      {"${1}label", 1},
             {"${1}", 1},           {"${", 0},      {"$", 0},              {"${}", 0},
             {"foo${", 0},          {"$1", 1},      {"asd$2asd", 1},       {"-foo${1}bar-", 0},
             {"bar.foo${1}bar", 0}, {"_${1}_", 1},  {"foo${bar}foo", 1}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (kiln_relabel_target_legacy_valid(v[i].s, strlen(v[i].s)) != v[i].ok)
            test_fail(__FILE__, __LINE__, "legacy target %s: want %d", v[i].s, v[i].ok);
    CHECK(kiln_relabel_name_valid("a_1", 3, 1));
    CHECK(!kiln_relabel_name_valid("1a", 2, 1));
    CHECK(kiln_relabel_name_valid("1a", 2, 0));
    CHECK(kiln_relabel_name_valid("é.x", strlen("é.x"), 0));
    CHECK(!kiln_relabel_name_valid("\xff", 1, 0));
    CHECK(!kiln_relabel_name_valid("", 0, 0));
}

/* Constructs PCRE has and RE2 does not: refused, with the reason. */
static void t_re2_only(void)
{
    static const struct {
        const char *re, *why;
    } v[] = {
        {"(a)\\1", "backreferences (\\N) are not supported"},
        {"(?P<x>a)(?P=x)", "backreferences (?P=name) are not supported"},
        {"(a)\\g1", "backreferences (\\g, \\k) are not supported"},
        {"(?<x>a)\\k<x>", "backreferences (\\g, \\k) are not supported"},
        {"a(?=b)", "lookahead (?= (?! is not supported"},
        {"a(?!b)", "lookahead (?= (?! is not supported"},
        {"(?<=a)b", "lookbehind (?<= (?<! is not supported"},
        {"(?<!a)b", "lookbehind (?<= (?<! is not supported"},
        {"(?>a+)b", "atomic groups (?> are not supported"},
        {"a*+", "possessive quantifiers"},
        {"a++", "possessive quantifiers"},
        {"a?+", "possessive quantifiers"},
        {"a{2,3}+", "possessive quantifiers"},
        {"(a|(?R))", "recursion (?R"},
        {"(a)(?1)", "recursion (?N) is not supported"},
        {"(?<x>a)(?&x)", "recursion (?R (?&name)"},
        {"(?P<x>a)(?P>x)", "recursion (?P>name) is not supported"},
        {"(a)?(?(1)b|c)", "conditionals (?( are not supported"},
        {"(?C1)a", "callouts (?C are not supported"},
        {"(*SKIP)a", "(*VERB)"},
        {"(?#note)a", "comments (?# are not supported"},
        {"(?|(a)|(b))", "branch reset groups"},
        {"a\\Kb", "\\K is not supported"},
        {"a\\Z", "\\Z is not supported"},
        {"\\Ga", "\\G is not supported"},
        {"\\Ca", "\\C is not supported"},
        {"\\R", "invalid escape sequence \\R"},
        {"\\h", "invalid escape sequence \\h"},
        {"(?x) a", "unsupported flag 'x'"},
        {"a**", "invalid nested repetition operator"},
        {"a{2}{3}", "invalid nested repetition operator"},
        {"a{1001}", "invalid repeat count"},
        {"*a", "missing argument to repetition operator"},
        {"[a", "missing closing ]"},
        {"[[:nope:]]", "unknown [:name:]"},
        {"[z-a]", "invalid character class range"},
        {"\\x4", "invalid escape sequence"},
        {"\xff", "invalid UTF-8"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        kiln_relabel_re re;
        kiln_err err;
        kiln_err_clear(&err);
        int rc = kiln_relabel_re_compile(&re, v[i].re, KILN_RE_PROMETHEUS, &err);
        if (rc == KILN_OK) {
            test_fail(__FILE__, __LINE__, "%s compiled; RE2 refuses it", v[i].re);
            kiln_relabel_re_free(&re);
        } else if (!strstr(err.msg, v[i].why)) {
            test_fail(__FILE__, __LINE__, "%s: \"%s\" lacks \"%s\"", v[i].re, err.msg, v[i].why);
        }
    }
    /* through the config, at the regex's position */
    EXPECT_ERR("relabel_configs:\n  - source_labels: [a]\n    regex: '(a)\\1'\n    action: keep\n",
               "t.yaml:3:12: relabel_configs[0].regex: invalid regex \"(a)\\\\1\": backreferences "
               "(\\N) are not supported (RE2 syntax) at offset 3");
}

/* RE2 semantics on PCRE2: pattern, subject and the match Go's regexp gives
 * for ^(?s:pattern)$ (FindStringSubmatchIndex: group offsets, -1 for a group
 * that did not take part; NOMATCH; ERR when Go refuses the pattern). The
 * expected column was computed with Go 1.19's regexp package. */
static const struct {
    const char *re, *subject, *go;
} go_table[] = {
    {"(.*)", "", "[0 0 0 0]"},
    {"(.*)", "foo", "[0 3 0 3]"},
    {"(.*)", "foo;bar", "[0 7 0 7]"},
    {"(.*)", "aa", "[0 2 0 2]"},
    {"(.*)", "aaa", "[0 3 0 3]"},
    {"(.*)", "\x0b""", "[0 1 0 1]"},
    {"(.*)", " \x09""\x0a""", "[0 3 0 3]"},
    {"(.*)", "a.b", "[0 3 0 3]"},
    {"(.*)", "]a", "[0 2 0 2]"},
    {"(.*)", "-", "[0 1 0 1]"},
    {"(.*)", "z", "[0 1 0 1]"},
    {"(.*)", "\xc3""\xa9""", "[0 2 0 2]"},
    {"(.*)", "\xc3""\x89""\xc3""\xa9""", "[0 4 0 4]"},
    {"(.*)", "\xce""\xb1""\xce""\xb2""\xce""\xb3""", "[0 6 0 6]"},
    {"(.*)", "a\x0a""b", "[0 3 0 3]"},
    {"(.*)", "b\x0a""", "[0 2 0 2]"},
    {"(.*)", "\x0a""", "[0 1 0 1]"},
    {"(.*)", "x", "[0 1 0 1]"},
    {"(.*)", "abcd", "[0 4 0 4]"},
    {"(.*)", "a\xff""b", "[0 3 0 3]"},
    {"(.*)", "\xff""", "[0 1 0 1]"},
    {"(.*)", "{2}", "[0 3 0 3]"},
    {"(.*)", "a{,2}", "[0 5 0 5]"},
    {"(.*)", "a{01}", "[0 5 0 5]"},
    {"(.*)", "\xe2""\x98""\xba""", "[0 3 0 3]"},
    {"(.*)", "123", "[0 3 0 3]"},
    {"(.*)", "a b", "[0 3 0 3]"},
    {"(.*)", "\xed""\xa0""\x80""", "[0 3 0 3]"},
    {"(.*)", "xyz", "[0 3 0 3]"},
    {"(.*)", "ab", "[0 2 0 2]"},
    {"f(.*);(.*)r", "foo;bar", "[0 7 1 3 4 6]"},
    {"f(.*);(.*)r", " \x09""\x0a""", "NOMATCH"},
    {"f(.*);(.*)r", "b\x0a""", "NOMATCH"},
    {"f(.*);(.*)r", "\xe2""\x98""\xba""", "NOMATCH"},
    {"a{,2}", "aa", "NOMATCH"},
    {"a{,2}", "\xc3""\x89""\xc3""\xa9""", "NOMATCH"},
    {"a{,2}", "{2}", "NOMATCH"},
    {"a{,2}", "a{,2}", "[0 5]"},
    {"a{01}", "", "NOMATCH"},
    {"a{01}", "-", "NOMATCH"},
    {"a{01}", "abcd", "NOMATCH"},
    {"a{01}", "a{01}", "[0 5]"},
    {"a{01}", "\xed""\xa0""\x80""", "NOMATCH"},
    {"\\12", " \x09""\x0a""", "NOMATCH"},
    {"\\12", "b\x0a""", "NOMATCH"},
    {"\\12", "\x0a""", "[0 1]"},
    {"\\12", "\xe2""\x98""\xba""", "NOMATCH"},
    {"\\v", "aa", "NOMATCH"},
    {"\\v", "\x0b""", "[0 1]"},
    {"\\v", "\xc3""\x89""\xc3""\xa9""", "NOMATCH"},
    {"\\v", "{2}", "NOMATCH"},
    {"\\s+", "", "NOMATCH"},
    {"\\s+", " \x09""\x0a""", "[0 3]"},
    {"\\s+", "\xc3""\x89""\xc3""\xa9""", "NOMATCH"},
    {"\\s+", "\x0a""", "[0 1]"},
    {"\\s+", "{2}", "NOMATCH"},
    {"\\S+", "", "NOMATCH"},
    {"\\S+", "foo", "[0 3]"},
    {"\\S+", "foo;bar", "[0 7]"},
    {"\\S+", "aa", "[0 2]"},
    {"\\S+", "aaa", "[0 3]"},
    {"\\S+", "\x0b""", "[0 1]"},
    {"\\S+", "a.b", "[0 3]"},
    {"\\S+", "]a", "[0 2]"},
    {"\\S+", "-", "[0 1]"},
    {"\\S+", "z", "[0 1]"},
    {"\\S+", "\xc3""\xa9""", "[0 2]"},
    {"\\S+", "\xc3""\x89""\xc3""\xa9""", "[0 4]"},
    {"\\S+", "\xce""\xb1""\xce""\xb2""\xce""\xb3""", "[0 6]"},
    {"\\S+", "x", "[0 1]"},
    {"\\S+", "abcd", "[0 4]"},
    {"\\S+", "a\xff""b", "[0 3]"},
    {"\\S+", "\xff""", "[0 1]"},
    {"\\S+", "{2}", "[0 3]"},
    {"\\S+", "a{,2}", "[0 5]"},
    {"\\S+", "a{01}", "[0 5]"},
    {"\\S+", "\xe2""\x98""\xba""", "[0 3]"},
    {"\\S+", "123", "[0 3]"},
    {"\\S+", "\xed""\xa0""\x80""", "[0 3]"},
    {"\\S+", "xyz", "[0 3]"},
    {"\\S+", "ab", "[0 2]"},
    {"[\\S]+", "", "NOMATCH"},
    {"[\\S]+", "foo", "[0 3]"},
    {"[\\S]+", "foo;bar", "[0 7]"},
    {"[\\S]+", "aa", "[0 2]"},
    {"[\\S]+", "aaa", "[0 3]"},
    {"[\\S]+", "\x0b""", "[0 1]"},
    {"[\\S]+", "a.b", "[0 3]"},
    {"[\\S]+", "]a", "[0 2]"},
    {"[\\S]+", "-", "[0 1]"},
    {"[\\S]+", "z", "[0 1]"},
    {"[\\S]+", "\xc3""\xa9""", "[0 2]"},
    {"[\\S]+", "\xc3""\x89""\xc3""\xa9""", "[0 4]"},
    {"[\\S]+", "\xce""\xb1""\xce""\xb2""\xce""\xb3""", "[0 6]"},
    {"[\\S]+", "x", "[0 1]"},
    {"[\\S]+", "abcd", "[0 4]"},
    {"[\\S]+", "a\xff""b", "[0 3]"},
    {"[\\S]+", "\xff""", "[0 1]"},
    {"[\\S]+", "{2}", "[0 3]"},
    {"[\\S]+", "a{,2}", "[0 5]"},
    {"[\\S]+", "a{01}", "[0 5]"},
    {"[\\S]+", "\xe2""\x98""\xba""", "[0 3]"},
    {"[\\S]+", "123", "[0 3]"},
    {"[\\S]+", "\xed""\xa0""\x80""", "[0 3]"},
    {"[\\S]+", "xyz", "[0 3]"},
    {"[\\S]+", "ab", "[0 2]"},
    {"[^\\s]+", "", "NOMATCH"},
    {"[^\\s]+", "foo", "[0 3]"},
    {"[^\\s]+", "foo;bar", "[0 7]"},
    {"[^\\s]+", "aa", "[0 2]"},
    {"[^\\s]+", "aaa", "[0 3]"},
    {"[^\\s]+", "\x0b""", "[0 1]"},
    {"[^\\s]+", "a.b", "[0 3]"},
    {"[^\\s]+", "]a", "[0 2]"},
    {"[^\\s]+", "-", "[0 1]"},
    {"[^\\s]+", "z", "[0 1]"},
    {"[^\\s]+", "\xc3""\xa9""", "[0 2]"},
    {"[^\\s]+", "\xc3""\x89""\xc3""\xa9""", "[0 4]"},
    {"[^\\s]+", "\xce""\xb1""\xce""\xb2""\xce""\xb3""", "[0 6]"},
    {"[^\\s]+", "x", "[0 1]"},
    {"[^\\s]+", "abcd", "[0 4]"},
    {"[^\\s]+", "a\xff""b", "[0 3]"},
    {"[^\\s]+", "\xff""", "[0 1]"},
    {"[^\\s]+", "{2}", "[0 3]"},
    {"[^\\s]+", "a{,2}", "[0 5]"},
    {"[^\\s]+", "a{01}", "[0 5]"},
    {"[^\\s]+", "\xe2""\x98""\xba""", "[0 3]"},
    {"[^\\s]+", "123", "[0 3]"},
    {"[^\\s]+", "\xed""\xa0""\x80""", "[0 3]"},
    {"[^\\s]+", "xyz", "[0 3]"},
    {"[^\\s]+", "ab", "[0 2]"},
    {"\\Qa.b\\E", "", "NOMATCH"},
    {"\\Qa.b\\E", "a.b", "[0 3]"},
    {"\\Qa.b\\E", "-", "NOMATCH"},
    {"\\Qa.b\\E", "abcd", "NOMATCH"},
    {"\\Qa.b\\E", "\xed""\xa0""\x80""", "NOMATCH"},
    {"\\Qa.b", "", "ERR"},
    {"\\Qa.b", "foo", "ERR"},
    {"\\Qa.b", "foo;bar", "ERR"},
    {"\\Qa.b", "aa", "ERR"},
    {"\\Qa.b", "aaa", "ERR"},
    {"\\Qa.b", "\x0b""", "ERR"},
    {"\\Qa.b", " \x09""\x0a""", "ERR"},
    {"\\Qa.b", "a.b", "ERR"},
    {"\\Qa.b", "]a", "ERR"},
    {"\\Qa.b", "-", "ERR"},
    {"\\Qa.b", "z", "ERR"},
    {"\\Qa.b", "\xc3""\xa9""", "ERR"},
    {"\\Qa.b", "\xc3""\x89""\xc3""\xa9""", "ERR"},
    {"\\Qa.b", "\xce""\xb1""\xce""\xb2""\xce""\xb3""", "ERR"},
    {"\\Qa.b", "a\x0a""b", "ERR"},
    {"\\Qa.b", "b\x0a""", "ERR"},
    {"\\Qa.b", "\x0a""", "ERR"},
    {"\\Qa.b", "x", "ERR"},
    {"\\Qa.b", "abcd", "ERR"},
    {"\\Qa.b", "a\xff""b", "ERR"},
    {"\\Qa.b", "\xff""", "ERR"},
    {"\\Qa.b", "{2}", "ERR"},
    {"\\Qa.b", "a{,2}", "ERR"},
    {"\\Qa.b", "a{01}", "ERR"},
    {"\\Qa.b", "\xe2""\x98""\xba""", "ERR"},
    {"\\Qa.b", "123", "ERR"},
    {"\\Qa.b", "a b", "ERR"},
    {"\\Qa.b", "\xed""\xa0""\x80""", "ERR"},
    {"\\Qa.b", "xyz", "ERR"},
    {"\\Qa.b", "ab", "ERR"},
    {"[]a]+", "aa", "[0 2]"},
    {"[]a]+", "aaa", "[0 3]"},
    {"[]a]+", "]a", "[0 2]"},
    {"[]a]+", "-", "NOMATCH"},
    {"[]a]+", "abcd", "NOMATCH"},
    {"[]a]+", "\xed""\xa0""\x80""", "NOMATCH"},
    {"[^]a]+", "foo", "[0 3]"},
    {"[^]a]+", "\x0b""", "[0 1]"},
    {"[^]a]+", " \x09""\x0a""", "[0 3]"},
    {"[^]a]+", "-", "[0 1]"},
    {"[^]a]+", "z", "[0 1]"},
    {"[^]a]+", "\xc3""\xa9""", "[0 2]"},
    {"[^]a]+", "\xc3""\x89""\xc3""\xa9""", "[0 4]"},
    {"[^]a]+", "\xce""\xb1""\xce""\xb2""\xce""\xb3""", "[0 6]"},
    {"[^]a]+", "b\x0a""", "[0 2]"},
    {"[^]a]+", "\x0a""", "[0 1]"},
    {"[^]a]+", "x", "[0 1]"},
    {"[^]a]+", "abcd", "NOMATCH"},
    {"[^]a]+", "\xff""", "[0 1]"},
    {"[^]a]+", "{2}", "[0 3]"},
    {"[^]a]+", "\xe2""\x98""\xba""", "[0 3]"},
    {"[^]a]+", "123", "[0 3]"},
    {"[^]a]+", "\xed""\xa0""\x80""", "[0 3]"},
    {"[^]a]+", "xyz", "[0 3]"},
    {"[a-z-0]", " \x09""\x0a""", "NOMATCH"},
    {"[a-z-0]", "-", "[0 1]"},
    {"[a-z-0]", "z", "[0 1]"},
    {"[a-z-0]", "x", "[0 1]"},
    {"[a-z-0]", "abcd", "NOMATCH"},
    {"[a-z-0]", "\xed""\xa0""\x80""", "NOMATCH"},
    {"[\\d-z]", " \x09""\x0a""", "NOMATCH"},
    {"[\\d-z]", "-", "[0 1]"},
    {"[\\d-z]", "z", "[0 1]"},
    {"[\\d-z]", "abcd", "NOMATCH"},
    {"[\\d-z]", "\xed""\xa0""\x80""", "NOMATCH"},
    {"[[:^digit:]]+", "foo", "[0 3]"},
    {"[[:^digit:]]+", "foo;bar", "[0 7]"},
    {"[[:^digit:]]+", "aa", "[0 2]"},
    {"[[:^digit:]]+", "aaa", "[0 3]"},
    {"[[:^digit:]]+", "\x0b""", "[0 1]"},
    {"[[:^digit:]]+", " \x09""\x0a""", "[0 3]"},
    {"[[:^digit:]]+", "a.b", "[0 3]"},
    {"[[:^digit:]]+", "]a", "[0 2]"},
    {"[[:^digit:]]+", "-", "[0 1]"},
    {"[[:^digit:]]+", "z", "[0 1]"},
    {"[[:^digit:]]+", "\xc3""\xa9""", "[0 2]"},
    {"[[:^digit:]]+", "\xc3""\x89""\xc3""\xa9""", "[0 4]"},
    {"[[:^digit:]]+", "\xce""\xb1""\xce""\xb2""\xce""\xb3""", "[0 6]"},
    {"[[:^digit:]]+", "a\x0a""b", "[0 3]"},
    {"[[:^digit:]]+", "b\x0a""", "[0 2]"},
    {"[[:^digit:]]+", "\x0a""", "[0 1]"},
    {"[[:^digit:]]+", "x", "[0 1]"},
    {"[[:^digit:]]+", "abcd", "[0 4]"},
    {"[[:^digit:]]+", "a\xff""b", "[0 3]"},
    {"[[:^digit:]]+", "\xff""", "[0 1]"},
    {"[[:^digit:]]+", "\xe2""\x98""\xba""", "[0 3]"},
    {"[[:^digit:]]+", "a b", "[0 3]"},
    {"[[:^digit:]]+", "\xed""\xa0""\x80""", "[0 3]"},
    {"[[:^digit:]]+", "xyz", "[0 3]"},
    {"[[:^digit:]]+", "ab", "[0 2]"},
    {"\\pL+", "", "NOMATCH"},
    {"\\pL+", "foo", "[0 3]"},
    {"\\pL+", "aa", "[0 2]"},
    {"\\pL+", "aaa", "[0 3]"},
    {"\\pL+", "z", "[0 1]"},
    {"\\pL+", "\xc3""\xa9""", "[0 2]"},
    {"\\pL+", "\xc3""\x89""\xc3""\xa9""", "[0 4]"},
    {"\\pL+", "\xce""\xb1""\xce""\xb2""\xce""\xb3""", "[0 6]"},
    {"\\pL+", "b\x0a""", "NOMATCH"},
    {"\\pL+", "x", "[0 1]"},
    {"\\pL+", "abcd", "[0 4]"},
    {"\\pL+", "\xed""\xa0""\x80""", "NOMATCH"},
    {"\\pL+", "xyz", "[0 3]"},
    {"\\pL+", "ab", "[0 2]"},
    {"\\p{Greek}+", " \x09""\x0a""", "NOMATCH"},
    {"\\p{Greek}+", "\xce""\xb1""\xce""\xb2""\xce""\xb3""", "[0 6]"},
    {"\\p{Greek}+", "b\x0a""", "NOMATCH"},
    {"\\p{Greek}+", "\xe2""\x98""\xba""", "NOMATCH"},
    {"(?i:\xc3""\x89"")", "aa", "NOMATCH"},
    {"(?i:\xc3""\x89"")", "\xc3""\xa9""", "[0 2]"},
    {"(?i:\xc3""\x89"")", "\xc3""\x89""\xc3""\xa9""", "NOMATCH"},
    {"(?i:\xc3""\x89"")", "{2}", "NOMATCH"},
    {"(?m)^b$", "", "NOMATCH"},
    {"(?m)^b$", "-", "NOMATCH"},
    {"(?m)^b$", "abcd", "NOMATCH"},
    {"(?m)^b$", "\xed""\xa0""\x80""", "NOMATCH"},
    {".", "\x0b""", "[0 1]"},
    {".", " \x09""\x0a""", "NOMATCH"},
    {".", "-", "[0 1]"},
    {".", "z", "[0 1]"},
    {".", "\xc3""\xa9""", "[0 2]"},
    {".", "\x0a""", "[0 1]"},
    {".", "x", "[0 1]"},
    {".", "abcd", "NOMATCH"},
    {".", "\xff""", "[0 1]"},
    {".", "\xe2""\x98""\xba""", "[0 3]"},
    {"(?U)a+", "", "NOMATCH"},
    {"(?U)a+", "aa", "[0 2]"},
    {"(?U)a+", "aaa", "[0 3]"},
    {"(?U)a+", "\xc3""\x89""\xc3""\xa9""", "NOMATCH"},
    {"(?U)a+", "{2}", "NOMATCH"},
    {"\\b", "", "NOMATCH"},
    {"\\b", "-", "NOMATCH"},
    {"\\b", "abcd", "NOMATCH"},
    {"\\b", "\xed""\xa0""\x80""", "NOMATCH"},
    {"\\x{263a}", " \x09""\x0a""", "NOMATCH"},
    {"\\x{263a}", "b\x0a""", "NOMATCH"},
    {"\\x{263a}", "\xe2""\x98""\xba""", "[0 3]"},
    {"\\x{263a}", "\xed""\xa0""\x80""", "NOMATCH"},
    {"a)|(b", "aa", "[0 1 -1 -1]"},
    {"a)|(b", "aaa", "[0 1 -1 -1]"},
    {"a)|(b", "a.b", "[0 1 -1 -1]"},
    {"a)|(b", "-", "NOMATCH"},
    {"a)|(b", "a\x0a""b", "[0 1 -1 -1]"},
    {"a)|(b", "abcd", "[0 1 -1 -1]"},
    {"a)|(b", "a\xff""b", "[0 1 -1 -1]"},
    {"a)|(b", "{2}", "NOMATCH"},
    {"a)|(b", "a{,2}", "[0 1 -1 -1]"},
    {"a)|(b", "a{01}", "[0 1 -1 -1]"},
    {"a)|(b", "a b", "[0 1 -1 -1]"},
    {"a)|(b", "ab", "[0 1 -1 -1]"},
    {"\\ ", "", "NOMATCH"},
    {"\\ ", "-", "NOMATCH"},
    {"\\ ", "abcd", "NOMATCH"},
    {"\\ ", "\xed""\xa0""\x80""", "NOMATCH"},
    {"\xc3""\xa9""+", " \x09""\x0a""", "NOMATCH"},
    {"\xc3""\xa9""+", "\xc3""\xa9""", "[0 2]"},
    {"\xc3""\xa9""+", "b\x0a""", "NOMATCH"},
    {"\xc3""\xa9""+", "\xe2""\x98""\xba""", "NOMATCH"},
    {"[^a]", "aa", "NOMATCH"},
    {"[^a]", "\x0b""", "[0 1]"},
    {"[^a]", "-", "[0 1]"},
    {"[^a]", "z", "[0 1]"},
    {"[^a]", "\xc3""\xa9""", "[0 2]"},
    {"[^a]", "b\x0a""", "NOMATCH"},
    {"[^a]", "\x0a""", "[0 1]"},
    {"[^a]", "x", "[0 1]"},
    {"[^a]", "\xff""", "[0 1]"},
    {"[^a]", "\xe2""\x98""\xba""", "[0 3]"},
    {"[^a]", "\xed""\xa0""\x80""", "NOMATCH"},
    {"(a|ab)(c|bcd)(d*)", " \x09""\x0a""", "NOMATCH"},
    {"(a|ab)(c|bcd)(d*)", "b\x0a""", "NOMATCH"},
    {"(a|ab)(c|bcd)(d*)", "abcd", "[0 4 0 1 1 4 4 4]"},
    {"(a|ab)(c|bcd)(d*)", "\xed""\xa0""\x80""", "NOMATCH"},
    {"(?P<n>x)", " \x09""\x0a""", "NOMATCH"},
    {"(?P<n>x)", "b\x0a""", "NOMATCH"},
    {"(?P<n>x)", "x", "[0 1 0 1]"},
    {"(?P<n>x)", "\xe2""\x98""\xba""", "NOMATCH"},
    {"{", "aa", "NOMATCH"},
    {"{", "\xc3""\x89""\xc3""\xa9""", "NOMATCH"},
    {"{", "{2}", "NOMATCH"},
    {"a{", "", "NOMATCH"},
    {"a{", "-", "NOMATCH"},
    {"a{", "abcd", "NOMATCH"},
    {"a{", "\xed""\xa0""\x80""", "NOMATCH"},
    {"a$", " \x09""\x0a""", "NOMATCH"},
    {"a$", "b\x0a""", "NOMATCH"},
    {"a$", "\xe2""\x98""\xba""", "NOMATCH"},
    {"x*y*z*", "", "[0 0]"},
    {"x*y*z*", " \x09""\x0a""", "NOMATCH"},
    {"x*y*z*", "z", "[0 1]"},
    {"x*y*z*", "b\x0a""", "NOMATCH"},
    {"x*y*z*", "x", "[0 1]"},
    {"x*y*z*", "\xe2""\x98""\xba""", "NOMATCH"},
    {"x*y*z*", "xyz", "[0 3]"},
    {"\\Q\\E", "", "[0 0]"},
    {"\\Q\\E", " \x09""\x0a""", "NOMATCH"},
    {"\\Q\\E", "b\x0a""", "NOMATCH"},
    {"\\Q\\E", "\xe2""\x98""\xba""", "NOMATCH"},
    {"a\\Q*\\E", "aa", "NOMATCH"},
    {"a\\Q*\\E", "\xc3""\x89""\xc3""\xa9""", "NOMATCH"},
    {"a\\Q*\\E", "{2}", "NOMATCH"},
};

static void t_re2_semantics_vs_go(void)
{
    pcre2_match_context *mc = kiln_relabel_match_context(1000000);
    for (size_t i = 0; i < sizeof go_table / sizeof go_table[0]; i++) {
        kiln_relabel_re re;
        kiln_err err;
        char got[256];
        if (kiln_relabel_re_compile(&re, go_table[i].re, KILN_RE_PROMETHEUS, &err) != KILN_OK) {
            snprintf(got, sizeof got, "ERR");
        } else {
            kiln_relabel_matcher m;
            kiln_relabel_matcher_init(&m, re.ncap + 1, mc);
            if (!kiln_relabel_re_match(&re, &m, go_table[i].subject, strlen(go_table[i].subject))) {
                snprintf(got, sizeof got, "NOMATCH");
            } else {
                size_t w = 0;
                w += (size_t)snprintf(got + w, sizeof got - w, "[");
                for (uint32_t k = 0; k < 2 * (re.ncap + 1) && w < sizeof got; k++)
                    w += (size_t)snprintf(got + w, sizeof got - w, k ? " %ld" : "%ld",
                                          m.ov[k] == PCRE2_UNSET ? -1L : (long)m.ov[k]);
                if (w < sizeof got) snprintf(got + w, sizeof got - w, "]");
            }
            kiln_relabel_matcher_free(&m);
            kiln_relabel_re_free(&re);
        }
        if (strcmp(got, go_table[i].go) != 0)
            test_fail(__FILE__, __LINE__, "/%s/ on \"%s\": got %s, Go gives %s", go_table[i].re,
                      go_table[i].subject, got, go_table[i].go);
    }
    pcre2_match_context_free(mc);
}

/* hashmod: the numbers Go computes (processors/relabel/tests/ref/expected.txt,
 * `H <modulus> <hex input> <value>` lines, from crypto/md5 exactly as
 * Prometheus does), plus the two from Prometheus's own tests. */
static void t_hashmod_vs_go(void)
{
    CHECK_EQ_INT(kiln_relabel_hashmod("baz", 3, 1000), 976);
    CHECK_EQ_INT(kiln_relabel_hashmod("foo\nbar", 7, 1000), 734);
    char path[4096];
    const char *src = getenv("KILN_SRC");
    snprintf(path, sizeof path, "%s/processors/relabel/tests/ref/expected.txt", src ? src : ".");
    size_t len;
    char *txt = (char *)test_read_file(path, &len);
    CHECK(txt != NULL);
    if (!txt) return;
    int n = 0;
    for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] != 'H' || line[1] != ' ') continue;
        unsigned long long mod, want;
        char hex[1024] = "";
        /* an empty input prints as two spaces */
        if (sscanf(line, "H %llu %1023[0-9a-f] %llu", &mod, hex, &want) != 3) {
            if (sscanf(line, "H %llu  %llu", &mod, &want) != 2) continue;
            hex[0] = 0;
        }
        char in[512];
        size_t il = strlen(hex) / 2;
        for (size_t i = 0; i < il; i++) {
            unsigned v;
            sscanf(hex + 2 * i, "%2x", &v);
            in[i] = (char)v;
        }
        if (kiln_relabel_hashmod(in, il, mod) != (uint64_t)want)
            test_fail(__FILE__, __LINE__, "hashmod(%s, %llu) != %llu", hex, mod, want);
        n++;
    }
    CHECK_EQ_INT(n, 9);
    free(txt);
}

static void t_md5_vectors(void)
{
    static const struct {
        const char *in, *hex;
    } v[] = {{"", "d41d8cd98f00b204e9800998ecf8427e"},
             {"a", "0cc175b9c0f1b6a831c399e269772661"},
             {"abc", "900150983cd24fb0d6963f7d28e17f72"},
             {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
             {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
             {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
              "57edf4a22be3c955ac49da2e2107b67a"}}; /* RFC 1321, appendix A.5 */
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t h[16];
        char hex[33];
        kiln_relabel_md5(v[i].in, strlen(v[i].in), h);
        for (int k = 0; k < 16; k++) snprintf(hex + 2 * k, 3, "%02x", h[k]);
        CHECK_EQ_STR(hex, v[i].hex);
    }
}

/* Go's strings.ToLower/ToUpper: Unicode simple case mapping; invalid bytes
 * become U+FFFD (Go prints strings.ToUpper("a\xffb") as "A\uFFFDB"). */
static void t_case_mapping(void)
{
    kiln_relabel_rules rs;
    kiln_err err;
    CHECK_EQ_INT(kiln_relabel_rules_parse(&rs, NULL, 0, &err), KILN_OK);
    rs.ctype = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    kiln_arena *a = kiln_arena_new(0);
    CHECK_EQ_STR(kiln_relabel_case(&rs, "ÉCOLE Ωmega", strlen("ÉCOLE Ωmega"), 0, a), "école ωmega");
    CHECK_EQ_STR(kiln_relabel_case(&rs, "straße ǅ", strlen("straße ǅ"), 1, a), "STRAßE Ǆ");
    CHECK_EQ_STR(kiln_relabel_case(&rs, "a\xff" "b", 3, 1, a), "A\xef\xbf\xbd" "B");
    CHECK_EQ_STR(kiln_relabel_case(&rs, "MiXeD_123", 9, 0, a), "mixed_123");
    kiln_arena_destroy(a);
    kiln_relabel_rules_free(&rs);
}

/* A subject that is not UTF-8 is matched as Go reads it, and captures are
 * offsets into the original bytes. */
static void t_invalid_utf8_subject(void)
{
    const char *yaml = "relabel_configs:\n  - source_labels: [a]\n    regex: '(.)(.*)'\n"
                       "    target_label: first\n    replacement: '$$1'\n"
                       "  - source_labels: [a]\n    regex: '.\\x{FFFD}(b)'\n    target_label: third\n";
    rt t;
    kiln_err err;
    CHECK_EQ_INT(rt_open(&t, yaml, &err), KILN_OK);
    if (!t.st) return;
    const char *kv[] = {"a", "a\xff" "b", NULL};
    kiln_batch *b = one_profile(kv, NULL);
    CHECK_EQ_INT(PL.consume(t.st, b, &err), KILN_OK);
    CHECK_EQ_STR(kiln_labels_get(&b->v[0].labels, "first"), "a");
    CHECK_EQ_STR(kiln_labels_get(&b->v[0].labels, "third"), "b");
    kiln_batch_unref(b);
    rt_close(&t);
}

/* A match that exceeds regex_match_limit counts as no match, and is counted. */
static void t_match_limit(void)
{
    const char *yaml = "regex_match_limit: 1000\nrelabel_configs:\n"
                       "  - source_labels: [a]\n    regex: '(a|aa)*[bc]'\n    action: drop\n"
                       "  - source_labels: [a]\n    regex: '(a|aa)*[bc]'\n    target_label: hit\n";
    rt t;
    kiln_err err;
    CHECK_EQ_INT(rt_open(&t, yaml, &err), KILN_OK);
    if (!t.st) return;
    const char *kv[] = {"a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL};
    kiln_batch *b = one_profile(kv, NULL);
    CHECK_EQ_INT(PL.consume(t.st, b, &err), KILN_OK);
    CHECK(!(b->v[0].flags & KILN_PROFILE_DROPPED));
    CHECK(kiln_labels_get(&b->v[0].labels, "hit") == NULL);
    CHECK_EQ_INT(mock_host_counter(t.m, "relabel_regex_limit_total"), 2);
    kiln_batch_unref(b);
    rt_close(&t);
    /* with the default budget the match completes: a shorter value ending in b is dropped */
    CHECK_EQ_INT(rt_open(&t, yaml + strlen("regex_match_limit: 1000\n"), &err), KILN_OK);
    if (!t.st) return;
    const char *kv2[] = {"a", "aaaaaaaaaaaab", NULL};
    b = one_profile(kv2, NULL);
    CHECK_EQ_INT(PL.consume(t.st, b, &err), KILN_OK);
    CHECK(b->v[0].flags & KILN_PROFILE_DROPPED);
    CHECK_EQ_INT(mock_host_counter(t.m, "relabel_regex_limit_total"), 0);
    kiln_batch_unref(b);
    rt_close(&t);
}

int main(void)
{
    RUN(t_positions);
    RUN(t_full_config_path);
    RUN(t_prometheus_validation);
    RUN(t_legacy_target_validity);
    RUN(t_re2_only);
    RUN(t_re2_semantics_vs_go);
    RUN(t_hashmod_vs_go);
    RUN(t_md5_vectors);
    RUN(t_case_mapping);
    RUN(t_invalid_utf8_subject);
    RUN(t_match_limit);
    return test_summary();
}
