/* Plugin test: the relabel processor against Prometheus's relabel semantics.
 *
 * The table restates, in kiln's YAML, the inputs and expected outputs of
 * Prometheus's own relabel tests (model/relabel/relabel_test.go: TestRelabel
 * and TestRelabelValidate, Prometheus 3 with UTF-8 label names), plus cases
 * for the defaults, separators, anchoring and Go's template expansion.
 * Every case goes through the real config layer (YAML -> validate -> create)
 * and consume, against the mock core. `$` is doubled before loading, since
 * kiln's YAML expands ${ENV} (users write $$ the same way).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relabel_test_util.h"

typedef struct pcase {
    const char *name;
    const char *in[24];
    const char *rules; /* the items of relabel_configs, as YAML */
    const char *out[24];
    int drop;
} pcase;

static const pcase cases[] = {
    {"replace with ${1} twice",
     {"a", "foo", "b", "bar", "c", "baz", NULL},
     "- source_labels: [a]\n  regex: 'f(.*)'\n  target_label: d\n  separator: ';'\n"
     "  replacement: 'ch${1}-ch${1}'\n  action: replace\n",
     {"a", "foo", "b", "bar", "c", "baz", "d", "choo-choo", NULL}, 0},
    {"two sources, then a rule reading the first one's output",
     {"a", "foo", "b", "bar", "c", "baz", NULL},
     "- source_labels: [a, b]\n  regex: 'f(.*);(.*)r'\n  target_label: a\n  separator: ';'\n"
     "  replacement: 'b${1}${2}m'\n  action: replace\n"
     "- source_labels: [c, a]\n  regex: '(b).*b(.*)ba(.*)'\n  target_label: d\n  separator: ';'\n"
     "  replacement: '$1$2$2$3'\n  action: replace\n",
     {"a", "boobam", "b", "bar", "c", "baz", "d", "boooom", NULL}, 0},
    {"drop ends processing",
     {"a", "foo", NULL},
     "- source_labels: [a]\n  regex: '.*o.*'\n  action: drop\n"
     "- source_labels: [a]\n  regex: 'f(.*)'\n  target_label: d\n  separator: ';'\n"
     "  replacement: 'ch$1-ch$1'\n  action: replace\n",
     {NULL}, 1},
    {"drop matching",
     {"a", "foo", "b", "bar", NULL},
     "- source_labels: [a]\n  regex: '.*o.*'\n  action: drop\n", {NULL}, 1},
    {"replace with a group in the middle",
     {"a", "abc", NULL},
     "- source_labels: [a]\n  regex: '.*(b).*'\n  target_label: d\n  separator: ';'\n"
     "  replacement: '$1'\n  action: replace\n",
     {"a", "abc", "d", "b", NULL}, 0},
    {"drop not matching",
     {"a", "foo", NULL}, "- source_labels: [a]\n  regex: no-match\n  action: drop\n",
     {"a", "foo", NULL}, 0},
    {"drop is anchored (f|o does not match foo)",
     {"a", "foo", NULL}, "- source_labels: [a]\n  regex: 'f|o'\n  action: drop\n",
     {"a", "foo", NULL}, 0},
    {"keep not matching drops",
     {"a", "foo", NULL}, "- source_labels: [a]\n  regex: no-match\n  action: keep\n", {NULL}, 1},
    {"keep matching",
     {"a", "foo", NULL}, "- source_labels: [a]\n  regex: 'f.*'\n  action: keep\n",
     {"a", "foo", NULL}, 0},
    {"no replacement without a match",
     {"a", "boo", NULL},
     "- source_labels: [a]\n  regex: f\n  target_label: b\n  replacement: bar\n  action: replace\n",
     {"a", "boo", NULL}, 0},
    {"blank replacement deletes the target",
     {"a", "foo", "f", "baz", NULL},
     "- source_labels: [a]\n  regex: '(f).*'\n  target_label: '$1'\n  replacement: '$2'\n"
     "  action: replace\n",
     {"a", "foo", NULL}, 0},
    {"hashmod 1000 of baz",
     {"a", "foo", "b", "bar", "c", "baz", NULL},
     "- source_labels: [c]\n  target_label: d\n  separator: ';'\n  action: hashmod\n  modulus: 1000\n",
     {"a", "foo", "b", "bar", "c", "baz", "d", "976", NULL}, 0},
    {"hashmod 1000 of a value with a newline",
     {"a", "foo\nbar", NULL},
     "- source_labels: [a]\n  target_label: b\n  separator: ';'\n  action: hashmod\n  modulus: 1000\n",
     {"a", "foo\nbar", "b", "734", NULL}, 0},
    {"labelmap with ${1}",
     {"a", "foo", "b1", "bar", "b2", "baz", NULL},
     "- regex: '(b.*)'\n  replacement: 'bar_${1}'\n  action: labelmap\n",
     {"a", "foo", "b1", "bar", "b2", "baz", "bar_b1", "bar", "bar_b2", "baz", NULL}, 0},
    {"labelmap of __meta_ labels",
     {"a", "foo", "__meta_my_bar", "aaa", "__meta_my_baz", "bbb", "__meta_other", "ccc", NULL},
     "- regex: '__meta_(my.*)'\n  replacement: '${1}'\n  action: labelmap\n",
     {"a", "foo", "__meta_my_bar", "aaa", "__meta_my_baz", "bbb", "__meta_other", "ccc", "my_bar",
      "aaa", "my_baz", "bbb", NULL},
     0},
    {"target_label from a group",
     {"a", "some-name-value", NULL},
     "- source_labels: [a]\n  regex: 'some-([^-]+)-([^,]+)'\n  action: replace\n"
     "  replacement: '${2}'\n  target_label: '${1}'\n",
     {"a", "some-name-value", "name", "value", NULL}, 0},
    {"replacement of a missing group is empty: nothing set",
     {"a", "some-name-value", NULL},
     "- source_labels: [a]\n  regex: 'some-([^-]+)-([^,]+)'\n  action: replace\n"
     "  replacement: '${3}'\n  target_label: '${1}'\n",
     {"a", "some-name-value", NULL}, 0},
    {"a target expanding to nothing is skipped",
     {"a", "some-name-0", NULL},
     "- source_labels: [a]\n  regex: 'some-([^-]+)-([^,]+)'\n  action: replace\n"
     "  replacement: '${1}'\n  target_label: '${3}'\n"
     "- source_labels: [a]\n  regex: 'some-([^-]+)-([^,]+)'\n  action: replace\n"
     "  replacement: '${1}'\n  target_label: '${3}'\n"
     "- source_labels: [a]\n  regex: 'some-([^-]+)(-[^,]+)'\n  action: replace\n"
     "  replacement: '${1}'\n  target_label: '${3}'\n",
     {"a", "some-name-0", NULL}, 0},
    {"service discovery tags, real-life style",
     {"__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar", NULL},
     "- source_labels: [__meta_sd_tags]\n  regex: '(?:.+,|^)path:(/[^,]+).*'\n  action: replace\n"
     "  replacement: '${1}'\n  target_label: __metrics_path__\n"
     "- source_labels: [__meta_sd_tags]\n  regex: '(?:.+,|^)job:([^,]+).*'\n  action: replace\n"
     "  replacement: '${1}'\n  target_label: job\n"
     "- source_labels: [__meta_sd_tags]\n  regex: '(?:.+,|^)label:([^=]+)=([^,]+).*'\n"
     "  action: replace\n  replacement: '${2}'\n  target_label: '${1}'\n",
     {"__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar", "__metrics_path__", "/secret",
      "job", "some-job", "foo", "bar", NULL},
     0},
    {"labeldrop, then replace the same name, then keep on it (prometheus#12283)",
     {"__meta_kubernetes_pod_container_port_name", "foo",
      "__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091", NULL},
     "- regex: '^__meta_kubernetes_pod_container_port_name$'\n  action: labeldrop\n"
     "- source_labels: [__meta_kubernetes_pod_annotation_XXX_metrics_port]\n  regex: '(.+)'\n"
     "  action: replace\n  replacement: metrics\n"
     "  target_label: __meta_kubernetes_pod_container_port_name\n"
     "- source_labels: [__meta_kubernetes_pod_container_port_name]\n  regex: '^metrics$'\n"
     "  action: keep\n",
     {"__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091",
      "__meta_kubernetes_pod_container_port_name", "metrics", NULL},
     0},
    {"labelkeep",
     {"a", "foo", "b1", "bar", "b2", "baz", NULL}, "- regex: '(b.*)'\n  action: labelkeep\n",
     {"b1", "bar", "b2", "baz", NULL}, 0},
    {"labeldrop",
     {"a", "foo", "b1", "bar", "b2", "baz", NULL}, "- regex: '(b.*)'\n  action: labeldrop\n",
     {"a", "foo", NULL}, 0},
    {"uppercase and lowercase",
     {"foo", "bAr123Foo", NULL},
     "- source_labels: [foo]\n  action: uppercase\n  target_label: foo_uppercase\n"
     "- source_labels: [foo]\n  action: lowercase\n  target_label: foo_lowercase\n",
     {"foo", "bAr123Foo", "foo_lowercase", "bar123foo", "foo_uppercase", "BAR123FOO", NULL}, 0},
    {"keepequal, equal: kept",
     {"__tmp_port", "1234", "__port1", "1234", "__port2", "5678", NULL},
     "- source_labels: [__tmp_port]\n  action: keepequal\n  target_label: __port1\n",
     {"__tmp_port", "1234", "__port1", "1234", "__port2", "5678", NULL}, 0},
    {"dropequal, equal: dropped",
     {"__tmp_port", "1234", "__port1", "1234", "__port2", "5678", NULL},
     "- source_labels: [__tmp_port]\n  action: dropequal\n  target_label: __port1\n", {NULL}, 1},
    {"dropequal, different: kept",
     {"__tmp_port", "1234", "__port1", "1234", "__port2", "5678", NULL},
     "- source_labels: [__tmp_port]\n  action: dropequal\n  target_label: __port2\n",
     {"__tmp_port", "1234", "__port1", "1234", "__port2", "5678", NULL}, 0},
    {"keepequal, different: dropped",
     {"__tmp_port", "1234", "__port1", "1234", "__port2", "5678", NULL},
     "- source_labels: [__tmp_port]\n  action: keepequal\n  target_label: __port2\n", {NULL}, 1},
    {"'.' matches a newline (Prometheus anchors with (?s:...))",
     {"a", "line1\nline2", "b", "bar", "c", "baz", NULL},
     "- source_labels: [a]\n  regex: 'line1.*line2'\n  target_label: d\n  separator: ';'\n"
     "  replacement: 'match${1}'\n  action: replace\n",
     {"a", "line1\nline2", "b", "bar", "c", "baz", "d", "match", NULL}, 0},
    {"UTF-8 source label name",
     {"utf-8.label", "line1\nline2", "b", "bar", "c", "baz", NULL},
     "- source_labels: [utf-8.label]\n  regex: 'line1.*line2'\n  target_label: d\n"
     "  separator: ';'\n  replacement: 'match${1}'\n  action: replace\n",
     {"utf-8.label", "line1\nline2", "b", "bar", "c", "baz", "d", "match", NULL}, 0},
    {"UTF-8 target label name",
     {"a", "line1\nline2", "b", "bar", "c", "baz", NULL},
     "- source_labels: [a]\n  regex: 'line1.*line2'\n  target_label: utf-8.label\n"
     "  separator: ';'\n  replacement: 'match${1}'\n  action: replace\n",
     {"a", "line1\nline2", "b", "bar", "c", "baz", "utf-8.label", "match", NULL}, 0},
    {"UTF-8 target label name with a variable",
     {"a", "line1\nline2", "b", "bar", "c", "baz", NULL},
     "- source_labels: [a]\n  regex: 'line1.*line2'\n  target_label: 'utf-8.label${1}'\n"
     "  separator: ';'\n  replacement: 'match${1}'\n  action: replace\n",
     {"a", "line1\nline2", "b", "bar", "c", "baz", "utf-8.label", "match", NULL}, 0},
    {"named groups, ${name} and $name",
     {"a", "line1\nline2", "b", "bar", "c", "baz", NULL},
     "- source_labels: [a]\n  regex: '(line1).*(?<second>line2)'\n  target_label: 'label1_${1}'\n"
     "  separator: ';'\n  replacement: 'val_${second}'\n  action: replace\n"
     "- source_labels: [a]\n  regex: '(line1).*(?<second>line2)'\n  target_label: 'label2_$1'\n"
     "  separator: ';'\n  replacement: 'val_$second'\n  action: replace\n",
     {"a", "line1\nline2", "b", "bar", "c", "baz", "label1_line1", "val_line2", "label2_line1",
      "val_line2", NULL},
     0},
    {"__name__ to __type__",
     {"__name__", "http_requests_total", NULL},
     "- source_labels: [__name__]\n  regex: '.*_total$'\n  target_label: __type__\n"
     "  replacement: counter\n  action: replace\n",
     {"__name__", "http_requests_total", "__type__", "counter", NULL}, 0},
    {"__name__ to __unit__",
     {"__name__", "disk_usage_bytes", NULL},
     "- source_labels: [__name__]\n  regex: '.*_bytes$'\n  target_label: __unit__\n"
     "  replacement: bytes\n  action: replace\n",
     {"__name__", "disk_usage_bytes", "__unit__", "bytes", NULL}, 0},

    /* ---- beyond Prometheus's table: defaults, separators, templates ---- */
    {"all defaults: copy a label (regex (.*), replacement $1, action replace)",
     {"a", "x", NULL}, "- source_labels: [a]\n  target_label: b\n", {"a", "x", "b", "x", NULL}, 0},
    {"default separator ';' and a missing source label reads as empty",
     {"a", "x", "c", "z", NULL}, "- source_labels: [a, b, c]\n  target_label: d\n",
     {"a", "x", "c", "z", "d", "x;;z", NULL}, 0},
    {"custom and empty separators",
     {"a", "x", "b", "y", NULL},
     "- source_labels: [a, b]\n  separator: '/'\n  target_label: s\n"
     "- source_labels: [a, b]\n  separator: ''\n  target_label: e\n",
     {"a", "x", "b", "y", "s", "x/y", "e", "xy", NULL}, 0},
    {"static label without source labels (fast path), and deleting one",
     {"a", "x", "gone", "1", NULL},
     "- target_label: cluster\n  replacement: dev-us-central-0\n"
     "- target_label: gone\n  replacement: ''\n",
     {"a", "x", "cluster", "dev-us-central-0", NULL}, 0},
    {"$1x names group \"1x\" (empty); ${1}x is group 1 then x; $$ is a dollar",
     {"a", "foo", NULL},
     "- source_labels: [a]\n  regex: '(f)oo'\n  target_label: t1\n  replacement: '$1x-'\n"
     "- source_labels: [a]\n  regex: '(f)oo'\n  target_label: t2\n  replacement: '${1}x'\n"
     "- source_labels: [a]\n  regex: '(f)oo'\n  target_label: t3\n  replacement: '$$1 costs $'\n"
     "- source_labels: [a]\n  regex: '(f)oo'\n  target_label: t4\n  replacement: '${1-x}${}$'\n",
     {"a", "foo", "t1", "-", "t2", "fx", "t3", "$1 costs $", "t4", "${1-x}${}$", NULL}, 0},
    {"$0 is the whole match; a non-participating group is empty",
     {"a", "foo", NULL},
     "- source_labels: [a]\n  regex: '(x)?(foo)'\n  target_label: t\n  replacement: '<$0|${1}|$2>'\n",
     {"a", "foo", "t", "<foo||foo>", NULL}, 0},
    {"anchoring: a partial match is no match",
     {"a", "xfooy", NULL},
     "- source_labels: [a]\n  regex: 'foo'\n  target_label: t\n  replacement: hit\n",
     {"a", "xfooy", NULL}, 0},
    {"anchoring survives alternation inside the pattern",
     {"a", "foo", NULL},
     "- source_labels: [a]\n  regex: 'fo|foo'\n  target_label: t\n  replacement: hit\n",
     {"a", "foo", "t", "hit", NULL}, 0},
    {"action names are case-insensitive",
     {"a", "Foo", NULL}, "- source_labels: [a]\n  action: LowerCase\n  target_label: b\n",
     {"a", "Foo", "b", "foo", NULL}, 0},
    {"lowercase of non-ASCII (Unicode case mapping, as Go)",
     {"a", "ÉCOLE Ωmega", NULL}, "- source_labels: [a]\n  action: lowercase\n  target_label: b\n",
     {"a", "ÉCOLE Ωmega", "b", "école ωmega", NULL}, 0},
    {"uppercase of an empty value deletes the target",
     {"a", "x", "t", "old", NULL}, "- source_labels: [missing]\n  action: uppercase\n  target_label: t\n",
     {"a", "x", NULL}, 0},
    {"labelmap iterates the labels as they were when the rule started",
     {"x_a", "1", "x_b", "2", NULL},
     "- regex: 'x_(.*)'\n  replacement: 'x_x_$1'\n  action: labelmap\n",
     {"x_a", "1", "x_b", "2", "x_x_a", "1", "x_x_b", "2", NULL}, 0},
    {"labeldrop then labelmap: dropped labels are not mapped",
     {"__meta_a", "1", "__meta_b", "2", "k", "v", NULL},
     "- regex: '__meta_a'\n  action: labeldrop\n"
     "- regex: '__meta_(.*)'\n  action: labelmap\n"
     "- regex: '__meta_.*'\n  action: labeldrop\n",
     {"b", "2", "k", "v", NULL}, 0},
    {"reserved labels are labels like any other",
     {"__name__", "process_cpu", "service_name", "checkout", "pod", "p-1", NULL},
     "- source_labels: [__name__, service_name]\n  separator: '/'\n  target_label: __profile_key__\n"
     "- source_labels: [pod]\n  regex: 'p-(.*)'\n  target_label: pod_num\n",
     {"__name__", "process_cpu", "service_name", "checkout", "pod", "p-1", "__profile_key__",
      "process_cpu/checkout", "pod_num", "1", NULL},
     0},
    {"hashmod then keep on it (sharding)",
     {"__address__", "10.132.183.40:80", NULL},
     "- source_labels: [__address__]\n  target_label: __tmp_hash\n  modulus: 3\n  action: hashmod\n"
     "- source_labels: [__tmp_hash]\n  regex: '^1$'\n  action: keep\n"
     "- regex: __tmp_hash\n  action: labeldrop\n",
     {"__address__", "10.132.183.40:80", NULL}, 0},
    {"a label set back to its old value is no change",
     {"a", "x", NULL}, "- source_labels: [a]\n  target_label: a\n", {"a", "x", NULL}, 0},
};

static void run_case(const pcase *c)
{
    char *rules = dollars(c->rules);
    size_t n = strlen(rules) + 64;
    char *yaml = malloc(n);
    snprintf(yaml, n, "relabel_configs:\n%s", rules);
    rt t;
    kiln_err err;
    int rc = rt_open(&t, yaml, &err);
    if (rc != KILN_OK) {
        test_fail(__FILE__, __LINE__, "%s: config refused: %s", c->name, err.msg);
        free(rules);
        free(yaml);
        return;
    }
    kiln_batch *b = one_profile(c->in, NULL);
    rc = PL.consume(t.st, b, &err);
    CHECK_EQ_INT(rc, KILN_OK);
    kiln_profile *p = &b->v[0];
    int dropped = (p->flags & KILN_PROFILE_DROPPED) != 0;
    if (dropped != c->drop) test_fail(__FILE__, __LINE__, "%s: dropped=%d, want %d", c->name, dropped, c->drop);
    if (c->drop && dropped) {
        CHECK_EQ_STR(p->drop_reason, "relabel_dropped");
    } else if (!c->drop && !labels_are(&p->labels, c->out)) {
        test_fail(__FILE__, __LINE__, "%s: labels differ", c->name);
    }
    kiln_batch_unref(b);
    rt_close(&t);
    free(rules);
    free(yaml);
}

static void t_prometheus_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
}

/* The "static label pair" rules of Prometheus's benchmark: ${0} as a target
 * with an empty source is an empty name (skipped); as a replacement, empty
 * (the target is deleted, here: never set). */
static void t_benchmark_static_pairs(void)
{
    static const pcase c = {
        "benchmark: static label pairs",
        {"abcdefg01", "hijklmn1", "job", "foo", NULL},
        "- replacement: wwwwww\n  target_label: wwwwww\n"
        "- replacement: yyyyyyyyyyyy\n  target_label: xxxxxxxxx\n"
        "- replacement: xxxxxxxxx\n  target_label: yyyyyyyyyyyy\n"
        "- source_labels: ['something']\n  target_label: with_source_labels\n  replacement: value\n"
        "- replacement: dropped\n  target_label: '${0}'\n"
        "- replacement: '${0}'\n  target_label: dropped\n",
        {"abcdefg01", "hijklmn1", "job", "foo", "wwwwww", "wwwwww", "xxxxxxxxx", "yyyyyyyyyyyy",
         "yyyyyyyyyyyy", "xxxxxxxxx", "with_source_labels", "value", NULL},
        0};
    run_case(&c);
}

/* Prometheus's conf.good.yml example: `regex:` with no value is the empty
 * regex (it matches only an empty string), not the default; the first rule's
 * regex must match the whole "foo;example-some-x.com" and does not. */
static void t_benchmark_example(void)
{
    static const pcase c = {
        "benchmark: example",
        {"__meta_dns_name", "example-some-x.com", "abc", "def", "job", "foo", NULL},
        "- source_labels: [job, __meta_dns_name]\n  regex: '(.*)some-[regex]'\n  target_label: job\n"
        "  replacement: 'foo-${1}'\n"
        "- source_labels: [abc]\n  target_label: cde\n"
        "- replacement: static\n  target_label: abc\n"
        "- regex:\n  replacement: static\n  target_label: abc\n",
        {"__meta_dns_name", "example-some-x.com", "abc", "static", "cde", "def", "job", "foo", NULL},
        0};
    run_case(&c);
}

int main(void)
{
    RUN(t_prometheus_table);
    RUN(t_benchmark_static_pairs);
    RUN(t_benchmark_example);
    return test_summary();
}
