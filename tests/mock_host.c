/* tests/mock_host.c — see mock_host.h. */
#include "mock_host.h"
#include "kiln_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MOCK_MAX 64

typedef struct mock_route {
    char path[256];
    int prefix;
    int64_t max_body;
    kiln_http_handler fn;
    void *arg;
} mock_route;

typedef struct mock_metric {
    char name[128];
    char labels[256];
    kiln_counter c;
    kiln_gauge g;
} mock_metric;

struct kiln_http_req {
    const char *method;
    char path[1024];
    char *qk[MOCK_MAX], *qv[MOCK_MAX];
    size_t nq;
    const char **headers;
    uint8_t *body;
    size_t len;
    mock_http_reply *out;
};

struct mock_host {
    kiln_host host;
    char id[128], kind[32];
    mock_route routes[MOCK_MAX];
    size_t nroutes;
    kiln_batch *batches[1024];
    size_t nbatches;
    int immediate, deferred;
    char *log;
    size_t loglen;
    mock_metric metrics[MOCK_MAX];
    size_t nmetrics;
    uint64_t dropped;
    char *exporters[64];
    size_t n_exporters;
    char *reg_names[MOCK_MAX];
    void *reg_objs[MOCK_MAX];
    size_t n_reg;
};

static mock_host *M(kiln_host *h) { return (mock_host *)h->core; }

static void m_vlog(kiln_host *h, int level, const char *fmt, va_list ap)
{
    mock_host *m = M(h);
    char line[2048];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = sizeof line - 1;
    char *nl = realloc(m->log, m->loglen + n + 2);
    if (!nl) return;
    m->log = nl;
    memcpy(m->log + m->loglen, line, n);
    m->loglen += n;
    m->log[m->loglen++] = '\n';
    m->log[m->loglen] = 0;
    if (getenv("MOCK_VERBOSE")) fprintf(stderr, "[%s %d] %s\n", h->id, level, line);
}

static int m_http_route(kiln_host *h, const char *endpoint, const char *method, const char *path,
                        const kiln_http_route_opts *opts, kiln_http_handler fn, void *arg,
                        kiln_err *err)
{
    mock_host *m = M(h);
    if (m->nroutes == MOCK_MAX) return kiln_err_set(err, KILN_ERR, "too many routes");
    mock_route *r = &m->routes[m->nroutes++];
    snprintf(r->path, sizeof r->path, "%s", path);
    r->prefix = opts ? opts->prefix : 0;
    r->max_body = opts && opts->max_body_bytes ? opts->max_body_bytes : 64 << 20;
    r->fn = fn;
    r->arg = arg;
    return KILN_OK;
}

static const char *m_method(kiln_http_req *r) { return r->method; }
static const char *m_path(kiln_http_req *r) { return r->path; }
static const char *m_query(kiln_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nq; i++)
        if (strcmp(r->qk[i], name) == 0) return r->qv[i];
    return NULL;
}
static const char *m_header(kiln_http_req *r, const char *name)
{
    for (size_t i = 0; r->headers && r->headers[i]; i += 2)
        if (strcasecmp(r->headers[i], name) == 0) return r->headers[i + 1];
    return NULL;
}
static int m_body(kiln_http_req *r, int take, uint8_t **data, size_t *len)
{
    *len = r->len;
    if (take) {
        *data = malloc(r->len ? r->len : 1);
        if (!*data) return KILN_ENOMEM;
        memcpy(*data, r->body, r->len);
    } else {
        *data = r->body;
    }
    return KILN_OK;
}
static void m_set_header(kiln_http_req *r, const char *name, const char *value)
{
    mock_http_reply *o = r->out;
    size_t n = strlen(o->headers);
    snprintf(o->headers + n, sizeof o->headers - n, "%s: %s\n", name, value);
}
static void m_reply(kiln_http_req *r, int status, const char *ct, const void *body, size_t len)
{
    mock_http_reply *o = r->out;
    o->replied++;
    o->status = status;
    snprintf(o->content_type, sizeof o->content_type, "%s", ct ? ct : "");
    free(o->body);
    o->body = malloc(len + 1);
    if (o->body) {
        if (len) memcpy(o->body, body, len);
        o->body[len] = 0;
    }
    o->len = len;
}

static int m_submit(kiln_host *h, kiln_batch *b, kiln_submit_cb cb, void *arg, kiln_err *err)
{
    mock_host *m = M(h);
    if (m->immediate != KILN_OK) {
        kiln_batch_unref(b);
        return kiln_err_set(err, m->immediate, "mock: submit refused");
    }
    if (m->nbatches < sizeof m->batches / sizeof m->batches[0])
        m->batches[m->nbatches++] = b;
    else
        kiln_batch_unref(b);
    kiln_err e;
    kiln_err_clear(&e);
    if (m->deferred != KILN_OK) kiln_err_set(&e, m->deferred, "mock: pipeline failed");
    cb(arg, m->deferred, &e);
    return KILN_OK;
}

static int m_call(kiln_host *h, void (*fn)(void *), void *arg)
{
    fn(arg);
    return KILN_OK;
}

static mock_metric *m_metric(mock_host *m, const char *name, const char *labels)
{
    if (!labels) labels = "";
    for (size_t i = 0; i < m->nmetrics; i++)
        if (strcmp(m->metrics[i].name, name) == 0 && strcmp(m->metrics[i].labels, labels) == 0)
            return &m->metrics[i];
    if (m->nmetrics == MOCK_MAX) return NULL;
    mock_metric *mm = &m->metrics[m->nmetrics++];
    snprintf(mm->name, sizeof mm->name, "%s", name);
    snprintf(mm->labels, sizeof mm->labels, "%s", labels);
    return mm;
}
static kiln_counter *m_counter(kiln_host *h, const char *name, const char *help, const char *labels)
{
    mock_metric *mm = m_metric(M(h), name, labels);
    return mm ? &mm->c : NULL;
}
static kiln_gauge *m_gauge(kiln_host *h, const char *name, const char *help, const char *labels)
{
    mock_metric *mm = m_metric(M(h), name, labels);
    return mm ? &mm->g : NULL;
}
static void m_dropped(kiln_host *h, const char *reason, uint64_t n) { M(h)->dropped += n; }

static void m_pipeline_exporters(kiln_host *h, const char *const **ids, size_t *n)
{
    mock_host *m = M(h);
    *ids = (const char *const *)m->exporters;
    *n = m->n_exporters;
}

static int m_publish(kiln_host *h, const char *name, void *obj, kiln_err *err)
{
    mock_host *m = M(h);
    for (size_t i = 0; i < m->n_reg; i++)
        if (strcmp(m->reg_names[i], name) == 0)
            return kiln_err_set(err, KILN_EINVAL, "\"%s\" is already published", name);
    if (m->n_reg == MOCK_MAX) return kiln_err_set(err, KILN_ENOMEM, "mock registry full");
    m->reg_names[m->n_reg] = strdup(name);
    m->reg_objs[m->n_reg] = obj;
    m->n_reg++;
    return KILN_OK;
}

static void *m_lookup(kiln_host *h, const char *name)
{
    mock_host *m = M(h);
    for (size_t i = 0; i < m->n_reg; i++)
        if (strcmp(m->reg_names[i], name) == 0) return m->reg_objs[i];
    return NULL;
}

static const kiln_host_vtbl mock_vtbl = {
    .size = sizeof(kiln_host_vtbl),
    .vlog = m_vlog,
    .http_route = m_http_route,
    .http_method = m_method,
    .http_path = m_path,
    .http_query = m_query,
    .http_header = m_header,
    .http_body = m_body,
    .http_set_header = m_set_header,
    .http_reply = m_reply,
    .submit = m_submit,
    .loop_call = m_call,
    .work = m_call,
    .counter = m_counter,
    .gauge = m_gauge,
    .count_dropped = m_dropped,
    .pipeline_exporters = m_pipeline_exporters,
    .publish = m_publish,
    .lookup = m_lookup,
};

mock_host *mock_host_new(const char *id, const char *kind)
{
    mock_host *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    snprintf(m->id, sizeof m->id, "%s", id);
    snprintf(m->kind, sizeof m->kind, "%s", kind);
    m->host.vt = &mock_vtbl;
    m->host.core = m;
    m->host.id = m->id;
    m->host.kind = m->kind;
    m->host.log_level = KILN_LOG_DEBUG;
    return m;
}

void mock_host_free(mock_host *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nbatches; i++) kiln_batch_unref(m->batches[i]);
    for (size_t i = 0; i < m->n_exporters; i++) free(m->exporters[i]);
    for (size_t i = 0; i < m->n_reg; i++) free(m->reg_names[i]);
    free(m->log);
    free(m);
}

kiln_host *mock_host_host(mock_host *m) { return &m->host; }
void mock_host_set_submit(mock_host *m, int immediate, int deferred)
{
    m->immediate = immediate;
    m->deferred = deferred;
}
size_t mock_host_nbatches(const mock_host *m) { return m->nbatches; }
kiln_batch *mock_host_batch(const mock_host *m, size_t i) { return i < m->nbatches ? m->batches[i] : NULL; }
const char *mock_host_log(const mock_host *m) { return m->log ? m->log : ""; }
uint64_t mock_host_counter(const mock_host *m, const char *name)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < m->nmetrics; i++)
        if (strcmp(m->metrics[i].name, name) == 0) sum += atomic_load(&m->metrics[i].c.v);
    return sum;
}

uint64_t mock_host_counter_labels(const mock_host *m, const char *name, const char *labels)
{
    for (size_t i = 0; i < m->nmetrics; i++)
        if (strcmp(m->metrics[i].name, name) == 0 && strcmp(m->metrics[i].labels, labels) == 0)
            return atomic_load(&m->metrics[i].c.v);
    return 0;
}
uint64_t mock_host_dropped(const mock_host *m) { return m->dropped; }

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char *url_decode(const char *s, size_t n)
{
    char *o = malloc(n + 1), *w = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *w++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (s[i] == '+') {
            *w++ = ' ';
        } else {
            *w++ = s[i];
        }
    }
    *w = 0;
    return o;
}

int mock_http_request(mock_host *m, const char *method, const char *target, const char **headers,
                      const void *body, size_t len, mock_http_reply *out)
{
    kiln_http_req r;
    memset(&r, 0, sizeof r);
    memset(out, 0, sizeof *out);
    r.method = method;
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    if (plen >= sizeof r.path) return -1;
    memcpy(r.path, target, plen);
    r.path[plen] = 0;
    mock_route *route = NULL;
    for (size_t i = 0; i < m->nroutes; i++) {
        mock_route *c = &m->routes[i];
        if (c->prefix ? strncmp(r.path, c->path, strlen(c->path)) == 0 : strcmp(r.path, c->path) == 0) {
            route = c;
            break;
        }
    }
    if (!route) return -1;
    if (q) {
        const char *p = q + 1;
        while (*p && r.nq < MOCK_MAX) {
            const char *amp = strchr(p, '&');
            size_t seg = amp ? (size_t)(amp - p) : strlen(p);
            const char *eq = memchr(p, '=', seg);
            size_t kl = eq ? (size_t)(eq - p) : seg;
            r.qk[r.nq] = url_decode(p, kl);
            r.qv[r.nq] = eq ? url_decode(eq + 1, seg - kl - 1) : url_decode("", 0);
            r.nq++;
            p += seg;
            if (*p == '&') p++;
        }
    }
    r.headers = headers;
    r.body = malloc(len ? len : 1);
    if (len) memcpy(r.body, body, len);
    r.len = len;
    r.out = out;
    if ((int64_t)len > route->max_body) {
        m_reply(&r, 413, "text/plain", "too large", 9);
    } else {
        route->fn(&r, route->arg);
    }
    for (size_t i = 0; i < r.nq; i++) {
        free(r.qk[i]);
        free(r.qv[i]);
    }
    free(r.body);
    return 0;
}

void mock_http_reply_free(mock_http_reply *r)
{
    free(r->body);
    r->body = NULL;
}

void mock_host_set_exporters(mock_host *m, const char *const *ids, size_t n)
{
    for (size_t i = 0; i < m->n_exporters; i++) free(m->exporters[i]);
    m->n_exporters = 0;
    for (size_t i = 0; i < n && i < 64; i++) m->exporters[m->n_exporters++] = strdup(ids[i]);
}

/* ---- plugin instances ------------------------------------------------------------ */

int mock_plugin_make(mock_plugin *mp, const kiln_plugin *pl, mock_host *m, const char *yaml, kiln_err *err)
{
    memset(mp, 0, sizeof *mp);
    kiln_err_clear(err);
    mp->pl = pl;
    mp->m = m;
    mp->cfg = calloc(1, pl->cfg_size ? pl->cfg_size : 1);
    int rc = mp->cfg ? KILN_OK : kiln_err_set(err, KILN_ENOMEM, "out of memory");
    if (rc == KILN_OK) rc = kiln_yaml_load_string("t.yaml", yaml, strlen(yaml), &mp->root, err);
    if (rc == KILN_OK) rc = kiln_cfg_apply(pl->fields, mp->root, mp->cfg, err);
    if (rc == KILN_OK && pl->validate) rc = pl->validate(mp->cfg, mp->root, err);
    if (rc == KILN_OK) rc = pl->create(mock_host_host(m), mp->cfg, &mp->st, err);
    if (rc != KILN_OK) {
        mp->st = NULL;
        mock_plugin_drop(mp);
    }
    return rc;
}

void mock_plugin_drop(mock_plugin *mp)
{
    if (!mp->pl) return;
    if (mp->st) mp->pl->destroy(mp->st);
    if (mp->cfg) kiln_cfg_free(mp->pl->fields, mp->cfg);
    free(mp->cfg);
    kiln_yaml_free(mp->root);
    mock_host_free(mp->m);
    memset(mp, 0, sizeof *mp);
}
