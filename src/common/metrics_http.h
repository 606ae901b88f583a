/* A daemon's Prometheus endpoint: GET /metrics over HTTP/1.x on the
 * address its config gives, answered with what fn writes (prom.h) in the
 * text format, one request per connection; another path gets 404,
 * another method 405.  Bounded: 8 connections at once, 5 s for each
 * whatever it sends, 4 KiB of request.  No TLS and no authentication:
 * bind it to loopback or a management network (docs/security.md). */
#ifndef CY_METRICS_HTTP_H
#define CY_METRICS_HTTP_H

#include <stdio.h>
#include <sys/socket.h>

struct event_base;
struct metrics_http;

typedef void (*metrics_fn)(void *arg, FILE *out);

/* NULL on failure (logged). */
struct metrics_http *metrics_http_new(struct event_base *base, const struct sockaddr_storage *addr,
				      metrics_fn fn, void *arg);
void metrics_http_free(struct metrics_http *m);

#endif
