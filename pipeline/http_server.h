/* pipeline/http_server.h — shared HTTP/1.1 listeners (libevent evhttp).
 *
 * Components register routes by endpoint; routes naming the same endpoint
 * share one server (ingest, query API and UI all on :4040). Listeners are
 * bound at kiln_http_start. Requests are dispatched on the loop thread to
 * the route's handler with a kiln_http_req, which lives until the handler
 * (or a later callback) calls kiln_http_reply; the server counts requests
 * not yet answered so that shutdown can wait for them.
 *
 * Memory: the server owns its listeners and routes; each kiln_http_req is
 * owned by the server and freed by kiln_http_reply.
 */
#ifndef KILN_CORE_HTTP_SERVER_H
#define KILN_CORE_HTTP_SERVER_H

#include <event2/event.h>
#include <kiln/host.h>

typedef struct kiln_http kiln_http;

kiln_http *kiln_http_new(struct event_base *base);
/* Frees every listener; call after kiln_http_pending() reached 0. */
void kiln_http_free(kiln_http *h);

int kiln_http_route(kiln_http *h, const char *endpoint, const char *method, const char *path,
                    const kiln_http_route_opts *opts, kiln_http_handler fn, void *arg,
                    kiln_err *err);

/* Binds every endpoint with routes. Error names the endpoint and errno. */
int kiln_http_start(kiln_http *h, kiln_err *err);

/* Stops accepting new connections (open ones finish their requests). */
void kiln_http_stop_accepting(kiln_http *h);

/* Requests dispatched and not yet answered. */
long kiln_http_pending(const kiln_http *h);

/* Splits "host:port", ":port", "[v6]:port" into host (default 0.0.0.0) and port. */
int kiln_http_parse_endpoint(const char *endpoint, char *host, size_t host_cap, int *port,
                             kiln_err *err);

/* The request functions of kiln_host_vtbl. */
const char *kiln_http_req_method(kiln_http_req *r);
const char *kiln_http_req_path(kiln_http_req *r);
const char *kiln_http_req_query(kiln_http_req *r, const char *name);
const char *kiln_http_req_header(kiln_http_req *r, const char *name);
int kiln_http_req_body(kiln_http_req *r, int take, uint8_t **data, size_t *len);
void kiln_http_req_set_header(kiln_http_req *r, const char *name, const char *value);
void kiln_http_req_reply(kiln_http_req *r, int status, const char *content_type, const void *body,
                         size_t len);

#endif
