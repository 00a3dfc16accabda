/* pipeline/http_server.c — see http_server.h. */
#include "http_server.h"

#include <errno.h>
#include <sys/queue.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct route {
    char *method; /* NULL: any */
    char *path;
    int prefix;
    int64_t max_body;
    kiln_http_handler fn;
    void *arg;
} route;

typedef struct server {
    char *endpoint;
    char host[256];
    int port;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    route *routes;
    size_t n_routes;
    struct kiln_http *owner;
} server;

struct kiln_http {
    struct event_base *base;
    server *servers;
    size_t n_servers;
    long pending;
};

struct kiln_http_req {
    struct evhttp_request *ev;
    server *srv;
    struct evkeyvalq query;
    int query_parsed;
    char *path;
    uint8_t *body;
    size_t body_len;
    int body_loaded;
};

kiln_http *kiln_http_new(struct event_base *base)
{
    kiln_http *h = calloc(1, sizeof *h);
    if (h) h->base = base;
    return h;
}

void kiln_http_free(kiln_http *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->n_servers; i++) {
        server *s = &h->servers[i];
        if (s->http) evhttp_free(s->http);
        for (size_t j = 0; j < s->n_routes; j++) {
            free(s->routes[j].method);
            free(s->routes[j].path);
        }
        free(s->routes);
        free(s->endpoint);
    }
    free(h->servers);
    free(h);
}

int kiln_http_parse_endpoint(const char *endpoint, char *host, size_t host_cap, int *port,
                             kiln_err *err)
{
    const char *colon = strrchr(endpoint, ':');
    if (!colon) return kiln_err_set(err, KILN_EINVAL, "endpoint \"%s\": expected host:port", endpoint);
    size_t hl = (size_t)(colon - endpoint);
    const char *hs = endpoint;
    if (hl >= 2 && hs[0] == '[' && hs[hl - 1] == ']') {
        hs++;
        hl -= 2;
    }
    if (hl == 0) {
        hs = "0.0.0.0";
        hl = 7;
    }
    if (hl >= host_cap) return kiln_err_set(err, KILN_EINVAL, "endpoint \"%s\": host too long", endpoint);
    memcpy(host, hs, hl);
    host[hl] = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == colon + 1)
        return kiln_err_set(err, KILN_EINVAL, "endpoint \"%s\": bad port", endpoint);
    *port = (int)p;
    return KILN_OK;
}

static server *find_server(kiln_http *h, const char *host, int port)
{
    for (size_t i = 0; i < h->n_servers; i++)
        if (h->servers[i].port == port && strcmp(h->servers[i].host, host) == 0) return &h->servers[i];
    return NULL;
}

int kiln_http_route(kiln_http *h, const char *endpoint, const char *method, const char *path,
                    const kiln_http_route_opts *opts, kiln_http_handler fn, void *arg,
                    kiln_err *err)
{
    char host[256];
    int port;
    int rc = kiln_http_parse_endpoint(endpoint, host, sizeof host, &port, err);
    if (rc != KILN_OK) return rc;
    server *s = find_server(h, host, port);
    if (!s) {
        /* the same port on another host address cannot be bound twice */
        for (size_t i = 0; i < h->n_servers; i++)
            if (h->servers[i].port == port)
                return kiln_err_set(err, KILN_EINVAL,
                                    "endpoint \"%s\" conflicts with \"%s\" (same port, other address)",
                                    endpoint, h->servers[i].endpoint);
        server *ns = realloc(h->servers, (h->n_servers + 1) * sizeof *ns);
        if (!ns) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        h->servers = ns;
        s = &h->servers[h->n_servers++];
        memset(s, 0, sizeof *s);
        s->endpoint = strdup(endpoint);
        snprintf(s->host, sizeof s->host, "%s", host);
        s->port = port;
        s->owner = h;
        /* servers moved: fix back-pointers of routes' servers not needed (routes hold no server ptr) */
    }
    for (size_t i = 0; i < s->n_routes; i++) {
        route *r = &s->routes[i];
        int same_method = !r->method || !method || strcmp(r->method, method) == 0;
        if (same_method && strcmp(r->path, path) == 0)
            return kiln_err_set(err, KILN_EINVAL, "endpoint %s: path %s is already served", endpoint,
                                path);
    }
    route *nr = realloc(s->routes, (s->n_routes + 1) * sizeof *nr);
    if (!nr) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    s->routes = nr;
    route *r = &s->routes[s->n_routes++];
    r->method = method ? strdup(method) : NULL;
    r->path = strdup(path);
    r->prefix = opts ? opts->prefix : 0;
    r->max_body = opts && opts->max_body_bytes ? opts->max_body_bytes : (int64_t)64 << 20;
    r->fn = fn;
    r->arg = arg;
    return KILN_OK;
}

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

static void plain_reply(struct evhttp_request *ev, int status, const char *msg)
{
    struct evbuffer *b = evbuffer_new();
    if (b) evbuffer_add_printf(b, "%s\n", msg);
    evhttp_add_header(evhttp_request_get_output_headers(ev), "Content-Type", "text/plain");
    evhttp_send_reply(ev, status, NULL, b);
    if (b) evbuffer_free(b);
}

static void dispatch(struct evhttp_request *ev, void *arg)
{
    server *s = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!raw_path || !*raw_path) raw_path = "/";
    char *path = evhttp_uridecode(raw_path, 0, NULL);
    if (!path) {
        plain_reply(ev, 400, "bad path");
        return;
    }
    const char *m = method_name(evhttp_request_get_command(ev));
    route *match = NULL;
    int path_found = 0;
    for (size_t i = 0; i < s->n_routes; i++) {
        route *r = &s->routes[i];
        int pm = r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0 : strcmp(path, r->path) == 0;
        if (!pm) continue;
        path_found = 1;
        if (r->method && strcmp(r->method, m) != 0 &&
            !(strcmp(r->method, "GET") == 0 && strcmp(m, "HEAD") == 0))
            continue;
        match = r;
        break;
    }
    if (!match) {
        plain_reply(ev, path_found ? 405 : 404, path_found ? "method not allowed" : "not found");
        free(path);
        return;
    }
    size_t blen = evbuffer_get_length(evhttp_request_get_input_buffer(ev));
    if ((int64_t)blen > match->max_body) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body of %zu bytes is over the limit of %lld bytes", blen,
                 (long long)match->max_body);
        plain_reply(ev, 413, msg);
        free(path);
        return;
    }
    kiln_http_req *r = calloc(1, sizeof *r);
    if (!r) {
        plain_reply(ev, 503, "out of memory");
        free(path);
        return;
    }
    r->ev = ev;
    r->srv = s;
    r->path = path;
    TAILQ_INIT(&r->query);
    s->owner->pending++;
    match->fn(r, match->arg);
}

int kiln_http_start(kiln_http *h, kiln_err *err)
{
    for (size_t i = 0; i < h->n_servers; i++) {
        server *s = &h->servers[i];
        if (s->http) continue;
        s->http = evhttp_new(h->base);
        if (!s->http) return kiln_err_set(err, KILN_ENOMEM, "evhttp_new failed");
        int64_t maxb = 0;
        for (size_t j = 0; j < s->n_routes; j++)
            if (s->routes[j].max_body > maxb) maxb = s->routes[j].max_body;
        evhttp_set_max_body_size(s->http, (ev_ssize_t)maxb);
        evhttp_set_max_headers_size(s->http, 64 * 1024);
        evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                                EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                                EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
        evhttp_set_timeout(s->http, 120);
        evhttp_set_gencb(s->http, dispatch, s);
        s->sock = evhttp_bind_socket_with_handle(s->http, s->host, (ev_uint16_t)s->port);
        if (!s->sock)
            return kiln_err_set(err, KILN_EIO, "cannot listen on %s (%s:%d): %s", s->endpoint,
                                s->host, s->port, strerror(errno));
        kiln_core_log(KILN_LOG_INFO, NULL, "listening endpoint=%s", s->endpoint);
    }
    return KILN_OK;
}

void kiln_http_stop_accepting(kiln_http *h)
{
    for (size_t i = 0; i < h->n_servers; i++) {
        server *s = &h->servers[i];
        if (s->http && s->sock) {
            evhttp_del_accept_socket(s->http, s->sock);
            s->sock = NULL;
        }
    }
}

long kiln_http_pending(const kiln_http *h) { return h->pending; }

const char *kiln_http_req_method(kiln_http_req *r) { return method_name(evhttp_request_get_command(r->ev)); }
const char *kiln_http_req_path(kiln_http_req *r) { return r->path; }

const char *kiln_http_req_query(kiln_http_req *r, const char *name)
{
    if (!r->query_parsed) {
        r->query_parsed = 1;
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->ev);
        const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
        if (q) evhttp_parse_query_str(q, &r->query);
    }
    return evhttp_find_header(&r->query, name);
}

const char *kiln_http_req_header(kiln_http_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

int kiln_http_req_body(kiln_http_req *r, int take, uint8_t **data, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
    if (take) {
        if (r->body_loaded) {
            /* already pulled up: hand over a copy */
            uint8_t *c = malloc(r->body_len ? r->body_len : 1);
            if (!c) return KILN_ENOMEM;
            memcpy(c, r->body, r->body_len);
            *data = c;
            *len = r->body_len;
            return KILN_OK;
        }
        size_t n = evbuffer_get_length(in);
        uint8_t *c = malloc(n ? n : 1);
        if (!c) return KILN_ENOMEM;
        evbuffer_remove(in, c, n);
        *data = c;
        *len = n;
        return KILN_OK;
    }
    if (!r->body_loaded) {
        r->body_len = evbuffer_get_length(in);
        r->body = r->body_len ? evbuffer_pullup(in, -1) : (uint8_t *)"";
        r->body_loaded = 1;
    }
    *data = r->body;
    *len = r->body_len;
    return KILN_OK;
}

void kiln_http_req_set_header(kiln_http_req *r, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

void kiln_http_req_reply(kiln_http_req *r, int status, const char *content_type, const void *body,
                         size_t len)
{
    struct evbuffer *b = evbuffer_new();
    if (b && len) evbuffer_add(b, body, len);
    if (content_type)
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Content-Type", content_type);
    evhttp_send_reply(r->ev, status, NULL, b);
    if (b) evbuffer_free(b);
    r->srv->owner->pending--;
    evhttp_clear_headers(&r->query);
    free(r->path);
    free(r);
}
