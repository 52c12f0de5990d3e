/*
 * worker_http.h - what every HTTP-speaking worker shares: settings from its
 * worker section, and the serve/graceful-stop cycle.
 */
#ifndef WORKER_WORKER_HTTP_H
#define WORKER_WORKER_HTTP_H

struct http_server;
struct http_server_settings;
struct worker_ctx;

/* Fills `s` from the worker section (timeout, keepalive, max_message). */
void worker_http_settings(const struct worker_ctx *ctx, struct http_server_settings *s,
    const char *component);

/*
 * Runs the loop until SIGTERM has been received and every in-flight
 * request has been answered (or the grace period ran out). Frees *srv.
 */
int worker_http_serve(struct worker_ctx *ctx, struct http_server **srv);

#endif
